/// The values the ICE agent takes and gives: roles, states, configuration, actions and statistics.

public enum ICERole: String, Sendable, Equatable {
    case controlling, controlled
}

public enum ICEState: Sendable, Equatable {
    case new
    case checking
    /// A nominated pair is selected and carries media.
    case connected
    case failed(reason: String)
    case closed
}

public enum ICEError: Error, Equatable, Sendable {
    case notConnected
    case closed
    case failed(String)
    case noUsableInterface
}

public struct ICEConfiguration: Sendable {
    /// Pacing of ordinary and triggered checks (RFC 8445 14.2).
    public var ta: Duration = .milliseconds(50)
    public var checkRetransmission = STUNRetransmissionTimer.Parameters()
    /// Host candidates on 127.0.0.1 (and ::1 with `useIPv6`) only: for tests, which must not
    /// send anywhere else.
    public var loopbackOnly = false
    /// Host candidates on exactly these addresses, instead of every interface's (a chosen
    /// interface, or test networks in namespaces the test made).
    public var hostAddresses: [IPAddress]?
    public var useIPv4 = true
    public var useIPv6 = true
    /// Server-reflexive candidates come from here; nil means host candidates only.
    public var stunServer: TransportAddress?
    /// How long a non-trickle offer or answer waits for srflx candidates (specs item 7).
    public var gatheringTimeout: Duration = .seconds(1)
    /// Controlling side: send USE-CANDIDATE on every check instead of nominating one valid pair.
    public var aggressiveNomination = false
    /// Regular nomination waits this long after the first valid pair for better pairs to validate.
    public var nominationDelay: Duration = .milliseconds(100)
    /// With rtcp-mux (always, for us) component-2 candidates are ignored (specs item 3).
    public var rtcpMux = true
    public var consentInterval: Duration = .seconds(5)
    public var consentTimeout: Duration = .seconds(30)
    public var software: String? = "Dialtone"
    /// A TURN server for a relayed candidate (RFC 8656), with its long-term credentials.
    public var turnServer: TURNServerConfiguration?
    /// Tried in order when the TURN server cannot be reached as configured (UDP blocked:
    /// the same server over TCP, then TLS).
    public var turnFallbacks: [TURNServerConfiguration] = []
    /// Retransmissions to the TURN server before it counts as unreachable (about 9.5 s).
    public var turnRetransmission = STUNRetransmissionTimer.Parameters(rto: .milliseconds(500), rc: 5, rm: 4)
    /// Offer and pair only the relayed candidate (to prove the relay path, or to hide addresses).
    public var relayOnly = false
    /// Remote candidates beyond this (signalled or peer-reflexive) are dropped: a peer must
    /// not grow our state or our checks without end.
    public var maximumRemoteCandidates = 50
    /// RFC 8445 6.1.2.5: a checklist of at most 100 pairs; later pairs are not formed.
    public var maximumPairs = 100

    public init() {}
}

/// How we reach the TURN server: UDP, or TCP where UDP is blocked (RFC 8656 3.1); the relayed
/// candidate is UDP towards the peers either way.
public enum TURNTransport: String, Sendable, Equatable {
    case udp, tcp
    /// TCP with TLS ("turns:"), for networks that only let HTTPS-like traffic out.
    case tls
}

public struct TURNServerConfiguration: Sendable, Equatable {
    public var address: TransportAddress
    public var username: String
    public var password: String
    public var transport: TURNTransport
    /// For TLS: the name the certificate must carry (the IP address when nil) and the CA file
    /// to trust instead of the system's.
    public var serverName: String?
    public var caFile: String?
    public init(address: TransportAddress, username: String, password: String, transport: TURNTransport = .udp,
                serverName: String? = nil, caFile: String? = nil) {
        self.address = address
        self.username = username
        self.password = password
        self.transport = transport
        self.serverName = serverName
        self.caFile = caFile
    }
}

public enum ICEAction: Sendable, Equatable {
    case send(socket: Int, to: TransportAddress, bytes: [UInt8])
    /// DTLS or RTP that arrived on a validated pair.
    case media(MediaPacket)
    /// A new local candidate, to trickle.
    case localCandidate(ICECandidate)
    case gatheringComplete
    case stateChanged(ICEState)
    /// The nominated pair media now uses.
    case selectedPair(local: ICECandidate, remote: ICECandidate)
    case roleChanged(ICERole)
    /// The TURN server could not be reached this way: try the next one (the agent opens the
    /// TCP or TLS connection first, then calls `beginTURN`).
    case turnFallback(TURNServerConfiguration)
}

public struct ICEStatistics: Sendable, Equatable {
    public var checksSent = 0
    public var checksReceived = 0
    public var responsesReceived = 0
    public var rejected = STUNRejectionCounters()
    /// Responses to transactions we do not have (late, duplicate or forged).
    public var unmatchedResponses = 0
    /// Local peer-reflexive candidates learnt from check responses (a NAT we did not know of).
    public var localPeerReflexive = 0
    /// Media from an address no validated pair leads to.
    public var mediaDropped = 0
    public var remoteCandidatesIgnored = 0
    /// Remote candidates dropped because `maximumRemoteCandidates` were known already.
    public var remoteCandidatesOverLimit = 0
    /// Pairs not formed because the checklist held `maximumPairs`.
    public var pairsOverLimit = 0
    /// Checks that failed authentication from an address we have no pair with: dropped
    /// without an answer (an error answer is larger than the request: a reflector).
    public var unansweredUnauthenticatedChecks = 0
}

public enum PairState: String, Sendable, Equatable {
    case frozen, waiting, inProgress, succeeded, failed
}

public struct ICEPairSnapshot: Sendable, Equatable {
    public var local: ICECandidate
    public var remote: ICECandidate
    public var state: PairState
    public var nominated: Bool
    public var priority: UInt64
}
