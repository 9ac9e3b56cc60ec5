import COmemo
import Glibc

/// A bundle's keys as one OMEMO version writes them (bytes as they go in the XML, base64
/// aside): what we publish for our device, and what we read of others'. DialtoneXMPP's
/// `OMEMOBundle` holds the same fields as XML reads them; this layer knows no XMPP, and the
/// encryption service maps one to the other.
public struct OMEMOBundleKeys: Sendable, Equatable {
    public var identityKey: [UInt8]
    public var signedPreKeyID: UInt32
    public var signedPreKey: [UInt8]
    public var signedPreKeySignature: [UInt8]
    public var preKeys: [UInt32: [UInt8]]

    public init(identityKey: [UInt8], signedPreKeyID: UInt32, signedPreKey: [UInt8], signedPreKeySignature: [UInt8],
                preKeys: [UInt32: [UInt8]]) {
        self.identityKey = identityKey
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKey = signedPreKey
        self.signedPreKeySignature = signedPreKeySignature
        self.preKeys = preKeys
    }
}

/// One OMEMO device of ours: its keys (in its key store), the bundle it publishes, and the
/// sessions it has with other devices, in either version. Keys are written as each version
/// wants: the legacy one prefixes Curve25519 keys with their type byte (0x05); the current one
/// writes the identity key in its Ed25519 form and the others as bare 32-byte Montgomery keys.
public final class OMEMODevice {
    /// The device id (its registration id, as Conversations makes them).
    public var id: UInt32 { store.registrationID }
    public let store: OMEMOKeyStore
    public let context: OMEMOContext

    /// A new device: a fresh identity key, `preKeyCount` one-time pre-keys and a signed pre-key,
    /// written to `records` (its identity is the caller's to save: `store.identity`).
    public init(context: OMEMOContext, preKeyCount: Int = 100, records: any OMEMOKeyRecords = OMEMOMemoryRecords()) throws(OMEMOError) {
        self.context = context
        var identity: OpaquePointer?
        guard signal_protocol_key_helper_generate_identity_key_pair(&identity, context.pointer) == SG_SUCCESS, let identity else {
            throw .library("generate_identity_key_pair")
        }
        defer { dt_signal_unref(UnsafeMutableRawPointer(identity)) }
        var registration: UInt32 = 0
        guard signal_protocol_key_helper_generate_registration_id(&registration, 1, context.pointer) == SG_SUCCESS else {
            throw .library("generate_registration_id")
        }
        store = try OMEMOKeyStore(identity: OMEMOIdentity(publicKey: try Self.serialize(ratchet_identity_key_pair_get_public(identity)),
                                                          privateKey: try Self.serializePrivate(ratchet_identity_key_pair_get_private(identity)),
                                                          registrationID: registration),
                                  records: records, context: context)
        try addPreKeys(preKeyCount)
        try addSignedPreKey(id: 1, identity: identity)
    }

    /// The device saved before: its identity, and the records it kept.
    public init(restoring identity: OMEMOIdentity, records: any OMEMOKeyRecords, context: OMEMOContext) throws(OMEMOError) {
        self.context = context
        store = try OMEMOKeyStore(identity: identity, records: records, context: context)
    }

    /// The id of the signed pre-key the bundle carries.
    public func signedPreKeyID() throws(OMEMOError) -> UInt32? { try signedPreKeys().keys.max() }

    /// How many one-time pre-keys are left (a bundle keeps 100).
    public func preKeyCount() throws(OMEMOError) -> Int { try preKeys().count }

    /// The ids of the one-time pre-keys left, in brief: whether the bundle changed since it
    /// was last published.
    public func preKeyIDsDigest() throws(OMEMOError) -> String {
        let ids = try preKeys().keys.sorted()
        return "\(ids.count):\(ids.first ?? 0)-\(ids.last ?? 0):\(ids.reduce(UInt64(0)) { $0 &* 31 &+ UInt64($1) })"
    }

    func preKeys() throws(OMEMOError) -> [UInt32: [UInt8]] {
        do { return try store.records.preKeys() } catch { throw .library("reading pre-keys: \(error)") }
    }

    func signedPreKeys() throws(OMEMOError) -> [UInt32: [UInt8]] {
        do { return try store.records.signedPreKeys() } catch { throw .library("reading signed pre-keys: \(error)") }
    }

    /// A new signed pre-key for the bundle; the one before stays (a contact may have started a
    /// session from it and not yet sent), older ones go.
    public func rotateSignedPreKey() throws(OMEMOError) {
        var publicKey: OpaquePointer?
        var privateKey: OpaquePointer?
        var pair: OpaquePointer?
        defer {
            dt_signal_unref(UnsafeMutableRawPointer(publicKey))
            dt_signal_unref(UnsafeMutableRawPointer(privateKey))
            dt_signal_unref(UnsafeMutableRawPointer(pair))
        }
        guard curve_decode_point(&publicKey, store.identityPublic, store.identityPublic.count, context.pointer) == SG_SUCCESS,
              curve_decode_private_point(&privateKey, store.identityPrivate, store.identityPrivate.count, context.pointer) == SG_SUCCESS,
              ratchet_identity_key_pair_create(&pair, publicKey, privateKey) == SG_SUCCESS, let pair
        else { throw .library("identity key pair") }
        let previous = try signedPreKeyID() ?? 0
        try addSignedPreKey(id: previous + 1, identity: pair)
        for id in try signedPreKeys().keys where id < previous {
            _ = signal_protocol_signed_pre_key_remove_key(store.storeContext, id)
        }
    }

    private func addSignedPreKey(id: UInt32, identity: OpaquePointer) throws(OMEMOError) {
        var signed: OpaquePointer?
        let now = UInt64(max(0, time(nil))) * 1000
        guard signal_protocol_key_helper_generate_signed_pre_key(&signed, identity, id, now, context.pointer) == SG_SUCCESS,
              signal_protocol_signed_pre_key_store_key(store.storeContext, signed) == SG_SUCCESS else {
            dt_signal_unref(UnsafeMutableRawPointer(signed))
            throw .library("generate_signed_pre_key")
        }
        dt_signal_unref(UnsafeMutableRawPointer(signed))
    }

    /// Adds `count` one-time pre-keys after the highest id used: a bundle keeps 100, and those a
    /// contact used up are replaced before it is published again.
    public func addPreKeys(_ count: Int) throws(OMEMOError) {
        guard count > 0 else { return }
        let start = (try preKeys().keys.max() ?? 0) + 1
        var list: OpaquePointer?
        guard signal_protocol_key_helper_generate_pre_keys(&list, start, UInt32(count), context.pointer) == SG_SUCCESS else {
            throw .library("generate_pre_keys")
        }
        defer { signal_protocol_key_helper_key_list_free(list) }
        var node = list
        while let current = node {
            guard signal_protocol_pre_key_store_key(store.storeContext, signal_protocol_key_helper_key_list_element(current)) == SG_SUCCESS
            else { throw .library("pre_key_store_key") }
            node = signal_protocol_key_helper_key_list_next(current)
        }
    }

    /// The bundle to publish, written for `format`.
    public func bundle(_ format: OMEMOFormat) throws(OMEMOError) -> OMEMOBundleKeys {
        guard let (spkID, record) = try signedPreKeys().max(by: { $0.key < $1.key }) else { throw .library("no signed pre-key") }
        var signed: OpaquePointer?
        guard session_signed_pre_key_deserialize(&signed, record, record.count, context.pointer) == SG_SUCCESS, let signed
        else { throw .library("signed_pre_key_deserialize") }
        defer { dt_signal_unref(UnsafeMutableRawPointer(signed)) }
        let legacy = format == .legacy
        let signatureStart = legacy ? session_signed_pre_key_get_signature(signed) : session_signed_pre_key_get_signature_omemo(signed)
        let signatureLength = legacy ? session_signed_pre_key_get_signature_len(signed) : session_signed_pre_key_get_signature_omemo_len(signed)
        guard let signatureStart else { throw .library("signed pre-key signature") }
        var preKeys: [UInt32: [UInt8]] = [:]
        for (id, record) in try self.preKeys() {
            var preKey: OpaquePointer?
            guard session_pre_key_deserialize(&preKey, record, record.count, context.pointer) == SG_SUCCESS else { continue }
            defer { dt_signal_unref(UnsafeMutableRawPointer(preKey)) }
            preKeys[id] = try Self.write(ec_key_pair_get_public(session_pre_key_get_key_pair(preKey)), format, identity: false)
        }
        var identity: OpaquePointer?
        guard curve_decode_point(&identity, store.identityPublic, store.identityPublic.count, context.pointer) == SG_SUCCESS else {
            throw .library("identity key")
        }
        defer { dt_signal_unref(UnsafeMutableRawPointer(identity)) }
        return OMEMOBundleKeys(identityKey: try Self.write(identity, format, identity: true), signedPreKeyID: spkID,
                               signedPreKey: try Self.write(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed)), format,
                                                            identity: false),
                               signedPreKeySignature: Array(UnsafeBufferPointer(start: signatureStart, count: signatureLength)),
                               preKeys: preKeys)
    }

    // MARK: Identities

    /// A bundle's identity key as the library keeps identities (the legacy form, with its type
    /// byte): what its fingerprint is taken of, whichever version published it.
    public func identityKey(_ bytes: [UInt8], publishedIn format: OMEMOFormat) throws(OMEMOError) -> [UInt8] {
        let key = try read(bytes, format, identity: true)
        defer { dt_signal_unref(UnsafeMutableRawPointer(key)) }
        return try Self.serialize(key)
    }

    // MARK: Key encodings

    static func serialize(_ key: OpaquePointer?) throws(OMEMOError) -> [UInt8] {
        var buffer: OpaquePointer?
        guard ec_public_key_serialize(&buffer, key) == SG_SUCCESS, let buffer else { throw .library("ec_public_key_serialize") }
        defer { signal_buffer_free(buffer) }
        return Array(UnsafeBufferPointer(start: signal_buffer_data(buffer), count: signal_buffer_len(buffer)))
    }

    static func serializePrivate(_ key: OpaquePointer?) throws(OMEMOError) -> [UInt8] {
        var buffer: OpaquePointer?
        guard ec_private_key_serialize(&buffer, key) == SG_SUCCESS, let buffer else { throw .library("ec_private_key_serialize") }
        defer { signal_buffer_free(buffer) }
        return Array(UnsafeBufferPointer(start: signal_buffer_data(buffer), count: signal_buffer_len(buffer)))
    }

    /// A public key as `format` writes it in a bundle.
    static func write(_ key: OpaquePointer?, _ format: OMEMOFormat, identity: Bool) throws(OMEMOError) -> [UInt8] {
        if format == .legacy { return try serialize(key) }
        if identity {
            // The Ed25519 form (the sign bit XEdDSA fixes at 0), as the current version wants.
            guard let key, let buffer = ec_public_key_get_ed(key) else { throw .library("ec_public_key_get_ed") }
            defer { signal_buffer_free(buffer) }
            return Array(UnsafeBufferPointer(start: signal_buffer_data(buffer), count: signal_buffer_len(buffer)))
        }
        return Array(try serialize(key).dropFirst())
    }

    /// A public key of a bundle in `format`, for the library (the caller unrefs it).
    func read(_ bytes: [UInt8], _ format: OMEMOFormat, identity: Bool) throws(OMEMOError) -> OpaquePointer {
        var key: OpaquePointer?
        let result = switch (format, identity) {
        case (.legacy, _): curve_decode_point(&key, bytes, bytes.count, context.pointer)
        case (.current, true): curve_decode_point_ed(&key, bytes, bytes.count, context.pointer)
        case (.current, false): curve_decode_point_mont(&key, bytes, bytes.count, context.pointer)
        }
        guard result == SG_SUCCESS, let key else { throw .badKey }
        return key
    }
}
