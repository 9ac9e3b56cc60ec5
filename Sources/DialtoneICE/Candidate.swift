public enum CandidateType: String, Sendable, Hashable, CaseIterable {
    case host
    case serverReflexive = "srflx"
    case peerReflexive = "prflx"
    case relayed = "relay"

    /// RFC 8445 5.1.2.2's recommended type preferences.
    public var preference: UInt32 {
        switch self {
        case .host: 126
        case .peerReflexive: 110
        case .serverReflexive: 100
        case .relayed: 0
        }
    }
}

public struct ICECandidate: Hashable, Sendable, CustomStringConvertible {
    public var foundation: String
    public var component: Int
    public var priority: UInt32
    public var address: TransportAddress
    public var type: CandidateType
    /// The base (host) or the server's view (relay) for srflx/prflx/relay.
    public var relatedAddress: TransportAddress?

    public init(foundation: String, component: Int = 1, priority: UInt32, address: TransportAddress,
                type: CandidateType, relatedAddress: TransportAddress? = nil) {
        self.foundation = foundation
        self.component = component
        self.priority = priority
        self.address = address
        self.type = type
        self.relatedAddress = relatedAddress
    }

    /// RFC 8445 5.1.2.1.
    public static func priority(type: CandidateType, localPreference: UInt32, component: Int) -> UInt32 {
        (type.preference << 24) | ((localPreference & 0xFFFF) << 8) | UInt32(256 - min(max(component, 1), 256))
    }

    /// The SDP `candidate:` attribute value (RFC 8839 5.1), as aioice and browsers exchange it.
    public var sdp: String {
        var text = "candidate:\(foundation) \(component) udp \(priority) \(address.ip) \(address.port) typ \(type.rawValue)"
        if let related = relatedAddress { text += " raddr \(related.ip) rport \(related.port)" }
        return text
    }

    public var description: String { sdp }

    /// Parses an SDP candidate line (with or without `a=` / `candidate:`). Nil for TCP, host names
    /// (mDNS included: resolving them is not this module's business) and anything malformed.
    public init?(sdp line: String) {
        var text = Substring(line)
        if text.hasPrefix("a=") { text = text.dropFirst(2) }
        if text.hasPrefix("candidate:") { text = text.dropFirst("candidate:".count) }
        let fields = text.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard fields.count >= 8, fields[2].lowercased() == "udp", fields[6] == "typ",
              let component = Int(fields[1]), let priority = UInt32(fields[3]),
              let port = UInt16(fields[5]), let address = TransportAddress(fields[4], port),
              let type = CandidateType(rawValue: fields[7]) else { return nil }
        var related: TransportAddress?
        var host: String?
        var index = 8
        while index + 1 < fields.count {
            switch fields[index] {
            case "raddr": host = fields[index + 1]
            case "rport": if let h = host, let p = UInt16(fields[index + 1]) { related = TransportAddress(h, p) }
            default: break
            }
            index += 2
        }
        self.init(foundation: fields[0], component: component, priority: priority, address: address,
                  type: type, relatedAddress: related)
    }
}

extension ICECandidate {
    /// What makes two candidates one to a peer: the transport address and the component
    /// (the protocol is always UDP here). libnice aborts on two remote candidates with one
    /// transport address, so no two of ours may share one.
    public struct Key: Hashable, Sendable {
        public var address: TransportAddress
        public var component: Int
    }

    public var key: Key { Key(address: address, component: component) }

    /// One candidate per transport address and component, the one of highest priority
    /// (RFC 8445 5.1.3 removes the redundant one of lower priority), in the order first seen.
    public static func withoutDuplicates(_ candidates: [ICECandidate]) -> [ICECandidate] {
        var best: [Key: Int] = [:]
        var kept: [ICECandidate] = []
        for candidate in candidates {
            if let index = best[candidate.key] {
                if candidate.priority > kept[index].priority { kept[index] = candidate }
            } else {
                best[candidate.key] = kept.count
                kept.append(candidate)
            }
        }
        return kept
    }
}
