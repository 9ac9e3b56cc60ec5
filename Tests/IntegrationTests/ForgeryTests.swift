@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Logging
import XCTest

/// Forged stanzas from another user of the same server: none may be stored or acted on.
final class ForgeryTests: XCTestCase {
    private func rawClient(_ configuration: XMPPClientConfiguration) async throws -> XMPPClient {
        let online = AsyncStream<Void>.makeStream()
        let client = XMPPClient(configuration: configuration) { events in
            for case .connectionState(.online) in events { online.continuation.yield() }
        }
        await client.start()
        for await _ in online.stream { break }
        return client
    }

    func testForgedCarbonsRosterPushesAndArchiveResultsAreRejected() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bobAccount = try environment.newAccount("bob")
        try await alice.connect()
        let mallory = try await rawClient(environment.clientConfiguration(try environment.newAccount("mallory")))
        guard let aliceFull = await alice.session.xmppClient.boundJID else { return XCTFail("alice not bound") }

        let fixtures = [
            // A "received" carbon claiming bob wrote to alice.
            """
            <message xmlns='jabber:client' to='\(aliceFull)' type='chat'><received xmlns='urn:xmpp:carbons:2'>
            <forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='\(bobAccount.jid)/x' to='\(aliceFull)'
            type='chat' id='forged-carbon'><body>forged carbon</body></message></forwarded></received></message>
            """,
            // A "sent" carbon claiming alice wrote to bob.
            """
            <message xmlns='jabber:client' to='\(aliceFull)' type='chat'><sent xmlns='urn:xmpp:carbons:2'>
            <forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' from='\(aliceFull)' to='\(bobAccount.jid)'
            type='chat' id='forged-sent'><body>forged sent carbon</body></message></forwarded></sent></message>
            """,
            // An archive result for a query alice never made.
            """
            <message xmlns='jabber:client' to='\(aliceFull)'><result xmlns='urn:xmpp:mam:2' queryid='guess' id='forged-mam'>
            <forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='2020-01-01T00:00:00Z'/>
            <message xmlns='jabber:client' from='\(bobAccount.jid)/x' to='\(aliceFull)' type='chat' id='forged-archived'>
            <body>forged archive result</body></message></forwarded></result></message>
            """,
            // A roster push adding mallory under a trusted name.
            """
            <iq xmlns='jabber:client' to='\(aliceFull)' type='set' id='forged-roster'><query xmlns='jabber:iq:roster'>
            <item jid='mallory@evil.example' name='Bank'/></query></iq>
            """,
        ]
        for fixture in fixtures { try await mallory.send(try XMLElement(parsing: fixture)) }
        // An honest message after them: once it is stored, the forgeries have been processed too.
        try await mallory.send(Message.chat(to: alice.jid, body: "honest message").element)
        try await eventually("the honest message arrives") {
            try alice.store.conversations().contains { $0.peer.hasPrefix("mallory") }
        }
        let rejected = await alice.session.rejectedCount
        XCTAssertEqual(rejected, 4, "every forgery rejected")
        XCTAssertTrue(try alice.store.history(peer: bobAccount.jid.description).isEmpty, "nothing stored as bob's")
        XCTAssertFalse(try alice.store.contacts().contains { $0.jid == "mallory@evil.example" }, "roster untouched")
        let everything = try alice.store.conversations().flatMap { try alice.store.history(peer: $0.peer) }
        XCTAssertEqual(everything.compactMap(\.body), ["honest message"])
        await mallory.stop()
        await alice.stop()
    }

    /// The accept test beside the reject test: a roster change made by another of our own
    /// devices arrives as a push from our account and is applied.
    func testRosterPushFromOurOwnAccountIsApplied() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("alice")
        let alice = try await TestAccount(environment.clientConfiguration(account, resource: "laptop"))
        try await alice.connect()
        let phone = try await rawClient(environment.clientConfiguration(account, resource: "phone"))
        var query = XMLElement("query", namespace: Namespace.roster)
        query.append(XMLElement("item", namespace: Namespace.roster,
                                attributes: [XMLAttribute("jid", "bob@\(environment.domain)"), XMLAttribute("name", "Bob")]))
        _ = try await phone.request(.iq(.set, id: newStanzaID(), payload: query))
        try await eventually("the push reaches the laptop") {
            try alice.store.contacts().contains { $0.jid == "bob@\(environment.domain)" && $0.name == "Bob" }
        }
        let rejected = await alice.session.rejectedCount
        XCTAssertEqual(rejected, 0)
        await phone.stop()
        await alice.stop()
    }

    /// A stranger stamps a live message 2099: it must not stay on top of the conversation
    /// list once someone else writes, nor be stored as sent in the future.
    func testAFutureDelayFromASenderDoesNotKeepItsConversationOnTop() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        try await alice.connect()
        let malloryAccount = try environment.newAccount("mallory")
        let mallory = try await rawClient(environment.clientConfiguration(malloryAccount))
        let bob = try await rawClient(environment.clientConfiguration(try environment.newAccount("bob")))

        var stamped = Message.chat(to: alice.jid, body: "read me first, forever").element
        stamped.append(XMLElement("delay", namespace: Namespace.delay, attributes: [
            XMLAttribute("stamp", "2099-01-01T00:00:00Z"), XMLAttribute("from", environment.domain),
        ]))
        let before = Date()
        try await mallory.send(stamped)
        try await eventually("mallory's message arrives") { !(try alice.store.history(peer: malloryAccount.jid.description).isEmpty) }
        let stored = try XCTUnwrap(try alice.store.history(peer: malloryAccount.jid.description).first)
        XCTAssertLessThanOrEqual(stored.timestamp, Date(), "stored as sent in the future")
        XCTAssertGreaterThanOrEqual(stored.timestamp, before.addingTimeInterval(-1))

        try await Task.sleep(for: .milliseconds(50))
        try await bob.send(Message.chat(to: alice.jid, body: "a later message").element)
        try await eventually("bob's message arrives") { try alice.store.conversations().count == 2 }
        XCTAssertEqual(try alice.store.conversations().first?.peer.hasPrefix("bob"), true, "the newest conversation is on top")
        await mallory.stop()
        await bob.stop()
        await alice.stop()
    }

    /// The answer to a request nobody waits for (how our session-terminate goes out) is
    /// expected, not reported as "iq response to nothing we asked" (issue 13).
    func testTheAnswerToARequestNobodyWaitsForIsNotRejected() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        try await alice.connect()
        let bob = try await rawClient(environment.clientConfiguration(try environment.newAccount("bob")))
        guard let bobFull = await bob.boundJID else { return XCTFail("bob not bound") }
        let client = alice.session.xmppClient
        try await client.sendRequest(.iq(.get, id: newStanzaID(), to: bobFull, payload: XMLElement("ping", namespace: Namespace.ping)))
        // Answered in order: once a second ping is answered, the first answer was handled.
        _ = try await client.request(.iq(.get, id: newStanzaID(), to: bobFull, payload: XMLElement("ping", namespace: Namespace.ping)))
        let rejected = await alice.session.rejectedCount
        XCTAssertEqual(rejected, 0)
        await bob.stop()
        await alice.stop()
    }
}
