@testable import DialtoneStore
import GRDB
import XCTest

/// `isKnown` answers the caller check for every propose, strangers' included: right, and
/// through indexes rather than a read of the roster and address book.
final class KnownAddressTests: XCTestCase {
    func testRosterAndAddressBookAddressesAreKnownAndFollowChanges() throws {
        let store = try Store()
        try store.replaceContacts([Contact(jid: "ada@example.org", name: "Ada", subscription: "both", groups: [])])
        try store.saveAddressBook([AddressBookEntry(uid: "1", name: "Bob", phones: [], jids: ["bob@example.org", "b@work.example"])])
        XCTAssertTrue(try store.isKnown("ada@example.org"))
        XCTAssertTrue(try store.isKnown("bob@example.org"))
        XCTAssertTrue(try store.isKnown("b@work.example"))
        XCTAssertFalse(try store.isKnown("stranger@evil.example"))

        // A re-import that changes the card's addresses, then its removal.
        try store.saveAddressBook([AddressBookEntry(uid: "1", name: "Bob", phones: [], jids: ["bob@new.example"])])
        XCTAssertFalse(try store.isKnown("bob@example.org"))
        XCTAssertTrue(try store.isKnown("bob@new.example"))
        try store.removeAddressBookEntry(uid: "1")
        XCTAssertFalse(try store.isKnown("bob@new.example"))
        try store.apply(contact: Contact(jid: "ada@example.org", name: nil, subscription: "remove", groups: []))
        XCTAssertFalse(try store.isKnown("ada@example.org"))
    }

    func testTheLookupScansNoTable() throws {
        let store = try Store()
        let plan = try store.database.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + Store.knownAddressQuery, arguments: ["x@example.org"])
                .map { $0["detail"] as String }
        }
        XCTAssertTrue(plan.contains { $0.hasPrefix("SEARCH contact ") }, "\(plan)")
        XCTAssertTrue(plan.contains { $0.hasPrefix("SEARCH addressbook_jid ") }, "\(plan)")
        XCTAssertFalse(plan.contains { $0.hasPrefix("SCAN") && $0 != "SCAN CONSTANT ROW" }, "\(plan)")
    }
}
