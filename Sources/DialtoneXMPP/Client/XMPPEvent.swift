import DialtoneXML
import Foundation

/// What the client tells the layers above. Value types only, so they cross actors freely.
public enum XMPPEvent: Sendable {
    case connectionState(ConnectionState)
    /// A session is ready: resumed (nothing lost, nothing to resend), or new, after roster,
    /// carbons and initial presence (time to catch up on the archive and resend the outbox).
    case sessionStarted(boundJID: JID, resumed: Bool)
    case message(ReceivedMessage)
    case roster(RosterUpdate)
    case presence(PresenceUpdate)
    /// A group chat's report about one of its occupants, us included (XEP-0045), or its
    /// refusal of our join; whether that room is one we are in is for the layer above.
    case roomPresence(RoomPresence)
    /// Our bookmarked rooms changed (XEP-0402), as our own PEP service announced it.
    case bookmarks(BookmarkChange)
    /// An account's OMEMO device list in one version (XEP-0384), as its PEP service announced
    /// it (ours too): from the account's bare address only.
    case omemoDevices(account: JID, version: OMEMOVersion, OMEMODeviceList)
    /// A subscription request or answer (RFC 6121 §3), from a bare address.
    case subscription(SubscriptionChange)
    /// The server changed the account's block list (XEP-0191), from this or another client.
    case blocking(BlockingChange)
    /// Another device of the account (or this one) displayed conversations up to these
    /// messages (XEP-0490), as our own PEP service announced it.
    case displayedElsewhere([DisplayedMark])
    /// The server confirmed it has these stanzas of ours (stream management), by id.
    case acknowledged(ids: [String])
    /// An iq get/set in a delegated namespace: the receiver must send the reply (result or error).
    case request(IQRequest)
    /// A stanza was dropped because it failed validation (forged sender, unsolicited result…).
    case rejected(reason: String, stanza: XMLElement)
}

public enum ConnectionState: Sendable, Equatable, CustomStringConvertible {
    case connecting(attempt: Int)
    case online
    /// Waiting before the next attempt; `reason` is the last failure, as a sentence.
    case waitingToReconnect(reason: String, retryIn: Duration)
    /// Given up: a failure that retrying cannot fix (wrong password, untrusted certificate) or a stop.
    case offline(reason: String?)

    public var description: String {
        switch self {
        case .connecting(let attempt): attempt > 1 ? "connecting (attempt \(attempt))" : "connecting"
        case .online: "online"
        case .waitingToReconnect(let reason, let retryIn):
            "\(reason) Reconnecting in \(Int(Double(retryIn.components.seconds) + Double(retryIn.components.attoseconds) / 1e18 + 0.5)) s."
        case .offline(let reason): reason.map { "offline: \($0)" } ?? "offline"
        }
    }
}

public struct ReceivedMessage: Sendable, Equatable {
    public enum Direction: String, Sendable, Codable { case incoming, outgoing }
    public enum Source: Sendable, Equatable { case live, carbon, archive }

    /// The message itself: for carbons and archive results, the forwarded one inside.
    public var message: Message
    public var direction: Direction
    public var source: Source
    /// Our archive's id for it (stanza-id by our bare JID, or the MAM result id).
    public var archiveID: String?
    /// When it was sent: from our archive as stamped there; a live message's <delay> only
    /// ever makes it older than its arrival, never newer.
    public var timestamp: Date
    /// A live message our server held back (offline storage): it carries a delay stamped by
    /// our server's domain. Anyone can forge that element, so this only tells history from
    /// the present (a propose becomes a missed call), never who may do what.
    public var heldByServer: Bool
    /// The group chat it was said in: a live groupchat message's room (its sender's bare
    /// address; the layer above accepts it only from a room it joined), or the room whose
    /// archive we asked (results from anyone else are rejected here).
    public var room: JID?
    /// A private message with one of a room's occupants (XEP-0045 §7.5), to or from
    /// `room/nick`: its conversation is with that occupant there, not with the room. Set by
    /// the layer that knows which addresses are rooms.
    public var privateInRoom = false
    /// What end-to-end decryption made of it, set by the layer above that decrypted it (never
    /// read from the wire).
    public var decryption: Decryption?

    public init(message: Message, direction: Direction, source: Source, archiveID: String?, timestamp: Date,
                heldByServer: Bool = false, room: JID? = nil) {
        self.message = message
        self.direction = direction
        self.source = source
        self.archiveID = archiveID
        self.timestamp = timestamp
        self.heldByServer = heldByServer
        self.room = room
    }

    /// The other party: whom an incoming message came from, or an outgoing one went to; in a
    /// group chat, the room.
    public var peer: JID? { room ?? (direction == .incoming ? message.from : message.to) }
}

public struct RosterItem: Sendable, Equatable, Codable {
    public var jid: JID
    public var name: String?
    public var subscription: String
    public var groups: [String]
    /// We asked to see their presence and they have not answered (`ask="subscribe"`).
    public var asked: Bool

    public init(jid: JID, name: String?, subscription: String, groups: [String], asked: Bool = false) {
        self.jid = jid
        self.name = name
        self.subscription = subscription
        self.groups = groups
        self.asked = asked
    }
}

/// A change to the block list the server pushed to every client of the account.
public enum BlockingChange: Sendable, Equatable {
    case blocked([JID])
    /// These are unblocked; an empty list means every address is.
    case unblocked([JID])
}

/// Someone's word on presence subscriptions (RFC 6121 §3): a request to see ours, an answer to
/// ours, or a withdrawal. Always from a bare address (the server stamps it so).
public struct SubscriptionChange: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// They ask to see our presence.
        case subscribe
        /// They let us see theirs.
        case subscribed
        /// They no longer want to see ours.
        case unsubscribe
        /// They refused, or took back, ours.
        case unsubscribed
    }

    public var from: JID
    public var kind: Kind
    /// The nickname a requester gave (XEP-0172), a claim of theirs.
    public var nick: String?

    public init(from: JID, kind: Kind, nick: String? = nil) {
        self.from = from
        self.kind = kind
        self.nick = nick
    }
}

public enum RosterUpdate: Sendable, Equatable {
    /// The whole roster, as fetched at login, with the server's version of it (RFC 6121 2.6)
    /// when it keeps versions.
    case full([RosterItem], version: String?)
    /// One item changed (a push); subscription "remove" means it is gone. A versioning server
    /// gives the roster's new version with it.
    case push(RosterItem, version: String?)
    /// The roster is as the version we asked with: what is stored is current.
    case unchanged
}

public struct PresenceUpdate: Sendable, Equatable {
    public var from: JID
    public var available: Bool
    public var show: String?
    public var status: String?
    public var element: XMLElement
}

extension XMLElement {
    /// The start of a stanza as text, for a log line: bounded, as a stranger's stanza can be
    /// large. Declared here so that layers above log what the client hands them without
    /// depending on the XML module themselves.
    public func excerptForLog(_ limit: Int = 300) -> String { String(serialized().prefix(limit)) }
}

/// The outcome of decrypting one received message end to end: the scheme's namespace, the
/// sending device, how far it is trusted, or why it could not be read. Values the layer that
/// decrypts sets; the message's body is then the plaintext.
public struct Decryption: Sendable, Equatable {
    public var scheme: String
    public var senderDevice: UInt32
    /// The user's trust in the sending device ("blind", "verified", "untrusted").
    public var trust: String?
    public var failure: String?

    public init(scheme: String, senderDevice: UInt32, trust: String?, failure: String? = nil) {
        self.scheme = scheme
        self.senderDevice = senderDevice
        self.trust = trust
        self.failure = failure
    }
}
