import DialtoneXML

/// Publishing to our own PEP nodes with publish-options (XEP-0060 §7.1.5): the node is made,
/// or kept, with the configuration its XEP asks for.
extension XMPPClient {
    /// Publishes `payload` as item `id` of our node `node`, with the publish-options both XEPs
    /// of private nodes (XEP-0490 read state, XEP-0402 bookmarks) ask for: whitelist access,
    /// persistent items, as many as there are, none sent on login.
    func publishPrivately(_ payload: XMLElement, id: String, to node: String) async throws {
        try await publish(payload, id: id, to: node, options: [
            ("pubsub#persist_items", "true"), ("pubsub#max_items", "max"),
            ("pubsub#send_last_published_item", "never"), ("pubsub#access_model", "whitelist"),
        ])
    }

    /// Publishes `payload` as item `id` of our node `node` with these publish-options.
    func publish(_ payload: XMLElement, id: String, to node: String, options: [(String, String)]) async throws {
        var item = XMLElement("item", namespace: Namespace.pubsub, attributes: [XMLAttribute("id", id)])
        item.append(payload)
        var publish = XMLElement("publish", namespace: Namespace.pubsub, attributes: [XMLAttribute("node", node)])
        publish.append(item)
        var form = XMLElement("publish-options", namespace: Namespace.pubsub)
        form.append(DataForm(type: "submit", fields: [
            DataFormField(variable: "FORM_TYPE", type: "hidden", values: ["http://jabber.org/protocol/pubsub#publish-options"]),
        ] + options.map { DataFormField(variable: $0.0, values: [$0.1]) }).submission)
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(publish)
        pubsub.append(form)
        _ = try await request(.iq(.set, id: newStanzaID(), to: nil, payload: pubsub))
    }

    /// The items of `node` at `owner`'s PEP service (one item, by id, when `item` is given);
    /// none when the node or item does not exist.
    func pepItems(of owner: JID, node: String, item: String? = nil) async throws -> [XMLElement] {
        var items = XMLElement("items", namespace: Namespace.pubsub, attributes: [XMLAttribute("node", node)])
        if let item { items.append(XMLElement("item", namespace: Namespace.pubsub, attributes: [XMLAttribute("id", item)])) }
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(items)
        let answer: XMLElement
        do {
            answer = try await request(.iq(.get, id: newStanzaID(), to: owner.bare, payload: pubsub))
        } catch let error as StanzaError where error.condition == "item-not-found" {
            return []
        }
        return answer.child("pubsub", namespace: Namespace.pubsub)?.child("items", namespace: Namespace.pubsub)?
            .children("item", namespace: Namespace.pubsub) ?? []
    }
}
