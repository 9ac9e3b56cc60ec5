import Foundation

/// Whether a room message names us: our nick as a word of its own (any case), as
/// Conversations and Dino highlight it — "ada:" and "@Ada" count, "adamant" does not.
public enum Mention {
    public static func mentions(_ nick: String, in text: String) -> Bool {
        // Foundation's trimming bridges the string; a nick rarely has spaces to trim.
        let padded = nick.first?.isWhitespace == true || nick.last?.isWhitespace == true
        let nick = padded ? nick.trimmingCharacters(in: .whitespaces) : nick
        guard !nick.isEmpty else { return false }
        // Every message of a busy room is asked: plain ASCII (most of them) is searched byte by
        // byte; Foundation's case- and accent-blind search is for the rest.
        if nick.utf8.allSatisfy({ $0 < 0x80 }), text.utf8.allSatisfy({ $0 < 0x80 }) {
            return asciiMentions(Array(nick.utf8).map(lower), in: Array(text.utf8))
        }
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: nick, options: [.caseInsensitive, .diacriticInsensitive], range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !isWordCharacter(before), !isWordCharacter(after) { return true }
            searchRange = found.upperBound..<text.endIndex
        }
        return false
    }

    private static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte + 0x20 : byte }

    private static func asciiMentions(_ nick: [UInt8], in text: [UInt8]) -> Bool {
        guard text.count >= nick.count else { return false }
        func isWord(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x5F
        }
        for start in 0...(text.count - nick.count) {
            var index = 0
            while index < nick.count, lower(text[start + index]) == nick[index] { index += 1 }
            guard index == nick.count else { continue }
            let end = start + nick.count
            if (start == 0 || !isWord(text[start - 1])), (end == text.count || !isWord(text[end])) { return true }
        }
        return false
    }

    private static func isWordCharacter(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber || character == "_"
    }
}
