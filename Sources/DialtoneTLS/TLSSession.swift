import COpenSSL

/// One TLS connection over memory BIOs: the owner moves bytes between the socket and
/// `feed(network:)` / `takeOutgoing()`, so this type never blocks and never touches I/O.
///
/// Not Sendable: OpenSSL's SSL object is not safe to share, so one actor (or event loop) owns it.
public final class TLSSession {
    private let context: OpaquePointer      // SSL_CTX, one per session so sessions share no state
    private let ssl: OpaquePointer
    private let networkIn: OpaquePointer    // rbio: ciphertext from the peer; owned by `ssl`
    private let networkOut: OpaquePointer   // wbio: ciphertext for the peer; owned by `ssl`
    private let isClient: Bool
    private let serverName: String?
    // Boxes handed to OpenSSL callbacks as their `arg`; kept alive here for as long as the context.
    private let certificateCheck: CertificateCheck?
    private let alpnPreference: ALPNPreference?

    /// Plaintext accepted by `write` that OpenSSL has not taken yet (before the handshake
    /// finishes, or while a renegotiation makes SSL_write wait for the peer).
    private var pendingPlaintext: [UInt8] = []
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)
    /// Once set, the SSL object is unusable (OpenSSL forbids calls after a fatal error), so
    /// every later call reports the same failure instead of touching it.
    private var failure: TLSError?
    private var handshakeFinishedOnce = false
    private var closeSent = false
    public private(set) var peerClosed = false

    public init(client configuration: TLSConfiguration) throws(TLSError) {
        let check = CertificateCheck(pin: configuration.pinnedCertificateSHA256)
        let ipAddress = isIPLiteral(configuration.serverName)
        let parts = try Self.makeConnection(method: TLS_client_method()) { context throws(TLSError) in
            try configureVersions(context, minimum: configuration.minimumVersion, maximum: configuration.maximumVersion)
            try configureClientALPN(context, configuration.alpn)
            SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
            SSL_CTX_set_cert_verify_callback(context, verifyServerCertificate, Unmanaged.passUnretained(check).toOpaque())
            if check.pin == nil {
                // OpenSSL treats an empty expected name as "check no name", which would accept
                // any certificate the CA ever signed.
                guard !configuration.serverName.isEmpty else {
                    throw .handshakeFailed("no server name to verify the certificate against")
                }
                try loadTrust(context, configuration.trust)
                guard let parameters = SSL_CTX_get0_param(context) else {
                    throw .handshakeFailed(openSSLFailure("no verification parameters"))
                }
                X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
                let ok = configuration.serverName.withCString { name in
                    ipAddress
                        ? X509_VERIFY_PARAM_set1_ip_asc(parameters, name)
                        : X509_VERIFY_PARAM_set1_host(parameters, name, 0)
                }
                guard ok == 1 else {
                    throw .handshakeFailed(openSSLFailure("unusable server name \"\(configuration.serverName)\""))
                }
            }
        }
        context = parts.context
        ssl = parts.ssl
        networkIn = parts.networkIn
        networkOut = parts.networkOut
        isClient = true
        serverName = configuration.serverName
        certificateCheck = check
        alpnPreference = nil

        SSL_set_connect_state(ssl)
        // RFC 6066 allows only host names in SNI; an IP literal is left out.
        if !ipAddress && !configuration.serverName.isEmpty {
            let ok = configuration.serverName.withCString { dt_SSL_set_tlsext_host_name(ssl, $0) }
            guard ok == 1 else {
                throw .handshakeFailed(openSSLFailure("cannot send server name \(configuration.serverName)"))
            }
        }
    }

    public convenience init(server identity: TLSIdentity) throws(TLSError) {
        try self.init(server: identity, options: TLSServerOptions())
    }

    public init(server identity: TLSIdentity, options: TLSServerOptions) throws(TLSError) {
        let preference = options.alpn.isEmpty ? nil : ALPNPreference(try options.alpn.map(alpnName))
        let parts = try Self.makeConnection(method: TLS_server_method()) { context throws(TLSError) in
            try configureVersions(context, minimum: options.minimumVersion, maximum: options.maximumVersion)
            try loadIdentity(context, identity)
            if let preference {
                SSL_CTX_set_alpn_select_cb(context, selectALPN, Unmanaged.passUnretained(preference).toOpaque())
            }
        }
        context = parts.context
        ssl = parts.ssl
        networkIn = parts.networkIn
        networkOut = parts.networkOut
        isClient = false
        serverName = nil
        certificateCheck = nil
        alpnPreference = preference
        SSL_set_accept_state(ssl)
    }

    deinit {
        SSL_free(ssl)           // frees both BIOs too
        SSL_CTX_free(context)
    }

    // MARK: Driving the connection

    /// Client: queues the ClientHello for `takeOutgoing()`. Server: a no-op until bytes arrive.
    public func startHandshake() throws(TLSError) {
        if let failure { throw failure }
        ERR_clear_error()
        try advanceHandshake()
    }

    /// Hands ciphertext from the socket to OpenSSL and returns whatever plaintext it yields.
    /// Call `takeOutgoing()` afterwards: handshake replies, KeyUpdate answers and flushed
    /// writes are produced here as well.
    public func feed(network bytes: [UInt8]) throws(TLSError) -> [UInt8] {
        if let failure { throw failure }
        ERR_clear_error()
        if !bytes.isEmpty {
            var written = 0
            // A memory BIO grows as needed, so the write takes everything or fails for lack of memory.
            let ok = bytes.withUnsafeBytes { raw in BIO_write_ex(networkIn, raw.baseAddress, raw.count, &written) }
            guard ok == 1, written == bytes.count else {
                throw fail(.protocolError(openSSLFailure("cannot buffer incoming data")))
            }
        }
        try advanceHandshake()
        guard handshakeFinishedOnce else { return [] }
        let plaintext = try readPlaintext()
        try flushPlaintext()
        return plaintext
    }

    /// Queues plaintext for encryption; before the handshake finishes it waits and goes out
    /// right after. The ciphertext appears in `takeOutgoing()`.
    public func write(plaintext bytes: [UInt8]) throws(TLSError) {
        if let failure { throw failure }
        if closeSent { throw .closed }
        pendingPlaintext.append(contentsOf: bytes)
        guard handshakeFinishedOnce else { return }
        ERR_clear_error()
        try flushPlaintext()
    }

    /// Bytes to put on the socket now (possibly empty). Still worth calling after a thrown
    /// error: it then holds the alert that tells the peer why.
    public func takeOutgoing() -> [UInt8] {
        readAll(bio: networkOut)
    }

    /// Queues close_notify (after any plaintext still waiting). The peer's close_notify is
    /// reported separately through `peerClosed`; the socket can be closed after sending this.
    public func close() {
        guard !closeSent else { return }
        defer { closeSent = true }
        guard failure == nil, handshakeFinishedOnce else { return }
        ERR_clear_error()
        try? flushPlaintext()
        // Whatever a renegotiation still holds back can no longer be sent after close_notify.
        pendingPlaintext.removeAll()
        // 0 means "sent, peer's not yet received", which is all we want: no waiting for it.
        if SSL_shutdown(ssl) < 0 { _ = takeOpenSSLErrors() }
    }

    // MARK: State

    /// Stays true during a later renegotiation: the connection is authenticated and usable.
    public var isHandshakeComplete: Bool { handshakeFinishedOnce && failure == nil }

    public var negotiatedVersion: String? {
        guard handshakeFinishedOnce, let name = SSL_get_version(ssl) else { return nil }
        return String(cString: name)
    }

    public var negotiatedALPN: String? {
        guard handshakeFinishedOnce else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// SHA-256 of the peer's leaf certificate (DER). On a client it is also set after a failed
    /// verification, so the user can be shown the fingerprint to check and pin.
    public var peerCertificateSHA256: [UInt8]? {
        guard let certificate = SSL_get1_peer_certificate(ssl) else { return certificateCheck?.presented }
        defer { X509_free(certificate) }
        return sha256(of: certificate)
    }

    /// Channel-binding data for SCRAM-*-PLUS, or nil when the type does not apply to this
    /// connection (tls-exporter needs TLS 1.3, tls-unique needs TLS 1.2, per RFC 9266).
    public func channelBinding(_ type: ChannelBindingType) -> [UInt8]? {
        guard handshakeFinishedOnce, failure == nil else { return nil }
        let isTLS13 = SSL_version(ssl) == TLS1_3_VERSION
        switch type {
        case .tlsExporter:
            guard isTLS13 else { return nil }
            var out = [UInt8](repeating: 0, count: 32)
            let label = "EXPORTER-Channel-Binding"
            let ok = label.withCString { name in
                SSL_export_keying_material(ssl, &out, out.count, name, label.utf8.count, nil, 0, 0)
            }
            guard ok == 1 else { _ = takeOpenSSLErrors(); return nil }
            return out
        case .tlsUnique:
            guard !isTLS13 else { return nil }
            // RFC 5929: the first Finished of the latest handshake. The client sends first in a
            // full handshake, the server in an abbreviated (resumed) one.
            let resumed = SSL_session_reused(ssl) == 1
            let ownFinishedIsFirst = isClient != resumed
            var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
            let length = ownFinishedIsFirst
                ? SSL_get_finished(ssl, &out, out.count)
                : SSL_get_peer_finished(ssl, &out, out.count)
            guard length > 0 else { return nil }
            return Array(out.prefix(min(length, out.count)))
        case .tlsServerEndPoint:
            return serverEndPointBinding()
        }
    }

    // MARK: Internals

    private func advanceHandshake() throws(TLSError) {
        // After the first handshake SSL_read drives everything (tickets, KeyUpdate,
        // renegotiation) and keeps application data that arrives in between.
        guard !handshakeFinishedOnce else { return }
        let result = SSL_do_handshake(ssl)
        if result == 1 {
            handshakeFinishedOnce = true
            return
        }
        let code = SSL_get_error(ssl, result)
        if code == SSL_ERROR_WANT_READ || code == SSL_ERROR_WANT_WRITE { return }
        throw fail(handshakeError(code))
    }

    private func readPlaintext() throws(TLSError) -> [UInt8] {
        var plaintext: [UInt8] = []
        while !peerClosed {
            var count = 0
            let result = readBuffer.withUnsafeMutableBytes { raw in
                SSL_read_ex(ssl, raw.baseAddress, raw.count, &count)
            }
            if result == 1 {
                plaintext.append(contentsOf: readBuffer[0..<count])
                continue
            }
            switch SSL_get_error(ssl, result) {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return plaintext
            case SSL_ERROR_ZERO_RETURN:
                peerClosed = true
            default:
                throw fail(.protocolError(openSSLFailure("cannot decrypt incoming data")))
            }
        }
        return plaintext
    }

    private func flushPlaintext() throws(TLSError) {
        guard !pendingPlaintext.isEmpty else { return }
        // Without SSL_MODE_ENABLE_PARTIAL_WRITE, success means all of it. A WANT_READ leaves
        // OpenSSL remembering its progress; the retry passes the same bytes (plus any appended),
        // which SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER allows from a new address.
        var written = 0
        let result = pendingPlaintext.withUnsafeBytes { raw in
            SSL_write_ex(ssl, raw.baseAddress, raw.count, &written)
        }
        if result == 1 {
            pendingPlaintext.removeAll()
            return
        }
        switch SSL_get_error(ssl, result) {
        case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
            return
        case SSL_ERROR_ZERO_RETURN:
            throw fail(.closed)
        default:
            throw fail(.protocolError(openSSLFailure("cannot encrypt outgoing data")))
        }
    }

    private func fail(_ error: TLSError) -> TLSError {
        failure = error
        _ = takeOpenSSLErrors()
        return error
    }

    private func handshakeError(_ code: Int32) -> TLSError {
        let queue = takeOpenSSLErrors()
        if let pin = certificateCheck?.pin, let presented = certificateCheck?.presented, presented != pin {
            return .fingerprintMismatch(expected: fingerprintString(pin), actual: fingerprintString(presented))
        }
        if isClient {
            let result = SSL_get_verify_result(ssl)
            if result == Int(X509_V_ERR_HOSTNAME_MISMATCH) || result == Int(X509_V_ERR_IP_ADDRESS_MISMATCH) {
                return .hostnameMismatch(serverName ?? "")
            }
            if result != Int(X509_V_OK) {
                let reason = X509_verify_cert_error_string(result).map { String(cString: $0) } ?? "error \(result)"
                return .certificateUntrusted(reason)
            }
        }
        if queue.isEmpty {
            return .handshakeFailed(code == SSL_ERROR_SYSCALL ? "the connection ended during the handshake" : "error \(code)")
        }
        return .handshakeFailed(queue)
    }

    /// RFC 5929 §4.1: hash of the server's certificate with its signature's hash, where
    /// MD5 and SHA-1 become SHA-256; undefined (nil) for signatures without one, e.g. Ed25519.
    private func serverEndPointBinding() -> [UInt8]? {
        let certificate: OpaquePointer?
        if isClient {
            certificate = SSL_get1_peer_certificate(ssl)
        } else {
            certificate = SSL_get_certificate(ssl).map { X509_up_ref($0) == 1 ? $0 : nil } ?? nil
        }
        guard let certificate else { return nil }
        defer { X509_free(certificate) }
        var digestNID: Int32 = 0
        var keyNID: Int32 = 0
        var securityBits: Int32 = 0
        var flags: UInt32 = 0
        guard X509_get_signature_info(certificate, &digestNID, &keyNID, &securityBits, &flags) == 1,
              digestNID != NID_undef else {
            _ = takeOpenSSLErrors()
            return nil
        }
        if digestNID == NID_md5 || digestNID == NID_sha1 {
            return sha256(of: certificate)
        }
        guard let name = OBJ_nid2sn(digestNID) else { return nil }
        return digest(of: certificate, using: EVP_get_digestbyname(name))
    }

    private struct Connection {
        let context: OpaquePointer
        let ssl: OpaquePointer
        let networkIn: OpaquePointer
        let networkOut: OpaquePointer
    }

    /// Builds context, SSL object and BIOs, freeing whatever exists if any step fails: the
    /// initializer cannot, since `deinit` does not run before every property is set.
    private static func makeConnection(
        method: OpaquePointer?,
        configure: (OpaquePointer) throws(TLSError) -> Void
    ) throws(TLSError) -> Connection {
        ERR_clear_error()
        guard let context = SSL_CTX_new(method) else {
            throw .handshakeFailed(openSSLFailure("cannot create a TLS context"))
        }
        do throws(TLSError) {
            let mode = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER
            _ = dt_SSL_CTX_set_mode(context, Int(mode))
            try configure(context)
        } catch {
            SSL_CTX_free(context)
            throw error
        }
        guard let ssl = SSL_new(context) else {
            SSL_CTX_free(context)
            throw .handshakeFailed(openSSLFailure("cannot create a TLS connection"))
        }
        guard let networkIn = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .handshakeFailed(openSSLFailure("cannot create a buffer"))
        }
        guard let networkOut = BIO_new(BIO_s_mem()) else {
            BIO_free(networkIn)
            SSL_free(ssl)
            SSL_CTX_free(context)
            throw .handshakeFailed(openSSLFailure("cannot create a buffer"))
        }
        // An empty input buffer must read as "try again later" (WANT_READ), never as end of stream.
        _ = dt_BIO_set_mem_eof_return(networkIn, -1)
        SSL_set_bio(ssl, networkIn, networkOut)
        return Connection(context: context, ssl: ssl, networkIn: networkIn, networkOut: networkOut)
    }

    #if DEBUG
    /// Tests only: starts a TLS 1.3 KeyUpdate or a TLS 1.2 renegotiation from this side,
    /// to prove that post-handshake messages pass through `feed` transparently.
    func startRekeying() -> Bool {
        ERR_clear_error()
        let started = SSL_version(ssl) == TLS1_3_VERSION
            ? SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED)
            : SSL_renegotiate(ssl)
        guard started == 1 else { _ = takeOpenSSLErrors(); return false }
        // Emits the KeyUpdate / HelloRequest now; the rest happens inside later feeds.
        let result = SSL_do_handshake(ssl)
        if result != 1 { _ = takeOpenSSLErrors() }
        return true
    }
    #endif
}

@available(*, unavailable)
extension TLSSession: Sendable {}
