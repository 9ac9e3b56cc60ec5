@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import XCTest

final class AddressBookTests: XCTestCase {
    private var fixtures: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }

    func testVCardThreeAndFourOfRealWorldShape() throws {
        let cards = VCard.parse(try String(contentsOfFile: fixtures + "/vdir/juergen.vcf", encoding: .utf8)
            + String(contentsOfFile: fixtures + "/vdir/bruce.vcf", encoding: .utf8))
        XCTAssertEqual(cards.map(\.name), ["Jürgen Müller", "李小龍"], "a card without numbers or addresses is left out")
        XCTAssertEqual(cards[0].uid, "1A2B-3C4D")
        XCTAssertEqual(cards[0].phones.map(\.number), ["(555) 123-4567", "+44 20 7946 0958", "555.123.4567"])
        XCTAssertEqual(cards[0].phones.first?.label, "cell")
        XCTAssertEqual(cards[0].jids, ["juergen@example.org"])
        XCTAssertEqual(cards[1].phones.map(\.number), ["+1-555-987-6543"])
        XCTAssertEqual(cards[1].jids, ["bruce@example.com"], "sip: IMPP is not an XMPP address")
    }

    func testCSVFromGoogleContacts() throws {
        let cards = try CSVContacts.parse(String(contentsOfFile: fixtures + "/google.csv", encoding: .utf8))
        XCTAssertEqual(cards.map(\.name), ["Alice Anderson", "Bob \"The Builder\" Brown", "Carol Chen"])
        XCTAssertEqual(cards[0].phones.map(\.number), ["+1 555-111-0000", "(555) 111-9999", "555-222-3333"])
        XCTAssertEqual(cards[0].phones.map(\.label), ["mobile", "mobile", "work"])
    }

    func testImportingADirectoryTwiceChangesNothing() throws {
        let book = AddressBook(store: try Store(), country: "US")
        let first = try book.importContacts(from: fixtures + "/vdir")
        XCTAssertEqual(first.cards, 2)
        let entries = try book.store.addressBook()
        XCTAssertEqual(entries.first { $0.name == "Jürgen Müller" }?.phones, ["+15551234567", "+442079460958"],
                       "two ways of writing one number are one number")
        _ = try book.importContacts(from: fixtures + "/vdir")
        XCTAssertEqual(try book.store.addressBook(), entries)
    }

    func testAddRenameRemoveAndExportRoundTrip() throws {
        let book = AddressBook(store: try Store(), country: "US")
        try book.add(name: "Dora", addresses: ["(555) 010-0001", "dora@example.net"])
        try book.rename("dora", to: "Dora Explorer")
        let exported = try book.exportVCard()
        let reimported = AddressBook(store: try Store(), country: "US")
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString).vcf").path
        try exported.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        _ = try reimported.importContacts(from: file)
        XCTAssertEqual(try reimported.store.addressBook(), try book.store.addressBook())
        try book.remove("Dora Explorer")
        XCTAssertTrue(try book.store.addressBook().isEmpty)
        XCTAssertThrowsError(try book.remove("Nobody"))
    }

    func testNamesEverywhereANumberOrAddressAppears() throws {
        let store = try Store()
        let book = AddressBook(store: store, country: "US")
        _ = try book.importContacts(from: fixtures + "/google.csv")
        let names = DisplayNames(contacts: [Contact(jid: "eve@example.org", name: "Eve (roster)", subscription: "both", groups: [])],
                                 addressBook: try store.addressBook(), gateway: JID(verified: "cheogram.com"), country: "US")
        XCTAssertEqual(names.name(for: "+15551110000@cheogram.com"), "Alice Anderson")
        XCTAssertEqual(names.name(for: "+15559998888@cheogram.com/phone"), "(555) 999-8888", "unknown numbers formatted")
        XCTAssertEqual(names.name(for: "+15551110000,+15554445555,+15559998888@cheogram.com"),
                       "Alice Anderson, Bob \"The Builder\" Brown, (555) 999-8888")
        XCTAssertEqual(names.name(for: "eve@example.org"), "Eve (roster)")
        XCTAssertEqual(names.name(for: "stranger@example.org"), "stranger@example.org")
        // What Tab offers: every name once, the roster's beside the address book's.
        XCTAssertTrue(names.allNames.contains("Eve (roster)"))
        XCTAssertTrue(names.allNames.contains("Alice Anderson"))
        XCTAssertEqual(names.allNames.count, Set(names.allNames).count)
        XCTAssertEqual(names.annotate("Call Bob at 555-444-5555 or xmpp:eve@example.org, not 555-000-1111"),
                       "Call Bob at 555-444-5555 (Bob \"The Builder\" Brown) or xmpp:eve@example.org (Eve (roster)), not 555-000-1111")
        XCTAssertEqual(names.annotate("tel:+15556667777"), "tel:+15556667777 (Carol Chen)")
    }

    func testRecipientByAddressBookName() throws {
        let store = try Store()
        _ = try AddressBook(store: store, country: "US").importContacts(from: fixtures + "/google.csv")
        let resolver = RecipientResolver(gateway: JID(verified: "cheogram.com"), country: "US")
        let parsed = try resolver.parse("carol chen", contacts: [], addressBook: try store.addressBook())
        XCTAssertEqual(try resolver.localAddress(for: parsed).description, "+15556667777@cheogram.com")
    }
}
