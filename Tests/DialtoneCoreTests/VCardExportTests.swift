@testable import DialtoneCore
import DialtoneStore
import XCTest

/// Address books as phones and mail programs export them (Fixtures/exports: one file each, shaped
/// like Android's, Outlook's, iCloud's, Google's and Thunderbird's exports).
final class VCardExportTests: XCTestCase {
    private static let exports = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/exports").path

    /// The cards of one export, read from its bytes as the importer reads them (UTF-8, else Windows-1252).
    private func cards(_ file: String) throws -> [ContactCard] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.exports + "/" + file))
        let text = try XCTUnwrap(String(data: data, encoding: .utf8) ?? String(data: data, encoding: .windowsCP1252))
        return VCard.parse(text)
    }

    func testAndroidVCard21QuotedPrintableUTF8() throws {
        let cards = try cards("android.vcf")
        XCTAssertEqual(cards.map(\.name), ["Jürgen Müller", "山田花子 🌸 Sakura Yamada", "François"],
                       "quoted-printable UTF-8 decoded, soft line breaks joined, N used without FN")
        XCTAssertEqual(cards[0].phones.map(\.number), ["+1 555-010-0300", "555-010-0301"])
        XCTAssertEqual(cards[0].phones.first?.label, "cell")
    }

    func testOutlookVCard21InWindows1252() throws {
        let cards = try cards("outlook.vcf")
        XCTAssertEqual(cards.map(\.name), ["Zoë Größe"])
        XCTAssertEqual(cards[0].phones.map(\.number), ["(555) 010-0400", "555 010 0401"])
    }

    func testICloudVCard30() throws {
        let cards = try cards("icloud.vcf")
        XCTAssertEqual(cards.map(\.name), ["Síle O’Brien"])
        XCTAssertEqual(cards[0].phones.map(\.number), ["+353 1 234 5678", "(555) 010-0500"])
        XCTAssertEqual(cards[0].jids, ["sile@example.ie"])
    }

    func testGoogleVCard30() throws {
        let cards = try cards("google.vcf")
        XCTAssertEqual(cards.map(\.name), ["Dr. Ngozi Okonkwo, MD"])
        XCTAssertEqual(cards[0].phones.map(\.number), ["+234 802 123 4567", "555-010-0600"])
    }

    func testThunderbirdVCard40() throws {
        let cards = try cards("thunderbird.vcf")
        XCTAssertEqual(cards.map(\.name), ["Björn Åström"])
        XCTAssertEqual(cards[0].phones.map(\.number), ["+46 70 123 45 67", "+1-555-010-0700"])
        XCTAssertEqual(cards[0].jids, ["bjorn@example.se"])
    }

    /// What a user sees after `contacts import`: the stored names, from every export at once.
    func testImportedNamesAreDecoded() throws {
        let book = AddressBook(store: try Store(), country: "US")
        let result = try book.importContacts(from: Self.exports)
        XCTAssertEqual(result.cards, 7)
        let names = Set(try book.store.addressBook().map(\.name))
        XCTAssertTrue(names.isSuperset(of: ["Jürgen Müller", "Zoë Größe", "Síle O’Brien", "Björn Åström"]), "\(names)")
        XCTAssertFalse(names.contains { $0.contains("=C3") || $0.contains("=F6") }, "\(names)")
    }

    func testQuotedPrintableEdgeCases() {
        XCTAssertEqual(QuotedPrintable.decode("a=3Db", charset: nil), "a=b")
        XCTAssertEqual(QuotedPrintable.decode("50=", charset: nil), "50=", "a stray = is kept")
        XCTAssertEqual(QuotedPrintable.decode("=ZZ", charset: "utf-8"), "=ZZ")
        XCTAssertEqual(QuotedPrintable.decode("=E9t=E9", charset: "ISO-8859-1"), "été")
        XCTAssertEqual(QuotedPrintable.decode("=E9t=E9", charset: "x-unknown"), "été", "unknown charset: Windows-1252 after UTF-8 fails")
        XCTAssertEqual(QuotedPrintable.decode("=C3", charset: "utf-8"), "Ã", "invalid UTF-8 falls back instead of vanishing")
    }
}
