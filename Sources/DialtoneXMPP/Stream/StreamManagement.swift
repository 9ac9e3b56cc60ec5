import DialtoneXML

/// XEP-0198 counting for one session, kept apart from the socket so that it survives
/// a dropped connection and can be tested on its own.
///
/// Counters wrap at 2^32 as the XEP says; every comparison is done in wrapping arithmetic.
public struct StreamManagementState: Sendable {
    public private(set) var resumptionID: String?
    public private(set) var resumeLocation: String?
    /// Stanzas received and handled (stored) since the session began: our `h`.
    public private(set) var inboundHandled: UInt32 = 0
    /// The server's last `h`: stanzas of ours it has confirmed.
    public private(set) var outboundAcknowledged: UInt32 = 0
    /// Stanzas sent and not yet confirmed, oldest first.
    public private(set) var unacknowledged: [XMLElement] = []
    /// Resumptions tried since the server last confirmed anything (`<a/>`). A session whose
    /// resumption keeps failing without a `<failed/>` (a stream error such as not-well-formed,
    /// the link dropping mid-resume, the stream dying right after `<resumed/>`) would otherwise
    /// be tried forever, and nothing queued after it would ever go out.
    public private(set) var unconfirmedResumptions = 0
    public static let maximumUnconfirmedResumptions = 2

    public init() {}

    /// Whether to try `<resume/>` rather than give the session up for a new one.
    public var mayResume: Bool { resumptionID != nil && unconfirmedResumptions < Self.maximumUnconfirmedResumptions }

    public mutating func resumptionAttempted() { unconfirmedResumptions += 1 }

    /// The server confirmed something on the current connection: the stream works.
    public mutating func confirmedByServer() { unconfirmedResumptions = 0 }

    /// Whether a stanza with this id was sent in this session and is not confirmed yet: the
    /// client resends it itself after a resume, so no one else should send it again.
    public func isUnacknowledged(id: String) -> Bool {
        unacknowledged.contains { $0[attribute: "id"] == id }
    }

    public var outboundSent: UInt32 { outboundAcknowledged &+ UInt32(truncatingIfNeeded: unacknowledged.count) }

    public mutating func enabled(resumptionID: String?, location: String?) {
        self.resumptionID = resumptionID
        self.resumeLocation = location
    }

    public mutating func sent(_ stanza: XMLElement) { unacknowledged.append(stanza) }

    public mutating func handled(_ count: Int) { inboundHandled &+= UInt32(truncatingIfNeeded: count) }

    /// Applies the server's `h`; returns the stanzas it newly confirmed, oldest first.
    public mutating func acknowledge(_ h: UInt32) throws(StreamManagementError) -> [XMLElement] {
        let newlyAcked = h &- outboundAcknowledged
        guard Int(newlyAcked) <= unacknowledged.count else {
            throw .ackBeyondSent(h: h, sent: outboundSent)
        }
        let acked = Array(unacknowledged.prefix(Int(newlyAcked)))
        unacknowledged.removeFirst(Int(newlyAcked))
        outboundAcknowledged = h
        return acked
    }

    /// A resume was refused or the session ended: what was not confirmed must go again
    /// in a new session, where counting starts from zero.
    public mutating func reset() -> [XMLElement] {
        let pending = unacknowledged
        self = StreamManagementState()
        return pending
    }
}

public enum StreamManagementError: Error, Sendable, Equatable, CustomStringConvertible {
    case ackBeyondSent(h: UInt32, sent: UInt32)

    public var description: String {
        switch self {
        case .ackBeyondSent(let h, let sent): "The server acknowledged \(h) stanzas but only \(sent) were sent; the stream is out of step."
        }
    }
}
