/// /help's pages, made from the command table.
enum HelpText {
    /// `width`: the columns the page is drawn in (the message pane's, narrower than the terminal).
    static func lines(for command: String?, width: Int = 80) -> [StyledLine] {
        let width = max(width, 30)
        if let command, !command.isEmpty {
            guard let spec = CommandTable.spec(named: command) else {
                return [StyledLine([TextRun("No command /\(command.trimmingPrefix("/")). Type /help for the list.", .error)])]
            }
            return [StyledLine([TextRun(spec.usage, .peerName)])]
                + StyledWrapper.wrap([TextRun("  " + spec.synopsis)], width: width, indent: "  ")
                + StyledWrapper.wrap([TextRun("  " + spec.help)], width: width, indent: "  ")
        }
        var lines = [StyledLine([TextRun("Commands (/help CMD for more):", .notice)])]
        for spec in CommandTable.all {
            lines += row(usage: spec.usage, synopsis: spec.synopsis, width: width)
        }
        lines += StyledWrapper.wrap([TextRun("Keys: Ctrl-n/Ctrl-p or Alt-Up/Down switch, PgUp/PgDn scroll, Tab completes, Esc closes this.", .notice)],
                                    width: width, indent: "  ")
        return lines
    }

    /// Where the synopses start; a longer usage gets a line of its own, the synopsis under it.
    static func column(for width: Int) -> Int { min(20, width / 3) }

    /// One command's usage and synopsis, both whole: nothing is cut, long synopses wrap under their column.
    static func row(usage: String, synopsis: String, width: Int) -> [StyledLine] {
        let column = column(for: width)
        let pad = String(repeating: " ", count: column)
        let synopsisLines = StyledWrapper.wrap([TextRun(synopsis)], width: width - column)
        var lines: [StyledLine] = []
        if TerminalWidth.columns(of: usage) < column - 1 {
            let first = TerminalWidth.fit(usage, to: column)
            lines.append(StyledLine([TextRun(first, .peerName)] + (synopsisLines.first?.spans ?? [])))
        } else {
            lines.append(StyledLine([TextRun(usage, .peerName)]))
            lines.append(StyledLine([TextRun(pad)] + (synopsisLines.first?.spans ?? [])))
        }
        for line in synopsisLines.dropFirst() { lines.append(StyledLine([TextRun(pad)] + line.spans)) }
        return lines
    }
}
