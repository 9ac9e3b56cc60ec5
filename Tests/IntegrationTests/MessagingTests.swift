@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import XCTest

final class MessagingTests: XCTestCase {
    func testMessagesBothWaysAreStoredAndConfirmed() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()

        let sent = try await alice.session.sendMessage(to: bob.jid, body: "Hello Bob <&> 👋")
        try await eventually("bob stores alice's message") { try bob.store.history(peer: alice.jid.description).count == 1 }
        let received = try bob.store.history(peer: alice.jid.description)[0]
        XCTAssertEqual(received.body, "Hello Bob <&> 👋")
        XCTAssertEqual(received.direction, .incoming)
        XCTAssertEqual(received.dedupeKey, sent.dedupeKey)
        // The server confirmed it (stream management) and bob's client sent a receipt.
        try await eventually("alice's message is delivered") {
            try alice.store.message(id: sent.id!)?.status == .delivered
        }

        _ = try await bob.session.sendMessage(to: alice.jid, body: "Hi Alice")
        try await eventually("alice stores bob's reply") {
            try alice.store.history(peer: bob.jid.description).contains { $0.body == "Hi Alice" && $0.direction == .incoming }
        }
        await alice.stop()
        await bob.stop()
    }

    /// Prosody announces urn:xmpp:sid:0 on our account: its live stanza-id is the archive id.
    func testOurServersLiveStanzaIDIsTheArchiveID() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()
        let deadline = ContinuousClock.now + .seconds(10)
        while await !bob.session.xmppClient.serverAssignsStanzaIDs, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        let announced = await bob.session.xmppClient.serverAssignsStanzaIDs
        XCTAssertTrue(announced, "our server's disco#info announces urn:xmpp:sid:0")
        _ = try await alice.session.sendMessage(to: bob.jid, body: "stamped")
        try await eventually("bob stores it") { try bob.store.history(peer: alice.jid.description).count == 1 }
        XCTAssertNotNil(try bob.store.history(peer: alice.jid.description).first?.archiveID)
        await alice.stop()
        await bob.stop()
    }

    func testCarbonsShowWhatAnotherOfOurDevicesSent() async throws {
        let environment = try TestEnvironment.current()
        let aliceAccount = try environment.newAccount("alice")
        let phone = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "phone"))
        let laptop = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "laptop"))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await phone.connect()
        try await laptop.connect()
        try await bob.connect()
        // Carbons are enabled right after login; give the enable a moment to land.
        try await Task.sleep(for: .milliseconds(300))

        _ = try await phone.session.sendMessage(to: bob.jid, body: "sent from the phone")
        try await eventually("the laptop has a sent carbon") {
            try laptop.store.history(peer: bob.jid.description).contains { $0.body == "sent from the phone" && $0.direction == .outgoing }
        }
        _ = try await bob.session.sendMessage(to: aliceAccount.jid.with(resource: "phone"), body: "to the phone only")
        try await eventually("the laptop has a received carbon") {
            try laptop.store.history(peer: bob.jid.description).contains { $0.body == "to the phone only" && $0.direction == .incoming }
        }
        await phone.stop()
        await laptop.stop()
        await bob.stop()
    }

    func testArchiveCatchUpFetchesWhatAnotherDeviceReceived() async throws {
        let environment = try TestEnvironment.current()
        let aliceAccount = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        let desk = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "desk"))
        try await bob.connect()
        try await desk.connect()

        // The laptop logs in once (to have a cursor), then goes away.
        let laptopDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-laptop-\(UUID().uuidString)")
        var laptop = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "laptop"), directory: laptopDirectory)
        _ = try await bob.session.sendMessage(to: aliceAccount.jid, body: "before")
        try await eventually("desk got the first") { try desk.store.messageCount() == 1 }
        try await laptop.connect()
        try await eventually("laptop has a cursor") { try laptop.store.archiveCursor != nil }
        await laptop.session.stop()

        // While it is away, the desk receives three messages live: no offline storage for them.
        for index in 1...3 { _ = try await bob.session.sendMessage(to: aliceAccount.jid, body: "while away \(index)") }
        try await eventually("desk got them") { try desk.store.messageCount() == 4 }

        laptop = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "laptop"), directory: laptopDirectory)
        try await laptop.connect()
        try await eventually("the laptop caught up from the archive") {
            try laptop.store.history(peer: bob.jid.description).filter { $0.body?.hasPrefix("while away") == true }.count == 3
        }
        let bodies = try laptop.store.history(peer: bob.jid.description).compactMap(\.body)
        XCTAssertEqual(bodies, ["before", "while away 1", "while away 2", "while away 3"], "each exactly once, in order")
        await laptop.stop()
        await desk.stop()
        await bob.stop()
    }

    func testStreamResumesAfterADroppedConnection() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()
        let deadline = ContinuousClock.now + .seconds(20)
        while await alice.session.xmppClient.sessionCounts.new == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        await alice.session.dropConnection()
        // While alice is away, bob writes; the server holds it in the resumable session.
        _ = try await bob.session.sendMessage(to: alice.jid, body: "during the drop")
        try await alice.waitForEvent(timeout: .seconds(10)) { event in
            if case .connection(.online) = event { return true }
            return false
        }
        try await eventually("alice has bob's message") { try alice.store.history(peer: bob.jid.description).count == 1 }
        // Resumed, not a new session that caught up from the archive (which would also deliver it).
        let counts = await alice.session.xmppClient.sessionCounts
        XCTAssertEqual(counts.resumed, 1, "the stream was resumed")
        XCTAssertEqual(counts.new, 1, "no second session was set up")
        await alice.stop()
        await bob.stop()
    }

    func testUnknownArchiveCursorFallsBackToTheNewestPage() async throws {
        let environment = try TestEnvironment.current()
        let aliceAccount = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let desk = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "desk"))
        try await desk.connect()
        _ = try await bob.session.sendMessage(to: aliceAccount.jid, body: "archived")
        try await eventually("the desk has it") { try desk.store.messageCount() == 1 }

        // A store whose cursor the server never issued (a reset server, an expired archive).
        let laptop = try await TestAccount(environment.clientConfiguration(aliceAccount, resource: "laptop"))
        try laptop.store.setArchiveCursor("no-such-archive-id")
        try await laptop.connect()
        try await eventually("the laptop still catches up") {
            try laptop.store.history(peer: bob.jid.description).map(\.body) == ["archived"]
        }
        XCTAssertNotEqual(try laptop.store.archiveCursor, "no-such-archive-id")
        await laptop.stop()
        await desk.stop()
        await bob.stop()
    }
}
