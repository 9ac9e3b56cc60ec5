import DialtoneCore
import Foundation

/// What was typed after a command's name, read left to right by the argument parsers. Each
/// command's arguments are read here once, so no handler splits or trims a string itself.
struct ArgumentScanner {
    private(set) var rest: Substring

    init(_ text: String) { rest = Substring(text) }

    var isAtEnd: Bool { rest.allSatisfy(\.isWhitespace) }

    /// The next word up to a space, quotes not special (an address, a number, a keyword).
    mutating func word() -> String? {
        rest = rest.drop { $0 == " " }
        let word = rest.prefix { $0 != " " }
        guard !word.isEmpty else { return nil }
        rest = rest.dropFirst(word.count)
        return String(word)
    }

    /// The next word, where "double quotes" keep spaces together (a name, a file name).
    mutating func quotedWord() -> String? {
        var word = ""
        var quoted = false
        var started = false
        while let character = rest.first {
            rest = rest.dropFirst()
            if character == "\"" {
                quoted.toggle()
                started = true
                // A closing quote ends the word, so "" is an empty word and not nothing.
                if !quoted { return word }
            } else if character == " " && !quoted {
                if started { return word }
            } else {
                word.append(character)
                started = true
            }
        }
        return started ? word : nil
    }

    /// The rest of the line, spaces at either end dropped.
    mutating func remainder() -> String {
        defer { rest = "" }
        return rest.trimmingCharacters(in: .whitespaces)
    }

    /// The rest of the line as quoted words, joined by single spaces.
    mutating func remainingQuotedWords() -> [String] {
        var words: [String] = []
        while let word = quotedWord() { words.append(word) }
        return words
    }

    /// Words of a command line, with "double quotes" keeping spaces together.
    static func words(_ text: String) -> [String] {
        var scanner = ArgumentScanner(text)
        return scanner.remainingQuotedWords()
    }
}

/// The line does not fit the command's arguments; the executor shows the command's usage.
struct ArgumentError: Error, Equatable {}

/// What the executor knows about the account when it reads arguments: a recipient may be
/// several words ("Alice Liddell", "+1 555 123 4567"), which only the address book can tell.
struct ArgumentContext {
    var isRecipient: (String) -> Bool = { _ in false }
}

/// What Tab offers at an argument's place.
enum CompletionKind: Sendable, Equatable {
    case none
    /// A contact's name, for the whole rest of the line.
    case recipient
    /// Contacts' names separated by commas: the one after the last comma is completed.
    case recipientList
    case file
    case theme
    case command
    case words([String])
    /// The values of the /set option named in the word before.
    case settingValue
}

/// How one command's arguments are read, written once in the table entry: the usage shown in
/// /help and on a mistake, what Tab completes at each place, and the parser giving the
/// handler typed values.
struct CommandArguments<Value: Sendable>: Sendable {
    /// As /help shows it: "TO [TEXT]", "[N]", "capture|playback PCM".
    let usage: String
    let completion: [CompletionKind]
    let read: @Sendable (inout ArgumentScanner, ArgumentContext) throws(ArgumentError) -> Value

    /// Reads a whole argument string; anything left over is an error, as a missing part is.
    func parse(_ text: String, context: ArgumentContext = ArgumentContext()) throws(ArgumentError) -> Value {
        var scanner = ArgumentScanner(text)
        let value = try read(&scanner, context)
        guard scanner.isAtEnd else { throw ArgumentError() }
        return value
    }

    /// The same place read into another type (digits without spaces, a setting by name).
    func map<Other>(_ transform: @escaping @Sendable (Value) throws(ArgumentError) -> Other) -> CommandArguments<Other> {
        CommandArguments<Other>(usage: usage, completion: completion) { scanner, context throws(ArgumentError) in
            try transform(try read(&scanner, context))
        }
    }

    /// This, then `next`, their usages side by side.
    func then<Next>(_ next: CommandArguments<Next>) -> CommandArguments<(Value, Next)> {
        CommandArguments<(Value, Next)>(usage: usage + " " + next.usage, completion: completion + next.completion) { scanner, context throws(ArgumentError) in
            let first = try read(&scanner, context)
            return (first, try next.read(&scanner, context))
        }
    }
}

extension CommandArguments where Value == Void {
    /// No arguments at all: "/quit now" is a mistake, not a quit.
    static var none: Self { Self(usage: "", completion: []) { _, _ in } }
}

extension CommandArguments where Value == Int {
    static func number(_ placeholder: String) -> Self {
        Self(usage: placeholder, completion: [.none]) { scanner, _ throws(ArgumentError) in
            guard let word = scanner.word(), let number = Int(word) else { throw ArgumentError() }
            return number
        }
    }
}

extension CommandArguments where Value == String {
    /// One word; quotes keep spaces in it when `quoted`.
    static func word(_ placeholder: String, quoted: Bool = false, completion: CompletionKind = .none) -> Self {
        Self(usage: placeholder, completion: [completion]) { scanner, _ throws(ArgumentError) in
            guard let word = quoted ? scanner.quotedWord() : scanner.word() else { throw ArgumentError() }
            return word
        }
    }

    /// The rest of the line, which must not be empty.
    static func text(_ placeholder: String, completion: CompletionKind = .none) -> Self {
        Self(usage: placeholder, completion: [completion]) { scanner, _ throws(ArgumentError) in
            let text = scanner.remainder()
            guard !text.isEmpty else { throw ArgumentError() }
            return text
        }
    }

    /// The rest of the line as typed, possibly empty (a form field may be emptied).
    static func rawText(_ placeholder: String) -> Self {
        Self(usage: placeholder, completion: [.none]) { scanner, _ in scanner.remainder() }
    }

    /// One file name, quoted if it has spaces, ~ expanded.
    static func file(_ placeholder: String) -> Self {
        word(placeholder, quoted: true, completion: .file).map { ($0 as NSString).expandingTildeInPath }
    }

    /// The rest of the line as quoted words joined by spaces; empty when nothing is left.
    static func quotedText(_ placeholder: String) -> Self {
        Self(usage: "[\(placeholder)]", completion: [.none]) { scanner, _ in
            scanner.remainingQuotedWords().joined(separator: " ")
        }
    }

    /// A file: the rest of the line, one pair of quotes around it dropped, ~ expanded.
    static func path(_ placeholder: String) -> Self {
        Self(usage: placeholder, completion: [.file]) { scanner, _ throws(ArgumentError) in
            var text = scanner.remainder()
            if text.count > 1, text.hasPrefix("\""), text.hasSuffix("\"") { text = String(text.dropFirst().dropLast()) }
            guard !text.isEmpty else { throw ArgumentError() }
            return (text as NSString).expandingTildeInPath
        }
    }

    /// One of fixed words, any case; the value is the word as the table spells it.
    static func choice(_ words: [String]) -> Self {
        Self(usage: words.joined(separator: "|"), completion: [.words(words)]) { scanner, _ throws(ArgumentError) in
            guard let typed = scanner.word(), let word = words.first(where: { $0 == typed.lowercased() }) else { throw ArgumentError() }
            return word
        }
    }
}

extension CommandArguments {
    /// May be left out: nil when nothing is left of the line. Usage "[…]".
    func optional() -> CommandArguments<Value?> {
        CommandArguments<Value?>(usage: "[\(usage)]", completion: completion) { scanner, context throws(ArgumentError) in
            scanner.isAtEnd ? nil : try read(&scanner, context)
        }
    }
}

extension CommandArguments where Value == String? {
    /// Free text that may be left out: "[TEXT]".
    static func optionalText(_ placeholder: String, completion: CompletionKind = .none) -> Self {
        CommandArguments<String>.text(placeholder, completion: completion).optional()
    }
}

extension CommandArguments where Value == [String] {
    /// Items separated by commas, at least `minimum`: "TO, TO, …" or "ADDRESS[, ADDRESS…]".
    /// Quotes group words as elsewhere and are dropped.
    static func list(_ placeholder: String, minimum: Int, completion: CompletionKind = .none) -> Self {
        let usage = minimum >= 2 ? "\(placeholder), \(placeholder), …" : "\(placeholder)[, \(placeholder)…]"
        return Self(usage: usage, completion: [completion]) { scanner, _ throws(ArgumentError) in
            let items = scanner.remainingQuotedWords().joined(separator: " ").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard items.count >= minimum else { throw ArgumentError() }
            return items
        }
    }
}

/// /msg's TO [TEXT].
struct RecipientAndText: Sendable, Equatable {
    var recipient: String
    var text: String
}

extension CommandArguments where Value == RecipientAndText {
    /// TO may be several words: the longest leading words that name a recipient are TO (the
    /// first word when none does, for the resolver to explain), and the rest is the text.
    static func recipientAndText(_ recipient: String, _ text: String) -> Self {
        Self(usage: "\(recipient) [\(text)]", completion: [.recipient]) { scanner, context throws(ArgumentError) in
            let words = scanner.remainder().split(separator: " ").map(String.init)
            guard !words.isEmpty else { throw ArgumentError() }
            let split = stride(from: words.count, through: 1, by: -1).first { context.isRecipient(words[..<$0].joined(separator: " ")) } ?? 1
            return RecipientAndText(recipient: words[..<split].joined(separator: " "), text: words[split...].joined(separator: " "))
        }
    }
}

/// /cmd's target and /account's choice: a number from a list shown, or something named.
enum NumberOrName: Sendable, Equatable {
    case number(Int)
    case name(String)
}

extension CommandArguments where Value == NumberOrName {
    static func numberOrName(_ usage: String) -> Self {
        Self(usage: usage, completion: [.none]) { scanner, _ throws(ArgumentError) in
            guard let word = scanner.word() else { throw ArgumentError() }
            // "007" stays a name: the handler may look for an address starting so.
            if let number = Int(word), String(number) == word { return .number(number) }
            return .name(word)
        }
    }
}

/// /cmd's target: a bot's address, or a command by its number in the list shown.
enum NumberOrAddress: Sendable, Equatable {
    case number(Int)
    case address(JID)
}

extension CommandArguments where Value == NumberOrAddress {
    static func numberOrAddress(_ usage: String) -> Self {
        Self(usage: usage, completion: [.none]) { scanner, _ throws(ArgumentError) in
            guard let word = scanner.word() else { throw ArgumentError() }
            if let number = Int(word) { return .number(number) }
            guard let jid = try? JID(word) else { throw ArgumentError() }
            return .address(jid)
        }
    }
}
