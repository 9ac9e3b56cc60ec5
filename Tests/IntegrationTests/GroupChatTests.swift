@testable import DialtoneCore
import DialtoneStore
@testable import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Group chats (XEP-0045) against Prosody's MUC component with its room archives, beside an
/// occupant we did not write: slixmpp's own XEP-0045 plugin (Peers/muc_peer.py), which joins
/// first and owns the room.
final class GroupChatTests: PythonPeerTestCase {
    override class var peerScript: String { "muc_peer.py" }

    func testJoinTalkSubjectAndForgeryThenAutojoinWithTheArchive() async throws {
        let room = environment.newRoom()
        let roomAddress = room.description
        let peerAccount = try environment.newAccount("occupant")
        let (ada, commands) = try await occupant(peerAccount, in: room, nick: "ada")
        let me = try environment.newAccount("dt")
        var us = try await TestAccount(environment.clientConfiguration(me))
        try await us.connect()

        // Join: the room lets us in under our nick, and the occupant sees us come.
        let nick = try await us.session.joinRoom(room, nick: "dt")
        XCTAssertEqual(nick, "dt")
        try await eventually("ada sees us come") {
            self.events("presence", in: ada).contains { $0["nick"] as? String == "dt" && $0["type"] as? String == "available" }
        }
        let occupants = await us.session.occupants(of: room).map(\.nick)
        XCTAssertEqual(occupants, ["ada", "dt"])

        // Talk both ways; our own message comes back from the room and is not stored twice.
        let sent = try await us.session.sendMessage(to: room, body: "hello room")
        try await eventually("ada reads it") {
            self.events("message", in: ada).contains { $0["nick"] as? String == "dt" && $0["body"] as? String == "hello room" }
        }
        let received = try XCTUnwrap(events("message", in: ada).first { $0["body"] as? String == "hello room" })
        XCTAssertEqual(received["origin_id"] as? String, sent.stanzaID)
        try tell(commands, "say welcome, dt!")
        try await eventually("ada's message is stored in the room's conversation") {
            try us.store.history(peer: roomAddress).contains { $0.body == "welcome, dt!" }
        }
        try await eventually("ours settles as sent, with the room's id for it") {
            let ours = try us.store.history(peer: roomAddress).filter { $0.direction == .outgoing }
            return ours.count == 1 && ours[0].status != .pending && ours[0].archiveID != nil
        }
        var history = try us.store.history(peer: roomAddress)
        XCTAssertEqual(history.map(\.body), ["hello room", "welcome, dt!"])
        XCTAssertEqual(history[1].sender, roomAddress + "/ada")
        XCTAssertEqual(history[1].direction, .incoming)
        XCTAssertTrue(Mention.mentions("dt", in: history[1].body ?? ""))

        // The room sets a subject: kept as the room's, not as a message.
        try tell(commands, "subject Plans for Saturday")
        try await eventually("the subject is the room's") { try us.store.room(roomAddress)?.subject == "Plans for Saturday" }
        // An occupant's private message with a subject is a private message, not the room's subject.
        try tell(commands, "pm-subject dt Not the room subject")
        try await eventually("ada's private message arrives as one") {
            try us.store.history(peer: roomAddress + "/ada").contains { $0.body == "see the subject" }
        }
        XCTAssertEqual(try us.store.room(roomAddress)?.subject, "Plans for Saturday")

        // The occupant forges a room message straight to us, from its own address: dropped.
        try tell(commands, "forge dt FORGED")
        try await eventually("ada forged it") { self.event("forged", in: ada) != nil }
        try tell(commands, "say after the forgery")
        try await eventually("what the room says after it arrives") {
            try us.store.history(peer: roomAddress).contains { $0.body == "after the forgery" }
        }
        XCTAssertTrue(try us.store.search("FORGED").isEmpty, "a forged room message was stored")
        XCTAssertNil(try us.store.history(peer: peerAccount.jid.bare.description).first, "a forged room message opened a conversation")

        // Bookmarked with autojoin: a restart joins again and the room's archive brings what
        // was said meanwhile, once, and nothing it had already brought.
        let rooms = try await us.session.refreshBookmarks()
        XCTAssertEqual(rooms.map(\.jid), [room])
        XCTAssertEqual(rooms.first?.autojoin, true)
        await us.session.stop()
        try await eventually("ada sees us go") {
            self.events("presence", in: ada).contains { $0["nick"] as? String == "dt" && $0["type"] as? String == "unavailable" }
        }
        // Prosody stamps archived messages to the whole second: a second apart, the order
        // in history is the order said, whichever way each arrived.
        try await Task.sleep(for: .seconds(1.1))
        try tell(commands, "say while you were away")
        try await eventually("ada said it") { self.events("said", in: ada).contains { $0["body"] as? String == "while you were away" } }
        us = try await TestAccount(environment.clientConfiguration(me), directory: us.directory)
        try await us.connect()
        try await us.waitForEvent(timeout: .seconds(20)) { event in
            if case .room(.joined(roomAddress, "dt")) = event { return true }
            return false
        }
        try await eventually("the archive brings what was said while away") {
            try us.store.history(peer: roomAddress).contains { $0.body == "while you were away" }
        }
        try tell(commands, "say back again")
        try await eventually("and the room goes on live") { try us.store.history(peer: roomAddress).contains { $0.body == "back again" } }
        history = try us.store.history(peer: roomAddress)
        XCTAssertEqual(history.map(\.body), ["hello room", "welcome, dt!", "after the forgery", "while you were away", "back again"])

        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// A connection lost for good (the server no longer knows the session, so it cannot be
    /// resumed): the server took us out of the room with it; the next session joins again.
    func testAFreshSessionJoinsTheRoomAgain() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        try await eventually("ada sees us come") { self.presences(of: "dt", in: ada) == ["available"] }

        // A resumption id the server never gave: the resumption fails, and the session is new.
        await us.session.xmppClient.forgetSessionForTest()
        await us.session.dropConnection()
        try await leavesAndJoinsAgain(us, room, because: "connection lost", within: .seconds(20))
        try await eventually("ada sees us back") { self.presences(of: "dt", in: ada).last == "available" }
        try tell(commands, "say glad you are back")
        try await eventually("the room reaches us again") {
            try us.store.history(peer: room.description).contains { $0.body == "glad you are back" }
        }
        _ = try await us.session.sendMessage(to: room, body: "me too")
        try await eventually("and we reach it") { self.events("message", in: ada).contains { $0["body"] as? String == "me too" } }
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// The command line: join (bookmarked), rooms, listen (which joins the bookmarked room at
    /// start and reports a mention), send to the room, and leave (which listen follows).
    func testTheCommandLineJoinsListsListensSendsAndLeaves() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let me = try environment.newAccount("dt")
        let config = try environment.writeConfiguration(for: me, in: URL(fileURLWithPath: harness.path("")))

        try tell(commands, "say before you came")
        try await eventually("ada said it") { self.events("said", in: ada).contains { $0["body"] as? String == "before you came" } }
        let joined = try await runDialtone(["join", room.description, "--nick", "dt"], config: config)
        XCTAssertEqual(joined.output, "Joined \(room) as dt, bookmarked with autojoin.\n")
        // The room's recent history came with the join, and history shows it.
        let history = try await runDialtone(["history", room.description, "--json"], config: config)
        XCTAssertEqual(CallHarness.jsonLines(history.output).compactMap { $0["body"] as? String }, ["before you came"])
        let rooms = CallHarness.jsonLines(try await runDialtone(["rooms", "--json"], config: config).output)
        XCTAssertEqual(rooms.map { $0["room"] as? String }, [room.description])
        XCTAssertEqual(rooms.first?["autojoin"] as? Bool, true)
        XCTAssertEqual(rooms.first?["nick"] as? String, "dt")

        let listener = try await listenOnline(config: config)
        let roomEvents = { CallHarness.jsonLines(listener.output).filter { $0["type"] as? String == "room" } }
        try await eventually("listen joins the bookmarked room") {
            roomEvents().contains { $0["event"] as? String == "joined" && $0["room"] as? String == room.description }
        }
        try tell(commands, "say dt: are you there?")
        try tell(commands, "say just chatting")
        try await eventually("listen prints both") {
            CallHarness.jsonLines(listener.output).filter { $0["type"] as? String == "message" && $0["room"] != nil }.count >= 2
        }
        let messages = CallHarness.jsonLines(listener.output).filter { $0["type"] as? String == "message" && $0["room"] != nil }
        XCTAssertEqual(messages.map { $0["body"] as? String }, ["dt: are you there?", "just chatting"])
        XCTAssertEqual(messages.map { $0["mention"] as? Bool }, [true, false])
        XCTAssertEqual(messages.map { $0["nick"] as? String }, ["ada", "ada"])
        XCTAssertEqual(messages.first?["peer"] as? String, room.description)
        XCTAssertEqual(messages.first?["from"] as? String, "\(room)/ada")

        _ = try await runDialtone(["send", room.description, "from the shell"], config: config)
        try await eventually("ada reads it from dt") {
            self.events("message", in: ada).contains { $0["nick"] as? String == "dt" && $0["body"] as? String == "from the shell" }
        }

        // An account that never joined it: send asks the address what it is, and joins first.
        let stranger = try environment.newAccount("newcomer")
        let strangerConfig = try environment.writeConfiguration(for: stranger, in: URL(fileURLWithPath: harness.path("")))
        _ = try await runDialtone(["send", room.description, "hello from a newcomer"], config: strangerConfig, name: "newcomer")
        try await eventually("ada reads the newcomer under its account's name") {
            self.events("message", in: ada).contains {
                $0["nick"] as? String == stranger.jid.local && $0["body"] as? String == "hello from a newcomer"
            }
        }

        _ = try await runDialtone(["leave", room.description], config: config)
        try await eventually("listen follows the bookmark and leaves too") {
            roomEvents().contains { $0["event"] as? String == "left" && $0["room"] as? String == room.description }
        }
        let after = CallHarness.jsonLines(try await runDialtone(["rooms", "--json", "--offline"], config: config).output)
        XCTAssertEqual(after.first?["autojoin"] as? Bool, false)
        // A room nobody knows is no room to leave: said, with a failing status.
        let unknown = try dialtone("dt", ["leave", "nowhere@\(environment.mucDomain)", "--config", config])
        let status = try await unknown.wait(timeout: .seconds(30))
        XCTAssertEqual(status, 1)
        XCTAssertEqual(unknown.errors, "Error: nowhere@\(environment.mucDomain) is not a group chat.\n")
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
    }

    /// Invitations both ways: the room's on the occupant's behalf and the occupant's own reach
    /// us as invitations (nothing joined, nothing stored), and ours reaches the occupant.
    func testInvitationsBothWays() async throws {
        let room = environment.newRoom()
        let adaAccount = try environment.newAccount("occupant")
        let (ada, commands) = try await occupant(adaAccount, in: room, nick: "ada")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        let ours = us.jid.bare.description
        try tell(commands, "invite \(ours) come for tea")
        try await us.waitForEvent { event in
            // The room names ada by her nick there: it does not show her address to others.
            if case .room(.invited(room.description, "\(room)/ada", "come for tea")) = event { return true }
            return false
        }
        try tell(commands, "invite-direct \(ours) or coffee")
        try await us.waitForEvent { event in
            if case .room(.invited(room.description, adaAccount.jid.bare.description, "or coffee")) = event { return true }
            return false
        }
        let joined = try await us.session.rooms().contains { $0.joined }
        XCTAssertFalse(joined, "an invitation joined the room by itself")
        XCTAssertTrue(try us.store.conversations().isEmpty, "an invitation was stored as a message")

        let other = environment.newRoom("other")
        try await us.session.invite(adaAccount.jid, to: other, reason: "see you there")
        try await eventually("ada gets our invitation") {
            self.events("invited", in: ada).contains { $0["room"] as? String == other.description && $0["reason"] as? String == "see you there" }
        }
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// Reactions in a room name the room's id for a message (XEP-0444 §4), both ways, and each
    /// occupant's are their own.
    func testReactionsInARoomNameTheRoomsIdAndAreEachOccupantsOwn() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        try tell(commands, "say tea?")
        try await eventually("ada's message is here") { try us.store.history(peer: room.description).contains { $0.body == "tea?" } }
        let tea = try XCTUnwrap(us.store.history(peer: room.description).first { $0.body == "tea?" })
        let roomID = try XCTUnwrap(events("message", in: ada).first { $0["body"] as? String == "tea?" }?["stanza_id"] as? String)
        XCTAssertEqual(tea.archiveID, roomID, "the room's id for it is kept")

        try await us.session.react(to: XCTUnwrap(tea.id), with: "👍")
        try await eventually("ada sees our reaction to the room's id") {
            self.events("reactions", in: ada).contains { $0["nick"] as? String == "dt" && $0["id"] as? String == roomID }
        }
        try tell(commands, "react \(roomID) ☕")
        try await eventually("ada's reaction is hers, beside ours") {
            let reactions = try us.store.message(id: XCTUnwrap(tea.id))?.reactions ?? [:]
            return reactions["\(room)/ada"] == ["☕"] && reactions[us.jid.bare.description] == ["👍"]
        }
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// Read markers (XEP-0333) go to a private room (members only, addresses shown), naming
    /// the message by the room's id, as Conversations sends them; an open room gets none.
    func testReadMarkersGoOnlyToAPrivateRoom() async throws {
        let privateRoom = environment.newRoom()
        let openRoom = environment.newRoom()
        let me = try environment.newAccount("dt")
        let (ada, adaCommands) = try await occupant(try environment.newAccount("occupant"), in: privateRoom, nick: "ada")
        let (bob, bobCommands) = try await occupant(try environment.newAccount("bob"), in: openRoom, nick: "bob")
        try tell(adaCommands, "private-room")
        try await eventually("the room is private") { self.event("configured", in: ada) != nil || self.event("error", in: ada) != nil }
        XCTAssertNil(event("error", in: ada))
        try tell(adaCommands, "affiliate \(me.jid.bare) member")
        try await eventually("we are a member") { self.event("affiliated", in: ada) != nil }

        let us = try await TestAccount(environment.clientConfiguration(me))
        try await us.connect()
        try await us.session.joinRoom(privateRoom, nick: "dt")
        try await us.session.joinRoom(openRoom, nick: "dt")
        try await eventually("the private room is known as such") { await us.session.isPrivateRoom(privateRoom) }
        let isOpenPrivate = await us.session.isPrivateRoom(openRoom)
        XCTAssertFalse(isOpenPrivate)
        try tell(bobCommands, "say-markable in the open")
        try tell(adaCommands, "say-markable among members")
        try await eventually("both are stored with the rooms' ids") {
            try us.store.history(peer: openRoom.description).contains { $0.body == "in the open" && $0.archiveID != nil }
                && us.store.history(peer: privateRoom.description).contains { $0.body == "among members" && $0.archiveID != nil }
        }
        try await us.session.markSeen(openRoom)
        try await us.session.markSeen(privateRoom)
        let members = try XCTUnwrap(us.store.history(peer: privateRoom.description).first { $0.body == "among members" })
        try await eventually("ada sees our marker for the room's id") {
            self.events("displayed", in: ada).contains { $0["nick"] as? String == "dt" && $0["id"] as? String == members.archiveID }
        }
        XCTAssertTrue(events("displayed", in: bob).isEmpty, "a marker went to an open room")
        try tell(adaCommands, "leave")
        try tell(bobCommands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        _ = try await bob.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// A moderator's acts against a real room: made admin by the owner, we kick one occupant
    /// (they see why) and ban them (the room lists them as banned); then the owner kicks us, and we
    /// are told so.
    func testKickBanAndBeingKicked() async throws {
        let room = environment.newRoom()
        let (ada, adaCommands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let bobAccount = try environment.newAccount("bob")
        let (bob, bobCommands) = try await occupant(bobAccount, in: room, nick: "bob")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        do {
            try await us.session.kick("bob", from: room)
            XCTFail("a participant kicked someone")
        } catch {
            XCTAssertTrue("\(error)".contains("not allowed") || "\(error)".contains("forbidden"), "\(error)")
        }
        try tell(adaCommands, "affiliate \(us.jid.bare) admin")
        try await us.waitForEvent { event in
            if case .room(.occupant(room.description, let occupant, true)) = event { return occupant.nick == "dt" && occupant.role == "moderator" }
            return false
        }
        try await us.session.kick("bob", from: room, reason: "too loud")
        try await eventually("bob is told he was kicked") {
            self.events("presence", in: bob).contains { $0["nick"] as? String == "bob" && ($0["codes"] as? [Int])?.contains(307) == true }
        }
        try await us.session.ban(bobAccount.jid.bare.description, from: room, reason: "still too loud")
        try tell(adaCommands, "outcasts")
        try await eventually("the room lists bob as banned") {
            (self.event("outcasts", in: ada)?["jids"] as? [String])?.contains(bobAccount.jid.bare.description) == true
        }

        try tell(adaCommands, "kick dt")
        try await us.waitForEvent { event in
            if case .room(.left(room.description, "kicked")) = event { return true }
            return false
        }
        let rooms = try await us.session.rooms()
        XCTAssertEqual(rooms.first?.joined, false)
        try tell(adaCommands, "leave")
        try tell(bobCommands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// A room our join creates, on a service that locks new rooms (Prosody's default): we accept
    /// it as an instant room, so the next person can come in.
    func testARoomWeCreateIsOpenedToOthers() async throws {
        let room = JID(verified: "new-\(UUID().uuidString.prefix(8).lowercased())@locked.\(environment.mucDomain)")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        try await Task.sleep(for: .milliseconds(500))
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        try tell(commands, "say I got in")
        try await eventually("ada speaks in the room we made") {
            try us.store.history(peer: room.description).contains { $0.body == "I got in" }
        }
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }

    /// XEP-0410 self-ping: a room that forgot us without a word (Peers/forgetful_room.py, a
    /// component of the test server playing the room) is noticed by asking it whether we are
    /// still there, and joined again; one that still has us is left alone.
    func testSelfPingNoticesARoomThatForgotUsAndJoinsAgain() async throws {
        let variables = ProcessInfo.processInfo.environment
        let secret = try XCTUnwrap(variables["DIALTONE_TEST_COMPONENT_SECRET"])
        let port = try XCTUnwrap(variables["DIALTONE_TEST_COMPONENT_PORT"])
        let commands = URL(fileURLWithPath: harness.path("room-commands"))
        _ = FileManager.default.createFile(atPath: commands.path, contents: nil)
        let service = try dialtonePeer("forgetful_room.py", ["--jid", "fakerooms.\(environment.domain)", "--secret", secret,
                                                             "--port", port, "--commands", commands.path])
        try await eventually("the room service is up") { self.event("ready", in: service) != nil || !service.isRunning }
        let room = JID(verified: "tea@fakerooms.\(environment.domain)")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        await us.session.setRoomPingInterval(.milliseconds(500))
        try await us.connect()
        try await us.session.joinRoom(room, nick: "dt")
        try await eventually("a quiet room is asked, and still has us") {
            self.events("pinged", in: service).contains { $0["answer"] as? String == "result" }
        }
        XCTAssertEqual(events("joined", in: service).count, 1, "joined again while still in")

        try tell(commands, "forget")
        try await leavesAndJoinsAgain(us, room, because: "dropped by the room", within: .seconds(10))
        XCTAssertEqual(events("joined", in: service).count, 2)
        await us.stop()
    }

    /// A helper script of this test target's Peers directory, run with the venv's python.
    /// `account` is told it left `room` (for `reason`) and then that it is in again as dt.
    func leavesAndJoinsAgain(_ account: TestAccount, _ room: JID, because reason: String, within timeout: Duration) async throws {
        try await account.waitForEvent(timeout: timeout) { event in
            if case .room(.left(room.description, reason)) = event { return true }
            return false
        }
        try await account.waitForEvent(timeout: timeout) { event in
            if case .room(.joined(room.description, "dt")) = event { return true }
            return false
        }
    }

    func dialtonePeer(_ script: String, _ arguments: [String]) throws -> ChildProcess {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/\(script)").path
        let child = try ChildProcess([try PythonPeers.python(), path] + arguments)
        children.append(child)
        return child
    }

    /// What the occupant saw of `nick` come and go, in order.
    func presences(of nick: String, in child: ChildProcess) -> [String] {
        events("presence", in: child).filter { $0["nick"] as? String == nick }.compactMap { $0["type"] as? String }
    }

    func testATakenNickGetsAnUnderscoreAndAWrongRoomIsRefused() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let us = try await TestAccount(environment.clientConfiguration(try environment.newAccount("dt")))
        try await us.connect()
        let nick = try await us.session.joinRoom(room, nick: "ada")
        XCTAssertEqual(nick, "ada_")
        let message = try await us.session.sendMessage(to: room, body: "which ada?")
        try await eventually("the room knows us by the new nick") {
            self.events("message", in: ada).contains { $0["nick"] as? String == "ada_" && $0["body"] as? String == "which ada?" }
        }
        XCTAssertNotNil(message.id)

        // Prosody's room answers our self-pings (XEP-0410) as an occupant's: nothing is joined again.
        await us.session.setRoomPingInterval(.milliseconds(300))
        try await Task.sleep(for: .seconds(2))
        XCTAssertEqual(presences(of: "ada_", in: ada), ["available"], "a self-ping made us leave or join again")
        let stillIn = try await us.session.rooms().first { $0.jid == room }?.joined
        XCTAssertEqual(stillIn, true)

        // A room on a service that does not exist: the server says so, and it is a clear error.
        do {
            try await us.session.joinRoom(JID(verified: "nowhere@nothing.\(environment.domain)"), nick: "dt")
            XCTFail("joined a room on a service that does not exist")
        } catch let error as GroupChatError {
            XCTAssertFalse(error.description.isEmpty)
        }
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
        await us.stop()
    }
}

extension XMPPClient {
    /// Makes the next reconnection try to resume a session the server never gave, so that it
    /// fails and a new session starts (as after the server forgot ours).
    func forgetSessionForTest() {
        streamManagement.enabled(resumptionID: "never-given", location: nil)
    }
}
