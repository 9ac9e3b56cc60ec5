import DialtoneTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process (started by `Spawn`, not Foundation's Process), its output going to files.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String

    init(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-child-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        stdoutPath = directory.appendingPathComponent("stdout").path
        stderrPath = directory.appendingPathComponent("stderr").path
        do {
            pid = try Spawn.start(arguments, environment: environment, stdout: .file(stdoutPath), stderr: .file(stderrPath))
        } catch {
            throw TestEnvironmentError("\(error)")
        }
    }

    /// Runs to completion and returns the exit status (128 + signal when killed).
    static func run(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                    timeout: Duration = .seconds(60)) async throws -> (status: Int32, stdout: String, stderr: String) {
        let child = try ChildProcess(arguments, environment: environment)
        let status = try await child.wait(timeout: timeout)
        return (status, child.output, child.errors)
    }

    var isRunning: Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    func signal(_ number: Int32) { kill(pid, number) }

    /// Waits for the exit (polling, so the test's executor is never blocked); kills on timeout.
    func wait(timeout: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid { return Self.exitCode(status) }
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
        throw TestEnvironmentError("\(pid) did not exit within \(timeout)")
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7F
        return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
    }

    var output: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}
