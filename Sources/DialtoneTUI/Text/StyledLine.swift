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
    static func wrap(_ spans: [TextRun], width: Int, indent: String = "") -> [StyledLine] {
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
