@testable import DialtoneCore
import XCTest

/// Nothing from the network reaches the screen with a control character in it: escapes,
/// carriage returns, bidirectional overrides; printable text passes as it came.
final class SanitizerTests: XCTestCase {
    func testPrintableTextIsUnchanged() {
        XCTAssertEqual(Sanitizer.plain("roomburst#12 the market at noon ~ [ok] {x} | ^_^"), "roomburst#12 the market at noon ~ [ok] {x} | ^_^")
        XCTAssertEqual(Sanitizer.plain("Zoë says 日本 👍🏽"), "Zoë says 日本 👍🏽")
        XCTAssertEqual(Sanitizer.plain(""), "")
    }

    func testControlsAreReplacedVisibly() {
        XCTAssertEqual(Sanitizer.plain("a\u{1B}[2Jb"), "a\u{FFFD}[2Jb")
        XCTAssertEqual(Sanitizer.plain("del\u{7F}c1\u{9B}"), "del\u{FFFD}c1\u{FFFD}")
        XCTAssertEqual(Sanitizer.plain("bell\u{07}"), "bell\u{FFFD}")
    }

    func testLineBreaksAreKeptOnlyWhereAsked() {
        XCTAssertEqual(Sanitizer.plain("one\ntwo\r\nthree\tfour"), "one two  three four")
        XCTAssertEqual(Sanitizer.multiline("one\ntwo\rthree\tfour"), "one\ntwo three four")
        XCTAssertEqual(Sanitizer.terminal("a\tb\nc\rd"), "a\tb\nc d")
        XCTAssertEqual(Sanitizer.multiline("line\u{2028}sep"), "line sep")
    }

    func testInvisibleFormattingIsDropped() {
        XCTAssertEqual(Sanitizer.plain("evil\u{202E}txt.exe"), "eviltxt.exe")
        XCTAssertEqual(Sanitizer.plain("zero\u{200B}width\u{FEFF}"), "zerowidth")
        XCTAssertEqual(Sanitizer.plain("👩\u{200D}💻"), "👩\u{200D}💻", "the joiner builds emoji and stays")
    }
}
