import COpenSSL

/// The hash functions SCRAM is defined over, backed by OpenSSL's EVP interface.
public enum SCRAMHash: Sendable {
    case sha1
    case sha256

    var digestLength: Int { self == .sha1 ? 20 : 32 }

    private var evp: OpaquePointer? { self == .sha1 ? EVP_sha1() : EVP_sha256() }

    public func digest(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        data.withUnsafeBufferPointer { input in
            _ = EVP_Digest(input.baseAddress, input.count, &out, &length, evp, nil)
        }
        return Array(out.prefix(Int(length)))
    }

    func hmac(key: [UInt8], _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        key.withUnsafeBufferPointer { keyBuffer in
            data.withUnsafeBufferPointer { input in
                _ = HMAC(evp, keyBuffer.baseAddress, Int32(keyBuffer.count), input.baseAddress, input.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    func pbkdf2(password: [UInt8], salt: [UInt8], iterations: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: digestLength)
        password.withUnsafeBufferPointer { pass in
            salt.withUnsafeBufferPointer { saltBuffer in
                pass.withMemoryRebound(to: CChar.self) { passChars in
                    _ = PKCS5_PBKDF2_HMAC(passChars.baseAddress, Int32(passChars.count), saltBuffer.baseAddress,
                                          Int32(saltBuffer.count), Int32(iterations), evp, Int32(out.count), &out)
                }
            }
        }
        return out
    }
}

enum SecureRandom {
    static func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&out, Int32(count)) == 1 else { fatalError("OpenSSL's RNG failed; refusing to continue without randomness") }
        return out
    }
}
