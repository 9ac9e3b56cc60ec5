import DialtoneXML

/// The roster and presence subscriptions as the user changes them (RFC 6121 §2.3–2.5, §3).
/// What the server then pushes (roster items with their new subscription state) arrives as
/// `.roster` events like any other push.
extension XMPPClient {
    /// Adds `jid` to the roster, or changes its name and groups.
    public func setRosterItem(_ jid: JID, name: String?, groups: [String] = []) async throws {
        var item = XMLElement("item", namespace: Namespace.roster, attributes: ["jid": jid.bare.description, "name": name])
        for group in groups { item.append(.textElement("group", namespace: Namespace.roster, group)) }
        _ = try await request(Self.rosterSet(item))
    }

    /// Removes `jid` from the roster; the server cancels the subscriptions both ways.
    public func removeRosterItem(_ jid: JID) async throws {
        _ = try await request(Self.rosterSet(XMLElement(
            "item", namespace: Namespace.roster, attributes: ["jid": jid.bare.description, "subscription": "remove"])))
    }

    /// Sends a subscription request or answer to `jid`'s account: `subscribe` asks to see their
    /// presence, `subscribed` lets them see ours (also before they ask: a pre-approval, where
    /// the server takes them), `unsubscribed` refuses or takes that back. `nick` goes with a
    /// request (XEP-0172) so that they see who asks.
    public func sendSubscription(_ kind: SubscriptionChange.Kind, to jid: JID, nick: String? = nil) throws(XMPPConnectionError) {
        var presence = XMLElement("presence", namespace: Namespace.client,
                                  attributes: ["to": jid.bare.description, "type": kind.rawValue, "id": newStanzaID()])
        if kind == .subscribe, let nick { presence.append(.textElement("nick", namespace: Namespace.nick, nick)) }
        try send(presence)
    }

    static func rosterSet(_ item: XMLElement) -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.roster)
        query.append(item)
        var iq = XMLElement("iq", namespace: Namespace.client, attributes: ["type": "set", "id": newStanzaID()])
        iq.append(query)
        return iq
    }
}

extension XMPPClient {
    /// Asks our server for a ping (XEP-0199) and waits for the answer: the server has then
    /// read everything sent before it, and what it sent before answering has been handled here
    /// (inbound batches are handled in order).
    public func roundTrip(timeout: Duration = .seconds(30)) async throws {
        var iq = XMLElement("iq", namespace: Namespace.client, attributes: ["type": "get", "id": newStanzaID()])
        iq.append(XMLElement("ping", namespace: "urn:xmpp:ping"))
        _ = try await request(iq, timeout: timeout)
    }
}
