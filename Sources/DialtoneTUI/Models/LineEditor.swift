import Foundation

/// The input line: text edited by grapheme cluster with readline's keys. A bracketed paste
/// arrives as one insert, newlines included, so it is sent as one message.
public struct LineEditor: Sendable, Equatable {
    public private(set) var characters: [Character] = []
    /// Cursor position, in clusters from the start.
    public private(set) var cursor = 0
    /// The last text cut with C-k, C-u or C-w, for C-y.
    public private(set) var killed = ""
    /// First column shown when the text is wider than the field.
    private var scrollColumn = 0

    public init(text: String = "") {
        characters = Array(text)
        cursor = characters.count
    }

    public var text: String { String(characters) }
    public var isEmpty: Bool { characters.isEmpty }

    public mutating func set(_ text: String) {
        characters = Array(text)
        cursor = characters.count
    }

    public mutating func insert(_ text: String) {
        // Windows line ends from a paste are one newline each.
        let clean = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        // Joined as strings, not arrays, so a combining mark or ZWJ typed after its base (keys
        // arrive one scalar at a time) joins the cluster before it.
        let before = String(characters[..<cursor]) + clean
        characters = Array(before + String(characters[cursor...]))
        cursor = before.count
    }

    /// Takes the text out for sending and leaves an empty line.
    public mutating func submit() -> String {
        defer { set("") }
        return text
    }

    public mutating func backspace() {
        guard cursor > 0 else { return }
        cursor -= 1
        characters.remove(at: cursor)
    }

    public mutating func deleteForward() {
        guard cursor < characters.count else { return }
        characters.remove(at: cursor)
    }

    public mutating func left() { cursor = max(0, cursor - 1) }
    public mutating func right() { cursor = min(characters.count, cursor + 1) }
    public mutating func home() { cursor = 0 }
    public mutating func end() { cursor = characters.count }

    /// C-k
    public mutating func killToEnd() {
        killed = String(characters[cursor...])
        characters.removeSubrange(cursor...)
    }

    /// C-u
    public mutating func killToStart() {
        killed = String(characters[..<cursor])
        characters.removeSubrange(..<cursor)
        cursor = 0
    }

    /// C-w: the word before the cursor and the spaces after it, as readline does.
    public mutating func killWordBackward() {
        let start = wordStartBefore(cursor, word: { !$0.isWhitespace })
        killed = String(characters[start..<cursor])
        characters.removeSubrange(start..<cursor)
        cursor = start
    }

    /// C-y
    public mutating func yank() { insert(killed) }

    /// M-b
    public mutating func wordBackward() { cursor = wordStartBefore(cursor, word: Self.isWordCharacter) }

    /// M-f
    public mutating func wordForward() {
        var index = cursor
        while index < characters.count, !Self.isWordCharacter(characters[index]) { index += 1 }
        while index < characters.count, Self.isWordCharacter(characters[index]) { index += 1 }
        cursor = index
    }

    private func wordStartBefore(_ position: Int, word: (Character) -> Bool) -> Int {
        var index = position
        while index > 0, !word(characters[index - 1]) { index -= 1 }
        while index > 0, word(characters[index - 1]) { index -= 1 }
        return index
    }

    private static func isWordCharacter(_ character: Character) -> Bool { character.isLetter || character.isNumber }

    /// The part of the line to draw in a field `width` columns wide, and the cursor's column
    /// in it; newlines show as ↵ so a multi-line paste stays on one row.
    public mutating func view(width: Int) -> (text: String, cursorColumn: Int) {
        guard width > 1 else { return ("", 0) }
        let shown = characters.map { $0 == "\n" ? "↵" : $0 }
        let widths = shown.map(TerminalWidth.columns(of:))
        let cursorColumn = widths[..<cursor].reduce(0, +)
        // Keep the cursor inside the field, with a column spare for it at the end.
        if cursorColumn < scrollColumn { scrollColumn = cursorColumn }
        if cursorColumn - scrollColumn > width - 1 { scrollColumn = cursorColumn - width + 1 }
        var column = 0
        var text = ""
        var used = 0
        for (character, w) in zip(shown, widths) {
            defer { column += w }
            if column < scrollColumn { continue }
            if used + w > width { break }
            text.append(character)
            used += w
        }
        return (text, cursorColumn - scrollColumn)
    }
}
