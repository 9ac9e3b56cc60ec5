import DialtoneStore
import Foundation
import XCTest

/// `Store.exclusively`: a lock another process sees (util-linux's flock(1) stands in for the
/// other `dialtone`), held only while the body runs, on a file as private as the database.
final class StoreProcessLockTests: XCTestCase {
    /// flock(1)'s exit status taking the same lock without waiting: 0 free, 1 held.
    private func otherProcessTakes(_ lock: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/flock")
        process.arguments = ["--nonblock", "--conflict-exit-code", "1", lock, "true"]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    func testAnotherProcessWaitsWhileTheBodyRuns() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lock-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("account.sqlite").path
        let store = try Store(path: path)
        let lock = path + ".omemo.lock"

        let inside = try store.exclusively("omemo") { try otherProcessTakes(lock) }
        XCTAssertEqual(inside, 1, "held while the body runs")
        XCTAssertEqual(try otherProcessTakes(lock), 0, "released after it")
        let mode = try FileManager.default.attributesOfItem(atPath: lock)[.posixPermissions] as? Int
        XCTAssertEqual(mode, 0o600)

        // Another name is another lock; a throwing body releases it too.
        XCTAssertEqual(try store.exclusively("other") { try otherProcessTakes(lock) }, 0)
        struct Failure: Error {}
        XCTAssertThrowsError(try store.exclusively("omemo") { () throws -> Void in throw Failure() })
        XCTAssertEqual(try otherProcessTakes(lock), 0)
    }

    func testInMemoryThereIsNoOneToWaitFor() throws {
        XCTAssertEqual(try Store().exclusively("omemo") { 42 }, 42)
    }
}
