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
    /// An iq set whose answer is expected but not waited for (a hang-up must not hang on a
    /// peer that is gone): the answer, when it comes, is not a stanza we never asked for.
    public var sendRequest: @Sendable (XMLElement) async throws -> Void
    /// The features a peer's device announces (for `urn:ietf:rfc:3264`: no trickle).
    public var features: @Sendable (JID) async -> Set<String>
    /// The STUN and TURN servers our server recommends (XEP-0215), fetched per call: TURN
    /// credentials from there are time-limited.
    public var externalServices: @Sendable () async -> [ExternalService]
    /// Whether this address may ring us (XEP-0353 warns that answering strangers' proposes
    /// tells them we are online).
    public var mayCall: @Sendable (JID) async -> Bool
    /// OMEMO for the DTLS fingerprints (verified calls); nil: fingerprints go in clear.
    public var sealing: FingerprintSealing?

    public init(ownAddress: @escaping @Sendable () async -> JID?, send: @escaping @Sendable (XMLElement) async throws -> Void,
                request: @escaping @Sendable (XMLElement) async throws -> XMLElement,
                sendRequest: @escaping @Sendable (XMLElement) async throws -> Void,
                features: @escaping @Sendable (JID) async -> Set<String>,
                externalServices: @escaping @Sendable () async -> [ExternalService] = { [] },
                mayCall: @escaping @Sendable (JID) async -> Bool = { _ in true },
                sealing: FingerprintSealing? = nil) {
        self.ownAddress = ownAddress
        self.send = send
        self.request = request
        self.sendRequest = sendRequest
        self.features = features
        self.externalServices = externalServices
        self.mayCall = mayCall
        self.sealing = sealing
    }
}

extension CallSignalling {
    public init(client: XMPPClient, mayCall: @escaping @Sendable (JID) async -> Bool = { _ in true },
                sealing: FingerprintSealing? = nil) {
        self.init(
            ownAddress: { await client.boundJID },
            send: { try await client.send($0) },
            request: { try await client.request($0, timeout: .seconds(15)) },
            sendRequest: { try await client.sendRequest($0, timeout: .seconds(15)) },
            features: { (try? await client.features(of: $0, timeout: .seconds(3))) ?? [] },
            externalServices: { (try? await client.externalServices()) ?? [] },
            mayCall: mayCall,
            sealing: sealing)
    }
}
