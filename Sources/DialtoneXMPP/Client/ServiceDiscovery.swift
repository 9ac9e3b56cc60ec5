import DialtoneXML
import Foundation

/// What we tell others we can do (XEP-0030, XEP-0115). Only features that are implemented
/// go here: a peer that believes us will rely on them.
public enum ServiceDiscovery {
    public static let identity = (category: "client", type: "console")
    public static let features: [String] = [
        Namespace.caps, Namespace.discoInfo, Namespace.ping, Namespace.receipts,
    ].sorted()

    public static func node(for software: String) -> String { "https://dialtone.invalid/caps#\(verification(name: software))" }

    /// The XEP-0115 verification string: SHA-1 over identities and features, base64.
    public static func verification(name: String) -> String {
        var input = "\(identity.category)/\(identity.type)//\(name)<"
        for feature in features { input += feature + "<" }
        return Data(SCRAMHash.sha1.digest(Array(input.utf8))).base64EncodedString()
    }

    static func infoQuery(node: String?, name: String) -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.discoInfo, attributes: ["node": node])
        query.append(XMLElement("identity", namespace: Namespace.discoInfo, attributes: [
            "category": identity.category, "type": identity.type, "name": name,
        ]))
        for feature in features {
            query.append(XMLElement("feature", namespace: Namespace.discoInfo, attributes: [XMLAttribute("var", feature)]))
        }
        return query
    }

    static func capsElement(name: String) -> XMLElement {
        XMLElement("c", namespace: Namespace.caps, attributes: [
            XMLAttribute("hash", "sha-1"), XMLAttribute("node", "https://dialtone.invalid/caps"),
            XMLAttribute("ver", verification(name: name)),
        ])
    }
}
