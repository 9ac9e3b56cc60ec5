import DialtoneXML

/// How far the user has read one conversation, as the account's devices share it (XEP-0490
/// Message Displayed Synchronization): the conversation's address and the last message
/// displayed there, by its id in an archive (`by`: ours for a chat).
public struct DisplayedMark: Sendable, Equatable {
    public var peer: JID
    public var stanzaID: String
    public var by: JID?

    public init(peer: JID, stanzaID: String, by: JID?) {
        self.peer = peer
        self.stanzaID = stanzaID
        self.by = by
    }
}

/// Read state in our own PEP node, one item a conversation: what any of the account's
/// clients (Conversations, Cheogram, Dino…) publishes there, every other one learns.
extension XMPPClient {
    /// Publishes that the user has read `mark.peer`'s conversation up to `mark.stanzaID`; the
    /// node is made private (whitelist) and keeps an item for every conversation.
    public func publishDisplayed(_ mark: DisplayedMark) async throws {
        var displayed = XMLElement("displayed", namespace: Namespace.displayedSync)
        displayed.append(XMLElement("stanza-id", namespace: Namespace.stanzaID,
                                    attributes: ["id": mark.stanzaID, "by": (mark.by ?? configuration.jid.bare).description]))
        try await publishPrivately(displayed, id: mark.peer.bare.description, to: Namespace.displayedSync)
    }

    /// Every conversation's read state as the node holds it (at login, to catch up with what
    /// other devices read while we were away); none when the node does not exist yet.
    public func displayedMarks() async throws -> [DisplayedMark] {
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(XMLElement("items", namespace: Namespace.pubsub, attributes: [XMLAttribute("node", Namespace.displayedSync)]))
        let answer = try await request(.iq(.get, id: newStanzaID(), to: configuration.jid.bare, payload: pubsub))
        let items = answer.child("pubsub", namespace: Namespace.pubsub)?.child("items", namespace: Namespace.pubsub)
        return Self.displayedMarks(in: items, namespace: Namespace.pubsub)
    }

    /// The marks in a node's items (a query's answer or a notification), each item named by
    /// its conversation; items that are not read state are skipped.
    static func displayedMarks(in items: XMLElement?, namespace: String) -> [DisplayedMark] {
        (items?.children("item", namespace: namespace) ?? []).compactMap { item in
            guard let peer = item[attribute: "id"].flatMap({ try? JID($0) }),
                  let id = item.child("displayed", namespace: Namespace.displayedSync)?.child("stanza-id", namespace: Namespace.stanzaID),
                  let stanzaID = id[attribute: "id"], !stanzaID.isEmpty else { return nil }
            return DisplayedMark(peer: peer.bare, stanzaID: stanzaID, by: id[attribute: "by"].flatMap { try? JID($0) })
        }
    }
}
