import DialtoneXML
import Foundation

/// XEP-0100 gateway interaction: the gateway, not us, knows which numbers it serves and how
/// it spells their addresses.
extension XMPPClient {
    /// Asks `gateway` for the address of `prompt` (a phone number as the user typed it).
    /// Throws `GatewayError.notServed` for numbers it refuses, `.unsupported` when it does
    /// not speak jabber:iq:gateway (the caller may then build the address itself).
    public func gatewayAddress(for prompt: String, gateway: JID) async throws -> JID {
        var query = XMLElement("query", namespace: Namespace.gateway)
        query.append(.textElement("prompt", namespace: Namespace.gateway, prompt))
        let answer: XMLElement
        do {
            answer = try await request(.iq(.set, id: newStanzaID(), to: gateway, payload: query))
        } catch let error as StanzaError {
            switch error.condition {
            case "not-acceptable", "item-not-found", "bad-request", "not-allowed":
                throw GatewayError.notServed(prompt: prompt, gateway: gateway, reason: error.text)
            case "feature-not-implemented", "service-unavailable":
                throw GatewayError.unsupported(gateway)
            default:
                throw error
            }
        }
        // XEP-0100 says <jid/>; old gateways answered with <prompt/>.
        let result = answer.child("query", namespace: Namespace.gateway)
        guard let text = result?.childText("jid", namespace: Namespace.gateway) ?? result?.childText("prompt", namespace: Namespace.gateway),
              let jid = try? JID(text.trimmingCharacters(in: .whitespaces)) else {
            throw GatewayError.malformedAnswer(gateway)
        }
        return jid
    }

    /// The gateway's identities (XEP-0030), e.g. gateway/sms and gateway/pstn.
    public func identities(of entity: JID, timeout: Duration = .seconds(30)) async throws -> [(category: String, type: String)] {
        let answer = try await request(.iq(.get, id: newStanzaID(), to: entity, payload: XMLElement("query", namespace: Namespace.discoInfo)),
                                       timeout: timeout)
        return answer.child("query", namespace: Namespace.discoInfo)?.children("identity", namespace: Namespace.discoInfo)
            .compactMap { identity in
                guard let category = identity[attribute: "category"], let type = identity[attribute: "type"] else { return nil }
                return (category, type)
            } ?? []
    }
}

public enum GatewayError: Error, Sendable, Equatable, CustomStringConvertible {
    case notServed(prompt: String, gateway: JID, reason: String?)
    case unsupported(JID)
    case malformedAnswer(JID)

    public var description: String {
        switch self {
        case .notServed(let prompt, let gateway, let reason):
            "The gateway \(gateway) does not serve \(prompt)" + (reason.map { " (\($0))" } ?? "") + "."
        case .unsupported(let gateway): "The gateway \(gateway) does not translate phone numbers (XEP-0100)."
        case .malformedAnswer(let gateway): "The gateway \(gateway) gave an answer Dialtone cannot read."
        }
    }
}
