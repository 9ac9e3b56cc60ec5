import DialtoneXML

/// A room's word that a moderator took a message down (XEP-0425): the room's id for the
/// message, who did it, and why. Only the room itself may say so; the layer above checks that
/// the notice came from the room's bare address.
public struct ModerationNotice: Sendable, Equatable {
    /// The room's id for the message (its XEP-0359 stanza-id by the room).
    public var messageID: String
    /// The moderator's nick, when the room names them.
    public var moderator: String?
    public var reason: String?

    public init(messageID: String, moderator: String?, reason: String?) {
        self.messageID = messageID
        self.moderator = moderator
        self.reason = reason
    }
}

/// The two forms of moderation rooms speak: version 1 (the XEP today) and version 0, inside
/// a fastening (Prosody 0.12's module, Conversations before 2.13).
public enum ModerationVersion: Sendable, Equatable {
    case current
    case fastening

    /// The form a room announcing these disco features understands (nil: it does not moderate).
    public init?(roomFeatures: Set<String>) {
        if roomFeatures.contains(Namespace.moderation) {
            self = .current
        } else if roomFeatures.contains(Namespace.moderation0) {
            self = .fastening
        } else {
            return nil
        }
    }
}

extension Message {
    /// XEP-0425: the room announces that a moderator took a message down, in either version.
    /// Read from any sender; whether the sender may say it is the caller's question.
    public var moderation: ModerationNotice? {
        if let retract = element.child("retract", namespace: Namespace.retraction), let id = retract[attribute: "id"],
           let moderated = retract.child("moderated", namespace: Namespace.moderation) {
            return ModerationNotice(messageID: id, moderator: Self.nick(moderated[attribute: "by"]),
                                    reason: retract.childText("reason", namespace: Namespace.retraction)
                                        ?? moderated.childText("reason", namespace: Namespace.moderation))
        }
        if let fastening = element.child("apply-to", namespace: Namespace.fastening), let id = fastening[attribute: "id"],
           let moderated = fastening.child("moderated", namespace: Namespace.moderation0),
           moderated.child("retract", namespace: Namespace.retraction0) != nil {
            return ModerationNotice(messageID: id, moderator: Self.nick(moderated[attribute: "by"]),
                                    reason: moderated.childText("reason", namespace: Namespace.moderation0))
        }
        return nil
    }

    /// The nick in a moderator's occupant address (`room/nick`); rooms may also give a bare
    /// address or none.
    private static func nick(_ by: String?) -> String? {
        guard let by, let jid = try? JID(by) else { return nil }
        return jid.resource ?? jid.description
    }
}

extension XMLElement {
    /// A moderator's request to `room` to take down the message it calls `id` for everyone
    /// (XEP-0425 §4): the iq's payload, in the form the room understands.
    public static func moderation(ofRoomMessage id: String, reason: String?, version: ModerationVersion) -> XMLElement {
        switch version {
        case .current:
            var moderate = XMLElement("moderate", namespace: Namespace.moderation, attributes: [XMLAttribute("id", id)])
            moderate.append(XMLElement("retract", namespace: Namespace.retraction))
            if let reason { moderate.append(.textElement("reason", namespace: Namespace.moderation, reason)) }
            return moderate
        case .fastening:
            var fastening = XMLElement("apply-to", namespace: Namespace.fastening, attributes: [XMLAttribute("id", id)])
            var moderate = XMLElement("moderate", namespace: Namespace.moderation0)
            moderate.append(XMLElement("retract", namespace: Namespace.retraction0))
            if let reason { moderate.append(.textElement("reason", namespace: Namespace.moderation0, reason)) }
            fastening.append(moderate)
            return fastening
        }
    }
}
