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
}
