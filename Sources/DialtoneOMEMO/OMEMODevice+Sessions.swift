import COmemo

/// Sessions with other devices: started from their bundle, then the message key of each
/// message encrypted for them, and theirs decrypted.
extension OMEMODevice {
    /// Starts a session with `device` of `account` from its bundle, with one of its pre-keys
    /// chosen at random (so that two senders rarely pick the same one).
    public func startSession(with account: String, device: UInt32, bundle: OMEMOBundleKeys,
                             format: OMEMOFormat) throws(OMEMOError) {
        guard let (preKeyID, preKeyBytes) = bundle.preKeys.randomElement() else { throw .badBundle }
        let identity = try read(bundle.identityKey, format, identity: true)
        defer { dt_signal_unref(UnsafeMutableRawPointer(identity)) }
        let signed = try read(bundle.signedPreKey, format, identity: false)
        defer { dt_signal_unref(UnsafeMutableRawPointer(signed)) }
        let preKey = try read(preKeyBytes, format, identity: false)
        defer { dt_signal_unref(UnsafeMutableRawPointer(preKey)) }
        var created: OpaquePointer?
        guard session_pre_key_bundle_create(&created, device, Int32(bitPattern: device), preKeyID, preKey, bundle.signedPreKeyID, signed,
                                            bundle.signedPreKeySignature, bundle.signedPreKeySignature.count, identity) == SG_SUCCESS
        else { throw .badBundle }
        defer { dt_signal_unref(UnsafeMutableRawPointer(created)) }
        let result = Self.withAddress(account, device, format) { address -> Int32 in
            var builder: OpaquePointer?
            guard session_builder_create(&builder, store.storeContext, address, context.pointer) == SG_SUCCESS else { return SG_ERR_UNKNOWN }
            defer { session_builder_free(builder) }
            session_builder_set_version(builder, format.messageVersion)
            return session_builder_process_pre_key_bundle(builder, created)
        }
        guard result == SG_SUCCESS else { throw .badBundle }
    }

    public func hasSession(with account: String, device: UInt32, format: OMEMOFormat) -> Bool {
        ((try? store.records.session(Self.address(account, device, format))) ?? nil) != nil
    }

    /// Drops the session with a device (it broke): the next message starts a new one from its bundle.
    public func forgetSession(with account: String, device: UInt32, format: OMEMOFormat) {
        _ = Self.withAddress(account, device, format) { signal_protocol_session_delete_session(store.storeContext, $0) }
    }

    /// The identity key `device` of `account` showed in `format`'s session (with its type byte).
    public func identity(of account: String, device: UInt32, format: OMEMOFormat) -> [UInt8]? {
        (try? store.records.identity(of: Self.address(account, device, format))) ?? nil
    }

    /// The library's name for a device: its account, and in the current version the account
    /// with a suffix no bare address can have. A device in both versions' lists has a session
    /// in each, and the two must not overwrite each other.
    static func address(_ account: String, _ device: UInt32, _ format: OMEMOFormat) -> OMEMOKeyStore.Device {
        OMEMOKeyStore.Device(account: format == .legacy ? account : account + "/omemo:2", id: Int32(bitPattern: device))
    }

    /// Encrypts a message's key material for `device` of `account` (a session must exist): a
    /// key exchange until they have answered.
    public func encryptKey(_ keyMaterial: [UInt8], for account: String, device: UInt32,
                           format: OMEMOFormat) throws(OMEMOError) -> (isKeyExchange: Bool, data: [UInt8]) {
        let result = withCipher(account, device, format) { cipher -> (Int32, Int32, [UInt8]) in
            var message: OpaquePointer?
            let status = session_cipher_encrypt(cipher, keyMaterial, keyMaterial.count, &message)
            defer { dt_signal_unref(UnsafeMutableRawPointer(message)) }
            guard status == SG_SUCCESS, let serialized = ciphertext_message_get_serialized(message) else { return (status, 0, []) }
            return (status, ciphertext_message_get_type(message),
                    Array(UnsafeBufferPointer(start: signal_buffer_data(serialized), count: signal_buffer_len(serialized))))
        }
        guard result.0 == SG_SUCCESS else { throw .library("session_cipher_encrypt") }
        return (result.1 == CIPHERTEXT_PREKEY_TYPE, result.2)
    }

    /// Decrypts the key material `device` of `account` encrypted for us; a key exchange starts
    /// the session (and uses up the pre-key it names).
    public func decryptKey(_ data: [UInt8], isKeyExchange: Bool, from account: String, device: UInt32,
                           format: OMEMOFormat) throws(OMEMOError) -> [UInt8] {
        let registration = store.registrationID
        let result = withCipher(account, device, format) { cipher -> Result<[UInt8], OMEMOError> in
            var output: OpaquePointer?
            defer { signal_buffer_free(output) }
            var parsed: OpaquePointer?
            defer { dt_signal_unref(UnsafeMutableRawPointer(parsed)) }
            let status: Int32
            if isKeyExchange {
                let read = format == .current
                    ? pre_key_signal_message_deserialize_omemo(&parsed, data, data.count, registration, context.pointer)
                    : pre_key_signal_message_deserialize(&parsed, data, data.count, context.pointer)
                guard read == SG_SUCCESS else { return .failure(.undecryptable) }
                status = session_cipher_decrypt_pre_key_signal_message(cipher, parsed, nil, &output)
            } else {
                let read = format == .current
                    ? signal_message_deserialize_omemo(&parsed, data, data.count, context.pointer)
                    : signal_message_deserialize(&parsed, data, data.count, context.pointer)
                guard read == SG_SUCCESS else { return .failure(.undecryptable) }
                status = session_cipher_decrypt_signal_message(cipher, parsed, nil, &output)
            }
            if status == SG_ERR_DUPLICATE_MESSAGE { return .failure(.duplicate) }
            guard status == SG_SUCCESS, let output else { return .failure(.undecryptable) }
            return .success(Array(UnsafeBufferPointer(start: signal_buffer_data(output), count: signal_buffer_len(output))))
        }
        return try result.get()
    }

    private func withCipher<T>(_ account: String, _ device: UInt32, _ format: OMEMOFormat, _ body: (OpaquePointer?) -> T) -> T {
        Self.withAddress(account, device, format) { address in
            var cipher: OpaquePointer?
            _ = session_cipher_create(&cipher, store.storeContext, address, context.pointer)
            defer { session_cipher_free(cipher) }
            session_cipher_set_version(cipher, format.messageVersion)
            return body(cipher)
        }
    }

    /// The library's address of a device (its account's name kept alive meanwhile).
    static func withAddress<T>(_ account: String, _ device: UInt32, _ format: OMEMOFormat,
                               _ body: (UnsafePointer<signal_protocol_address>) -> T) -> T {
        let name = Array(address(account, device, format).account.utf8CString)
        return name.withUnsafeBufferPointer { name in
            var address = signal_protocol_address(name: name.baseAddress, name_len: name.count - 1, device_id: Int32(bitPattern: device))
            return withUnsafePointer(to: &address) { body($0) }
        }
    }
}
