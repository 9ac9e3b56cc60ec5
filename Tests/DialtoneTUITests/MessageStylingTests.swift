@testable import DialtoneTUI
import XCTest

/// XEP-0393 as drawn: the directives stay, spans need a non-space after the opening and before
/// the closing directive, blocks and quotes are whole lines, and links are never styled.
final class MessageStylingTests: XCTestCase {
    private func roles(_ line: String) -> [String] {
        MessageStyling.spans(line).map { "\($0.role.rawValue):\($0.text)" }
    }

    func testSpansKeepTheirDirectives() {
        XCTAssertEqual(roles("a *bold* b"), ["text:a ", "strong:*bold*", "text: b"])
        XCTAssertEqual(roles("_it_ and ~gone~"), ["emphasis:_it_", "text: and ", "strike:~gone~"])
        XCTAssertEqual(roles("run `ls *.txt` now"), ["text:run ", "preformatted:`ls *.txt`", "text: now"])
    }

    func testWhatIsNoSpan() {
        XCTAssertEqual(roles("2 * 3 * 4"), ["text:2 * 3 * 4"], "whitespace after the opening directive")
        XCTAssertEqual(roles("snake_case_name"), ["text:snake_case_name"], "the opening directive must follow whitespace")
        XCTAssertEqual(roles("**"), ["text:**"], "no text between")
        XCTAssertEqual(roles("*open only"), ["text:*open only"])
        XCTAssertEqual(roles("*a *"), ["text:*a *"], "whitespace before the closing directive")
    }

    func testLinksAreNeverStyled() {
        XCTAssertEqual(roles("see https://example.org/_a_/~b~ ok"), ["text:see https://example.org/_a_/~b~ ok"])
        XCTAssertEqual(roles("_https://x.example/a_b_"), ["text:_https://x.example/a_b_"])
        XCTAssertEqual(roles("*bold* xmpp:ada@example.org?message;body=_x_"), ["strong:*bold*", "text: xmpp:ada@example.org?message;body=_x_"])
    }

    func testBlocksAndQuotesAreWholeLines() {
        let lines = MessageStyling.lines(["> quoted *not bold*", "```swift", "let a = *b*", "```", "after *bold*"])
        XCTAssertEqual(lines.map { $0.map(\.role) }, [[.quote], [.preformatted], [.preformatted], [.preformatted], [.text, .strong]])
        XCTAssertEqual(MessageStyling.lines(["```", "never closed", "*still code*"]).flatMap { $0.map(\.role) },
                       [.preformatted, .preformatted, .preformatted])
    }
}
