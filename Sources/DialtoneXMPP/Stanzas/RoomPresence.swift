import DialtoneXML

/// An occupant's presence in a group chat (XEP-0045), as the room reports it: their nick in
/// the room, their address when the room shows it, their role and affiliation, and the status
/// codes (110: this presence is ours; 201: the room was created by joining; 303: a nick
/// change, `newNick` then set; 301/307: banned or kicked).
///
/// Only what the room itself says about its occupants: a presence is a room's report when it
/// comes from `room/nick` and carries the muc#user extension. Whether we joined that room is
/// for the layer that keeps the rooms to check.
public struct RoomPresence: Sendable, Equatable {
    public var room: JID
    public var nick: String
    public var available: Bool
    public var role: String?
    public var affiliation: String?
    /// The occupant's own address, in rooms that show it (non-anonymous rooms, or to moderators).
    public var realJID: JID?
    public var newNick: String?
    public var statusCodes: Set<Int>
    /// A refused join (a presence of type error): the condition ("conflict" for a nick in use,
    /// "not-authorized" for a wrong password, "registration-required", "forbidden"…).
    public var error: String?

    /// This presence is about us (status 110).
    public var isSelf: Bool { statusCodes.contains(110) }

    /// The room's report in `presence`; nil for any other presence (no occupant nick, or
    /// neither the muc#user extension nor an error).
    public init?(_ presence: XMLElement) {
        guard presence.name == "presence", let from = presence.fromAddress.jid, let nick = from.resource, !nick.isEmpty
        else { return nil }
        let type = presence[attribute: "type"]
        let user = presence.child("x", namespace: Namespace.mucUser)
        guard user != nil || type == "error" else { return nil }
        let item = user?.child("item", namespace: Namespace.mucUser)
        room = from.bare
        self.nick = nick
        available = type == nil
        role = item?[attribute: "role"]
        affiliation = item?[attribute: "affiliation"]
        realJID = item?[attribute: "jid"].flatMap { try? JID($0) }
        newNick = item?[attribute: "nick"]
        statusCodes = Set((user?.children("status", namespace: Namespace.mucUser) ?? []).compactMap { $0[attribute: "code"].flatMap { Int($0) } })
        error = type == "error" ? StanzaError(stanza: presence)?.condition ?? "undefined-condition" : nil
    }
}

extension XMLElement {
    /// Entering a room as `occupant` (room/nick, XEP-0045 §7.2): without the room's history
    /// when `maxStanzas` is 0 (its archive brings what we missed, once), with its password if
    /// it has one.
    public static func roomJoin(_ occupant: JID, password: String? = nil, maxStanzas: Int? = 0) -> XMLElement {
        var presence = XMLElement("presence", namespace: Namespace.client, attributes: [XMLAttribute("to", occupant.description)])
        var x = XMLElement("x", namespace: Namespace.muc)
        if let maxStanzas {
            x.append(XMLElement("history", namespace: Namespace.muc, attributes: [XMLAttribute("maxstanzas", String(maxStanzas))]))
        }
        if let password { x.append(.textElement("password", namespace: Namespace.muc, password)) }
        presence.append(x)
        return presence
    }

    /// Asking the room for another nick (XEP-0045 §7.6): presence to the new occupant address.
    public static func roomNickChange(_ occupant: JID) -> XMLElement {
        XMLElement("presence", namespace: Namespace.client, attributes: [XMLAttribute("to", occupant.description)])
    }

    /// Setting a room's subject (XEP-0045 §8.1): a groupchat message with a subject and no body.
    public static func roomSubject(_ subject: String, room: JID) -> XMLElement {
        var message = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": room.bare.description, "type": "groupchat", "id": newStanzaID()])
        message.append(.textElement("subject", namespace: Namespace.client, subject))
        return message
    }

    /// A moderator's change of an occupant's role (`none` kicks, `participant` gives voice,
    /// `visitor` takes it), or an admin's of an address's affiliation (`outcast` bans), with
    /// a reason everyone sees (XEP-0045 §8.2, §9.1): the iq's payload, for the room.
    public static func roomAdminItem(nick: String? = nil, jid: JID? = nil, role: String? = nil, affiliation: String? = nil,
                                     reason: String?) -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.mucAdmin)
        var item = XMLElement("item", namespace: Namespace.mucAdmin,
                              attributes: ["nick": nick, "jid": jid?.bare.description, "role": role, "affiliation": affiliation])
        if let reason { item.append(.textElement("reason", namespace: Namespace.mucAdmin, reason)) }
        query.append(item)
        return query
    }

    /// Accepting a room we created with its default settings (an instant room, XEP-0045
    /// §10.1.2): until its owner does, a locked room lets nobody else in.
    public static func instantRoomConfiguration() -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.mucOwner)
        query.append(XMLElement("x", namespace: Namespace.dataForms, attributes: [XMLAttribute("type", "submit")]))
        return query
    }

    /// Asking our own occupant address whether we are still in its room (XEP-0410 self-ping).
    public static func roomSelfPing(_ occupant: JID) -> XMLElement {
        .iq(.get, id: newStanzaID(), to: occupant, payload: XMLElement("ping", namespace: Namespace.ping))
    }

    /// Leaving a room (XEP-0045 §7.14).
    public static func roomLeave(_ occupant: JID) -> XMLElement {
        XMLElement("presence", namespace: Namespace.client, attributes: ["to": occupant.description, "type": "unavailable"])
    }
}
