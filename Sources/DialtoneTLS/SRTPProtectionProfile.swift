/// The DTLS-SRTP protection profiles we offer (RFC 5764 4.1.2, RFC 7714 14.2), with the
/// key and salt sizes that decide how the exported keying material is split.
public enum SRTPProtectionProfile: String, Sendable, CaseIterable {
    case aes128CMHMACSHA1_80 = "SRTP_AES128_CM_SHA1_80"
    case aeadAES128GCM = "SRTP_AEAD_AES_128_GCM"

    public var keyLength: Int { 16 }

    public var saltLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80: return 14
        case .aeadAES128GCM: return 12
        }
    }

    /// Bytes appended to each SRTP packet: the truncated HMAC, or the GCM tag.
    public var tagLength: Int {
        switch self {
        case .aes128CMHMACSHA1_80: return 10
        case .aeadAES128GCM: return 16
        }
    }
}

/// Master keys and salts for both directions, from the DTLS exporter (RFC 5764 4.2).
public struct SRTPKeyingMaterial: Sendable, Equatable {
    public var profile: SRTPProtectionProfile
    public var clientKey: [UInt8]
    public var clientSalt: [UInt8]
    public var serverKey: [UInt8]
    public var serverSalt: [UInt8]

    public init(profile: SRTPProtectionProfile, clientKey: [UInt8], clientSalt: [UInt8], serverKey: [UInt8], serverSalt: [UInt8]) {
        self.profile = profile
        self.clientKey = clientKey
        self.clientSalt = clientSalt
        self.serverKey = serverKey
        self.serverSalt = serverSalt
    }

    /// RFC 5764 4.2: the exporter output is client key, server key, client salt, server salt.
    public init(profile: SRTPProtectionProfile, exported: [UInt8]) {
        let k = profile.keyLength
        let s = profile.saltLength
        precondition(exported.count == 2 * (k + s))
        self.init(profile: profile,
                  clientKey: Array(exported[0..<k]), clientSalt: Array(exported[(2 * k)..<(2 * k + s)]),
                  serverKey: Array(exported[k..<(2 * k)]), serverSalt: Array(exported[(2 * k + s)..<(2 * k + 2 * s)]))
    }
}
