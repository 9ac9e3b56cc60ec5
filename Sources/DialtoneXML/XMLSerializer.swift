extension XMLElement {
    /// Serialized XML. Writes `xmlns` only where `namespace` differs from `parentNamespace`
    /// (nil means no namespace in scope), so a stanza serialized with
    /// `parentNamespace: "jabber:client"` goes out bare, as the stream already declares it.
    public func serialized(parentNamespace: String? = nil) -> String {
        var buffer = ""
        serialize(into: &buffer, parentNamespace: parentNamespace)
        return buffer
    }

    /// Whatever the element holds, the output is well-formed: names lose characters that XML
    /// names cannot contain, values and text are escaped, and characters XML 1.0 cannot carry
    /// at all (controls other than tab, newline and carriage return; U+FFFE, U+FFFF) are dropped.
    public func serialize(into buffer: inout String, parentNamespace: String?) {
        buffer.append("<")
        appendXMLName(name, to: &buffer)
        if namespace != (parentNamespace ?? "") {
            buffer.append(" xmlns='")
            appendEscaped(namespace, inAttribute: true, to: &buffer)
            buffer.append("'")
        }
        for (index, attribute) in attributes.enumerated() {
            // `namespace` is the only source of the default namespace; a duplicate name would
            // make the whole stanza malformed, so the first occurrence wins.
            if attribute.name == "xmlns" { continue }
            if attributes[..<index].contains(where: { $0.name == attribute.name }) { continue }
            buffer.append(" ")
            appendXMLName(attribute.name, to: &buffer)
            buffer.append("='")
            appendEscaped(attribute.value, inAttribute: true, to: &buffer)
            buffer.append("'")
        }
        if children.isEmpty {
            buffer.append("/>")
            return
        }
        buffer.append(">")
        for child in children {
            switch child {
            case .element(let element):
                element.serialize(into: &buffer, parentNamespace: namespace)
            case .text(let text):
                appendEscaped(text, inAttribute: false, to: &buffer)
            }
        }
        buffer.append("</")
        appendXMLName(name, to: &buffer)
        buffer.append(">")
    }
}

/// The stream's opening and closing tags, which are never a complete element.
public enum XMLStream {
    /// `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to=… from=… version='1.0' xml:lang=…>`,
    /// without a closing tag; nil attributes are omitted.
    public static func header(to: String?, from: String?, namespace: String = "jabber:client", language: String? = "en") -> String {
        var header = "<?xml version='1.0'?><stream:stream xmlns='"
        appendEscaped(namespace, inAttribute: true, to: &header)
        header.append("' xmlns:stream='http://etherx.jabber.org/streams'")
        for (name, value) in [("to", to), ("from", from), ("version", "1.0"), ("xml:lang", language)] {
            guard let value else { continue }
            header.append(" \(name)='")
            appendEscaped(value, inAttribute: true, to: &header)
            header.append("'")
        }
        header.append(">")
        return header
    }

    public static let footer = "</stream:stream>"
}

// MARK: - Escaping

/// Whether a byte sends the string down the slow path. 0xEF leads U+FFFE and U+FFFF, which
/// XML 1.0 forbids; the slow path checks the bytes after it.
@inline(__always)
private func needsEscaping(_ byte: UInt8, inAttribute: Bool) -> Bool {
    switch byte {
    case UInt8(ascii: "&"), UInt8(ascii: "<"), UInt8(ascii: ">"), 0xEF: true
    case UInt8(ascii: "'"), UInt8(ascii: "\""), UInt8(ascii: "\t"), UInt8(ascii: "\n"): inAttribute
    case 0..<0x20: true
    default: false
    }
}

func appendEscaped(_ string: String, inAttribute: Bool, to buffer: inout String) {
    var contiguous = string
    contiguous.withUTF8 { bytes in
        guard bytes.contains(where: { needsEscaping($0, inAttribute: inAttribute) }) else {
            buffer.append(string)
            return
        }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 32)
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "&"): output.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): output.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): output.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "'") where inAttribute: output.append(contentsOf: "&apos;".utf8)
            case UInt8(ascii: "\"") where inAttribute: output.append(contentsOf: "&quot;".utf8)
            // Attribute-value normalization would turn these into spaces, and any parser turns
            // a bare carriage return into a newline; character references survive both.
            case UInt8(ascii: "\t") where inAttribute: output.append(contentsOf: "&#9;".utf8)
            case UInt8(ascii: "\n") where inAttribute: output.append(contentsOf: "&#10;".utf8)
            case UInt8(ascii: "\r"): output.append(contentsOf: "&#13;".utf8)
            case UInt8(ascii: "\t"), UInt8(ascii: "\n"): output.append(byte)
            case 0..<0x20: continue
            case 0xEF where index + 1 < bytes.count && bytes[index] == 0xBF && (bytes[index + 1] & 0xFE) == 0xBE:
                index += 2
            default: output.append(byte)
            }
        }
        buffer.append(String(decoding: output, as: UTF8.self))
    }
}

private func appendXMLName(_ name: String, to buffer: inout String) {
    var isPlain = !name.isEmpty
    for (offset, byte) in name.utf8.enumerated() {
        let ok: Bool = switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"), UInt8(ascii: ":"): true
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."): offset > 0
        default: false
        }
        if !ok {
            isPlain = false
            break
        }
    }
    if isPlain {
        buffer.append(name)
        return
    }
    var cleaned = String.UnicodeScalarView()
    for scalar in name.unicodeScalars where cleaned.isEmpty ? isNameStart(scalar) : isNameCharacter(scalar) {
        cleaned.append(scalar)
    }
    // Names come from code, not users; an empty one still has to produce well-formed output.
    buffer.append(cleaned.isEmpty ? "_" : String(cleaned))
}

/// XML 1.0 (fifth edition) NameStartChar.
private func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x3A, 0x41...0x5A, 0x5F, 0x61...0x7A, 0xC0...0xD6, 0xD8...0xF6, 0xF8...0x2FF, 0x370...0x37D,
         0x37F...0x1FFF, 0x200C...0x200D, 0x2070...0x218F, 0x2C00...0x2FEF, 0x3001...0xD7FF,
         0xF900...0xFDCF, 0xFDF0...0xFFFD, 0x10000...0xEFFFF:
        true
    default:
        false
    }
}

/// XML 1.0 (fifth edition) NameChar.
private func isNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
    switch scalar.value {
    case 0x2D, 0x2E, 0x30...0x39, 0xB7, 0x300...0x36F, 0x203F...0x2040: true
    default: isNameStart(scalar)
    }
}
