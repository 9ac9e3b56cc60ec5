import Foundation

/// An XMPP address (RFC 7622): `local@domain/resource`.
///
/// Parsed values are normalised the way servers compare them (local part and domain
/// case-folded, everything NFC), so two JIDs that a server treats as one compare equal here.
public struct JID: Sendable, Hashable, Codable, CustomStringConvertible, Comparable {
    public let local: String?
    public let domain: String
    public let resource: String?

    public init(local: String?, domain: String, resource: String? = nil) throws(JIDError) {
        self.local = try local.map(Self.normaliseLocal)
        self.domain = try Self.normaliseDomain(domain)
        self.resource = try resource.map(Self.normaliseResource)
    }

    public init(_ string: String) throws(JIDError) {
        // The domain ends at the first '/', and the local part at the last '@' before it.
        let resourceSplit = string.firstIndex(of: "/")
        let bare = resourceSplit.map { String(string[..<$0]) } ?? string
        let resource = resourceSplit.map { String(string[string.index(after: $0)...]) }
        var local: String?
        var domain = bare
        if let at = bare.firstIndex(of: "@") {
            local = String(bare[..<at])
            domain = String(bare[bare.index(after: at)...])
        }
        try self.init(local: local, domain: domain, resource: resource)
    }

    /// For literals in tests and known-good constants.
    public init(verified string: String) {
        do { try self.init(string) } catch { preconditionFailure("invalid JID literal \(string): \(error)") }
    }

    public var bare: JID { JID(trustedLocal: local, domain: domain, resource: nil) }
    public var isBare: Bool { resource == nil }
    public var isFull: Bool { resource != nil }

    public func with(resource: String?) throws(JIDError) -> JID {
        JID(trustedLocal: local, domain: domain, resource: try resource.map(Self.normaliseResource))
    }

    public var description: String {
        var result = ""
        if let local { result += local + "@" }
        result += domain
        if let resource { result += "/" + resource }
        return result
    }

    public var bareString: String { local.map { "\($0)@\(domain)" } ?? domain }

    public static func < (lhs: JID, rhs: JID) -> Bool { lhs.description < rhs.description }

    private init(trustedLocal: String?, domain: String, resource: String?) {
        self.local = trustedLocal
        self.domain = domain
        self.resource = resource
    }

    public init(from decoder: Decoder) throws {
        let string = try decoder.singleValueContainer().decode(String.self)
        try self.init(string)
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    // MARK: Normalisation

    private static let maximumPartBytes = 1023
    /// RFC 7622 3.3.1 and 3.2: the ASCII characters a local part (XEP-0106 escapes them) and
    /// a domain may not hold, besides spaces and controls.
    private static let forbiddenInLocal: StaticString = "\"&'/:<>@"
    private static let forbiddenInDomain: StaticString = "@/\\<>\"'&,;:[]"

    /// ASCII needs neither normalisation forms nor Unicode tables: lower-case it byte by
    /// byte (a roster of thousands is parsed at login; this is most of them).
    private static func asciiLowercased(_ raw: String) -> String? {
        // Most addresses on the wire are already lower-case ASCII: kept as they are, uncopied.
        if raw.utf8.allSatisfy({ $0 < 0x80 && !($0 >= 0x41 && $0 <= 0x5A) }) { return raw }
        var bytes = Array(raw.utf8)
        for index in bytes.indices {
            let byte = bytes[index]
            guard byte < 0x80 else { return nil }
            if byte >= 0x41 && byte <= 0x5A { bytes[index] = byte + 0x20 }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The first scalar of `value` that is a space, a control or one of `forbidden`: byte by
    /// byte for ASCII, through the Unicode property tables only beyond it.
    private static func firstForbidden(in value: String, ascii: Bool, _ forbidden: StaticString) -> Unicode.Scalar? {
        let banned = UnsafeBufferPointer(start: forbidden.utf8Start, count: forbidden.utf8CodeUnitCount)
        if ascii {
            return value.utf8.first { $0 <= 0x20 || $0 == 0x7F || banned.contains($0) }.map { Unicode.Scalar($0) }
        }
        return value.unicodeScalars.first { scalar in
            (scalar.isASCII && banned.contains(UInt8(scalar.value))) || scalar.properties.isWhitespace || isControl(scalar)
        }
    }

    private static func normaliseLocal(_ raw: String) throws(JIDError) -> String {
        let ascii = asciiLowercased(raw)
        let value = ascii ?? raw.precomposedStringWithCanonicalMapping.lowercased()
        guard !value.isEmpty else { throw .emptyPart("local part") }
        guard value.utf8.count <= maximumPartBytes else { throw .tooLong("local part") }
        if let bad = firstForbidden(in: value, ascii: ascii != nil, forbiddenInLocal) {
            throw .invalidCharacter(part: "local part", character: Character(bad))
        }
        return value
    }

    private static func normaliseDomain(_ raw: String) throws(JIDError) -> String {
        let ascii = asciiLowercased(raw)
        var value = ascii ?? raw.precomposedStringWithCanonicalMapping.lowercased()
        if value.hasSuffix(".") { value.removeLast() }  // RFC 7622 3.2: a trailing dot is stripped
        guard !value.isEmpty else { throw .emptyPart("domain") }
        guard value.utf8.count <= maximumPartBytes else { throw .tooLong("domain") }
        if value.hasPrefix("[") {
            // An IPv6 literal (RFC 7622 3.2, RFC 3986 IP-literal) and nothing else: controls,
            // spaces or markup inside the brackets would reach every screen and log.
            guard value.hasSuffix("]") else { throw .invalidCharacter(part: "domain", character: "[") }
            let inner = value.dropFirst().dropLast()
            if let bad = inner.unicodeScalars.first(where: { !($0.properties.isASCIIHexDigit || $0 == ":" || $0 == ".") }) {
                throw .invalidCharacter(part: "domain", character: Character(bad))
            }
            var address = in6_addr()
            guard inet_pton(AF_INET6, String(inner), &address) == 1 else { throw .notAnIPv6Address(value) }
            return value
        }
        if let bad = firstForbidden(in: value, ascii: ascii != nil, forbiddenInDomain) {
            throw .invalidCharacter(part: "domain", character: Character(bad))
        }
        if ascii != nil ? hasEmptyLabel(value.utf8) : value.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) {
            throw .emptyPart("domain label")
        }
        return value
    }

    /// Whether a dot starts or ends the domain or follows another, byte by byte.
    private static func hasEmptyLabel(_ bytes: String.UTF8View) -> Bool {
        var afterDot = true
        for byte in bytes {
            if byte == 0x2E {
                if afterDot { return true }
                afterDot = true
            } else {
                afterDot = false
            }
        }
        return afterDot
    }

    private static func normaliseResource(_ raw: String) throws(JIDError) -> String {
        // Printable ASCII is its own canonical form and holds no control: a room's 1,000
        // occupants' nicks are mostly that.
        let printableASCII = raw.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        let value = printableASCII ? raw : raw.precomposedStringWithCanonicalMapping
        guard !value.isEmpty else { throw .emptyPart("resource") }
        guard value.utf8.count <= maximumPartBytes else { throw .tooLong("resource") }
        for scalar in value.unicodeScalars where !printableASCII && isControl(scalar) {
            throw .invalidCharacter(part: "resource", character: Character(scalar))
        }
        return value
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
            && scalar != "\u{200D}"  // the zero-width joiner builds emoji; harmless in a resource
    }
}

public enum JIDError: Error, Sendable, Equatable, CustomStringConvertible {
    case emptyPart(String)
    case tooLong(String)
    case invalidCharacter(part: String, character: Character)
    case notAnIPv6Address(String)

    public var description: String {
        switch self {
        case .emptyPart(let part): "The address has an empty \(part)."
        case .tooLong(let part): "The address's \(part) is longer than 1023 bytes."
        case .invalidCharacter(let part, let character):
            "The address's \(part) contains \(character.unicodeScalars.map { String(format: "U+%04X", $0.value) }.joined()), which is not allowed there."
        case .notAnIPv6Address(let domain): "The address's domain \(domain) is in brackets but is not an IPv6 address."
        }
    }
}

/// XEP-0106 JID escaping: lets a local part carry the characters RFC 7622 forbids there
/// (user names with spaces or `@`, as gateways need).
public enum JIDEscaping {
    private static let table: [(Character, String)] = [
        (" ", "\\20"), ("\"", "\\22"), ("&", "\\26"), ("'", "\\27"), ("/", "\\2f"),
        (":", "\\3a"), ("<", "\\3c"), (">", "\\3e"), ("@", "\\40"), ("\\", "\\5c"),
    ]

    public static func escape(_ local: String) -> String {
        var result = ""
        var index = local.startIndex
        while index < local.endIndex {
            let character = local[index]
            if character == "\\" {
                // A backslash is escaped only where it would otherwise read as an escape sequence.
                let rest = local[local.index(after: index)...]
                if table.contains(where: { rest.lowercased().hasPrefix(String($0.1.dropFirst())) }) {
                    result += "\\5c"
                } else {
                    result.append(character)
                }
            } else if let escape = table.first(where: { $0.0 == character })?.1, character != "\\" {
                result += escape
            } else {
                result.append(character)
            }
            index = local.index(after: index)
        }
        return result
    }

    public static func unescape(_ local: String) -> String {
        var result = ""
        var index = local.startIndex
        while index < local.endIndex {
            if local[index] == "\\", let end = local.index(index, offsetBy: 3, limitedBy: local.endIndex),
               let original = table.first(where: { $0.1 == local[index..<end].lowercased() })?.0 {
                result.append(original)
                index = end
            } else {
                result.append(local[index])
                index = local.index(after: index)
            }
        }
        return result
    }
}
