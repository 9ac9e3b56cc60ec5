import COpenSSL

// How a TLS session's SSL_CTX is set up (versions, ALPN, trust, our identity) and the
// callbacks OpenSSL calls back into (certificate pin, ALPN choice); apart from TLSSession,
// which drives the connection.

// MARK: - Context configuration

func configureVersions(_ context: OpaquePointer, minimum: TLSVersion, maximum: TLSVersion?) throws(TLSError) {
    guard dt_SSL_CTX_set_min_proto_version(context, protocolVersionNumber(minimum)) == 1 else {
        throw .handshakeFailed(openSSLFailure("cannot set the minimum TLS version"))
    }
    if let maximum {
        guard dt_SSL_CTX_set_max_proto_version(context, protocolVersionNumber(maximum)) == 1 else {
            throw .handshakeFailed(openSSLFailure("cannot set the maximum TLS version"))
        }
    }
}

func alpnName(_ name: String) throws(TLSError) -> [UInt8] {
    let bytes = Array(name.utf8)
    guard (1...255).contains(bytes.count) else {
        throw .protocolError("ALPN protocol name must be 1 to 255 bytes: \"\(name)\"")
    }
    return bytes
}

func configureClientALPN(_ context: OpaquePointer, _ names: [String]) throws(TLSError) {
    guard !names.isEmpty else { return }
    var wire: [UInt8] = []
    for name in names {
        let bytes = try alpnName(name)
        wire.append(UInt8(bytes.count))
        wire.append(contentsOf: bytes)
    }
    // Unlike most of OpenSSL, this returns 0 on success.
    guard SSL_CTX_set_alpn_protos(context, wire, UInt32(wire.count)) == 0 else {
        throw .protocolError(openSSLFailure("cannot offer ALPN"))
    }
}

func loadTrust(_ context: OpaquePointer, _ trust: TLSConfiguration.Trust) throws(TLSError) {
    switch trust {
    case .system:
        guard SSL_CTX_set_default_verify_paths(context) == 1 else {
            throw .invalidCredentials(openSSLFailure("cannot load the system certificate store"))
        }
    case .caFile(let path):
        let ok = path.withCString { SSL_CTX_load_verify_locations(context, $0, nil) }
        guard ok == 1 else {
            throw .invalidCredentials(openSSLFailure("cannot read CA file \(path)"))
        }
    case .caPEM(let pem):
        let certificates = readCertificates(pem: pem)
        defer { certificates.forEach { X509_free($0) } }
        guard !certificates.isEmpty else {
            throw .invalidCredentials("no PEM certificate in the CA text")
        }
        guard let store = SSL_CTX_get_cert_store(context) else {
            throw .invalidCredentials(openSSLFailure("no certificate store"))
        }
        for certificate in certificates where X509_STORE_add_cert(store, certificate) != 1 {
            throw .invalidCredentials(openSSLFailure("cannot add a CA certificate"))
        }
    }
}

func loadIdentity(_ context: OpaquePointer, _ identity: TLSIdentity) throws(TLSError) {
    let certificates = readCertificates(pem: identity.certificatePEM)
    defer { certificates.forEach { X509_free($0) } }
    guard let leaf = certificates.first else {
        throw .invalidCredentials("no PEM certificate")
    }
    guard SSL_CTX_use_certificate(context, leaf) == 1 else {
        throw .invalidCredentials(openSSLFailure("certificate rejected"))
    }
    for intermediate in certificates.dropFirst() where dt_SSL_CTX_add1_chain_cert(context, intermediate) != 1 {
        throw .invalidCredentials(openSSLFailure("chain certificate rejected"))
    }
    guard let key = readPrivateKey(pem: identity.privateKeyPEM) else {
        throw .invalidCredentials("no PEM private key")
    }
    defer { EVP_PKEY_free(key) }
    guard SSL_CTX_use_PrivateKey(context, key) == 1, SSL_CTX_check_private_key(context) == 1 else {
        throw .invalidCredentials(openSSLFailure("the private key does not match the certificate"))
    }
}

// MARK: - Callbacks

/// State shared with `verifyServerCertificate`: the pin, if any, and the leaf the server showed.
final class CertificateCheck {
    let pin: [UInt8]?
    var presented: [UInt8]?
    init(pin: [UInt8]?) { self.pin = pin }
}

/// Stands in for OpenSSL's own chain check (which is all the default does) so that the leaf's
/// fingerprint is recorded even when verification fails. With a pin, the pin alone decides:
/// no chain building, no name check.
func verifyServerCertificate(_ store: OpaquePointer?, _ argument: UnsafeMutableRawPointer?) -> Int32 {
    guard let store, let argument else { return 0 }
    let check = Unmanaged<CertificateCheck>.fromOpaque(argument).takeUnretainedValue()
    check.presented = X509_STORE_CTX_get0_cert(store).flatMap { sha256(of: $0) }
    guard let pin = check.pin else { return X509_verify_cert(store) }
    guard let presented = check.presented, presented == pin else {
        X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION)
        return 0
    }
    X509_STORE_CTX_set_error(store, X509_V_OK)
    return 1
}

/// Server protocol list for `selectALPN`, each name without its length byte.
final class ALPNPreference {
    let protocols: [[UInt8]]
    init(_ protocols: [[UInt8]]) { self.protocols = protocols }
}

/// Picks the server's most preferred protocol that the client offered; `out` must point
/// into `offered`, which OpenSSL keeps alive for the rest of the handshake.
func selectALPN(
    _ ssl: OpaquePointer?,
    _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
    _ outLength: UnsafeMutablePointer<UInt8>?,
    _ offered: UnsafePointer<UInt8>?,
    _ offeredLength: UInt32,
    _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let out, let outLength, let offered, let argument else { return SSL_TLSEXT_ERR_NOACK }
    let preference = Unmanaged<ALPNPreference>.fromOpaque(argument).takeUnretainedValue()
    let list = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    for wanted in preference.protocols {
        var index = 0
        while index < list.count {
            let length = Int(list[index])
            let start = index + 1
            guard start + length <= list.count else { break }
            if length == wanted.count && list[start..<(start + length)].elementsEqual(wanted) {
                out.pointee = offered + start
                outLength.pointee = UInt8(length)
                return SSL_TLSEXT_ERR_OK
            }
            index = start + length
        }
    }
    return SSL_TLSEXT_ERR_NOACK
}
