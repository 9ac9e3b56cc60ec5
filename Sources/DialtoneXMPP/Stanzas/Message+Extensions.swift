import DialtoneXML

/// XEP-0085 chat states.
public enum ChatState: String, Sendable, CaseIterable {
    case active, composing, paused, inactive, gone
}

/// One XEP-0033 address of a message: its type (`to`, `cc`, `ofrom`…) and address.
public struct ExtendedAddress: Sendable, Equatable {
    public var type: String?
    public var jid: JID?
}

/// A file shared by XEP-0385 (SIMS): where it can be fetched and what the sender says it is.
public struct SharedMedia: Sendable, Equatable {
    /// Its sources' URIs, in order.
    public var sources: [String]
    public var name: String?
    public var mediaType: String?
    public var size: Int?
    public var description: String?
}

/// Typed readings of the extensions Dialtone acts on, so that layers above build and read no XML.
extension Message {
    /// The nickname the sender gives for themselves (XEP-0172), their claim.
    public var nick: String? { element.childText("nick", namespace: Namespace.nick).flatMap { $0.isEmpty ? nil : $0 } }

    /// XEP-0424: the id (the origin-id in a chat) of the message its sender takes back, in
    /// the current form or in version 0's fastening, as older clients send it.
    public var retractID: String? {
        if let id = element.child("retract", namespace: Namespace.retraction)?[attribute: "id"] { return id }
        guard let fastening = element.child("apply-to", namespace: Namespace.fastening),
              fastening.child("retract", namespace: Namespace.retraction0) != nil else { return nil }
        return fastening[attribute: "id"]
    }

    /// XEP-0308: the id of the message this one corrects.
    public var replaceID: String? { element.child("replace", namespace: Namespace.correction)?[attribute: "id"] }

    /// XEP-0333: the sender displayed our messages up to this id.
    public var displayedMarker: String? { element.child("displayed", namespace: Namespace.markers)?[attribute: "id"] }

    /// XEP-0333: the sender's device received this message of ours.
    public var receivedMarker: String? { element.child("received", namespace: Namespace.markers)?[attribute: "id"] }

    /// XEP-0333: the sender wants to know when we have read this message.
    public var isMarkable: Bool { element.child("markable", namespace: Namespace.markers) != nil }

    /// XEP-0085: the sender's chat state; nil when none, or one this version does not know.
    public var chatState: ChatState? { element.child(in: Namespace.chatStates).flatMap { ChatState(rawValue: $0.name) } }

    /// XEP-0033 addresses, in stanza order.
    public var extendedAddresses: [ExtendedAddress] {
        guard let addresses = element.child("addresses", namespace: Namespace.addresses) else { return [] }
        return addresses.children("address", namespace: Namespace.addresses).map {
            ExtendedAddress(type: $0[attribute: "type"], jid: $0[attribute: "jid"].flatMap { try? JID($0) })
        }
    }

    /// XEP-0428: the part of the body (in Unicode scalars) the first fallback for the body
    /// marks, as start and end offsets, when both are numbers; a reply's quote (`replyFallback`)
    /// is not this one.
    public var bodyFallback: (start: Int, end: Int)? {
        bodyFallback { $0 != Namespace.reply }
    }

    /// XEP-0461 with XEP-0428: the quote a reply's body begins with for clients without
    /// replies, as Unicode scalar offsets.
    public var replyFallback: (start: Int, end: Int)? {
        bodyFallback { $0 == Namespace.reply }
    }

    /// XEP-0461: the message this one answers, by its id, and who wrote it (their claim).
    public var reply: (id: String, to: JID?)? {
        guard let reply = element.child("reply", namespace: Namespace.reply), let id = reply[attribute: "id"], !id.isEmpty
        else { return nil }
        return (id, reply[attribute: "to"].flatMap { try? JID($0) })
    }

    /// XEP-0444: the sender's reactions to message `id`, all of them (an empty list takes
    /// back every earlier one). Only short texts without line breaks count as reactions.
    public var reactions: (id: String, emojis: [String])? {
        guard let reactions = element.child("reactions", namespace: Namespace.reactions),
              let id = reactions[attribute: "id"], !id.isEmpty else { return nil }
        var emojis: [String] = []
        for reaction in reactions.children("reaction", namespace: Namespace.reactions) {
            let trimmed = reaction.text.drop { $0.isWhitespace }
            let text = String(trimmed.prefix(trimmed.count - trimmed.reversed().prefix { $0.isWhitespace }.count))
            guard !text.isEmpty, text.unicodeScalars.count <= 16, !text.contains(where: \.isWhitespace),
                  !emojis.contains(text) else { continue }
            emojis.append(text)
        }
        return (id, Array(emojis.prefix(20)))
    }

    private func bodyFallback(for wanted: (String?) -> Bool) -> (start: Int, end: Int)? {
        guard let fallback = element.children("fallback", namespace: Namespace.fallback)
                .first(where: { $0.child("body", namespace: Namespace.fallback) != nil && wanted($0[attribute: "for"]) }),
              let range = fallback.child("body", namespace: Namespace.fallback),
              let start = range[attribute: "start"].flatMap(Int.init), let end = range[attribute: "end"].flatMap(Int.init)
        else { return nil }
        return (start, end)
    }

    /// XEP-0385 media sharing, one entry per reference that carries it.
    public var sharedMedia: [SharedMedia] {
        element.children("reference", namespace: Namespace.references).compactMap { reference in
            guard let sharing = reference.child("media-sharing", namespace: Namespace.sims) else { return nil }
            let file = sharing.elements.first { $0.name == "file" }
            func field(_ name: String) -> String? { file?.elements.first { $0.name == name }?.text }
            return SharedMedia(
                sources: sharing.child("sources", namespace: Namespace.sims)?.elements.compactMap { $0[attribute: "uri"] } ?? [],
                name: field("name"), mediaType: field("media-type"), size: field("size").flatMap { Int($0) },
                description: field("desc"))
        }
    }

    /// The stanza as text, as the outbox and history keep it.
    public var serialized: String { element.serialized() }

    /// A stanza kept as text (`serialized`), read again.
    public init(parsing text: String) throws {
        self.init(try XMLElement(parsing: text))
    }

    // MARK: Building

    /// A chat state notification (XEP-0085), never stored by the server.
    public static func chatState(_ state: ChatState, to peer: JID) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.bare.description, "type": "chat", "id": newStanzaID()])
        element.append(XMLElement(state.rawValue, namespace: Namespace.chatStates))
        element.append(XMLElement("no-store", namespace: Namespace.hints))
        return Message(element)
    }

    /// A displayed marker (XEP-0333) for `id`, kept by the server so the sender's other devices learn it too.
    public static func displayed(_ id: String, to peer: JID, type: MessageType = .chat) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.bare.description, "id": newStanzaID(), "type": type.rawValue])
        element.append(XMLElement("displayed", namespace: Namespace.markers, attributes: [XMLAttribute("id", id)]))
        element.append(XMLElement("store", namespace: Namespace.hints))
        return Message(element)
    }

    /// A retraction (XEP-0424) of our message `id`, in both forms clients read today, with a
    /// fallback text for those that read neither.
    public static func retraction(of id: String, to peer: JID, retractionID: String = newStanzaID(),
                                  type: MessageType = .chat) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.description, "type": type.rawValue, "id": retractionID])
        element.append(XMLElement("retract", namespace: Namespace.retraction, attributes: [XMLAttribute("id", id)]))
        var fastening = XMLElement("apply-to", namespace: Namespace.fastening, attributes: [XMLAttribute("id", id)])
        fastening.append(XMLElement("retract", namespace: Namespace.retraction0))
        element.append(fastening)
        element.append(XMLElement("fallback", namespace: Namespace.fallback, attributes: [XMLAttribute("for", Namespace.retraction)]))
        element.append(.textElement("body", namespace: Namespace.client, "This person took back a message, which your client cannot show."))
        element.append(XMLElement("store", namespace: Namespace.hints))
        element.append(XMLElement("origin-id", namespace: Namespace.stanzaID, attributes: [XMLAttribute("id", retractionID)]))
        return Message(element)
    }

    /// A reply (XEP-0461) to message `id` by `author`: the body begins with `quote` as "> "
    /// lines, which the XEP-0428 fallback marks, for clients that show no replies.
    public static func reply(to peer: JID, body: String, id: String, replyingTo original: String, author: JID?, quote: String?,
                             outOfBand: [OutOfBandData] = [], type: MessageType = .chat) -> Message {
        let quoted = quote.map { text in
            text.split(separator: "\n", omittingEmptySubsequences: false).map { "> " + $0 }.joined(separator: "\n") + "\n"
        } ?? ""
        var element = Message.chat(to: peer, body: quoted + body, id: id, type: type, outOfBand: outOfBand).element
        var reply = XMLElement("reply", namespace: Namespace.reply, attributes: [XMLAttribute("id", original)])
        if let author { reply.attributes.append(XMLAttribute("to", author.description)) }
        element.append(reply)
        if !quoted.isEmpty {
            var fallback = XMLElement("fallback", namespace: Namespace.fallback, attributes: [XMLAttribute("for", Namespace.reply)])
            fallback.append(XMLElement("body", namespace: Namespace.fallback,
                                       attributes: [XMLAttribute("start", "0"), XMLAttribute("end", String(quoted.unicodeScalars.count))]))
            element.append(fallback)
        }
        return Message(element)
    }

    /// Our reactions (XEP-0444) to message `id`: all of them, since each replaces the last;
    /// none takes every one back.
    public static func reactions(_ emojis: [String], to messageID: String, peer: JID, id: String = newStanzaID(),
                                 type: MessageType = .chat) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.description, "type": type.rawValue, "id": id])
        var reactions = XMLElement("reactions", namespace: Namespace.reactions, attributes: [XMLAttribute("id", messageID)])
        for emoji in emojis { reactions.append(.textElement("reaction", namespace: Namespace.reactions, emoji)) }
        element.append(reactions)
        element.append(XMLElement("store", namespace: Namespace.hints))
        element.append(XMLElement("origin-id", namespace: Namespace.stanzaID, attributes: [XMLAttribute("id", id)]))
        return Message(element)
    }

    /// A correction (XEP-0308) of our message `id`: a new chat message with the new text,
    /// whose own id is `correctionID` (kept when it is sent again).
    public static func correction(of id: String, to peer: JID, body: String, correctionID: String = newStanzaID(),
                                  type: MessageType = .chat) -> Message {
        var element = Message.chat(to: peer, body: body, id: correctionID, type: type).element
        element.append(XMLElement("replace", namespace: Namespace.correction, attributes: [XMLAttribute("id", id)]))
        return Message(element)
    }
}
