import DialtoneStore
import DialtoneXMPP

/// Someone in a group chat, as the room reports them (XEP-0045).
public struct Occupant: Sendable, Equatable {
    public var nick: String
    /// moderator, participant, visitor.
    public var role: String?
    /// owner, admin, member, outcast, none.
    public var affiliation: String?
    /// Their own address, when the room shows it to us.
    public var jid: JID?

    /// The nick in an occupant's address as stored (`room/nick`, a message's sender in a
    /// room); nil for an address without one.
    public static func nick(inAddress address: String) -> String? {
        address.split(separator: "/", maxSplits: 1).dropFirst().first.map(String.init)
    }
}

/// A room the account knows (bookmarked, or joined here) and whether this session is in it.
public struct RoomInfo: Sendable, Equatable {
    public var jid: JID
    /// Our nick there.
    public var nick: String
    public var name: String?
    /// Joined at start on every device (the bookmark says so).
    public var autojoin: Bool
    /// This session is in it now.
    public var joined: Bool
    public var subject: String?
}

/// What happened in a room, for front ends.
public enum RoomEvent: Sendable, Equatable {
    /// We are in the room now, as `nick`.
    case joined(room: String, nick: String)
    /// We are out: we left (`reason` nil), or were kicked, banned, or the room went away.
    case left(room: String, reason: String?)
    /// The room's subject changed (`by` is the nick that set it, when the room says).
    case subject(room: String, String?, by: String?)
    /// Someone came, changed their role, or (`present` false) went.
    case occupant(room: String, Occupant, present: Bool)
    /// Someone, perhaps we, changed nick.
    case nickChanged(room: String, from: String, to: String)
    /// The room refused something we sent (a subject our role may not set, a message while
    /// we were not in it…), as a sentence.
    case refused(room: String, reason: String)
    /// Someone invites us (`by`, a bare address, when known); nothing is joined until we say.
    case invited(room: String, by: String?, reason: String?)
}

public enum GroupChatError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The room said no: "conflict" (the nick is taken), "not-authorized" (a password is
    /// needed or wrong), "registration-required" (members only), "forbidden" (banned)…
    case joinRefused(room: String, condition: String)
    case joinTimedOut(room: String)
    case notJoined(String)
    case notARoom(String)
    /// Banning needs the occupant's address, which this room does not show us.
    case addressUnknown(nick: String, room: String)
    /// The room does not offer message moderation (XEP-0425).
    case moderationUnsupported(room: String)
    /// The message is not one the room named (ours still unsent, or not in a room).
    case notModeratable

    public var description: String {
        switch self {
        case .joinRefused(let room, let condition):
            switch condition {
            case "not-authorized": "\(room) needs a password, or the one given is wrong (--password)."
            case "registration-required": "\(room) is for members only; ask an admin there to add you."
            case "forbidden": "You are banned from \(room)."
            case "conflict": "Every nick tried is taken in \(room); choose another with --nick."
            case "service-unavailable": "\(room) is full, or does not let you in."
            case "item-not-found": "There is no room \(room), and it may not be created."
            default: "\(room) refused to let you in (\(condition))."
            }
        case .joinTimedOut(let room): "\(room) did not answer the join within 20 s."
        case .notJoined(let room): "You are not in \(room); join it first (/join \(room))."
        case .notARoom(let jid): "\(jid) is not a group chat."
        case .addressUnknown(let nick, let room): "\(room) does not show \(nick)'s address to you; ban them by address instead."
        case .moderationUnsupported(let room): "\(room) does not offer message moderation (XEP-0425); kick or ban instead."
        case .notModeratable: "That message has no id from its room (not a room's message, or not yet through); it cannot be moderated."
        }
    }
}

/// Which addresses are rooms and which of them this session is in: owned by the group-chat
/// feature, read by messaging (a room's messages go as groupchat, and wait until joined).
final class RoomDirectory {
    /// Every room the store knows, by bare address.
    private(set) var known: Set<JID> = []
    /// The rooms this session is in, with our nick in each.
    private(set) var joined: [JID: String] = [:]

    /// Joined rooms that are private (members only, and everyone's address shown): the only
    /// rooms read markers go to.
    private(set) var privateRooms: Set<JID> = []

    init(known: Set<JID>) { self.known = known }

    func isRoom(_ jid: JID) -> Bool { known.contains(jid.bare) }
    /// A room itself (not one of its occupants): what is said to it goes as groupchat and
    /// names messages by the room's ids.
    func isGroupChat(_ jid: JID) -> Bool { jid.resource == nil && isRoom(jid) }
    func isJoined(_ jid: JID) -> Bool { joined[jid.bare] != nil }
    func nick(in room: JID) -> String? { joined[room.bare] }

    /// Sets how a message to a room (groupchat) or to one of its occupants (private) goes.
    func address(_ message: inout OutgoingMessage) {
        guard isRoom(message.to) else { return }
        if message.to.resource == nil { message.groupchat = true } else { message.privateInRoom = true }
    }

    /// The conversation a message to `to` belongs to: an occupant's own (room/nick), or else
    /// the bare address's.
    func conversation(of to: JID) -> String {
        isRoom(to) && to.resource != nil ? to.description : to.bare.description
    }

    func remember(_ room: JID) { known.insert(room.bare) }
    func forget(_ room: JID) { known.remove(room.bare); joined[room.bare] = nil; privateRooms.remove(room.bare) }
    func setJoined(_ room: JID, nick: String?) {
        joined[room.bare] = nick
        if nick == nil { privateRooms.remove(room.bare) }
    }
    func setPrivate(_ room: JID, _ isPrivate: Bool) {
        if isPrivate, isJoined(room) { privateRooms.insert(room.bare) } else { privateRooms.remove(room.bare) }
    }
    func isPrivate(_ room: JID) -> Bool { room.resource == nil && privateRooms.contains(room.bare) }
    func leaveAll() { joined = [:]; privateRooms = [] }
}
