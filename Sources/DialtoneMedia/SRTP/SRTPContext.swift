import CSRTP
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
    /// Protect called on an inbound context, or unprotect on an outbound one.
    case wrongDirection

    public var description: String {
        switch self {
        case .tooShort: return "SRTP packet too short"
        case .authenticationFailed: return "SRTP authentication failed (wrong keys or a tampered packet)"
        case .replayed: return "SRTP packet replayed"
        case .tooOld: return "SRTP packet older than the replay window"
        case .badKey(let why): return "unusable SRTP key: \(why)"
        case .crypto(let why): return "SRTP crypto failure: \(why)"
        case .wrongDirection: return "SRTP context used in the wrong direction (protect with the local key, unprotect with the remote one)"
        }
    }

    /// What a libsrtp status means for the packet (srtp_err_status_t, srtp2/srtp.h).
    init(status: srtp_err_status_t, doing what: String) {
        switch status {
        case srtp_err_status_auth_fail: self = .authenticationFailed
        case srtp_err_status_replay_fail: self = .replayed
        case srtp_err_status_replay_old: self = .tooOld
        // libsrtp checks the header and trailer lengths against the packet's and says bad_param.
        case srtp_err_status_bad_param, srtp_err_status_parse_err: self = .tooShort
        default: self = .crypto("libsrtp \(what) failed with status \(status.rawValue)")
        }
    }
}

/// srtp_init() once per process. A global's initialiser runs exactly once, under a lock, on
/// first use, so two calls starting at the same moment cannot both initialise libsrtp.
///
/// Then one session that is never freed: Debian's libsrtp2 uses NSS, which it initialises
/// with every cipher it creates and shuts down with the last one it frees. Without a cipher
/// that outlives the calls, each call's first context would start NSS again (4 ms or more
/// on the development VM, against about 0.1 ms for a context while NSS is up).
private let library: (status: UInt32, resident: UInt) = {
    let status = srtp_init()
    guard status == srtp_err_status_ok else { return (status.rawValue, 0) }
    var material = [UInt8](repeating: 0, count: 30)
    guard let resident = try? SRTPContext.session(profile: .aes128CMHMACSHA1_80, material: &material, ssrc: ssrc_any_outbound)
    else { return (srtp_err_status_init_fail.rawValue, 0) }
    // Kept as its address: a pointer is not Sendable.
    return (status.rawValue, UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(resident))))
}()

/// Packets of a stream that may still arrive after a newer one, counted back from the
/// newest (RFC 3711 3.3.2): libsrtp's default, 2.5 s of 20 ms audio
/// (`SRTPBehaviourTests.testReplayWindowIs128Packets`).
let replayWindowPackets = 128

/// SRTP and SRTCP for one direction of one session, on libsrtp2: an outbound context
/// protects with the local master key, an inbound one unprotects with the remote key (a call
/// makes one of each). Works in place on the packet buffer, whose capacity should leave room
/// for the tag (and 4 bytes of SRTCP index), so that the Swift side allocates nothing per packet.
///
/// Any SSRC is accepted (libsrtp's ssrc_any_outbound or ssrc_any_inbound template): a peer
/// that changes its SSRC mid-call gets a fresh rollover counter and replay window for the new
/// stream, as RFC 3711 3.2.3 keeps them per SSRC.
///
/// Not Sendable: libsrtp sessions are not thread-safe; one media thread uses each context.
public final class SRTPContext {
    public enum Direction: Sendable {
        /// Protects what we send.
        case outbound
        /// Unprotects what the peer sends.
        case inbound
    }

    public let profile: SRTPProtectionProfile
    public let direction: Direction
    private let session: OpaquePointer

    /// Creating a context costs a few milliseconds (libsrtp's NSS back end sets up its
    /// ciphers), the first one in a process more (`prepare()`).
    public init(profile: SRTPProtectionProfile, masterKey: [UInt8], masterSalt: [UInt8], direction: Direction) throws(SRTPError) {
        guard masterKey.count == profile.keyLength else { throw .badKey("master key is \(masterKey.count) bytes, want \(profile.keyLength)") }
        guard masterSalt.count == profile.saltLength else { throw .badKey("master salt is \(masterSalt.count) bytes, want \(profile.saltLength)") }
        try Self.prepare()
        self.profile = profile
        self.direction = direction
        // libsrtp reads the master key followed by the master salt from one buffer, and keeps
        // only the session keys it derives from them (RFC 3711 4.3, key derivation rate 0).
        var material = masterKey + masterSalt
        defer { for i in material.indices { material[i] = 0 } }
        session = try Self.session(profile: profile, material: &material,
                                   ssrc: direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound)
    }

    deinit { srtp_dealloc(session) }

    /// Initialises libsrtp (its self-tests and NSS: 70–180 ms on the development VM, once per process).
    /// A call can run this while ICE and DTLS are still under way, so that its first
    /// context does not add that to the time before audio.
    public static func prepare() throws(SRTPError) {
        // Reading `resident` also keeps its store: it is what shows a leak checker the session is held.
        guard library.status == srtp_err_status_ok.rawValue, library.resident != 0 else {
            throw .crypto("libsrtp did not initialise (status \(library.status))")
        }
    }

    fileprivate static func session(profile: SRTPProtectionProfile, material: inout [UInt8],
                                ssrc: srtp_ssrc_type_t) throws(SRTPError) -> OpaquePointer {
        var policy = srtp_policy_t()
        switch profile {
        case .aes128CMHMACSHA1_80:
            // AES_CM_128_HMAC_SHA1_80 (the name in srtp.h is a macro for these).
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
        policy.ssrc = srtp_ssrc_t(type: ssrc, value: 0)
        policy.window_size = UInt(replayWindowPackets)
        // Sending an index twice would reuse keystream; we never retransmit, so refuse it.
        policy.allow_repeat_tx = 0
        var session: srtp_t?
        let status = material.withUnsafeMutableBufferPointer { key in
            policy.key = key.baseAddress
            return srtp_create(&session, &policy)
        }
        guard status == srtp_err_status_ok, let session else {
            throw .crypto("libsrtp could not create a session (status \(status.rawValue))")
        }
        return session
    }

    /// The rollover counter this context holds for `ssrc` (tests and diagnostics); nil for an
    /// SSRC it has not protected or unprotected a packet of.
    public func rolloverCounter(ssrc: UInt32) -> UInt32? {
        var roc: UInt32 = 0
        return srtp_get_stream_roc(session, ssrc, &roc) == srtp_err_status_ok ? roc : nil
    }

    // MARK: SRTP

    public func protectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        guard direction == .outbound else { throw .wrongDirection }
        _ = try rtpHeaderLength(packet)
        try transform(&packet, room: profile.tagLength, doing: "protect", srtp_protect)
    }

    public func unprotectRTP(_ packet: inout [UInt8]) throws(SRTPError) {
        guard direction == .inbound else { throw .wrongDirection }
        let headerLength = try rtpHeaderLength(packet)
        guard packet.count >= headerLength + profile.tagLength else { throw .tooShort }
        try transform(&packet, room: 0, doing: "unprotect", srtp_unprotect)
    }

    // MARK: SRTCP

    public func protectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        guard direction == .outbound else { throw .wrongDirection }
        guard packet.count >= 8 else { throw .tooShort }
        // The 4-byte E flag and SRTCP index, and the tag (RFC 3711 3.4, RFC 7714 9).
        try transform(&packet, room: 4 + profile.tagLength, doing: "protect RTCP", srtp_protect_rtcp)
    }

    public func unprotectRTCP(_ packet: inout [UInt8]) throws(SRTPError) {
        guard direction == .inbound else { throw .wrongDirection }
        guard packet.count >= 8 + 4 + profile.tagLength else { throw .tooShort }
        try transform(&packet, room: 0, doing: "unprotect RTCP", srtp_unprotect_rtcp)
    }

    // MARK: Helpers

    /// Runs one libsrtp call on `packet` in place. libsrtp writes past the packet's end (the
    /// tag, and for SRTCP the index): `room` zero bytes are appended first, within the capacity
    /// the caller reserved, and whatever libsrtp did not use is cut off again. On failure the
    /// packet keeps its length but its bytes are not to be used.
    private func transform(_ packet: inout [UInt8], room: Int, doing what: String,
                           _ call: (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t)
        throws(SRTPError) {
        let original = packet.count
        guard original > 0, original <= Int(Int32.max) - room else { throw .tooShort }
        if room > 0 { packet.append(contentsOf: repeatElement(0, count: room)) }
        var length = Int32(original)
        let status = packet.withUnsafeMutableBytes { raw in call(session, raw.baseAddress, &length) }
        let ok = status == srtp_err_status_ok
        let kept = ok ? min(max(Int(length), 0), packet.count) : original
        packet.removeLast(packet.count - kept)
        guard ok else { throw SRTPError(status: status, doing: what) }
    }

    private func rtpHeaderLength(_ packet: [UInt8]) throws(SRTPError) -> Int {
        let length = packet.withUnsafeBytes { raw in try? RTPHeader.parse(raw).1 }
        guard let length else { throw .tooShort }
        return length
    }
}

@available(*, unavailable)
extension SRTPContext: Sendable {}
