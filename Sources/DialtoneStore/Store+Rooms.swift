import Foundation
import GRDB

/// A group chat the account knows (XEP-0045): bookmarked on the server (XEP-0402), or joined
/// from this device. Kept so that a conversation's address is known to be a room after a
/// restart (its messages go as groupchat, its list entry is marked), and so that the room's
/// archive is caught up from where we left it.
public struct RoomRecord: Sendable, Equatable {
    /// The room's bare address.
    public var jid: String
    /// Our nick there.
    public var nick: String
    public var password: String?
    /// The name the bookmark gives it.
    public var name: String?
    /// Joined at start on every device (the bookmark's autojoin).
    public var autojoin: Bool
    /// The room's subject, as the room last set it.
    public var subject: String?
    /// The room archive's id of the newest message stored from it: catch-up starts after it.
    public var archiveCursor: String?

    public init(jid: String, nick: String, password: String? = nil, name: String? = nil, autojoin: Bool = false,
                subject: String? = nil, archiveCursor: String? = nil) {
        self.jid = jid
        self.nick = nick
        self.password = password
        self.name = name
        self.autojoin = autojoin
        self.subject = subject
        self.archiveCursor = archiveCursor
    }
}

extension Store {
    static func registerRooms(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v16: rooms") { db in
            try db.create(table: "room") { t in
                t.primaryKey("jid", .text)
                t.column("nick", .text).notNull()
                t.column("password", .text)
                t.column("name", .text)
                t.column("autojoin", .boolean).notNull().defaults(to: false)
                t.column("subject", .text)
                t.column("archiveCursor", .text)
            }
        }
    }

    static func registerModeration(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v17: moderation") { db in
            try db.alter(table: "message") { t in t.add(column: "moderation", .text) }
        }
    }

    public func rooms() throws(StoreError) -> [RoomRecord] {
        try reading { db in try Row.fetchAll(db, sql: "SELECT * FROM room ORDER BY jid").map(Self.room) }
    }

    public func room(_ jid: String) throws(StoreError) -> RoomRecord? {
        try reading { db in try Row.fetchOne(db, sql: "SELECT * FROM room WHERE jid = ?", arguments: [jid]).map(Self.room) }
    }

    /// Adds or replaces a room's settings (nick, password, name, autojoin); its subject and
    /// archive cursor stay as they were.
    public func saveRoom(_ room: RoomRecord) throws(StoreError) {
        try writing { db in
            try db.execute(sql: """
                INSERT INTO room (jid, nick, password, name, autojoin) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(jid) DO UPDATE SET nick = excluded.nick, password = excluded.password, name = excluded.name,
                    autojoin = excluded.autojoin
                """, arguments: [room.jid, room.nick, room.password, room.name, room.autojoin])
        }
    }

    public func setRoomSubject(_ subject: String?, of jid: String) throws(StoreError) {
        try writing { db in try db.execute(sql: "UPDATE room SET subject = ? WHERE jid = ?", arguments: [subject, jid]) }
    }

    public func setRoomArchiveCursor(_ cursor: String, of jid: String) throws(StoreError) {
        // Written after each batch of a busy room: compiled once.
        try writing { db in try db.cachedStatement(sql: "UPDATE room SET archiveCursor = ? WHERE jid = ?").execute(arguments: [cursor, jid]) }
    }

    /// Forgets a room (its history stays, as a conversation's does).
    public func removeRoom(_ jid: String) throws(StoreError) {
        try writing { db in try db.execute(sql: "DELETE FROM room WHERE jid = ?", arguments: [jid]) }
    }

    /// Whether we sent a message with this origin-id in `room`'s conversation.
    public func weSent(originID: String, in room: String) throws(StoreError) -> Bool {
        try reading { db in
            try Bool.fetchOne(db, sql: """
                SELECT EXISTS(SELECT 1 FROM message JOIN conversation ON conversation.id = message.conversationID
                              WHERE conversation.peer = ? AND message.direction = 'outgoing' AND message.dedupeKey = ?)
                """, arguments: [room, originID]) ?? false
        }
    }

    /// Whether `peer` is a room the store knows (its senders are occupants, room/nick).
    static func isRoom(_ peer: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM room WHERE jid = ?)"), arguments: [peer]) ?? false
    }

    private static func room(_ row: Row) -> RoomRecord {
        RoomRecord(jid: row["jid"], nick: row["nick"], password: row["password"], name: row["name"], autojoin: row["autojoin"],
                   subject: row["subject"], archiveCursor: row["archiveCursor"])
    }
}
