/// What a client session trusts and checks. One value per connection attempt.
public struct TLSConfiguration: Sendable, Equatable {
    public enum Trust: Sendable, Equatable {
        /// The OS certificate store (OpenSSL's default paths; honours SSL_CERT_FILE / SSL_CERT_DIR).
        case system
        /// Only the CA certificates in this PEM file; the OS store is not consulted.
        case caFile(String)
        /// Only the CA certificates in this PEM text; the OS store is not consulted.
        case caPEM(String)
    }

    /// Sent as SNI and checked against the certificate. An IP literal is checked against
    /// IP SANs and not sent as SNI (RFC 6066 forbids it). Must already be an A-label (punycode).
    public var serverName: String
    public var trust: Trust
    /// When set, the leaf certificate's SHA-256 (over its DER) must equal this, and a match
    /// is trusted on its own: chain and name are not checked, so self-signed servers work.
    public var pinnedCertificateSHA256: [UInt8]?
    public var minimumVersion: TLSVersion = .tls12
    /// Mostly for tests (forcing TLS 1.2 to exercise tls-unique); nil means the newest OpenSSL has.
    public var maximumVersion: TLSVersion? = nil
    /// ALPN protocol names in preference order, e.g. ["xmpp-client"] for XEP-0368 direct TLS.
    public var alpn: [String] = []

    public init(serverName: String, trust: Trust = .system, pinnedCertificateSHA256: [UInt8]? = nil) {
        self.serverName = serverName
        self.trust = trust
        self.pinnedCertificateSHA256 = pinnedCertificateSHA256
    }
}

/// Server-side knobs, used by tests and loopback tools.
public struct TLSServerOptions: Sendable, Equatable {
    public var minimumVersion: TLSVersion = .tls12
    public var maximumVersion: TLSVersion? = nil
    /// Protocols this server accepts, in its own preference order. A client offering none of
    /// them still connects, without ALPN (lenient, as XMPP servers are).
    public var alpn: [String] = []

    public init(minimumVersion: TLSVersion = .tls12, maximumVersion: TLSVersion? = nil, alpn: [String] = []) {
        self.minimumVersion = minimumVersion
        self.maximumVersion = maximumVersion
        self.alpn = alpn
    }
}

public enum TLSVersion: Sendable, Equatable, Hashable {
    case tls12, tls13
}

public enum ChannelBindingType: String, Sendable {
    case tlsExporter = "tls-exporter"
    case tlsUnique = "tls-unique"
    case tlsServerEndPoint = "tls-server-end-point"
}
