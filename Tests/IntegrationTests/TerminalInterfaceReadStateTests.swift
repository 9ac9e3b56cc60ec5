import DialtoneCore
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Read state across devices (XEP-0490) in the terminal interface: a conversation read on the
/// phone (slixmpp's own XEP-0490 plugin, Peers/mds_peer.py, as another device of the account)
/// loses its unread count in the list, and one opened in the terminal is told to the phone.
final class TerminalInterfaceReadStateTests: TerminalInterfaceTestCase {
    private var peers: [ChildProcess] = []

    override func tearDown() async throws {
        for peer in peers where peer.isRunning { peer.signal(SIGKILL) }
        try await super.tearDown()
    }

    private func phone(_ account: (jid: JID, password: String), _ environment: TestEnvironment, _ options: [String]) throws -> ChildProcess {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/mds_peer.py").path
        let child = try ChildProcess([try PythonPeers.python(), script, "--jid", account.jid.description, "--password", account.password,
                                      "--port", String(environment.port), "--ca-file", environment.caFile] + options)
        peers.append(child)
        return child
    }

    /// The count the list shows beside a conversation ("bob-1@dialton… 2│"): 0 without one.
    private func unread(of name: String, on screen: String) -> Int? {
        guard let row = screen.split(separator: "\n").first(where: { $0.contains(name) }) else { return nil }
        let entry = row.split(separator: "│").first.map(String.init) ?? String(row)
        return Int(entry.split(separator: " ").last ?? "") ?? 0
    }

    private func events(_ name: String, in child: ChildProcess) -> [[String: Any]] {
        CallHarness.jsonLines(child.output).filter { $0["event"] as? String == name }
    }

    func testReadingOnThePhoneClearsTheCountAndReadingHereTellsThePhone() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bobAccount = try environment.newAccount("bob")
        let bob = try await TestAccount(environment.clientConfiguration(bobAccount))
        try await bob.connect()
        let listening = try phone(alice, environment, ["--timeout", "60"])
        try await eventually("the phone is online") { !self.events("ready", in: listening).isEmpty || !listening.isRunning }
        try await startInterface(for: alice, environment: environment)
        try await waitForScreen("online") { $0.contains("online") }
        // Another conversation in view, so that bob's messages wait unread.
        try await command("/msg carol@\(environment.domain)")
        for text in ["one", "two"] { try await bob.session.sendMessage(to: JID(verified: alice.jid.bare.description), body: text) }
        let bobName = try XCTUnwrap(bobAccount.jid.local)
        try await waitForScreen("two unread from bob") { self.unread(of: bobName, on: $0) == 2 }

        // Read on the phone: the count goes.
        try await eventually("the phone has both") { self.events("message", in: listening).count == 2 }
        let newest = try XCTUnwrap(events("message", in: listening).last?["stanza_id"] as? String)
        let flag = try phone(alice, environment, ["--flag", bobAccount.jid.bare.description, newest])
        let flagged = try await flag.wait(timeout: .seconds(20))
        XCTAssertEqual(flagged, 0, flag.output + flag.errors)
        try await waitForScreen("no unread from bob") { self.unread(of: bobName, on: $0) == 0 }

        // A new message read here, by opening the conversation: the phone is told.
        _ = try await bob.session.sendMessage(to: JID(verified: alice.jid.bare.description), body: "three")
        try await waitForScreen("one unread from bob") { self.unread(of: bobName, on: $0) == 1 }
        try await eventually("the phone has it") { self.events("message", in: listening).count == 3 }
        let third = try XCTUnwrap(events("message", in: listening).last?["stanza_id"] as? String)
        try await command("/msg \(bobAccount.jid.bare)")
        try await eventually("the phone learns it was read") {
            self.events("displayed", in: listening).contains { $0["stanza_id"] as? String == third }
        }
        try await command("/quit")
        await bob.stop()
    }
}
