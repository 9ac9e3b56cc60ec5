/// Text from the network is shown only after this: control and escape characters could
/// otherwise move the cursor, retitle the terminal or fake other lines.
public enum Sanitizer {
    /// Single-line text: every control character (C0, DEL, C1) and bidirectional override
    /// becomes a visible replacement or a space; newlines become spaces.
    public static func plain(_ text: String) -> String {
        clean(text, keeping: [])
    }

    /// Multi-line text: like `plain` but keeps newlines.
    public static func multiline(_ text: String) -> String {
        clean(text, keeping: ["\n"])
    }

    /// A command-line program's human-readable output, whole lines of it: like `multiline`, but
    /// our own tabs between columns stay tabs.
    public static func terminal(_ text: String) -> String {
        clean(text, keeping: ["\n", "\t"])
    }

    /// Characters that change how the rest of a line is drawn or read without being seen:
    /// bidirectional overrides, isolates and marks, and invisible spaces. (The zero-width
    /// joiner and non-joiner stay: emoji sequences and Persian need them.)
    public static func isInvisibleFormatting(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x202A...0x202E, 0x2066...0x2069, 0x200E, 0x200F, 0x061C: true  // bidi
        case 0x200B, 0x2060...0x2064, 0xFEFF: true  // zero-width space, word joiner, invisible operators, BOM
        default: false
        }
    }

    private static func clean(_ text: String, keeping kept: Set<Unicode.Scalar>) -> String {
        // Printable ASCII (with the line breaks kept) is returned as it is, uncopied: every
        // message of a busy room passes here on its way to the screen.
        if text.utf8.allSatisfy({ ($0 >= 0x20 && $0 < 0x7F) || ($0 < 0x20 && kept.contains(Unicode.Scalar($0))) }) {
            return text
        }
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if kept.contains(scalar) {
                result.append(scalar)
                continue
            }
            switch scalar.value {
            case 0x0A, 0x0D, 0x09, 0x2028, 0x2029: result.append(" ")
            case 0x00...0x1F, 0x7F...0x9F: result.append("\u{FFFD}")
            default:
                if isInvisibleFormatting(scalar) { continue }  // they can reorder or hide what we draw
                result.append(scalar)
            }
        }
        return String(result)
    }
}
