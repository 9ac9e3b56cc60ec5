import DialtoneStore
import DialtoneXMPP
import Foundation

/// Something the user sent, as values: a message (text, attachments) or a correction of one.
/// The stanza is built from these each time it goes, never kept as XML, so a resend after a
/// dropped connection passes the outgoing pipeline again (encryption will encrypt it anew for
/// the devices known then) and nothing is parsed back from text.
struct OutgoingMessage: Sendable, Equatable {
    enum Content: Sendable, Equatable {
        /// A chat message; `body` is the user's text (an attachment's caption, or none), the
        /// attachments' links follow it on the wire.
        /// With `reply`, it answers an earlier message (XEP-0461).
        case message(body: String?, attachments: [Attachment], reply: MessageReply? = nil)
        /// A correction (XEP-0308) of our message with stanza id `of`.
        case correction(of: String, body: String)
        /// A retraction (XEP-0424) of our message with stanza id `of`.
        case retraction(of: String)
        /// All our reactions (XEP-0444) to the message with id `to`; none takes them back.
        case reactions(to: String, [String])
    }

    /// The stanza id, also its origin-id: stable across resends, what the server's ack names.
    var id: String
    var to: JID
    var content: Content
    /// Said in a group chat (XEP-0045): it goes as groupchat, once we are in the room.
    var groupchat = false
    /// A private message to an occupant of a room (`to` is room/nick): a chat message marked
    /// as one (as Conversations marks it), once we are in the room.
    var privateInRoom = false

    /// The stanza before the pipeline's stages: what any client reads.
    func stanza() -> Message {
        let type: MessageType = groupchat ? .groupchat : .chat
        switch content {
        case .message(let body, let attachments, let reply):
            // The links are in the body too: clients without out-of-band data show them as text.
            let text = ([body].compactMap { $0 } + attachments.map(\.url)).joined(separator: "\n")
            let links = attachments.map { OutOfBandData(url: $0.url) }
            if privateInRoom { return Message.chat(to: to, body: text, id: id, outOfBand: links, privateInRoom: true) }
            guard let reply else { return Message.chat(to: to, body: text, id: id, type: type, outOfBand: links) }
            return Message.reply(to: to, body: text, id: id, replyingTo: reply.id, author: reply.author.flatMap { try? JID($0) },
                                 quote: reply.quote, outOfBand: links, type: type)
        case .reactions(let original, let reactions):
            return Message.reactions(reactions, to: original, peer: to, id: id, type: type)
        case .correction(let original, let body):
            return Message.correction(of: original, to: to, body: body, correctionID: id, type: type)
        case .retraction(let original):
            return Message.retraction(of: original, to: to, retractionID: id, type: type)
        }
    }
}

extension OutgoingMessage {
    /// An outbox row of the history; nil for a row that cannot go (no id, no address, nothing to say).
    init?(pending message: StoredMessage, peer: String) {
        guard let id = message.stanzaID, let to = try? JID(peer),
              message.body != nil || !message.attachments.isEmpty else { return nil }
        self.init(id: id, to: to, content: .message(body: message.body, attachments: message.attachments, reply: message.reply))
    }

    init?(_ correction: PendingCorrection) {
        guard let to = try? JID(correction.peer) else { return nil }
        let content: Content
        if correction.reacts {
            content = .reactions(to: correction.replacesID, correction.body.split(separator: "\n").map(String.init))
        } else if correction.retracts {
            content = .retraction(of: correction.replacesID)
        } else {
            content = .correction(of: correction.replacesID, body: correction.body)
        }
        self.init(id: correction.stanzaID, to: to, content: content)
    }

    /// A correction queued by an older version as stanza text.
    static func correction(queuedAs xml: String) -> PendingCorrection? {
        guard let stanza = try? Message(parsing: xml), let id = stanza.id, let to = stanza.to,
              let original = stanza.replaceID, let body = stanza.body else { return nil }
        return PendingCorrection(stanzaID: id, peer: to.bare.description, replacesID: original, body: body, queuedAt: Date())
    }
}

/// What waits for the server's confirmation: outbox rows of the history (status pending) and
/// pending corrections, read from the store, which alone holds them (so another process's
/// and an earlier run's count too).
struct Outbox {
    let store: Store
    /// Which addresses are rooms: their messages go as groupchat.
    var rooms = RoomDirectory(known: [])

    /// Everything still to confirm, in the order it must go: messages first, oldest first, then
    /// corrections, so that none arrives before what it corrects.
    func pending() throws(StoreError) -> [OutgoingMessage] {
        var messages: [OutgoingMessage] = []
        for (peer, row) in try store.outbox() {
            var message = row
            // Corrected before the server had it: the history shows the new text, but the
            // message goes as it was written and its correction after it, as it would have
            // had it left at once (it may have reached the peer before the connection dropped).
            if row.editedAt != nil, let id = row.id, let written = try store.edits(of: id).first { message.body = written }
            if let outgoing = OutgoingMessage(pending: message, peer: peer) { messages.append(outgoing) }
        }
        var all = messages + (try store.pendingCorrections()).compactMap(OutgoingMessage.init)
        for index in all.indices { rooms.address(&all[index]) }
        return all
    }

    /// Corrections an older version kept as stanza text become values (once; then none are left).
    func adoptOlderCorrections() throws(StoreError) -> Int {
        try store.adoptQueuedStanzas(OutgoingMessage.correction(queuedAs:))
    }
}
