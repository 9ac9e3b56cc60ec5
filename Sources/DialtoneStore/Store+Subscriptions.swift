import Foundation
import GRDB

/// Someone who asked to see the user's presence (RFC 6121 §3.1) and has had no answer yet: kept
/// until the user accepts or denies, across restarts, shown once however often they ask.
public struct SubscriptionRequest: Sendable, Equatable {
    /// Their bare address.
    public var jid: String
    /// The nickname they gave (XEP-0172), their claim.
    public var nick: String?
    public var receivedAt: Date

    public init(jid: String, nick: String?, receivedAt: Date) {
        self.jid = jid
        self.nick = nick
        self.receivedAt = receivedAt
    }
}

extension Store {
    static func registerSubscriptions(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v10: subscription requests") { db in
            try db.create(table: "subscription_request") { t in
                t.primaryKey("jid", .text)
                t.column("nick", .text)
                t.column("receivedAt", .datetime).notNull()
                // Set when the user said no: later requests from them are not shown again.
                t.column("deniedAt", .datetime)
            }
            try db.alter(table: "contact") { t in t.add(column: "asked", .boolean).notNull().defaults(to: false) }
        }
        migrator.registerMigration("v11: nicknames") { db in
            try db.create(table: "nickname") { t in
                t.primaryKey("jid", .text)
                t.column("nick", .text).notNull()
                t.column("updatedAt", .datetime).notNull()
            }
        }
    }

    /// The nicknames people gave for themselves (XEP-0172), newest kept: shown, marked as
    /// theirs, for addresses in neither the roster nor the address book.
    public func rememberNicknames(_ nicknames: [(jid: String, nick: String)], at time: Date) throws(StoreError) {
        guard !nicknames.isEmpty else { return }
        try writing { db in
            for (jid, nick) in nicknames {
                try db.execute(sql: "INSERT OR REPLACE INTO nickname (jid, nick, updatedAt) VALUES (?, ?, ?)", arguments: [jid, nick, time])
            }
        }
    }

    public func nicknames() throws(StoreError) -> [String: String] {
        try reading { db in
            Dictionary(try Row.fetchAll(db, sql: "SELECT jid, nick FROM nickname").map { ($0["jid"] as String, $0["nick"] as String) }) { a, _ in a }
        }
    }

    /// Keeps a request; true if it is new — not waiting already, and not from someone the user
    /// denied — so that a stranger repeating it is shown once.
    @discardableResult
    public func recordSubscriptionRequest(from jid: String, nick: String?, at time: Date) throws(StoreError) -> Bool {
        try writing { db in
            try db.execute(sql: "INSERT OR IGNORE INTO subscription_request (jid, nick, receivedAt) VALUES (?, ?, ?)",
                           arguments: [jid, nick, time])
            return db.changesCount > 0
        }
    }

    /// Unanswered requests, oldest first.
    public func subscriptionRequests() throws(StoreError) -> [SubscriptionRequest] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT * FROM subscription_request WHERE deniedAt IS NULL ORDER BY receivedAt, jid").map { row in
                SubscriptionRequest(jid: row["jid"], nick: row["nick"], receivedAt: row["receivedAt"])
            }
        }
    }

    /// Whether `jid` waits for an answer.
    public func hasSubscriptionRequest(from jid: String) throws(StoreError) -> Bool {
        try reading { db in try Self.waiting(jid, in: db) }
    }

    /// The request is accepted, or withdrawn by its sender, or the user added them after all:
    /// forgotten, a denial included. True if one was waiting.
    @discardableResult
    public func removeSubscriptionRequest(from jid: String) throws(StoreError) -> Bool {
        try writing { db in
            let waiting = try Self.waiting(jid, in: db)
            try db.execute(sql: "DELETE FROM subscription_request WHERE jid = ?", arguments: [jid])
            return waiting
        }
    }

    /// The user said no: their request is no longer shown, nor any they send after it.
    public func denySubscriptionRequest(from jid: String, at time: Date) throws(StoreError) {
        try writing { db in
            try db.execute(sql: "INSERT INTO subscription_request (jid, nick, receivedAt, deniedAt) VALUES (?, NULL, ?, ?) "
                               + "ON CONFLICT(jid) DO UPDATE SET deniedAt = excluded.deniedAt",
                           arguments: [jid, time, time])
        }
    }

    private static func waiting(_ jid: String, in db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM subscription_request WHERE jid = ? AND deniedAt IS NULL", arguments: [jid]) ?? false
    }
}
