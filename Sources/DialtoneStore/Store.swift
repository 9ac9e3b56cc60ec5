import Foundation
import GRDB

/// One account's history, contacts and outbox in SQLite (WAL, so readers never block the writer).
///
/// Writes that must be durable before we acknowledge anything to the server happen in one
/// transaction per batch: the server's ack waits for the commit, not for each row.
public final class Store: Sendable {
    let database: any DatabaseWriter

    /// Opens (creating if needed) the database at `path`, migrating it to the current schema.
    public init(path: String) throws(StoreError) {
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                    withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            var configuration = Configuration()
            configuration.prepareDatabase { db in
                // NORMAL is durable across application crashes in WAL mode; only a power
                // failure can lose the last transactions, which the server still holds then.
                try db.execute(sql: "PRAGMA synchronous = NORMAL")
            }
            configuration.busyMode = .timeout(5)
            let pool = try Self.openPool(path: path, configuration: configuration)
            database = pool
            try Self.migrate(pool)
            Self.makePrivate(databaseAt: path)
        } catch {
            throw StoreError.cannotOpen(path: path, reason: String(describing: error))
        }
    }

    /// Switching a new database to WAL needs it alone for a moment, and SQLite answers a second
    /// process doing the same at that moment with "database is locked" at once, without
    /// waiting: tried again a few times before it is an error.
    static func openPool(path: String, configuration: Configuration) throws -> DatabasePool {
        var attempt = 0
        while true {
            do {
                return try DatabasePool(path: path, configuration: configuration)
            } catch let error as DatabaseError where attempt < 10 && error.resultCode == .SQLITE_BUSY {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.02 * Double(attempt))
            }
        }
    }

    /// Two processes opening a new database at once (two `send`s from a script) both see no
    /// migrations applied, and the second's CREATE TABLE fails on the first's tables. The
    /// first commits whole migrations, so the second, tried again, finds them applied.
    static func migrate(_ pool: DatabasePool) throws {
        var attempt = 0
        while true {
            do {
                try migrator.migrate(pool)
                return
            } catch let error as DatabaseError where attempt < 5 && error.resultCode == .SQLITE_ERROR {
                attempt += 1
                Thread.sleep(forTimeInterval: 0.05 * Double(attempt))
            }
        }
    }

    /// The history is the user's alone: the database, its WAL and SHM 0600 and its directory
    /// 0700, whatever the umask was when they were made (also for files an older version made).
    static func makePrivate(databaseAt path: String) {
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            chmod(path + suffix, 0o600)
        }
        chmod((path as NSString).deletingLastPathComponent, 0o700)
    }

    /// A private in-memory database (tests).
    public init() throws(StoreError) {
        do {
            let queue = try DatabaseQueue()
            database = queue
            try Self.migrator.migrate(queue)
        } catch {
            throw StoreError.cannotOpen(path: ":memory:", reason: String(describing: error))
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: conversations, messages, contacts, state") { db in
            try db.create(table: "conversation") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("peer", .text).notNull().unique()
                t.column("lastActivity", .datetime).notNull()
                t.column("unread", .integer).notNull().defaults(to: 0)
            }
            try db.create(index: "conversation_by_activity", on: "conversation", columns: ["lastActivity"])
            try db.create(table: "message") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("conversation", onDelete: .cascade).notNull()
                t.column("direction", .text).notNull()
                t.column("sender", .text).notNull()
                t.column("body", .text)
                t.column("subject", .text)
                t.column("stanzaID", .text)
                t.column("dedupeKey", .text)
                t.column("archiveID", .text)
                t.column("timestamp", .datetime).notNull()
                t.column("status", .text).notNull()
                t.column("stanzaXML", .text)
            }
            try db.create(index: "message_by_time", on: "message", columns: ["conversationID", "timestamp"])
            try db.execute(sql: "CREATE UNIQUE INDEX message_archive_id ON message(archiveID) WHERE archiveID IS NOT NULL")
            try db.execute(sql: """
                CREATE UNIQUE INDEX message_dedupe ON message(conversationID, direction, sender, dedupeKey)
                WHERE dedupeKey IS NOT NULL
                """)
            try db.execute(sql: "CREATE INDEX message_outbox ON message(status) WHERE status = 'pending'")
            try db.create(table: "contact") { t in
                t.primaryKey("jid", .text)
                t.column("name", .text)
                t.column("subscription", .text).notNull()
                t.column("groups", .jsonText).notNull()
            }
            try db.create(table: "state") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v2: attachments") { db in
            try db.alter(table: "message") { t in
                t.add(column: "attachments", .jsonText).notNull().defaults(to: "[]")
            }
        }
        migrator.registerMigration("v3: address book") { db in
            try db.create(table: "addressbook") { t in
                t.primaryKey("uid", .text)
                t.column("name", .text).notNull()
                t.column("phones", .jsonText).notNull()
                t.column("jids", .jsonText).notNull()
            }
        }
        migrator.registerMigration("v4: full-text search") { db in
            // External-content FTS5: the index holds tokens only; triggers keep it in step.
            try db.execute(sql: """
                CREATE VIRTUAL TABLE message_fts USING fts5(body, subject, content='message', content_rowid='id',
                    tokenize='unicode61 remove_diacritics 2');
                INSERT INTO message_fts(rowid, body, subject) SELECT id, body, subject FROM message;
                CREATE TRIGGER message_fts_insert AFTER INSERT ON message BEGIN
                    INSERT INTO message_fts(rowid, body, subject) VALUES (new.id, new.body, new.subject);
                END;
                CREATE TRIGGER message_fts_delete AFTER DELETE ON message BEGIN
                    INSERT INTO message_fts(message_fts, rowid, body, subject) VALUES ('delete', old.id, old.body, old.subject);
                END;
                CREATE TRIGGER message_fts_update AFTER UPDATE OF body, subject ON message BEGIN
                    INSERT INTO message_fts(message_fts, rowid, body, subject) VALUES ('delete', old.id, old.body, old.subject);
                    INSERT INTO message_fts(rowid, body, subject) VALUES (new.id, new.body, new.subject);
                END;
                """)
        }
        migrator.registerMigration("v5: corrections") { db in
            try db.alter(table: "message") { t in t.add(column: "editedAt", .datetime) }
            try db.create(table: "message_edit") { t in
                t.autoIncrementedPrimaryKey("id")
                t.belongsTo("message", onDelete: .cascade).notNull()
                t.column("body", .text)
                t.column("replacedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v6: call log") { db in
            try db.create(table: "call") { t in
                t.primaryKey("id", .text)
                t.belongsTo("conversation", onDelete: .cascade).notNull()
                t.column("direction", .text).notNull()
                t.column("outcome", .text)
                t.column("reason", .text)
                t.column("startedAt", .datetime).notNull()
                t.column("connectedAt", .datetime)
                t.column("endedAt", .datetime)
            }
            try db.create(index: "call_by_time", on: "call", columns: ["startedAt"])
        }
        registerAddressBookIndex(in: &migrator)
        registerQueuedStanzas(in: &migrator)
        return migrator
    }

    /// A read, its failure as the one error type front ends show.
    func reading<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try database.read(body) } catch { throw .readFailed(String(describing: error)) }
    }

    /// A write in one transaction, its failure as the one error type front ends show.
    func writing<T>(_ body: (Database) throws -> T) throws(StoreError) -> T {
        do { return try database.write(body) } catch { throw .writeFailed(String(describing: error)) }
    }

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
                let unread = message.direction == .incoming && message.body != nil ? 1 : 0
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
                                     timestamp, status, stanzaXML, attachments, editedAt)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
            try insertMessage.execute(arguments: [
                message.conversationID, message.direction.rawValue, message.sender, message.body, message.subject, message.stanzaID,
                message.dedupeKey, message.archiveID, message.timestamp, message.status.rawValue, message.stanzaXML, attachments,
                message.editedAt,
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

    public func conversations() throws(StoreError) -> [Conversation] {
        return try reading { db in
            try Conversation.fetchAll(db, sql: "SELECT * FROM conversation ORDER BY lastActivity DESC")
        }
    }

    // MARK: Contacts

    /// Replaces the roster with the server's full copy.
    /// The whole roster, as fetched at login: one transaction, one prepared statement (a roster
    /// of thousands is stored in milliseconds, not through a record encoder per row).
    /// The whole roster, and the server's version of it (kept in the same transaction, so a
    /// version never names a roster that was not stored).
    public func replaceContacts(_ contacts: [Contact], version: String? = nil) throws(StoreError) {
        try writing { db in
            try Self.setRosterVersion(version, in: db)
            try Contact.deleteAll(db)
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO contact (jid, name, subscription, groups) VALUES (?, ?, ?, ?)")
            let encoder = JSONEncoder()
            for contact in contacts {
                // As the record encodes it: the groups as a JSON array.
                let groups = contact.groups.isEmpty ? "[]" : String(decoding: try encoder.encode(contact.groups), as: UTF8.self)
                try insert.execute(arguments: [contact.jid, contact.name, contact.subscription, groups])
            }
        }
    }

    /// Applies one roster push; subscription "remove" deletes the contact. A push without a
    /// version (from a server that does not keep them) forgets the stored one.
    public func apply(contact: Contact, version: String? = nil) throws(StoreError) {
        try writing { db in
            try Self.setRosterVersion(version, in: db)
            if contact.subscription == "remove" {
                _ = try Contact.deleteOne(db, key: contact.jid)
            } else {
                try contact.save(db)
            }
        }
    }

    public func contacts() throws(StoreError) -> [Contact] {
        return try reading { db in try Contact.order(Column("jid")).fetchAll(db) }
    }

    // MARK: Corrections and markers

    /// Applies a correction (XEP-0308) to the message `stanzaID` that `sender` wrote in `peer`'s
    /// conversation; the old text is kept. A correction of someone else's message finds nothing.
    /// Returns the corrected message.
    /// `sending` is our own correction's stanza: it waits with the outbox, in the same
    /// transaction as the edit, until the server confirms it.
    public func correct(stanzaID: String, sender: String, peer: String, body: String?, at time: Date,
                        sending: (stanzaID: String, xml: String)? = nil) throws(StoreError) -> StoredMessage? {
        return try writing { db in
            let senderBare = sender.split(separator: "/").first.map(String.init) ?? sender
            guard var message = try StoredMessage.fetchOne(db, sql: """
                SELECT message.* FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE conversation.peer = ? AND (message.stanzaID = ? OR message.dedupeKey = ?)
                AND (message.sender = ? OR message.sender LIKE ? ESCAPE '\\')
                ORDER BY message.id DESC LIMIT 1
                """, arguments: [peer, stanzaID, stanzaID, senderBare, Self.likeEscaped(senderBare) + "/%"]) else { return nil }
            try db.execute(sql: "INSERT INTO message_edit(messageID, body, replacedAt) VALUES (?, ?, ?)",
                           arguments: [message.id, message.body, time])
            message.body = body
            message.editedAt = time
            try message.update(db)
            if let sending { try Self.queue(stanzaID: sending.stanzaID, xml: sending.xml, in: db) }
            return message
        }
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

    // MARK: Address book

    /// Adds or replaces entries by UID, in one transaction (a re-import changes nothing twice).
    public func saveAddressBook(_ entries: [AddressBookEntry]) throws(StoreError) {
        try writing { db in for entry in entries { try entry.save(db) } }
    }

    public func addressBook() throws(StoreError) -> [AddressBookEntry] {
        return try reading { db in
            try AddressBookEntry.order(Column("name").collating(.localizedCaseInsensitiveCompare)).fetchAll(db)
        }
    }

    @discardableResult
    public func removeAddressBookEntry(uid: String) throws(StoreError) -> Bool {
        return try writing { db in try AddressBookEntry.deleteOne(db, key: uid) }
    }

    // MARK: State

    /// The SQLite journal mode ("wal" for an on-disk store).
    public func journalMode() throws(StoreError) -> String {
        return try reading { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "" }
    }

    public var archiveCursor: String? {
        get throws(StoreError) { try state("archiveCursor") }
    }

    public func setArchiveCursor(_ value: String) throws(StoreError) { try setState("archiveCursor", value) }

    /// The server's version of the stored roster (RFC 6121 2.6), if it keeps versions.
    public var rosterVersion: String? {
        get throws(StoreError) { try state("rosterVersion") }
    }

    private static func setRosterVersion(_ version: String?, in db: Database) throws {
        if let version {
            try setState("rosterVersion", version, in: db)
        } else {
            try db.execute(sql: "DELETE FROM state WHERE key = 'rosterVersion'")
        }
    }

    public func state(_ key: String) throws(StoreError) -> String? {
        try reading { db in try String.fetchOne(db, sql: "SELECT value FROM state WHERE key = ?", arguments: [key]) }
    }

    public func setState(_ key: String, _ value: String) throws(StoreError) {
        try writing { db in try Self.setState(key, value, in: db) }
    }

    private static func setState(_ key: String, _ value: String, in db: Database) throws {
        try db.execute(sql: "INSERT INTO state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       arguments: [key, value])
    }
}

public enum StoreError: Error, Sendable, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case writeFailed(String)
    case readFailed(String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): "Could not open the message store \(path): \(reason)."
        case .writeFailed(let reason): "Could not write to the message store: \(reason)."
        case .readFailed(let reason): "Could not read the message store: \(reason)."
        }
    }
}
