import COmemo

/// Where one device of ours keeps what libomemo-c reads and writes: our identity key pair and
/// registration id, our pre-keys and signed pre-keys, the sessions with each device we talk to,
/// and the identity key each of those devices showed. The library calls in through C function
/// pointers and never holds these bytes itself.
///
/// Held in memory for now; the encryption service will keep the same records in Dialtone's
/// store (the identity's private key readable by the user alone).
public final class OMEMOKeyStore {
    /// A device: its account's bare address and its OMEMO device id.
    public struct Device: Hashable, Sendable {
        public var account: String
        public var id: Int32

        public init(account: String, id: Int32) {
            self.account = account
            self.id = id
        }
    }

    public let identityPublic: [UInt8]
    let identityPrivate: [UInt8]
    public let registrationID: UInt32
    var sessions: [Device: [UInt8]] = [:]
    var preKeys: [UInt32: [UInt8]] = [:]
    var signedPreKeys: [UInt32: [UInt8]] = [:]
    /// The identity key each device showed us first (trust on first use until the trust
    /// decisions of issue 17 come).
    var identities: [Device: [UInt8]] = [:]
    /// The library's view of these stores: made once, pointing back here.
    private(set) var storeContext: OpaquePointer?
    /// The context the store context was made in, kept alive as long as it is used.
    private let context: OMEMOContext

    public init(identityPublic: [UInt8], identityPrivate: [UInt8], registrationID: UInt32, context: OMEMOContext) throws(OMEMOError) {
        self.identityPublic = identityPublic
        self.identityPrivate = identityPrivate
        self.registrationID = registrationID
        self.context = context
        var created: OpaquePointer?
        guard signal_protocol_store_context_create(&created, context.pointer) == SG_SUCCESS, let created else {
            throw .library("signal_protocol_store_context_create")
        }
        storeContext = created
        // The library copies each table of callbacks; `self` outlives the store context it owns.
        let me = Unmanaged.passUnretained(self).toOpaque()
        var sessionStore = OMEMOKeyStore.sessionCallbacks(me)
        var preKeyStore = OMEMOKeyStore.preKeyCallbacks(me)
        var signedPreKeyStore = OMEMOKeyStore.signedPreKeyCallbacks(me)
        var identityStore = OMEMOKeyStore.identityCallbacks(me)
        guard signal_protocol_store_context_set_session_store(created, &sessionStore) == SG_SUCCESS,
              signal_protocol_store_context_set_pre_key_store(created, &preKeyStore) == SG_SUCCESS,
              signal_protocol_store_context_set_signed_pre_key_store(created, &signedPreKeyStore) == SG_SUCCESS,
              signal_protocol_store_context_set_identity_key_store(created, &identityStore) == SG_SUCCESS
        else { throw .library("signal_protocol_store_context_set_*") }
    }

    deinit { if let storeContext { signal_protocol_store_context_destroy(storeContext) } }

    fileprivate static func of(_ userData: UnsafeMutableRawPointer?) -> OMEMOKeyStore {
        Unmanaged<OMEMOKeyStore>.fromOpaque(userData!).takeUnretainedValue()
    }

    fileprivate static func device(_ address: UnsafePointer<signal_protocol_address>?) -> Device? {
        guard let address = address?.pointee, let name = address.name else { return nil }
        let bytes = UnsafeRawBufferPointer(start: name, count: address.name_len)
        return Device(account: String(decoding: bytes, as: UTF8.self), id: address.device_id)
    }

    fileprivate static func bytes(_ data: UnsafeMutablePointer<UInt8>?, _ length: Int) -> [UInt8] {
        guard let data else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: length))
    }

    fileprivate static func give(_ bytes: [UInt8], to output: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
        guard let output, let buffer = bytes.withUnsafeBufferPointer({ signal_buffer_create($0.baseAddress, $0.count) })
        else { return SG_ERR_NOMEM }
        output.pointee = buffer
        return SG_SUCCESS
    }
}

// MARK: The tables the library calls (C function pointers: no captures, `self` from user_data)

extension OMEMOKeyStore {
    private static func sessionCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_session_store {
        var table = signal_protocol_session_store()
        table.user_data = me
        table.load_session_func = { record, _, address, me in
            guard let device = OMEMOKeyStore.device(address), let stored = OMEMOKeyStore.of(me).sessions[device] else { return 0 }
            return OMEMOKeyStore.give(stored, to: record) == SG_SUCCESS ? 1 : SG_ERR_NOMEM
        }
        table.get_sub_device_sessions_func = { sessions, name, length, me in
            guard let sessions, let name, let list = signal_int_list_alloc() else { return SG_ERR_NOMEM }
            let account = String(decoding: UnsafeRawBufferPointer(start: name, count: length), as: UTF8.self)
            let ids = OMEMOKeyStore.of(me).sessions.keys.filter { $0.account == account }.map(\.id)
            for id in ids { _ = signal_int_list_push_back(list, id) }
            sessions.pointee = list
            return Int32(ids.count)
        }
        table.store_session_func = { address, record, length, _, _, me in
            guard let device = OMEMOKeyStore.device(address) else { return SG_ERR_INVAL }
            OMEMOKeyStore.of(me).sessions[device] = OMEMOKeyStore.bytes(record, length)
            return SG_SUCCESS
        }
        table.contains_session_func = { address, me in
            OMEMOKeyStore.device(address).map { OMEMOKeyStore.of(me).sessions[$0] != nil ? 1 : 0 } ?? 0
        }
        table.delete_session_func = { address, me in
            guard let device = OMEMOKeyStore.device(address) else { return 0 }
            return OMEMOKeyStore.of(me).sessions.removeValue(forKey: device) != nil ? 1 : 0
        }
        table.delete_all_sessions_func = { name, length, me in
            guard let name else { return 0 }
            let account = String(decoding: UnsafeRawBufferPointer(start: name, count: length), as: UTF8.self)
            let store = OMEMOKeyStore.of(me)
            let gone = store.sessions.keys.filter { $0.account == account }
            for device in gone { store.sessions[device] = nil }
            return Int32(gone.count)
        }
        return table
    }

    private static func preKeyCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_pre_key_store {
        var table = signal_protocol_pre_key_store()
        table.user_data = me
        table.load_pre_key = { record, id, me in OMEMOKeyStore.load(\.preKeys, id, into: record, me) }
        table.store_pre_key = { id, record, length, me in OMEMOKeyStore.keep(\.preKeys, id, record, length, me) }
        table.contains_pre_key = { id, me in OMEMOKeyStore.of(me).preKeys[id] != nil ? 1 : 0 }
        table.remove_pre_key = { id, me in OMEMOKeyStore.keep(\.preKeys, id, nil, 0, me) }
        return table
    }

    private static func signedPreKeyCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_signed_pre_key_store {
        var table = signal_protocol_signed_pre_key_store()
        table.user_data = me
        table.load_signed_pre_key = { record, id, me in OMEMOKeyStore.load(\.signedPreKeys, id, into: record, me) }
        table.store_signed_pre_key = { id, record, length, me in OMEMOKeyStore.keep(\.signedPreKeys, id, record, length, me) }
        table.contains_signed_pre_key = { id, me in OMEMOKeyStore.of(me).signedPreKeys[id] != nil ? 1 : 0 }
        table.remove_signed_pre_key = { id, me in OMEMOKeyStore.keep(\.signedPreKeys, id, nil, 0, me) }
        return table
    }

    /// A pre-key or signed pre-key record for the library, or "no such key".
    private static func load(_ keys: KeyPath<OMEMOKeyStore, [UInt32: [UInt8]]>, _ id: UInt32,
                             into record: UnsafeMutablePointer<OpaquePointer?>?, _ me: UnsafeMutableRawPointer?) -> Int32 {
        guard let stored = of(me)[keyPath: keys][id] else { return SG_ERR_INVALID_KEY_ID }
        return give(stored, to: record)
    }

    /// Keeps a pre-key or signed pre-key record the library gives, or (no record) removes it.
    private static func keep(_ keys: ReferenceWritableKeyPath<OMEMOKeyStore, [UInt32: [UInt8]]>, _ id: UInt32,
                             _ record: UnsafeMutablePointer<UInt8>?, _ length: Int, _ me: UnsafeMutableRawPointer?) -> Int32 {
        of(me)[keyPath: keys][id] = record.map { bytes($0, length) }
        return SG_SUCCESS
    }

    private static func identityCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_identity_key_store {
        var table = signal_protocol_identity_key_store()
        table.user_data = me
        table.get_identity_key_pair = { publicData, privateData, me in
            let store = OMEMOKeyStore.of(me)
            let first = OMEMOKeyStore.give(store.identityPublic, to: publicData)
            guard first == SG_SUCCESS else { return first }
            return OMEMOKeyStore.give(store.identityPrivate, to: privateData)
        }
        table.get_local_registration_id = { me, id in
            id?.pointee = OMEMOKeyStore.of(me).registrationID
            return SG_SUCCESS
        }
        table.save_identity = { address, key, length, me in
            guard let device = OMEMOKeyStore.device(address) else { return SG_ERR_INVAL }
            OMEMOKeyStore.of(me).identities[device] = key == nil ? nil : OMEMOKeyStore.bytes(key, length)
            return SG_SUCCESS
        }
        table.is_trusted_identity = { address, key, length, me in
            // The same key as before, or a device not seen yet.
            guard let device = OMEMOKeyStore.device(address) else { return 0 }
            guard let known = OMEMOKeyStore.of(me).identities[device] else { return 1 }
            return known == OMEMOKeyStore.bytes(key, length) ? 1 : 0
        }
        return table
    }
}
