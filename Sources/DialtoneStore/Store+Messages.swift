import Foundation
import GRDB

// Messages: storing a batch received or sent, their corrections, markers and search.

extension Store {
    // MARK: Messages

    public enum InsertOutcome: Sendable, Equatable {
        case inserted(Int64)
        /// Already stored (the same archive id, or the same sender's origin-id).
        case duplicate(Int64)
    }

    /// Stores received (or carbon-copied, or archived) messages in one transaction, skipping
    /// ones already stored. An outgoing copy of a message still in our outbox settles it as sent.
    @discardableResult
    public func record(_ messages: [(peer: String, message: StoredMessage)], archiveCursor: String? = nil) throws(StoreError) -> [InsertOutcome] {
        return try writing { db in
            let statements = try RecordStatements(db)
            var outcomes: [InsertOutcome] = []
            outcomes.reserveCapacity(messages.count)
            var conversations: [String: Int64] = [:]
            // Conversation activity is summed over the batch and written once per conversation.
            var touched: [Int64: (time: Date, unread: Int)] = [:]
            for (peer, var message) in messages {
                if let known = conversations[peer] {
                    message.conversationID = known
                } else {
                    message.conversationID = try Self.conversation(for: peer, in: db, touching: nil, unread: false)
                    conversations[peer] = message.conversationID
                }
                if let existing = try statements.existing(message) {
                    if message.direction == .outgoing { try statements.settle.execute(arguments: [existing]) }
                    if let archiveID = message.archiveID { try statements.fillArchiveID.execute(arguments: [archiveID, existing]) }
                    outcomes.append(.duplicate(existing))
                    continue
                }
                let id = try statements.insert(message, in: db)
                // One that could not be decrypted counts too: the user should see that it came.
                let unread = message.direction == .incoming && (message.body != nil || message.encryption?.failure != nil) ? 1 : 0
                let previous = touched[message.conversationID]
                touched[message.conversationID] = (max(previous?.time ?? message.timestamp, message.timestamp), (previous?.unread ?? 0) + unread)
                outcomes.append(.inserted(id))
            }
            for (conversation, activity) in touched {
                try Self.touch(conversation, at: activity.time, unreadBy: activity.unread, in: db)
            }
            if let archiveCursor { try Self.setState("archiveCursor", archiveCursor, in: db) }
            return outcomes
        }
    }

    /// The prepared statements of `record`, compiled once per connection (GRDB caches them).
    private struct RecordStatements {
        let byArchiveID: Statement
        let outgoingByKey: Statement
        let incomingByKey: Statement
        let insertMessage: Statement
        let settle: Statement
        let fillArchiveID: Statement
        let encoder = JSONEncoder()

        init(_ db: Database) throws {
            byArchiveID = try db.cachedStatement(sql: "SELECT id FROM message WHERE archiveID = ?")
            // Our own messages match whichever of our resources sent them.
            outgoingByKey = try db.cachedStatement(sql: "SELECT id FROM message WHERE conversationID = ? AND direction = 'outgoing' AND dedupeKey = ?")
            incomingByKey = try db.cachedStatement(sql: "SELECT id FROM message WHERE conversationID = ? AND direction = ? AND sender = ? AND dedupeKey = ?")
            insertMessage = try db.cachedStatement(sql: """
                INSERT INTO message (conversationID, direction, sender, body, subject, stanzaID, dedupeKey, archiveID,
                                     timestamp, status, stanzaXML, attachments, editedAt, reply, markable, encryption)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            settle = try db.cachedStatement(sql: "UPDATE message SET status = 'sent' WHERE id = ? AND status = 'pending'")
            fillArchiveID = try db.cachedStatement(sql: "UPDATE message SET archiveID = ? WHERE id = ? AND archiveID IS NULL")
        }

        func existing(_ message: StoredMessage) throws -> Int64? {
            if let archiveID = message.archiveID, let id = try Int64.fetchOne(byArchiveID, arguments: [archiveID]) { return id }
            guard let key = message.dedupeKey else { return nil }
            if message.direction == .outgoing {
                return try Int64.fetchOne(outgoingByKey, arguments: [message.conversationID, key])
            }
            return try Int64.fetchOne(incomingByKey, arguments: [message.conversationID, message.direction.rawValue, message.sender, key])
        }

        func insert(_ message: StoredMessage, in db: Database) throws -> Int64 {
            let attachments = message.attachments.isEmpty ? "[]" : String(decoding: try encoder.encode(message.attachments), as: UTF8.self)
            let reply = try message.reply.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            let encryption = try message.encryption.map { String(decoding: try encoder.encode($0), as: UTF8.self) }
            try insertMessage.execute(arguments: [
                message.conversationID, message.direction.rawValue, message.sender, message.body, message.subject, message.stanzaID,
                message.dedupeKey, message.archiveID, message.timestamp, message.status.rawValue, message.stanzaXML, attachments,
                message.editedAt, reply, message.markable, encryption,
            ])
            return db.lastInsertedRowID
        }
    }

    static func conversation(for peer: String, in db: Database, touching time: Date?, unread: Bool) throws -> Int64 {
        if let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM conversation WHERE peer = ?"), arguments: [peer]) {
            if let time { try touch(id, at: time, unread: unread, in: db) }
            return id
        }
        var conversation = Conversation(id: nil, peer: peer, lastActivity: time ?? .distantPast, unread: unread ? 1 : 0)
        try conversation.insert(db)
        return conversation.id!
    }

    private static func touch(_ conversation: Int64, at time: Date, unread: Bool, in db: Database) throws {
        try touch(conversation, at: time, unreadBy: unread ? 1 : 0, in: db)
    }

    private static func touch(_ conversation: Int64, at time: Date, unreadBy count: Int, in db: Database) throws {
        try db.cachedStatement(sql: "UPDATE conversation SET lastActivity = MAX(lastActivity, ?), unread = unread + ? WHERE id = ?")
            .execute(arguments: [time, count, conversation])
    }

    /// Puts a message we are sending into the outbox (status pending) and returns it with its row id.
    public func enqueue(_ message: StoredMessage, to peer: String) throws(StoreError) -> StoredMessage {
        return try writing { db in
            var message = message
            message.conversationID = try Self.conversation(for: peer, in: db, touching: message.timestamp, unread: false)
            message.status = .pending
            try message.insert(db)
            return message
        }
    }

    /// Marks outbox messages sent once the server confirmed them, by stanza id.
    public func markSent(stanzaIDs: [String]) throws(StoreError) {
        guard !stanzaIDs.isEmpty else { return }
        try writing { db in
            for id in stanzaIDs {
                try db.execute(sql: "UPDATE message SET status = 'sent' WHERE stanzaID = ? AND status = 'pending' AND direction = 'outgoing'",
                               arguments: [id])
                try Self.settleQueued(stanzaID: id, in: db)
            }
        }
    }

    /// Marks our message delivered when the recipient's receipt names it; returns its row id
    /// if that changed its status.
    @discardableResult
    public func markDelivered(stanzaID: String, peer: String) throws(StoreError) -> Int64? {
        return try writing { db in
            let id = try Int64.fetchOne(db, sql: """
                SELECT id FROM message WHERE stanzaID = ? AND direction = 'outgoing' AND status != 'delivered'
                AND conversationID = (SELECT id FROM conversation WHERE peer = ?)
                """, arguments: [stanzaID, peer])
            if let id { try db.execute(sql: "UPDATE message SET status = 'delivered' WHERE id = ?", arguments: [id]) }
            return id
        }
    }

    /// Our messages with these stanza ids (to report their new status).
    public func recentOutgoing(stanzaIDs: [String]) throws(StoreError) -> [StoredMessage] {
        return try reading { db in
            try StoredMessage.filter(stanzaIDs.contains(Column("stanzaID")) && Column("direction") == "outgoing").fetchAll(db)
        }
    }

    /// Messages still waiting for the server's confirmation, oldest first, with their peers.
    public func outbox() throws(StoreError) -> [(peer: String, message: StoredMessage)] {
        return try reading { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT message.*, conversation.peer AS peer FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE message.status = 'pending' ORDER BY message.id
                """)
            return try rows.map { row in (peer: row["peer"], message: try StoredMessage(row: row)) }
        }
    }

    public func message(id: Int64) throws(StoreError) -> StoredMessage? {
        return try reading { db in try StoredMessage.fetchOne(db, key: id) }
    }

    /// The newest `limit` messages with `peer`, oldest first (as a conversation reads).
    public func history(peer: String, limit: Int = 100) throws(StoreError) -> [StoredMessage] {
        return try reading { db in
            let newest = try StoredMessage.fetchAll(db, sql: """
                SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE conversation.peer = ? ORDER BY message.timestamp DESC, message.id DESC LIMIT ?
                """, arguments: [peer, limit])
            return newest.reversed()
        }
    }

    public func messageCount(peer: String? = nil) throws(StoreError) -> Int {
        return try reading { db in
            if let peer {
                return try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM message JOIN conversation ON conversation.id = message.conversationID WHERE conversation.peer = ?
                    """, arguments: [peer]) ?? 0
            }
            return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM message") ?? 0
        }
    }

    /// The address of the conversation a message belongs to (by its `conversationID`).
    public func peer(ofConversation id: Int64) throws(StoreError) -> String? {
        return try reading { db in try String.fetchOne(db, sql: "SELECT peer FROM conversation WHERE id = ?", arguments: [id]) }
    }

    public func conversations() throws(StoreError) -> [Conversation] {
        return try reading { db in
            try Conversation.fetchAll(db, sql: "SELECT * FROM conversation ORDER BY lastActivity DESC")
        }
    }

    // MARK: Corrections and markers

    /// Applies a correction (XEP-0308) to the message `stanzaID` that `sender` wrote in `peer`'s
    /// conversation; the old text is kept. A correction of someone else's message finds nothing.
    /// Returns the corrected message.
    /// `correctionID` names our own correction: it waits as a `PendingCorrection`, written in
    /// the same transaction as the edit, until the server confirms it.
    public func correct(stanzaID: String, sender: String, peer: String, body: String?, at time: Date,
                        queueingCorrectionID correctionID: String? = nil) throws(StoreError) -> StoredMessage? {
        return try writing { db in
            guard var message = try Self.message(stanzaID, by: sender, in: peer, db) else { return nil }
            try db.execute(sql: "INSERT INTO message_edit(messageID, body, replacedAt) VALUES (?, ?, ?)",
                           arguments: [message.id, message.body, time])
            message.body = body
            message.editedAt = time
            try message.update(db)
            // Our own correction waits for the server in the same transaction as the edit.
            if let correctionID, let body {
                try Self.queue(PendingCorrection(stanzaID: correctionID, peer: peer, replacesID: stanzaID, body: body, queuedAt: time),
                               in: db)
            }
            return message
        }
    }

    /// Takes back the message `stanzaID` that `sender` wrote in `peer`'s conversation (XEP-0424):
    /// its text, subject, attachments and earlier texts are deleted, as its sender asked, and
    /// the row stays as a mark that something was there. Someone else's retraction finds
    /// nothing. `retractionID` names our own, which waits as a pending correction until the
    /// server confirms it.
    public func retract(stanzaID: String, sender: String, peer: String, at time: Date,
                        queueingRetractionID retractionID: String? = nil) throws(StoreError) -> StoredMessage? {
        return try writing { db in
            guard let found = try Self.message(stanzaID, by: sender, in: peer, db) else { return nil }
            let message = try Self.takeDown(found, at: time, db)
            if let retractionID {
                try Self.queue(PendingCorrection(stanzaID: retractionID, peer: peer, replacesID: stanzaID, body: "", queuedAt: time,
                                                 retracts: true), in: db)
            }
            return message
        }
    }

    /// A room's message a moderator took down (XEP-0425), found by the room's id for it
    /// (whoever wrote it): its text goes as with a retraction, and who did it stays. Nil when
    /// no message of `room` has that id.
    public func moderate(roomMessageID id: String, in room: String, moderation: MessageModeration,
                         at time: Date) throws(StoreError) -> StoredMessage? {
        return try writing { db in
            guard var found = try StoredMessage.fetchOne(db, sql: """
                SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE conversation.peer = ? AND message.archiveID = ? ORDER BY message.id DESC LIMIT 1
                """, arguments: [room, id]) else { return nil }
            found.moderation = moderation
            return try Self.takeDown(found, at: time, db)
        }
    }

    /// Empties a message taken back or down: its text, attachments, earlier texts and
    /// reactions leave the store; the row stays, so the conversation shows where it was.
    private static func takeDown(_ original: StoredMessage, at time: Date, _ db: Database) throws -> StoredMessage {
        var message = original
        try db.execute(sql: "DELETE FROM message_edit WHERE messageID = ?", arguments: [message.id])
        message.body = nil
        message.subject = nil
        message.attachments = []
        message.stanzaXML = nil
        message.reactions = nil
        message.retractedAt = time
        try message.update(db)
        return message
    }

    /// The newest message in `peer`'s conversation with this stanza id or origin-id (or, in
    /// a group chat, the room's id for it) that `sender` wrote: what a correction or retraction
    /// may change. Someone else's message with the same id is not found: in a chat the sender
    /// is any resource of their account; in a group chat (the sender is room/nick) that occupant
    /// alone, so nobody in a room changes another's words.
    private static func message(_ stanzaID: String, by sender: String, in peer: String, _ db: Database) throws -> StoredMessage? {
        let senderBare = sender.split(separator: "/").first.map(String.init) ?? sender
        let occupant = try isRoom(peer, db) && senderBare == peer && sender != senderBare
        return try StoredMessage.fetchOne(db, sql: """
            SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
            WHERE conversation.peer = ? AND (message.stanzaID = ? OR message.dedupeKey = ? OR message.archiveID = ?)
            AND (message.sender = ? OR (? AND message.sender LIKE ? ESCAPE '\\'))
            ORDER BY message.id DESC LIMIT 1
            """, arguments: [peer, stanzaID, stanzaID, stanzaID, occupant ? sender : senderBare, !occupant, likeEscaped(senderBare) + "/%"])
    }

    /// Earlier texts of a corrected message, oldest first.
    public func edits(of messageID: Int64) throws(StoreError) -> [String?] {
        return try reading { db in
            try String?.fetchAll(db, sql: "SELECT body FROM message_edit WHERE messageID = ? ORDER BY id", arguments: [messageID])
        }
    }

    /// The peer showed our message `stanzaID` (XEP-0333): it and everything we sent before it
    /// in that conversation count as read. Returns the ids that changed.
    public func markRead(upTo stanzaID: String, peer: String) throws(StoreError) -> [Int64] {
        return try writing { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT message.id, message.conversationID FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE conversation.peer = ? AND message.direction = 'outgoing' AND (message.stanzaID = ? OR message.dedupeKey = ?)
                """, arguments: [peer, stanzaID, stanzaID]) else { return [] }
            let id: Int64 = row["id"]
            let conversation: Int64 = row["conversationID"]
            let changed = try Int64.fetchAll(db, sql: """
                SELECT id FROM message WHERE conversationID = ? AND direction = 'outgoing' AND id <= ? AND status != 'read'
                """, arguments: [conversation, id])
            try db.execute(sql: "UPDATE message SET status = 'read' WHERE conversationID = ? AND direction = 'outgoing' AND id <= ?",
                           arguments: [conversation, id])
            return changed
        }
    }

    /// The user has seen `peer`'s conversation: clears its unread count and returns the newest
    /// incoming message, whose id a chat marker names.
    public func markConversationSeen(peer: String) throws(StoreError) -> StoredMessage? {
        return try writing { db in
            try db.execute(sql: "UPDATE conversation SET unread = 0 WHERE peer = ?", arguments: [peer])
            return try StoredMessage.fetchOne(db, sql: """
                SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE conversation.peer = ? AND message.direction = 'incoming' ORDER BY message.timestamp DESC, message.id DESC LIMIT 1
                """, arguments: [peer])
        }
    }

    /// Another device read `peer`'s conversation up to the message our archive knows as
    /// `archiveID` (XEP-0490): unread becomes what came in after it, never more than it was
    /// (reading further here is not undone).
    public func markDisplayed(peer: String, upToArchiveID archiveID: String) throws(StoreError) -> DisplayedOutcome {
        return try writing { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT message.conversationID, message.timestamp, message.id, conversation.unread FROM message
                JOIN conversation ON conversation.id = message.conversationID WHERE message.archiveID = ? AND conversation.peer = ?
                """, arguments: [archiveID, peer]) else { return .notStored }
            let conversation: Int64 = row["conversationID"]
            let timestamp: Date = row["timestamp"]
            let id: Int64 = row["id"]
            let before: Int = row["unread"]
            // What came after it: later by more than a second, or within a second of it and
            // stored after it. Archives stamp whole seconds (Prosody's MAM) while live messages
            // carry their arrival to the millisecond, so within a second the time cannot say
            // which came first; the order they were stored in can (found by ReadStateSyncTests:
            // a message fetched from the archive sorted before two that came live before it).
            let after = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM message WHERE conversationID = ? AND direction = 'incoming'
                AND (timestamp > ? OR (timestamp >= ? AND id > ?))
                """, arguments: [conversation, timestamp.addingTimeInterval(1), timestamp.addingTimeInterval(-1), id]) ?? 0
            guard after < before else { return .unchanged }
            try db.execute(sql: "UPDATE conversation SET unread = ? WHERE id = ?", arguments: [after, conversation])
            return .lowered(unread: after)
        }
    }

    public enum DisplayedOutcome: Sendable, Equatable {
        case lowered(unread: Int)
        case unchanged
        /// No message of the conversation has that archive id (yet).
        case notStored
    }

    static func likeEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
    }

    // MARK: Search

    /// Messages whose text or subject contain every word of `text` (prefixes match too),
    /// newest first, with their conversations' peers.
    public func search(_ text: String, limit: Int = 50) throws(StoreError) -> [(peer: String, message: StoredMessage)] {
        // Each word quoted, so that user text is never read as FTS query syntax.
        let words = text.split(whereSeparator: { $0.isWhitespace || $0.isPunctuation })
        guard !words.isEmpty else { return [] }
        let query = words.map { "\"" + $0.replacingOccurrences(of: "\"", with: "\"\"") + "\"*" }.joined(separator: " ")
        return try reading { db in
            // FTS5 walks its rowids newest first without sorting every match; rows are
            // inserted in arrival order, so that is (nearly) newest by time, and cheap.
            let rows = try Row.fetchAll(db, sql: """
                SELECT message.*, conversation.peer AS peer FROM
                (SELECT rowid FROM message_fts WHERE message_fts MATCH ? ORDER BY rowid DESC LIMIT ?) AS hit
                JOIN message ON message.id = hit.rowid
                JOIN conversation ON conversation.id = message.conversationID
                ORDER BY message.timestamp DESC
                """, arguments: [query, limit])
            return try rows.map { row in (peer: row["peer"], message: try StoredMessage(row: row)) }
        }
    }
}
