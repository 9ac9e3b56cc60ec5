import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Replies (XEP-0461) and reactions (XEP-0444), both ways. Both point at a message of the
/// conversation by the id its sender gave it; anyone in the conversation may answer or react
/// to any of its messages, but each sender's reactions are theirs alone to change.
extension MessagingService {
    /// What a reply to row `id` carries: the original's id, its author and its first line.
    func replyReference(to id: Int64, in peer: JID) throws -> MessageReply {
        // In a group chat a message is named by the room's id for it (XEP-0461 §3).
        guard let original = try store.message(id: id), original.retractedAt == nil,
              let originalID = rooms.isGroupChat(peer) ? original.archiveID : original.stanzaID,
              try store.peer(ofConversation: original.conversationID) == rooms.conversation(of: peer)
        else { throw CoreError.noSuchMessage }
        return MessageReply(id: originalID, author: original.direction == .outgoing ? account.bare.description : original.sender,
                            quote: Self.quoteLine(original.body))
    }

    /// Adds `reaction` to our reactions to row `id`, or takes it away; all of them go, as
    /// XEP-0444 asks, through the outbox so that a dropped connection loses none.
    nonisolated(nonsending) func react(to id: Int64, with reaction: String, adding: Bool) async throws -> StoredMessage {
        let reaction = reaction.trimmingCharacters(in: .whitespaces)
        guard !reaction.isEmpty, reaction.unicodeScalars.count <= 16, !reaction.contains(where: { $0.isWhitespace }) else {
            throw CoreError.notAReaction(reaction)
        }
        guard let original = try store.message(id: id), original.retractedAt == nil,
              let peer = try store.peer(ofConversation: original.conversationID), let peerJID = try? JID(peer),
              // In a group chat a message is named by the room's id for it (XEP-0444 §4).
              let originalID = rooms.isGroupChat(peerJID) ? original.archiveID : original.stanzaID
        else { throw CoreError.noSuchMessage }
        var ours = original.reactions?[account.bare.description] ?? []
        ours.removeAll { $0 == reaction }
        if adding { ours.append(reaction) }
        var outgoing = OutgoingMessage(id: newStanzaID(), to: peerJID, content: .reactions(to: originalID, ours))
        rooms.address(&outgoing)
        guard let reacted = try store.react(to: originalID, in: peer, by: account.bare.description, with: ours, at: Date(),
                                            queueingReactionID: outgoing.id) else { throw CoreError.noSuchMessage }
        broadcaster.publish(.reacted(peer: peer, reacted, by: account.bare.description, ours))
        await transmit(outgoing)
        return reacted
    }

    /// Someone's reactions (ours too, from another device, a carbon or the archive): they
    /// replace that sender's earlier ones on a message of this conversation.
    func applyReactions(_ reactions: (id: String, emojis: [String]), as received: ReceivedMessage) throws {
        // In a group chat each occupant's (room/nick) reactions are theirs.
        guard let peer = (received.privateInRoom ? received.peer : received.peer?.bare)?.description,
              let sender = received.direction == .incoming
                ? (received.room != nil ? received.message.from?.description : received.message.from?.bare.description)
                : account.bare.description
        else { return }
        if received.direction == .outgoing, let id = received.message.id { try store.markSent(stanzaIDs: [id]) }
        let emojis = reactions.emojis.map(Sanitizer.plain)
        if let message = try store.react(to: reactions.id, in: peer, by: sender, with: emojis, at: received.timestamp) {
            broadcaster.publish(.reacted(peer: peer, message, by: sender, emojis))
        } else {
            logger.info("reactions to a message that is not in the conversation")
        }
    }

    /// A received reply shows the original's own first line and author when history has it
    /// (not the sender's rendering of it); else their quote, without the author they name, so
    /// that nobody can put words in a contact's mouth with a reply to nothing.
    func resolvingReply(_ message: StoredMessage, peer: String) -> StoredMessage {
        guard let reply = message.reply else { return message }
        var resolved = message
        if let original = try? store.message(referencedAs: reply.id, in: peer) {
            resolved.reply = MessageReply(id: reply.id, author: original.sender, quote: Self.quoteLine(original.body) ?? reply.quote)
        } else {
            resolved.reply?.author = nil
        }
        return resolved
    }

    /// The line a reply shows of what it answers: its first line, shortened.
    static func quoteLine(_ body: String?) -> String? {
        guard let line = body?.split(separator: "\n").first.map(String.init), !line.isEmpty else { return nil }
        return line.count > 120 ? String(line.prefix(119)) + "…" : line
    }
}

/// How front ends name a message in one line (a reaction's notice, a reply's quote).
public enum MessagingPreview {
    public static func firstLine(of message: StoredMessage) -> String? {
        MessagingService.quoteLine(message.body) ?? message.attachments.first.map { "📎 " + AttachmentFile($0).label }
    }
}
