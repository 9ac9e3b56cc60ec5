import DialtoneXML
import DialtoneXMPP

/// A XEP-0353 Jingle Message Initiation element: how a call rings all of a contact's devices
/// before any of them is chosen for the Jingle session.
public struct MessageInitiation: Sendable, Equatable {
    public enum Action: Sendable, Equatable {
        /// Offered media, e.g. ["audio"].
        case propose(media: [String])
        case ringing
        case proceed
        case accept
        case reject(JingleReason?)
        case retract(JingleReason?)
        case finish(JingleReason?)

        var elementName: String {
            switch self {
            case .propose: "propose"
            case .ringing: "ringing"
            case .proceed: "proceed"
            case .accept: "accept"
            case .reject: "reject"
            case .retract: "retract"
            case .finish: "finish"
            }
        }
    }

    /// The session id the Jingle session will take.
    public var id: String
    public var action: Action
    /// On a proceed: the callee's OMEMO device, for which the caller may encrypt its DTLS
    /// fingerprint (Conversations' verification draft).
    public var device: UInt32?

    public init(id: String, action: Action, device: UInt32? = nil) {
        self.id = id
        self.action = action
        self.device = device
    }

    /// Finds the initiation element in a message, if it carries one with an id.
    public init?(message: XMLElement) {
        guard let element = message.child(in: JingleNamespace.messageInitiation),
              let id = element[attribute: "id"], !id.isEmpty else { return nil }
        let reason = JingleReason(element.child("reason", namespace: JingleNamespace.jingle))
        switch element.name {
        case "propose":
            let media = element.children("description", namespace: JingleNamespace.rtp).compactMap { $0[attribute: "media"] }
            action = .propose(media: media)
        case "ringing": action = .ringing
        case "proceed":
            action = .proceed
            // A device id out of range is no device: the call goes on unverified.
            device = element.child("device", namespace: JingleNamespace.omemoVerification)
                .flatMap { $0[attribute: "id"] }.flatMap(UInt32.init).flatMap { $0 == 0 ? nil : $0 }
        case "accept": action = .accept
        case "reject": action = .reject(reason)
        case "retract": action = .retract(reason)
        case "finish": action = .finish(reason)
        default: return nil
        }
        self.id = id
    }

    public var element: XMLElement {
        var element = XMLElement(action.elementName, namespace: JingleNamespace.messageInitiation,
                                 attributes: [XMLAttribute("id", id)])
        switch action {
        case .propose(let media):
            for kind in media {
                element.append(XMLElement("description", namespace: JingleNamespace.rtp, attributes: [XMLAttribute("media", kind)]))
            }
        case .reject(let reason?), .retract(let reason?), .finish(let reason?):
            element.append(reason.element)
        case .proceed:
            if let device {
                element.append(XMLElement("device", namespace: JingleNamespace.omemoVerification,
                                          attributes: [XMLAttribute("id", String(device))]))
            }
        default:
            break
        }
        return element
    }

    /// The chat message that carries it, as Conversations sends them: type chat with a store
    /// hint so the archive keeps it (missed calls are found there), and a receipt request on
    /// a propose so the caller learns some device got it.
    public func message(to: JID, stanzaID: String) -> XMLElement {
        var message = XMLElement("message", namespace: Namespace.client,
                                 attributes: [XMLAttribute("type", "chat"), XMLAttribute("to", to.description), XMLAttribute("id", stanzaID)])
        message.append(element)
        if case .propose = action { message.append(XMLElement("request", namespace: JingleNamespace.receipts)) }
        message.append(XMLElement("store", namespace: JingleNamespace.hints))
        return message
    }
}
