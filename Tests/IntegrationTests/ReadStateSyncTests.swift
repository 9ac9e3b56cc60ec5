import DialtoneCore
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Read state across the account's devices (XEP-0490) against Prosody's PEP, with another
/// device of the same account on slixmpp's own XEP-0490 plugin (Peers/mds_peer.py), as a
/// phone running Conversations would be: reading there lowers the unread count here, live and
/// at the next login; reading here is published for the phone.
final class ReadStateSyncTests: PythonPeerTestCase {
    override class var peerScript: String { "mds_peer.py" }

    func testReadingOnThePhoneAndHereIsShared() async throws {
        let me = try environment.newAccount("dt")
        let friendAccount = try environment.newAccount("friend")
        let friendAddress = friendAccount.jid.bare.description
        let friend = try await TestAccount(environment.clientConfiguration(friendAccount))
        try await friend.connect()
        var us = try await TestAccount(environment.clientConfiguration(me))
        try await us.connect()
        let phone = try peer(me, [], ["--timeout", "60"])
        try await waitForPeer(phone)
        // The phone here speaks no OMEMO: the friend writes in clear, so that it can read too.
        try await friend.session.setEncryption(false, for: me.jid)

        for text in ["one", "two"] { try await friend.session.sendMessage(to: JID(verified: me.jid.bare.description), body: text) }
        try await eventually("both arrive with our archive's ids") {
            let history = try us.store.history(peer: friendAddress)
            return history.count == 2 && history.allSatisfy { $0.archiveID != nil }
        }
        let unread = { [store = us.store] in try store.conversations().first { $0.peer == friendAddress }?.unread }
        XCTAssertEqual(try unread(), 2)
        let history = try us.store.history(peer: friendAddress)

        // Read on the phone up to the first: the second stays unread here.
        let flag = try peer(me, [], ["--flag", friendAddress, try XCTUnwrap(history[0].archiveID)])
        let flagged = try await flag.wait(timeout: .seconds(20))
        XCTAssertEqual(flagged, 0, flag.output + flag.errors)
        try await eventually("one stays unread") { try unread() == 1 }

        // Read here: the phone is told how far, by our archive's id.
        try await us.session.markSeen(JID(verified: friendAddress))
        try await eventually("the phone learns it") {
            self.events("displayed", in: phone).contains {
                $0["chat"] as? String == friendAddress && $0["stanza_id"] as? String == history[1].archiveID
            }
        }

        // Away while the phone reads a new message: the next login catches up.
        await us.session.stop()
        try await friend.session.sendMessage(to: JID(verified: me.jid.bare.description), body: "three")
        try await eventually("the phone has it") { self.events("message", in: phone).contains { $0["body"] as? String == "three" } }
        let third = try XCTUnwrap(events("message", in: phone).first { $0["body"] as? String == "three" }?["stanza_id"] as? String)
        let again = try peer(me, [], ["--flag", friendAddress, third])
        let flaggedAgain = try await again.wait(timeout: .seconds(20))
        XCTAssertEqual(flaggedAgain, 0, again.output + again.errors)
        us = try await TestAccount(environment.clientConfiguration(me), directory: us.directory)
        try await us.connect()
        try await eventually("the archive brings it") { try us.store.history(peer: friendAddress).count == 3 }
        try await eventually("and it is read already") { try us.store.conversations().first { $0.peer == friendAddress }?.unread == 0 }
        await us.stop()
        await friend.stop()
    }
}
