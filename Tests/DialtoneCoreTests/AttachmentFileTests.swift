@testable import DialtoneCore
import DialtoneStore
import XCTest

/// What the screen shows for an attachment is what is saved and opened: the link's own last
/// path component cannot put "x.desktop" behind an "invoice.pdf".
final class AttachmentFileTests: XCTestCase {
    func testTheFileIsSavedUnderTheNameShownNotTheLinks() {
        let file = AttachmentFile(Attachment(url: "https://files.example/abc/x.desktop", mediaType: "application/pdf", name: "invoice.pdf"))
        XCTAssertEqual(file.displayName, "invoice.pdf")
        XCTAssertEqual(file.fileName, "invoice.pdf")
        XCTAssertEqual(file.label, "invoice.pdf (application/pdf)")
    }

    func testWithoutANameTheLinksLastComponentIsShownAndUsed() {
        let file = AttachmentFile(Attachment(url: "https://files.example/abc/photo%20of%20us.jpg"))
        XCTAssertEqual(file.displayName, "photo of us.jpg")
        XCTAssertEqual(file.fileName, "photo of us.jpg")
    }

    func testANameCannotLeaveTheFolderHideOrReorderItself() {
        XCTAssertEqual(AttachmentFile(Attachment(url: "https://h/a", name: "../../x.pdf")).fileName, "download.._.._x.pdf")
        XCTAssertEqual(AttachmentFile(Attachment(url: "https://h/a", name: ".bashrc")).fileName, "download.bashrc")
        XCTAssertEqual(AttachmentFile(Attachment(url: "https://h/a", name: "  ")).fileName, "attachment")
        // A right-to-left override would draw "invoice\u{202E}fdp.exe" as "invoiceexe.pdf".
        let reordered = AttachmentFile(Attachment(url: "https://h/a", name: "invoice\u{202E}fdp.exe"))
        XCTAssertEqual(reordered.displayName, "invoicefdp.exe")
        XCTAssertEqual(reordered.fileName, reordered.displayName)
        let long = AttachmentFile(Attachment(url: "https://h/a", name: String(repeating: "é", count: 300) + ".pdf")).fileName
        XCTAssertLessThanOrEqual(long.utf8.count, 200)
        XCTAssertTrue(long.hasSuffix("é.pdf"), "a long name keeps its extension")
    }

    func testClaimedTextGoesToThePagerOnlyWhenTheBytesAreText() {
        let note = AttachmentFile(Attachment(url: "https://h/n", mediaType: "text/plain", name: "note"))
        XCTAssertEqual(note.opening(for: Array("eggs\tflour\r\nsugar — ünd\u{C}\n".utf8)), .pager)
        XCTAssertEqual(note.opening(for: []), .pager)
        XCTAssertEqual(note.opening(for: [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0]), .notOpened("note is said to be text, but it is not."))
        XCTAssertNotEqual(note.opening(for: Array("\u{1B}]52;c;AAAA\u{7}".utf8)), .pager, "escape sequences would drive the terminal")
        XCTAssertNotEqual(note.opening(for: Array("a\u{9B}31m".utf8)), .pager, "C1 controls too")
        XCTAssertNotEqual(note.opening(for: [0x61, 0xFF, 0x62]), .pager, "not UTF-8")
        // A name that says text is a claim too.
        XCTAssertNotEqual(AttachmentFile(Attachment(url: "https://h/list.txt")).opening(for: [0, 1, 2]), .pager)
        XCTAssertEqual(AttachmentFile(Attachment(url: "https://h/list.txt")).opening(for: Array("milk\n".utf8)), .pager)
    }

    func testANameAndATypeThatDisagreeAreNotOpened() {
        let opening = AttachmentFile(Attachment(url: "https://h/a", mediaType: "image/png", name: "invoice.pdf")).opening(for: [1, 2])
        XCTAssertEqual(opening, .notOpened("invoice.pdf is said to be image/png, which its name does not match."))
        for (type, name) in [("image/jpeg", "cat.jpg"), ("image/jpg", "cat.jpeg"), ("audio/opus", "voice.ogg"),
                             ("application/pdf", "invoice.pdf"), ("application/octet-stream", "photo.png"), ("application/zip", "data.zip")] {
            XCTAssertEqual(AttachmentFile(Attachment(url: "https://h/a", mediaType: type, name: name)).opening(for: [1, 2]), .viewer, "\(type) \(name)")
        }
    }

    func testProgramsAndLaunchersAreNotOpened() {
        for name in ["x.desktop", "run.sh", "tool.AppImage"] {
            let opening = AttachmentFile(Attachment(url: "https://h/\(name)")).opening(for: Array("[Desktop Entry]\n".utf8))
            XCTAssertFalse(DownloadedAttachment(file: AttachmentFile(Attachment(url: "https://h/\(name)")), path: "/x", opening: opening).opens, name)
        }
    }

    func testAPlainHTTPDownloadCarriesAWarning() {
        let plain = DownloadedAttachment(file: AttachmentFile(Attachment(url: "http://h/cat.jpg")), path: "/x", opening: .viewer)
        XCTAssertEqual(plain.warning, "cat.jpg came over plain http: it was not encrypted, and anyone on the way could have changed it.")
        XCTAssertNil(DownloadedAttachment(file: AttachmentFile(Attachment(url: "https://h/cat.jpg")), path: "/x", opening: .viewer).warning)
    }
}
