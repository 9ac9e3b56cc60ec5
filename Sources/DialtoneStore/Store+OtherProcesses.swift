import GRDB

/// One account's database may be open in several processes at once: the terminal interface,
/// a `listen` for notifications, a `send` from a script. These tell one process what the
/// others wrote.
extension Store {
    /// SQLite's count of commits made by other connections (other processes included) since
    /// this connection opened: it changes exactly when someone else wrote. Read on the writer
    /// connection, so our own writes never change it.
    public func changesByOthers() throws(StoreError) -> Int {
        do {
            return try database.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
        } catch {
            throw .readFailed(String(describing: error))
        }
    }

    /// The highest message row id: where to start looking for others' messages.
    public func newestMessageID() throws(StoreError) -> Int64 {
        try reading { db in try Int64.fetchOne(db, sql: "SELECT MAX(id) FROM message") ?? 0 }
    }

    /// Messages stored after row `id`, oldest first, with their conversations' peers.
    public func messages(after id: Int64, limit: Int = 500) throws(StoreError) -> [(peer: String, message: StoredMessage)] {
        try reading { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT message.*, conversation.peer AS peer FROM message JOIN conversation ON conversation.id = message.conversationID
                WHERE message.id > ? ORDER BY message.id LIMIT ?
                """, arguments: [id, limit])
            return try rows.map { row in (peer: row["peer"], message: try StoredMessage(row: row)) }
        }
    }
}
