import Foundation
import GRDB

/// Stanzas that must reach the server but are no message of their own in the history
/// (corrections, XEP-0308): they wait here, as outbox rows do, until the server confirms them.
extension Store {
    static func registerQueuedStanzas(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v8: queued stanzas") { db in
            try db.create(table: "queued_stanza") { t in
                t.primaryKey("stanzaID", .text)
                t.column("stanzaXML", .text).notNull()
                t.column("queuedAt", .datetime).notNull()
            }
        }
    }

    static func queue(stanzaID: String, xml: String, in db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO queued_stanza (stanzaID, stanzaXML, queuedAt) VALUES (?, ?, ?)",
                       arguments: [stanzaID, xml, Date()])
    }

    /// What still waits for the server's confirmation, oldest first.
    public func queuedStanzas() throws(StoreError) -> [String] {
        try reading { db in try String.fetchAll(db, sql: "SELECT stanzaXML FROM queued_stanza ORDER BY rowid") }
    }

    static func settleQueued(stanzaID: String, in db: Database) throws {
        try db.execute(sql: "DELETE FROM queued_stanza WHERE stanzaID = ?", arguments: [stanzaID])
    }
}
