import DialtoneICE
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP

/// XEP-0320: the DTLS certificate's fingerprint and who starts the handshake.
public struct DTLSFingerprint: Sendable, Equatable {
    public var hash: String
    /// actpass, active or passive (RFC 4145).
    public var setup: String
    public var value: [UInt8]

    public init(hash: String = "sha-256", setup: String, value: [UInt8]) {
        self.hash = hash
        self.setup = setup
        self.value = value
    }

    init?(_ element: XMLElement) {
        guard let value = parseFingerprint(element.text.trimmingWhitespace) else { return nil }
        hash = element[attribute: "hash"]?.lowercased() ?? "sha-256"
        setup = element[attribute: "setup"] ?? "actpass"
        self.value = value
    }

    var element: XMLElement {
        .textElement("fingerprint", namespace: JingleNamespace.dtls, fingerprintString(value),
                     attributes: [XMLAttribute("hash", hash), XMLAttribute("setup", setup)])
    }
}

/// A DTLS fingerprint encrypted with OMEMO for one device of the peer, in place of the XEP-0320
/// element (Conversations' verification draft): the encryption inside is opened (or made) by
/// the account's OMEMO, which this layer does not know.
public struct SealedFingerprint: Sendable, Equatable {
    public var hash: String
    public var setup: String
    /// The fingerprint's text, encrypted in the legacy OMEMO version (the one the draft names).
    public var encrypted: OMEMOEncrypted

    public init(hash: String = "sha-256", setup: String, encrypted: OMEMOEncrypted) {
        self.hash = hash
        self.setup = setup
        self.encrypted = encrypted
    }

    init?(_ element: XMLElement) {
        guard let encrypted = OMEMOEncrypted(in: element), encrypted.version == .legacy else { return nil }
        hash = element[attribute: "hash"]?.lowercased() ?? "sha-256"
        setup = element[attribute: "setup"] ?? "actpass"
        self.encrypted = encrypted
    }

    var element: XMLElement {
        var element = XMLElement("fingerprint", namespace: JingleNamespace.omemoVerification,
                                 attributes: [XMLAttribute("hash", hash), XMLAttribute("setup", setup)])
        element.append(encrypted.element())
        return element
    }

    /// The XEP-0320 fingerprint once the text inside was decrypted; nil when it is no fingerprint.
    public func opened(_ text: String) -> DTLSFingerprint? {
        guard let value = parseFingerprint(text.trimmingWhitespace) else { return nil }
        return DTLSFingerprint(hash: hash, setup: setup, value: value)
    }
}

/// XEP-0176 ICE-UDP transport: credentials, candidates (possibly none: they trickle) and the
/// DTLS fingerprint riding along.
public struct ICEUDPTransport: Sendable, Equatable {
    public var ufrag: String?
    public var password: String?
    public var candidates: [ICECandidate]
    public var fingerprint: DTLSFingerprint?
    /// The fingerprint as it travels OMEMO-encrypted (sent instead of `fingerprint`).
    public var sealedFingerprint: SealedFingerprint?
    /// Candidates that could not be read (TCP, host names…): reported, not fatal.
    public var unreadableCandidates = 0

    public init(ufrag: String?, password: String?, candidates: [ICECandidate] = [], fingerprint: DTLSFingerprint? = nil) {
        self.ufrag = ufrag
        self.password = password
        self.candidates = candidates
        self.fingerprint = fingerprint
    }

    init?(_ element: XMLElement) {
        guard element.name == "transport", element.namespace == JingleNamespace.iceUDP else { return nil }
        ufrag = element[attribute: "ufrag"]
        password = element[attribute: "pwd"]
        candidates = []
        for candidate in element.children("candidate", namespace: JingleNamespace.iceUDP) {
            if let parsed = Self.candidate(candidate) { candidates.append(parsed) } else { unreadableCandidates += 1 }
        }
        fingerprint = element.child("fingerprint", namespace: JingleNamespace.dtls).flatMap(DTLSFingerprint.init)
        sealedFingerprint = element.child("fingerprint", namespace: JingleNamespace.omemoVerification).flatMap(SealedFingerprint.init)
    }

    var element: XMLElement {
        var element = XMLElement("transport", namespace: JingleNamespace.iceUDP, attributes: ["ufrag": ufrag, "pwd": password])
        // Sealed, the fingerprint goes only encrypted: a copy in clear would undo the point.
        if let sealedFingerprint {
            element.append(sealedFingerprint.element)
        } else if let fingerprint {
            element.append(fingerprint.element)
        }
        for candidate in candidates { element.append(Self.element(for: candidate)) }
        return element
    }

    static func candidate(_ element: XMLElement) -> ICECandidate? {
        guard (element[attribute: "protocol"] ?? "udp").lowercased() == "udp",
              let ip = element[attribute: "ip"], let port = element[attribute: "port"].flatMap(UInt16.init),
              let address = TransportAddress(ip, port),
              let priority = element[attribute: "priority"].flatMap(UInt32.init),
              let component = element[attribute: "component"].flatMap(Int.init), (1...256).contains(component),
              let type = CandidateType(rawValue: element[attribute: "type"] ?? "host") else { return nil }
        var related: TransportAddress?
        if let relatedIP = element[attribute: "rel-addr"], let relatedPort = element[attribute: "rel-port"].flatMap(UInt16.init) {
            related = TransportAddress(relatedIP, relatedPort)
        }
        return ICECandidate(foundation: element[attribute: "foundation"] ?? "0", component: component, priority: priority,
                            address: address, type: type, relatedAddress: related)
    }

    /// Every attribute XEP-0176 names, always: Asterisk hangs up on a candidate missing one.
    static func element(for candidate: ICECandidate) -> XMLElement {
        var attributes = [
            XMLAttribute("component", String(candidate.component)),
            XMLAttribute("foundation", candidate.foundation),
            XMLAttribute("generation", "0"),
            XMLAttribute("id", candidateID(candidate)),
            XMLAttribute("ip", candidate.address.ip.description),
            XMLAttribute("network", "0"),
            XMLAttribute("port", String(candidate.address.port)),
            XMLAttribute("priority", String(candidate.priority)),
            XMLAttribute("protocol", "udp"),
            XMLAttribute("type", candidate.type.rawValue),
        ]
        if let related = candidate.relatedAddress {
            attributes.append(XMLAttribute("rel-addr", related.ip.description))
            attributes.append(XMLAttribute("rel-port", String(related.port)))
        }
        return XMLElement("candidate", namespace: JingleNamespace.iceUDP, attributes: attributes)
    }

    /// Stable for a candidate, unique within a session: a re-sent candidate keeps its id.
    static func candidateID(_ candidate: ICECandidate) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in candidate.sdp.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return String(hash, radix: 36)
    }
}

extension String {
    var trimmingWhitespace: String {
        var text = Substring(self)
        while let first = text.first, first.isWhitespace { text = text.dropFirst() }
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
