@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging
import XCTest

/// The private Prosody that Scripts/test starts (Scripts/testenv/up), described by its env file.
struct TestEnvironment {
    let server: String
    let domain: String
    let port: Int
    let directTLSPort: Int
    let caFile: String
    let addUser: String
    /// A second host of the same server without offline storage (Scripts/testenv/lib.sh).
    var archiveOnlyDomain: String {
        ProcessInfo.processInfo.environment["DIALTONE_TEST_ARCHIVE_ONLY_DOMAIN"] ?? "archive-only.\(domain)"
    }

    /// The server's group-chat service (Prosody's MUC component, with room archives).
    var mucDomain: String {
        ProcessInfo.processInfo.environment["DIALTONE_TEST_MUC_DOMAIN"] ?? "rooms.\(domain)"
    }

    /// A new room's address there, unique to the test.
    func newRoom(_ prefix: String = "room") -> JID {
        JID(verified: "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())@\(mucDomain)")
    }

    static func current() throws -> TestEnvironment {
        let env = ProcessInfo.processInfo.environment
        guard let server = env["DIALTONE_TEST_SERVER"], let domain = env["DIALTONE_TEST_DOMAIN"],
              let port = env["DIALTONE_TEST_PORT"].flatMap(Int.init), let tlsPort = env["DIALTONE_TEST_TLS_PORT"].flatMap(Int.init),
              let ca = env["DIALTONE_TEST_CA"], let addUser = env["DIALTONE_TEST_ADDUSER"] else {
            // Under the test command (and in CI) these are always set: a missing one is a failure there.
            if env["CI"] != nil || env["DIALTONE_TESTENV"] != nil {
                throw TestEnvironmentError("The test environment variables are incomplete; run the tests with Scripts/test.")
            }
            throw XCTSkip("No test server: run the integration tests through Scripts/test.")
        }
        return TestEnvironment(server: server, domain: domain, port: port, directTLSPort: tlsPort, caFile: ca, addUser: addUser)
    }

    /// A new account with a unique name, so tests never see each other's history; on `host`
    /// when given (one of this server's: `domain` or `archiveOnlyDomain`).
    func newAccount(_ prefix: String, on host: String? = nil) throws -> (jid: JID, password: String) {
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let password = "pw-\(name)"
        let host = host ?? domain
        let child = try ChildProcess(["/bin/sh", "-c", "\(addUser) \(name)@\(host) \(password)"])
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
        guard status == 0 else { throw TestEnvironmentError("adduser \(name)@\(host) failed: \(child.errors)") }
        return (try JID("\(name)@\(host)"), password)
    }

    /// Writes a configuration file for `account` (password in a file of `passwordMode`) into
    /// `directory` and returns its path: what the real binary reads in CLI and TUI tests.
    func writeConfiguration(for account: (jid: JID, password: String), in directory: URL,
                            passwordMode: Int = 0o600, extra: String = "") throws -> String {
        let name = account.jid.local ?? "account"
        let passwordFile = directory.appendingPathComponent("\(name).password").path
        _ = FileManager.default.createFile(atPath: passwordFile, contents: Data((account.password + "\n").utf8),
                                           attributes: [.posixPermissions: passwordMode])
        let config = directory.appendingPathComponent("\(name).toml").path
        try """
            [[account]]
            jid = "\(account.jid)"
            password_file = "\(passwordFile)"
            server = "\(server)"
            port = \(port)
            ca_file = "\(caFile)"
            \(extra)
            """.write(toFile: config, atomically: true, encoding: .utf8)
        return config
    }

    func clientConfiguration(_ account: (jid: JID, password: String), resource: String = "test",
                             port: Int? = nil, tls: XMPPClientConfiguration.TLSMode = .starttls,
                             trustTestCA: Bool = true) -> XMPPClientConfiguration {
        var configuration = XMPPClientConfiguration(
            jid: account.jid, password: account.password, server: server,
            port: port ?? (tls == .direct ? directTLSPort : self.port), tls: tls,
            caFile: trustTestCA ? caFile : nil, resource: resource)
        configuration.reconnect = ReconnectPolicy(initialDelay: .milliseconds(50), maximumDelay: .milliseconds(500))
        configuration.connectTimeout = .seconds(5)
        return configuration
    }
}

struct TestEnvironmentError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// An account session with its own store in a temporary directory, started and ready.
final class TestAccount: Sendable {
    let session: AccountSession
    let events: AsyncStream<CoreEvent>
    let directory: URL
    /// Its recent log lines at debug level, for a failing test to print.
    let recentLog = RecentLog()

    var store: Store { session.store }
    var jid: JID { session.account }

    init(_ configuration: XMPPClientConfiguration, directory: URL? = nil, recipients: RecipientResolver? = nil) async throws {
        let directory = directory ?? FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-test-\(UUID().uuidString)")
        self.directory = directory
        let store = try Store(path: directory.appendingPathComponent("dialtone.sqlite").path)
        let printed = ProcessInfo.processInfo.environment["DIALTONE_TEST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
        let recentLog = self.recentLog
        // Setting the multiplexer's level would set both handlers': each keeps its own.
        let logger = Logger(label: "test.\(configuration.jid.local ?? "")") { label in
            var console = Logger(label: label).handler
            console.logLevel = printed
            return MultiplexLogHandler([console, RecentLogHandler(log: recentLog, label: label)])
        }
        session = AccountSession(configuration: configuration, store: store, recipients: recipients, logger: logger)
        events = await session.events()
    }

    /// Starts and waits for the first `online`, or throws the offline reason (or, with
    /// `failOnRetry`, the reason for the first retry).
    func connect(timeout: Duration = .seconds(15), failOnRetry: Bool = false) async throws {
        await session.start()
        try await waitForEvent(timeout: timeout) { event in
            switch event {
            case .connection(.online): return true
            case .connection(.offline(let reason?)): throw TestEnvironmentError("offline: \(reason)")
            case .connection(.waitingToReconnect(let reason, _)) where failOnRetry: throw TestEnvironmentError("retrying: \(reason)")
            default: return false
            }
        }
    }

    /// Waits for an event matching `predicate` (which may throw to fail early).
    func waitForEvent(timeout: Duration = .seconds(15), _ predicate: @escaping @Sendable (CoreEvent) throws -> Bool) async throws {
        let events = self.events
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                for await event in events where try predicate(event) { return true }
                return false
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return false
            }
            let found = try await group.next() ?? false
            group.cancelAll()
            guard found else { throw TestEnvironmentError("timed out waiting for an event") }
        }
    }

    func stop() async {
        await session.stop()
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Polls until `condition` holds or the deadline passes (the condition reads the store, or
/// asks a session).
func eventually(timeout: Duration = .seconds(20), _ message: String = "condition",
                _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    if try await condition() { return }
    XCTFail("timed out waiting for \(message)")
    throw TestEnvironmentError("timed out waiting for \(message)")
}
