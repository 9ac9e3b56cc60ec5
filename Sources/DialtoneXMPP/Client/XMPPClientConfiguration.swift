import DialtoneTLS
import Foundation

/// How to reach and log in to one account.
public struct XMPPClientConfiguration: Sendable {
    public enum TLSMode: String, Sendable, Codable {
        /// Connect in the clear and upgrade with STARTTLS (port 5222); refuse if the server can't.
        case starttls
        /// TLS from the first byte (XEP-0368, port 5223).
        case direct
        /// No TLS at all: allowed only to a loopback address, for local test servers.
        case none
    }

    public var jid: JID
    public var password: String
    /// Host to connect to instead of looking the domain up in DNS.
    public var server: String?
    public var port: Int?
    public var tls: TLSMode
    /// A PEM file of CAs to trust instead of the system store.
    public var caFile: String?
    /// The SHA-256 of the server certificate; a match is trusted whatever its chain.
    public var pinnedCertificateSHA256: [UInt8]?
    /// The resource to bind; by default "dialtone-" and a random suffix, new for each run.
    public var resource: String
    /// Caps the TLS version (tests use 1.2 to exercise tls-unique channel binding).
    public var maximumTLSVersion: TLSVersion?
    /// Where SRV look-ups go; nil means the system's resolv.conf.
    public var nameserver: DNSResolver.Nameserver?
    public var connectTimeout: Duration = .seconds(15)
    /// Idle time after which we ask the server for an ack (or ping) to prove the link is alive.
    public var keepaliveInterval: Duration = .seconds(60)
    /// How long an answer to that may take before the connection counts as dead; also how
    /// long the server may leave a stream-management request unanswered after we sent
    /// stanzas (a link that swallows what we write, without closing).
    public var keepaliveTimeout: Duration = .seconds(20)
    public var reconnect: ReconnectPolicy = ReconnectPolicy()
    public var softwareName = "Dialtone"
    /// Answered to software-version queries (XEP-0092, with `softwareName`) and announced; nil
    /// refuses them, for users who would rather not say what they run.
    public var softwareVersion: String?
    /// Features the layers above implement, announced in service discovery and caps.
    public var extraFeatures: [String] = []
    /// iq get/set payload namespaces handed up as `.request` events instead of refused.
    public var delegatedRequestNamespaces: Set<String> = []

    public init(jid: JID, password: String, server: String? = nil, port: Int? = nil, tls: TLSMode = .starttls,
                caFile: String? = nil, pinnedCertificateSHA256: [UInt8]? = nil, resource: String? = nil) {
        self.jid = jid.bare
        self.password = password
        self.server = server
        self.port = port
        self.tls = tls
        self.caFile = caFile
        self.pinnedCertificateSHA256 = pinnedCertificateSHA256
        // Each process its own resource: a second `dialtone` for the same account (a listener
        // and a sender) must not replace the first.
        self.resource = resource ?? "dialtone-" + newStanzaID().prefix(6)
    }
}

/// Exponential back-off with full jitter, so a server that restarts is not met by all its
/// clients in the same second.
public struct ReconnectPolicy: Sendable {
    public var initialDelay: Duration = .milliseconds(500)
    public var maximumDelay: Duration = .seconds(120)
    public var enabled = true

    public init(initialDelay: Duration = .milliseconds(500), maximumDelay: Duration = .seconds(120), enabled: Bool = true) {
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
        self.enabled = enabled
    }

    public func delay(afterFailures failures: Int) -> Duration {
        let exponent = min(failures, 20)
        let ceiling = min(initialDelay * (1 << exponent), maximumDelay)
        let fraction = Double.random(in: 0.5...1.0)
        return ceiling * fraction
    }
}
