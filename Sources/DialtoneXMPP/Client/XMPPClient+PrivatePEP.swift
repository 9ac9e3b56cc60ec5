import DialtoneXML

/// Our own PEP nodes that hold one item a conversation or room (XEP-0490 read state,
/// XEP-0402 bookmarks): private to the account, keeping every item, sending none on login.
extension XMPPClient {
    /// Publishes `payload` as item `id` of our node `node`, with the publish-options both XEPs
    /// ask for: whitelist access, persistent items, as many as there are.
    func publishPrivately(_ payload: XMLElement, id: String, to node: String) async throws {
        var item = XMLElement("item", namespace: Namespace.pubsub, attributes: [XMLAttribute("id", id)])
        item.append(payload)
        var publish = XMLElement("publish", namespace: Namespace.pubsub, attributes: [XMLAttribute("node", node)])
        publish.append(item)
        var options = XMLElement("publish-options", namespace: Namespace.pubsub)
        options.append(DataForm(type: "submit", fields: [
            DataFormField(variable: "FORM_TYPE", type: "hidden", values: ["http://jabber.org/protocol/pubsub#publish-options"]),
            DataFormField(variable: "pubsub#persist_items", type: "boolean", values: ["true"]),
            DataFormField(variable: "pubsub#max_items", values: ["max"]),
            DataFormField(variable: "pubsub#send_last_published_item", values: ["never"]),
            DataFormField(variable: "pubsub#access_model", values: ["whitelist"]),
        ]).submission)
        var pubsub = XMLElement("pubsub", namespace: Namespace.pubsub)
        pubsub.append(publish)
        pubsub.append(options)
        _ = try await request(.iq(.set, id: newStanzaID(), to: nil, payload: pubsub))
    }
}
