@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import Logging
import XCTest

/// The archive cursor names a point with no gap before it: a live message moves it only when
/// no catch-up is due or paging (the pages themselves are tested against Prosody).
final class ArchiveSyncTests: XCTestCase {
    private func sync() throws -> ArchiveSync {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: JID(verified: "me@example.org"), password: "x")) { _ in }
        return ArchiveSync(store: try Store(), client: client, logger: .init(label: "test"))
    }

    func testALiveMessageMovesTheCursorWhenNoCatchUpIsDue() throws {
        let archive = try sync()
        XCTAssertEqual(archive.cursorToStore(withLive: "live-1"), "live-1")
        XCTAssertNil(archive.cursorToStore(withLive: nil))
    }

    /// From the bind on, before the catch-up's first page: a live message that comes first
    /// must not move the cursor past what the catch-up has still to fetch.
    func testAfterAFreshBindLiveMessagesWaitForTheCatchUp() throws {
        let archive = try sync()
        try archive.sessionBound(resumed: false)
        XCTAssertNil(archive.cursorToStore(withLive: "live-1"))
        XCTAssertNil(archive.cursorToStore(withLive: "live-2"))
    }

    func testAResumedSessionHasNoGap() throws {
        let archive = try sync()
        try archive.sessionBound(resumed: true)
        XCTAssertEqual(archive.cursorToStore(withLive: "live-1"), "live-1")
    }
}
