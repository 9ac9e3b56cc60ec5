import Foundation

/// Whether a room message names us: our nick as a word of its own (any case), as
/// Conversations and Dino highlight it — "ada:" and "@Ada" count, "adamant" does not.
public enum Mention {
    public static func mentions(_ nick: String, in text: String) -> Bool {
        let nick = nick.trimmingCharacters(in: .whitespaces)
        guard !nick.isEmpty else { return false }
        var searchRange = text.startIndex..<text.endIndex
        while let found = text.range(of: nick, options: [.caseInsensitive, .diacriticInsensitive], range: searchRange) {
            let before = found.lowerBound == text.startIndex ? nil : text[text.index(before: found.lowerBound)]
            let after = found.upperBound == text.endIndex ? nil : text[found.upperBound]
            if !isWordCharacter(before), !isWordCharacter(after) { return true }
            searchRange = found.upperBound..<text.endIndex
        }
        return false
    }

    private static func isWordCharacter(_ character: Character?) -> Bool {
        guard let character else { return false }
        return character.isLetter || character.isNumber || character == "_"
    }
}
