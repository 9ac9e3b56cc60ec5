import CPhoneNumbers

/// A telephone number in E.164 form (`+15551234567`). Parsing, validation and formatting
/// are libphonenumber's: numbering plans change, and we do not keep our own copy of them.
public struct PhoneNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let e164: String
    /// libphonenumber's opinion that the number is assigned. Only a hint: fiction and tests
    /// use unassigned ranges (555), and gateways know better than any table.
    public let isValid: Bool

    /// Parses any common written form; `region` (ISO 3166, "US") applies to numbers without
    /// a country code. Possible numbers are accepted; impossible ones are refused.
    public init(parsing text: String, region: String) throws(PhoneNumberError) {
        var buffer = [CChar](repeating: 0, count: 64)
        var possible: Int32 = 0
        var valid: Int32 = 0
        let status = dt_phone_parse(text, region.uppercased(), &buffer, buffer.count, &possible, &valid)
        switch status {
        case DT_PHONE_OK: break
        case DT_PHONE_INVALID_COUNTRY_CODE: throw .invalidCountryCode(text)
        case DT_PHONE_TOO_SHORT, DT_PHONE_TOO_SHORT_AFTER_IDD: throw .tooShort(text)
        case DT_PHONE_TOO_LONG: throw .tooLong(text)
        default: throw .notANumber(text)
        }
        guard possible == 1 else { throw .notPossible(text) }
        e164 = Self.string(buffer)
        isValid = valid == 1
    }

    /// An E.164 string as it comes from a JID's local part; nil when it is not one.
    public init?(e164 text: String) {
        guard text.hasPrefix("+"), text.count > 2, text.dropFirst().allSatisfy(\.isASCII), text.dropFirst().allSatisfy(\.isNumber),
              let parsed = try? PhoneNumber(parsing: text, region: "ZZ"), parsed.e164 == text else { return nil }
        self = parsed
    }

    /// The region the number belongs to ("US", "GB"), or "ZZ" when unknown.
    public var region: String {
        var buffer = [CChar](repeating: 0, count: 8)
        dt_phone_region(e164, &buffer, buffer.count)
        return Self.string(buffer)
    }

    /// How a person in `viewerRegion` writes it: national form at home, international abroad.
    public func formatted(for viewerRegion: String?) -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        let status = dt_phone_format(e164, DT_PHONE_FORMAT_NATIONAL, viewerRegion?.uppercased(), &buffer, buffer.count)
        return status == DT_PHONE_OK ? Self.string(buffer) : e164
    }

    public var international: String {
        var buffer = [CChar](repeating: 0, count: 64)
        return dt_phone_format(e164, DT_PHONE_FORMAT_INTERNATIONAL, nil, &buffer, buffer.count) == DT_PHONE_OK ? Self.string(buffer) : e164
    }

    public var description: String { e164 }

    public static func < (lhs: PhoneNumber, rhs: PhoneNumber) -> Bool { lhs.e164 < rhs.e164 }

    /// True when `text` is a short code (SMS services, "12345") in `region`.
    public static func isShortCode(_ text: String, region: String) -> Bool {
        let digits = text.filter { !$0.isWhitespace && $0 != "-" }
        guard !digits.isEmpty, digits.count <= 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return false }
        return dt_phone_is_possible_short_number(digits, region.uppercased()) == 1
    }

    /// Numbers written in running text, with where they stand (for showing names in their place).
    public static func find(in text: String, region: String) -> [(range: Range<String.Index>, number: PhoneNumber)] {
        var matches = [dt_phone_match](repeating: dt_phone_match(), count: 32)
        let count = Int(dt_phone_find(text, region.uppercased(), &matches, Int32(matches.count)))
        let utf8 = text.utf8
        return matches.prefix(count).compactMap { match in
            let e164 = withUnsafeBytes(of: match.e164) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let number = PhoneNumber(e164: e164),
                  let start = utf8.index(utf8.startIndex, offsetBy: match.start, limitedBy: utf8.endIndex),
                  let end = utf8.index(utf8.startIndex, offsetBy: match.end, limitedBy: utf8.endIndex) else { return nil }
            return (start..<end, number)
        }
    }

    private static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

public enum PhoneNumberError: Error, Sendable, Equatable, CustomStringConvertible {
    case notANumber(String)
    case invalidCountryCode(String)
    case tooShort(String)
    case tooLong(String)
    case notPossible(String)

    public var description: String {
        switch self {
        case .notANumber(let text): "\"\(text)\" is not a phone number."
        case .invalidCountryCode(let text): "\"\(text)\" has no country code Dialtone knows; write it with + and the country code."
        case .tooShort(let text): "\"\(text)\" is too short to be a phone number."
        case .tooLong(let text): "\"\(text)\" is too long to be a phone number."
        case .notPossible(let text): "\"\(text)\" cannot be a phone number in that country."
        }
    }
}
