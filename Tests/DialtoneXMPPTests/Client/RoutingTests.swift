@testable import DialtoneXMPP
import DialtoneXML
import Foundation
import XCTest

/// Routing and validation of incoming stanzas without a server: each stanza is handed to the
/// client's router as a read from the stream would, and the events and replies it produces
/// are checked. Every `from` a stanza claims is checked against what it says it is.
final class RoutingTests: XCTestCase {
    private func client() -> XMPPClient {
        var configuration = XMPPClientConfiguration(jid: JID(verified: "me@example.com"), password: "x")
        configuration.delegatedRequestNamespaces = ["urn:xmpp:jingle:1"]
        return XMPPClient(configuration: configuration) { _ in }
    }

    private func route(_ xml: String, in client: XMPPClient? = nil,
                       setUp: @Sendable (isolated XMPPClient) -> Void = { _ in }) async throws -> InboundBatch {
        let client = client ?? self.client()
        let stanza = try XMLElement(parsing: xml)
        return await client.routeForTest(stanza, setUp: setUp)
    }

    private func rejection(_ batch: InboundBatch) -> String? {
        for event in batch.events { if case .rejected(let reason, _) = event { return reason } }
        return nil
    }

    private func messages(_ batch: InboundBatch) -> [ReceivedMessage] {
        batch.events.compactMap { if case .message(let message) = $0 { message } else { nil } }
    }

    // MARK: Presence subscriptions (RFC 6121 §3)

    private func subscriptions(_ batch: InboundBatch) -> [SubscriptionChange] {
        batch.events.compactMap { if case .subscription(let change) = $0 { change } else { nil } }
    }

    func testASubscriptionRequestIsItsOwnEventFromTheBareAddressWithItsNick() async throws {
        let batch = try await route("""
            <presence xmlns='jabber:client' from='ada@example.org/laptop' to='me@example.com' type='subscribe'>\
            <nick xmlns='http://jabber.org/protocol/nick'>Ada</nick></presence>
            """)
        XCTAssertEqual(subscriptions(batch), [SubscriptionChange(from: JID(verified: "ada@example.org"), kind: .subscribe, nick: "Ada")])
        XCTAssertFalse(batch.events.contains { if case .presence = $0 { true } else { false } }, "not an availability change")
    }

    func testEveryAnswerToASubscriptionIsReported() async throws {
        for kind in ["subscribed", "unsubscribe", "unsubscribed"] {
            let batch = try await route("<presence xmlns='jabber:client' from='ada@example.org' type='\(kind)'/>")
            XCTAssertEqual(subscriptions(batch).map(\.kind.rawValue), [kind])
        }
    }

    func testASubscriptionFromOurOwnAccountIsRejected() async throws {
        let batch = try await route("<presence xmlns='jabber:client' from='me@example.com/phone' type='subscribe'/>")
        XCTAssertEqual(rejection(batch), "subscription subscribe from our own account")
        XCTAssertTrue(subscriptions(batch).isEmpty)
    }

    func testAnUnavailablePresenceIsNoSubscription() async throws {
        let batch = try await route("<presence xmlns='jabber:client' from='ada@example.org/laptop' type='unavailable'/>")
        XCTAssertTrue(subscriptions(batch).isEmpty)
        XCTAssertTrue(batch.events.contains { if case .presence(let update) = $0 { !update.available } else { false } })
    }

    // MARK: What we answer about ourselves

    func testASoftwareVersionQueryIsAnsweredWithNameAndVersionOnly() async throws {
        var configuration = XMPPClientConfiguration(jid: JID(verified: "me@example.com"), password: "x")
        configuration.softwareVersion = "1.2.3"
        let batch = try await route("<iq xmlns='jabber:client' from='ada@example.org/x' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>",
                                    in: XMPPClient(configuration: configuration) { _ in })
        let query = try XCTUnwrap(batch.replies.first?.child("query", namespace: "jabber:iq:version"))
        XCTAssertEqual(batch.replies.first?[attribute: "type"], "result")
        XCTAssertEqual(query.childText("name", namespace: "jabber:iq:version"), "Dialtone")
        XCTAssertEqual(query.childText("version", namespace: "jabber:iq:version"), "1.2.3")
        XCTAssertNil(query.child("os", namespace: "jabber:iq:version"))
        let features = ServiceDiscovery.features(adding: configuration.extraFeatures)
        XCTAssertTrue(features.contains("urn:xmpp:time"))
    }

    func testWithoutAVersionToTellTheQueryIsRefused() async throws {
        let batch = try await route("<iq xmlns='jabber:client' from='ada@example.org/x' type='get' id='v1'><query xmlns='jabber:iq:version'/></iq>")
        XCTAssertEqual(batch.replies.first?[attribute: "type"], "error")
    }

    func testEntityTimeGivesTheZoneOffsetAndUTC() throws {
        let time = XMPPClient.entityTime(Date(timeIntervalSince1970: 0), zone: try XCTUnwrap(TimeZone(secondsFromGMT: -(5 * 3600 + 30 * 60))))
        XCTAssertEqual(time.childText("tzo", namespace: "urn:xmpp:time"), "-05:30")
        XCTAssertEqual(time.childText("utc", namespace: "urn:xmpp:time")?.hasPrefix("1970-01-01T00:00:00"), true)
        XCTAssertEqual(XMPPClient.entityTime(Date(), zone: try XCTUnwrap(TimeZone(identifier: "UTC"))).childText("tzo", namespace: "urn:xmpp:time"), "+00:00")
    }

    // MARK: Carbons (XEP-0280)

    func testACarbonFromAStrangerIsRejected() async throws {
        let batch = try await route("""
            <message xmlns='jabber:client' from='mallory@evil.example' to='me@example.com/desk'>\
            <received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
            <message xmlns='jabber:client' from='boss@example.com/x' to='me@example.com/phone' type='chat'><body>wire money</body></message>\
            </forwarded></received></message>
            """)
        XCTAssertEqual(rejection(batch), "carbon copy not from our own account")
        XCTAssertEqual(messages(batch).count, 0)
    }

    func testASentCarbonOfSomeoneElsesMessageIsRejected() async throws {
        let batch = try await route("""
            <message xmlns='jabber:client' from='me@example.com' to='me@example.com/desk'>\
            <sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
            <message xmlns='jabber:client' from='boss@example.com/x' to='bob@example.com' type='chat'><body>hi</body></message>\
            </forwarded></sent></message>
            """)
        XCTAssertEqual(rejection(batch), "carbon of a message that is not ours")
    }

    func testAnOwnCarbonIsOurMessageFromAnotherDevice() async throws {
        let batch = try await route("""
            <message xmlns='jabber:client' from='me@example.com' to='me@example.com/desk'>\
            <sent xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'>\
            <message xmlns='jabber:client' from='me@example.com/phone' to='bob@example.com' type='chat'><body>hi</body></message>\
            </forwarded></sent></message>
            """)
        XCTAssertNil(rejection(batch))
        XCTAssertEqual(messages(batch).map(\.direction), [.outgoing])
        XCTAssertEqual(messages(batch).map(\.source), [.carbon])
    }

    // MARK: Archive results (XEP-0313)

    private let archived = """
        <message xmlns='jabber:client' from='FROM' to='me@example.com/desk'>\
        <result xmlns='urn:xmpp:mam:2' queryid='q1' id='a1'><forwarded xmlns='urn:xmpp:forward:0'>\
        <delay xmlns='urn:xmpp:delay' stamp='2026-01-01T10:00:00Z'/>\
        <message xmlns='jabber:client' from='bob@example.com/x' to='me@example.com' type='chat'><body>old</body></message>\
        </forwarded></result></message>
        """

    func testAnArchiveResultNobodyAskedForIsRejected() async throws {
        let batch = try await route(archived.replacingOccurrences(of: "FROM", with: "me@example.com"))
        XCTAssertEqual(rejection(batch), "archive result for a query we did not send")
    }

    func testAnArchiveResultFromAnotherArchiveIsRejected() async throws {
        let batch = try await route(archived.replacingOccurrences(of: "FROM", with: "mallory@evil.example")) {
            $0.activeArchiveQueries["q1"] = JID(verified: "me@example.com")
        }
        XCTAssertEqual(rejection(batch), "archive result not from the archive we asked")
    }

    func testOurArchiveResultCarriesItsIdAndStamp() async throws {
        let batch = try await route(archived.replacingOccurrences(of: "FROM", with: "me@example.com")) {
            $0.activeArchiveQueries["q1"] = JID(verified: "me@example.com")
        }
        let message = try XCTUnwrap(messages(batch).first)
        XCTAssertEqual(message.source, ReceivedMessage.Source.archive)
        XCTAssertEqual(message.archiveID, "a1")
        XCTAssertEqual(message.timestamp, XMPPDateTime.parse("2026-01-01T10:00:00Z"))
        XCTAssertNil(message.room)
    }

    // MARK: Group chats (XEP-0045)

    func testARoomsArchiveAnswersOnlyFromTheRoom() async throws {
        let room = JID(verified: "lounge@rooms.example.com")
        let forged = try await route(archived.replacingOccurrences(of: "FROM", with: "me@example.com")) {
            $0.activeArchiveQueries["q1"] = room
        }
        XCTAssertEqual(rejection(forged), "archive result not from the archive we asked")
        // The room's own archive holding a message "from" a contact: not the room's to give.
        let outside = try await route(archived.replacingOccurrences(of: "FROM", with: room.description)) {
            $0.activeArchiveQueries["q1"] = room
        }
        XCTAssertEqual(rejection(outside), "a room's archive result from outside the room")
        let said = archived.replacingOccurrences(of: "FROM", with: room.description)
            .replacingOccurrences(of: "bob@example.com/x", with: "\(room)/ada").replacingOccurrences(of: "type='chat'", with: "type='groupchat'")
        let batch = try await route(said) { $0.activeArchiveQueries["q1"] = room }
        let message = try XCTUnwrap(messages(batch).first)
        XCTAssertEqual(message.room, room)
        XCTAssertEqual(message.peer, room)
        XCTAssertEqual(message.direction, .incoming)
    }

    func testALiveRoomMessageNamesItsRoomAndAsksNoReceipt() async throws {
        let batch = try await route("""
            <message xmlns='jabber:client' from='lounge@rooms.example.com/ada' to='me@example.com/desk' type='groupchat' id='m1'>            <body>hi all</body><request xmlns='urn:xmpp:receipts'/>            <stanza-id xmlns='urn:xmpp:sid:0' id='r1' by='me@example.com'/></message>
            """)
        let message = try XCTUnwrap(messages(batch).first)
        XCTAssertEqual(message.room, JID(verified: "lounge@rooms.example.com"))
        XCTAssertNil(message.archiveID, "a stanza-id by our address in a room message is the sender's claim")
        XCTAssertTrue(batch.replies.isEmpty, "a receipt was sent to a room")
    }

    func testARoomsReportOnAnOccupantIsItsOwnEvent() async throws {
        let batch = try await route("""
            <presence xmlns='jabber:client' from='lounge@rooms.example.com/dt' to='me@example.com/desk'>            <x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant'/>            <status code='110'/></x></presence>
            """)
        guard case .roomPresence(let presence) = try XCTUnwrap(batch.events.first) else { return XCTFail("\(batch.events)") }
        XCTAssertTrue(presence.isSelf)
        XCTAssertEqual(presence.nick, "dt")
    }

    func testBookmarkNotificationsFromOurAccountOnly() async throws {
        let event = """
            <message xmlns='jabber:client' from='FROM' to='me@example.com/desk'>\
            <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'>\
            <item id='lounge@rooms.example.com'><conference xmlns='urn:xmpp:bookmarks:1' autojoin='true' name='Lounge'>\
            <nick>dt</nick></conference></item></items></event></message>
            """
        let ours = try await route(event.replacingOccurrences(of: "FROM", with: "me@example.com"))
        guard case .bookmarks(.published(let bookmarks)) = try XCTUnwrap(ours.events.first) else { return XCTFail("\(ours.events)") }
        XCTAssertEqual(bookmarks, [Bookmark(room: JID(verified: "lounge@rooms.example.com"), name: "Lounge", autojoin: true, nick: "dt")])
        let forged = try await route(event.replacingOccurrences(of: "FROM", with: "mallory@evil.example"))
        XCTAssertNotNil(rejection(forged))
        let retracted = try await route("""
            <message xmlns='jabber:client' from='me@example.com' to='me@example.com/desk'>\
            <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:bookmarks:1'>\
            <retract id='lounge@rooms.example.com'/></items></event></message>
            """)
        guard case .bookmarks(.retracted(let rooms)) = try XCTUnwrap(retracted.events.first) else { return XCTFail("\(retracted.events)") }
        XCTAssertEqual(rooms, [JID(verified: "lounge@rooms.example.com")])
    }

    // MARK: OMEMO device lists (XEP-0384)

    /// Each account's own PEP service announces its device list: from its bare address only,
    /// as that account's; ours may come without a `from`.
    func testDeviceListsAreTheirOwnersAlone() async throws {
        let event = """
            <message xmlns='jabber:client' FROM to='me@example.com/desk'>\
            <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='eu.siacs.conversations.axolotl.devicelist'>\
            <item id='current'><list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/><device id='0'/></list></item>\
            </items></event></message>
            """
        let theirs = try await route(event.replacingOccurrences(of: "FROM", with: "from='ada@example.org'"))
        guard case .omemoDevices(let owner, let version, let list) = try XCTUnwrap(theirs.events.first) else { return XCTFail("\(theirs.events)") }
        XCTAssertEqual(owner, JID(verified: "ada@example.org"))
        XCTAssertEqual(version, .legacy)
        XCTAssertEqual(list.devices, [12345], "an invalid id is skipped")
        let ours = try await route(event.replacingOccurrences(of: "FROM", with: ""))
        guard case .omemoDevices(let self_, _, _) = try XCTUnwrap(ours.events.first) else { return XCTFail("\(ours.events)") }
        XCTAssertEqual(self_, JID(verified: "me@example.com"))
        let fromAResource = try await route(event.replacingOccurrences(of: "FROM", with: "from='ada@example.org/phone'"))
        XCTAssertEqual(rejection(fromAResource), "device list not from a bare address")
    }

    // MARK: Read state across devices (XEP-0490)

    private let displayedEvent = """
        <message xmlns='jabber:client' from='FROM' to='me@example.com/desk'>\
        <event xmlns='http://jabber.org/protocol/pubsub#event'><items node='urn:xmpp:mds:displayed:0'>\
        <item id='ada@example.org'><displayed xmlns='urn:xmpp:mds:displayed:0'>\
        <stanza-id xmlns='urn:xmpp:sid:0' id='s42' by='me@example.com'/></displayed></item></items></event></message>
        """

    func testReadStateFromOurOwnAccountIsTaken() async throws {
        let batch = try await route(displayedEvent.replacingOccurrences(of: "FROM", with: "me@example.com"))
        guard case .displayedElsewhere(let marks) = try XCTUnwrap(batch.events.first) else { return XCTFail("\(batch.events)") }
        XCTAssertEqual(marks, [DisplayedMark(peer: JID(verified: "ada@example.org"), stanzaID: "s42", by: JID(verified: "me@example.com"))])
    }

    /// Anyone else's notification is no read state of ours (it would clear unread counts).
    func testReadStateFromAnyoneElseIsRejected() async throws {
        let batch = try await route(displayedEvent.replacingOccurrences(of: "FROM", with: "mallory@evil.example"))
        XCTAssertEqual(rejection(batch), "PEP notification (read state, bookmarks) not from our own account")
    }

    // MARK: Roster pushes (RFC 6121)

    func testARosterPushFromAStrangerIsRejectedAndRefused() async throws {
        let batch = try await route("""
            <iq xmlns='jabber:client' type='set' id='r1' from='mallory@evil.example/x'>\
            <query xmlns='jabber:iq:roster'><item jid='mallory@evil.example' subscription='both'/></query></iq>
            """)
        XCTAssertEqual(rejection(batch), "roster push not from our own account")
        XCTAssertEqual(batch.replies.first?[attribute: "type"], "error")
    }

    func testARosterPushFromOurServerIsApplied() async throws {
        let batch = try await route("""
            <iq xmlns='jabber:client' type='set' id='r1'>\
            <query xmlns='jabber:iq:roster'><item jid='ada@example.org' name='Ada' subscription='both'/></query></iq>
            """)
        XCTAssertNil(rejection(batch))
        guard case .roster(.push(let item, _))? = batch.events.first else { return XCTFail("no push: \(batch.events)") }
        XCTAssertEqual(item.name, "Ada")
        XCTAssertEqual(batch.replies.first?[attribute: "type"], "result")
    }

    // MARK: iq

    func testAResponseToNothingWeAskedIsRejected() async throws {
        let batch = try await route("<iq xmlns='jabber:client' type='result' id='nobody-asked' from='example.com'/>")
        XCTAssertEqual(rejection(batch), "iq response to nothing we asked")
        XCTAssertTrue(batch.responses.isEmpty)
    }

    func testAResponseFromSomeoneWeDidNotAskIsRejected() async throws {
        let batch = try await route("<iq xmlns='jabber:client' type='result' id='q7' from='mallory@evil.example/x'/>") {
            $0.pendingRequests["q7"] = .init(expectedFrom: JID(verified: "gateway.example.com"), continuation: nil)
        }
        XCTAssertEqual(rejection(batch), "iq response from mallory@evil.example/x to a request sent to gateway.example.com")
        XCTAssertTrue(batch.responses.isEmpty)
    }

    func testAnIqWithoutAValidTypeIsRejected() async throws {
        let batch = try await route("<iq xmlns='jabber:client' type='maybe' id='x1' from='example.com'/>")
        XCTAssertEqual(rejection(batch), "iq without a valid type")
    }

    func testRequestsWeDoNotServeGetAnErrorAndJingleGoesUp() async throws {
        let unknown = try await route("<iq xmlns='jabber:client' type='get' id='g1' from='bob@example.com/x'><query xmlns='urn:example:nothing'/></iq>")
        XCTAssertEqual(unknown.replies.first?[attribute: "type"], "error")
        XCTAssertTrue(unknown.events.isEmpty)
        let jingle = try await route("""
            <iq xmlns='jabber:client' type='set' id='j1' from='bob@example.com/x'><jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'/></iq>
            """)
        XCTAssertTrue(jingle.replies.isEmpty, "the layer above answers Jingle itself")
        guard case .request? = jingle.events.first else { return XCTFail("not handed up: \(jingle.events)") }
    }

    func testPingAndDiscoAreAnswered() async throws {
        let ping = try await route("<iq xmlns='jabber:client' type='get' id='p1' from='example.com'><ping xmlns='urn:xmpp:ping'/></iq>")
        XCTAssertEqual(ping.replies.first?[attribute: "type"], "result")
        let disco = try await route("<iq xmlns='jabber:client' type='get' id='d1' from='bob@example.com/x'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
        XCTAssertEqual(disco.replies.first?[attribute: "type"], "result")
        XCTAssertNotNil(disco.replies.first?.child("query", namespace: "http://jabber.org/protocol/disco#info"))
    }

    // MARK: Anything else

    func testAnUnparsableSenderIsRejected() async throws {
        let batch = try await route("<message xmlns='jabber:client' from='@@' type='chat'><body>x</body></message>")
        XCTAssertEqual(rejection(batch), "unparsable sender @@")
    }

    func testAnUnknownTopLevelElementIsRejected() async throws {
        let batch = try await route("<thing xmlns='urn:example:thing'/>")
        XCTAssertEqual(rejection(batch), "unknown top-level element <thing>")
    }

    func testAPresenceWithoutASenderIsRejected() async throws {
        let batch = try await route("<presence xmlns='jabber:client'/>")
        XCTAssertEqual(rejection(batch), "presence without a sender")
    }

    /// XEP-0184: the receipt waits with the batch (it promises we have the message).
    func testALiveMessageAskingForAReceiptQueuesItWithTheBatch() async throws {
        let batch = try await route("""
            <message xmlns='jabber:client' from='bob@example.com/x' to='me@example.com/desk' type='chat' id='m1'>\
            <body>hi</body><request xmlns='urn:xmpp:receipts'/></message>
            """)
        XCTAssertEqual(messages(batch).map(\.source), [.live])
        let receipt = try XCTUnwrap(batch.replies.first)
        XCTAssertEqual(receipt.child("received", namespace: "urn:xmpp:receipts")?[attribute: "id"], "m1")
        XCTAssertEqual(receipt[attribute: "to"], "bob@example.com/x")
    }
}

extension XMPPClient {
    /// One stanza through the router, after `setUp` prepared what the client would have asked.
    func routeForTest(_ stanza: XMLElement, setUp: @Sendable (isolated XMPPClient) -> Void) -> InboundBatch {
        setUp(self)
        var batch = InboundBatch()
        route(stanza, into: &batch)
        return batch
    }
}
