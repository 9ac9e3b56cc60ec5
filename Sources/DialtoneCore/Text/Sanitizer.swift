/// Text from the network is shown only after this: control and escape characters could
/// otherwise move the cursor, retitle the terminal or fake other lines.
public enum Sanitizer {
    /// Single-line text: every control character (C0, DEL, C1) and bidirectional override
    /// becomes a visible replacement or a space; newlines become spaces.
    public static func plain(_ text: String) -> String {
        var result = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A, 0x0D, 0x09: result.append(" ")
            case 0x00...0x1F, 0x7F...0x9F: result.append("\u{FFFD}")
            case 0x202A...0x202E, 0x2066...0x2069: continue  // bidi overrides can reorder what we draw
            default: result.append(scalar)
            }
        }
        return String(result)
    }

    /// Multi-line text: like `plain` but keeps newlines.
    public static func multiline(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { plain(String($0)) }.joined(separator: "\n")
    }
}
