/// Decoding STUN messages (RFC 8489 §5, §14) from untrusted bytes: every length checked
/// before it is read, integrity verified as a second step.

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
