import DialtoneXML

/// An invitation to a group chat: direct, from whoever invites (XEP-0249), or mediated by the
/// room itself on someone's behalf (XEP-0045 §7.8.2).
public struct RoomInvitation: Sendable, Equatable {
    public var room: JID
    /// Who invites: the sender of a direct invitation; for a mediated one, whom the room names
    /// (their address, or in an anonymous room their nick there as room/nick).
    public var inviter: JID?
    public var reason: String?
    public var password: String?

    public init(room: JID, inviter: JID?, reason: String?, password: String?) {
        self.room = room
        self.inviter = inviter
        self.reason = reason
        self.password = password
    }

    /// The invitation `message` carries, if any. A mediated one counts only from the room it
    /// names (its `from`); a direct one names any room, from its sender.
    public init?(_ message: Message) {
        // A room's mediated invitation may carry a direct one's element too (Prosody adds it):
        // the room's own account of who invites comes first.
        if let user = message.element.child("x", namespace: Namespace.mucUser),
           let invite = user.child("invite", namespace: Namespace.mucUser), let from = message.from, from.resource == nil {
            room = from
            // An anonymous room names the inviter by their nick there (room/nick), else by their address.
            let named = invite[attribute: "from"].flatMap { try? JID($0) }
            inviter = named?.bare == from ? named : named?.bare
            reason = invite.childText("reason", namespace: Namespace.mucUser).flatMap { $0.isEmpty ? nil : $0 }
            password = user.childText("password", namespace: Namespace.mucUser)
            return
        }
        if let direct = message.element.child("x", namespace: Namespace.conferenceInvite),
           let room = direct[attribute: "jid"].flatMap({ try? JID($0) }), room.local != nil {
            self.room = room.bare
            inviter = message.from?.bare
            reason = direct[attribute: "reason"].flatMap { $0.isEmpty ? nil : $0 }
            password = direct[attribute: "password"]
            return
        }
        return nil
    }

    /// A direct invitation (XEP-0249) to `room` for `invitee`.
    public static func direct(to invitee: JID, room: JID, reason: String?) -> XMLElement {
        var message = XMLElement("message", namespace: Namespace.client, attributes: ["to": invitee.description, "id": newStanzaID()])
        message.append(XMLElement("x", namespace: Namespace.conferenceInvite,
                                  attributes: ["jid": room.bare.description, "reason": reason]))
        return message
    }
}
