@testable import DialtoneCore
import DialtoneMedia
import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// The real `dialtone` binary's terminal interface under tmux, against the private Prosody:
/// typed with send-keys, read with capture-pane. The tests are in its subclasses.
class TerminalInterfaceTestCase: XCTestCase {
    var directory: URL!
    let socket = "dialtone-tui-test-\(UUID().uuidString.prefix(8))"

    override func setUp() async throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tmux") else {
            throw missingPart("tmux is not installed")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-tui-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        _ = try? await tmux(["kill-server"])
        try? FileManager.default.removeItem(at: directory)
    }

    var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dialtone").path
    }

    @discardableResult
    func tmux(_ arguments: [String]) async throws -> String {
        let result = try await ChildProcess.run(["/usr/bin/tmux", "-L", socket, "-f", "/dev/null"] + arguments, timeout: .seconds(20))
        return result.stdout
    }

    /// Types a line into the interface and presses Enter.
    func command(_ text: String) async throws {
        try await tmux(["send-keys", "-t", "tui", "-l", text])
        try await tmux(["send-keys", "-t", "tui", "Enter"])
    }

    func screen() async throws -> String { try await tmux(["capture-pane", "-p", "-t", "tui"]) }

    func waitForScreen(_ what: String, timeout: Duration = .seconds(20), _ condition: @escaping (String) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var last = ""
        while ContinuousClock.now < deadline {
            last = try await screen()
            if condition(last) { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTFail("timed out waiting for \(what); the screen was:\n\(last)")
        throw TestEnvironmentError("timed out waiting for \(what)")
    }

    /// Runs the real binary's interface for `account` in an 80×24 tmux window.
    /// Alice in the interface and online, with bob beside her as a connected Core account:
    /// the opening of most conversation tests.
    func startInterfaceWithContact(_ environment: TestEnvironment) async throws -> (alice: (jid: JID, password: String), bob: TestAccount) {
        let alice = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        try await startInterface(for: alice, environment: environment)
        try await waitForScreen("online") { $0.contains("online") }
        return (alice, bob)
    }

    /// A stand-in `notify-send` in a directory of its own (put it first in PATH), which records
    /// each notification's arguments, `|`-separated, one a line, in `record`.
    func notifySendStandIn() throws -> (bin: URL, record: String) {
        let bin = directory.appendingPathComponent("bin")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        let record = directory.appendingPathComponent("notified").path
        let script = bin.appendingPathComponent("notify-send").path
        try "#!/bin/sh\nprintf '%s|' \"$@\" >> \(record)\necho >> \(record)\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        return (bin, record)
    }

    func startInterface(for account: (jid: JID, password: String), environment: TestEnvironment, extra: String = "",
                        variables: String = "", statusFile: String? = nil, configuration: String? = nil) async throws {
        let config = try configuration ?? environment.writeConfiguration(for: account, in: directory, extra: extra)
        var command = "env TERM=xterm-256color LANG=C.UTF-8 XDG_DATA_HOME=\(directory.path)/data XDG_STATE_HOME=\(directory.path)/state \(variables) "
            + "\(binary) --config \(config)"
        if let statusFile { command = "sh -c '\(command); echo $? > \(statusFile)'" }
        try await tmux(["new-session", "-d", "-s", "tui", "-x", "80", "-y", "24", command])
    }
}
