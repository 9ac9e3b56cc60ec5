import Foundation
import GRDB

/// One account's history, contacts and outbox in SQLite (WAL, so readers never block the writer).
///
/// Writes that must be durable before we acknowledge anything to the server happen in one
/// transaction per batch: the server's ack waits for the commit, not for each row.
public final class Store: Sendable {
    let database: any DatabaseWriter
    /// The database file; nil in memory. Locks between processes sit beside it.
    let path: String?

    /// Opens (creating if needed) the database at `path`, migrating it to the current schema.
    public init(path: String) throws(StoreError) {
        self.path = path
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
        path = nil
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
        registerPendingCorrections(in: &migrator)
        registerSubscriptions(in: &migrator)
        registerRetractions(in: &migrator)
        registerRooms(in: &migrator)
        registerModeration(in: &migrator)
        registerOMEMO(in: &migrator)
        registerOMEMODecrypted(in: &migrator)
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

    static func setRosterVersion(_ version: String?, in db: Database) throws {
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

    static func setState(_ key: String, _ value: String, in db: Database) throws {
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

extension Store {
    /// SQLite's plan for `sql` (tests check that hot look-ups use their indexes).
    func queryPlan(_ sql: String) throws(StoreError) -> String {
        try reading { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String? ?? "" }.joined(separator: "\n")
        }
    }
}
