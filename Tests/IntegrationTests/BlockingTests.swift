import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Blocking (XEP-0191) against Prosody's blocklist, with senders we did not write: a slixmpp
/// contact (Peers/roster_peer.py) whose messages stop and start again, an aiortc caller
/// (Peers/jingle_peer.py) whose call never rings, and a number blocked in any written form.
final class BlockingTests: ContactPeerTestCase {
    override class var peerScript: String { "roster_peer.py" }
    override class var contactName: String { "pest" }
    override class var configurationExtra: String {
        let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"].flatMap { $0.isEmpty ? nil : $0 }
        return (gateway.map { "gateway = \"\($0)\"\n" } ?? "") + "country = \"US\"\ncalls_from = \"anyone\"\n"
    }

    private func messages(_ listener: ChildProcess) -> [String] {
        CallHarness.jsonLines(listener.output).filter { $0["type"] as? String == "message" }.compactMap { $0["body"] as? String }
    }

    func testABlockedSendersMessagesStopAndComeAgainWhenUnblocked() async throws {
        let listener = try await listenOnline(config: config)
        _ = try peer(them, [], ["--chat", us.jid.bare.description, "--timeout", "40"])
        try await eventually("their messages arrive") { !self.messages(listener).isEmpty }

        _ = try await run(["block", them.jid.bare.description])
        try await Task.sleep(for: .milliseconds(700))
        let beforeQuiet = messages(listener).count
        try await Task.sleep(for: .seconds(2.5))
        XCTAssertEqual(messages(listener).count, beforeQuiet, "nothing from a blocked sender: \(messages(listener))")
        let listed = CallHarness.jsonLines(try await run(["blocked", "--json"]).output).compactMap { $0["jid"] as? String }
        XCTAssertEqual(listed, [them.jid.bare.description])

        _ = try await run(["unblock", them.jid.bare.description])
        try await eventually("their messages come again") { self.messages(listener).count > beforeQuiet + 1 }
        let left = CallHarness.jsonLines(try await run(["blocked", "--json"]).output)
        XCTAssertTrue(left.isEmpty, "\(left)")
    }

    func testABlockedCallerNeverRings() async throws {
        _ = try await run(["block", them.jid.bare.description])
        let listener = try await listenOnline(config: config)
        let caller = try ChildProcess([try PythonPeers.python(), Self.script("jingle_peer.py"), "--jid", them.jid.description,
                                       "--password", them.password, "--port", String(environment.port),
                                       "--ca-file", environment.caFile, "--timeout", "6", "call", us.jid.bare.description])
        children.append(caller)
        _ = try await caller.wait(timeout: .seconds(20))
        XCTAssertTrue(events("proposed", in: caller).count == 1, "the caller did call: \(caller.output)")
        XCTAssertFalse(CallHarness.jsonLines(listener.output).contains { $0["type"] as? String == "call" },
                       "a blocked caller never rings: \(listener.output)")
    }

    /// A number is blocked as its gateway address, whichever way it is written.
    func testANumberIsBlockedAtTheGatewayInAnyWrittenForm() async throws {
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty else {
            throw missingPart("the simulated gateway is not running")
        }
        _ = try await run(["block", "(555) 010-7777"])
        _ = try await run(["block", "+1 555 010 7778", "--spam"])
        let listed = CallHarness.jsonLines(try await run(["blocked", "--json"]).output).compactMap { $0["jid"] as? String }
        XCTAssertEqual(listed, ["+15550107777@\(gateway)", "+15550107778@\(gateway)"])
        _ = try await run(["unblock", "555.010.7777"])
        let after = CallHarness.jsonLines(try await run(["blocked", "--json"]).output).compactMap { $0["jid"] as? String }
        XCTAssertEqual(after, ["+15550107778@\(gateway)"])
    }
}
