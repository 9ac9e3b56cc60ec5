import DialtoneXML
@testable import DialtoneXMPP
import XCTest

/// Message moderation (XEP-0425): the room's notices read in both versions, and the request in
/// the version the room announces.
final class ModerationTests: XCTestCase {
    private func message(_ xml: String) throws -> Message { Message(try XMLElement(parsing: xml)) }

    func testTheCurrentVersionsNoticeNamesTheMessageTheModeratorAndTheReason() throws {
        let notice = try message("""
            <message xmlns='jabber:client' from='lounge@rooms.example.org' type='groupchat'>\
            <retract xmlns='urn:xmpp:message-retract:1' id='room-id-7'>\
            <moderated xmlns='urn:xmpp:message-moderate:1' by='lounge@rooms.example.org/Ada'/>\
            <reason>spam</reason></retract></message>
            """).moderation
        XCTAssertEqual(notice, ModerationNotice(messageID: "room-id-7", moderator: "Ada", reason: "spam"))
    }

    func testVersionZerosNoticeInAFasteningIsReadToo() throws {
        let notice = try message("""
            <message xmlns='jabber:client' from='lounge@rooms.example.org' type='groupchat'>\
            <apply-to xmlns='urn:xmpp:fasten:0' id='room-id-8'>\
            <moderated xmlns='urn:xmpp:message-moderate:0' by='lounge@rooms.example.org/Bob'>\
            <retract xmlns='urn:xmpp:message-retract:0'/><reason>off topic</reason></moderated></apply-to></message>
            """).moderation
        XCTAssertEqual(notice, ModerationNotice(messageID: "room-id-8", moderator: "Bob", reason: "off topic"))
    }

    /// A sender's own retraction is no moderation, and a fastening without a retraction inside
    /// takes nothing down.
    func testARetractionOrAnEmptyFasteningIsNoModeration() throws {
        XCTAssertNil(try message("""
            <message xmlns='jabber:client' type='chat'><retract xmlns='urn:xmpp:message-retract:1' id='x'/></message>
            """).moderation)
        XCTAssertNil(try message("""
            <message xmlns='jabber:client' type='groupchat'><apply-to xmlns='urn:xmpp:fasten:0' id='x'>\
            <moderated xmlns='urn:xmpp:message-moderate:0' by='r@s/Ada'/></apply-to></message>
            """).moderation)
    }

    func testTheRequestTakesTheFormTheRoomAnnounces() throws {
        XCTAssertEqual(ModerationVersion(roomFeatures: ["urn:xmpp:message-moderate:0", "urn:xmpp:message-moderate:1"]), .current)
        XCTAssertEqual(ModerationVersion(roomFeatures: ["urn:xmpp:message-moderate:0"]), .fastening)
        XCTAssertNil(ModerationVersion(roomFeatures: ["http://jabber.org/protocol/muc"]))

        let current = XMLElement.moderation(ofRoomMessage: "m1", reason: "spam", version: .current)
        XCTAssertEqual(current.name, "moderate")
        XCTAssertEqual(current.namespace, "urn:xmpp:message-moderate:1")
        XCTAssertEqual(current[attribute: "id"], "m1")
        XCTAssertNotNil(current.child("retract", namespace: "urn:xmpp:message-retract:1"))
        XCTAssertEqual(current.childText("reason", namespace: "urn:xmpp:message-moderate:1"), "spam")

        let old = XMLElement.moderation(ofRoomMessage: "m2", reason: nil, version: .fastening)
        XCTAssertEqual(old.name, "apply-to")
        XCTAssertEqual(old[attribute: "id"], "m2")
        let moderate = try XCTUnwrap(old.child("moderate", namespace: "urn:xmpp:message-moderate:0"))
        XCTAssertNotNil(moderate.child("retract", namespace: "urn:xmpp:message-retract:0"))
        XCTAssertNil(moderate.child("reason", namespace: "urn:xmpp:message-moderate:0"))
    }
}
