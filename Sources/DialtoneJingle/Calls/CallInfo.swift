import DialtoneMedia
import DialtoneXMPP
import Foundation

/// A call as the front ends see it: who, which way, where it stands, and how it went.
public struct CallInfo: Sendable, Equatable {
    public enum Direction: String, Sendable, Codable { case outgoing, incoming }

    public enum State: String, Sendable, Codable {
        /// Outgoing: the propose went out; no device has said it rings yet.
        case proposing
        /// Outgoing: the other side rings.
        case ringing
        /// Incoming: ringing here, waiting for answer or decline.
        case incoming
        /// Accepted; ICE and DTLS are being set up.
        case connecting
        /// Audio flows.
        case connected
        case ended
    }

    public enum Outcome: String, Sendable, Codable {
        /// Connected, then hung up by either side.
        case completed
        /// Refused by the callee (decline or busy).
        case declined
        case busy
        /// Incoming and never answered here: retracted, timed out, or found in the archive.
        case missed
        /// Outgoing and given up before anyone answered.
        case cancelled
        case unanswered
        /// Answered or declined on another of our devices.
        case elsewhere
        case failed
    }

    /// The Jingle session id (also the JMI id).
    public var id: String
    /// The other party's bare address (a phone number's gateway JID for phone calls).
    public var peer: JID
    /// The device the session runs with, once known.
    public var remote: JID?
    public var direction: Direction
    public var state: State
    public var outcome: Outcome?
    /// For people: "declined", "connection failed: …".
    public var reason: String?
    public var startedAt: Date
    public var connectedAt: Date?
    /// When the session was agreed (session-accept sent or received): ICE and DTLS start here.
    public var acceptedAt: Date?
    public var endedAt: Date?
    /// "host → host", "relay → srflx"… once ICE selected a pair.
    public var path: String?
    public var codec: String?
    public var muted = false
    public var held = false
    /// Set when both DTLS fingerprints went OMEMO-encrypted, to and from one device of the peer.
    public var protection: FingerprintProtection?

    public init(id: String, peer: JID, direction: Direction, state: State, startedAt: Date = Date()) {
        self.id = id
        self.peer = peer
        self.direction = direction
        self.state = state
        self.startedAt = startedAt
    }

    /// Seconds of conversation: from connecting to the end (or now).
    public func duration(now: Date = Date()) -> TimeInterval? {
        guard let connectedAt else { return nil }
        return (endedAt ?? now).timeIntervalSince(connectedAt)
    }
}

/// How a call's DTLS fingerprints were exchanged when OMEMO carried them (see
/// `FingerprintSealing`): with which device of the peer, and whether the user verified it.
/// Only a verified device makes a verified call.
public struct FingerprintProtection: Sendable, Equatable {
    public var device: UInt32
    public var verified: Bool

    public init(device: UInt32, verified: Bool) {
        self.device = device
        self.verified = verified
    }
}

public enum CallEvent: Sendable {
    /// A call was created or changed state.
    case updated(CallInfo)
    /// An RFC 4733 digit arrived from the other side.
    case digit(callID: String, Character)
}

public enum CallError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownCall(String)
    case notConnected
    case wrongState(String)
    case offline

    public var description: String {
        switch self {
        case .unknownCall(let id): "There is no call \(id)."
        case .notConnected: "The call is not connected yet."
        case .wrongState(let what): what
        case .offline: "Not connected to the server: calls need the account online."
        }
    }
}
