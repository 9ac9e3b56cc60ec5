import Foundation
import GRDB

/// A correction (XEP-0308) the server has not confirmed: no message of its own in the history
/// (the corrected text is already in place there), so it waits here, as outbox rows do, until
/// the server has it. Kept as values, not as a stanza: each time it goes it is built again,
/// so what a later version adds on the way out (encryption) applies to it too.
public struct PendingCorrection: Sendable, Equatable {
    /// The correction's own stanza id (and origin-id): what the server's ack names.
    public var stanzaID: String
    /// The conversation's address.
    public var peer: String
    /// The stanza id of the message it corrects.
    public var replacesID: String
    public var body: String
    public var queuedAt: Date
    /// A correction (XEP-0308), or a retraction (XEP-0424, `body` unused).
    public var retracts: Bool
    /// Our reactions (XEP-0444) to message `replacesID`: `body` holds them, one a line.
    public var reacts: Bool

    public init(stanzaID: String, peer: String, replacesID: String, body: String, queuedAt: Date, retracts: Bool = false,
                reacts: Bool = false) {
        self.stanzaID = stanzaID
        self.peer = peer
        self.replacesID = replacesID
        self.body = body
        self.queuedAt = queuedAt
        self.retracts = retracts
        self.reacts = reacts
    }
}

extension Store {
    static func registerPendingCorrections(in migrator: inout DatabaseMigrator) {
        // Version 8 kept corrections as serialized stanzas; databases that have some keep the
        // table until `adoptQueuedStanzas` has turned them into values.
        migrator.registerMigration("v8: queued stanzas") { db in
            try db.create(table: "queued_stanza") { t in
                t.primaryKey("stanzaID", .text)
                t.column("stanzaXML", .text).notNull()
                t.column("queuedAt", .datetime).notNull()
            }
        }
        migrator.registerMigration("v9: pending corrections") { db in
            try db.create(table: "pending_correction") { t in
                t.primaryKey("stanzaID", .text)
                t.column("peer", .text).notNull()
                t.column("replacesID", .text).notNull()
                t.column("body", .text).notNull()
                t.column("queuedAt", .datetime).notNull()
            }
        }
    }

    static func registerRetractions(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v12: retractions") { db in
            try db.alter(table: "pending_correction") { t in t.add(column: "retracts", .boolean).notNull().defaults(to: false) }
            try db.alter(table: "message") { t in t.add(column: "retractedAt", .datetime) }
        }
        // Every acknowledgement from the server, receipt and read marker looks our messages up
        // by stanza id: without an index each one read the whole table (a third of a core at
        // 1,000,000 messages, bench-tui 2026-12-07). Our own messages only: bursts of incoming
        // ones pay nothing for it.
        migrator.registerMigration("v13: our messages by stanza id") { db in
            try db.execute(sql: "CREATE INDEX message_outgoing_by_stanza_id ON message(stanzaID) WHERE direction = 'outgoing'")
        }
        migrator.registerMigration("v14: replies and reactions") { db in
            try db.alter(table: "message") { t in
                t.add(column: "reply", .text)
                t.add(column: "reactions", .text)
            }
            try db.alter(table: "pending_correction") { t in t.add(column: "reacts", .boolean).notNull().defaults(to: false) }
        }
        // Reading a conversation asked whether its newest message wants a read marker by
        // parsing its stanza each time; the answer is kept as the message is stored.
        migrator.registerMigration("v15: markable") { db in
            try db.alter(table: "message") { t in t.add(column: "markable", .boolean) }
        }
    }

    static func queue(_ correction: PendingCorrection, in db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO pending_correction (stanzaID, peer, replacesID, body, queuedAt, retracts, reacts)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """, arguments: [correction.stanzaID, correction.peer, correction.replacesID, correction.body, correction.queuedAt,
                            correction.retracts, correction.reacts])
    }

    /// Corrections still waiting for the server's confirmation, oldest first.
    public func pendingCorrections() throws(StoreError) -> [PendingCorrection] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT * FROM pending_correction ORDER BY rowid").map { row in
                PendingCorrection(stanzaID: row["stanzaID"], peer: row["peer"], replacesID: row["replacesID"],
                                  body: row["body"], queuedAt: row["queuedAt"], retracts: row["retracts"],
                                  reacts: row["reacts"])
            }
        }
    }

    /// Turns corrections an older version queued as stanza text into values, in one
    /// transaction. `read` is the caller's (the store knows no XMPP); a row it cannot read
    /// stays where it is rather than being lost. Returns how many were adopted.
    @discardableResult
    public func adoptQueuedStanzas(_ read: (String) -> PendingCorrection?) throws(StoreError) -> Int {
        try writing { db in
            var adopted = 0
            for row in try Row.fetchAll(db, sql: "SELECT stanzaID, stanzaXML, queuedAt FROM queued_stanza ORDER BY rowid") {
                guard var correction = read(row["stanzaXML"]) else { continue }
                correction.queuedAt = row["queuedAt"]
                try Self.queue(correction, in: db)
                try db.execute(sql: "DELETE FROM queued_stanza WHERE stanzaID = ?", arguments: [row["stanzaID"] as String])
                adopted += 1
            }
            return adopted
        }
    }

    /// Stanza text queued by an older version (tests of the adoption write it this way).
    func queueStanzaText(stanzaID: String, xml: String, at time: Date) throws(StoreError) {
        try writing { db in
            try db.execute(sql: "INSERT OR REPLACE INTO queued_stanza (stanzaID, stanzaXML, queuedAt) VALUES (?, ?, ?)",
                           arguments: [stanzaID, xml, time])
        }
    }

    static func settleQueued(stanzaID: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM pending_correction WHERE stanzaID = ?", arguments: [stanzaID])
        try db.execute(sql: "DELETE FROM queued_stanza WHERE stanzaID = ?", arguments: [stanzaID])
    }
}
