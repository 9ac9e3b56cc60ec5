import DialtoneXML
import DialtoneXMPP

/// One content of a session: for us, one audio stream and its transport.
public struct JingleContent: Sendable, Equatable {
    public var creator: String
    public var name: String
    public var senders: String?
    public var description: RTPDescription?
    public var transport: ICEUDPTransport?
    /// A description or transport in a namespace we do not speak (video, file transfer, raw UDP…).
    public var hasUnsupportedDescription = false
    public var hasUnsupportedTransport = false

    public init(creator: String = "initiator", name: String = "0", senders: String? = "both",
                description: RTPDescription? = nil, transport: ICEUDPTransport? = nil) {
        self.creator = creator
        self.name = name
        self.senders = senders
        self.description = description
        self.transport = transport
    }

    init?(_ element: XMLElement) {
        guard let name = element[attribute: "name"] else { return nil }
        self.name = name
        creator = element[attribute: "creator"] ?? "initiator"
        senders = element[attribute: "senders"]
        for child in element.elements {
            switch child.name {
            case "description":
                description = RTPDescription(child)
                hasUnsupportedDescription = description == nil
            case "transport":
                transport = ICEUDPTransport(child)
                hasUnsupportedTransport = transport == nil
            default: continue
            }
        }
    }

    var element: XMLElement {
        var element = XMLElement("content", namespace: JingleNamespace.jingle,
                                 attributes: ["creator": creator, "name": name, "senders": senders])
        if let description { element.append(description.element) }
        if let transport { element.append(transport.element) }
        return element
    }
}

/// A XEP-0166 `<jingle/>` element: the action, the session it belongs to and its contents.
public struct JingleAction: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case sessionInitiate = "session-initiate"
        case sessionAccept = "session-accept"
        case sessionTerminate = "session-terminate"
        case sessionInfo = "session-info"
        case transportInfo = "transport-info"
        case transportReplace = "transport-replace"
        case transportAccept = "transport-accept"
        case transportReject = "transport-reject"
        case contentAdd = "content-add"
        case contentAccept = "content-accept"
        case contentModify = "content-modify"
        case contentReject = "content-reject"
        case contentRemove = "content-remove"
        case descriptionInfo = "description-info"
        case securityInfo = "security-info"
    }

    public var kind: Kind
    public var sid: String
    public var initiator: JID?
    public var responder: JID?
    public var contents: [JingleContent]
    public var reason: JingleReason?
    /// XEP-0338 BUNDLE: content names grouped onto one transport.
    public var bundle: [String]
    /// session-info payloads (ringing, mute, hold…), by element name.
    public var info: [String]

    public init(_ kind: Kind, sid: String, initiator: JID? = nil, responder: JID? = nil,
                contents: [JingleContent] = [], reason: JingleReason? = nil, bundle: [String] = [], info: [String] = []) {
        self.kind = kind
        self.sid = sid
        self.initiator = initiator
        self.responder = responder
        self.contents = contents
        self.reason = reason
        self.bundle = bundle
        self.info = info
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case notJingle
        case unknownAction(String)
        case missingSessionID
        case badAddress(String)

        public var description: String {
            switch self {
            case .notJingle: "not a Jingle element"
            case .unknownAction(let action): "unknown Jingle action \(action)"
            case .missingSessionID: "Jingle element without a sid"
            case .badAddress(let address): "unparsable address \(address)"
            }
        }
    }

    /// Reads the `<jingle/>` inside an iq.
    public init(iq: XMLElement) throws(ParseError) {
        guard let jingle = iq.child("jingle", namespace: JingleNamespace.jingle) else { throw .notJingle }
        try self.init(jingle)
    }

    public init(_ jingle: XMLElement) throws(ParseError) {
        guard jingle.name == "jingle", jingle.namespace == JingleNamespace.jingle else { throw .notJingle }
        let action = jingle[attribute: "action"] ?? ""
        guard let kind = Kind(rawValue: action) else { throw .unknownAction(action) }
        guard let sid = jingle[attribute: "sid"], !sid.isEmpty else { throw .missingSessionID }
        func address(_ name: String) throws(ParseError) -> JID? {
            guard let text = jingle[attribute: name] else { return nil }
            do { return try JID(text) } catch { throw .badAddress(text) }
        }
        self.kind = kind
        self.sid = sid
        initiator = try address("initiator")
        responder = try address("responder")
        contents = jingle.children("content", namespace: JingleNamespace.jingle).compactMap(JingleContent.init)
        reason = JingleReason(jingle.child("reason", namespace: JingleNamespace.jingle))
        bundle = jingle.children("group", namespace: JingleNamespace.grouping)
            .filter { ($0[attribute: "semantics"] ?? "").uppercased() == "BUNDLE" }
            .flatMap { $0.children("content", namespace: JingleNamespace.grouping).compactMap { $0[attribute: "name"] } }
        info = kind == .sessionInfo ? jingle.elements.filter { $0.namespace == JingleNamespace.rtpInfo }.map(\.name) : []
    }

    public var element: XMLElement {
        var element = XMLElement("jingle", namespace: JingleNamespace.jingle, attributes: [
            "action": kind.rawValue, "sid": sid, "initiator": initiator?.description, "responder": responder?.description,
        ])
        if !bundle.isEmpty {
            var group = XMLElement("group", namespace: JingleNamespace.grouping, attributes: [XMLAttribute("semantics", "BUNDLE")])
            for name in bundle { group.append(XMLElement("content", namespace: JingleNamespace.grouping, attributes: [XMLAttribute("name", name)])) }
            element.append(group)
        }
        for content in contents { element.append(content.element) }
        for name in info { element.append(XMLElement(name, namespace: JingleNamespace.rtpInfo)) }
        if let reason { element.append(reason.element) }
        return element
    }

    /// The iq set that carries it.
    public func iq(to: JID, id: String) -> XMLElement {
        .iq(.set, id: id, to: to, payload: element)
    }

    /// The audio content we can use, if the session has one.
    public var audio: JingleContent? {
        contents.first { $0.description?.media == "audio" } ?? contents.first { $0.transport != nil && $0.description == nil }
    }
}

extension XMLElement {
    /// An error reply to a Jingle iq: the stanza error, plus XEP-0166's own condition when there is
    /// one (`unknown-session`, `out-of-order`, `tie-break`, `unsupported-info`).
    public func jingleError(_ error: StanzaError, jingleCondition: String? = nil) -> XMLElement {
        var reply = iqError(error)
        if let jingleCondition, let index = reply.children.firstIndex(where: { if case .element(let e) = $0 { e.name == "error" } else { false } }),
           case .element(var payload) = reply.children[index] {
            payload.append(XMLElement(jingleCondition, namespace: JingleNamespace.errors))
            reply.children[index] = .element(payload)
        }
        return reply
    }
}
