@testable import DialtoneCore
import DialtoneStore
@testable import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Message moderation in rooms (XEP-0425) against Prosody's MUC with mod_muc_moderation, beside
/// an occupant we did not write (Peers/muc_peer.py, slixmpp), which owns the room.
final class RoomModerationTests: PythonPeerTestCase {
    override class var peerScript: String { "muc_peer.py" }

    /// The owner takes our message down; an occupant's forged notice takes nothing down; we may
    /// not moderate as a participant, and do as an admin, in Core and from the command line.
    func testModeratorsTakeMessagesDownBothWaysAndAnOccupantCannotForgeIt() async throws {
        let room = environment.newRoom()
        let roomAddress = room.description
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let me = try environment.newAccount("dt")
        let us = try await TestAccount(environment.clientConfiguration(me))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        _ = try await us.session.sendMessage(to: room, body: "oops, wrong room")
        try await eventually("our message has the room's id") {
            try us.store.history(peer: roomAddress).contains { $0.body == "oops, wrong room" && $0.archiveID != nil }
        }
        let oops = try XCTUnwrap(us.store.history(peer: roomAddress).first { $0.body == "oops, wrong room" })
        let oopsID = try XCTUnwrap(oops.archiveID)

        // An occupant's own message claiming a moderator took ours down: nothing happens.
        try tell(commands, "forge-moderation \(oopsID)")
        try tell(commands, "say after the forgery")
        try await eventually("what ada says after it arrives") {
            try us.store.history(peer: roomAddress).contains { $0.body == "after the forgery" }
        }
        XCTAssertEqual(try us.store.message(id: XCTUnwrap(oops.id))?.body, "oops, wrong room", "an occupant took a message down")

        // The owner (a moderator) takes it down: the room's notice empties it here, and says who and why.
        try tell(commands, "moderate \(oopsID) off topic")
        try await eventually("the room took our message down") {
            try us.store.message(id: XCTUnwrap(oops.id))?.retractedAt != nil
        }
        let down = try XCTUnwrap(us.store.message(id: XCTUnwrap(oops.id)))
        XCTAssertNil(down.body)
        XCTAssertEqual(down.moderation, MessageModeration(moderator: "ada", reason: "off topic"))
        XCTAssertTrue(try us.store.search("wrong").isEmpty, "its text stayed searchable")

        // As a participant we may not moderate; the room says so.
        try tell(commands, "say buy cheap watches")
        try await eventually("ada's spam is here") {
            try us.store.history(peer: roomAddress).contains { $0.body == "buy cheap watches" && $0.archiveID != nil }
        }
        let spam = try XCTUnwrap(us.store.history(peer: roomAddress).first { $0.body == "buy cheap watches" })
        do {
            try await us.session.moderateMessage(XCTUnwrap(spam.id), reason: "spam")
            XCTFail("a participant moderated a message")
        } catch {
            XCTAssertTrue("\(error)".contains("moderator"), "\(error)")
        }
        XCTAssertEqual(try us.store.message(id: XCTUnwrap(spam.id))?.body, "buy cheap watches")

        // Made admin (a moderator's role), we take it down, and the occupant is told by the room.
        try tell(commands, "affiliate \(me.jid.bare) admin")
        try await us.waitForEvent { event in
            if case .room(.occupant(roomAddress, let occupant, true)) = event { return occupant.nick == "dt" && occupant.role == "moderator" }
            return false
        }
        try await us.session.moderateMessage(XCTUnwrap(spam.id), reason: "spam")
        try await eventually("ada is told the room took it down") {
            self.events("moderated", in: ada).contains { $0["id"] as? String == spam.archiveID && $0["reason"] as? String == "spam" }
        }
        try await eventually("and so are we") { try us.store.message(id: XCTUnwrap(spam.id))?.moderation?.reason == "spam" }
        await us.stop()

        // From the command line, by the id history --json gives.
        let config = try environment.writeConfiguration(for: me, in: URL(fileURLWithPath: harness.path("")))
        try tell(commands, "say more spam")
        try await eventually("ada said it") { self.events("said", in: ada).contains { $0["body"] as? String == "more spam" } }
        _ = try await runDialtone(["join", roomAddress, "--nick", "dt"], config: config)
        let history = CallHarness.jsonLines(try await runDialtone(["history", roomAddress, "--json"], config: config).output)
        let more = try XCTUnwrap(history.first { $0["body"] as? String == "more spam" }?["archive_id"] as? String)
        let moderated = try await runDialtone(["moderate", roomAddress, more, "--reason", "still spam"], config: config)
        XCTAssertEqual(moderated.output, "\(roomAddress) took the message down.\n")
        try await eventually("ada is told again") {
            self.events("moderated", in: ada).contains { $0["id"] as? String == more && $0["reason"] as? String == "still spam" }
        }
        // An id the room never gave: said, with a failing status.
        let unknown = try dialtone("dt", ["moderate", roomAddress, "no-such-id", "--config", config])
        let status = try await unknown.wait(timeout: .seconds(30))
        XCTAssertEqual(status, 1)
        XCTAssertTrue(unknown.errors.contains("No message in \(roomAddress) has the archive_id no-such-id"), unknown.errors)
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
    }
}
