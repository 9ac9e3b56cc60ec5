@testable import DialtoneTUI
import XCTest

/// Wrapping styled text into rows: at spaces, inside a word only when it is wider than a row,
/// by terminal columns (wide CJK and emoji, zero-width marks), runs of one role merged.
final class StyledWrapperTests: XCTestCase {
    private func texts(_ lines: [StyledLine]) -> [String] { lines.map(\.text) }

    func testBreaksAtSpacesWithAHangingIndent() {
        let rows = StyledWrapper.wrap([TextRun("12:00 ", .timestamp), TextRun("one two three four", .text)], width: 14, indent: "   ")
        XCTAssertEqual(texts(rows), ["12:00 one two", "   three four"])
        XCTAssertEqual(rows[1].spans, [TextRun("   three four", .text)], "the indent and the text are one run")
        XCTAssertEqual(rows[0].spans, [TextRun("12:00 ", .timestamp), TextRun("one two", .text)])
    }

    func testAWordWiderThanARowIsCut() {
        XCTAssertEqual(texts(StyledWrapper.wrap([TextRun("abcdefghij")], width: 4)), ["abcd", "efgh", "ij"])
    }

    func testWideCharactersTakeTwoColumns() {
        XCTAssertEqual(texts(StyledWrapper.wrap([TextRun("日本語の文")], width: 4)), ["日本", "語の", "文"])
        XCTAssertEqual(texts(StyledWrapper.wrap([TextRun("a 👍🏽 b")], width: 3)), ["a", "👍🏽", "b"])
    }

    func testNeighbouringRunsOfOneRoleAreOne() {
        let rows = StyledWrapper.wrap([TextRun("a", .text), TextRun("b", .text), TextRun("c", .strong)], width: 10)
        XCTAssertEqual(rows.map(\.spans), [[TextRun("ab", .text), TextRun("c", .strong)]])
    }

    func testEmptyTextIsOneEmptyRow() {
        XCTAssertEqual(StyledWrapper.wrap([], width: 10), [StyledLine([])])
    }

    /// The rows are those the former layout gave, which went character by character (kept
    /// here as the reference): random ASCII and non-ASCII text, several roles, many widths.
    func testRowsMatchTheCharacterByCharacterLayout() {
        var generator = SystemRandomNumberGenerator()
        let pieces = ["a", "b", "word", " ", " ", "  ", "é", "e\u{301}", "日", "👍", "👍🏽", "🇫🇷", "\u{200B}", "-", "xyz", "\t"]
        let roles: [StyleRole] = [.text, .text, .strong, .timestamp]
        for _ in 0..<2_000 {
            let spans = (0..<Int.random(in: 0...4, using: &generator)).map { _ in
                TextRun((0..<Int.random(in: 0...12, using: &generator)).map { _ in pieces.randomElement(using: &generator)! }.joined(),
                        roles.randomElement(using: &generator)!)
            }
            let indent = String(repeating: " ", count: Int.random(in: 0...3, using: &generator))
            let width = Int.random(in: 1...12, using: &generator)
            XCTAssertEqual(StyledWrapper.wrap(spans, width: width, indent: indent), Self.reference(spans, width: width, indent: indent),
                           "\(spans) at \(width) columns, indent \(indent.count)")
        }
    }

    private static func reference(_ spans: [TextRun], width: Int, indent: String) -> [StyledLine] {
        let indentWidth = TerminalWidth.columns(of: indent)
        guard width > indentWidth else { return [StyledLine(spans)] }
        var cells: [(Character, StyleRole, Int)] = []
        for span in spans { for character in span.text { cells.append((character, span.role, TerminalWidth.columns(of: character))) } }
        var lines: [StyledLine] = []
        var row: [(Character, StyleRole, Int)] = []
        var rowWidth = 0
        var lastSpace: Int?
        var first = true
        func finish(_ cells: ArraySlice<(Character, StyleRole, Int)>) {
            var line = StyledLine(first ? [] : [TextRun(indent, .text)])
            for (character, role, _) in cells {
                if let last = line.spans.last, last.role == role { line.spans[line.spans.count - 1].text.append(character) }
                else { line.spans.append(TextRun(String(character), role)) }
            }
            lines.append(line)
            first = false
        }
        for cell in cells {
            let limit = first ? width : width - indentWidth
            if rowWidth + cell.2 > limit, !row.isEmpty {
                if cell.0 == " " {
                    finish(row[...]); row = []; rowWidth = 0; lastSpace = nil
                    continue
                }
                if let space = lastSpace {
                    finish(row[..<space])
                    row = Array(row[(space + 1)...])
                } else {
                    finish(row[...]); row = []
                }
                rowWidth = row.reduce(0) { $0 + $1.2 }
                lastSpace = nil
            }
            if cell.0 == " " { lastSpace = row.count }
            row.append(cell)
            rowWidth += cell.2
        }
        if !row.isEmpty || lines.isEmpty { finish(row[...]) }
        return lines
    }
}
