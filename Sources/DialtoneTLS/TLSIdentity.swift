import COpenSSL

/// A certificate (chain, leaf first) and its private key, both PEM.
public struct TLSIdentity: Sendable, Equatable {
    public let certificatePEM: String
    public let privateKeyPEM: String

    public init(certificatePEM: String, privateKeyPEM: String) {
        self.certificatePEM = certificatePEM
        self.privateKeyPEM = privateKeyPEM
    }

    /// SHA-256 of the leaf certificate's DER; empty if `certificatePEM` holds no certificate.
    public var sha256Fingerprint: [UInt8] {
        let certificates = readCertificates(pem: certificatePEM)
        defer { certificates.forEach { X509_free($0) } }
        return certificates.first.flatMap { sha256(of: $0) } ?? []
    }

    /// A fresh self-signed ECDSA P-256 certificate: what DTLS-SRTP uses per call (the peer
    /// checks its fingerprint from signalling, not a chain), and what tests pin.
    public static func selfSigned(commonName: String, validDays: Int = 30) throws(TLSError) -> TLSIdentity {
        try makeIdentity(commonName: commonName, validDays: validDays, issuer: nil, extensions: [])
    }

    /// A root CA for tests and loopback tools; use with `issue` and `TLSConfiguration.Trust.caPEM`.
    public static func certificateAuthority(commonName: String, validDays: Int = 365) throws(TLSError) -> TLSIdentity {
        try makeIdentity(commonName: commonName, validDays: validDays, issuer: nil, extensions: [
            (NID_basic_constraints, "critical,CA:TRUE"),
            (NID_key_usage, "critical,keyCertSign,cRLSign"),
            (NID_subject_key_identifier, "hash"),
        ])
    }

    /// A server (and client) certificate signed by `ca`. Each subject alternative name is a
    /// DNS name, or an IP address when it parses as one.
    public static func issue(
        commonName: String, subjectAltNames: [String], by ca: TLSIdentity, validDays: Int = 30
    ) throws(TLSError) -> TLSIdentity {
        var names: [String] = []
        for name in subjectAltNames {
            // The names go into an OpenSSL config string, where these characters have meaning.
            guard !name.isEmpty, !name.contains(where: { $0 == "," || $0 == "\n" || $0 == "\r" }) else {
                throw .invalidCredentials("unusable subject alternative name \"\(name)\"")
            }
            names.append((isIPLiteral(name) ? "IP:" : "DNS:") + name)
        }
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, "critical,digitalSignature"),
            (NID_ext_key_usage, "serverAuth,clientAuth"),
            (NID_subject_key_identifier, "hash"),
            (NID_authority_key_identifier, "keyid:always"),
        ]
        if !names.isEmpty {
            extensions.append((NID_subject_alt_name, names.joined(separator: ",")))
        }
        return try makeIdentity(commonName: commonName, validDays: validDays, issuer: ca, extensions: extensions)
    }
}

private func makeIdentity(
    commonName: String, validDays: Int, issuer: TLSIdentity?, extensions: [(Int32, String)]
) throws(TLSError) -> TLSIdentity {
    ERR_clear_error()
    guard validDays > 0 else { throw .invalidCredentials("validity must be at least one day") }

    var issuerCertificate: OpaquePointer?
    var issuerKey: OpaquePointer?
    defer {
        if let issuerCertificate { X509_free(issuerCertificate) }
        if let issuerKey { EVP_PKEY_free(issuerKey) }
    }
    if let issuer {
        let certificates = readCertificates(pem: issuer.certificatePEM)
        certificates.dropFirst().forEach { X509_free($0) }
        issuerCertificate = certificates.first
        issuerKey = readPrivateKey(pem: issuer.privateKeyPEM)
        guard issuerCertificate != nil, issuerKey != nil else {
            throw .invalidCredentials("the issuing CA needs a PEM certificate and key")
        }
    }

    guard let key = dt_EVP_EC_gen_P256() else {
        throw .invalidCredentials(openSSLFailure("cannot generate a P-256 key"))
    }
    defer { EVP_PKEY_free(key) }
    guard let certificate = X509_new() else {
        throw .invalidCredentials(openSSLFailure("cannot allocate a certificate"))
    }
    defer { X509_free(certificate) }

    guard X509_set_version(certificate, Int(X509_VERSION_3)) == 1,
          setRandomSerial(certificate),
          X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) != nil,  // tolerate clock skew
          X509_time_adj_ex(X509_getm_notAfter(certificate), Int32(clamping: validDays), 0, nil) != nil,
          X509_set_pubkey(certificate, key) == 1,
          let subject = X509_get_subject_name(certificate)
    else { throw .invalidCredentials(openSSLFailure("cannot fill in the certificate")) }

    let named = commonName.withCString { name in
        X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8, name, -1, -1, 0)
    }
    guard named == 1 else { throw .invalidCredentials(openSSLFailure("unusable common name \"\(commonName)\"")) }
    let issuerName = issuerCertificate.map { X509_get_subject_name($0) } ?? subject
    guard X509_set_issuer_name(certificate, issuerName) == 1 else {
        throw .invalidCredentials(openSSLFailure("cannot set the issuer"))
    }

    var v3 = X509V3_CTX()
    X509V3_set_ctx(&v3, issuerCertificate ?? certificate, certificate, nil, nil, 0)
    for (nid, value) in extensions {
        guard let ext = value.withCString({ X509V3_EXT_conf_nid(nil, &v3, nid, $0) }) else {
            throw .invalidCredentials(openSSLFailure("cannot build extension \(value)"))
        }
        let added = X509_add_ext(certificate, ext, -1)
        X509_EXTENSION_free(ext)
        guard added == 1 else { throw .invalidCredentials(openSSLFailure("cannot add extension \(value)")) }
    }

    guard X509_sign(certificate, issuerKey ?? key, EVP_sha256()) > 0 else {
        throw .invalidCredentials(openSSLFailure("cannot sign the certificate"))
    }
    guard let certificatePEM = pemText({ PEM_write_bio_X509($0, certificate) }),
          let keyPEM = pemText({ PEM_write_bio_PrivateKey($0, key, nil, nil, 0, nil, nil) })
    else { throw .invalidCredentials(openSSLFailure("cannot encode PEM")) }
    return TLSIdentity(certificatePEM: certificatePEM, privateKeyPEM: keyPEM)
}

/// 16 random bytes with the top bit clear: unique per certificate and a positive INTEGER.
private func setRandomSerial(_ certificate: OpaquePointer) -> Bool {
    var bytes = [UInt8](repeating: 0, count: 16)
    guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { return false }
    bytes[0] &= 0x7F
    guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { return false }
    defer { BN_free(number) }
    return BN_to_ASN1_INTEGER(number, X509_get_serialNumber(certificate)) != nil
}

private func pemText(_ write: (OpaquePointer) -> Int32) -> String? {
    guard let bio = BIO_new(BIO_s_mem()) else { return nil }
    defer { BIO_free(bio) }
    guard write(bio) == 1 else { return nil }
    return String(decoding: readAll(bio: bio), as: UTF8.self)
}
