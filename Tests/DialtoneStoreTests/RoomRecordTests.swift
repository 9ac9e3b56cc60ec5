@testable import DialtoneStore
import XCTest

/// Rooms the account knows (XEP-0045): settings replaced, subject and archive cursor kept.
final class RoomRecordTests: XCTestCase {
    func testSavingARoomAgainKeepsItsSubjectAndCursor() throws {
        let store = try Store()
        try store.saveRoom(RoomRecord(jid: "lounge@rooms.example.com", nick: "dt", autojoin: true))
        try store.setRoomSubject("Saturday", of: "lounge@rooms.example.com")
        try store.setRoomArchiveCursor("a42", of: "lounge@rooms.example.com")
        try store.saveRoom(RoomRecord(jid: "lounge@rooms.example.com", nick: "dt_", password: "pw", autojoin: false))
        let room = try XCTUnwrap(store.room("lounge@rooms.example.com"))
        XCTAssertEqual(room, RoomRecord(jid: "lounge@rooms.example.com", nick: "dt_", password: "pw", autojoin: false,
                                        subject: "Saturday", archiveCursor: "a42"))
        try store.removeRoom("lounge@rooms.example.com")
        XCTAssertEqual(try store.rooms(), [])
    }

    /// In a room everyone's address is the room's: an occupant corrects, retracts and reacts
    /// as room/nick, and only their own messages; each occupant's reactions are theirs.
    func testInARoomOnlyTheSameOccupantChangesAMessage() throws {
        let store = try Store()
        let room = "lounge@rooms.example.com"
        try store.saveRoom(RoomRecord(jid: room, nick: "dt"))
        try store.record([(room, StoredMessage(direction: .incoming, sender: room + "/ada", body: "tea?", stanzaID: "m1",
                                               dedupeKey: "m1", archiveID: "r1", timestamp: Date(), status: .received))])
        XCTAssertNil(try store.correct(stanzaID: "m1", sender: room + "/mallory", peer: room, body: "FORGED", at: Date()))
        XCTAssertNil(try store.retract(stanzaID: "r1", sender: room + "/mallory", peer: room, at: Date()))
        XCTAssertEqual(try store.correct(stanzaID: "m1", sender: room + "/ada", peer: room, body: "coffee?", at: Date())?.body, "coffee?")
        _ = try store.react(to: "r1", in: room, by: room + "/ada", with: ["☕"], at: Date())
        let reacted = try store.react(to: "r1", in: room, by: room + "/bob", with: ["👍"], at: Date())
        XCTAssertEqual(reacted?.reactions, [room + "/ada": ["☕"], room + "/bob": ["👍"]])
    }

    /// What we sent in a room is known by its origin-id (our row's dedupe key), and only there.
    func testWeSentIsOurOwnOriginIDInThatRoom() throws {
        let store = try Store()
        let room = "lounge@rooms.example.com"
        _ = try store.enqueue(StoredMessage(direction: .outgoing, sender: "me@example.com", body: "hi", stanzaID: "o1",
                                            dedupeKey: "o1", timestamp: Date(), status: .pending), to: room)
        XCTAssertTrue(try store.weSent(originID: "o1", in: room))
        XCTAssertFalse(try store.weSent(originID: "o2", in: room))
        XCTAssertFalse(try store.weSent(originID: "o1", in: "other@rooms.example.com"))
    }

    /// In a chat the sender's address is the conversation's: any of their resources corrects
    /// their message, and their reactions are their account's.
    func testInAChatAnyResourceOfTheSenderChangesTheirMessage() throws {
        let store = try Store()
        let peer = "ada@example.org"
        try store.record([(peer, StoredMessage(direction: .incoming, sender: peer + "/phone", body: "tea?", stanzaID: "m1",
                                               dedupeKey: "m1", timestamp: Date(), status: .received))])
        XCTAssertEqual(try store.correct(stanzaID: "m1", sender: peer + "/laptop", peer: peer, body: "coffee?", at: Date())?.body, "coffee?")
        let reacted = try store.react(to: "m1", in: peer, by: peer + "/laptop", with: ["☕"], at: Date())
        XCTAssertEqual(reacted?.reactions, [peer: ["☕"]])
    }
}
