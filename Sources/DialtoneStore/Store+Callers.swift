import GRDB

/// Whether an address is someone the user knows: asked for every stranger's call, so it is an
/// indexed lookup, not a read of the whole roster and address book.
extension Store {
    /// True when `address` (a bare JID) is in the roster or on an address book card.
    public func isKnown(_ address: String) throws(StoreError) -> Bool {
        try reading { db in
            try Bool.fetchOne(db.cachedStatement(sql: Self.knownAddressQuery), arguments: [address]) ?? false
        }
    }

    static let knownAddressQuery = """
        SELECT EXISTS(SELECT 1 FROM contact WHERE jid = ?1) OR EXISTS(SELECT 1 FROM addressbook_jid WHERE jid = ?1)
        """

    /// The address book's JIDs, one row each, kept by triggers in step with the cards (whose
    /// `jids` column is a JSON array), so that a JID is found through an index.
    static func registerAddressBookIndex(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v7: address book index") { db in
            try db.execute(sql: """
                CREATE TABLE addressbook_jid (
                    jid TEXT NOT NULL,
                    uid TEXT NOT NULL REFERENCES addressbook(uid) ON DELETE CASCADE,
                    PRIMARY KEY (jid, uid)
                ) WITHOUT ROWID;
                CREATE INDEX addressbook_jid_by_uid ON addressbook_jid(uid);
                INSERT OR IGNORE INTO addressbook_jid (jid, uid)
                    SELECT json_each.value, addressbook.uid FROM addressbook, json_each(addressbook.jids);
                CREATE TRIGGER addressbook_jid_insert AFTER INSERT ON addressbook BEGIN
                    INSERT OR IGNORE INTO addressbook_jid (jid, uid) SELECT value, new.uid FROM json_each(new.jids);
                END;
                CREATE TRIGGER addressbook_jid_update AFTER UPDATE ON addressbook BEGIN
                    DELETE FROM addressbook_jid WHERE uid = old.uid;
                    INSERT OR IGNORE INTO addressbook_jid (jid, uid) SELECT value, new.uid FROM json_each(new.jids);
                END;
                CREATE TRIGGER addressbook_jid_delete AFTER DELETE ON addressbook BEGIN
                    DELETE FROM addressbook_jid WHERE uid = old.uid;
                END;
                """)
        }
    }
}
