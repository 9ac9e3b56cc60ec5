@testable import DialtoneCore
import XCTest

/// Dial strings as phones write them: the number, then `,` (a two-second pause), `;` (wait
/// for the user) and DTMF digits.
final class DialStringTests: XCTestCase {
    func testNumberPausesAndDigits() {
        let dial = DialString("+1 800 555 0199,,1234#")
        XCTAssertEqual(dial.number, "+1 800 555 0199")
        XCTAssertEqual(dial.steps, [.pause(seconds: 2), .pause(seconds: 2), .digits("1234#")])
    }

    func testWaitForTheUserSplitsTheDigits() {
        let dial = DialString("(555) 010-0199;12,3-4 *")
        XCTAssertEqual(dial.number, "(555) 010-0199")
        XCTAssertEqual(dial.steps, [.waitForUser, .digits("12"), .pause(seconds: 2), .digits("34*")],
                       "spaces and dashes inside the digits are ignored")
    }

    func testPlainNumbersHaveNoSteps() {
        XCTAssertEqual(DialString("+15550100199"), DialString(number: "+15550100199", steps: []))
        XCTAssertFalse(DialString.hasDTMF("+15550100199"))
    }

    /// A comma is also how group texts are written: only a number followed by dial characters is a dial string.
    func testGroupTextsAndNamesAreNotDialStrings() {
        XCTAssertTrue(DialString.hasDTMF("555 0100,,1#"))
        XCTAssertTrue(DialString.hasDTMF("555 0100;"))
        XCTAssertFalse(DialString.hasDTMF("+15550100199,+15550100200@cheogram.com"))
        XCTAssertFalse(DialString.hasDTMF("Grace, Alan"))
        XCTAssertFalse(DialString.hasDTMF("555 0100, Alan"))
        XCTAssertFalse(DialString.hasDTMF(",123"), "no number before the comma")
    }
}
