@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging
import XCTest

/// What a room may say before we are in it (nothing), and how names and mentions read. The
/// joins themselves, with a real room, are in IntegrationTests/GroupChatTests.
final class GroupChatServiceTests: XCTestCase {
    private let account = JID(verified: "me@example.com")
    private let room = JID(verified: "lounge@rooms.example.com")

    private func service(_ store: Store) -> GroupChatService {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: account, password: "x")) { _ in }
        return GroupChatService(account: account, store: store, client: client, broadcaster: EventBroadcaster(),
                                joinsAtStart: true, logger: .init(label: "test"))
    }

    private func roomMessage(_ body: String, from nick: String) throws -> ReceivedMessage {
        let element = try XMLElement(parsing: """
            <message xmlns='jabber:client' from='\(room)/\(nick)' to='me@example.com/desk' type='groupchat' id='x1'>\
            <body>\(body)</body></message>
            """)
        return ReceivedMessage(message: Message(element), direction: .incoming, source: .live, archiveID: nil,
                               timestamp: Date(), room: room)
    }

    func testARoomWeAreNotInSaysNothing() async throws {
        let groupChats = service(try Store())
        XCTAssertNil(groupChats.accept(try roomMessage("hello", from: "ada")), "a message from a room we never joined was taken")
        let presence = try XCTUnwrap(RoomPresence(try XMLElement(parsing: """
            <presence xmlns='jabber:client' from='\(room)/ada'><x xmlns='http://jabber.org/protocol/muc#user'>\
            <item affiliation='owner' role='moderator'/><status code='110'/></x></presence>
            """)))
        let joined = await groupChats.receive(presence)
        XCTAssertNil(joined, "a self-presence nobody asked for made us joined")
        XCTAssertTrue(groupChats.occupants(of: room).isEmpty)
        XCTAssertFalse(groupChats.directory.isJoined(room))
    }

    /// A history-first join reads the room's archive before the room lets us in, when the room
    /// is not stored yet: where it read up to goes with the room once it is, so the catch-up
    /// after the join goes on from there instead of fetching the newest pages again.
    func testWhereTheArchiveWasReadBeforeTheJoinIsStoredWithTheRoom() async throws {
        let store = try Store()
        let groupChats = service(store)
        XCTAssertTrue(groupChats.beginJoinWithHistory(room, nick: "dt", password: nil))
        try groupChats.keepCursor("a4999", of: room)
        XCTAssertNil(try store.room(room.description), "the room is stored when it lets us in")
        let presence = try XCTUnwrap(RoomPresence(try XMLElement(parsing: """
            <presence xmlns='jabber:client' from='\(room)/dt'><x xmlns='http://jabber.org/protocol/muc#user'>\
            <item affiliation='none' role='participant'/><status code='110'/></x></presence>
            """)))
        let joined = await groupChats.receive(presence)
        XCTAssertEqual(joined, room)
        XCTAssertEqual(try store.room(room.description)?.archiveCursor, "a4999")
        try groupChats.keepCursor("a5000", of: room)
        XCTAssertEqual(try store.room(room.description)?.archiveCursor, "a5000", "once stored, the room keeps it")
    }

    func testAMessageThatIsNotARoomsPassesUnchanged() throws {
        let groupChats = service(try Store())
        var chat = try roomMessage("hi", from: "ada")
        chat.room = nil
        XCTAssertEqual(groupChats.accept(chat), chat)
    }

    func testKnownRoomsComeFromTheStore() throws {
        let store = try Store()
        try store.saveRoom(RoomRecord(jid: room.description, nick: "dt", autojoin: true))
        let groupChats = service(store)
        XCTAssertTrue(groupChats.directory.isRoom(room))
        XCTAssertFalse(groupChats.directory.isJoined(room))
        XCTAssertEqual(try groupChats.rooms().map(\.nick), ["dt"])
    }

    func testWhatIsSaidToARoomIsGroupchatAndToAnOccupantPrivate() {
        let rooms = RoomDirectory(known: [room])
        var toRoom = OutgoingMessage(id: "1", to: room, content: .retraction(of: "r1"))
        rooms.address(&toRoom)
        XCTAssertTrue(toRoom.groupchat)
        XCTAssertEqual(toRoom.stanza().type, .groupchat)
        var toAda = OutgoingMessage(id: "2", to: JID(verified: "\(room)/ada"), content: .correction(of: "m1", body: "hi"))
        rooms.address(&toAda)
        XCTAssertFalse(toAda.groupchat, "a private message went as groupchat")
        XCTAssertTrue(toAda.privateInRoom)
        XCTAssertEqual(toAda.stanza().type, .chat)
        XCTAssertEqual(rooms.conversation(of: JID(verified: "\(room)/ada")), "\(room)/ada")
        XCTAssertEqual(rooms.conversation(of: JID(verified: "ada@example.org/phone")), "ada@example.org")
        XCTAssertFalse(rooms.isGroupChat(JID(verified: "\(room)/ada")))
    }

    func testAMentionIsTheNickAsAWordOfItsOwn() {
        XCTAssertTrue(Mention.mentions("Ada", in: "ada: lunch?"))
        XCTAssertTrue(Mention.mentions("ada", in: "thanks @Ada!"))
        XCTAssertTrue(Mention.mentions("dt", in: "welcome, dt"))
        XCTAssertFalse(Mention.mentions("ada", in: "adamant about it"))
        XCTAssertFalse(Mention.mentions("ada", in: "canada"))
        XCTAssertFalse(Mention.mentions("", in: "anything"))
        XCTAssertFalse(Mention.mentions("  ", in: "two  spaces"))
        XCTAssertTrue(Mention.mentions(" ada ", in: "hi ada"), "spaces around a nick are not part of it")
        XCTAssertTrue(Mention.mentions("Zoë", in: "merci zoe !"), "beyond ASCII, case and accents do not matter")
    }

    func testRoomsAndTheirOccupantsAreNamedByRoomAndNick() {
        let names = DisplayNames(contacts: [], addressBook: [], gateway: nil, country: "US",
                                 rooms: [RoomRecord(jid: room.description, nick: "dt"),
                                         RoomRecord(jid: "book@rooms.example.com", nick: "dt", name: "Book club")])
        XCTAssertEqual(names.name(for: room.description), "#lounge")
        XCTAssertEqual(names.name(for: "book@rooms.example.com"), "#Book club")
        XCTAssertEqual(names.name(for: "\(room)/ada"), "ada (#lounge)", "an occupant never passes for a contact")
        XCTAssertTrue(names.isRoom(room.description))
        XCTAssertEqual(names.ourNick(in: room.description), "dt")
    }

    /// A room being joined is a room to the names before the room says we are in: its
    /// history, which comes first, shows by nick.
    func testARoomBeingJoinedIsNamedAsARoomAtOnce() {
        let names = DisplayNames(contacts: [], addressBook: [], gateway: nil, country: "US")
        XCTAssertFalse(names.isRoom(room.description))
        let joining = names.joining(room.description, nick: "dt")
        XCTAssertTrue(joining.isRoom(room.description))
        XCTAssertEqual(joining.name(for: "\(room)/ada"), "ada (#lounge)")
        XCTAssertEqual(joining.ourNick(in: room.description), "dt")
        XCTAssertNil(names.joining(room.description, nick: nil).ourNick(in: room.description))
        let known = DisplayNames(contacts: [], addressBook: [], gateway: nil, country: "US",
                                 rooms: [RoomRecord(jid: room.description, nick: "me", name: "Lounge")])
        XCTAssertEqual(known.joining(room.description, nick: "dt"), known, "a room already known keeps its name and nick")
    }
}
