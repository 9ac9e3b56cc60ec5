import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

extension MessagingService {
    /// Stores one batch of received messages (live, carbons, archive pages) in one
    /// transaction, then shows the new ones. The client acknowledges the batch to the server
    /// only after this returns, so nothing acknowledged is lost. Receipts and markers were
    /// applied as the session routed each message (`applyLifecycle`); the incoming stages
    /// (decryption, later) run first.
    nonisolated(nonsending) func receive(_ batch: [ReceivedMessage]) async throws {
        // Nicknames people give (XEP-0172), from their own live messages only (not the
        // gateway's numbers, which the address book names), kept before the messages are
        // shown so that the first one already carries it.
        let nicknames = batch.compactMap { received -> (jid: String, nick: String)? in
            guard received.direction == .incoming, received.source != .archive, let nick = received.message.nick,
                  let from = received.message.from, from.domain != interpreter.gateway?.domain else { return nil }
            return (from.bare.description, String(nick.prefix(64)))
        }
        try store.rememberNicknames(nicknames, at: Date())
        var pending: [Incoming] = []
        // What refers to an earlier message (a correction, a retraction, a reaction, a reply)
        // may refer to one earlier in this very batch: what came before is stored first.
        nonisolated(nonsending) func storePending() async throws {
            if !pending.isEmpty { try await storeAndShow(pending) }
            pending = []
        }
        for received in await pipeline.process(batch, logger: logger) {
            if let notice = received.message.moderation {
                try await storePending()
                try takeDown(notice, as: received)
                continue
            }
            if let original = received.message.retractID {
                try await storePending()
                try takeBack(original, as: received)
                continue
            }
            if let reactions = received.message.reactions {
                // Like a correction: what it reacts to may be earlier in this batch.
                try await storePending()
                try applyReactions(reactions, as: received)
                continue
            }
            guard var record = interpreter.interpret(received) else { continue }
            if record.message.reply != nil {
                // What it answers may be earlier in this batch.
                try await storePending()
                record.message = resolvingReply(record.message, peer: record.peer)
            }
            if let original = received.message.replaceID {
                // The message it corrects may be earlier in this very batch (both sent at
                // once after a reconnect): what came before is stored first.
                try await storePending()
                // Written to the store, not as a new message; only its own sender's
                // corrections match (another's correction becomes a message of its own).
                // Our own correction seen in the archive or a carbon has reached the server.
                if received.direction == .outgoing, let id = received.message.id { try store.markSent(stanzaIDs: [id]) }
                if let corrected = try store.correct(stanzaID: original, sender: record.message.sender, peer: record.peer,
                                                     body: record.message.body, at: record.message.timestamp) {
                    broadcaster.publish(.corrected(peer: record.peer, corrected))
                    continue
                }
            }
            pending.append(Incoming(peer: record.peer, message: record.message, received: received))
        }
        try await storePending()
    }

    /// A retraction (XEP-0424): only the message's own sender may take it back; anyone else's
    /// is dropped (its fallback text is no message of theirs either).
    private func takeBack(_ original: String, as received: ReceivedMessage) throws {
        guard let peer = (received.privateInRoom ? received.peer : received.peer?.bare)?.description,
              let sender = received.direction == .incoming
              ? received.message.from?.description : account.description else { return }
        // Our own retraction seen in the archive or a carbon has reached the server.
        if received.direction == .outgoing, let id = received.message.id { try store.markSent(stanzaIDs: [id]) }
        if let retracted = try store.retract(stanzaID: original, sender: sender, peer: peer, at: received.timestamp) {
            broadcaster.publish(.retracted(peer: peer, retracted))
        } else {
            logger.info("a retraction matched no message of its sender's")
        }
    }

    /// A moderator's removal (XEP-0425), which only the room itself announces: the same
    /// words from an occupant, or from outside a room, take nothing down.
    private func takeDown(_ notice: ModerationNotice, as received: ReceivedMessage) throws {
        guard let room = received.room, let from = received.message.from, from.resource == nil, from == room else {
            logger.info("dropped a moderation notice that did not come from its room")
            return
        }
        let moderation = MessageModeration(moderator: notice.moderator.map { Sanitizer.plain(String($0.prefix(64))) },
                                           reason: notice.reason.map { Sanitizer.plain(String($0.prefix(500))) })
        if let removed = try store.moderate(roomMessageID: notice.messageID, in: room.description, moderation: moderation,
                                            at: received.timestamp) {
            broadcaster.publish(.retracted(peer: room.description, removed))
        } else {
            logger.info("a moderation notice matched no stored message of the room")
        }
    }

    struct Incoming {
        var peer: String
        var message: StoredMessage
        var received: ReceivedMessage
    }

    /// Stores messages in one transaction, with the archive cursor when they allow it, and
    /// shows what is new to this process.
    private nonisolated(nonsending) func storeAndShow(_ incoming: [Incoming]) async throws {
        // Only our own archive's ids move its cursor; a room's are the room archive's (GroupChatService).
        let live = incoming.last { $0.received.source == .live && $0.received.room == nil && $0.received.archiveID != nil }?.received.archiveID
        // Decided and stored with no suspension between: the cursor moves with the rows.
        let outcomes = try store.record(incoming.map { ($0.peer, $0.message) }, archiveCursor: archive.cursorToStore(withLive: live))
        for (outcome, item) in zip(outcomes, incoming) {
            if case .duplicate(let id) = outcome, let stored = try? store.message(id: id) {
                // Another process of this account stored it first (whichever way it reached
                // us: live, as a carbon, from the archive); this one shows it all the same.
                // Rows this process published, or stored before it started, are not shown again.
                publish(stored, peer: item.peer)
            }
            if case .inserted(let id) = outcome {
                var message = item.message
                message.id = id
                publish(message, peer: item.peer)
                // Live messages got their receipt from the client; one we first see in the
                // archive (it arrived while we were away) gets it now that it is stored.
                let received = item.received
                if received.source == .archive, received.direction == .incoming, let receipt = received.message.receiptReply {
                    try? await client.send(receipt)
                }
            }
        }
    }

    /// Receipts and chat markers: what the other side did with our messages.
    func applyLifecycle(of received: ReceivedMessage) throws {
        guard received.direction == .incoming, let from = received.message.from else { return }
        let peer = from.bare.description
        if let receipt = received.message.receiptFor, let id = try store.markDelivered(stanzaID: receipt, peer: peer) {
            broadcaster.publish(.status(messageID: id, .delivered))
        }
        if let displayed = received.message.displayedMarker {
            for id in try store.markRead(upTo: displayed, peer: peer) { broadcaster.publish(.status(messageID: id, .read)) }
        } else if let marker = received.message.receivedMarker,
                  let id = try store.markDelivered(stanzaID: marker, peer: peer) {
            broadcaster.publish(.status(messageID: id, .delivered))
        }
    }

    /// Tells front ends of a stored message, once per process whatever path it came by.
    func publish(_ message: StoredMessage, peer: String) {
        guard let id = message.id, published.note(id) else { return }
        broadcaster.publish(.message(peer: peer, message))
    }

    /// Shows the rows other processes of this account stored since the last look.
    func publishOthersMessages() {
        guard let rows = try? store.messages(after: published.scannedThrough) else { return }
        for (peer, message) in rows {
            guard let id = message.id else { continue }
            published.scannedThrough = max(published.scannedThrough, id)
            publish(message, peer: peer)
        }
    }
}
