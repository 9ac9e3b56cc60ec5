@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import XCTest

/// Recipients as people type them: the demo's own hints (`/msg Ada`) among them.
final class RecipientResolverTests: XCTestCase {
    private let resolver = RecipientResolver(gateway: JID(verified: "cheogram.com"), country: "US")
    private let book = [
        AddressBookEntry(uid: "1", name: "Ada Lovelace", phones: ["+15550100199"], jids: []),
        AddressBookEntry(uid: "2", name: "Grace Hopper", phones: ["+15550100200"], jids: []),
        AddressBookEntry(uid: "3", name: "Alan Turing", phones: ["+15550100201"], jids: []),
        AddressBookEntry(uid: "4", name: "Jean-Marc Élie", phones: [], jids: ["jm@example.org"]),
    ]
    private let roster = [
        Contact(jid: "bob@example.org", name: "Bob Builder", subscription: "both", groups: []),
        Contact(jid: "bobby@example.org", name: "Bobby Tables", subscription: "both", groups: []),
    ]

    private func address(_ typed: String) throws -> String {
        try resolver.localAddress(for: resolver.parse(typed, contacts: roster, addressBook: book)).description
    }

    func testAUniqueFirstNameOrWordBeginningNamesThePerson() throws {
        XCTAssertEqual(try address("Ada"), "+15550100199@cheogram.com")
        XCTAssertEqual(try address("ada"), "+15550100199@cheogram.com", "case does not count")
        XCTAssertEqual(try address("Love"), "+15550100199@cheogram.com", "the beginning of a later word")
        XCTAssertEqual(try address("Grace H"), "+15550100200@cheogram.com")
        XCTAssertEqual(try address("marc"), "jm@example.org", "words split at hyphens")
        XCTAssertEqual(try address("elie"), "jm@example.org", "accents do not count")
        XCTAssertEqual(try address("Bobby"), "bobby@example.org", "a whole name wins over a longer one it begins")
    }

    func testSeveralMatchesOfferTheChoices() {
        XCTAssertThrowsError(try address("A")) { error in
            XCTAssertEqual(error as? RecipientError, .ambiguous("A", ["Ada Lovelace", "Alan Turing"]))
            XCTAssertTrue(String(describing: error).contains("Ada Lovelace, Alan Turing"), "\(error)")
        }
        XCTAssertThrowsError(try address("bo")) { error in
            XCTAssertEqual(error as? RecipientError, .ambiguous("bo", ["Bob Builder", "Bobby Tables"]))
        }
    }

    func testNumbersAndAddressesAreNotTakenForNames() throws {
        XCTAssertEqual(try address("555 010 0201"), "+15550100201@cheogram.com")
        XCTAssertEqual(try address("bob@example.org"), "bob@example.org")
        XCTAssertThrowsError(try address("Zed")) { error in
            XCTAssertEqual(error as? RecipientError, .unknown("Zed"))
        }
        XCTAssertThrowsError(try address("Adam")) { error in
            XCTAssertEqual(error as? RecipientError, .unknown("Adam"), "typed text longer than the name's word is no match")
        }
    }
}
