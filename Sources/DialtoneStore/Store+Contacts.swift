import Foundation
import GRDB

// The roster's contacts and the user's address book.

extension Store {
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
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO contact (jid, name, subscription, groups, asked) VALUES (?, ?, ?, ?, ?)")
            let encoder = JSONEncoder()
            for contact in contacts {
                // As the record encodes it: the groups as a JSON array.
                let groups = contact.groups.isEmpty ? "[]" : String(decoding: try encoder.encode(contact.groups), as: UTF8.self)
                try insert.execute(arguments: [contact.jid, contact.name, contact.subscription, groups, contact.asked])
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

    /// The roster's entry for a bare address, if any.
    public func contact(jid: String) throws(StoreError) -> Contact? {
        return try reading { db in try Contact.fetchOne(db, key: jid) }
    }

    public func contacts() throws(StoreError) -> [Contact] {
        return try reading { db in try Contact.order(Column("jid")).fetchAll(db) }
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
}
