/// Tab completion on the input line: command names after a leading slash, then contact
/// names for commands that take a recipient.
public enum Completion {
    /// The completed line, or nil when nothing (or nothing unambiguous) matches. With several
    /// matches the common prefix is filled in.
    public static func complete(_ line: String, names: [String]) -> String? {
        guard line.hasPrefix("/") else { return nil }
        let body = line.dropFirst()
        if !body.contains(" ") {
            let matches = CommandTable.completions(for: String(body))
            return fill(prefix: "/", typed: String(body), matches: matches, suffix: " ")
        }
        let word = body.prefix { $0 != " " }
        guard word == "msg" || word == "group" else { return nil }
        // The recipient being typed: after the command, or after the last comma in /group.
        let separator: Character = word == "group" ? "," : " "
        let afterCommand = body.dropFirst(word.count + 1)
        let head: Substring
        let typed: Substring
        if word == "group", let comma = afterCommand.lastIndex(of: separator) {
            head = afterCommand[...comma]
            typed = afterCommand[afterCommand.index(after: comma)...].drop { $0 == " " }
        } else {
            head = ""
            typed = afterCommand
        }
        let lead = "/\(word) " + head + (head.isEmpty ? "" : " ")
        let matches = names.filter { $0.lowercased().hasPrefix(typed.lowercased()) }
        return fill(prefix: lead, typed: String(typed), matches: matches, suffix: word == "group" ? ", " : " ")
    }

    private static func fill(prefix: String, typed: String, matches: [String], suffix: String) -> String? {
        guard let first = matches.first else { return nil }
        if matches.count == 1 { return prefix + first + suffix }
        var common = first
        for match in matches.dropFirst() {
            while !match.lowercased().hasPrefix(common.lowercased()) { common.removeLast() }
        }
        return common.count > typed.count ? prefix + common : nil
    }
}
