import Foundation

/// Quoted-printable (RFC 2045 6.7) as vCard 2.1 uses it: `=XX` is a byte, and the bytes are text
/// in the property's charset. Soft line breaks are already joined by the vCard reader.
enum QuotedPrintable {
    static func decode(_ value: String, charset: String?) -> String {
        var bytes: [UInt8] = []
        let source = Array(value.utf8)
        bytes.reserveCapacity(source.count)
        var index = 0
        while index < source.count {
            let byte = source[index]
            if byte == UInt8(ascii: "="), index + 2 < source.count,
               let high = hexValue(source[index + 1]), let low = hexValue(source[index + 2]) {
                bytes.append(high << 4 | low)
                index += 3
            } else {
                bytes.append(byte)  // a stray "=" is kept as written, as mail readers do
                index += 1
            }
        }
        return text(from: bytes, charset: charset)
    }

    /// Bytes as text in the named charset; without a charset (or one we do not know, or bytes
    /// that are not valid in it) UTF-8 first, then Windows-1252, which decodes any byte.
    static func text(from bytes: [UInt8], charset: String?) -> String {
        if let encoding = charset.flatMap(encoding(named:)), let text = String(bytes: bytes, encoding: encoding) {
            return text
        }
        return String(bytes: bytes, encoding: .utf8) ?? String(bytes: bytes, encoding: .windowsCP1252)
            ?? String(decoding: bytes, as: UTF8.self)
    }

    /// The charsets address-book exports name (IANA names, compared without case).
    static func encoding(named name: String) -> String.Encoding? {
        switch name.lowercased() {
        case "utf-8", "utf8": .utf8
        case "us-ascii", "ascii": .ascii
        case "iso-8859-1", "latin1", "iso_8859-1", "l1": .isoLatin1
        case "iso-8859-2", "latin2": .isoLatin2
        case "windows-1252", "cp1252", "x-cp1252": .windowsCP1252
        case "windows-1250", "cp1250": .windowsCP1250
        case "windows-1251", "cp1251": .windowsCP1251
        case "utf-16", "utf16": .utf16
        case "shift_jis", "sjis": .shiftJIS
        default: nil
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}
