import COpenSSL
import CZlib

enum STUNCrypto {
    static func hmac(_ key: STUNIntegrityKey, _ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let md = key.algorithm == .sha1 ? EVP_sha1() : EVP_sha256()
        key.bytes.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                // A non-empty dummy key pointer: OpenSSL treats a NULL key as "reuse the previous one".
                var empty: UInt8 = 0
                let keyPointer = k.baseAddress.map { UnsafeRawPointer($0) } ?? withUnsafePointer(to: &empty) { UnsafeRawPointer($0) }
                _ = HMAC(md, keyPointer, Int32(k.count), d.baseAddress, d.count, &out, &length)
            }
        }
        return Array(out.prefix(Int(length)))
    }

    static func md5(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        _ = data.withUnsafeBufferPointer { EVP_Digest($0.baseAddress, $0.count, &out, &length, EVP_md5(), nil) }
        return Array(out.prefix(Int(length)))
    }

    static func sha1HMACBase64(key: [UInt8], message: [UInt8]) -> String {
        let mac = hmac(STUNIntegrityKey(bytes: key, algorithm: .sha1), message)
        return base64(mac)
    }

    static func base64(_ bytes: [UInt8]) -> String {
        var out = [UInt8](repeating: 0, count: (bytes.count + 2) / 3 * 4 + 1)
        let n = bytes.withUnsafeBufferPointer { EVP_EncodeBlock(&out, $0.baseAddress, Int32($0.count)) }
        return String(decoding: out.prefix(Int(n)), as: UTF8.self)
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        data.withUnsafeBufferPointer { UInt32(truncatingIfNeeded: CZlib.crc32(0, $0.baseAddress, UInt32($0.count))) }
    }

    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
