import DialtoneStore
import DialtoneXMPP
import Logging

/// What the user typed as a recipient, made an address: a contact's name, an address, or a
/// phone number through the account's gateway. Numbers use the gateway's own XEP-0100
/// translation when we are online and it offers one (remembered per number), else the local
/// E.164 form.
final class RecipientLookup: AccountFeature {
    let recipients: RecipientResolver
    let store: Store
    let client: XMPPClient
    let logger: Logger
    private var gatewayAnswers: [String: JID] = [:]

    init(recipients: RecipientResolver, store: Store, client: XMPPClient, logger: Logger) {
        self.recipients = recipients
        self.store = store
        self.client = client
        self.logger = logger
    }

    nonisolated(nonsending) func resolve(_ text: String, online: Bool) async throws -> JID {
        let parsed = try recipients.parse(text, contacts: store.contacts(), addressBook: store.addressBook())
        let prompt: String
        switch parsed {
        case .address(let jid), .contact(let jid): return jid
        case .number(let number): prompt = number.e164
        case .shortCode(let digits): prompt = digits
        }
        guard let gateway = recipients.gateway else { return try recipients.localAddress(for: parsed) }
        if let known = gatewayAnswers[prompt] { return known }
        guard online else { return try recipients.localAddress(for: parsed) }
        do {
            let jid = try await client.gatewayAddress(for: prompt, gateway: gateway)
            gatewayAnswers[prompt] = jid
            return jid
        } catch let error as GatewayError {
            if case .notServed = error { throw error }
            logger.info("gateway \(gateway) does not translate numbers (\(error)); using the E.164 form")
            let jid = try recipients.localAddress(for: parsed)
            gatewayAnswers[prompt] = jid
            return jid
        }
    }

    /// The group-text address for several typed recipients (`/group alice, +1555…, bob`).
    nonisolated(nonsending) func resolveGroup(_ texts: [String], online: Bool) async throws -> JID {
        var participants: [JID] = []
        for text in texts { participants.append(try await resolve(text, online: online)) }
        return try recipients.groupAddress(for: participants)
    }
}
