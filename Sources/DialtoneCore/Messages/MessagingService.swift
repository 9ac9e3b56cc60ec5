import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Messages of one account, both ways: the outbox (what the user sends stays there, as values,
/// until the server confirms it, across dropped connections and restarts; each send builds the
/// stanza and runs the outgoing stages) and the incoming pipeline (stages, then stored before
/// the server gets our acknowledgement, then shown).
///
/// No mirror of which outbox rows are "in flight": the client alone knows what its session
/// still holds (see `transmit`). A set kept here went stale whenever a resumption failed or a
/// send raced a reconnect, and the rows it named were never sent again.
final class MessagingService: AccountFeature {
    let account: JID
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    let http: HTTPTransfer
    let interpreter: MessageInterpreter
    let archive: ArchiveSync
    /// Which addresses are rooms, and which we are in: their messages go as groupchat, and
    /// wait in the outbox until the room has let us in.
    let rooms: RoomDirectory
    let logger: Logger
    /// What this process has shown its front end, so that another process's messages show too.
    var published: PublishedMessages
    /// The stages between the user and the wire, both ways (none yet: encryption will be one).
    var pipeline = MessagePipeline()
    var outbox: Outbox { Outbox(store: store, rooms: rooms) }

    init(account: JID, store: Store, client: XMPPClient, broadcaster: EventBroadcaster, http: HTTPTransfer,
         interpreter: MessageInterpreter, archive: ArchiveSync, rooms: RoomDirectory = RoomDirectory(known: []), logger: Logger) {
        self.account = account
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.http = http
        self.interpreter = interpreter
        self.archive = archive
        self.rooms = rooms
        self.logger = logger
        published = PublishedMessages(startingAfter: (try? store.newestMessageID()) ?? 0)
        do {
            let adopted = try Outbox(store: store, rooms: rooms).adoptOlderCorrections()
            if adopted > 0 { logger.info("\(adopted) queued corrections of an older version now wait as values") }
        } catch {
            logger.error("cannot read the corrections an older version queued: \(error)")
        }
    }

    /// After any bind the outbox goes again: on a resumption the client resends what it had in
    /// flight itself, and what was written while we were away never left the outbox; after a
    /// fresh bind, once the archive has shown what already arrived (the session's order).
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        await flushOutbox()
    }

    // MARK: Sending

    /// A new message; with `replyingTo` (a row of the same conversation) it answers that one
    /// (XEP-0461), quoting its first line for clients that show no replies.
    nonisolated(nonsending) func send(to peer: JID, body: String, replyingTo original: Int64? = nil) async throws -> StoredMessage {
        let reply = try original.map { id throws in try replyReference(to: id, in: peer) }
        return try await send(OutgoingMessage(id: newStanzaID(), to: peer, content: .message(body: body, attachments: [], reply: reply)))
    }

    /// Puts a new message in the outbox (the history's row, pending) and sends it.
    private nonisolated(nonsending) func send(_ message: OutgoingMessage) async throws -> StoredMessage {
        var message = message
        rooms.address(&message)
        guard case .message(let body, let attachments, let reply) = message.content else { preconditionFailure("a message, not a correction") }
        // The id is also the origin-id: our copy coming back (carbon, archive) is this row.
        let stored = try store.enqueue(StoredMessage(
            direction: .outgoing, sender: account.description, body: body, stanzaID: message.id,
            dedupeKey: message.id, timestamp: Date(), status: .pending, attachments: attachments, reply: reply),
            to: rooms.conversation(of: message.to))
        publish(stored, peer: rooms.conversation(of: message.to))
        await transmit(message)
        return stored
    }

    /// Uploads a file (XEP-0363) and sends its link with an optional caption in one message,
    /// with the link as out-of-band data too.
    nonisolated(nonsending) func sendAttachment(path: String, to peer: JID, caption: String?,
                                                progress: HTTPTransfer.Progress?) async throws -> StoredMessage {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw AttachmentError.unreadable(url.path) }
        let name = url.lastPathComponent
        let type = MessageInterpreter.mediaType(forURL: "file:///" + name) ?? "application/octet-stream"
        guard let service = try await client.uploadService() else { throw UploadError.noService }
        // In an encrypted chat the server gets ciphertext, and the link carries the key (XEP-0454).
        let sealed = rooms.isRoom(peer) || rooms.isGroupChat(peer) ? nil : try await pipeline.sealFile(Array(data), to: peer)
        let upload = sealed?.upload ?? Array(data)
        let uploadType = sealed == nil ? type : "application/octet-stream"
        let slot = try await client.requestUploadSlot(from: service, fileName: name, size: upload.count, contentType: uploadType)
        try await http.put(upload, to: slot.putURL, headers: slot.headers.map { ($0.key, $0.value) }, contentType: uploadType, progress: progress)
        var link = slot.getURL.absoluteString
        if let sealed, var parts = URLComponents(string: link) {
            parts.scheme = sealed.scheme
            parts.fragment = sealed.fragment
            link = parts.string ?? link
        }
        let attachment = Attachment(url: link, mediaType: type, name: name, size: data.count)
        guard sealed != nil, let caption, !caption.isEmpty else {
            return try await send(OutgoingMessage(id: newStanzaID(), to: peer, content: .message(body: caption, attachments: [attachment])))
        }
        // Clients show an aesgcm:// link as a file only when it is the whole message: the
        // caption follows as a message of its own.
        let file = try await send(OutgoingMessage(id: newStanzaID(), to: peer, content: .message(body: nil, attachments: [attachment])))
        _ = try await send(OutgoingMessage(id: newStanzaID(), to: peer, content: .message(body: caption, attachments: [])))
        return file
    }

    /// Replaces the text of one of our sent messages (XEP-0308); the old text stays in history.
    nonisolated(nonsending) func correct(_ id: Int64, newBody: String) async throws -> StoredMessage {
        guard let original = try store.message(id: id), original.direction == .outgoing, let originalID = original.stanzaID,
              let peer = try store.peer(ofConversation: original.conversationID),
              let peerJID = try? JID(peer) else {
            throw CoreError.notCorrectable
        }
        var correction = OutgoingMessage(id: newStanzaID(), to: peerJID, content: .correction(of: originalID, body: newBody))
        rooms.address(&correction)
        // Through the outbox like any message: offline, or dropped before the server has it,
        // it goes with the next connection instead of being lost while the edit shows here.
        guard let corrected = try store.correct(stanzaID: originalID, sender: account.description, peer: peer, body: newBody,
                                                at: Date(), queueingCorrectionID: correction.id) else {
            throw CoreError.notCorrectable
        }
        broadcaster.publish(.corrected(peer: peer, corrected))
        await transmit(correction)
        return corrected
    }

    /// Takes back one of our sent messages (XEP-0424), for the recipient and in our history.
    nonisolated(nonsending) func retract(_ id: Int64) async throws -> StoredMessage {
        guard let original = try store.message(id: id), original.direction == .outgoing, original.retractedAt == nil,
              let peer = try store.peer(ofConversation: original.conversationID), let peerJID = try? JID(peer),
              // In a chat the retraction names the origin-id, in a group chat the room's id (XEP-0424 §4).
              let originalID = rooms.isGroupChat(peerJID) ? original.archiveID : original.dedupeKey ?? original.stanzaID else {
            throw CoreError.notRetractable
        }
        // In a chat the retraction names the origin-id; through the outbox like a correction.
        var retraction = OutgoingMessage(id: newStanzaID(), to: peerJID, content: .retraction(of: originalID))
        rooms.address(&retraction)
        guard let retracted = try store.retract(stanzaID: originalID, sender: account.description, peer: peer, at: Date(),
                                                queueingRetractionID: retraction.id) else {
            throw CoreError.notRetractable
        }
        broadcaster.publish(.retracted(peer: peer, retracted))
        await transmit(retraction)
        return retracted
    }

    /// The user has read `peer`'s conversation: clear its unread count and tell the sender
    /// (XEP-0333 displayed) when their client asked for markers.
    /// Returns the newest message the user saw there.
    @discardableResult
    nonisolated(nonsending) func markSeen(_ peer: JID) async throws -> StoredMessage? {
        guard let newest = try store.markConversationSeen(peer: rooms.conversation(of: peer)) else { return nil }
        // Rows an older version stored keep the question in their stanza.
        let markable = newest.markable ?? newest.stanzaXML.flatMap { try? Message(parsing: $0) }?.isMarkable ?? false
        if rooms.isRoom(peer) {
            // A marker in a room tells every occupant: only in a private one (members only,
            // addresses shown), as Conversations does, naming the message by the room's id.
            guard markable, newest.direction == .incoming, rooms.isPrivate(peer), let id = newest.archiveID else { return newest }
            try? await client.send(Message.displayed(id, to: peer.bare, type: .groupchat).element)
            return newest
        }
        guard let id = newest.stanzaID, markable else { return newest }
        try? await client.send(Message.displayed(id, to: peer).element)
        return newest
    }

    /// The server confirmed these stanzas (stream management): their outbox rows are sent.
    func acknowledged(_ stanzaIDs: [String]) throws {
        try store.markSent(stanzaIDs: stanzaIDs)
        // Front ends re-read by row id; the outbox rows are few, so a scan is cheap.
        guard let rows = try? store.recentOutgoing(stanzaIDs: stanzaIDs) else { return }
        for row in rows { if let id = row.id { broadcaster.publish(.status(messageID: id, row.status)) } }
    }

    /// Sends what waits in the outbox unless the client's session already sent it (what it
    /// holds unconfirmed it resends itself after a resume). The check is the client's, made
    /// where the send is, so no state here can say "in flight" about a stanza a dead session
    /// threw away. The stanza is built and passes the outgoing stages each time.
    nonisolated(nonsending) func transmit(_ message: OutgoingMessage) async {
        // A room takes messages (to it, or to its occupants) only from its occupants: it goes once we are in.
        guard !rooms.isRoom(message.to) || rooms.isJoined(message.to) else { return }
        guard await client.wouldSendOncePerSession(id: message.id) else { return }
        do {
            let stanza = try await pipeline.stanza(for: message)
            try await client.sendOncePerSession(stanza.element)
        } catch let error as EncryptionError {
            // Waiting for the user, who is told why: it would otherwise wait unseen.
            logger.info("message \(message.id) waits in the outbox: \(error)")
            if let id = try? store.recentOutgoing(stanzaIDs: [message.id]).first?.id {
                broadcaster.publish(.held(peer: message.to.bare.description, messageID: id, reason: error.description))
            }
        } catch {
            logger.info("message \(message.id) waits in the outbox: \(error)")
        }
    }

    /// Sends every outbox row the current session has not sent. Safe to run at any time and
    /// concurrently with itself: the client skips what this session already sent, including
    /// rows the server confirms while the flush works from its snapshot of the outbox.
    nonisolated(nonsending) func flushOutbox() async {
        let pending: [OutgoingMessage]
        do { pending = try outbox.pending() } catch {
            logger.error("cannot read the outbox: \(error)")
            return
        }
        for message in pending { await transmit(message) }
    }
}
