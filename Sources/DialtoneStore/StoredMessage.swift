import Foundation
import GRDB

/// A message as history keeps it. Addresses are plain strings here: the store knows
/// nothing of XMPP, only of who, when and what.
public struct StoredMessage: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "message"

    public enum Direction: String, Codable, Sendable { case incoming, outgoing }
    public enum Status: String, Codable, Sendable {
        /// In the outbox: not yet confirmed by our server.
        case pending
        /// Our server has it.
        case sent
        /// The recipient's client confirmed it (XEP-0184).
        case delivered
        /// The recipient's client showed it (XEP-0333 displayed).
        case read
        case failed
        /// Incoming messages.
        case received
    }

    public var id: Int64?
    public var conversationID: Int64
    public var direction: Direction
    /// Full address of whoever wrote it (for group texts, the participant).
    public var sender: String
    public var body: String?
    public var subject: String?
    /// The stanza's id attribute.
    public var stanzaID: String?
    /// The sender's XEP-0359 origin-id, or without one the stanza id together with a digest
    /// of the content (ids alone get reused): what duplicates share.
    public var dedupeKey: String?
    /// Our archive's id for it (XEP-0359 stanza-id by our account, or the MAM result id).
    public var archiveID: String?
    public var timestamp: Date
    public var status: Status
    /// Files that came with it (MMS media, voicemail audio).
    public var attachments: [Attachment]
    /// When the sender last corrected it (XEP-0308); earlier texts are kept in `message_edit`.
    public var editedAt: Date?
    /// When its sender took it back (XEP-0424), or a room's moderator took it down
    /// (XEP-0425): its text and attachments are gone.
    public var retractedAt: Date?
    /// Who took it down in a room, and why (XEP-0425); nil when its sender took it back.
    public var moderation: MessageModeration?
    /// The message this one answers (XEP-0461), with the line shown above it.
    public var reply: MessageReply?
    /// Reactions (XEP-0444) by each reacting address (bare), in the order they were given;
    /// nil when nobody reacted.
    public var reactions: [String: [String]]?
    /// How it was encrypted end to end (OMEMO), and how far its sending device is trusted;
    /// nil for a message that came or went in clear.
    public var encryption: MessageEncryption?
    /// Whether its sender asked to be told when it is read (XEP-0333 markable); nil for rows
    /// an older version stored, whose stanza says.
    public var markable: Bool?
    /// The stanza as received (our own messages too, as carbons and the archive return them),
    /// with its namespace declared, so later versions can read what this one did not. What
    /// the user sends keeps none: the outbox builds it from the values above each time
    /// (older versions' outbox rows have it, and are built the same way).
    public var stanzaXML: String?

    public init(id: Int64? = nil, conversationID: Int64 = 0, direction: Direction, sender: String, body: String?,
                subject: String? = nil, stanzaID: String?, dedupeKey: String?, archiveID: String? = nil,
                timestamp: Date, status: Status, attachments: [Attachment] = [], reply: MessageReply? = nil,
                markable: Bool? = nil, stanzaXML: String? = nil) {
        self.id = id
        self.conversationID = conversationID
        self.direction = direction
        self.sender = sender
        self.body = body
        self.subject = subject
        self.stanzaID = stanzaID
        self.dedupeKey = dedupeKey
        self.archiveID = archiveID
        self.timestamp = timestamp
        self.status = status
        self.attachments = attachments
        self.editedAt = nil
        self.retractedAt = nil
        self.moderation = nil
        self.encryption = nil
        self.reply = reply
        self.reactions = nil
        self.markable = markable
        self.stanzaXML = stanzaXML
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A room moderator's removal of a message (XEP-0425): their nick, when the room named them,
/// and the reason they gave.
public struct MessageModeration: Codable, Sendable, Equatable {
    public var moderator: String?
    public var reason: String?

    public init(moderator: String?, reason: String?) {
        self.moderator = moderator
        self.reason = reason
    }
}

/// How a message was encrypted end to end: the scheme, the device that sent it and the
/// user's trust in that device when it came; or why it could not be decrypted.
public struct MessageEncryption: Codable, Sendable, Equatable {
    /// The protocol's namespace (one of the two OMEMO versions).
    public var scheme: String
    /// The sending device (our own, for what we sent).
    public var device: UInt32?
    public var trust: OMEMOTrust?
    /// Why it could not be decrypted; nil when it was.
    public var failure: String?

    public init(scheme: String, device: UInt32?, trust: OMEMOTrust?, failure: String? = nil) {
        self.scheme = scheme
        self.device = device
        self.trust = trust
        self.failure = failure
    }
}

/// Which message a reply answers (XEP-0461): its id as its sender gave it (the origin-id or
/// stanza id), who wrote it, and the text shown above the reply — the original's, when history
/// has it, else the quote the sender put in front of their text.
public struct MessageReply: Codable, Sendable, Equatable {
    public var id: String
    public var author: String?
    public var quote: String?

    public init(id: String, author: String?, quote: String?) {
        self.id = id
        self.author = author
        self.quote = quote
    }
}

/// Reaction counts for showing: each reaction once, with how many gave it, in the order first given.
extension StoredMessage {
    public var reactionCounts: [(reaction: String, count: Int)] {
        var order: [String] = []
        var counts: [String: Int] = [:]
        for sender in (reactions ?? [:]).keys.sorted() {
            for reaction in reactions?[sender] ?? [] {
                if counts[reaction] == nil { order.append(reaction) }
                counts[reaction, default: 0] += 1
            }
        }
        return order.map { ($0, counts[$0] ?? 0) }
    }
}

public struct Conversation: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "conversation"
    public var id: Int64?
    /// The bare address of the other side (a contact, a phone number, a group-text JID).
    public var peer: String
    public var lastActivity: Date
    public var unread: Int

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

public struct Contact: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "contact"
    public var jid: String
    public var name: String?
    /// RFC 6121's state: "none", "to" (we see theirs), "from" (they see ours), "both".
    public var subscription: String
    public var groups: [String]
    /// We asked to see their presence and they have not answered.
    public var asked: Bool

    public init(jid: String, name: String?, subscription: String, groups: [String], asked: Bool = false) {
        self.jid = jid
        self.name = name
        self.subscription = subscription
        self.groups = groups
        self.asked = asked
    }

    /// Read by hand, not through Codable: a 5,000-contact roster is read at every start, and
    /// the generic decoder was most of that time. Groups are a JSON array, as the record
    /// encoder writes them; most contacts have none.
    public init(row: Row) throws {
        jid = row["jid"]
        name = row["name"]
        subscription = row["subscription"]
        asked = row["asked"] ?? false
        let groupsText: String? = row["groups"]
        if let groupsText, groupsText != "[]" {
            groups = try JSONDecoder().decode([String].self, from: Data(groupsText.utf8))
        } else {
            groups = []
        }
    }
}
