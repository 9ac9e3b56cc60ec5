import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Group chats (XEP-0045) of one account: joining and leaving, who is in each room, its
/// subject, our own messages coming back from the room, the room's archive (XEP-0313 on the
/// room) caught up after each join, and bookmarks (XEP-0402) that say which rooms every
/// device joins at start.
///
/// Only a room we are in (or joining) speaks here: presences and messages from any other
/// room are dropped. The room stamps `from` itself (room/nick), so an occupant cannot speak
/// as another; a subject is taken only from a groupchat message, which only the room sends.
final class GroupChatService: AccountFeature {
    let account: JID
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    let logger: Logger
    let directory: RoomDirectory
    /// Whether this session joins the bookmarked rooms at start (the TUI and `listen` do; a
    /// one-shot command does not come and go in every room).
    let joinsAtStart: Bool

    /// A join under way: the nick tried, and whoever waits for it.
    struct PendingJoin {
        var nick: String
        var password: String?
        var attempt: Int
        /// When the first attempt went: a join is given `joinTimeout` in all, retries included.
        var startedAt: ContinuousClock.Instant
        /// The session it was sent in: one sent in an earlier session waits for nothing.
        var session: Int
        var waiters: [CheckedContinuation<String, any Error>] = []
    }
    var joining: [JID: PendingJoin] = [:]
    /// Counts fresh sessions: a join sent in an earlier one is sent again.
    private var sessionNumber = 0
    private var failedJoins: [JID: GroupChatError] = [:]
    /// Rooms our join created (status 201): accepted as instant rooms once joined.
    private var createdRooms: Set<JID> = []
    /// Passwords invitations gave, for joining the room they name.
    private var invitedPasswords: [JID: String] = [:]
    /// Rooms whose bookmark is to be published by `joined` (new, or changed by the join).
    private var bookmarksToPublish: Set<JID> = []
    var occupants: [JID: [String: Occupant]] = [:]
    /// Rooms this process was in when the last session ended: joined again on the next.
    private var rejoin: Set<JID> = []
    /// Rooms whose archive is being caught up, and the newest live id of those that are not.
    var catchingUp: Set<JID> = []
    /// Whoever waits for a room's catch-up under way to end.
    var catchUpWaiters: [JID: [CheckedContinuation<Void, Never>]] = [:]
    var liveCursors: [JID: String] = [:]
    /// Rooms a history-first join took for rooms before they said so: forgotten again if
    /// the join fails.
    private var presumedRooms: Set<JID> = []
    /// While the page before a room's newest is fetched: when the oldest of the newest page
    /// was said. Archive stamps are whole seconds and history sorts by time, then by arrival:
    /// one of the earlier page stamped in that same second is put a millisecond before it,
    /// so that it does not show after what followed it.
    var earlierThan: [JID: Date] = [:]
    /// While a room's newest page comes newest first: where each message goes in time.
    var newestFirst: [JID: NewestFirstPage] = [:]
    /// What in such a page refers to another message (a correction, a retraction, a reaction,
    /// a reply, a moderation): it arrives before what it refers to, so it is held, and stored
    /// oldest first once the rest is (`storeHeld`).
    var heldReferences: [JID: [ReceivedMessage]] = [:]
    /// A room's features as a first visit's catch-up asked them, for `joined` to use rather
    /// than ask again.
    var askedFeatures: [JID: Set<String>] = [:]
    /// Stores what was held: the session's messaging, as a batch of the stream would be.
    var storeHeld: nonisolated(nonsending) ([ReceivedMessage]) async throws -> Void = { _ in }
    /// Where a room's archive was read up to while the room is not stored yet (a
    /// history-first join reads it before the room lets us in): stored with the room.
    var unstoredCursors: [JID: String] = [:]
    /// Rooms heard from since the last self-ping round: they need no ping.
    var heardFrom: Set<JID> = []

    static let joinTimeout: Duration = .seconds(20)

    init(account: JID, store: Store, client: XMPPClient, broadcaster: EventBroadcaster, joinsAtStart: Bool, logger: Logger) {
        self.account = account.bare
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.joinsAtStart = joinsAtStart
        self.logger = logger
        let known = ((try? store.rooms()) ?? []).compactMap { try? JID($0.jid) }
        directory = RoomDirectory(known: Set(known))
    }

    /// The nick to join with when none is given: the account's own name.
    var defaultNick: String { account.local ?? "dialtone" }

    // MARK: Sessions

    /// A fresh session is in no room: the server took our presence away with the old one.
    func sessionBound(resumed: Bool) throws {
        guard !resumed else { return }
        sessionNumber += 1
        rejoin.formUnion(directory.joined.keys)
        rejoin.formUnion(joining.keys)
        for room in directory.joined.keys { broadcaster.publish(.room(.left(room: room.description, reason: "connection lost"))) }
        directory.leaveAll()
        occupants = [:]
    }

    /// Joins again what we were in, and (for a session that does) the bookmarked rooms.
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        guard !resumed else { return }
        var wanted = rejoin
        rejoin = []
        if joinsAtStart {
            do {
                let bookmarks = try await client.bookmarks()
                try remember(bookmarks)
                wanted.formUnion(bookmarks.filter(\.autojoin).map(\.room))
            } catch {
                logger.info("bookmarks not read: \(error)")
            }
        }
        // A join the user asked for meanwhile is under way already, or done.
        for room in wanted.sorted(by: { $0.description < $1.description })
        where !directory.isJoined(room) && joining[room].map({ $0.session < sessionNumber }) ?? true {
            let record = try? store.room(room.description)
            await startJoin(room, nick: joining[room]?.nick ?? record?.nick ?? defaultNick, password: record?.password)
        }
    }

    nonisolated(nonsending) func stop() async {
        for room in directory.joined.keys { try? await client.send(.roomLeave(occupantAddress(room, directory.nick(in: room) ?? defaultNick))) }
    }

    // MARK: Joining and leaving

    /// Joins `room` (or waits for the join under way) and returns our nick there. A taken nick
    /// is tried again with "_" appended, three times. The caller times the join out
    /// (`joinTimedOut`, `joinTimeout` after calling this).
    nonisolated(nonsending) func join(_ room: JID, nick: String?, password: String?) async throws -> String {
        let room = room.bare
        if let joined = directory.nick(in: room) { return joined }
        failedJoins[room] = nil
        if joining[room] == nil {
            let record = try? store.room(room.description)
            await startJoin(room, nick: nick ?? record?.nick ?? defaultNick,
                            password: password ?? record?.password ?? invitedPasswords[room])
        }
        if let joined = directory.nick(in: room) { return joined }
        if let failure = failedJoins.removeValue(forKey: room) { throw failure }
        guard joining[room] != nil else { throw GroupChatError.joinTimedOut(room: room.description) }
        return try await withCheckedThrowingContinuation { continuation in
            joining[room]?.waiters.append(continuation)
        }
    }

    nonisolated(nonsending) func startJoin(_ room: JID, nick: String, password: String?, attempt: Int = 1) async {
        var pending = joining[room] ?? PendingJoin(nick: nick, password: password, attempt: attempt, startedAt: .now, session: sessionNumber)
        pending.session = sessionNumber
        pending.nick = nick
        pending.password = password
        pending.attempt = attempt
        joining[room] = pending
        do {
            // Without the room's history: its archive brings what we missed, once.
            try await client.send(.roomJoin(occupantAddress(room, nick), password: password, maxStanzas: 0))
            logger.debug("joining \(room) as \(nick)")
        } catch {
            finishJoin(room, with: .failure(GroupChatError.joinRefused(room: room.description, condition: "not connected")))
        }
    }

    /// A join that brings the room's history first (`AccountSession.joinRoom`): its archive
    /// query and then the join presence go together (`catchUpJoining`, in a task of the
    /// session's), so that the room's newest messages come before its occupants' presences,
    /// a thousand of them in a busy room. False when we are in the room already, or a join or
    /// a catch-up is under way there (`join` then does as it always did).
    /// Until the room lets us in it is taken for a room, so that its messages are its own.
    func beginJoinWithHistory(_ room: JID, nick: String?, password: String?) -> Bool {
        let room = room.bare
        guard directory.nick(in: room) == nil, joining[room] == nil, !catchingUp.contains(room) else { return false }
        let record = try? store.room(room.description)
        let nick = nick ?? record?.nick ?? defaultNick
        let password = password ?? record?.password ?? invitedPasswords[room]
        failedJoins[room] = nil
        joining[room] = PendingJoin(nick: nick, password: password, attempt: 1, startedAt: .now, session: sessionNumber)
        if !directory.isRoom(room) {
            directory.remember(room)
            presumedRooms.insert(room)
        }
        // Claimed now: the catch-up that follows the join waits for this one.
        catchingUp.insert(room)
        logger.debug("joining \(room) as \(nick), its history first")
        return true
    }

    /// A join still unanswered when its time is up fails for whoever waits.
    func joinTimedOut(_ room: JID) {
        guard let pending = joining[room.bare], ContinuousClock.now - pending.startedAt >= Self.joinTimeout - .milliseconds(50)
        else { return }
        finishJoin(room.bare, with: .failure(GroupChatError.joinTimedOut(room: room.description)))
    }

    func finishJoin(_ room: JID, with outcome: Result<String, GroupChatError>) {
        guard let pending = joining.removeValue(forKey: room) else { return }
        if case .failure = outcome {
            unstoredCursors[room] = nil
            askedFeatures[room] = nil
        }
        if presumedRooms.remove(room) != nil, case .failure = outcome, (try? store.room(room.description)) == nil {
            directory.forget(room)
        }
        if case .failure(let error) = outcome, pending.waiters.isEmpty { failedJoins[room] = error }
        for waiter in pending.waiters { waiter.resume(with: outcome.mapError { $0 }) }
    }

    /// Leaves `room` and keeps its bookmark without autojoin, so other devices leave it too.
    nonisolated(nonsending) func leave(_ room: JID, keepingBookmark: Bool = true) async throws {
        let room = room.bare
        guard directory.isRoom(room) || directory.isJoined(room) || joining[room] != nil else {
            throw GroupChatError.notARoom(room.description)
        }
        let nick = directory.nick(in: room) ?? joining[room]?.nick
        finishJoin(room, with: .failure(GroupChatError.notJoined(room.description)))
        if let nick { try? await client.send(.roomLeave(occupantAddress(room, nick))) }
        let wasJoined = directory.isJoined(room)
        directory.setJoined(room, nick: nil)
        occupants[room] = nil
        if wasJoined { broadcaster.publish(.room(.left(room: room.description, reason: nil))) }
        guard keepingBookmark else {
            // Its bookmark is gone (another device deleted it): so is the room, here too.
            try store.removeRoom(room.description)
            directory.forget(room)
            return
        }
        guard var record = try store.room(room.description) else { return }
        record.autojoin = false
        try store.saveRoom(record)
        await publishBookmark(record)
    }

    /// A room our join created is locked to everyone else until its owner (we) accepts it:
    /// as an instant room, with the service's defaults.
    nonisolated(nonsending) func unlockIfCreated(_ room: JID) async {
        guard directory.isJoined(room), createdRooms.remove(room) != nil else { return }
        do {
            _ = try await client.request(.iq(.set, id: newStanzaID(), to: room, payload: .instantRoomConfiguration()))
        } catch {
            logger.info("the room \(room) we created was not unlocked: \(error)")
        }
    }

    /// After the room let us in (`receive` said so) and its history is in: bookmarked for
    /// the account's other devices, and what kind of room it is.
    nonisolated(nonsending) func joined(_ room: JID) async {
        guard let nick = directory.nick(in: room) else { return }
        if bookmarksToPublish.remove(room) != nil, let record = try? store.room(room.description), record.nick == nick {
            await publishBookmark(record)
        }
        // Read markers go only to a private room, as Conversations sends them: members only
        // and showing everyone's address, so that the occupants are people we know.
        var features = askedFeatures.removeValue(forKey: room) ?? []
        if features.isEmpty { features = (try? await client.features(of: room)) ?? [] }
        directory.setPrivate(room, features.contains("muc_membersonly") && features.contains("muc_nonanonymous"))
    }

    /// The room let us in: stored at once (before front ends hear of it, so that their names
    /// know it as a room), with autojoin; its bookmark goes when `joined` runs.
    private func remember(joined room: JID, nick: String, password: String?) {
        var record = (try? store.room(room.description)) ?? RoomRecord(jid: room.description, nick: nick)
        let changed = record.nick != nick || !record.autojoin || (password != nil && record.password != password)
        record.nick = nick
        record.autojoin = true
        if let password { record.password = password }
        do {
            try store.saveRoom(record)
            // What the history-first join read of its archive before the room let us in.
            if let cursor = unstoredCursors.removeValue(forKey: room) { try store.setRoomArchiveCursor(cursor, of: room.description) }
        } catch {
            logger.error("cannot store room \(room): \(error)")
        }
        directory.remember(room)
        if changed { bookmarksToPublish.insert(room) }
    }

    private nonisolated(nonsending) func publishBookmark(_ record: RoomRecord) async {
        guard let room = try? JID(record.jid) else { return }
        do {
            try await client.publishBookmark(Bookmark(room: room, name: record.name, autojoin: record.autojoin, nick: record.nick,
                                                      password: record.password))
        } catch {
            logger.info("bookmark of \(room) not saved on the server: \(error)")
        }
    }

    /// Reads the bookmarks from the server now and stores them.
    nonisolated(nonsending) func refreshBookmarks() async throws {
        try remember(try await client.bookmarks())
    }

    /// Bookmarks as the server has them: stored, so the rooms are known as rooms.
    private func remember(_ bookmarks: [Bookmark]) throws {
        for bookmark in bookmarks {
            let stored = try store.room(bookmark.room.description)
            try store.saveRoom(RoomRecord(jid: bookmark.room.description, nick: bookmark.nick ?? stored?.nick ?? defaultNick,
                                          password: bookmark.password, name: bookmark.name, autojoin: bookmark.autojoin))
            directory.remember(bookmark.room)
        }
    }

    /// Another device (or this one) changed the bookmarks: rooms it set to autojoin are joined
    /// here too, and rooms it stopped joining are left, by a session that joins at start.
    /// It waits for the server (a bookmark's update): not to be awaited while an event is handled.
    nonisolated(nonsending) func bookmarksChanged(_ change: BookmarkChange) async {
        switch change {
        case .published(let bookmarks):
            do { try remember(bookmarks) } catch { logger.error("cannot store bookmarks: \(error)") }
            guard joinsAtStart else { return }
            for bookmark in bookmarks {
                if bookmark.autojoin, !directory.isJoined(bookmark.room), joining[bookmark.room] == nil {
                    await startJoin(bookmark.room, nick: bookmark.nick ?? defaultNick, password: bookmark.password)
                } else if !bookmark.autojoin, directory.isJoined(bookmark.room) {
                    try? await leave(bookmark.room)
                }
            }
        case .retracted(let rooms):
            for room in rooms where directory.isRoom(room) {
                if joinsAtStart || !directory.isJoined(room) { try? await leave(room, keepingBookmark: false) }
            }
        }
    }

    // MARK: What the rooms say

    /// A room's report about an occupant (us too). Returns the room when this made us join it.
    nonisolated(nonsending) func receive(_ presence: RoomPresence) async -> JID? {
        let room = presence.room
        if let pending = joining[room], presence.nick == pending.nick, let condition = presence.error {
            if condition == "conflict", pending.attempt < 4 {
                await startJoin(room, nick: pending.nick + "_", password: pending.password, attempt: pending.attempt + 1)
            } else {
                finishJoin(room, with: .failure(GroupChatError.joinRefused(room: room.description, condition: condition)))
            }
            return nil
        }
        guard presence.error == nil, joining[room] != nil || directory.isJoined(room) else {
            logger.debug("presence from a room we are not in: \(room)")
            return nil
        }
        heardFrom.insert(room)
        let ours = presence.isSelf
        if presence.available {
            let occupant = Occupant(nick: presence.nick, role: presence.role, affiliation: presence.affiliation, jid: presence.realJID)
            let previous = occupants[room, default: [:]].updateValue(occupant, forKey: presence.nick)
            if previous != occupant { broadcaster.publish(.room(.occupant(room: room.description, occupant, present: true))) }
            if ours, let pending = joining[room] {
                if presence.statusCodes.contains(201) { createdRooms.insert(room) }
                directory.setJoined(room, nick: presence.nick)
                presumedRooms.remove(room)
                remember(joined: room, nick: presence.nick, password: pending.password)
                finishJoin(room, with: .success(presence.nick))
                broadcaster.publish(.room(.joined(room: room.description, nick: presence.nick)))
                // The bookmark and the archive wait for the server's answers: not here, where
                // the stream waits for this event to be handled (`joined`, from the session).
                logger.debug("joined \(room) as \(presence.nick)")
                return room
            }
            return nil
        }
        let gone = occupants[room]?.removeValue(forKey: presence.nick)
            ?? Occupant(nick: presence.nick, role: presence.role, affiliation: presence.affiliation, jid: presence.realJID)
        if presence.statusCodes.contains(303), let newNick = presence.newNick {
            // A nick change: the room sends the new presence next. Ours is stored before front
            // ends hear of it, so that names read then know it (mentions are of the new nick).
            if ours {
                directory.setJoined(room, nick: newNick)
                if var record = try? store.room(room.description) {
                    record.nick = newNick
                    try? store.saveRoom(record)
                }
            }
            broadcaster.publish(.room(.nickChanged(room: room.description, from: presence.nick, to: newNick)))
            return nil
        }
        if ours, directory.isJoined(room) {
            directory.setJoined(room, nick: nil)
            occupants[room] = nil
            let reason = presence.statusCodes.contains(301) ? "banned" : presence.statusCodes.contains(307) ? "kicked"
                : presence.statusCodes.contains(321) || presence.statusCodes.contains(322) ? "no longer a member"
                : presence.statusCodes.contains(332) ? "the room's service is shutting down" : "removed by the room"
            broadcaster.publish(.room(.left(room: room.description, reason: reason)))
            return nil
        }
        broadcaster.publish(.room(.occupant(room: room.description, gone, present: false)))
        return nil
    }

    /// A message said in a room, before it is stored: nil when it is not to be stored (a
    /// room we are not in; a subject change, kept as the room's). Our own messages come
    /// back from the room (from our nick) and count as ours, so they match the outbox row.
    func accept(_ received: ReceivedMessage) -> ReceivedMessage? {
        guard let room = received.room else { return received }
        let ourNick = directory.nick(in: room) ?? joining[room]?.nick
        if received.source == .live {
            guard ourNick != nil else {
                logger.info("dropped a group chat message from a room we are not in")
                return nil
            }
            heardFrom.insert(room)
            let message = received.message
            if message.body == nil, let subject = message.subject, message.type == .groupchat {
                let text = subject.isEmpty ? nil : subject
                try? store.setRoomSubject(text, of: room.description)
                broadcaster.publish(.room(.subject(room: room.description, text, by: message.from?.resource)))
                return nil
            }
        }
        var result = received
        if let nick = received.message.from?.resource, nick == ourNick {
            // Live, the nick is ours alone now. In the archive someone else may have had it
            // while we were away: only what we sent ourselves (its origin-id is one of our
            // rows) is ours.
            if received.source == .live || received.message.originID.map({ (try? store.weSent(originID: $0, in: room.description)) == true }) == true {
                result.direction = .outgoing
            }
        }
        if received.source == .archive, var page = newestFirst[room] {
            result.timestamp = page.place(result.timestamp)
            newestFirst[room] = page
            if result.message.refersToAnother {
                heldReferences[room, default: []].append(result)
                return nil
            }
        }
        if received.source == .archive, let boundary = earlierThan[room], result.timestamp >= boundary {
            result.timestamp = boundary.addingTimeInterval(-0.001)
        }
        if received.source == .live {
            // The room's own id for it: what its archive calls it, so catching up finds it stored.
            result.archiveID = received.message.stanzaIDs[room]
            if let id = result.archiveID, !catchingUp.contains(room) { liveCursors[room] = id }
        }
        return result
    }

    /// A chat message to or from `room/nick` of a room we know is a private message with that
    /// occupant (the room alone sends from its occupants' addresses).
    func markPrivate(_ received: ReceivedMessage) -> ReceivedMessage {
        guard received.room == nil, let peer = received.peer, peer.resource != nil, directory.isRoom(peer) else { return received }
        var result = received
        result.privateInRoom = true
        return result
    }

    /// An invitation (XEP-0249 direct, or mediated by the room): told to front ends, not
    /// stored as a message, nothing joined. True when it was one.
    func invitation(_ received: ReceivedMessage) -> Bool {
        guard received.direction == .incoming, let invitation = RoomInvitation(received.message)
        else { return false }
        if let password = invitation.password { invitedPasswords[invitation.room] = password }
        broadcaster.publish(.room(.invited(room: invitation.room.description, by: invitation.inviter?.description,
                                           reason: invitation.reason)))
        return true
    }

    /// An error a room we are in sent back (for a subject we may not set, a message it would
    /// not take): shown, not stored. True when it was one.
    func refusal(_ received: ReceivedMessage) -> Bool {
        guard received.message.type == .error, received.source == .live, let from = received.message.from,
              directory.isJoined(from) || joining[from.bare] != nil else { return false }
        let error = StanzaError(stanza: received.message.element)
        let reason = error?.text ?? error.map { $0.condition.replacingOccurrences(of: "-", with: " ") } ?? "refused"
        broadcaster.publish(.room(.refused(room: from.bare.description, reason: reason)))
        return true
    }

    // MARK: Queries

    func occupants(of room: JID) -> [Occupant] {
        (occupants[room.bare] ?? [:]).values.sorted { $0.nick.lowercased() < $1.nick.lowercased() }
    }

    func rooms() throws -> [RoomInfo] {
        try store.rooms().compactMap { record in
            guard let jid = try? JID(record.jid) else { return nil }
            return RoomInfo(jid: jid, nick: directory.nick(in: jid) ?? record.nick, name: record.name, autojoin: record.autojoin,
                            joined: directory.isJoined(jid), subject: record.subject)
        }
    }

    func occupantAddress(_ room: JID, _ nick: String) -> JID {
        (try? JID(local: room.local, domain: room.domain, resource: nick)) ?? room
    }
}
