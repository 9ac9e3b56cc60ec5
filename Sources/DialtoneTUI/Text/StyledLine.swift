/// What a piece of text is, not how it looks: themes map each role to colours and attributes,
/// so the models never mention a colour.
public enum StyleRole: String, Sendable, CaseIterable {
    case text, timestamp, ownName, peerName, subject, attachment, daySeparator, edited, notice, error
    /// The sender of a group-chat message that names our nick.
    case mention
    /// Message styling (XEP-0393): *strong*, _emphasis_, ~strike~, `preformatted` (spans and
    /// blocks), > quotes.
    case strong, emphasis, strike, preformatted, quote
    case statusPending, statusSent, statusDelivered, statusRead, statusFailed
    case listItem, listSelected, listUnread, listGroup
    /// The conversation list's presence marks: available, away (or extended away), do not disturb.
    case presenceAvailable, presenceAway, presenceBusy
    case statusBar, statusOnline, statusOffline, input, border
    /// Calls: log lines in conversations, missed calls, the ringing banner, the call panel, meters.
    case callEvent, missedCall, callBanner, callPanel, meter
}

/// A run of text in one role.
public struct TextRun: Sendable, Equatable {
    public var text: String
    public var role: StyleRole

    public init(_ text: String, _ role: StyleRole = .text) {
        self.text = text
        self.role = role
    }
}

/// One screen row: spans that together fit the width they were laid out for.
public struct StyledLine: Sendable, Equatable {
    public var spans: [TextRun]

    public init(_ spans: [TextRun] = []) { self.spans = spans }

    /// The plain text, for tests and searching the screen.
    public var text: String { spans.map(\.text).joined() }
    public var columns: Int { spans.reduce(0) { $0 + TerminalWidth.columns(of: $1.text) } }
}

/// Breaks styled text into rows of at most `width` columns, at spaces where it can and inside
/// a word only when the word alone is wider than a row. Rows after the first start with
/// `indent` (the hanging indent under a message's text).
enum StyledWrapper {
    /// One character cell: where it is in which span, how wide it draws, whether a row may
    /// break at it. Rows are cut from the spans' text by these positions, so a row costs a
    /// substring a run, not a string built character by character.
    private struct Cell {
        var span: Int
        var start: String.Index
        var end: String.Index
        var width: Int
        var isSpace: Bool
    }

    static func wrap(_ spans: [TextRun], width: Int, indent: String = "") -> [StyledLine] {
        let indentWidth = TerminalWidth.columns(of: indent)
        guard width > indentWidth else { return [StyledLine(spans)] }
        var cells: [Cell] = []
        for (index, span) in spans.enumerated() { appendCells(of: span.text, span: index, to: &cells) }

        var lines: [StyledLine] = []
        var row: [Cell] = []
        var rowWidth = 0
        var lastSpace: Int?
        var first = true
        func finish(_ cells: ArraySlice<Cell>) {
            var line = StyledLine(first ? [] : [TextRun(indent, .text)])
            var piece: Cell?
            func flush() {
                guard let piece else { return }
                let text = spans[piece.span].text[piece.start..<piece.end]
                let role = spans[piece.span].role
                // Neighbouring runs of one role are one run, whichever span they came from.
                if let last = line.spans.last, last.role == role { line.spans[line.spans.count - 1].text.append(contentsOf: text) }
                else { line.spans.append(TextRun(String(text), role)) }
            }
            for cell in cells {
                if var current = piece, current.span == cell.span, current.end == cell.start {
                    current.end = cell.end
                    piece = current
                } else {
                    flush()
                    piece = cell
                }
            }
            flush()
            lines.append(line)
            first = false
        }
        for cell in cells {
            let limit = first ? width : width - indentWidth
            if rowWidth + cell.width > limit, !row.isEmpty {
                if cell.isSpace {
                    finish(row[...]); row = []; rowWidth = 0; lastSpace = nil
                    continue
                }
                if let space = lastSpace {
                    finish(row[..<space])
                    row = Array(row[(space + 1)...])
                } else {
                    finish(row[...]); row = []
                }
                rowWidth = row.reduce(0) { $0 + $1.width }
                lastSpace = nil
            }
            if cell.isSpace { lastSpace = row.count }
            row.append(cell)
            rowWidth += cell.width
        }
        if !row.isEmpty || lines.isEmpty { finish(row[...]) }
        return lines
    }

    /// Printable ASCII is one cell a byte, one column each; anything else goes by grapheme
    /// cluster and its width on a terminal.
    private static func appendCells(of text: String, span: Int, to cells: inout [Cell]) {
        let utf8 = text.utf8
        if TerminalWidth.isPrintableASCII(text) {
            cells.reserveCapacity(cells.count + utf8.count)
            var index = utf8.startIndex
            while index != utf8.endIndex {
                let next = utf8.index(after: index)
                cells.append(Cell(span: span, start: index, end: next, width: 1, isSpace: utf8[index] == 0x20))
                index = next
            }
            return
        }
        var index = text.startIndex
        while index != text.endIndex {
            let next = text.index(after: index)
            let character = text[index]
            cells.append(Cell(span: span, start: index, end: next, width: TerminalWidth.columns(of: character), isSpace: character == " "))
            index = next
        }
    }
}
