import DialtoneXML
import Foundation

/// What we tell others we can do (XEP-0030, XEP-0115). Only features that are implemented
/// go here: a peer that believes us will rely on them.
public enum ServiceDiscovery {
    public static let identity = (category: "client", type: "console")
    public static let baseFeatures: [String] = [
        Namespace.caps, Namespace.discoInfo, Namespace.ping, Namespace.receipts, Namespace.time,
    ]

    /// Ours plus what the layers above add (calls add Jingle's), sorted as XEP-0115 wants.
    public static func features(adding extra: [String] = []) -> [String] {
        Array(Set(baseFeatures + extra)).sorted()
    }

    public static func node(for software: String, extra: [String] = []) -> String {
        "https://dialtone.invalid/caps#\(verification(name: software, extra: extra))"
    }

    /// The XEP-0115 verification string: SHA-1 over identities and features, base64.
    public static func verification(name: String, extra: [String] = []) -> String {
        var input = "\(identity.category)/\(identity.type)//\(name)<"
        for feature in features(adding: extra) { input += feature + "<" }
        return Data(SCRAMHash.sha1.digest(Array(input.utf8))).base64EncodedString()
    }

    static func infoQuery(node: String?, name: String, extra: [String]) -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.discoInfo, attributes: ["node": node])
        query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
            "category": identity.category, "type": identity.type, "name": name,
        ]))
        for feature in features(adding: extra) {
            query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [XMLAttribute("var", feature)]))
        }
        return query
    }

    static func capsElement(name: String, extra: [String]) -> XMLElement {
        XMLElement("c", namespace: Namespace.caps, attributes: [
            XMLAttribute("hash", "sha-1"), XMLAttribute("node", "https://dialtone.invalid/caps"),
            XMLAttribute("ver", verification(name: name, extra: extra)),
        ])
    }
}

extension XMPPClient {
    /// The features an entity announces (XEP-0030 disco#info), e.g. a peer's Jingle support.
    public func features(of entity: JID, timeout: Duration = .seconds(5)) async throws -> Set<String> {
        let answer = try await request(.iq(.get, id: newStanzaID(), to: entity, payload: XMLElement("query", namespace: Namespace.discoInfo)),
                                       timeout: timeout)
        let features = answer.child("query", namespace: Namespace.discoInfo)?.children("feature", namespace: Namespace.discoInfo) ?? []
        return Set(features.compactMap { $0[attribute: "var"] })
    }
}
