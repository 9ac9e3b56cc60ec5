import DialtoneStore
import DialtoneXMPP

/// Group chats (XEP-0045): the commands front ends use, on `GroupChatService`.
extension AccountSession {
    /// Joins `room` as `nick` (the bookmark's, or the account's name; a taken nick gets "_"
    /// appended) and returns the nick we have there. The room is bookmarked with autojoin, so
    /// the account's other devices join it too. Throws `GroupChatError` when the room says no
    /// or does not answer in 20 s.
    @discardableResult
    public func joinRoom(_ room: JID, nick: String? = nil, password: String? = nil) async throws -> String {
        let room = room.bare
        Task { [weak self] in
            try? await Task.sleep(for: GroupChatService.joinTimeout)
            await self?.roomJoinTimedOut(room)
        }
        // The room's newest messages first, then who is in it: the archive query and the
        // join go together, in a task, as nothing here may wait for a round trip.
        if groupChats.beginJoinWithHistory(room, nick: nick, password: password) {
            Task { await self.catchUpJoining(room) }
        }
        return try await groupChats.join(room, nick: nick, password: password)
    }

    private func roomJoinTimedOut(_ room: JID) { groupChats.joinTimedOut(room) }
    private func catchUpJoining(_ room: JID) async { await groupChats.catchUpJoining(room) }

    /// How often the rooms we are in are asked whether they still have us (XEP-0410), when
    /// nothing came from them meanwhile: 5 minutes unless a test wants it sooner.
    public func setRoomPingInterval(_ interval: Duration) {
        roomPingInterval = interval
        // A round already waiting waits the old interval: start again.
        if let running = roomPings {
            running.cancel()
            startRoomPings()
        }
    }

    /// Rounds of self-pings while the session runs.
    func startRoomPings() {
        roomPings = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: await self?.roomPingInterval ?? .seconds(300))
                guard let self, !Task.isCancelled else { return }
                await self.pingQuietRooms()
            }
        }
    }

    private func pingQuietRooms() async {
        guard connectionState == .online else { return }
        await groupChats.pingQuietRooms()
    }

    func bookmarksChanged(_ change: BookmarkChange) async { await groupChats.bookmarksChanged(change) }

    /// After a room let us in: what we missed there from its archive (what the user waits
    /// to see: before the bookmark and the room's features, each a round trip), then the
    /// messages that waited to be said there.
    func roomJoined(_ room: JID) async {
        await groupChats.unlockIfCreated(room)
        // After a history-first join, once more from where that ended: what was said between.
        await groupChats.catchUp(room, again: true)
        await groupChats.joined(room)
        await messagingFlush()
        roomsSettling[room] = nil
    }

    /// Waits until what `room` said while we were away is stored and the room bookmarked (the
    /// work that follows a join; one more catch-up when none is under way): for commands that
    /// join and then leave.
    public func catchUpRoom(_ room: JID) async {
        guard groupChats.directory.isJoined(room) else { return }
        if let settling = roomsSettling[room.bare] {
            await settling.value
            return
        }
        await groupChats.catchUp(room.bare)
    }

    /// Leaves `room`; its bookmark stays, without autojoin (other devices leave it too).
    public func leaveRoom(_ room: JID) async throws {
        try await groupChats.leave(room.bare)
    }

    /// Asks `room` to call us `nick` from now on (a `nickChanged` event follows when it agrees).
    public func changeNick(in room: JID, to nick: String) async throws { try await groupChats.changeNick(in: room, to: nick) }

    /// Sets the subject of `room` (a `subject` event follows when the room accepts it).
    public func setSubject(_ subject: String, of room: JID) async throws { try await groupChats.setSubject(subject, of: room) }

    /// Whether `room`, joined, is private (members only, everyone's address shown): read
    /// markers go there, as Conversations sends them, and to no other room.
    public func isPrivateRoom(_ room: JID) -> Bool { groupChats.directory.isPrivate(room) }

    /// The subject of `room` as last set.
    public func subject(of room: JID) -> String? { (try? store.room(room.bare.description))?.subject }

    /// Invites `invitee` (an address) to `room` (XEP-0249 direct invitation).
    public func invite(_ invitee: JID, to room: JID, reason: String? = nil) async throws {
        try await groupChats.invite(invitee, to: room.bare, reason: reason)
    }

    /// Removes `nick` from `room` (a moderator's kick, XEP-0045 §8.2); they may come back.
    public func kick(_ nick: String, from room: JID, reason: String? = nil) async throws {
        try await groupChats.setRole("none", of: nick, in: room, reason: reason)
    }

    /// Gives `nick` voice in a moderated room, or (`granted` false) takes it away.
    public func setVoice(_ granted: Bool, for nick: String, in room: JID) async throws {
        try await groupChats.setRole(granted ? "participant" : "visitor", of: nick, in: room, reason: nil)
    }

    /// Bans `who` (a nick whose address the room shows, or an address) from `room`.
    public func ban(_ who: String, from room: JID, reason: String? = nil) async throws {
        try await groupChats.ban(who, from: room, reason: reason)
    }

    /// Takes down the stored room message `id` for everyone, as the room's moderator
    /// (XEP-0425), with a reason the room shows.
    public func moderateMessage(_ id: Int64, reason: String? = nil) async throws {
        guard let message = try store.message(id: id), let peer = try store.peer(ofConversation: message.conversationID),
              let room = try? JID(peer), groupChats.directory.isRoom(room), room.resource == nil
        else { throw GroupChatError.notModeratable }
        try await groupChats.moderate(message, in: room, reason: reason)
    }

    /// The configuration form `room` gives its owner (XEP-0045 §10.2).
    public func roomConfiguration(of room: JID) async throws -> DataForm {
        try await xmppClient.roomConfiguration(of: room)
    }

    /// Sends `room` its filled-in configuration form.
    public func configureRoom(_ room: JID, with form: DataForm) async throws {
        try await xmppClient.configureRoom(room, with: form)
    }

    /// Rooms the account knows (bookmarked, or joined here), and whether this session is in each.
    public func rooms() throws -> [RoomInfo] { try groupChats.rooms() }

    /// Who is in `room` now, by nick (empty when we are not in it).
    public func occupants(of room: JID) -> [Occupant] { groupChats.occupants(of: room) }

    /// Whether `jid` is a room the account knows.
    public func isRoom(_ jid: JID) -> Bool { groupChats.directory.isRoom(jid) }

    /// Bookmarks as the server holds them now (stored, so the rooms are known here).
    public func refreshBookmarks() async throws -> [RoomInfo] {
        try await groupChats.refreshBookmarks()
        return try groupChats.rooms()
    }

    /// Whether the address the user typed is a group chat: a room we know, or one whose
    /// address says so when asked (XEP-0030 identity conference). Contacts and numbers are
    /// not asked, and an address that does not answer within 5 s is not a room.
    public func isGroupChat(_ jid: JID) async -> Bool {
        if groupChats.directory.isRoom(jid) { return true }
        guard jid.local != nil, jid.resource == nil, jid.domain != recipients.gateway?.domain,
              (try? store.contacts().contains { $0.jid == jid.bare.description }) != true else { return false }
        let identities = (try? await xmppClient.identities(of: jid.bare, timeout: .seconds(5))) ?? []
        return identities.contains { $0.category == "conference" }
    }
}
