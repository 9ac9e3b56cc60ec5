@testable import DialtoneTUI
import XCTest

final class NotifierTests: XCTestCase {
    /// A hostile sender name cannot end the sequence early, start another, or add fields.
    func testNotificationSequencesCarryNoEscapes() {
        let hostile = "Mallory\u{1B}]0;pwned\u{07};\u{9B}31m\nline"
        let osc777 = Notifier.sequence(.osc777, title: hostile, body: "hi; there\u{07}")!
        XCTAssertTrue(osc777.hasPrefix("\u{1B}]777;notify;"))
        XCTAssertTrue(osc777.hasSuffix("\u{07}"))
        let inner = osc777.dropFirst("\u{1B}]777;notify;".count).dropLast()
        XCTAssertFalse(inner.contains("\u{1B}"))
        XCTAssertFalse(inner.contains("\u{07}"))
        XCTAssertFalse(inner.unicodeScalars.contains { $0.value == 0x9B })
        XCTAssertEqual(inner.filter { $0 == ";" }.count, 1, "exactly the title/body separator: \(inner)")
        XCTAssertTrue(inner.contains("Mallory"))
        XCTAssertTrue(inner.contains("hi, there"))

        let osc9 = Notifier.sequence(.osc9, title: "Alice", body: "Lunch?")!
        XCTAssertEqual(osc9, "\u{1B}]9;Alice: Lunch?\u{07}")
        XCTAssertNil(Notifier.sequence(.notifySend, title: "a", body: "b"))
        XCTAssertEqual(Notifier.clean(String(repeating: "x", count: 500)).count, 200)
    }

    /// "9;4;3;1" is a progress command to Windows Terminal and ConEmu, not a notification.
    func testOSC9CarriesNoSubCommand() {
        let osc9 = Notifier.sequence(.osc9, title: "4;3;1@x", body: "2;hello")!
        let payload = osc9.dropFirst("\u{1B}]9;".count).dropLast()
        XCTAssertFalse(payload.contains(";"), String(payload))
        XCTAssertTrue(payload.contains("4,3,1@x"))
    }

    /// notify-send's body is markup: a sender's tags show as text.
    func testNotifySendBodyIsMarkupEscaped() {
        let arguments = Notifier.notifySendArguments(title: "<b>Mallory</b>", body: #"<a href="http://x">win</a> & <img src="y"/>"#)
        XCTAssertEqual(arguments.last, #"&lt;a href="http://x"&gt;win&lt;/a&gt; &amp; &lt;img src="y"/&gt;"#)
        XCTAssertEqual(arguments[arguments.count - 2], "<b>Mallory</b>", "the summary is not markup")
    }
}
