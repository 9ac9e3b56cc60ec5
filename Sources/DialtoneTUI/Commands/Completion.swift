import Foundation

/// What Tab may offer besides the table's own words, gathered by the interface.
public struct CompletionSources {
    /// Contacts' and conversations' names.
    public var names: [String]
    /// Read only when a theme is being typed: it lists directories.
    public var themes: () -> [String]
    /// Entries of a directory, given the path typed so far ("~/Pictures/ca").
    public var files: (String) -> [String]
    /// In a group chat, the nicks of who is there: Tab completes them in the text.
    public var nicks: [String]

    public init(names: [String] = [], themes: @escaping () -> [String] = { [] }, files: @escaping (String) -> [String] = Completion.files,
                nicks: [String] = []) {
        self.names = names
        self.nicks = nicks
        self.themes = themes
        self.files = files
    }
}

/// Tab completion on the input line: command names after a leading slash, then what the
/// command's table entry says its argument at the cursor is (recipients, files, themes, …).
public enum Completion {
    /// The completed line, or nil when nothing (or nothing unambiguous) matches. With several
    /// matches the common prefix is filled in.
    public static func complete(_ line: String, names: [String]) -> String? {
        complete(line, from: CompletionSources(names: names, files: { _ in [] }))
    }

    public static func complete(_ line: String, from sources: CompletionSources) -> String? {
        guard line.hasPrefix("/") else { return completeNick(line, nicks: sources.nicks) }
        let body = line.dropFirst()
        if !body.contains(" ") {
            let matches = CommandTable.completions(for: String(body))
            return fill(prefix: "/", typed: String(body), matches: matches, suffix: " ")
        }
        let word = body.prefix { $0 != " " }
        guard let spec = CommandTable.spec(named: String(word)), let first = spec.completion.first else { return nil }
        let afterCommand = body.dropFirst(word.count + 1)
        switch first {
        case .recipient:
            // A recipient may have spaces: all that follows the command is the name typed.
            return names(for: "/\(word) ", typed: afterCommand, sources: sources, suffix: " ")
        case .recipientList:
            // The one after the last comma.
            guard let comma = afterCommand.lastIndex(of: ",") else {
                return names(for: "/\(word) ", typed: afterCommand, sources: sources, suffix: ", ")
            }
            let typed = afterCommand[afterCommand.index(after: comma)...].drop { $0 == " " }
            return names(for: "/\(word) " + afterCommand[...comma] + " ", typed: typed, sources: sources, suffix: ", ")
        default:
            // Arguments of one word each: the word being typed is the last, after the others.
            let done = afterCommand.split(separator: " ", omittingEmptySubsequences: true)
            let typing = afterCommand.hasSuffix(" ") || afterCommand.isEmpty ? "" : String(done.last ?? "")
            let before = afterCommand.dropLast(typing.count)
            let place = done.count - (typing.isEmpty ? 0 : 1)
            guard place < spec.completion.count else { return nil }
            let previous = typing.isEmpty ? done.last.map(String.init) : done.dropLast().last.map(String.init)
            let lead = "/\(word) " + before
            switch spec.completion[place] {
            case .words(let words): return fill(prefix: lead, typed: typing, matches: words.filter { $0.hasPrefix(typing.lowercased()) }, suffix: " ")
            case .theme: return fill(prefix: lead, typed: typing, matches: sources.themes().filter { $0.hasPrefix(typing) }, suffix: " ")
            case .command: return fill(prefix: lead, typed: typing, matches: CommandTable.completions(for: typing), suffix: " ")
            case .settingValue:
                let values = Setting.values.first { $0.option == previous }?.values ?? []
                return fill(prefix: lead, typed: typing, matches: values.filter { $0.hasPrefix(typing) }, suffix: " ")
            case .file:
                // A directory is completed with its slash and no space, so Tab goes on inside it.
                let matches = sources.files(typing)
                guard matches.count == 1, let only = matches.first else { return fill(prefix: lead, typed: typing, matches: matches, suffix: "") }
                return lead + (only.contains(" ") ? "\"\(only)\"" : only) + (only.hasSuffix("/") ? "" : " ")
            case .none, .recipient, .recipientList: return nil
            }
        }
    }

    private static func names(for lead: String, typed: Substring, sources: CompletionSources, suffix: String) -> String? {
        let matches = sources.names.filter { $0.lowercased().hasPrefix(typed.lowercased()) }
        return fill(prefix: lead, typed: String(typed), matches: matches, suffix: suffix)
    }

    /// A nick in a room's text: the word being typed, "ada: " at the start of the line (as
    /// IRC and Conversations address someone), "ada " further on.
    static func completeNick(_ line: String, nicks: [String]) -> String? {
        guard !nicks.isEmpty, let last = line.split(separator: " ", omittingEmptySubsequences: false).last, !last.isEmpty else { return nil }
        let typed = String(last)
        let matches = nicks.filter { $0.lowercased().hasPrefix(typed.lowercased()) }.sorted { $0.lowercased() < $1.lowercased() }
        let before = String(line.dropLast(typed.count))
        return fill(prefix: before, typed: typed, matches: matches, suffix: before.isEmpty ? ": " : " ")
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

    /// Paths starting with what was typed, as typed (~ kept), directories with a slash.
    public static func files(_ typed: String) -> [String] {
        let expanded = (typed as NSString).expandingTildeInPath
        let directory = typed.isEmpty ? "." : typed.hasSuffix("/") ? expanded : (expanded as NSString).deletingLastPathComponent
        let stem = typed.hasSuffix("/") ? "" : (typed as NSString).lastPathComponent
        let shown = typed.hasSuffix("/") ? typed : String(typed.dropLast(stem.count))
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.isEmpty ? "." : directory) else { return [] }
        return entries.filter { $0.hasPrefix(stem) && (stem.hasPrefix(".") || !$0.hasPrefix(".")) }.sorted().map { entry in
            var isDirectory: ObjCBool = false
            let exists = FileManager.default.fileExists(atPath: (directory as NSString).appendingPathComponent(entry), isDirectory: &isDirectory)
            return shown + entry + (exists && isDirectory.boolValue ? "/" : "")
        }
    }
}
