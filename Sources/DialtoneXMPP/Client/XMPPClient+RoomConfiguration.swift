import DialtoneXML

/// A room's configuration (XEP-0045 §10.2), for its owner: the room's own form, filled in
/// and sent back, or the owner's change of mind.
extension XMPPClient {
    /// The form the room gives its owner (name, description, members only, password…).
    public func roomConfiguration(of room: JID) async throws -> DataForm {
        let answer = try await request(.iq(.get, id: newStanzaID(), to: room.bare, payload: XMLElement("query", namespace: Namespace.mucOwner)))
        guard let x = answer.child("query", namespace: Namespace.mucOwner)?.child("x", namespace: Namespace.dataForms), let form = DataForm(x)
        else { throw StanzaError(type: "cancel", condition: "bad-request", text: "The room sent no configuration form.") }
        return form
    }

    /// Sends the filled-in form: the room takes it, or says which field it refuses.
    public func configureRoom(_ room: JID, with form: DataForm) async throws {
        var query = XMLElement("query", namespace: Namespace.mucOwner)
        query.append(form.submission)
        _ = try await request(.iq(.set, id: newStanzaID(), to: room.bare, payload: query))
    }
}
