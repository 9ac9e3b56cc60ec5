import COmemo

/// Where one device of ours keeps what libomemo-c reads and writes: our identity key pair and
/// registration id, our pre-keys and signed pre-keys, the sessions with each device we talk to,
/// and the identity key each of those devices showed. The library calls in through C function
/// pointers and never holds these bytes itself.
///
/// The records are read from and written to `records` at each call, not cached: Core keeps
/// them in Dialtone's store, where another process of the same account (a `send` beside a
/// `listen`) sees the session this one just started.
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
    public let records: any OMEMOKeyRecords
    /// The library's view of these stores: made once, pointing back here.
    private(set) var storeContext: OpaquePointer?
    /// The context the store context was made in, kept alive as long as it is used.
    private let context: OMEMOContext

    public init(identity: OMEMOIdentity, records: any OMEMOKeyRecords = OMEMOMemoryRecords(),
                context: OMEMOContext) throws(OMEMOError) {
        identityPublic = identity.publicKey
        identityPrivate = identity.privateKey
        registrationID = identity.registrationID
        self.records = records
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

    /// Our identity as saved: what a device starts again from.
    public var identity: OMEMOIdentity {
        OMEMOIdentity(publicKey: identityPublic, privateKey: identityPrivate, registrationID: registrationID)
    }

    fileprivate static func of(_ userData: UnsafeMutableRawPointer?) -> OMEMOKeyStore {
        Unmanaged<OMEMOKeyStore>.fromOpaque(userData!).takeUnretainedValue()
    }

    fileprivate static func device(_ address: UnsafePointer<signal_protocol_address>?) -> Device? {
        guard let address = address?.pointee, let name = address.name else { return nil }
        let bytes = UnsafeRawBufferPointer(start: name, count: address.name_len)
        return Device(account: String(decoding: bytes, as: UTF8.self), id: address.device_id)
    }

    fileprivate static func account(_ name: UnsafePointer<CChar>?, _ length: Int) -> String? {
        name.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) }
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

    /// A records call for the library: a failure (the store unreadable or full) is its error.
    fileprivate static func attempt(_ body: () throws -> Int32) -> Int32 {
        do { return try body() } catch { return SG_ERR_UNKNOWN }
    }
}

// MARK: The tables the library calls (C function pointers: no captures, `self` from user_data)

extension OMEMOKeyStore {
    private static func sessionCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_session_store {
        var table = signal_protocol_session_store()
        table.user_data = me
        table.load_session_func = { record, _, address, me in
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address), let stored = try OMEMOKeyStore.of(me).records.session(device) else { return 0 }
                return OMEMOKeyStore.give(stored, to: record) == SG_SUCCESS ? 1 : SG_ERR_NOMEM
            }
        }
        table.get_sub_device_sessions_func = { sessions, name, length, me in
            OMEMOKeyStore.attempt {
                guard let sessions, let account = OMEMOKeyStore.account(name, length), let list = signal_int_list_alloc() else { return SG_ERR_NOMEM }
                let ids = try OMEMOKeyStore.of(me).records.sessionDevices(of: account)
                for id in ids { _ = signal_int_list_push_back(list, id) }
                sessions.pointee = list
                return Int32(ids.count)
            }
        }
        table.store_session_func = { address, record, length, _, _, me in
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address) else { return SG_ERR_INVAL }
                try OMEMOKeyStore.of(me).records.setSession(OMEMOKeyStore.bytes(record, length), for: device)
                return SG_SUCCESS
            }
        }
        table.contains_session_func = { address, me in
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address) else { return 0 }
                return try OMEMOKeyStore.of(me).records.session(device) != nil ? 1 : 0
            }
        }
        table.delete_session_func = { address, me in
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address) else { return 0 }
                let records = OMEMOKeyStore.of(me).records
                guard try records.session(device) != nil else { return 0 }
                try records.setSession(nil, for: device)
                return 1
            }
        }
        table.delete_all_sessions_func = { name, length, me in
            OMEMOKeyStore.attempt {
                guard let account = OMEMOKeyStore.account(name, length) else { return 0 }
                let records = OMEMOKeyStore.of(me).records
                let ids = try records.sessionDevices(of: account)
                for id in ids { try records.setSession(nil, for: Device(account: account, id: id)) }
                return Int32(ids.count)
            }
        }
        return table
    }

    private static func preKeyCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_pre_key_store {
        var table = signal_protocol_pre_key_store()
        table.user_data = me
        table.load_pre_key = { record, id, me in OMEMOKeyStore.load(id, signed: false, into: record, me) }
        table.store_pre_key = { id, record, length, me in
            OMEMOKeyStore.attempt {
                try OMEMOKeyStore.of(me).records.setPreKey(OMEMOKeyStore.bytes(record, length), id: id)
                return SG_SUCCESS
            }
        }
        table.contains_pre_key = { id, me in OMEMOKeyStore.attempt { try OMEMOKeyStore.of(me).records.preKey(id) != nil ? 1 : 0 } }
        table.remove_pre_key = { id, me in
            OMEMOKeyStore.attempt {
                try OMEMOKeyStore.of(me).records.setPreKey(nil, id: id)
                return SG_SUCCESS
            }
        }
        return table
    }

    private static func signedPreKeyCallbacks(_ me: UnsafeMutableRawPointer) -> signal_protocol_signed_pre_key_store {
        var table = signal_protocol_signed_pre_key_store()
        table.user_data = me
        table.load_signed_pre_key = { record, id, me in OMEMOKeyStore.load(id, signed: true, into: record, me) }
        table.store_signed_pre_key = { id, record, length, me in
            OMEMOKeyStore.attempt {
                try OMEMOKeyStore.of(me).records.setSignedPreKey(OMEMOKeyStore.bytes(record, length), id: id)
                return SG_SUCCESS
            }
        }
        table.contains_signed_pre_key = { id, me in
            OMEMOKeyStore.attempt { try OMEMOKeyStore.of(me).records.signedPreKey(id) != nil ? 1 : 0 }
        }
        table.remove_signed_pre_key = { id, me in
            OMEMOKeyStore.attempt {
                try OMEMOKeyStore.of(me).records.setSignedPreKey(nil, id: id)
                return SG_SUCCESS
            }
        }
        return table
    }

    /// A pre-key or signed pre-key record for the library, or "no such key".
    private static func load(_ id: UInt32, signed: Bool, into record: UnsafeMutablePointer<OpaquePointer?>?,
                             _ me: UnsafeMutableRawPointer?) -> Int32 {
        attempt {
            let records = of(me).records
            guard let stored = try signed ? records.signedPreKey(id) : records.preKey(id) else { return SG_ERR_INVALID_KEY_ID }
            return give(stored, to: record)
        }
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
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address) else { return SG_ERR_INVAL }
                let records = OMEMOKeyStore.of(me).records
                let value = key == nil ? nil : OMEMOKeyStore.bytes(key, length)
                if try records.identity(of: device) != value { try records.setIdentity(value, of: device) }
                return SG_SUCCESS
            }
        }
        table.is_trusted_identity = { address, key, length, me in
            // The same key as before, or a device not seen yet: whether the user trusts it is
            // the encryption service's decision, made before a session is used.
            OMEMOKeyStore.attempt {
                guard let device = OMEMOKeyStore.device(address) else { return 0 }
                guard let known = try OMEMOKeyStore.of(me).records.identity(of: device) else { return 1 }
                return known == OMEMOKeyStore.bytes(key, length) ? 1 : 0
            }
        }
        return table
    }
}

/// A device's own identity: its key pair and registration id (its device id).
public struct OMEMOIdentity: Sendable, Equatable {
    public var publicKey: [UInt8]
    public var privateKey: [UInt8]
    public var registrationID: UInt32

    public init(publicKey: [UInt8], privateKey: [UInt8], registrationID: UInt32) {
        self.publicKey = publicKey
        self.privateKey = privateKey
        self.registrationID = registrationID
    }
}

/// Where a key store's records are kept: read at each library call and written as the library
/// changes them (nil: removed). A throw fails the library's operation (a message not
/// decrypted, rather than a session forgotten).
public protocol OMEMOKeyRecords: AnyObject {
    func session(_ device: OMEMOKeyStore.Device) throws -> [UInt8]?
    func sessionDevices(of account: String) throws -> [Int32]
    func setSession(_ record: [UInt8]?, for device: OMEMOKeyStore.Device) throws
    func preKeys() throws -> [UInt32: [UInt8]]
    func preKey(_ id: UInt32) throws -> [UInt8]?
    func setPreKey(_ record: [UInt8]?, id: UInt32) throws
    func signedPreKeys() throws -> [UInt32: [UInt8]]
    func signedPreKey(_ id: UInt32) throws -> [UInt8]?
    func setSignedPreKey(_ record: [UInt8]?, id: UInt32) throws
    func identity(of device: OMEMOKeyStore.Device) throws -> [UInt8]?
    func setIdentity(_ key: [UInt8]?, of device: OMEMOKeyStore.Device) throws
}

/// Records in memory: for tests, and for a device that is not to outlive its process.
public final class OMEMOMemoryRecords: OMEMOKeyRecords {
    var sessions: [OMEMOKeyStore.Device: [UInt8]] = [:]
    var preKeyTable: [UInt32: [UInt8]] = [:]
    var signedPreKeyTable: [UInt32: [UInt8]] = [:]
    var identities: [OMEMOKeyStore.Device: [UInt8]] = [:]

    public init() {}

    public func session(_ device: OMEMOKeyStore.Device) -> [UInt8]? { sessions[device] }
    public func sessionDevices(of account: String) -> [Int32] { sessions.keys.filter { $0.account == account }.map(\.id) }
    public func setSession(_ record: [UInt8]?, for device: OMEMOKeyStore.Device) { sessions[device] = record }
    public func preKeys() -> [UInt32: [UInt8]] { preKeyTable }
    public func preKey(_ id: UInt32) -> [UInt8]? { preKeyTable[id] }
    public func setPreKey(_ record: [UInt8]?, id: UInt32) { preKeyTable[id] = record }
    public func signedPreKeys() -> [UInt32: [UInt8]] { signedPreKeyTable }
    public func signedPreKey(_ id: UInt32) -> [UInt8]? { signedPreKeyTable[id] }
    public func setSignedPreKey(_ record: [UInt8]?, id: UInt32) { signedPreKeyTable[id] = record }
    public func identity(of device: OMEMOKeyStore.Device) -> [UInt8]? { identities[device] }
    public func setIdentity(_ key: [UInt8]?, of device: OMEMOKeyStore.Device) { identities[device] = key }
}
