import Foundation
import GRDB

/// One call in the call log: who, which way, when, and how it ended.
public struct CallRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "call"

    /// The Jingle session id.
    public var id: String
    public var conversationID: Int64
    /// "incoming" or "outgoing".
    public var direction: String
    /// completed, missed, declined, busy, cancelled, unanswered, elsewhere, failed; nil while it runs.
    public var outcome: String?
    public var reason: String?
    public var startedAt: Date
    public var connectedAt: Date?
    public var endedAt: Date?

    public init(id: String, direction: String, outcome: String?, reason: String?, startedAt: Date,
                connectedAt: Date?, endedAt: Date?) {
        self.id = id
        self.conversationID = 0
        self.direction = direction
        self.outcome = outcome
        self.reason = reason
        self.startedAt = startedAt
        self.connectedAt = connectedAt
        self.endedAt = endedAt
    }

    public var isMissed: Bool { outcome == "missed" }
}

/// A call with the address of its conversation, as the call history lists them.
public struct CallLogEntry: Sendable, Equatable {
    public var peer: String
    public var call: CallRecord
}

extension Store {
    /// Writes a call's current state (it is written again as it changes). A missed call counts
    /// as unread in its conversation, once, and every call brings its conversation to the top.
    public func recordCall(_ record: CallRecord, peer: String) throws(StoreError) {
        try writing { db in
            var record = record
            let previous = try CallRecord.fetchOne(db, key: record.id)
            let newlyMissed = record.isMissed && previous?.isMissed != true
            record.conversationID = try previous?.conversationID
                ?? Self.conversation(for: peer, in: db, touching: record.startedAt, unread: false)
            try record.save(db)
            try db.execute(sql: "UPDATE conversation SET lastActivity = MAX(lastActivity, ?), unread = unread + ? WHERE id = ?",
                           arguments: [record.endedAt ?? record.startedAt, newlyMissed ? 1 : 0, record.conversationID])
        }
    }

    /// The call log, newest first; only `peer`'s calls when given.
    public func calls(peer: String? = nil, limit: Int = 100) throws(StoreError) -> [CallLogEntry] {
        try reading { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT call.*, conversation.peer AS peer FROM call JOIN conversation ON conversation.id = call.conversationID
                WHERE ? IS NULL OR conversation.peer = ? ORDER BY call.startedAt DESC LIMIT ?
                """, arguments: [peer, peer, limit])
            return try rows.map { CallLogEntry(peer: $0["peer"], call: try CallRecord(row: $0)) }
        }
    }
}
