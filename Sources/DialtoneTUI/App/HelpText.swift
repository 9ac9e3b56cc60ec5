/// /help's pages, made from the command table.
enum HelpText {
    static func lines(for command: String?) -> [StyledLine] {
        if let command, !command.isEmpty {
            guard let spec = CommandTable.spec(named: command) else {
                return [StyledLine([TextRun("No command /\(command.trimmingPrefix("/")). Type /help for the list.", .error)])]
            }
            return [StyledLine([TextRun(spec.usage, .peerName)]), StyledLine([TextRun("  " + spec.synopsis)]),
                    StyledLine([TextRun("  " + spec.help)])]
        }
        var lines = [StyledLine([TextRun("Commands (/help CMD for more):", .notice)])]
        for spec in CommandTable.all {
            lines.append(StyledLine([TextRun(TerminalWidth.fit(spec.usage, to: 20), .peerName), TextRun(spec.synopsis)]))
        }
        lines.append(StyledLine([TextRun("Keys: Ctrl-n/Ctrl-p or Alt-Up/Down switch, PgUp/PgDn scroll, Tab completes, Esc closes this.", .notice)]))
        return lines
    }
}
