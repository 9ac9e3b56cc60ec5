public enum TLSError: Error, Sendable, Equatable, CustomStringConvertible {
    /// OpenSSL's reason, e.g. "self-signed certificate in certificate chain".
    case certificateUntrusted(String)
    /// The name we asked for.
    case hostnameMismatch(String)
    /// Both as uppercase hex with colons, the way XEP-0320 writes fingerprints.
    case fingerprintMismatch(expected: String, actual: String)
    /// OpenSSL's error queue at the time of failure.
    case handshakeFailed(String)
    case protocolError(String)
    case closed
    /// A certificate, key or CA bundle that could not be loaded or does not fit together.
    case invalidCredentials(String)

    public var description: String {
        switch self {
        case .certificateUntrusted(let reason):
            return "The server's certificate is not trusted (\(reason)). Set ca_file or pin its fingerprint if you trust it."
        case .hostnameMismatch(let name):
            return "The server's certificate is not valid for \(name). Check the server name, or pin the certificate's fingerprint if you trust it."
        case .fingerprintMismatch(let expected, let actual):
            return "The server's certificate fingerprint \(actual) does not match the pinned \(expected). Update the pin only if you know the server changed its certificate; otherwise someone may be intercepting the connection."
        case .handshakeFailed(let reason):
            return "The TLS handshake failed (\(reason)). Check that the port speaks TLS and that the server supports TLS 1.2 or later."
        case .protocolError(let reason):
            return "The TLS connection broke (\(reason)). Reconnect; if it keeps happening, something on the path is corrupting the stream."
        case .closed:
            return "The TLS connection is already closed. Reconnect to continue."
        case .invalidCredentials(let reason):
            return "A certificate or key could not be loaded (\(reason)). Check that it is PEM and that the key belongs to the certificate."
        }
    }
}
