import DialtoneXML

/// Blocking (XEP-0191) with spam reports (XEP-0377): the server drops everything from a
/// blocked address (messages, calls, presence) before it reaches any of our clients, and
/// JMP and Cheogram honour blocks of `number@gateway` the same way.
extension XMPPClient {
    /// The addresses our server blocks for the account.
    public func blockList() async throws -> [JID] {
        let answer = try await request(.iq(.get, id: newStanzaID(), to: nil, payload: XMLElement("blocklist", namespace: Namespace.blocking)))
        return Self.blockedItems(answer.child("blocklist", namespace: Namespace.blocking))
    }

    /// Blocks `jids`; with `reportingSpam`, each is also reported as spam to our server.
    public func block(_ jids: [JID], reportingSpam: Bool = false) async throws {
        var block = XMLElement("block", namespace: Namespace.blocking)
        for jid in jids {
            var item = XMLElement("item", namespace: Namespace.blocking, attributes: [XMLAttribute("jid", jid.description)])
            if reportingSpam {
                item.append(XMLElement("report", namespace: Namespace.reporting,
                                       attributes: [XMLAttribute("reason", "urn:xmpp:reporting:spam")]))
            }
            block.append(item)
        }
        _ = try await request(.iq(.set, id: newStanzaID(), to: nil, payload: block))
    }

    /// Unblocks `jids`.
    public func unblock(_ jids: [JID]) async throws {
        var unblock = XMLElement("unblock", namespace: Namespace.blocking)
        for jid in jids { unblock.append(XMLElement("item", namespace: Namespace.blocking, attributes: [XMLAttribute("jid", jid.description)])) }
        _ = try await request(.iq(.set, id: newStanzaID(), to: nil, payload: unblock))
    }

    static func blockedItems(_ element: XMLElement?) -> [JID] {
        (element?.children("item", namespace: Namespace.blocking) ?? []).compactMap { $0[attribute: "jid"].flatMap { try? JID($0) } }
    }
}
