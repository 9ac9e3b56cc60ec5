/// Encoding STUN messages (RFC 8489 §5, §14): header, attributes with XOR-mapped addresses,
/// MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT.

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
