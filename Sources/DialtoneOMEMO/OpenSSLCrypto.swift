import COmemo
import COpenSSL

/// libomemo-c's cryptography (its `signal_crypto_provider`) on OpenSSL, the library the rest of
/// Dialtone already trusts for TLS and DTLS: random bytes, HMAC-SHA256, SHA-512 and AES in the
/// two modes the ratchet uses (CBC with PKCS#5 padding for message keys, CTR for legacy
/// sender keys).
///
/// The library asks for streaming HMAC and digests (init, update, final); the inputs are a few
/// hundred bytes, so each context gathers them and OpenSSL's one-shot functions finish the job
/// (the streaming HMAC_CTX calls are deprecated in OpenSSL 3).
enum OpenSSLCrypto {
    /// A provider to hand `signal_context_set_crypto_provider`, which copies it.
    static func provider() -> signal_crypto_provider {
        var provider = signal_crypto_provider()
        provider.random_func = { data, length, _ in
            guard let data else { return SG_ERR_INVAL }
            return RAND_bytes(data, Int32(length)) == 1 ? SG_SUCCESS : SG_ERR_UNKNOWN
        }
        provider.hmac_sha256_init_func = { context, key, keyLength, _ in
            guard let context else { return SG_ERR_INVAL }
            let key = key.map { Array(UnsafeBufferPointer(start: $0, count: keyLength)) } ?? []
            context.pointee = Unmanaged.passRetained(OpenSSLCrypto.Gathering(key: key)).toOpaque()
            return SG_SUCCESS
        }
        provider.hmac_sha256_update_func = { context, data, length, _ in OpenSSLCrypto.Gathering.append(context, data, length) }
        provider.hmac_sha256_final_func = { context, output, _ in
            OpenSSLCrypto.finish(context, output) { gathered, digest, length in
                gathered.key.withUnsafeBufferPointer { key in
                    gathered.data.withUnsafeBufferPointer { data in
                        HMAC(EVP_sha256(), key.baseAddress, Int32(key.count), data.baseAddress, data.count, &digest, &length)
                    }
                } != nil
            }
        }
        provider.hmac_sha256_cleanup_func = { context, _ in OpenSSLCrypto.Gathering.release(context) }
        provider.sha512_digest_init_func = { context, _ in
            guard let context else { return SG_ERR_INVAL }
            context.pointee = Unmanaged.passRetained(OpenSSLCrypto.Gathering(key: [])).toOpaque()
            return SG_SUCCESS
        }
        provider.sha512_digest_update_func = { context, data, length, _ in OpenSSLCrypto.Gathering.append(context, data, length) }
        provider.sha512_digest_final_func = { context, output, _ in
            OpenSSLCrypto.finish(context, output) { gathered, digest, length in
                let done = gathered.data.withUnsafeBufferPointer { data in
                    EVP_Digest(data.baseAddress, data.count, &digest, &length, EVP_sha512(), nil)
                }
                // The library reuses a digest context after final: it starts empty again.
                gathered.data.removeAll(keepingCapacity: true)
                return done == 1
            }
        }
        provider.sha512_digest_cleanup_func = { context, _ in OpenSSLCrypto.Gathering.release(context) }
        provider.encrypt_func = { output, cipher, key, keyLength, iv, ivLength, input, inputLength, _ in
            OpenSSLCrypto.crypt(encrypting: true, output, cipher, key, keyLength, iv, ivLength, input, inputLength)
        }
        provider.decrypt_func = { output, cipher, key, keyLength, iv, ivLength, input, inputLength, _ in
            OpenSSLCrypto.crypt(encrypting: false, output, cipher, key, keyLength, iv, ivLength, input, inputLength)
        }
        return provider
    }

    /// What an HMAC or digest context has been given so far.
    fileprivate final class Gathering {
        let key: [UInt8]
        var data: [UInt8] = []

        init(key: [UInt8]) { self.key = key }

        static func append(_ context: UnsafeMutableRawPointer?, _ data: UnsafePointer<UInt8>?, _ length: Int) -> Int32 {
            guard let context else { return SG_ERR_INVAL }
            guard length > 0 else { return SG_SUCCESS }
            guard let data else { return SG_ERR_INVAL }
            Unmanaged<Gathering>.fromOpaque(context).takeUnretainedValue().data.append(contentsOf: UnsafeBufferPointer(start: data, count: length))
            return SG_SUCCESS
        }

        static func release(_ context: UnsafeMutableRawPointer?) {
            guard let context else { return }
            Unmanaged<Gathering>.fromOpaque(context).release()
        }
    }

    /// The end of an HMAC or digest: `compute` writes it from what the context gathered.
    fileprivate static func finish(_ context: UnsafeMutableRawPointer?, _ output: UnsafeMutablePointer<OpaquePointer?>?,
                                   _ compute: (Gathering, inout [UInt8], inout UInt32) -> Bool) -> Int32 {
        guard let context, let output else { return SG_ERR_INVAL }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard compute(Unmanaged<Gathering>.fromOpaque(context).takeUnretainedValue(), &digest, &length) else { return SG_ERR_UNKNOWN }
        return buffer(digest, count: Int(length), into: output)
    }

    fileprivate static func buffer(_ bytes: [UInt8], count: Int, into output: UnsafeMutablePointer<OpaquePointer?>) -> Int32 {
        guard let created = bytes.withUnsafeBufferPointer({ signal_buffer_create($0.baseAddress, count) }) else { return SG_ERR_NOMEM }
        output.pointee = created
        return SG_SUCCESS
    }

    /// AES by key length (128, 192 or 256 bits), CBC with PKCS#5 padding or CTR, as asked.
    fileprivate static func crypt(encrypting: Bool, _ output: UnsafeMutablePointer<OpaquePointer?>?, _ cipher: Int32,
                                  _ key: UnsafePointer<UInt8>?, _ keyLength: Int, _ iv: UnsafePointer<UInt8>?, _ ivLength: Int,
                                  _ input: UnsafePointer<UInt8>?, _ inputLength: Int) -> Int32 {
        guard let output, let key, let iv, ivLength == 16, input != nil || inputLength == 0 else { return SG_ERR_INVAL }
        guard [16, 24, 32].contains(keyLength), cipher == SG_CIPHER_AES_CBC_PKCS5 || cipher == SG_CIPHER_AES_CTR_NOPADDING else {
            return SG_ERR_INVAL
        }
        let bytes = input.map { Array(UnsafeBufferPointer(start: $0, count: inputLength)) } ?? []
        // A wrong key or a damaged message fails the padding check: the library says so.
        guard let result = aes(encrypting: encrypting, cipher: cipher, key: Array(UnsafeBufferPointer(start: key, count: keyLength)),
                               iv: Array(UnsafeBufferPointer(start: iv, count: 16)), input: bytes) else { return SG_ERR_UNKNOWN }
        return buffer(result, count: result.count, into: output)
    }

    /// AES-CBC (PKCS#5/7 padding) or AES-CTR with a 128, 192 or 256-bit key and a 16-byte IV;
    /// nil when the key or IV has no such size, or decryption fails its padding check.
    static func aes(encrypting: Bool, cipher: Int32, key: [UInt8], iv: [UInt8], input: [UInt8]) -> [UInt8]? {
        let algorithm: OpaquePointer?
        switch (cipher, key.count) {
        case (SG_CIPHER_AES_CBC_PKCS5, 16): algorithm = EVP_aes_128_cbc()
        case (SG_CIPHER_AES_CBC_PKCS5, 24): algorithm = EVP_aes_192_cbc()
        case (SG_CIPHER_AES_CBC_PKCS5, 32): algorithm = EVP_aes_256_cbc()
        case (SG_CIPHER_AES_CTR_NOPADDING, 16): algorithm = EVP_aes_128_ctr()
        case (SG_CIPHER_AES_CTR_NOPADDING, 24): algorithm = EVP_aes_192_ctr()
        case (SG_CIPHER_AES_CTR_NOPADDING, 32): algorithm = EVP_aes_256_ctr()
        default: return nil
        }
        guard iv.count == 16, let context = EVP_CIPHER_CTX_new() else { return nil }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_CipherInit_ex(context, algorithm, nil, key, iv, encrypting ? 1 : 0) == 1 else { return nil }
        var out = [UInt8](repeating: 0, count: input.count + 32)
        var written: Int32 = 0
        var final: Int32 = 0
        let ok = out.withUnsafeMutableBufferPointer { out -> Bool in
            guard input.isEmpty || EVP_CipherUpdate(context, out.baseAddress, &written, input, Int32(input.count)) == 1
            else { return false }
            return EVP_CipherFinal_ex(context, out.baseAddress! + Int(written), &final) == 1
        }
        return ok ? Array(out.prefix(Int(written + final))) : nil
    }
}
