import CNcursesw
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How many terminal columns text takes, by grapheme cluster, as a terminal draws it.
///
/// Swift does not expose Unicode's East Asian Width, so the C library's `wcwidth` answers for
/// each cluster's base scalar (it knows wide CJK and zero-width marks once a UTF-8 locale is
/// set); emoji presentation, which `wcwidth` gets wrong for older tables, is decided here.
public enum TerminalWidth {
    /// Sets the locale from the environment so `wcwidth` and curses speak UTF-8; falls back to
    /// C.UTF-8 when the environment names none (cron, CI, bare containers).
    @discardableResult
    public static func prepareLocale() -> Bool {
        if let name = setlocale(LC_ALL, ""), String(cString: name).lowercased().contains("utf") { return true }
        if let name = setlocale(LC_CTYPE, nil), String(cString: name).lowercased().contains("utf") { return true }
        return setlocale(LC_ALL, "C.UTF-8") != nil
    }

    public static func columns(of character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.value < 0x20 || (0x7F...0x9F).contains(first.value) { return 0 }
        if first.value < 0x7F { return 1 }
        // Emoji shown as pictures: by default, by U+FE0F, as flags, or joined with ZWJ.
        if first.properties.isEmojiPresentation { return 2 }
        if scalars.count > 1 {
            if scalars.contains("\u{FE0F}") && first.properties.isEmoji { return 2 }
            if (0x1F1E6...0x1F1FF).contains(first.value) { return 2 }
            if scalars.contains("\u{200D}") && first.properties.isEmoji { return 2 }
        }
        let width = wcwidth(wchar_t(bitPattern: first.value))
        if width >= 0 { return Int(width) }
        // A scalar the C library does not know (newer than its tables): one column is the
        // terminal's usual guess, except for marks that attach to what came before.
        return first.properties.generalCategory == .nonspacingMark ? 0 : 1
    }

    public static func columns(of text: some StringProtocol) -> Int {
        // Printable ASCII is a column a byte, without breaking the text into clusters.
        if isPrintableASCII(text) { return text.utf8.count }
        return text.reduce(0) { $0 + columns(of: $1) }
    }

    /// Whether every byte is printable ASCII: one character and one column each, which most
    /// of a chat's text is; the rest needs grapheme clusters and the width tables.
    static func isPrintableASCII(_ text: some StringProtocol) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// The longest prefix of `text` that fits in `width` columns, never cutting a cluster.
    public static func prefix(of text: String, fitting width: Int) -> String {
        var used = 0
        var result = ""
        for character in text {
            let w = columns(of: character)
            if used + w > width { break }
            used += w
            result.append(character)
        }
        return result
    }

    /// `text` cut or padded with spaces to exactly `width` columns (a wide character that would
    /// straddle the edge becomes a space, so columns always line up).
    public static func fit(_ text: String, to width: Int) -> String {
        let cut = prefix(of: text, fitting: width)
        return cut + String(repeating: " ", count: max(0, width - columns(of: cut)))
    }

    /// `text` cut to `width` columns with an ellipsis when it did not fit.
    public static func truncate(_ text: String, to width: Int) -> String {
        guard width > 0 else { return "" }
        if columns(of: text) <= width { return text }
        return prefix(of: text, fitting: width - 1) + "…"
    }
}
