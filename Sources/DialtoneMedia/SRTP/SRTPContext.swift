import COpenSSL
// Scripts/fuzz-rtp compiles these sources and SRTPProtectionProfile.swift into one module.
#if canImport(DialtoneTLS)
import DialtoneTLS
#endif

public enum SRTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooShort
    case authenticationFailed
    case replayed
    /// The index is too old for the replay window to say whether it was seen.
    case tooOld
    case badKey(String)
    case crypto(String)

    public var description: String {
        switch self {
        case .tooShort: return "SRTP packet too short"
        case .authenticationFailed: return "SRTP authentication failed (wrong keys or a tampered packet)"
        case .replayed: return "SRTP packet replayed"
        case .tooOld: return "SRTP packet older than the replay window"
        case .badKey(let why): return "unusable SRTP key: \(why)"
        case .crypto(let why): return "SRTP crypto failure: \(why)"
        }
    }
}

/// Keys for one direction (one master key), derived per RFC 3711 4.3 with a key derivation
/// rate of 0, as DTLS-SRTP uses.
public struct SRTPSessionKeys: Sendable, Equatable {
    public var rtpKey: [UInt8]
    public var rtpSalt: [UInt8]
    public var rtpAuthKey: [UInt8]
    public var rtcpKey: [UInt8]
    public var rtcpSalt: [UInt8]
    public var rtcpAuthKey: [UInt8]

    public init(profile: SRTPProtectionProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(SRTPError) {
        guard masterKey.count == profile.keyLength else { throw .badKey("master key is \(masterKey.count) bytes, want \(profile.keyLength)") }
        guard masterSalt.count == profile.saltLength else { throw .badKey("master salt is \(masterSalt.count) bytes, want \(profile.saltLength)") }
        let authLength = profile == .aes128CMHMACSHA1_80 ? 20 : 0
        rtpKey = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 0, length: profile.keyLength)
        rtpAuthKey = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 1, length: authLength)
        rtpSalt = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 2, length: profile.saltLength)
        rtcpKey = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 3, length: profile.keyLength)
        rtcpAuthKey = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 4, length: authLength)
        rtcpSalt = try deriveSessionKey(masterKey: masterKey, masterSalt: masterSalt, label: 5, length: profile.saltLength)
    }
}

/// RFC 3711 4.3.1/4.3.3 with kdr = 0 (so r = 0): AES-CM keyed with the master key, IV =
/// (master salt XOR label at byte 7) * 2^16. A 12-byte GCM salt is zero-extended to 14
/// bytes, as RFC 7714 11 asks for.
public func deriveSessionKey(masterKey: [UInt8], masterSalt: [UInt8], label: UInt8, length: Int) throws(SRTPError) -> [UInt8] {
    guard length > 0 else { return [] }
    var iv = [UInt8](repeating: 0, count: 16)
    for (index, byte) in masterSalt.prefix(14).enumerated() { iv[index] = byte }
    iv[7] ^= label
    return try aesCTRKeystream(key: masterKey, iv: iv, length: length)
}

/// AES-128 in counter mode over zeros: the raw keystream (RFC 3711 B.2 tests this directly).
public func aesCTRKeystream(key: [UInt8], iv: [UInt8], length: Int) throws(SRTPError) -> [UInt8] {
    let cipher = try AESCounterCipher(key: key)
    var out = [UInt8](repeating: 0, count: length)
    let ok = out.withUnsafeMutableBytes { raw in
        iv.withUnsafeBytes { ivRaw in cipher.apply(iv: ivRaw.baseAddress!, to: raw) }
    }
    guard ok else { throw .crypto("AES-128-CTR") }
    return out
}

/// One EVP context for AES-128-CTR, reset with a new IV per packet so that the steady
/// state allocates nothing.
final class AESCounterCipher {
    private let context: OpaquePointer

    init(key: [UInt8]) throws(SRTPError) {
        guard key.count == 16 else { throw .badKey("AES-128 needs a 16-byte key") }
        guard let context = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        self.context = context
        guard EVP_EncryptInit_ex(context, EVP_aes_128_ctr(), nil, key, nil) == 1 else {
            ERR_clear_error()
            throw .crypto("AES-128-CTR init")
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// XORs the keystream for `iv` into `buffer` in place.
    func apply(iv: UnsafeRawPointer, to buffer: UnsafeMutableRawBufferPointer) -> Bool {
        guard buffer.count > 0 else { return true }
        let base = buffer.baseAddress!.assumingMemoryBound(to: UInt8.self)
        var produced: Int32 = 0
        guard EVP_EncryptInit_ex(context, nil, nil, nil, iv.assumingMemoryBound(to: UInt8.self)) == 1,
              EVP_EncryptUpdate(context, base, &produced, base, Int32(buffer.count)) == 1 else {
            ERR_clear_error()
            return false
        }
        return true
    }
}

/// HMAC-SHA1 through EVP_MAC, re-initialised per packet with the key it already holds.
final class HMACSHA1 {
    private let mac: OpaquePointer
    private let context: OpaquePointer

    init(key: [UInt8]) throws(SRTPError) {
        guard let mac = EVP_MAC_fetch(nil, "HMAC", nil) else { throw .crypto("no HMAC in OpenSSL") }
        guard let context = EVP_MAC_CTX_new(mac) else {
            EVP_MAC_free(mac)
            throw .crypto("EVP_MAC_CTX_new")
        }
        self.mac = mac
        self.context = context
        let ok = "SHA1".withCString { digest -> Int32 in
            "digest".withCString { name -> Int32 in
                var params = [
                    OSSL_PARAM_construct_utf8_string(name, UnsafeMutablePointer(mutating: digest), 0),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_MAC_init(context, key, key.count, &params)
            }
        }
        guard ok == 1 else {
            ERR_clear_error()
            throw .crypto("HMAC-SHA1 init")
        }
    }

    deinit {
        EVP_MAC_CTX_free(context)
        EVP_MAC_free(mac)
    }

    /// The first 10 bytes of HMAC-SHA1(message || rollover counter), written to `tag`.
    func tag(_ message: UnsafeRawBufferPointer, rollover: UInt32?, into tag: UnsafeMutableRawBufferPointer) -> Bool {
        var roc = (rollover ?? 0).bigEndian
        var digest = (UInt64(0), UInt64(0), UInt64(0))   // 24 bytes on the stack: room for 20
        var length = 0
        guard EVP_MAC_init(context, nil, 0, nil) == 1,
              EVP_MAC_update(context, message.baseAddress?.assumingMemoryBound(to: UInt8.self), message.count) == 1
        else { ERR_clear_error(); return false }
        if rollover != nil {
            let ok = withUnsafeBytes(of: &roc) { EVP_MAC_update(context, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), 4) }
            guard ok == 1 else { ERR_clear_error(); return false }
        }
        let ok = withUnsafeMutableBytes(of: &digest) { out -> Bool in
            guard EVP_MAC_final(context, out.baseAddress!.assumingMemoryBound(to: UInt8.self), &length, out.count) == 1,
                  length == 20 else { return false }
            tag.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(out)[0..<tag.count]))
            return true
        }
        if !ok { ERR_clear_error() }
        return ok
    }
}

/// AES-128-GCM through EVP (RFC 7714): the key is set once, the IV per packet.
final class AESGCMCipher {
    private let context: OpaquePointer

    init(key: [UInt8]) throws(SRTPError) {
        guard key.count == 16 else { throw .badKey("AES-128-GCM needs a 16-byte key") }
        guard let context = EVP_CIPHER_CTX_new() else { throw .crypto("EVP_CIPHER_CTX_new") }
        self.context = context
        guard EVP_CipherInit_ex(context, EVP_aes_128_gcm(), nil, key, nil, 1) == 1 else {
            ERR_clear_error()
            throw .crypto("AES-128-GCM init")
        }
    }

    deinit { EVP_CIPHER_CTX_free(context) }

    /// Encrypts `text` in place and writes the 16-byte tag; or, with `encrypt` false,
    /// checks `tag` and decrypts in place (the plaintext is only meaningful if it returns true).
    func seal(encrypt: Bool, iv: UnsafeRawPointer, aad: UnsafeRawBufferPointer, text: UnsafeMutableRawBufferPointer,
              tag: UnsafeMutableRawBufferPointer) -> Bool {
        var produced: Int32 = 0
        let u8 = { (p: UnsafeRawPointer) in p.assumingMemoryBound(to: UInt8.self) }
        guard EVP_CipherInit_ex(context, nil, nil, nil, u8(iv), encrypt ? 1 : 0) == 1 else { ERR_clear_error(); return false }
        if aad.count > 0 {
            guard EVP_CipherUpdate(context, nil, &produced, u8(aad.baseAddress!), Int32(aad.count)) == 1 else { ERR_clear_error(); return false }
        }
        if text.count > 0 {
            let p = text.baseAddress!.assumingMemoryBound(to: UInt8.self)
            guard EVP_CipherUpdate(context, p, &produced, p, Int32(text.count)) == 1 else { ERR_clear_error(); return false }
        }
        if !encrypt {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, 16, tag.baseAddress) == 1 else { ERR_clear_error(); return false }
        }
        var tail = (UInt64(0), UInt64(0))
        let finished = withUnsafeMutableBytes(of: &tail) { raw in
            EVP_CipherFinal_ex(context, raw.baseAddress!.assumingMemoryBound(to: UInt8.self), &produced)
        }
        guard finished == 1 else { ERR_clear_error(); return false }
        if encrypt {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, tag.baseAddress) == 1 else { ERR_clear_error(); return false }
        }
        return true
    }
}

/// A 64-entry sliding replay window (RFC 3711 3.3.2) over packet indices.
public struct ReplayWindow: Sendable {
    public private(set) var highest: UInt64 = 0
    private var seen: UInt64 = 0
    private var started = false

    public init() {}

    public func check(_ index: UInt64) -> SRTPError? {
        guard started, index <= highest else { return nil }
        let age = highest - index
        if age >= 64 { return .tooOld }
        return seen & (1 << age) != 0 ? .replayed : nil
    }

    /// Call only after the packet authenticated, so forged packets cannot move the window.
    public mutating func accept(_ index: UInt64) {
        guard started else {
            started = true
            highest = index
            seen = 1
            return
        }
        if index > highest {
            let shift = index - highest
            seen = shift >= 64 ? 1 : (seen << shift) | 1
            highest = index
        } else {
            seen |= 1 << (highest - index)
        }
    }
}

/// Rollover-counter bookkeeping for one SSRC (RFC 3711 3.3.1).
struct StreamState {
    var rollover: UInt32 = 0
    var highestSequence: UInt16 = 0
    var started = false
    var window = ReplayWindow()

    /// The guessed rollover counter for `sequence`.
    func estimate(_ sequence: UInt16) -> UInt32 {
        guard started else { return rollover }
        if highestSequence < 32768 {
            // From the previous cycle; in the first cycle there is none (ROC - 1 would wrap to
            // 2^32 - 1, and the replay window would leap past every later packet).
            if Int(sequence) - Int(highestSequence) > 32768 && rollover > 0 { return rollover - 1 }
            return rollover
        }
        if Int(highestSequence) - 32768 > Int(sequence) { return rollover &+ 1 }
        return rollover
    }

    mutating func update(sequence: UInt16, rollover guess: UInt32) {
        if !started {
            started = true
            rollover = guess
            highestSequence = sequence
        } else if guess == rollover &+ 1 {
            rollover = guess
            highestSequence = sequence
        } else if guess == rollover && sequence > highestSequence {
            highestSequence = sequence
        }
    }
}

/// SRTP and SRTCP for one direction of one session: `protect` with the local master key,
/// `unprotect` with the remote one (make two contexts). Works in place on the packet buffer,
/// whose capacity should leave room for the tag (and 4 bytes of SRTCP index).
///
/// Not Sendable: it owns OpenSSL contexts; one media thread uses it.
public final class SRTPContext {
    public let profile: SRTPProtectionProfile
    private let keys: SRTPSessionKeys
    private let rtpCTR: AESCounterCipher?
    private let rtcpCTR: AESCounterCipher?
    private let rtpHMAC: HMACSHA1?
    private let rtcpHMAC: HMACSHA1?
    private let rtpGCM: AESGCMCipher?
    private let rtcpGCM: AESGCMCipher?
    private var streams: [UInt32: StreamState] = [:]
    private var rtcpWindows: [UInt32: ReplayWindow] = [:]
    private var rtcpIndex: UInt32 = 0
    private var iv = [UInt8](repeating: 0, count: 16)
    private var scratch = [UInt8](repeating: 0, count: 32)

    public init(profile: SRTPProtectionProfile, masterKey: [UInt8], masterSalt: [UInt8]) throws(SRTPError) {
        self.profile = profile
        keys = try SRTPSessionKeys(profile: profile, masterKey: masterKey, masterSalt: masterSalt)
        switch profile {
        case .aes128CMHMACSHA1_80:
            rtpCTR = try AESCounterCipher(key: keys.rtpKey)
            rtcpCTR = try AESCounterCipher(key: keys.rtcpKey)
            rtpHMAC = try HMACSHA1(key: keys.rtpAuthKey)
            rtcpHMAC = try HMACSHA1(key: keys.rtcpAuthKey)
            rtpGCM = nil
            rtcpGCM = nil
        case .aeadAES128GCM:
            rtpCTR = nil
            rtcpCTR = nil
            rtpHMAC = nil
            rtcpHMAC = nil
            rtpGCM = try AESGCMCipher(key: keys.rtpKey)
            rtcpGCM = try AESGCMCipher(key: keys.rtcpKey)
        }
    }

    /// The rollover counter this context holds for `ssrc` (tests and diagnostics).
    public func rolloverCounter(ssrc: UInt32) -> UInt32? { streams[ssrc]?.rollover }

    /// Starts a sender's stream at a given rollover counter (a test hook for wrap handling).
    public func setRolloverCounter(_ roc: UInt32, highestSequence: UInt16, ssrc: UInt32) {
        var state = StreamState()
        state.rollover = roc
        state.highestSequence = highestSequence
        state.started = true
        streams[ssrc] = state
    }

    // MARK: SRTP

    public func protectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        let headerLength = try rtpHeaderLength(packet)
        let ssrc = readUInt32(packet, 8)
        let sequence = readUInt16(packet, 2)
        var state = streams[ssrc] ?? StreamState()
        let roc = state.estimate(sequence)
        state.update(sequence: sequence, rollover: roc)
        streams[ssrc] = state
        try transformRTP(&packet, headerLength: headerLength, ssrc: ssrc, sequence: sequence, roc: roc, encrypt: true)
    }

    public func unprotectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        let headerLength = try rtpHeaderLength(packet)
        guard packet.count >= headerLength + profile.tagLength else { throw .tooShort }
        let ssrc = readUInt32(packet, 8)
        let sequence = readUInt16(packet, 2)
        var state = streams[ssrc] ?? StreamState()
        let roc = state.estimate(sequence)
        let index = UInt64(roc) << 16 | UInt64(sequence)
        if let problem = state.window.check(index) { throw problem }
        try transformRTP(&packet, headerLength: headerLength, ssrc: ssrc, sequence: sequence, roc: roc, encrypt: false)
        state.update(sequence: sequence, rollover: roc)
        state.window.accept(index)
        streams[ssrc] = state
    }

    private func transformRTP(_ packet: inout [UInt8], headerLength: Int, ssrc: UInt32, sequence: UInt16, roc: UInt32, encrypt: Bool) throws(SRTPError) {
        let tagLength = profile.tagLength
        switch profile {
        case .aes128CMHMACSHA1_80:
            // IV = (salt * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), RFC 3711 4.1.1.
            for i in 0..<16 { iv[i] = i < 14 ? keys.rtpSalt[i] : 0 }
            xorBigEndian(ssrc, into: &iv, at: 4)
            xorBigEndian(roc, into: &iv, at: 8)
            iv[12] ^= UInt8(sequence >> 8)
            iv[13] ^= UInt8(truncatingIfNeeded: sequence)
            if encrypt {
                try cipherPayload(&packet, from: headerLength, to: packet.count, cipher: rtpCTR!)
                try appendTag(&packet, hmac: rtpHMAC!, rollover: roc)
            } else {
                let end = packet.count - tagLength
                try verifyTag(packet, end: end, hmac: rtpHMAC!, rollover: roc)
                packet.removeLast(tagLength)
                try cipherPayload(&packet, from: headerLength, to: end, cipher: rtpCTR!)
            }
        case .aeadAES128GCM:
            // RFC 7714 8.1: 00 00 || SSRC || ROC || SEQ, XOR the 12-byte salt.
            for i in 0..<12 { iv[i] = keys.rtpSalt[i] }
            xorBigEndian(ssrc, into: &iv, at: 2)
            xorBigEndian(roc, into: &iv, at: 6)
            iv[10] ^= UInt8(sequence >> 8)
            iv[11] ^= UInt8(truncatingIfNeeded: sequence)
            let textEnd = encrypt ? packet.count : packet.count - tagLength
            if encrypt { packet.append(contentsOf: repeatElement(0, count: tagLength)) }
            let ok = gcm(rtpGCM!, encrypt: encrypt, packet: &packet, aadRanges: (0..<headerLength, nil),
                         text: headerLength..<textEnd, tag: textEnd..<(textEnd + tagLength))
            guard ok else {
                if encrypt { throw .crypto("AES-GCM encryption") }
                throw .authenticationFailed
            }
            if !encrypt { packet.removeLast(tagLength) }
        }
    }

    // MARK: SRTCP

    public func protectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        guard packet.count >= 8 else { throw .tooShort }
        let ssrc = readUInt32(packet, 4)
        rtcpIndex = (rtcpIndex &+ 1) & 0x7FFF_FFFF
        let index = rtcpIndex
        let trailer = index | 0x8000_0000   // E bit: we always encrypt
        switch profile {
        case .aes128CMHMACSHA1_80:
            setCounterIV(salt: keys.rtcpSalt, ssrc: ssrc, index: UInt64(index))
            try cipherPayload(&packet, from: 8, to: packet.count, cipher: rtcpCTR!)
            appendBigEndian(trailer, to: &packet)
            try appendTag(&packet, hmac: rtcpHMAC!, rollover: nil)
        case .aeadAES128GCM:
            setGCMControlIV(ssrc: ssrc, index: index)
            let textEnd = packet.count
            packet.append(contentsOf: repeatElement(0, count: profile.tagLength))
            appendBigEndian(trailer, to: &packet)
            let trailerStart = packet.count - 4
            guard gcm(rtcpGCM!, encrypt: true, packet: &packet, aadRanges: (0..<8, trailerStart..<packet.count),
                      text: 8..<textEnd, tag: textEnd..<(textEnd + 16)) else { throw .crypto("AES-GCM encryption") }
        }
    }

    public func unprotectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        let tagLength = profile.tagLength
        guard packet.count >= 8 + 4 + tagLength else { throw .tooShort }
        let ssrc = readUInt32(packet, 4)
        var window = rtcpWindows[ssrc] ?? ReplayWindow()
        switch profile {
        case .aes128CMHMACSHA1_80:
            let trailerStart = packet.count - tagLength - 4
            let trailer = readUInt32(packet, trailerStart)
            let index = trailer & 0x7FFF_FFFF
            if let problem = window.check(UInt64(index)) { throw problem }
            try verifyTag(packet, end: packet.count - tagLength, hmac: rtcpHMAC!, rollover: nil)
            packet.removeLast(tagLength + 4)
            if trailer & 0x8000_0000 != 0 {
                setCounterIV(salt: keys.rtcpSalt, ssrc: ssrc, index: UInt64(index))
                try cipherPayload(&packet, from: 8, to: packet.count, cipher: rtcpCTR!)
            }
            window.accept(UInt64(index))
        case .aeadAES128GCM:
            let trailerStart = packet.count - 4
            let trailer = readUInt32(packet, trailerStart)
            let index = trailer & 0x7FFF_FFFF
            if let problem = window.check(UInt64(index)) { throw problem }
            guard trailer & 0x8000_0000 != 0 else { throw .authenticationFailed }   // we never accept unencrypted SRTCP
            setGCMControlIV(ssrc: ssrc, index: index)
            let textEnd = trailerStart - tagLength
            guard gcm(rtcpGCM!, encrypt: false, packet: &packet, aadRanges: (0..<8, trailerStart..<packet.count),
                      text: 8..<textEnd, tag: textEnd..<trailerStart) else { throw .authenticationFailed }
            packet.removeLast(tagLength + 4)
            window.accept(UInt64(index))
        }
        rtcpWindows[ssrc] = window
    }

    // MARK: Helpers

    private func rtpHeaderLength(_ packet: [UInt8]) throws(SRTPError) -> Int {
        let length = packet.withUnsafeBytes { raw in try? RTPHeader.parse(raw).1 }
        guard let length else { throw .tooShort }
        return length
    }

    private func setCounterIV(salt: [UInt8], ssrc: UInt32, index: UInt64) {
        for i in 0..<16 { iv[i] = i < 14 ? salt[i] : 0 }
        xorBigEndian(ssrc, into: &iv, at: 4)
        xorBigEndian(UInt32(truncatingIfNeeded: index >> 16), into: &iv, at: 8)
        iv[12] ^= UInt8(truncatingIfNeeded: index >> 8)
        iv[13] ^= UInt8(truncatingIfNeeded: index)
    }

    /// RFC 7714 9.1: 00 00 || SSRC || 00 00 || 0 || SRTCP index (31 bits), XOR the salt.
    private func setGCMControlIV(ssrc: UInt32, index: UInt32) {
        for i in 0..<12 { iv[i] = keys.rtcpSalt[i] }
        xorBigEndian(ssrc, into: &iv, at: 2)
        xorBigEndian(index & 0x7FFF_FFFF, into: &iv, at: 8)
    }

    private func cipherPayload(_ packet: inout [UInt8], from start: Int, to end: Int, cipher: AESCounterCipher) throws(SRTPError) {
        guard end > start else { return }
        let ok = iv.withUnsafeBytes { ivRaw in
            packet.withUnsafeMutableBytes { raw in
                cipher.apply(iv: ivRaw.baseAddress!, to: UnsafeMutableRawBufferPointer(rebasing: raw[start..<end]))
            }
        }
        guard ok else { throw .crypto("AES-128-CTR") }
    }

    private func appendTag(_ packet: inout [UInt8], hmac: HMACSHA1, rollover: UInt32?) throws(SRTPError) {
        let ok = packet.withUnsafeBytes { raw in
            scratch.withUnsafeMutableBytes { tag in
                hmac.tag(raw, rollover: rollover, into: UnsafeMutableRawBufferPointer(rebasing: tag[0..<10]))
            }
        }
        guard ok else { throw .crypto("HMAC-SHA1") }
        packet.append(contentsOf: scratch[0..<10])
    }

    private func verifyTag(_ packet: [UInt8], end: Int, hmac: HMACSHA1, rollover: UInt32?) throws(SRTPError) {
        let ok = packet.withUnsafeBytes { raw in
            scratch.withUnsafeMutableBytes { tag in
                hmac.tag(UnsafeRawBufferPointer(rebasing: raw[0..<end]), rollover: rollover,
                         into: UnsafeMutableRawBufferPointer(rebasing: tag[0..<10]))
            }
        }
        guard ok else { throw .crypto("HMAC-SHA1") }
        // Constant time, so timing does not reveal how many leading bytes of a forgery were right.
        var difference: UInt8 = 0
        for i in 0..<10 { difference |= scratch[i] ^ packet[end + i] }
        guard difference == 0 else { throw .authenticationFailed }
    }

    private func gcm(_ cipher: AESGCMCipher, encrypt: Bool, packet: inout [UInt8],
                     aadRanges: (Range<Int>, Range<Int>?), text: Range<Int>, tag: Range<Int>) -> Bool {
        // The AAD may be two pieces (SRTCP header + trailer); gather it into scratch.
        var aadLength = 0
        func gather(_ range: Range<Int>) {
            if scratch.count < aadLength + range.count { scratch.append(contentsOf: repeatElement(0, count: aadLength + range.count - scratch.count)) }
            for i in range { scratch[aadLength] = packet[i]; aadLength += 1 }
        }
        gather(aadRanges.0)
        if let second = aadRanges.1 { gather(second) }
        return iv.withUnsafeBytes { ivRaw in
            scratch.withUnsafeBytes { aad in
                packet.withUnsafeMutableBytes { raw in
                    cipher.seal(encrypt: encrypt, iv: ivRaw.baseAddress!,
                                aad: UnsafeRawBufferPointer(rebasing: aad[0..<aadLength]),
                                text: UnsafeMutableRawBufferPointer(rebasing: raw[text]),
                                tag: UnsafeMutableRawBufferPointer(rebasing: raw[tag]))
                }
            }
        }
    }
}

@available(*, unavailable)
extension SRTPContext: Sendable {}

@inline(__always) private func xorBigEndian(_ value: UInt32, into bytes: inout [UInt8], at offset: Int) {
    bytes[offset] ^= UInt8(value >> 24)
    bytes[offset + 1] ^= UInt8(truncatingIfNeeded: value >> 16)
    bytes[offset + 2] ^= UInt8(truncatingIfNeeded: value >> 8)
    bytes[offset + 3] ^= UInt8(truncatingIfNeeded: value)
}
