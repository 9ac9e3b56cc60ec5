import COmemo
import COpenSSL

/// The two OMEMO versions (XEP-0384) as this library speaks them: `legacy` is
/// `eu.siacs.conversations.axolotl` (libomemo-c's message version 3), `current` is
/// `urn:xmpp:omemo:2` (version 4). They differ in the payload cipher, the ratchet's message
/// form, and how keys are written in bundles.
public enum OMEMOFormat: Sendable, Equatable, CaseIterable {
    case legacy
    case current

    var messageVersion: UInt32 { self == .legacy ? UInt32(CIPHERTEXT_CURRENT_VERSION) : UInt32(CIPHERTEXT_OMEMO_VERSION) }
}

/// The payload of an OMEMO message, encrypted once for all recipient devices with a fresh key;
/// that key (with its authentication tag) is what the ratchet then encrypts for each device.
/// The two versions do this differently:
/// - legacy (`eu.siacs.conversations.axolotl`): AES-128-GCM with a 12-byte IV sent beside the
///   payload; the key material is the 16-byte key followed by the 16-byte GCM tag.
/// - current (`urn:xmpp:omemo:2`): HKDF-SHA-256 of a 32-byte key (zero salt, "OMEMO Payload")
///   gives an AES-256-CBC key, an HMAC-SHA-256 key and the IV; the key material is the key
///   followed by the HMAC over the ciphertext, cut to 16 bytes.
public enum OMEMOPayload {
    public typealias Format = OMEMOFormat

    public struct Sealed: Sendable, Equatable {
        public var payload: [UInt8]
        /// The legacy format's IV (the current one derives it).
        public var iv: [UInt8]?
        /// What the ratchet encrypts for each device.
        public var keyMaterial: [UInt8]
    }

    /// Encrypts `plaintext` with a fresh random key.
    public static func seal(_ plaintext: [UInt8], format: Format, context: OMEMOContext) throws(OMEMOError) -> Sealed {
        switch format {
        case .legacy: try sealLegacy(plaintext, key: random(16), iv: random(12))
        case .current: try sealCurrent(plaintext, key: random(32), context: context)
        }
    }

    /// What a key-transport message (no payload: a heartbeat, a session started again) carries
    /// for each device: fresh key material of the version's length, and the legacy IV.
    public static func keyTransport(format: Format) throws(OMEMOError) -> (keyMaterial: [UInt8], iv: [UInt8]?) {
        format == .legacy ? (try random(32), try random(12)) : (try random(48), nil)
    }

    /// Decrypts and authenticates a payload with the key material the ratchet gave.
    public static func open(_ payload: [UInt8], iv: [UInt8]?, keyMaterial: [UInt8], format: Format,
                            context: OMEMOContext) throws(OMEMOError) -> [UInt8] {
        switch format {
        case .legacy:
            // Conversations sends the tag after the key; versions before 2017 put it at the end
            // of the payload and sent the key alone.
            guard let iv, keyMaterial.count == 32 || (keyMaterial.count == 16 && payload.count >= 16) else { throw .badPayload }
            let tagAfterKey = keyMaterial.count == 32
            return try gcm(encrypting: false, key: Array(keyMaterial.prefix(16)), iv: iv,
                           input: tagAfterKey ? payload : Array(payload.dropLast(16)),
                           tag: tagAfterKey ? Array(keyMaterial.suffix(16)) : Array(payload.suffix(16))).output
        case .current:
            guard keyMaterial.count == 48 else { throw .badPayload }
            let (encryption, authentication, derivedIV) = try derive(Array(keyMaterial.prefix(32)), context: context)
            let mac = try hmac(key: authentication, data: payload).prefix(16)
            let expected = Array(keyMaterial.suffix(16))
            guard mac.withUnsafeBytes({ m in expected.withUnsafeBytes { CRYPTO_memcmp(m.baseAddress, $0.baseAddress, 16) } }) == 0
            else { throw .badPayload }
            guard let plain = OpenSSLCrypto.aes(encrypting: false, cipher: SG_CIPHER_AES_CBC_PKCS5, key: encryption,
                                                iv: derivedIV, input: payload) else { throw .badPayload }
            return plain
        }
    }

    static func sealLegacy(_ plaintext: [UInt8], key: [UInt8], iv: [UInt8]) throws(OMEMOError) -> Sealed {
        let (payload, tag) = try gcm(encrypting: true, key: key, iv: iv, input: plaintext, tag: nil)
        return Sealed(payload: payload, iv: iv, keyMaterial: key + tag)
    }

    static func sealCurrent(_ plaintext: [UInt8], key: [UInt8], context: OMEMOContext) throws(OMEMOError) -> Sealed {
        let (encryption, authentication, iv) = try derive(key, context: context)
        guard let payload = OpenSSLCrypto.aes(encrypting: true, cipher: SG_CIPHER_AES_CBC_PKCS5, key: encryption, iv: iv,
                                              input: plaintext) else { throw .library("AES-256-CBC") }
        return Sealed(payload: payload, iv: nil, keyMaterial: key + (try hmac(key: authentication, data: payload)).prefix(16))
    }

    /// HKDF-SHA-256 (libomemo-c's, on our HMAC) of the current version's key: encryption key,
    /// authentication key, IV.
    private static func derive(_ key: [UInt8], context: OMEMOContext) throws(OMEMOError) -> ([UInt8], [UInt8], [UInt8]) {
        var hkdf: OpaquePointer?
        guard hkdf_create(&hkdf, 3, context.pointer) == SG_SUCCESS else { throw .library("hkdf_create") }
        defer { dt_signal_unref(UnsafeMutableRawPointer(hkdf)) }
        let salt = [UInt8](repeating: 0, count: 32)
        let info = Array("OMEMO Payload".utf8)
        var output: UnsafeMutablePointer<UInt8>?
        let length = hkdf_derive_secrets(hkdf, &output, key, key.count, salt, salt.count, info, info.count, 80)
        defer { free(output) }
        guard length == 80, let output else { throw .library("hkdf_derive_secrets") }
        let bytes = Array(UnsafeBufferPointer(start: output, count: 80))
        return (Array(bytes[0..<32]), Array(bytes[32..<64]), Array(bytes[64..<80]))
    }

    private static func hmac(key: [UInt8], data: [UInt8]) throws(OMEMOError) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard HMAC(EVP_sha256(), key, Int32(key.count), data, data.count, &digest, &length) != nil, length == 32
        else { throw .library("HMAC-SHA-256") }
        return digest
    }

    static func random(_ count: Int) throws(OMEMOError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw .library("RAND_bytes") }
        return bytes
    }

    /// AES-GCM with a 128-bit key (the legacy payload) or a 256-bit one (XEP-0454 files):
    /// encrypting gives the ciphertext and its 16-byte tag; decrypting checks `tag`.
    static func gcm(encrypting: Bool, key: [UInt8], iv: [UInt8], input: [UInt8],
                            tag: [UInt8]?) throws(OMEMOError) -> (output: [UInt8], tag: [UInt8]) {
        guard key.count == 16 || key.count == 32, !iv.isEmpty, iv.count <= 16, let context = EVP_CIPHER_CTX_new() else { throw .badPayload }
        defer { EVP_CIPHER_CTX_free(context) }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        var final: Int32 = 0
        var outTag = tag ?? [UInt8](repeating: 0, count: 16)
        let ok = EVP_CipherInit_ex(context, key.count == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm(), nil, nil, nil, encrypting ? 1 : 0) == 1
            && EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_IVLEN, Int32(iv.count), nil) == 1
            && EVP_CipherInit_ex(context, nil, nil, key, iv, encrypting ? 1 : 0) == 1
            && (input.isEmpty || EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1)
            && (encrypting || EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, 16, &outTag) == 1)
            && output.withUnsafeMutableBufferPointer { EVP_CipherFinal_ex(context, $0.baseAddress! + Int(written), &final) } == 1
            && (!encrypting || EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, &outTag) == 1)
        // A damaged payload or a wrong key fails the tag check.
        guard ok else { throw .badPayload }
        return (Array(output.prefix(Int(written + final))), outTag)
    }
}
