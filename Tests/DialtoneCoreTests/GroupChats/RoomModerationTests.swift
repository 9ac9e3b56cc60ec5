@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// Only a room itself takes its messages down (XEP-0425): its notice empties the message and
/// keeps who and why; the same words from an occupant, or from anyone else, change nothing.
/// With a real room: IntegrationTests/RoomModerationTests.
final class RoomModerationUnitTests: XCTestCase {
    private let me = JID(verified: "me@example.com")
    private let room = JID(verified: "lounge@rooms.example.com")

    private func fromRoom(_ xml: String, sender: String, source: ReceivedMessage.Source = .live,
                          archiveID: String? = nil) throws -> ReceivedMessage {
        let element = try XMLElement(parsing: """
            <message xmlns='jabber:client' from='\(sender)' to='me@example.com/desk' type='groupchat'>\(xml)</message>
            """)
        return ReceivedMessage(message: Message(element), direction: .incoming, source: source, archiveID: archiveID,
                               timestamp: Date(), room: room)
    }

    private func notice(of id: String, by sender: String) throws -> ReceivedMessage {
        try fromRoom("""
            <retract xmlns='urn:xmpp:message-retract:1' id='\(id)'>\
            <moderated xmlns='urn:xmpp:message-moderate:1' by='\(room)/ada'/><reason>spam</reason></retract>
            """, sender: sender)
    }

    func testTheRoomsNoticeTakesTheMessageDownAndAnOccupantsDoesNot() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        try await messaging.receive([try fromRoom("<body>cheap watches</body>", sender: "\(room)/bob", archiveID: "r1")])
        let stored = try XCTUnwrap(store.history(peer: room.description).first)

        // bob (or any occupant) claims a moderator took it down: his own message, through the room.
        try await messaging.receive([try notice(of: "r1", by: "\(room)/bob")])
        // Someone outside the room says it directly.
        var outside = try notice(of: "r1", by: "mallory@example.com/x")
        outside.room = nil
        try await messaging.receive([outside])
        XCTAssertEqual(try store.message(id: XCTUnwrap(stored.id))?.body, "cheap watches")
        XCTAssertEqual(try store.history(peer: room.description).count, 1, "a forged notice became a message")

        try await messaging.receive([try notice(of: "r1", by: room.description)])
        let down = try XCTUnwrap(store.message(id: XCTUnwrap(stored.id)))
        XCTAssertNil(down.body)
        XCTAssertNotNil(down.retractedAt)
        XCTAssertEqual(down.moderation, MessageModeration(moderator: "ada", reason: "spam"))
        XCTAssertTrue(try store.search("watches").isEmpty)
    }

    /// The room names a message by its own id; a message of another conversation with that id
    /// is not touched.
    func testANoticeReachesOnlyTheRoomsOwnMessage() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        try await messaging.receive([.live(Message.chat(to: me, body: "a chat"), from: "ada@example.com/phone")])
        let chat = try XCTUnwrap(store.history(peer: "ada@example.com").first)
        try await messaging.receive([try notice(of: XCTUnwrap(chat.stanzaID), by: room.description)])
        XCTAssertEqual(try store.message(id: XCTUnwrap(chat.id))?.body, "a chat")
    }
}
