import DialtoneXML

/// A bookmarked room (XEP-0402): its address, the name the user gave it, whether every
/// device of the account joins it at start, and the nick and password to join with.
public struct Bookmark: Sendable, Equatable {
    public var room: JID
    public var name: String?
    public var autojoin: Bool
    public var nick: String?
    public var password: String?

    public init(room: JID, name: String? = nil, autojoin: Bool, nick: String? = nil, password: String? = nil) {
        self.room = room.bare
        self.name = name
        self.autojoin = autojoin
        self.nick = nick
        self.password = password
    }
}

/// A change to our bookmarks, as our PEP service announces it to every device.
public enum BookmarkChange: Sendable, Equatable {
    /// Added or changed.
    case published([Bookmark])
    /// Removed, by room.
    case retracted([JID])
}

/// Bookmarks in our own PEP node, one item a room (XEP-0402), the form Conversations, Dino
/// and Gajim keep them in (Prosody's mod_bookmarks mirrors them for XEP-0048 clients).
extension XMPPClient {
    /// Every bookmark; none when the node does not exist yet.
    public func bookmarks() async throws -> [Bookmark] {
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(XMLElement("items", namespace: Namespace.pubsub, attributes: [XMLAttribute("node", Namespace.bookmarks)]))
        let answer: XMLElement
        do {
            answer = try await request(.iq(.get, id: newStanzaID(), to: configuration.jid.bare, payload: pubsub))
        } catch let error as StanzaError where error.condition == "item-not-found" {
            return []
        }
        let items = answer.child("pubsub", namespace: Namespace.pubsub)?.child("items", namespace: Namespace.pubsub)
        return (items?.children("item", namespace: Namespace.pubsub) ?? []).compactMap(Self.bookmark)
    }

    /// Adds or replaces the bookmark of `bookmark.room`; the node is private (whitelist) and
    /// keeps an item for every room, as the XEP requires.
    public func publishBookmark(_ bookmark: Bookmark) async throws {
        var conference = XMLElement("conference", namespace: Namespace.bookmarks,
                                    attributes: ["autojoin": bookmark.autojoin ? "true" : "false", "name": bookmark.name])
        if let nick = bookmark.nick { conference.append(.textElement("nick", namespace: Namespace.bookmarks, nick)) }
        if let password = bookmark.password { conference.append(.textElement("password", namespace: Namespace.bookmarks, password)) }
        try await publishPrivately(conference, id: bookmark.room.bare.description, to: Namespace.bookmarks)
    }

    /// Removes the bookmark of `room` (every device is told).
    public func retractBookmark(_ room: JID) async throws {
        var retract = XMLElement("retract", namespace: Namespace.pubsub,
                                 attributes: ["node": Namespace.bookmarks, "notify": "true"])
        retract.append(XMLElement("item", namespace: Namespace.pubsub, attributes: [XMLAttribute("id", room.bare.description)]))
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(retract)
        _ = try await request(.iq(.set, id: newStanzaID(), to: nil, payload: pubsub))
    }

    /// One item of the node (a query's answer or a notification): nil when it names no room
    /// or holds no conference.
    static func bookmark(_ item: XMLElement) -> Bookmark? {
        guard let room = item[attribute: "id"].flatMap({ try? JID($0) }), room.local != nil, room.resource == nil,
              let conference = item.elements.first(where: { $0.name == "conference" && $0.namespace == Namespace.bookmarks })
        else { return nil }
        let autojoin = conference[attribute: "autojoin"]
        return Bookmark(room: room, name: conference[attribute: "name"].flatMap { $0.isEmpty ? nil : $0 },
                        autojoin: autojoin == "true" || autojoin == "1",
                        nick: conference.childText("nick", namespace: Namespace.bookmarks).flatMap { $0.isEmpty ? nil : $0 },
                        password: conference.childText("password", namespace: Namespace.bookmarks))
    }

    /// A notification's items: published bookmarks, or retracted ones.
    static func bookmarkChange(in items: XMLElement?) -> BookmarkChange {
        let retracted = (items?.children("retract", namespace: Namespace.pubsubEvent) ?? [])
            .compactMap { $0[attribute: "id"].flatMap { try? JID($0) }?.bare }
        if !retracted.isEmpty { return .retracted(retracted) }
        return .published((items?.children("item", namespace: Namespace.pubsubEvent) ?? []).compactMap(bookmark))
    }
}
