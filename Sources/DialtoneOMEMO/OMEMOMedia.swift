/// Files shared in encrypted chats (XEP-0454, OMEMO Media Sharing): the file is encrypted
/// with AES-256-GCM under a fresh key, uploaded as it is, and shared as an `aesgcm://` link
/// whose fragment (never sent to the server) is the IV and the key in hex. The tag follows
/// the ciphertext in the uploaded file.
public enum OMEMOMedia {
    public struct Sealed: Sendable {
        /// What is uploaded: the ciphertext, then the 16-byte tag.
        public var upload: [UInt8]
        /// The link's fragment: the 12-byte IV and the 32-byte key, in lower-case hex.
        public var fragment: String
    }

    public static func seal(_ file: [UInt8]) throws(OMEMOError) -> Sealed {
        let iv = try OMEMOPayload.random(12)
        let key = try OMEMOPayload.random(32)
        let (ciphertext, tag) = try OMEMOPayload.gcm(encrypting: true, key: key, iv: iv, input: file, tag: nil)
        return Sealed(upload: ciphertext + tag, fragment: hex(iv + key))
    }

    /// The file in a download of an `aesgcm://` link, checked against its tag; the fragment
    /// has a 12-byte IV (or the 16-byte one older clients use) and the key.
    public static func open(_ download: [UInt8], fragment: String) throws(OMEMOError) -> [UInt8] {
        guard let secret = bytes(hex: fragment), secret.count == 44 || secret.count == 48, download.count >= 16 else {
            throw .badPayload
        }
        let ivLength = secret.count - 32
        return try OMEMOPayload.gcm(encrypting: false, key: Array(secret.suffix(32)), iv: Array(secret.prefix(ivLength)),
                                    input: Array(download.dropLast(16)), tag: Array(download.suffix(16))).output
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        return String(decoding: bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 0x0f)]] }, as: UTF8.self)
    }

    static func bytes(hex text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count.isMultiple(of: 2) else { return nil }
        var result: [UInt8] = []
        result.reserveCapacity(digits.count / 2)
        for index in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[index]), let low = nibble(digits[index + 1]) else { return nil }
            result.append(high << 4 | low)
        }
        return result
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
