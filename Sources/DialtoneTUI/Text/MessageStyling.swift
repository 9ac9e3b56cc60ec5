/// Message styling (XEP-0393) as the terminal can draw it: *strong*, _emphasis_, ~strike~,
/// `preformatted` spans, ``` blocks and > quotes. The directives stay on screen, as the XEP
/// asks (the text reads the same in a client that does not style), and nothing inside a link
/// is taken for a directive: `https://example.org/a_b_c` is a link, not emphasis.
enum MessageStyling {
    /// Each line of a message as styled runs.
    static func lines(_ lines: [String]) -> [[TextRun]] {
        var result: [[TextRun]] = []
        var inBlock = false
        for line in lines {
            if inBlock {
                result.append([TextRun(line, .preformatted)])
                // A block ends at a line that is only the closing directive.
                if line == "```" { inBlock = false }
            } else if line.hasPrefix("```") {
                // The opening line may carry a hint ("```swift"); the block runs to the end
                // of the message if it is never closed.
                inBlock = true
                result.append([TextRun(line, .preformatted)])
            } else if line.hasPrefix(">") {
                result.append([TextRun(line, .quote)])
            } else {
                result.append(spans(line))
            }
        }
        return result
    }

    private static let roles: [Character: StyleRole] = ["*": .strong, "_": .emphasis, "~": .strike, "`": .preformatted]

    /// The spans of one line. An opening directive starts the line or follows whitespace and
    /// is not followed by whitespace; the closing one is the next same character that is not
    /// preceded by whitespace, on the same line, with text between.
    static func spans(_ line: String) -> [TextRun] {
        // Most lines hold no directive at all: one run, without splitting the line into
        // characters (grapheme breaking is most of what styling a busy room's messages cost).
        guard line.utf8.contains(where: { $0 == 0x2A || $0 == 0x5F || $0 == 0x7E || $0 == 0x60 }) else {
            return [TextRun(line, .text)]
        }
        let characters = Array(line)
        let inLink = linkMask(characters)
        var runs: [TextRun] = []
        var plain = ""
        var index = 0
        while index < characters.count {
            let character = characters[index]
            if let role = roles[character], !inLink[index], index + 1 < characters.count, !characters[index + 1].isWhitespace,
               index == 0 || characters[index - 1].isWhitespace || roles[characters[index - 1]] != nil,
               let close = closing(character, after: index, in: characters, inLink: inLink) {
                if !plain.isEmpty { runs.append(TextRun(plain, .text)) }
                plain = ""
                runs.append(TextRun(String(characters[index...close]), role))
                index = close + 1
                continue
            }
            plain.append(character)
            index += 1
        }
        if !plain.isEmpty { runs.append(TextRun(plain, .text)) }
        return runs.isEmpty ? [TextRun("", .text)] : runs
    }

    private static func closing(_ directive: Character, after open: Int, in characters: [Character], inLink: [Bool]) -> Int? {
        var index = open + 2  // at least one character of text between
        while index < characters.count {
            if characters[index] == directive, !characters[index - 1].isWhitespace, !inLink[index] { return index }
            index += 1
        }
        return nil
    }

    /// Which characters belong to a link (a word with a scheme: `https://…`, `xmpp:…`).
    private static func linkMask(_ characters: [Character]) -> [Bool] {
        var mask = [Bool](repeating: false, count: characters.count)
        var start = 0
        while start < characters.count {
            var end = start
            while end < characters.count, !characters[end].isWhitespace { end += 1 }
            // Every scheme has a colon: most words are no link and are not copied to be sure.
            if end > start, characters[start..<end].contains(":"), isLink(String(characters[start..<end])) {
                for i in start..<end { mask[i] = true }
            }
            start = end + 1
        }
        return mask
    }

    private static let schemes = ["http://", "https://", "xmpp:", "mailto:", "tel:", "sip:", "geo:", "aesgcm://", "ftp://"]

    private static func isLink(_ word: String) -> Bool {
        // A link may be wrapped in a directive or punctuation: "(https://…)" or "*https://…*".
        let trimmed = word.drop { "([<\"'*_~`".contains($0) }.lowercased()
        return schemes.contains { trimmed.hasPrefix($0) }
    }
}
