import DialtoneTUI
import XCTest

final class TerminalWidthTests: XCTestCase {
    override func setUp() { TerminalWidth.prepareLocale() }

    func testClustersMeasureAsTheTerminalDrawsThem() {
        XCTAssertEqual(TerminalWidth.columns(of: "abc"), 3)
        XCTAssertEqual(TerminalWidth.columns(of: "李小龍"), 6, "wide CJK takes two columns each")
        XCTAssertEqual(TerminalWidth.columns(of: "e\u{301}"), 1, "a combining mark adds nothing")
        XCTAssertEqual(TerminalWidth.columns(of: "😀"), 2)
        XCTAssertEqual(TerminalWidth.columns(of: "❤\u{FE0F}"), 2, "emoji presentation selector")
        XCTAssertEqual(TerminalWidth.columns(of: "👩‍👩‍👧"), 2, "a ZWJ family is one picture")
        XCTAssertEqual(TerminalWidth.columns(of: "🇩🇪"), 2, "a flag")
        XCTAssertEqual(TerminalWidth.columns(of: "한국어"), 6)
    }

    func testFitNeverCutsAWideCharacterInHalf() {
        XCTAssertEqual(TerminalWidth.fit("李小龍", to: 5), "李小 ")
        XCTAssertEqual(TerminalWidth.truncate("Jürgen Müller", to: 8), "Jürgen …")
        XCTAssertEqual(TerminalWidth.truncate("Bob", to: 8), "Bob")
    }
}
