/// vCard 2.1, 3.0 (RFC 2426) and 4.0 (RFC 6350), as far as an address book for texting and
/// calling needs: names, telephone numbers and XMPP addresses. Our own reader, since the
/// format is small and the properties we need are few. vCard 2.1 is what Android and Outlook
/// still export: values in quoted-printable (`ENCODING=QUOTED-PRINTABLE`, with `=` soft line
/// breaks) in the charset the property names (`CHARSET=UTF-8`, `CHARSET=Windows-1252`).
public enum VCard {
    public static func parse(_ text: String) -> [ContactCard] {
        var cards: [ContactCard] = []
        var current: ContactCard?
        var structuredName: String?
        for line in unfold(text) {
            guard let property = Property(line) else { continue }
            switch property.name {
            case "BEGIN" where property.value.uppercased() == "VCARD":
                current = ContactCard(name: "")
                structuredName = nil
            case "END" where property.value.uppercased() == "VCARD":
                if var card = current {
                    if card.name.isEmpty, let structuredName { card.name = structuredName }
                    if card.name.isEmpty { card.name = card.phones.first?.number ?? card.jids.first ?? "" }
                    if !card.name.isEmpty && (!card.phones.isEmpty || !card.jids.isEmpty) { cards.append(card) }
                }
                current = nil
            case "FN":
                current?.name = unescape(property.value).trimmingCharacters(in: .whitespaces)
            case "N":
                // Family;Given;Additional;Prefix;Suffix → "Given Family".
                let parts = splitUnescaped(property.value, on: ";").map { unescape($0).trimmingCharacters(in: .whitespaces) }
                let given = parts.count > 1 ? parts[1] : ""
                let family = parts.first ?? ""
                structuredName = [given, family].filter { !$0.isEmpty }.joined(separator: " ")
            case "UID":
                current?.uid = unescape(property.value)
            case "TEL":
                var number = unescape(property.value).trimmingCharacters(in: .whitespaces)
                if number.lowercased().hasPrefix("tel:") { number = String(number.dropFirst(4)) }
                if let semicolon = number.firstIndex(of: ";") { number = String(number[..<semicolon]) }  // tel: URI parameters
                guard !number.isEmpty else { continue }
                current?.phones.append((number, property.types.first { !["voice", "pref"].contains($0) }))
            case "IMPP", "X-JABBER", "X-XMPP":
                var address = unescape(property.value).trimmingCharacters(in: .whitespaces)
                if address.lowercased().hasPrefix("xmpp:") { address = String(address.dropFirst(5)) }
                else if property.name == "IMPP" && address.contains(":") { continue }  // another protocol (sip:, skype:)
                if let query = address.firstIndex(of: "?") { address = String(address[..<query]) }
                if !address.isEmpty { current?.jids.append(address) }
            default:
                continue
            }
        }
        return cards
    }

    /// Lines joined where the file folded them: a line starting with a space or tab continues the
    /// last (3.0, 4.0), and so does every line after a quoted-printable line that ends in `=` (2.1).
    static func unfold(_ text: String) -> [String] {
        var lines: [String] = []
        var softBreak = false
        for raw in text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n").split(separator: "\n", omittingEmptySubsequences: false) {
            if softBreak, !lines.isEmpty {
                lines[lines.count - 1].removeLast()  // the "=" that broke the line
                lines[lines.count - 1] += raw
            } else if let first = raw.first, first == " " || first == "\t", !lines.isEmpty {
                lines[lines.count - 1] += raw.dropFirst()
            } else {
                lines.append(String(raw))
            }
            softBreak = lines.last.map { $0.hasSuffix("=") && isQuotedPrintable($0) } ?? false
        }
        return lines
    }

    /// Whether a (partly unfolded) line's parameters say its value is quoted-printable.
    private static func isQuotedPrintable(_ line: String) -> Bool {
        guard let colon = line.firstIndex(of: ":") else { return false }
        return line[..<colon].uppercased().contains("QUOTED-PRINTABLE")
    }

    struct Property {
        var name: String
        var types: [String]
        var value: String

        init?(_ line: String) {
            guard let colon = Self.valueSeparator(in: line) else { return nil }
            let head = line[..<colon]
            value = String(line[line.index(after: colon)...])
            var parts = head.split(separator: ";").map(String.init)
            guard !parts.isEmpty else { return nil }
            var propertyName = parts.removeFirst().uppercased()
            if let dot = propertyName.lastIndex(of: ".") { propertyName = String(propertyName[propertyName.index(after: dot)...]) }  // item1.TEL
            name = propertyName
            var types: [String] = []
            var quotedPrintable = false
            var charset: String?
            for parameter in parts {
                let pieces = parameter.split(separator: "=", maxSplits: 1).map(String.init)
                let key = pieces[0].uppercased()
                if pieces.count == 2, key == "TYPE" {
                    types += pieces[1].replacingOccurrences(of: "\"", with: "").split(separator: ",").map { $0.lowercased() }
                } else if pieces.count == 2, key == "ENCODING" {
                    quotedPrintable = pieces[1].uppercased() == "QUOTED-PRINTABLE"
                } else if pieces.count == 2, key == "CHARSET" {
                    charset = pieces[1].replacingOccurrences(of: "\"", with: "")
                } else if pieces.count == 1, key == "QUOTED-PRINTABLE" {
                    quotedPrintable = true  // vCard 2.1 allows the bare value
                } else if pieces.count == 1 {
                    types.append(pieces[0].lowercased())  // vCard 2.1 style: TEL;CELL:
                }
            }
            self.types = types
            if quotedPrintable {
                value = QuotedPrintable.decode(value, charset: charset)
            }
        }

        /// The first colon outside a quoted parameter value.
        private static func valueSeparator(in line: String) -> String.Index? {
            var quoted = false
            for index in line.indices {
                if line[index] == "\"" { quoted.toggle() } else if line[index] == ":" && !quoted { return index }
            }
            return nil
        }
    }

    static func unescape(_ value: String) -> String {
        var result = ""
        var escaping = false
        for character in value {
            if escaping {
                switch character {
                case "n", "N": result.append("\n")
                default: result.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    static func splitUnescaped(_ value: String, on separator: Character) -> [String] {
        var parts: [String] = [""]
        var escaping = false
        for character in value {
            if escaping {
                parts[parts.count - 1].append("\\")
                parts[parts.count - 1].append(character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else if character == separator {
                parts.append("")
            } else {
                parts[parts.count - 1].append(character)
            }
        }
        return parts
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
            .replacingOccurrences(of: ",", with: "\\,").replacingOccurrences(of: ";", with: "\\;")
    }

    /// vCard 4.0 text for export.
    public static func serialize(_ entries: [(uid: String, name: String, phones: [String], jids: [String])]) -> String {
        var text = ""
        for entry in entries {
            text += "BEGIN:VCARD\r\nVERSION:4.0\r\n"
            text += "UID:\(escape(entry.uid))\r\nFN:\(escape(entry.name))\r\n"
            for phone in entry.phones { text += "TEL;VALUE=uri:tel:\(phone)\r\n" }
            for jid in entry.jids { text += "IMPP:xmpp:\(jid)\r\n" }
            text += "END:VCARD\r\n"
        }
        return text
    }
}

import Foundation
