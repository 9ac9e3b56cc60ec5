import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// What the call tests against an independent Python peer (Tests/IntegrationTests/Peers) share:
/// a call harness, the peer processes (killed at the end), their JSON events.
/// `peerScript` names the peer: jingle_peer.py (aiortc) unless a subclass says otherwise.
class PythonPeerTestCase: XCTestCase {
    var harness: CallHarness!
    var environment: TestEnvironment!
    var children: [ChildProcess] = []

    class var peerScript: String { "jingle_peer.py" }

    override func setUp() async throws {
        environment = try TestEnvironment.current()
        harness = try CallHarness(environment: environment)
    }

    override func tearDown() async throws {
        for child in children where child.isRunning { child.signal(SIGKILL) }
        harness.remove()
    }

    static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Peers/\(name)").path
    }

    /// Starts the peer as `account`; `mode` is ["answer"] or ["call", JID].
    func peer(_ account: (jid: JID, password: String), _ mode: [String], _ options: [String] = []) throws -> ChildProcess {
        let child = try ChildProcess([try PythonPeers.python(), Self.script(Self.peerScript), "--jid", account.jid.description,
                                      "--password", account.password, "--port", String(environment.port),
                                      "--ca-file", environment.caFile] + options + mode)
        children.append(child)
        return child
    }

    func events(_ child: ChildProcess) -> [[String: Any]] { CallHarness.jsonLines(child.output) }

    func events(_ name: String, in child: ChildProcess) -> [[String: Any]] {
        events(child).filter { $0["event"] as? String == name }
    }

    func event(_ name: String, in child: ChildProcess) -> [String: Any]? {
        events(child).first { $0["event"] as? String == name }
    }

    func waitForPeer(_ child: ChildProcess) async throws {
        try await eventually("the peer is online") { self.event("ready", in: child) != nil || !child.isRunning }
        XCTAssertTrue(child.isRunning, child.output + child.errors)
    }

    func dialtone(_ name: String, _ arguments: [String]) throws -> ChildProcess {
        let child = try harness.start(name, arguments)
        children.append(child)
        return child
    }
}

extension PythonPeerTestCase {
    /// `dialtone SUBCOMMAND … --config C` as account `name`, to its end, which must be a success.
    func runDialtone(_ arguments: [String], config: String, name: String = "dt") async throws -> ChildProcess {
        let child = try dialtone(name, arguments + ["--config", config, "--log-file", harness.path("\(name).log"), "--log-level", "debug"])
        let status = try await child.wait(timeout: .seconds(60))
        XCTAssertEqual(status, 0, "dialtone \(arguments.joined(separator: " ")): \(child.output)\(child.errors)")
        return child
    }

    /// `dialtone listen --json` for the configuration, once it says it is online.
    func listenOnline(config: String, name: String = "dt") async throws -> ChildProcess {
        let listener = try dialtone(name, ["listen", "--json", "--config", config, "--log-file", harness.path("listen.log"),
                                           "--log-level", "debug"])
        try await eventually("dialtone listen is online") {
            CallHarness.jsonLines(listener.output).contains { $0["state"] as? String == "online" } || !listener.isRunning
        }
        XCTAssertTrue(listener.isRunning, listener.output + listener.errors)
        return listener
    }
}
