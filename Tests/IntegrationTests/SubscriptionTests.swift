import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Presence subscriptions (RFC 6121 §3) between `dialtone` and a contact on slixmpp we did not
/// write (Tests/IntegrationTests/Peers/roster_peer.py): a stranger's request kept, shown once,
/// accepted or denied; a contact the user added let in at once; a request made while Dialtone
/// was offline listed at the next login.
final class SubscriptionTests: ContactPeerTestCase {
    override class var peerScript: String { "roster_peer.py" }

    func testAStrangersRequestIsShownOnceKeptAndAccepted() async throws {
        let listener = try await listenOnline(config: config)
        let stranger = try peer(them, [], ["--subscribe", us.jid.bare.description, "--nick", "Stranger", "--times", "3", "--timeout", "40"])
        try await eventually("the request is shown") { !self.lines(listener, type: "subscription_request").isEmpty }
        try await eventually("the stranger asked three times") { self.events("subscribe-sent", in: stranger).count == 3 }
        try await Task.sleep(for: .seconds(1))
        let shown = lines(listener, type: "subscription_request")
        XCTAssertEqual(shown.count, 1, "asked three times, shown once: \(listener.output)")
        XCTAssertEqual(shown.first?["from"] as? String, them.jid.bare.description)
        XCTAssertEqual(shown.first?["nick"] as? String, "Stranger")
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))

        let listed = CallHarness.jsonLines(try await run(["contacts", "requests", "--json"]).output)
        XCTAssertEqual(listed.map { $0["jid"] as? String }, [them.jid.bare.description], "kept until answered")

        _ = try await run(["contacts", "accept", them.jid.bare.description])
        try await eventually("the stranger may see our presence") {
            self.events("subscribed", in: stranger).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
        try await eventually("and is asked for theirs") {
            self.events("subscribe", in: stranger).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
        let waiting = CallHarness.jsonLines(try await run(["contacts", "requests", "--json", "--offline"]).output)
        XCTAssertTrue(waiting.isEmpty, "answered, no longer waiting")
        let roster = CallHarness.jsonLines(try await run(["roster", "--json"]).output)
        let entry = roster.first { $0["jid"] as? String == them.jid.bare.description }
        XCTAssertEqual(entry?["subscription"] as? String, "from", "\(roster)")
    }

    func testADeniedStrangerIsRefusedAndNotShownAgain() async throws {
        let listener = try await listenOnline(config: config)
        let stranger = try peer(them, [], ["--subscribe", us.jid.bare.description, "--again-on-unsubscribed", "--timeout", "40"])
        try await eventually("the request is shown") { !self.lines(listener, type: "subscription_request").isEmpty }
        _ = try await run(["contacts", "deny", them.jid.bare.description])
        try await eventually("the stranger is refused") {
            self.events("unsubscribed", in: stranger).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
        try await eventually("and asks again") { self.events("subscribe-sent", in: stranger).count == 2 }
        try await Task.sleep(for: .seconds(1.5))
        XCTAssertEqual(lines(listener, type: "subscription_request").count, 1, "a denied stranger is not shown again: \(listener.output)")
        let waiting = CallHarness.jsonLines(try await run(["contacts", "requests", "--json", "--offline"]).output)
        XCTAssertTrue(waiting.isEmpty, "denied, not waiting")
    }

    /// `contacts add` with an XMPP address puts them in the roster and asks for their presence;
    /// when they ask back they are let in at once, by the server's pre-approval or by Dialtone.
    func testAContactTheUserAddedIsAskedAndLetInAtOnce() async throws {
        let friend = try peer(them, [], ["--ask-back", "--timeout", "40"])
        try await waitForPeer(friend)
        let listener = try await listenOnline(config: config)
        _ = try await run(["contacts", "add", "Pat Peer", them.jid.bare.description])
        try await eventually("the friend is asked") {
            self.events("subscribe", in: friend).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
        try await eventually("and let in when asking back") {
            self.events("subscribed", in: friend).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
        XCTAssertTrue(lines(listener, type: "subscription_request").isEmpty, "a contact the user added is not a request: \(listener.output)")
        // They see ours; ours to them waits for their answer.
        let shown = "\(them.jid.bare.description) (from, asked)"
        var list = ""
        for _ in 0..<20 {
            list = try await run(["contacts", "list"]).output
            if list.contains(shown) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        XCTAssertTrue(list.contains("Pat Peer") && list.contains(shown), list)
    }

    func testARequestMadeWhileOfflineIsListedAtTheNextLogin() async throws {
        let stranger = try peer(them, [], ["--subscribe", us.jid.bare.description, "--nick", "Night Owl", "--timeout", "30"])
        try await eventually("the stranger asked") { !self.events("subscribe-sent", in: stranger).isEmpty }
        let listed = CallHarness.jsonLines(try await run(["contacts", "requests", "--json"]).output)
        XCTAssertEqual(listed.map { $0["jid"] as? String }, [them.jid.bare.description])
        XCTAssertEqual(listed.first?["nick"] as? String, "Night Owl")
    }

    /// Renaming a person renames their address in the roster (what the account's other clients
    /// show); removing them takes it out of the roster, which ends the subscriptions.
    func testRenamingAndRemovingAPersonChangesTheRosterToo() async throws {
        let friend = try peer(them, [], ["--authorize", "--timeout", "40"])
        try await waitForPeer(friend)
        _ = try await run(["contacts", "add", "Pat Peer", them.jid.bare.description])
        try await eventually("the friend is asked") { !self.events("subscribe", in: friend).isEmpty }
        _ = try await run(["contacts", "rename", "pat peer", "Pat"])
        var entry = CallHarness.jsonLines(try await run(["roster", "--json"]).output).first { $0["jid"] as? String == them.jid.bare.description }
        XCTAssertEqual(entry?["name"] as? String, "Pat", "the roster has the new name")
        XCTAssertEqual(entry?["subscription"] as? String, "to", "the friend let us see their presence")

        _ = try await run(["contacts", "remove", "Pat"])
        entry = CallHarness.jsonLines(try await run(["roster", "--json"]).output).first { $0["jid"] as? String == them.jid.bare.description }
        XCTAssertNil(entry, "no longer in the roster")
        try await eventually("the friend learns the subscription ended") {
            self.events("unsubscribe", in: friend).contains { $0["from"] as? String == self.us.jid.bare.description }
        }
    }

    /// A contact's client that, like Conversations, looks before it uses a feature: once it
    /// sees Dialtone online it asks what Dialtone supports, and gets exactly what is
    /// implemented; it asks the software version and the time, and is answered.
    func testAContactsClientLearnsWhatDialtoneSupports() async throws {
        let listener = try await listenOnline(config: config)
        let friend = try peer(them, [], ["--subscribe", us.jid.bare.description, "--authorize", "--disco", "--timeout", "40"])
        try await eventually("the request is shown") { !self.lines(listener, type: "subscription_request").isEmpty }
        _ = try await run(["contacts", "accept", them.jid.bare.description])
        // The listener's client answers all three. (The short-lived `contacts accept` process
        // may be asked too and be gone before it answers: not what is checked here.)
        try await eventually("the friend asked our client what it supports") { self.event("time", in: friend) != nil }
        let time = try XCTUnwrap(event("time", in: friend))
        let client = try XCTUnwrap(time["from"] as? String)
        let disco = try XCTUnwrap(events("disco", in: friend).first { $0["from"] as? String == client }, friend.output)
        XCTAssertEqual(disco["features"] as? [String], [
            "eu.siacs.conversations.axolotl.devicelist+notify",
            "http://jabber.org/protocol/caps", "http://jabber.org/protocol/chatstates", "http://jabber.org/protocol/disco#info",
            "jabber:iq:version", "jabber:x:oob", "urn:xmpp:bookmarks:1+notify", "urn:xmpp:chat-markers:0", "urn:xmpp:jingle-message:0",
            "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:dtls:0", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
            "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:mds:displayed:0+notify", "urn:xmpp:message-correct:0", "urn:xmpp:message-retract:0",
            "urn:xmpp:message-retract:1", "urn:xmpp:omemo:2:devices+notify", "urn:xmpp:ping", "urn:xmpp:reactions:0", "urn:xmpp:receipts", "urn:xmpp:reply:0",
            "urn:xmpp:time",
        ], "what is implemented, and nothing else")
        let version = try XCTUnwrap(events("version", in: friend).first { $0["from"] as? String == client })
        XCTAssertEqual(version["name"] as? String, "Dialtone")
        XCTAssertNotNil(version["version"] as? String)
        XCTAssertTrue(version["os"] is NSNull || version["os"] == nil, "the operating system is nobody's business")
        XCTAssertNotNil((time["tzo"] as? String)?.range(of: #"^[+-]\d\d:\d\d$"#, options: .regularExpression))
    }

    /// A stranger's nickname (XEP-0172) names them in what Dialtone prints, after a tilde
    /// that says it is their own claim.
    func testAStrangersNicknameNamesTheirMessages() async throws {
        let listener = try dialtone("dt", ["listen", "--config", config, "--log-file", harness.path("listen.log")])
        try await eventually("dialtone listen is online") { listener.output.contains("-- online") || !listener.isRunning }
        _ = try peer(them, [], ["--chat", us.jid.bare.description, "--nick", "Pat", "--timeout", "20"])
        try await eventually("the first message is printed under the nickname") { listener.output.contains("~Pat: hello 1") }
    }
}
