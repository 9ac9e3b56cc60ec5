import DialtoneXML
import Foundation

/// A message as OMEMO sends and receives it: the readable parts go inside `<encrypted/>` and
/// the stanza keeps a fallback body for clients without OMEMO (XEP-0384 §5.6, XEP-0380).
extension Message {
    /// What clients without OMEMO show instead of the text (the words Conversations uses, so
    /// that people recognise them).
    public static let omemoFallback = "I sent you an OMEMO encrypted message but your client doesn’t seem to support that."

    /// Every `<encrypted/>` it carries, one per version at most, the current version first.
    public var omemoElements: [OMEMOEncrypted] {
        OMEMOVersion.allCases.reversed().compactMap { version in
            element.child("encrypted", namespace: version.namespace).flatMap { OMEMOEncrypted($0, version: version) }
        }
    }

    /// Whether it claims to be OMEMO-encrypted at all (even if the element is malformed).
    public var isOMEMOEncrypted: Bool {
        OMEMOVersion.allCases.contains { element.child("encrypted", namespace: $0.namespace) != nil }
    }

    /// This message with its readable parts (body, out-of-band links) replaced by `encrypted`
    /// (one per version), a fallback body, the EME hint naming the scheme, and a store hint
    /// (a message without a plain body is otherwise not archived by some servers).
    public func encrypted(_ encrypted: [OMEMOEncrypted]) -> Message {
        var stanza = element
        stanza.children.removeAll { node in
            guard case .element(let child) = node else { return false }
            return (child.name == "body" && child.namespace == Namespace.client) || child.namespace == Namespace.oob
        }
        stanza.children.insert(.element(.textElement("body", namespace: Namespace.client, Self.omemoFallback)), at: 0)
        for element in encrypted { stanza.append(element.element()) }
        if let first = encrypted.first {
            stanza.append(XMLElement("encryption", namespace: Namespace.eme,
                                     attributes: ["namespace": first.version.namespace, "name": "OMEMO"]))
        }
        stanza.append(XMLElement("store", namespace: Namespace.hints))
        return Message(stanza)
    }

    /// A key-transport message (no payload): a heartbeat after a key exchange, or a session
    /// started again after one broke. Stored by the server so that an offline device gets it.
    public static func omemoKeyTransport(_ encrypted: OMEMOEncrypted, to peer: JID) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.bare.description, "type": "chat", "id": newStanzaID()])
        element.append(encrypted.element())
        element.append(XMLElement("store", namespace: Namespace.hints))
        return Message(element)
    }

    /// This message with its body replaced by what was decrypted (nil: none); the rest (ids,
    /// replies, corrections) stays as the sender put it in clear.
    public func decrypted(body: String?) -> Message {
        var stanza = element
        stanza.children.removeAll { node in
            guard case .element(let child) = node else { return false }
            return child.name == "body" && child.namespace == Namespace.client
        }
        if let body { stanza.append(.textElement("body", namespace: Namespace.client, body)) }
        var message = Message(stanza)
        message.body = body
        return message
    }
}

/// The current version's plaintext: a Stanza Content Encryption envelope (XEP-0420) with the
/// message's content, random padding that hides the length, and who sent it (checked on
/// receipt: an envelope cut from another's message and pasted into one's own is refused).
public struct SCEEnvelope: Sendable, Equatable {
    public var body: String?
    public var from: JID?

    public init(body: String?, from: JID?) {
        self.body = body
        self.from = from
    }

    /// The envelope as bytes to encrypt, with 0–200 characters of padding.
    public func serialized() -> [UInt8] {
        var content = XMLElement("content", namespace: Namespace.sce)
        if let body { content.append(.textElement("body", namespace: Namespace.client, body)) }
        var envelope = XMLElement("envelope", namespace: Namespace.sce)
        envelope.append(content)
        let padding = SecureRandom.bytes(Int(SecureRandom.bytes(1)[0]) % 100 + 1)
        envelope.append(.textElement("rpad", namespace: Namespace.sce, lowercaseHex(padding)))
        if let from { envelope.append(XMLElement("from", namespace: Namespace.sce, attributes: [XMLAttribute("jid", from.bare.description)])) }
        return Array(envelope.serialized().utf8)
    }

    /// The envelope in decrypted bytes; nil when they are no envelope.
    public init?(decrypted bytes: [UInt8]) {
        guard let text = String(validating: bytes, as: UTF8.self), let envelope = try? XMLElement(parsing: text),
              envelope.name == "envelope", envelope.namespace == Namespace.sce,
              let content = envelope.child("content", namespace: Namespace.sce) else { return nil }
        body = content.childText("body", namespace: Namespace.client)
        from = envelope.child("from", namespace: Namespace.sce)?[attribute: "jid"].flatMap { try? JID($0) }
    }
}
