@testable import DialtoneCore
@testable import DialtoneStore
import DialtoneXMPP
import GRDB
import Synchronization
import XCTest

/// The caller check runs for every propose, a stranger's flood included: it must look the
/// caller up, not read the whole roster and address book each time.
final class CallerPolicyTests: XCTestCase {
    func testAStrangersProposeCostsALookupNotAReadOfEverything() throws {
        let store = try Store()
        try store.replaceContacts((0..<500).map { Contact(jid: "c\($0)@example.org", name: nil, subscription: "both", groups: []) })
        try store.saveAddressBook((0..<500).map { AddressBookEntry(uid: "\($0)", name: "P\($0)", phones: [], jids: ["p\($0)@example.org"]) })
        let policy = CallerPolicy(store: store, gateway: nil, anyone: false)

        let statements = Statements()
        store.database.writeWithoutTransaction { db in db.trace { statements.append($0.description) } }
        XCTAssertFalse(policy.mayCall(JID(verified: "stranger@evil.example/x")))
        XCTAssertTrue(policy.mayCall(JID(verified: "c7@example.org/phone")))
        XCTAssertTrue(policy.mayCall(JID(verified: "p499@example.org/phone")))
        store.database.writeWithoutTransaction { db in db.trace(nil) }

        let reads = statements.all.filter { $0.uppercased().hasPrefix("SELECT") }
        XCTAssertFalse(reads.isEmpty)
        for read in reads {
            XCTAssertTrue(read.uppercased().contains("WHERE"), "a read of a whole table: \(read)")
        }
    }
}

private final class Statements: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ sql: String) { list.withLock { $0.append(sql) } }
    var all: [String] { list.withLock { $0 } }
}
