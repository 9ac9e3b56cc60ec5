/// One slash command as data: its name, how its arguments are read, its handler, and its
/// help. Dispatch, /help, tab completion and the man page's list (checked by a test) all read
/// this table, so a command's documentation, parsing and behaviour cannot drift apart.
public struct CommandSpec: Sendable {
    public enum Name: String, Sendable, CaseIterable {
        case msg, correct, retract, reply, react, group, join, leave, who, nick, topic, invite, kick, ban, voice, moderate, configure, close, search, contacts, add, rename, remove, accept, deny, block, unblock, blocked, omemo, `import`, attach, open, play, stop, call, answer, decline, hangup, mute, unmute, hold, dtmf, device, calls, cmd, field, next, prev, complete, cancel, account, connect, disconnect, status, set, theme, help, quit
    }

    /// The handler with its arguments read, ready to run on the interface.
    struct Invocation: Sendable {
        let run: @MainActor @Sendable (TUIApp) -> Void
    }

    public let name: Name
    /// The arguments' usage, made by their parser: "TO [TEXT]".
    public let arguments: String
    public let synopsis: String
    public let help: String
    /// Said after the usage when a line does not fit it ("quote a name with spaces").
    let hint: String?
    /// What Tab completes at each argument's place.
    let completion: [CompletionKind]
    let bind: @Sendable (String, ArgumentContext) throws(ArgumentError) -> Invocation

    init<Value>(_ name: Name, _ arguments: CommandArguments<Value>, synopsis: String, help: String, hint: String? = nil,
                run handler: @escaping @MainActor @Sendable (TUIApp, Value) -> Void) {
        self.name = name
        self.arguments = arguments.usage
        self.synopsis = synopsis
        self.help = help
        self.hint = hint
        completion = arguments.completion
        bind = { text, context throws(ArgumentError) in
            let value = try arguments.parse(text, context: context)
            return Invocation { handler($0, value) }
        }
    }

    public var usage: String { arguments.isEmpty ? "/\(name.rawValue)" : "/\(name.rawValue) \(arguments)" }

    /// The one sentence shown when a line does not fit the arguments; nothing else happens.
    var usageError: String { "Usage: \(usage)" + (hint.map { " — " + $0 } ?? "") }
}

public enum CommandTable {
    /// In /help's order; the entries are kept by area in CommandTable+*.swift.
    public static let all: [CommandSpec] = conversations + rooms + calls + commandSessions + account + interface

    public static func spec(named name: String) -> CommandSpec? {
        let bare = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return all.first { $0.name.rawValue == bare.lowercased() }
    }

    /// Command names starting with what was typed after the slash.
    public static func completions(for prefix: String) -> [String] {
        all.map { $0.name.rawValue }.filter { $0.hasPrefix(prefix.lowercased()) }
    }
}

/// A line typed at the input: a message, or a command with the rest of the line.
public enum InputLine: Sendable, Equatable {
    case message(String)
    case command(CommandSpec.Name, arguments: String)
    case unknownCommand(String)

    /// A leading "/" starts a command; "//" sends text that starts with one slash.
    public init(_ text: String) {
        guard text.hasPrefix("/") else { self = .message(text); return }
        if text.hasPrefix("//") { self = .message(String(text.dropFirst())); return }
        let body = text.dropFirst()
        let word = body.prefix { !$0.isWhitespace }
        let rest = body.dropFirst(word.count).drop { $0 == " " }
        if let spec = CommandTable.spec(named: String(word)) {
            self = .command(spec.name, arguments: String(rest))
        } else {
            self = .unknownCommand(String(word))
        }
    }
}
