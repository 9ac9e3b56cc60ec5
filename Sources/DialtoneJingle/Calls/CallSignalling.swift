import DialtoneXML
import DialtoneXMPP

/// What the call manager needs of an XMPP connection, and nothing more, so that it can be
/// driven by the account's client or by a test.
public struct CallSignalling: Sendable {
    /// Our bound full JID; nil while offline.
    public var ownAddress: @Sendable () async -> JID?
    public var send: @Sendable (XMLElement) async throws -> Void
    /// An iq set or get; returns the result or throws the error.
    public var request: @Sendable (XMLElement) async throws -> XMLElement
    /// The features a peer's device announces (for `urn:ietf:rfc:3264`: no trickle).
    public var features: @Sendable (JID) async -> Set<String>
    /// The STUN and TURN servers our server recommends (XEP-0215), fetched per call: TURN
    /// credentials from there are time-limited.
    public var externalServices: @Sendable () async -> [ExternalService]

    public init(ownAddress: @escaping @Sendable () async -> JID?, send: @escaping @Sendable (XMLElement) async throws -> Void,
                request: @escaping @Sendable (XMLElement) async throws -> XMLElement,
                features: @escaping @Sendable (JID) async -> Set<String>,
                externalServices: @escaping @Sendable () async -> [ExternalService] = { [] }) {
        self.ownAddress = ownAddress
        self.send = send
        self.request = request
        self.features = features
        self.externalServices = externalServices
    }
}

extension CallSignalling {
    public init(client: XMPPClient) {
        self.init(
            ownAddress: { await client.boundJID },
            send: { try await client.send($0) },
            request: { try await client.request($0, timeout: .seconds(15)) },
            features: { (try? await client.features(of: $0, timeout: .seconds(3))) ?? [] },
            externalServices: { (try? await client.externalServices()) ?? [] })
    }
}
