import DialtoneXML

/// A command an entity offers (XEP-0050), as its disco#items lists it.
public struct AdHocCommand: Sendable, Equatable {
    public var jid: JID
    public var node: String
    public var name: String

    public init(jid: JID, node: String, name: String) {
        self.jid = jid
        self.node = node
        self.name = name
    }
}

/// One step of a command session: where it stands, what may be done next, what it says.
public struct AdHocResponse: Sendable, Equatable {
    public enum Status: String, Sendable { case executing, completed, canceled }
    public struct Note: Sendable, Equatable {
        public var type: String
        public var text: String
    }

    public var node: String
    public var sessionID: String?
    public var status: Status
    /// prev, next, complete — as the responder allows them now.
    public var actions: [String]
    /// What "execute" means at this step (next unless the responder says otherwise).
    public var defaultAction: String?
    public var notes: [Note]
    public var form: DataForm?
    /// jabber:x:oob payloads: links the bot hands over.
    public var links: [(url: String, description: String?)]

    public static func == (lhs: AdHocResponse, rhs: AdHocResponse) -> Bool {
        lhs.node == rhs.node && lhs.sessionID == rhs.sessionID && lhs.status == rhs.status && lhs.actions == rhs.actions
            && lhs.notes == rhs.notes && lhs.form == rhs.form && lhs.links.map(\.url) == rhs.links.map(\.url)
    }

    /// A step made here rather than by a responder: a form of another kind (a room's
    /// configuration) shown and edited on the same screen.
    public init(node: String, status: Status, actions: [String], form: DataForm?) {
        self.node = node
        sessionID = node
        self.status = status
        self.actions = actions
        defaultAction = nil
        notes = []
        self.form = form
        links = []
    }

    init(_ command: XMLElement) {
        node = command[attribute: "node"] ?? ""
        sessionID = command[attribute: "sessionid"]
        status = Status(rawValue: command[attribute: "status"] ?? "completed") ?? .completed
        let actionsElement = command.child("actions", namespace: Namespace.commands)
        actions = actionsElement?.elements.map(\.name) ?? []
        defaultAction = actionsElement?[attribute: "execute"]
        notes = command.children("note", namespace: Namespace.commands).map { Note(type: $0[attribute: "type"] ?? "info", text: $0.text) }
        form = command.child("x", namespace: Namespace.dataForms).flatMap(DataForm.init)
        links = command.children("x", namespace: Namespace.oob).compactMap { oob in
            guard let url = oob.childText("url", namespace: Namespace.oob) else { return nil }
            return (url, oob.childText("desc", namespace: Namespace.oob))
        }
    }
}

extension XMPPClient {
    /// The commands `entity` offers (disco#items on the commands node).
    public func commands(of entity: JID) async throws -> [AdHocCommand] {
        let answer = try await request(.iq(.get, id: newStanzaID(), to: entity, payload: XMLElement(
            "query", namespace: Namespace.discoItems, attributes: [XMLAttribute("node", Namespace.commands)])))
        let items = answer.child("query", namespace: Namespace.discoItems)?.children("item", namespace: Namespace.discoItems) ?? []
        return items.compactMap { item in
            guard let jid = item[attribute: "jid"].flatMap({ try? JID($0) }), let node = item[attribute: "node"] else { return nil }
            return AdHocCommand(jid: jid, node: node, name: item[attribute: "name"] ?? node)
        }
    }

    /// Runs one step: `action` is execute (start, or the step's default), next, prev, complete
    /// or cancel; `form` is the filled-in form for next/complete.
    public func execute(_ node: String, on entity: JID, sessionID: String? = nil, action: String = "execute",
                        form: DataForm? = nil) async throws -> AdHocResponse {
        var command = XMLElement("command", namespace: Namespace.commands, attributes: [
            "node": node, "sessionid": sessionID, "action": action,
        ])
        if let form, action != "cancel", action != "prev" { command.append(form.submission) }
        let answer = try await request(.iq(.set, id: newStanzaID(), to: entity, payload: command))
        guard let result = answer.child("command", namespace: Namespace.commands) else {
            throw StanzaError(type: "cancel", condition: "undefined-condition", text: "the answer carried no command")
        }
        return AdHocResponse(result)
    }
}
