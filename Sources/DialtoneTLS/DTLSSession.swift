import COpenSSL

/// Which side of the DTLS handshake we are: `active` connects (DTLS client), `passive`
/// accepts (DTLS server). RFC 5763 5: the offer says actpass, the answer picks one.
public enum DTLSRole: String, Sendable, Equatable {
    case active, passive

    /// Our role as answerer, given what the offerer said: we take `active` for `actpass`
    /// (RFC 5763 recommends it, so the answerer's first flight can start at once).
    public static func answering(offered: String) -> DTLSRole? {
        switch offered {
        case "actpass", "passive": return .active
        case "active": return .passive
        default: return nil
        }
    }

    /// Our role as offerer (we sent actpass), given the answer.
    public static func offering(answered: String) -> DTLSRole? {
        switch answered {
        case "active": return .passive
        case "passive": return .active
        default: return nil
        }
    }
}

public enum DTLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The peer's certificate is not the one signalled: possibly a man in the middle.
    case fingerprintMismatch(expected: String, actual: String)
    case noPeerCertificate
    /// The peer did not agree to any SRTP profile we offered.
    case noSRTPProfile
    case handshakeFailed(String)
    case invalidCredentials(String)
    case closed

    public var description: String {
        switch self {
        case .fingerprintMismatch(let expected, let actual):
            return "The caller's DTLS certificate fingerprint \(actual) does not match the signalled \(expected): the call was refused because someone may be intercepting it."
        case .noPeerCertificate:
            return "The peer sent no DTLS certificate, so its signalled fingerprint cannot be checked; the call was refused."
        case .noSRTPProfile:
            return "The peer supports none of our SRTP profiles (SRTP_AES128_CM_SHA1_80, SRTP_AEAD_AES_128_GCM)."
        case .handshakeFailed(let reason):
            return "The DTLS handshake failed (\(reason))."
        case .invalidCredentials(let reason):
            return "The DTLS certificate or key could not be used (\(reason))."
        case .closed:
            return "The DTLS session is closed."
        }
    }
}

/// DTLS-SRTP (RFC 5764) over memory BIOs. The owner passes datagrams from the socket to
/// `feed(datagram:)`, sends what `takeDatagrams()` returns, and calls `handleTimeout()`
/// when `retransmitDelay` has passed, so this type neither blocks nor does I/O nor keeps time.
///
/// Not Sendable: OpenSSL's SSL object belongs to one owner.
public final class DTLSSession {
    public let role: DTLSRole
    public let localFingerprint: [UInt8]
    private let context: OpaquePointer
    private let ssl: OpaquePointer
    private let networkIn: OpaquePointer
    private let networkOut: OpaquePointer
    private let check: PeerFingerprintCheck
    private let mtu: Int
    private var failure: DTLSError?
    public private(set) var isHandshakeComplete = false
    public private(set) var keyingMaterial: SRTPKeyingMaterial?
    private var readBuffer = [UInt8](repeating: 0, count: 2048)

    /// `remoteFingerprint` is the peer's SHA-256 fingerprint from signalling (XEP-0320 / SDP).
    /// `mtu` bounds the datagrams of our handshake flights.
    public init(role: DTLSRole, identity: TLSIdentity, remoteFingerprint: [UInt8],
                profiles: [SRTPProtectionProfile] = [.aes128CMHMACSHA1_80, .aeadAES128GCM],
                mtu: Int = 1200, initialRetransmit: Duration = .seconds(1)) throws(DTLSError) {
        self.role = role
        self.mtu = mtu
        localFingerprint = identity.sha256Fingerprint
        check = PeerFingerprintCheck(expected: remoteFingerprint)
        ERR_clear_error()
        guard let context = SSL_CTX_new(DTLS_method()) else {
            throw .handshakeFailed(openSSLFailure("cannot create a DTLS context"))
        }
        do throws(DTLSError) {
            guard dt_SSL_CTX_set_min_proto_version(context, DTLS1_2_VERSION) == 1 else {
                throw .handshakeFailed(openSSLFailure("cannot require DTLS 1.2"))
            }
            try useIdentity(context, identity)
            // Both sides insist on a certificate: the fingerprint is the only authentication.
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nil)
            SSL_CTX_set_cert_verify_callback(context, verifyPeerFingerprint, Unmanaged.passUnretained(check).toOpaque())
            let names = profiles.map(\.rawValue).joined(separator: ":")
            // Returns 0 on success, unlike most of OpenSSL.
            guard SSL_CTX_set_tlsext_use_srtp(context, names) == 0 else {
                throw .handshakeFailed(openSSLFailure("cannot offer SRTP profiles \(names)"))
            }
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .handshakeFailed(openSSLFailure("cannot create a DTLS connection"))
        }
        guard let networkIn = BIO_new(BIO_s_mem()), let networkOut = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .handshakeFailed(openSSLFailure("cannot create buffers"))
        }
        _ = dt_BIO_set_mem_eof_return(networkIn, -1)
        SSL_set_bio(ssl, networkIn, networkOut)
        // A memory BIO cannot report a path MTU; ours is set by the caller.
        _ = dt_DTLS_use_fixed_mtu(ssl, mtu)
        // OpenSSL's timer starts at 1 s; the callback lets a caller (and tests) choose, and
        // reads the per-session value from ex_data slot 0 since it gets no context argument.
        let (seconds, attoseconds) = initialRetransmit.components
        let microseconds = UInt(max(1, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
        _ = SSL_set_ex_data(ssl, 0, UnsafeMutableRawPointer(bitPattern: microseconds))
        DTLS_set_timer_cb(ssl, retransmitTimer)
        if role == .active { SSL_set_connect_state(ssl) } else { SSL_set_accept_state(ssl) }
        self.context = context
        self.ssl = ssl
        self.networkIn = networkIn
        self.networkOut = networkOut
    }

    /// With a fresh self-signed ECDSA P-256 certificate, as each call should have: nothing
    /// ties two calls together, and the peer checks the fingerprint we signal, not a chain.
    public convenience init(role: DTLSRole, remoteFingerprint: [UInt8],
                            profiles: [SRTPProtectionProfile] = [.aes128CMHMACSHA1_80, .aeadAES128GCM]) throws(DTLSError) {
        let identity: TLSIdentity
        do {
            identity = try TLSIdentity.selfSigned(commonName: "dialtone")
        } catch {
            throw .invalidCredentials(error.description)
        }
        try self.init(role: role, identity: identity, remoteFingerprint: remoteFingerprint, profiles: profiles)
    }

    deinit {
        SSL_free(ssl)
        SSL_CTX_free(context)
    }

    /// Active side: queues the ClientHello. Passive side: nothing until the peer's arrives.
    public func start() throws(DTLSError) {
        try advance()
    }

    /// One datagram from the peer (the demultiplexer sends those whose first byte is 20–63).
    /// Returns application data, which DTLS-SRTP does not use but a peer may send.
    @discardableResult
    public func feed(datagram: [UInt8]) throws(DTLSError) -> [UInt8] {
        if let failure { throw failure }
        ERR_clear_error()
        var written = 0
        let ok = datagram.withUnsafeBytes { raw in BIO_write_ex(networkIn, raw.baseAddress, raw.count, &written) }
        guard ok == 1 else { throw fail(.handshakeFailed(openSSLFailure("cannot buffer a datagram"))) }
        try advance()
        guard isHandshakeComplete else { return [] }
        var data: [UInt8] = []
        while true {
            var count = 0
            let result = readBuffer.withUnsafeMutableBytes { SSL_read_ex(ssl, $0.baseAddress, $0.count, &count) }
            if result == 1 { data.append(contentsOf: readBuffer[0..<count]); continue }
            let code = SSL_get_error(ssl, result)
            if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { break }
            if code == SSL_ERROR_ZERO_RETURN { throw fail(.closed) }
            throw fail(.handshakeFailed(openSSLFailure("cannot read a DTLS record")))
        }
        return data
    }

    /// Datagrams to send now. OpenSSL writes a whole flight into the memory BIO; it is cut
    /// back into records here and packed into datagrams no larger than the MTU, since a
    /// memory BIO (unlike a datagram BIO) keeps no boundaries.
    public func takeDatagrams() -> [[UInt8]] {
        let bytes = readAll(bio: networkOut)
        var datagrams: [[UInt8]] = []
        var current: [UInt8] = []
        var offset = 0
        while offset + 13 <= bytes.count {
            let length = 13 + (Int(bytes[offset + 11]) << 8 | Int(bytes[offset + 12]))
            let end = min(bytes.count, offset + length)
            if !current.isEmpty && current.count + (end - offset) > mtu {
                datagrams.append(current)
                current = []
            }
            current.append(contentsOf: bytes[offset..<end])
            offset = end
        }
        if !current.isEmpty { datagrams.append(current) }
        return datagrams
    }

    /// How long until `handleTimeout()` must be called to retransmit, or nil when no timer runs.
    public var retransmitDelay: Duration? {
        var tv = timeval()
        guard dt_DTLSv1_get_timeout(ssl, &tv) == 1 else { return nil }
        return .seconds(Int64(tv.tv_sec)) + .microseconds(Int64(tv.tv_usec))
    }

    /// Retransmits the last flight if its timer expired; then call `takeDatagrams()`.
    public func handleTimeout() throws(DTLSError) {
        if let failure { throw failure }
        ERR_clear_error()
        if dt_DTLSv1_handle_timeout(ssl) < 0 {
            throw fail(.handshakeFailed(openSSLFailure("too many retransmissions")))
        }
    }

    /// Sends close_notify (collect it with `takeDatagrams()`).
    public func close() {
        guard failure == nil, isHandshakeComplete else { return }
        if SSL_shutdown(ssl) < 0 { _ = takeOpenSSLErrors() }
    }

    /// SRTP keys for our direction and the peer's: the DTLS client's keys protect what
    /// the active side sends.
    public var localKeys: (key: [UInt8], salt: [UInt8])? {
        keyingMaterial.map { role == .active ? ($0.clientKey, $0.clientSalt) : ($0.serverKey, $0.serverSalt) }
    }

    public var remoteKeys: (key: [UInt8], salt: [UInt8])? {
        keyingMaterial.map { role == .active ? ($0.serverKey, $0.serverSalt) : ($0.clientKey, $0.clientSalt) }
    }

    public var peerFingerprint: [UInt8]? { check.presented }

    // MARK: Internals

    private func advance() throws(DTLSError) {
        if let failure { throw failure }
        guard !isHandshakeComplete else { return }
        ERR_clear_error()
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            try finishHandshake()
            return
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
        if let presented = check.presented, presented != check.expected {
            throw fail(.fingerprintMismatch(expected: fingerprintString(check.expected), actual: fingerprintString(presented)))
        }
        if check.presented == nil && check.called {
            throw fail(.noPeerCertificate)
        }
        let queue = takeOpenSSLErrors()
        throw fail(.handshakeFailed(queue.isEmpty ? "error \(code)" : queue))
    }

    private func finishHandshake() throws(DTLSError) {
        // The verify callback ran, but a peer that skipped its certificate never reaches it.
        guard let presented = check.presented else { throw fail(.noPeerCertificate) }
        guard presented == check.expected else {
            throw fail(.fingerprintMismatch(expected: fingerprintString(check.expected), actual: fingerprintString(presented)))
        }
        guard let selected = SSL_get_selected_srtp_profile(ssl), let name = selected.pointee.name,
              let profile = SRTPProtectionProfile(rawValue: String(cString: name)) else {
            throw fail(.noSRTPProfile)
        }
        var exported = [UInt8](repeating: 0, count: 2 * (profile.keyLength + profile.saltLength))
        let label = "EXTRACTOR-dtls_srtp"
        let ok = label.withCString { SSL_export_keying_material(ssl, &exported, exported.count, $0, label.utf8.count, nil, 0, 0) }
        guard ok == 1 else { throw fail(.handshakeFailed(openSSLFailure("cannot export SRTP keys"))) }
        keyingMaterial = SRTPKeyingMaterial(profile: profile, exported: exported)
        isHandshakeComplete = true
    }

    private func fail(_ error: DTLSError) -> DTLSError {
        failure = error
        _ = takeOpenSSLErrors()
        return error
    }
}

@available(*, unavailable)
extension DTLSSession: Sendable {}

/// Doubles the timeout after each expiry from the session's initial value, up to 60 s (RFC 6347 4.2.4.1).
private func retransmitTimer(_ ssl: OpaquePointer?, _ previous: UInt32) -> UInt32 {
    guard previous > 0 else {
        let initial = ssl.flatMap { SSL_get_ex_data($0, 0) }.map { UInt(bitPattern: $0) } ?? 1_000_000
        return UInt32(clamping: initial)
    }
    return min(previous * 2, 60_000_000)
}

private final class PeerFingerprintCheck {
    let expected: [UInt8]
    var presented: [UInt8]?
    var called = false
    init(expected: [UInt8]) { self.expected = expected }
}

/// Replaces chain verification: a self-signed certificate is expected, and only its
/// fingerprint against the signalled one decides.
private func verifyPeerFingerprint(_ store: OpaquePointer?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let store, let argument else { return 0 }
    let check = Unmanaged<PeerFingerprintCheck>.fromOpaque(argument).takeUnretainedValue()
    check.called = true
    check.presented = X509_STORE_CTX_get0_cert(store).flatMap { sha256(of: $0) }
    guard let presented = check.presented, presented == check.expected else {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
    X509_STORE_CTX_set_error(store, X509_V_OK)
    return 1
}

private func useIdentity(_ context: OpaquePointer, _ identity: TLSIdentity) throws(DTLSError) {
    let certificates = readCertificates(pem: identity.certificatePEM)
    defer { certificates.forEach { X509_free($0) } }
    guard let leaf = certificates.first, SSL_CTX_use_certificate(context, leaf) == 1 else {
        throw .invalidCredentials(openSSLFailure("no usable certificate"))
    }
    guard let key = readPrivateKey(pem: identity.privateKeyPEM) else { throw .invalidCredentials("no PEM private key") }
    defer { EVP_PKEY_free(key) }
    guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
        throw .invalidCredentials(openSSLFailure("the private key does not match the certificate"))
    }
}
