import DialtoneXML
@testable import DialtoneXMPP
import XCTest

/// What a room (XEP-0045) reports about its occupants, read from the presences it sends, and
/// the presences that enter and leave it.
final class RoomPresenceTests: XCTestCase {
    private func presence(_ xml: String) throws -> XMLElement { try XMLElement(parsing: xml) }

    func testOurOwnPresenceInARoomWeCreated() throws {
        let report = try XCTUnwrap(RoomPresence(try presence("""
            <presence xmlns='jabber:client' from='lunch@rooms.example.org/Ada' to='ada@example.org/desk'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator' jid='ada@example.org/desk'/>\
            <status code='110'/><status code='201'/></x></presence>
            """)))
        XCTAssertEqual(report.room, JID(verified: "lunch@rooms.example.org"))
        XCTAssertEqual(report.nick, "Ada")
        XCTAssertTrue(report.available)
        XCTAssertTrue(report.isSelf)
        XCTAssertEqual(report.statusCodes, [110, 201])
        XCTAssertEqual(report.role, "moderator")
        XCTAssertEqual(report.affiliation, "owner")
        XCTAssertEqual(report.realJID, JID(verified: "ada@example.org/desk"))
        XCTAssertNil(report.error)
    }

    func testANickChangeAndARefusedJoin() throws {
        let change = try XCTUnwrap(RoomPresence(try presence("""
            <presence xmlns='jabber:client' from='lunch@rooms.example.org/Bob' type='unavailable'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='none' role='participant' nick='Robert'/><status code='303'/></x></presence>
            """)))
        XCTAssertFalse(change.available)
        XCTAssertEqual(change.newNick, "Robert")
        XCTAssertFalse(change.isSelf)

        let refused = try XCTUnwrap(RoomPresence(try presence("""
            <presence xmlns='jabber:client' from='lunch@rooms.example.org/Ada' type='error'>\
            <x xmlns='http://jabber.org/protocol/muc'/><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>
            """)))
        XCTAssertEqual(refused.error, "conflict")
        XCTAssertFalse(refused.available)
    }

    /// A contact's ordinary presence, or one from a bare address, is no room's report.
    func testOtherPresencesAreNotRoomReports() throws {
        XCTAssertNil(RoomPresence(try presence("<presence xmlns='jabber:client' from='bob@example.org/phone'/>")))
        XCTAssertNil(RoomPresence(try presence("""
            <presence xmlns='jabber:client' from='lunch@rooms.example.org'><x xmlns='http://jabber.org/protocol/muc#user'/></presence>
            """)))
    }

    func testJoiningAsksForNoHistoryAndCarriesThePassword() {
        let join = XMLElement.roomJoin(JID(verified: "lunch@rooms.example.org/Ada"), password: "secret")
        XCTAssertEqual(join.serialized(), """
            <presence xmlns='jabber:client' to='lunch@rooms.example.org/Ada'><x xmlns='http://jabber.org/protocol/muc'>\
            <history maxstanzas='0'/><password>secret</password></x></presence>
            """)
        XCTAssertEqual(XMLElement.roomLeave(JID(verified: "lunch@rooms.example.org/Ada"))[attribute: "type"], "unavailable")
    }
}

/// Invitations to rooms: a room's mediated one is read as the room tells it (even with a
/// direct element beside it), a direct one from its sender.
final class RoomInvitationTests: XCTestCase {
    func testAMediatedInvitationNamesTheInviterAsTheRoomDoes() throws {
        let message = Message(try XMLElement(parsing: """
            <message xmlns='jabber:client' from='tea@rooms.example.com' to='me@example.com'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><invite from='tea@rooms.example.com/ada'><reason>hi</reason></invite>\
            <password>pw</password></x><x xmlns='jabber:x:conference' jid='tea@rooms.example.com'/></message>
            """))
        let invitation = try XCTUnwrap(RoomInvitation(message))
        XCTAssertEqual(invitation, RoomInvitation(room: JID(verified: "tea@rooms.example.com"),
                                                  inviter: JID(verified: "tea@rooms.example.com/ada"), reason: "hi", password: "pw"))
    }

    func testADirectInvitationIsItsSendersAndAMediatedOneOnlyTheRooms() throws {
        let direct = Message(try XMLElement(parsing: """
            <message xmlns='jabber:client' from='ada@example.org/phone' to='me@example.com'>\
            <x xmlns='jabber:x:conference' jid='tea@rooms.example.com' reason='tea?'/></message>
            """))
        XCTAssertEqual(RoomInvitation(direct), RoomInvitation(room: JID(verified: "tea@rooms.example.com"),
                                                              inviter: JID(verified: "ada@example.org"), reason: "tea?", password: nil))
        // A muc#user invite from a full address is nobody's mediated invitation.
        let forged = Message(try XMLElement(parsing: """
            <message xmlns='jabber:client' from='mallory@evil.example/x' to='me@example.com'>\
            <x xmlns='http://jabber.org/protocol/muc#user'><invite from='boss@example.com'/></x></message>
            """))
        XCTAssertNil(RoomInvitation(forged))
    }
}
