import DialtoneStore
import DialtoneXMPP
import Logging

/// Read state across the account's devices (XEP-0490): reading a conversation here publishes
/// how far it was read to our own PEP node; reading it on the phone (Conversations, Cheogram,
/// Dino publish there too) lowers its unread count here. XEP-0333 markers to the sender are
/// `MessagingService`'s, as before.
final class ReadStateSync: AccountFeature {
    let account: JID
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    /// A group chat's messages are named by the room's archive ids, `by` the room.
    let rooms: RoomDirectory
    let logger: Logger
    /// What this process last published a conversation as read up to, so that reading a
    /// conversation as each message arrives publishes each message once.
    private var published: [String: String] = [:]
    /// Marks naming a message not stored yet (the archive is still bringing it, or it is
    /// on its way live), by conversation: tried again after each stored batch.
    private(set) var unmatched: [String: DisplayedMark] = [:]

    init(account: JID, store: Store, client: XMPPClient, broadcaster: EventBroadcaster,
         rooms: RoomDirectory = RoomDirectory(known: []), logger: Logger) {
        self.rooms = rooms
        self.account = account.bare
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.logger = logger
    }

    /// A fresh session catches up with what other devices read meanwhile (after the archive
    /// has brought what they read; a resumed session missed no notification).
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        guard !resumed else { return }
        do {
            let marks = try await client.displayedMarks()
            logger.debug("read state of \(marks.count) conversations from other devices")
            try apply(marks)
        } catch {
            logger.info("no read state from other devices: \(error)")
        }
    }

    /// Marks from our PEP node (the routing took only those from our own account): each lowers
    /// its conversation's unread count to what came after the message it names: by our
    /// archive's id for a chat, by the room's for a group chat (any other archive's ids name
    /// nothing we store).
    func apply(_ marks: [DisplayedMark]) throws {
        for mark in marks where mark.by == nil || mark.by?.bare == account || (mark.by?.bare == mark.peer.bare && rooms.isRoom(mark.peer)) {
            let peer = mark.peer.bare.description
            unmatched[peer] = nil
            switch try store.markDisplayed(peer: peer, upToArchiveID: mark.stanzaID) {
            case .lowered(let unread): broadcaster.publish(.readElsewhere(peer: peer, unread: unread))
            case .unchanged: break
            case .notStored: unmatched[peer] = mark
            }
        }
    }

    /// After a batch was stored: marks that named a message not here yet, again.
    func retryUnmatched() throws {
        guard !unmatched.isEmpty else { return }
        try apply(Array(unmatched.values))
    }

    /// The user read `peer`'s conversation here up to `message` (the newest they saw): the
    /// other devices are told, by our archive's id for it.
    nonisolated(nonsending) func displayed(_ message: StoredMessage?, in peer: JID) async {
        guard let archiveID = message?.archiveID, published[peer.bare.description] != archiveID else { return }
        published[peer.bare.description] = archiveID
        // A private conversation in a room is nobody's to share (XEP-0490 names whole conversations).
        guard peer.resource == nil || !rooms.isRoom(peer) else { return }
        let by = rooms.isGroupChat(peer) ? peer.bare : account
        do { try await client.publishDisplayed(DisplayedMark(peer: peer.bare, stanzaID: archiveID, by: by)) } catch {
            logger.info("read state not shared with other devices: \(error)")
        }
    }
}
