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
