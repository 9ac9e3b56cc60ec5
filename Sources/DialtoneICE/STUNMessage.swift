/// STUN messages (RFC 8489) with the attributes ICE (RFC 8445, 7675) and TURN (RFC 8656) use.

public enum STUNClass: UInt8, Sendable {
    case request = 0, indication = 1, success = 2, error = 3
}

public struct STUNMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue & 0x0FFF }

    public static let binding = STUNMethod(rawValue: 0x001)
    public static let allocate = STUNMethod(rawValue: 0x003)
    public static let refresh = STUNMethod(rawValue: 0x004)
    public static let send = STUNMethod(rawValue: 0x006)
    public static let data = STUNMethod(rawValue: 0x007)
    public static let createPermission = STUNMethod(rawValue: 0x008)
    public static let channelBind = STUNMethod(rawValue: 0x009)

    public var description: String {
        switch self {
        case .binding: "Binding"
        case .allocate: "Allocate"
        case .refresh: "Refresh"
        case .send: "Send"
        case .data: "Data"
        case .createPermission: "CreatePermission"
        case .channelBind: "ChannelBind"
        default: "method-0x\(String(rawValue, radix: 16))"
        }
    }
}

public struct STUNTransactionID: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 12 else { return nil }
        self.bytes = bytes
    }

    /// 96 bits from the system's CSPRNG: the id is what stops off-path response forgery.
    public static func random() -> STUNTransactionID {
        var generator = SystemRandomNumberGenerator()
        return STUNTransactionID(bytes: (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) })!
    }

    public var description: String { bytes.map { String($0, radix: 16).leftPadded(2) }.joined() }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}

public enum STUNAttributeType {
    public static let mappedAddress: UInt16 = 0x0001
    public static let username: UInt16 = 0x0006
    public static let messageIntegrity: UInt16 = 0x0008
    public static let errorCode: UInt16 = 0x0009
    public static let unknownAttributes: UInt16 = 0x000A
    public static let channelNumber: UInt16 = 0x000C
    public static let lifetime: UInt16 = 0x000D
    public static let xorPeerAddress: UInt16 = 0x0012
    public static let data: UInt16 = 0x0013
    public static let realm: UInt16 = 0x0014
    public static let nonce: UInt16 = 0x0015
    public static let xorRelayedAddress: UInt16 = 0x0016
    public static let requestedTransport: UInt16 = 0x0019
    public static let xorMappedAddress: UInt16 = 0x0020
    public static let priority: UInt16 = 0x0024
    public static let useCandidate: UInt16 = 0x0025
    public static let messageIntegritySHA256: UInt16 = 0x001C
    public static let software: UInt16 = 0x8022
    public static let fingerprint: UInt16 = 0x8028
    public static let iceControlled: UInt16 = 0x8029
    public static let iceControlling: UInt16 = 0x802A
    /// libwebrtc's renomination (draft-thatcher-ice-renomination).
    public static let nomination: UInt16 = 0xC001

    /// Attributes below 0x8000 must be understood (RFC 8489 section 14).
    public static func isComprehensionRequired(_ type: UInt16) -> Bool { type < 0x8000 }
}

public enum STUNAttribute: Hashable, Sendable {
    case mappedAddress(TransportAddress)
    case xorMappedAddress(TransportAddress)
    case xorPeerAddress(TransportAddress)
    case xorRelayedAddress(TransportAddress)
    case username(String)
    case messageIntegrity([UInt8])
    case messageIntegritySHA256([UInt8])
    case fingerprint(UInt32)
    case errorCode(code: Int, reason: String)
    case unknownAttributes([UInt16])
    case priority(UInt32)
    case useCandidate
    case iceControlled(UInt64)
    case iceControlling(UInt64)
    case nomination(UInt32)
    case software(String)
    case realm(String)
    case nonce(String)
    case lifetime(UInt32)
    case data([UInt8])
    case channelNumber(UInt16)
    /// The protocol number: 17 for UDP.
    case requestedTransport(UInt8)
    /// Anything else, kept so that it can be reported (420) or passed on.
    case other(type: UInt16, value: [UInt8])

    public var type: UInt16 {
        typealias T = STUNAttributeType
        switch self {
        case .mappedAddress: return T.mappedAddress
        case .xorMappedAddress: return T.xorMappedAddress
        case .xorPeerAddress: return T.xorPeerAddress
        case .xorRelayedAddress: return T.xorRelayedAddress
        case .username: return T.username
        case .messageIntegrity: return T.messageIntegrity
        case .messageIntegritySHA256: return T.messageIntegritySHA256
        case .fingerprint: return T.fingerprint
        case .errorCode: return T.errorCode
        case .unknownAttributes: return T.unknownAttributes
        case .priority: return T.priority
        case .useCandidate: return T.useCandidate
        case .iceControlled: return T.iceControlled
        case .iceControlling: return T.iceControlling
        case .nomination: return T.nomination
        case .software: return T.software
        case .realm: return T.realm
        case .nonce: return T.nonce
        case .lifetime: return T.lifetime
        case .data: return T.data
        case .channelNumber: return T.channelNumber
        case .requestedTransport: return T.requestedTransport
        case .other(let type, _): return type
        }
    }
}

/// Why a datagram was refused. Each case is counted by whoever receives (see `STUNRejectionCounters`).
public enum STUNError: Error, Hashable, Sendable {
    case tooShort
    /// First two bits not zero, or no magic cookie: not STUN at all (RFC 7983 sends it elsewhere).
    case notSTUN
    case lengthMismatch
    case badAttribute(type: UInt16)
    case badFingerprint
    /// Integrity was required and is absent.
    case missingIntegrity
    case integrityMismatch
    case missingUsername
    case wrongUsername
}

/// Counts of refused messages by reason, kept by each receiver so tests and stats can see them.
public struct STUNRejectionCounters: Sendable, Equatable {
    public private(set) var byReason: [STUNError: Int] = [:]
    public var total: Int { byReason.values.reduce(0, +) }
    public init() {}
    public mutating func count(_ error: STUNError) { byReason[error, default: 0] += 1 }
    public subscript(_ error: STUNError) -> Int { byReason[error] ?? 0 }
}

public let stunMagicCookie: UInt32 = 0x2112_A442

public struct STUNMessage: Sendable, Equatable {
    public var method: STUNMethod
    public var messageClass: STUNClass
    public var transactionID: STUNTransactionID
    /// In wire order. Integrity and fingerprint attributes are added by `encode`, not kept here.
    public var attributes: [STUNAttribute]

    public init(method: STUNMethod, class messageClass: STUNClass, transactionID: STUNTransactionID = .random(),
                attributes: [STUNAttribute] = []) {
        self.method = method
        self.messageClass = messageClass
        self.transactionID = transactionID
        self.attributes = attributes
    }

    public func first<T>(_ extract: (STUNAttribute) -> T?) -> T? {
        for attribute in attributes { if let value = extract(attribute) { return value } }
        return nil
    }

    public var username: String? { first { if case .username(let v) = $0 { v } else { nil } } }
    public var xorMappedAddress: TransportAddress? { first { if case .xorMappedAddress(let v) = $0 { v } else { nil } } }
    public var mappedAddress: TransportAddress? { first { if case .mappedAddress(let v) = $0 { v } else { nil } } }
    public var xorPeerAddress: TransportAddress? { first { if case .xorPeerAddress(let v) = $0 { v } else { nil } } }
    public var xorRelayedAddress: TransportAddress? { first { if case .xorRelayedAddress(let v) = $0 { v } else { nil } } }
    public var errorCode: (code: Int, reason: String)? { first { if case .errorCode(let c, let r) = $0 { (c, r) } else { nil } } }
    public var priority: UInt32? { first { if case .priority(let v) = $0 { v } else { nil } } }
    public var hasUseCandidate: Bool { attributes.contains(.useCandidate) }
    public var iceControlling: UInt64? { first { if case .iceControlling(let v) = $0 { v } else { nil } } }
    public var iceControlled: UInt64? { first { if case .iceControlled(let v) = $0 { v } else { nil } } }
    public var nomination: UInt32? { first { if case .nomination(let v) = $0 { v } else { nil } } }
    public var realm: String? { first { if case .realm(let v) = $0 { v } else { nil } } }
    public var nonce: String? { first { if case .nonce(let v) = $0 { v } else { nil } } }
    public var lifetime: UInt32? { first { if case .lifetime(let v) = $0 { v } else { nil } } }
    public var data: [UInt8]? { first { if case .data(let v) = $0 { v } else { nil } } }
    public var channelNumber: UInt16? { first { if case .channelNumber(let v) = $0 { v } else { nil } } }
    public var software: String? { first { if case .software(let v) = $0 { v } else { nil } } }
    public var unknownAttributes: [UInt16]? { first { if case .unknownAttributes(let v) = $0 { v } else { nil } } }
}

// MARK: - Encoding

public struct STUNIntegrityKey: Sendable, Hashable {
    public enum Algorithm: Sendable, Hashable { case sha1, sha256 }
    public let bytes: [UInt8]
    public let algorithm: Algorithm

    /// ICE's short-term credential: the password itself (RFC 8489 9.1.1).
    public static func shortTerm(_ password: String, algorithm: Algorithm = .sha1) -> STUNIntegrityKey {
        STUNIntegrityKey(bytes: Array(password.utf8), algorithm: algorithm)
    }

    /// TURN's long-term credential: MD5(username ":" realm ":" password) (RFC 8489 9.2.2).
    /// Callers pass strings already SASLprep'd or OpaqueString-prepared; ASCII needs neither.
    public static func longTerm(username: String, realm: String, password: String,
                                algorithm: Algorithm = .sha1) -> STUNIntegrityKey {
        STUNIntegrityKey(bytes: STUNCrypto.md5(Array("\(username):\(realm):\(password)".utf8)), algorithm: algorithm)
    }

    public init(bytes: [UInt8], algorithm: Algorithm) {
        self.bytes = bytes
        self.algorithm = algorithm
    }
}

extension STUNMessage {
    /// Serializes; appends MESSAGE-INTEGRITY (or -SHA256) with `integrity`, then FINGERPRINT if asked.
    public func encode(integrity: STUNIntegrityKey? = nil, fingerprint: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        let type = Self.messageType(method: method, class: messageClass)
        out.appendBE(type)
        out.appendBE(UInt16(0))
        out.appendBE(stunMagicCookie)
        out += transactionID.bytes
        for attribute in attributes {
            Self.append(attribute, to: &out, transactionID: transactionID)
        }
        if let integrity {
            let macLength = integrity.algorithm == .sha1 ? 20 : 32
            Self.setLength(&out, out.count - 20 + 4 + macLength)
            let mac = STUNCrypto.hmac(integrity, out)
            out.appendBE(integrity.algorithm == .sha1 ? STUNAttributeType.messageIntegrity : STUNAttributeType.messageIntegritySHA256)
            out.appendBE(UInt16(macLength))
            out += mac
        }
        if fingerprint {
            Self.setLength(&out, out.count - 20 + 8)
            let crc = STUNCrypto.crc32(out) ^ 0x5354_554E
            out.appendBE(STUNAttributeType.fingerprint)
            out.appendBE(UInt16(4))
            out.appendBE(crc)
        }
        Self.setLength(&out, out.count - 20)
        return out
    }

    static func messageType(method: STUNMethod, class messageClass: STUNClass) -> UInt16 {
        // The class bits C1 C0 sit at bits 8 and 4, splitting the method into three runs.
        let m = method.rawValue
        let c = UInt16(messageClass.rawValue)
        return (m & 0x000F) | ((m & 0x0070) << 1) | ((m & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }

    static func setLength(_ out: inout [UInt8], _ length: Int) {
        out[2] = UInt8(truncatingIfNeeded: length >> 8)
        out[3] = UInt8(truncatingIfNeeded: length)
    }

    static func append(_ attribute: STUNAttribute, to out: inout [UInt8], transactionID: STUNTransactionID) {
        var value: [UInt8] = []
        switch attribute {
        case .mappedAddress(let address):
            value = encodeAddress(address, xor: nil)
        case .xorMappedAddress(let address), .xorPeerAddress(let address), .xorRelayedAddress(let address):
            value = encodeAddress(address, xor: transactionID)
        case .username(let s), .software(let s), .realm(let s), .nonce(let s):
            value = Array(s.utf8)
        case .messageIntegrity(let bytes), .messageIntegritySHA256(let bytes), .data(let bytes):
            value = bytes
        case .fingerprint(let v), .priority(let v), .nomination(let v), .lifetime(let v):
            value.appendBE(v)
        case .errorCode(let code, let reason):
            value = [0, 0, UInt8((code / 100) & 0x7), UInt8(code % 100)] + Array(reason.utf8)
        case .unknownAttributes(let types):
            for t in types { value.appendBE(t) }
        case .useCandidate:
            break
        case .iceControlled(let v), .iceControlling(let v):
            value.appendBE(v)
        case .channelNumber(let n):
            value.appendBE(n)
            value.appendBE(UInt16(0))
        case .requestedTransport(let proto):
            value = [proto, 0, 0, 0]
        case .other(_, let bytes):
            value = bytes
        }
        out.appendBE(attribute.type)
        out.appendBE(UInt16(value.count))
        out += value
        // Padding is zero on the wire we send; on receipt its content is ignored.
        while out.count % 4 != 0 { out.append(0) }
    }

    static func encodeAddress(_ address: TransportAddress, xor transactionID: STUNTransactionID?) -> [UInt8] {
        var value: [UInt8] = [0, address.ip.isIPv4 ? 1 : 2]
        var port = address.port
        var ip = address.ip.bytes
        if let transactionID {
            port ^= UInt16(stunMagicCookie >> 16)
            let mask = cookieBytes + transactionID.bytes
            for i in ip.indices { ip[i] ^= mask[i] }
        }
        value.appendBE(port)
        return value + ip
    }
}

let cookieBytes: [UInt8] = [0x21, 0x12, 0xA4, 0x42]

extension Array where Element == UInt8 {
    mutating func appendBE(_ v: UInt16) { append(UInt8(v >> 8)); append(UInt8(v & 0xFF)) }
    mutating func appendBE(_ v: UInt32) { for s in stride(from: 24, through: 0, by: -8) { append(UInt8((v >> UInt32(s)) & 0xFF)) } }
    mutating func appendBE(_ v: UInt64) { for s in stride(from: 56, through: 0, by: -8) { append(UInt8((v >> UInt64(s)) & 0xFF)) } }
}

// MARK: - Decoding

/// A decoded message together with what is needed to check its integrity afterwards: the key is
/// usually chosen from the USERNAME or REALM inside the message, so checking is a second step.
public struct STUNDecoded: Sendable {
    public let message: STUNMessage
    let raw: [UInt8]
    /// Offsets of the MESSAGE-INTEGRITY(-SHA256) attribute headers, if present.
    let integrityOffset: Int?
    let integritySHA256Offset: Int?
    public let hasFingerprint: Bool
    /// Comprehension-required attribute types we do not know; a request with any gets a 420.
    public let unknownRequired: [UInt16]

    public var hasIntegrity: Bool { integrityOffset != nil || integritySHA256Offset != nil }

    /// Checks MESSAGE-INTEGRITY-SHA256 if present (the stronger one), else MESSAGE-INTEGRITY.
    public func verifyIntegrity(_ key: STUNIntegrityKey) throws(STUNError) {
        if let offset = integritySHA256Offset {
            try check(offset: offset, macLength: 32, key: STUNIntegrityKey(bytes: key.bytes, algorithm: .sha256))
        } else if let offset = integrityOffset {
            try check(offset: offset, macLength: 20, key: STUNIntegrityKey(bytes: key.bytes, algorithm: .sha1))
        } else {
            throw .missingIntegrity
        }
    }

    private func check(offset: Int, macLength: Int, key: STUNIntegrityKey) throws(STUNError) {
        let declared = Int(raw[offset + 2]) << 8 | Int(raw[offset + 3])
        // RFC 8489 allows a truncated SHA256 MAC of at least 16 bytes; SHA1 is always 20.
        guard declared == macLength || (macLength == 32 && declared >= 16 && declared <= 32 && declared % 4 == 0) else {
            throw .integrityMismatch
        }
        var covered = Array(raw[0..<offset])
        STUNMessage.setLength(&covered, offset - 20 + 4 + declared)
        let mac = STUNCrypto.hmac(key, covered)
        let received = raw[(offset + 4)..<(offset + 4 + declared)]
        guard STUNCrypto.constantTimeEqual(Array(mac.prefix(declared)), Array(received)) else { throw .integrityMismatch }
    }
}

extension STUNMessage {
    /// True if the first bytes look like STUN at all (RFC 7983 range and magic cookie).
    public static func looksLikeSTUN(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 20 && bytes[0] < 4 && Array(bytes[4..<8]) == cookieBytes
    }

    /// Parses a datagram. Checks structure and FINGERPRINT (when present); integrity is
    /// `STUNDecoded.verifyIntegrity`'s job once the caller knows the key.
    public static func decode(_ bytes: [UInt8]) throws(STUNError) -> STUNDecoded {
        guard bytes.count >= 20 else { throw .tooShort }
        guard bytes[0] & 0xC0 == 0, Array(bytes[4..<8]) == cookieBytes else { throw .notSTUN }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length % 4 == 0, length + 20 == bytes.count else { throw .lengthMismatch }
        let type = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
        let methodBits = (type & 0x000F) | ((type & 0x00E0) >> 1) | ((type & 0x3E00) >> 2)
        let classBits = UInt8(((type >> 4) & 1) | ((type >> 7) & 2))
        let transactionID = STUNTransactionID(bytes: Array(bytes[8..<20]))!
        var message = STUNMessage(method: STUNMethod(rawValue: methodBits), class: STUNClass(rawValue: classBits)!,
                                  transactionID: transactionID)

        var offset = 20
        var integrityOffset: Int?
        var integritySHA256Offset: Int?
        var hasFingerprint = false
        var unknownRequired: [UInt16] = []
        while offset < bytes.count {
            guard offset + 4 <= bytes.count else { throw .lengthMismatch }
            let attrType = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let attrLength = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let valueStart = offset + 4
            let padded = (attrLength + 3) & ~3
            guard valueStart + padded <= bytes.count else { throw .badAttribute(type: attrType) }
            let value = Array(bytes[valueStart..<(valueStart + attrLength)])
            if hasFingerprint {
                // Nothing may follow FINGERPRINT.
                throw .badAttribute(type: attrType)
            }
            let afterIntegrity = integrityOffset != nil || integritySHA256Offset != nil
            switch attrType {
            case STUNAttributeType.messageIntegrity:
                guard attrLength == 20 else { throw .badAttribute(type: attrType) }
                if !afterIntegrity { integrityOffset = offset }
            case STUNAttributeType.messageIntegritySHA256:
                guard attrLength >= 16, attrLength <= 32, attrLength % 4 == 0 else { throw .badAttribute(type: attrType) }
                if integritySHA256Offset == nil { integritySHA256Offset = offset }
            case STUNAttributeType.fingerprint:
                guard attrLength == 4 else { throw .badAttribute(type: attrType) }
                var covered = Array(bytes[0..<offset])
                setLength(&covered, offset - 20 + 8)
                let expected = STUNCrypto.crc32(covered) ^ 0x5354_554E
                let got = UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3])
                guard expected == got else { throw .badFingerprint }
                hasFingerprint = true
            default:
                // Attributes after MESSAGE-INTEGRITY are not covered by it and are ignored (RFC 8489 14.5).
                if !afterIntegrity {
                    let attribute = try decodeAttribute(type: attrType, value: value, transactionID: transactionID)
                    if case .other = attribute, STUNAttributeType.isComprehensionRequired(attrType) {
                        unknownRequired.append(attrType)
                    }
                    message.attributes.append(attribute)
                }
            }
            offset = valueStart + padded
        }
        return STUNDecoded(message: message, raw: bytes, integrityOffset: integrityOffset,
                           integritySHA256Offset: integritySHA256Offset, hasFingerprint: hasFingerprint,
                           unknownRequired: unknownRequired)
    }

    static func decodeAttribute(type: UInt16, value: [UInt8], transactionID: STUNTransactionID) throws(STUNError) -> STUNAttribute {
        typealias T = STUNAttributeType
        func u32() throws(STUNError) -> UInt32 {
            guard value.count == 4 else { throw .badAttribute(type: type) }
            return value.reduce(0) { $0 << 8 | UInt32($1) }
        }
        func u64() throws(STUNError) -> UInt64 {
            guard value.count == 8 else { throw .badAttribute(type: type) }
            return value.reduce(0) { $0 << 8 | UInt64($1) }
        }
        func text(max: Int) throws(STUNError) -> String {
            guard value.count <= max, let s = String(validating: value, as: UTF8.self) else { throw .badAttribute(type: type) }
            return s
        }
        func address(xor: Bool) throws(STUNError) -> TransportAddress {
            guard value.count >= 4 else { throw .badAttribute(type: type) }
            let family = value[1]
            let expected = family == 1 ? 8 : family == 2 ? 20 : -1
            guard value.count == expected else { throw .badAttribute(type: type) }
            var port = UInt16(value[2]) << 8 | UInt16(value[3])
            var ip = Array(value[4...])
            if xor {
                port ^= UInt16(stunMagicCookie >> 16)
                let mask = cookieBytes + transactionID.bytes
                for i in ip.indices { ip[i] ^= mask[i] }
            }
            return TransportAddress(ip: IPAddress(bytes: ip)!, port: port)
        }
        switch type {
        case T.mappedAddress: return .mappedAddress(try address(xor: false))
        case T.xorMappedAddress: return .xorMappedAddress(try address(xor: true))
        case T.xorPeerAddress: return .xorPeerAddress(try address(xor: true))
        case T.xorRelayedAddress: return .xorRelayedAddress(try address(xor: true))
        // Length limits from RFC 8489 (in bytes: 513 for USERNAME, 763 for the others).
        case T.username: return .username(try text(max: 513))
        case T.software: return .software(try text(max: 763))
        case T.realm: return .realm(try text(max: 763))
        case T.nonce: return .nonce(try text(max: 763))
        case T.errorCode:
            guard value.count >= 4, let reason = String(validating: value[4...], as: UTF8.self) else {
                throw .badAttribute(type: type)
            }
            let hundreds = Int(value[2] & 0x7)
            let rest = Int(value[3])
            guard (3...6).contains(hundreds), rest < 100 else { throw .badAttribute(type: type) }
            return .errorCode(code: hundreds * 100 + rest, reason: reason)
        case T.unknownAttributes:
            guard value.count % 2 == 0 else { throw .badAttribute(type: type) }
            return .unknownAttributes(stride(from: 0, to: value.count, by: 2).map { UInt16(value[$0]) << 8 | UInt16(value[$0 + 1]) })
        case T.priority: return .priority(try u32())
        case T.useCandidate:
            guard value.isEmpty else { throw .badAttribute(type: type) }
            return .useCandidate
        case T.iceControlled: return .iceControlled(try u64())
        case T.iceControlling: return .iceControlling(try u64())
        case T.nomination:
            // libwebrtc sends 32 bits; only the low 24 carry the value.
            return .nomination(try u32() & 0x00FF_FFFF)
        case T.lifetime: return .lifetime(try u32())
        case T.data: return .data(value)
        case T.channelNumber:
            guard value.count == 4 else { throw .badAttribute(type: type) }
            return .channelNumber(UInt16(value[0]) << 8 | UInt16(value[1]))
        case T.requestedTransport:
            guard value.count == 4 else { throw .badAttribute(type: type) }
            return .requestedTransport(value[0])
        default:
            return .other(type: type, value: value)
        }
    }
}
