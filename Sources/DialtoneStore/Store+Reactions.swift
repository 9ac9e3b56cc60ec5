import Foundation
import GRDB

/// Replies (XEP-0461) and reactions (XEP-0444): both point at a message of the conversation by
/// the id its sender gave it, whoever wrote it.
extension Store {
    /// The newest message in `peer`'s conversation with this stanza id or origin-id, by anyone.
    public func message(referencedAs id: String, in peer: String) throws(StoreError) -> StoredMessage? {
        try reading { db in try Self.message(referencedAs: id, in: peer, db) }
    }

    /// Sets `sender`'s reactions to message `id` of `peer`'s conversation: all of them, as each
    /// reactions message replaces the last (none takes them all back). A retracted message takes
    /// none. `reactionID` names our own, which waits as a pending correction (in the same
    /// transaction) until the server confirms it. Nil when there is no such message.
    public func react(to id: String, in peer: String, by sender: String, with reactions: [String], at time: Date,
                      queueingReactionID reactionID: String? = nil) throws(StoreError) -> StoredMessage? {
        try writing { db in
            guard var message = try Self.message(referencedAs: id, in: peer, db), message.retractedAt == nil else { return nil }
            // Each account's, by its bare address; in a group chat each occupant's (room/nick).
            let bare = sender.split(separator: "/").first.map(String.init) ?? sender
            let by = try Self.isRoom(peer, db) && bare == peer ? sender : bare
            var all = message.reactions ?? [:]
            all[by] = reactions.isEmpty ? nil : reactions
            message.reactions = all.isEmpty ? nil : all
            try message.update(db)
            if let reactionID {
                // The newest set says it all: an older one still waiting need not go.
                try db.execute(sql: "DELETE FROM pending_correction WHERE reacts AND peer = ? AND replacesID = ?", arguments: [peer, id])
                try Self.queue(PendingCorrection(stanzaID: reactionID, peer: peer, replacesID: id,
                                                 body: reactions.joined(separator: "\n"), queuedAt: time, reacts: true), in: db)
            }
            return message
        }
    }

    private static func message(referencedAs id: String, in peer: String, _ db: Database) throws -> StoredMessage? {
        try StoredMessage.fetchOne(db, sql: """
            SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
            WHERE conversation.peer = ? AND (message.stanzaID = ? OR message.dedupeKey = ? OR message.archiveID = ?)
            ORDER BY message.id DESC LIMIT 1
            """, arguments: [peer, id, id, id])
    }
}
