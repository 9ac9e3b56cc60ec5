@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import XCTest

/// What happens to a message after it is sent: corrections, read markers, chat states.
final class LifecycleTests: XCTestCase {
    func testCorrectionReplacesTheTextAndKeepsTheOld() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()
        let sent = try await alice.session.sendMessage(to: bob.jid, body: "See you at 7")
        try await eventually("bob has it") { try bob.store.history(peer: alice.jid.description).count == 1 }
        _ = try await alice.session.correctMessage(sent.id!, newBody: "See you at 8")
        try await eventually("bob sees the correction in place") {
            try bob.store.history(peer: alice.jid.description).map(\.body) == ["See you at 8"]
        }
        let corrected = try XCTUnwrap(bob.store.history(peer: alice.jid.description).first)
        XCTAssertNotNil(corrected.editedAt)
        XCTAssertEqual(try bob.store.edits(of: corrected.id!), ["See you at 7"])
        XCTAssertEqual(try alice.store.history(peer: bob.jid.description).map(\.body), ["See you at 8"])
        await alice.stop()
        await bob.stop()
    }

    /// A correction made offline waits in the outbox, as a message does, and goes (after the
    /// message it corrects) with the next connection.
    func testACorrectionMadeOfflineGoesThroughTheOutbox() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let sent = try await alice.session.sendMessage(to: bob.jid, body: "See you at 7")
        _ = try await alice.session.correctMessage(sent.id!, newBody: "See you at 8")
        XCTAssertEqual(try alice.store.pendingCorrections().count, 1, "the correction waits")
        try await alice.connect()
        try await eventually("bob sees the corrected text") {
            try bob.store.history(peer: alice.jid.description).map(\.body) == ["See you at 8"]
        }
        XCTAssertEqual(try bob.store.edits(of: try XCTUnwrap(bob.store.history(peer: alice.jid.description).first?.id)), ["See you at 7"])
        try await eventually("the server confirmed the correction") { try alice.store.pendingCorrections().isEmpty }
        await alice.stop()
        await bob.stop()
    }

    func testACorrectionFromAnotherSenderChangesNothing() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        let mallory = try await TestAccount(environment.clientConfiguration(try environment.newAccount("mallory")))
        try await alice.connect()
        try await bob.connect()
        try await mallory.connect()
        let sent = try await bob.session.sendMessage(to: alice.jid, body: "The code is 1234")
        try await eventually("alice has it") { try alice.store.history(peer: bob.jid.description).count == 1 }
        // Mallory knows the id and claims to correct it.
        var forged = Message.chat(to: alice.jid, body: "The code is 9999").element
        forged.append(XMLElement("replace", namespace: Namespace.correction, attributes: [XMLAttribute("id", sent.stanzaID!)]))
        try await mallory.session.xmppClient.send(forged)
        try await eventually("mallory's message arrives as mallory's") {
            try alice.store.history(peer: mallory.jid.description).count == 1
        }
        XCTAssertEqual(try alice.store.history(peer: bob.jid.description).map(\.body), ["The code is 1234"])
        await alice.stop()
        await bob.stop()
        await mallory.stop()
    }

    func testDisplayedMarkerMarksOurMessagesRead() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()
        let first = try await alice.session.sendMessage(to: bob.jid, body: "one")
        let second = try await alice.session.sendMessage(to: bob.jid, body: "two")
        try await eventually("bob has both") { try bob.store.history(peer: alice.jid.description).count == 2 }
        XCTAssertEqual(try bob.store.conversations().first?.unread, 2)
        try await bob.session.markSeen(alice.jid)
        XCTAssertEqual(try bob.store.conversations().first?.unread, 0)
        try await eventually("alice sees both read") {
            try alice.store.message(id: first.id!)?.status == .read && alice.store.message(id: second.id!)?.status == .read
        }
        await alice.stop()
        await bob.stop()
    }
}
