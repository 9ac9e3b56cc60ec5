import DialtoneXML
import Foundation

/// The kinds of top-level element a client stream carries, with their addressing read once.
public enum StanzaKind: String, Sendable {
    case message, presence, iq
}

extension XMLElement {
    /// `from` as a JID, or nil when absent; an unparsable `from` is reported as `.invalid`.
    public var fromAddress: StanzaAddress { StanzaAddress(self[attribute: "from"]) }
    public var toAddress: StanzaAddress { StanzaAddress(self[attribute: "to"]) }
    public var stanzaKind: StanzaKind? {
        namespace == Namespace.client ? StanzaKind(rawValue: name) : nil
    }
}

/// An iq get or set in a namespace the client hands to a layer above (Jingle), which must
/// check the sender and send the reply itself.
public struct IQRequest: Sendable {
    public let element: XMLElement

    public init(_ element: XMLElement) { self.element = element }
}

public enum StanzaAddress: Sendable, Equatable {
    case absent
    case valid(JID)
    case invalid(String)

    init(_ raw: String?) {
        guard let raw else { self = .absent; return }
        do { self = .valid(try JID(raw)) } catch { self = .invalid(raw) }
    }

    public var jid: JID? { if case .valid(let jid) = self { jid } else { nil } }
}

/// A stanza error (RFC 6120 8.3), read or built.
public struct StanzaError: Error, Sendable, Equatable, CustomStringConvertible {
    public var type: String
    public var condition: String
    public var text: String?

    public init(type: String, condition: String, text: String? = nil) {
        self.type = type
        self.condition = condition
        self.text = text
    }

    public init?(stanza: XMLElement) {
        guard let error = stanza.child("error") else { return nil }
        let condition = error.elements.first { $0.namespace == Namespace.stanzaErrors && $0.name != "text" }?.name
        self.init(type: error[attribute: "type"] ?? "cancel", condition: condition ?? "undefined-condition",
                  text: error.childText("text", namespace: Namespace.stanzaErrors))
    }

    public var element: XMLElement {
        var error = XMLElement("error", namespace: Namespace.client, attributes: [XMLAttribute("type", type)])
        error.append(XMLElement(condition, namespace: Namespace.stanzaErrors))
        if let text { error.append(.textElement("text", namespace: Namespace.stanzaErrors, text)) }
        return error
    }

    public var description: String {
        let readable = condition.replacingOccurrences(of: "-", with: " ")
        return "The server answered with an error: \(readable)" + (text.map { " (\($0))" } ?? "") + "."
    }

    public static let serviceUnavailable = StanzaError(type: "cancel", condition: "service-unavailable")
    public static let featureNotImplemented = StanzaError(type: "cancel", condition: "feature-not-implemented")
    public static let badRequest = StanzaError(type: "modify", condition: "bad-request")
    public static let forbidden = StanzaError(type: "auth", condition: "forbidden")
}

public enum IQType: String, Sendable { case get, set, result, error }

extension XMLElement {
    public static func iq(_ type: IQType, id: String, to: JID? = nil, payload: XMLElement? = nil) -> XMLElement {
        var iq = XMLElement("iq", namespace: Namespace.client,
                            attributes: ["type": type.rawValue, "id": id, "to": to?.description])
        if let payload { iq.append(payload) }
        return iq
    }

    /// The reply to an iq get/set: addressed back to its sender with the same id.
    public func iqReply(payload: XMLElement? = nil) -> XMLElement {
        var reply = XMLElement.iq(.result, id: self[attribute: "id"] ?? "", payload: payload)
        reply[attribute: "to"] = self[attribute: "from"]
        return reply
    }

    public func iqError(_ error: StanzaError) -> XMLElement {
        var reply = XMLElement.iq(.error, id: self[attribute: "id"] ?? "", payload: error.element)
        reply[attribute: "to"] = self[attribute: "from"]
        return reply
    }
}
