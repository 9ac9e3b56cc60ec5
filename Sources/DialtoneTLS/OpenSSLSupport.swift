import COpenSSL

// Small helpers over OpenSSL calls that several files need. Pointers returned here are
// owned by the caller, who frees them with the matching *_free.

/// Empties the thread's error queue into one line. Always called after a failure so that a
/// stale entry cannot be blamed on the next operation (of this session or another one).
func takeOpenSSLErrors() -> String {
    var parts: [String] = []
    while true {
        let code = ERR_get_error()
        if code == 0 { break }
        var buffer = [CChar](repeating: 0, count: 256)
        let text = buffer.withUnsafeMutableBufferPointer { raw -> String in
            ERR_error_string_n(code, raw.baseAddress, raw.count)
            return String(cString: raw.baseAddress!)
        }
        if !parts.contains(text) { parts.append(text) }
    }
    return parts.joined(separator: "; ")
}

/// Error text for a failed call, never empty so that a message is always actionable.
func openSSLFailure(_ what: String) -> String {
    let queue = takeOpenSSLErrors()
    return queue.isEmpty ? what : "\(what): \(queue)"
}

/// Runs `body` with a read-only memory BIO over `text`; the BIO never outlives the call,
/// because it points into the array's storage.
func withReadBIO<T>(_ text: String, _ body: (OpaquePointer) -> T) -> T? {
    let bytes = Array(text.utf8)
    return bytes.withUnsafeBytes { raw -> T? in
        guard let base = raw.baseAddress, let bio = BIO_new_mem_buf(base, Int32(raw.count)) else { return nil }
        defer { BIO_free(bio) }
        return body(bio)
    }
}

/// Every certificate in a PEM text, in order.
func readCertificates(pem: String) -> [OpaquePointer] {
    let certificates = withReadBIO(pem) { bio -> [OpaquePointer] in
        var found: [OpaquePointer] = []
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            found.append(certificate)
        }
        return found
    } ?? []
    // Reading until failure is how the end of the text is found; that failure is not an error.
    ERR_clear_error()
    return certificates
}

func readPrivateKey(pem: String) -> OpaquePointer? {
    let key = withReadBIO(pem) { bio in PEM_read_bio_PrivateKey(bio, nil, nil, nil) } ?? nil
    if key == nil { ERR_clear_error() }
    return key
}

func readAll(bio: OpaquePointer) -> [UInt8] {
    let pending = Int(BIO_ctrl_pending(bio))
    guard pending > 0 else { return [] }
    var out = [UInt8](repeating: 0, count: pending)
    var count = 0
    let ok = out.withUnsafeMutableBytes { raw in BIO_read_ex(bio, raw.baseAddress, raw.count, &count) }
    if ok != 1 { return [] }
    if count < out.count { out.removeLast(out.count - count) }
    return out
}

/// A certificate's digest over its DER encoding.
func digest(of certificate: OpaquePointer, using md: OpaquePointer?) -> [UInt8]? {
    guard let md else { return nil }
    var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
    var length: UInt32 = 0
    guard X509_digest(certificate, md, &out, &length) == 1 else {
        ERR_clear_error()
        return nil
    }
    return Array(out.prefix(Int(length)))
}

func sha256(of certificate: OpaquePointer) -> [UInt8]? {
    digest(of: certificate, using: EVP_sha256())
}

func protocolVersionNumber(_ version: TLSVersion) -> Int32 {
    switch version {
    case .tls12: return TLS1_2_VERSION
    case .tls13: return TLS1_3_VERSION
    }
}

/// True for IPv4 and IPv6 literals, which certificates carry as IP SANs rather than DNS names.
func isIPLiteral(_ text: String) -> Bool {
    guard let parsed = text.withCString({ a2i_IPADDRESS($0) }) else {
        ERR_clear_error()
        return false
    }
    ASN1_OCTET_STRING_free(parsed)
    return true
}
