@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// The incoming pipeline, fed batches as the client hands them over.
final class MessagingServiceTests: XCTestCase {
    private let me = JID(verified: "me@example.org")
    private let ada = JID(verified: "ada@example.org/phone")

    private func service(_ store: Store) -> MessagingService { .offline(account: me, store: store) }

    private func live(_ message: Message, from sender: String = "ada@example.org/phone") -> ReceivedMessage {
        .live(message, from: sender)
    }

    /// After a reconnect a sender's outbox sends a message and its correction back to back:
    /// both can arrive in one batch, and the correction must still find its original.
    func testACorrectionInTheSameBatchAsItsOriginalCorrectsIt() async throws {
        let store = try Store()
        let messaging = service(store)
        let original = Message.chat(to: me, body: "See you at 7")
        let correction = Message.correction(of: try XCTUnwrap(original.id), to: me, body: "See you at 8")
        try await messaging.receive([live(original), live(correction)])
        let history = try store.history(peer: ada.bare.description)
        XCTAssertEqual(history.map(\.body), ["See you at 8"])
        XCTAssertEqual(try store.edits(of: try XCTUnwrap(history.first?.id)), ["See you at 7"])
    }

    /// A correction from someone else who knows the id stays a message of its own.
    func testACorrectionOfAnotherSendersMessageIsAMessageOfItsOwn() async throws {
        let store = try Store()
        let messaging = service(store)
        let original = Message.chat(to: me, body: "The code is 1234")
        try await messaging.receive([live(original)])
        let forged = Message.correction(of: try XCTUnwrap(original.id), to: me, body: "The code is 9999")
        try await messaging.receive([live(forged, from: "mallory@example.org/x")])
        XCTAssertEqual(try store.history(peer: ada.bare.description).map(\.body), ["The code is 1234"])
        XCTAssertEqual(try store.history(peer: "mallory@example.org").map(\.body), ["The code is 9999"])
    }

    /// A stranger's own name for themselves (XEP-0172) names them, marked as theirs; a name
    /// the user gave wins.
    func testAStrangersNicknameNamesThemWithATilde() async throws {
        let store = try Store()
        let messaging = service(store)
        var element = Message.chat(to: me, body: "Hi, it's Ada").element
        element.append(.textElement("nick", namespace: "http://jabber.org/protocol/nick", "Ada"))
        try await messaging.receive([live(Message(element))])
        var names = DisplayNames(contacts: [], addressBook: [], gateway: nil, country: "US", nicknames: try store.nicknames())
        XCTAssertEqual(names.name(for: "ada@example.org/phone"), "~Ada")
        names = DisplayNames(contacts: [Contact(jid: "ada@example.org", name: "Ada Lovelace", subscription: "both", groups: [])],
                             addressBook: [], gateway: nil, country: "US", nicknames: try store.nicknames())
        XCTAssertEqual(names.name(for: "ada@example.org"), "Ada Lovelace")
    }

    /// A retraction (XEP-0424) from the message's sender takes its text away; one from anyone
    /// else changes nothing and is no message of theirs either.
    func testOnlyTheSenderMayTakeAMessageBack() async throws {
        let store = try Store()
        let messaging = service(store)
        let original = Message.chat(to: me, body: "The code is 1234")
        try await messaging.receive([live(original)])
        let forged = Message.retraction(of: try XCTUnwrap(original.originID), to: me)
        try await messaging.receive([live(forged, from: "mallory@example.org/x")])
        XCTAssertEqual(try store.history(peer: ada.bare.description).map(\.body), ["The code is 1234"])
        XCTAssertTrue(try store.history(peer: "mallory@example.org").isEmpty, "a forged retraction is no message")

        try await messaging.receive([live(Message.retraction(of: try XCTUnwrap(original.originID), to: me))])
        let history = try store.history(peer: ada.bare.description)
        XCTAssertEqual(history.count, 1, "the fallback text is not a message")
        XCTAssertNil(history.first?.body)
        XCTAssertNotNil(history.first?.retractedAt)
    }

    /// Whether the sender wants a read marker is kept with the message (reading a conversation
    /// then needs no stanza parsed); a message without the request keeps false.
    func testWhetherAMessageWantsAReadMarkerIsStored() async throws {
        let store = try Store()
        let messaging = service(store)
        var plain = Message.chat(to: me, body: "no marker").element
        plain.children.removeAll { if case .element(let child) = $0 { child.name == "markable" } else { false } }
        try await messaging.receive([live(Message.chat(to: me, body: "marker please")), live(Message(plain))])
        XCTAssertEqual(try store.history(peer: ada.bare.description).map(\.markable), [true, false])
    }

    /// Version 0's form (a fastening), as older clients send it, is understood too.
    func testARetractionInVersionZerosFormIsUnderstood() throws {
        var element = Message.chat(to: me, body: "fallback").element
        var fastening = XMLElement("apply-to", namespace: "urn:xmpp:fasten:0", attributes: [XMLAttribute("id", "m1")])
        fastening.append(XMLElement("retract", namespace: "urn:xmpp:message-retract:0"))
        element.append(fastening)
        XCTAssertEqual(Message(element).retractID, "m1")
        XCTAssertNil(Message.chat(to: me, body: "plain").retractID)
    }
}
