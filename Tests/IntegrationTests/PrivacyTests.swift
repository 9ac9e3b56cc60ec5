import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// What the outside review found about files, logs, core dumps and command-line output:
/// the real binary, a real server.
final class PrivacyTests: XCTestCase {
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-privacy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    private var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dialtone").path
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    private func arguments(_ account: (jid: JID, password: String), _ environment: TestEnvironment, level: String = "info") throws -> [String] {
        let config = try environment.writeConfiguration(for: account, in: directory)
        return ["--config", config, "--log-file", path("\(account.jid.local ?? "x")-logs/dialtone.log"), "--log-level", level]
    }

    private func processEnvironment(_ name: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_DATA_HOME"] = path("data-\(name)")
        environment["XDG_STATE_HOME"] = path("state-\(name)")
        environment.removeValue(forKey: "DIALTONE_ALLOW_CORE_DUMPS")
        return environment
    }

    /// Under the umask most systems have (022), as a shell would start it.
    private func withUmask022(_ arguments: [String]) -> [String] {
        ["/bin/sh", "-c", "umask 022; exec \"$@\"", "sh"] + arguments
    }

    private func mode(_ path: String) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? nil) ?? -1
    }

    /// The database, its WAL and SHM, the log and their folders: 0600 and 0700 whatever the
    /// umask; and no log level writes what SASL sends (the password, or a proof of it).
    func testFilesArePrivateAndTheLogHoldsNoSecrets() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("private")
        let bob = try environment.newAccount("reader")
        let arguments = try arguments(alice, environment, level: "trace")
        let sent = try await ChildProcess.run(withUmask022([binary, "send"] + arguments + [bob.jid.description, "for bob only"]),
                                              environment: processEnvironment("private"))
        XCTAssertEqual(sent.status, 0, sent.stderr)

        var checked = 0
        let logFile = try XCTUnwrap(arguments.firstIndex(of: "--log-file").map { arguments[$0 + 1] })
        for root in [path("data-private/dialtone"), (logFile as NSString).deletingLastPathComponent] {
            XCTAssertEqual(mode(root), 0o700, root)
            let enumerator = FileManager.default.enumerator(atPath: root)
            while let relative = enumerator?.nextObject() as? String {
                let file = root + "/" + relative
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: file, isDirectory: &isDirectory)
                XCTAssertEqual(mode(file), isDirectory.boolValue ? 0o700 : 0o600, file)
                checked += 1
            }
        }
        XCTAssertGreaterThanOrEqual(checked, 3, "the database, its WAL and the log were found")

        let log = try String(contentsOfFile: logFile, encoding: .utf8)
        XCTAssertTrue(log.contains("send: <"), "trace logs what is sent")
        XCTAssertFalse(log.contains(alice.password), "the password")
        let saslPayload = try NSRegularExpression(pattern: #"<(auth|response)\b[^>]*>[A-Za-z0-9+/=]"#)
        XCTAssertNil(saslPayload.firstMatch(in: log, range: NSRange(log.startIndex..., in: log)),
                     "no SASL payload (SCRAM's proof) in the log")
        XCTAssertTrue(log.contains("(not logged)"))
    }

    /// No core file of a process that holds passwords and history.
    func testNoCoreDumpsWhileRunning() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("nocore")
        let listener = try ChildProcess([binary, "listen", "--json"] + arguments(account, environment), environment: processEnvironment("nocore"))
        defer { listener.signal(SIGKILL) }
        try await eventually("online") { listener.output.contains("\"online\"") }
        let limits = try String(contentsOfFile: "/proc/\(listener.pid)/limits", encoding: .utf8)
        let core = limits.split(separator: "\n").first { $0.hasPrefix("Max core file size") }
        XCTAssertEqual(core?.split(separator: " ", omittingEmptySubsequences: true).dropFirst(4).prefix(2).joined(separator: " "), "0 0",
                       String(core ?? ""))
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))
    }

    /// `send` crashed about once in fifty runs as it exited (OpenSSL's exit-time clean-up racing
    /// TLS work on another thread): two hundred short runs, every one exits 0 and by itself.
    func testShortSendsExitCleanly() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("exits")
        let bob = try environment.newAccount("counts")
        let arguments = try arguments(alice, environment)
        var failures: [String] = []
        let send = [binary, "send"] + arguments + [bob.jid.description]
        let variables = processEnvironment("exits")
        for round in 0..<100 {
            async let first = ChildProcess.run(send + ["exit \(round)a"], environment: variables)
            async let second = ChildProcess.run(send + ["exit \(round)b"], environment: variables)
            for result in try await [first, second] where result.status != 0 {
                failures.append("status \(result.status): \(result.stderr)")
            }
        }
        XCTAssertEqual(failures, [], "\(failures.count) of 200 sends did not exit cleanly")
    }

    /// Remote text in human-readable output (listen, history, search) is sanitised like the
    /// TUI's; in JSON the same characters are escaped, and the text round-trips.
    func testCommandLineOutputCarriesNoTerminalControls() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("sender")
        let bob = try environment.newAccount("terminal")
        let aliceArguments = try arguments(alice, environment)
        let bobArguments = try arguments(bob, environment)
        // (XML carries no C0 controls but ESC's C1 twin, CSI, and every invisible formatting character.)
        let hostile = "CSI\u{9B}31m red \u{202E}evil\u{202C} zero\u{200B}width \u{2066}isolate\u{2069} end"
        let forbidden: [Unicode.Scalar] = ["\u{9B}", "\u{202E}", "\u{202C}", "\u{200B}", "\u{2066}", "\u{2069}"]
        func assertClean(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            for scalar in forbidden {
                XCTAssertFalse(text.unicodeScalars.contains(scalar), "\(what) prints U+\(String(scalar.value, radix: 16, uppercase: true)) raw",
                               file: file, line: line)
            }
        }

        let listener = try ChildProcess([binary, "listen"] + bobArguments, environment: processEnvironment("terminal"))
        defer { listener.signal(SIGKILL) }
        try await eventually("online") { listener.output.contains("online") }
        let sent = try await ChildProcess.run([binary, "send"] + aliceArguments + [bob.jid.description, hostile],
                                              environment: processEnvironment("sender"))
        XCTAssertEqual(sent.status, 0, sent.stderr)
        try await eventually("received") { listener.output.contains("evil") }
        assertClean(listener.output, "listen")
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))

        let history = try await ChildProcess.run([binary, "history"] + bobArguments + [alice.jid.description], environment: processEnvironment("terminal"))
        XCTAssertTrue(history.stdout.contains("evil"), history.stdout + history.stderr)
        assertClean(history.stdout, "history")
        let search = try await ChildProcess.run([binary, "search"] + bobArguments + ["evil"], environment: processEnvironment("terminal"))
        XCTAssertTrue(search.stdout.contains("evil"), search.stdout + search.stderr)
        assertClean(search.stdout, "search")

        let json = try await ChildProcess.run([binary, "history", "--json"] + bobArguments + [alice.jid.description], environment: processEnvironment("terminal"))
        assertClean(json.stdout, "history --json")
        XCTAssertTrue(json.stdout.contains(#"\u009b"#), json.stdout)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.split(separator: "\n").last!.utf8)) as? [String: Any])
        XCTAssertEqual(object["body"] as? String, hostile, "JSON keeps the text itself")
    }
}
