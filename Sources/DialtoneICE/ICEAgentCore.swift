/// The ICE agent (RFC 8445, full, with trickle per RFC 8838 and consent per RFC 7675) as a state
/// machine without sockets or clocks: the driver (`ICEAgent`) feeds it datagrams, remote
/// candidates and timer ticks with the time, and carries out the actions it returns.

public struct ICEAgentCore: Sendable {
    struct LocalCandidate {
        var candidate: ICECandidate
        var socket: Int
        var localPreference: UInt32
    }

    struct Pair {
        var local: Int
        var remote: Int
        var priority: UInt64 = 0
        var state: PairState = .frozen
        var nominated = false
        var nominationValue: UInt32 = 0
        /// USE-CANDIDATE/NOMINATION came before our check on this pair succeeded (RFC 8445 7.3.1.5).
        var nominateOnSuccess: UInt32?
        var receivedAuthenticatedCheck = false
        var lastConsent: ICETime?
        var nextConsent: ICETime?
        var foundation = ""
    }

    enum TransactionKind {
        case check(pair: Int, nominating: Bool, consent: Bool, role: ICERole)
        case gather(socket: Int)
    }

    struct Transaction {
        var kind: TransactionKind
        var socket: Int
        var destination: TransportAddress
        var bytes: [UInt8]
        var timer: STUNRetransmissionTimer
    }

    public let configuration: ICEConfiguration
    public internal(set) var role: ICERole
    public let tieBreaker: UInt64
    public internal(set) var localUfrag: String
    public internal(set) var localPassword: String
    public internal(set) var remoteUfrag: String?
    public internal(set) var remotePassword: String?
    public internal(set) var state: ICEState = .new
    public internal(set) var statistics = ICEStatistics()
    public internal(set) var gatheringComplete = false
    public internal(set) var remoteCandidatesComplete = false

    var sockets: [Int: TransportAddress] = [:]
    var locals: [LocalCandidate] = []
    var remotes: [ICECandidate] = []
    var pairs: [Pair] = []
    var triggered: [Int] = []
    var transactions: [STUNTransactionID: Transaction] = [:]
    var foundations: [String: String] = [:]
    var nextPacedCheck: ICETime = .zero
    var gatheringDeadline: ICETime?
    var firstValidAt: ICETime?
    var nominating: Int?
    var selected: Int?
    /// Where media goes when nothing is selected yet: the pair the peer's media last came on,
    /// or the previous selection across an ICE restart.
    var fallbackRoute: (socket: Int, to: TransportAddress)?
    var actions: [ICEAction] = []
    var prflxCount = 0
    /// The relayed candidate's traffic goes through this client, on `turnSocket`, to the server.
    var turn: TURNClientCore?
    var turnSocket: Int?
    var pendingTURNFallbacks: [TURNServerConfiguration] = []
    /// Peers we bound a TURN channel to, and when.
    var channels: [TransportAddress: ICETime] = [:]

    /// True when media on the selected pair goes through the relay as ChannelData.
    public var relayChannelBound: Bool {
        guard let selected, locals[pairs[selected].local].socket == Self.relaySocket, let turn else { return false }
        return turn.hasChannel(to: remotes[pairs[selected].remote].address)
    }
    var turnAllocation: TURNClientCore.Operation?
    var permissions: [IPAddress: ICETime] = [:]

    /// The id the relayed candidate uses in place of a socket.
    public static let relaySocket = -1
    /// The TCP connection to the TURN server, when it is reached over TCP: the agent frames
    /// messages on it and hands them in as if they were datagrams.
    public static let turnStreamSocket = -2

    public init(role: ICERole, configuration: ICEConfiguration = ICEConfiguration(),
                ufrag: String? = nil, password: String? = nil, tieBreaker: UInt64? = nil) {
        self.role = role
        self.configuration = configuration
        self.tieBreaker = tieBreaker ?? UInt64.random(in: 0...UInt64.max)
        localUfrag = ufrag ?? Self.randomToken(8)
        localPassword = password ?? Self.randomToken(24)
    }

    /// ICE characters (RFC 8839 ice-char), at least 4 for a ufrag and 22 for a password.
    static func randomToken(_ count: Int) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// Drains what the driver must do.
    public mutating func takeActions() -> [ICEAction] {
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    /// What we signal: never our peer-reflexive candidates, which only the checks reveal.
    public var localCandidates: [ICECandidate] {
        ICECandidate.withoutDuplicates(
            locals.filter { $0.candidate.type != .peerReflexive && (!configuration.relayOnly || $0.candidate.type == .relayed) }.map(\.candidate))
    }
    public var remoteCandidates: [ICECandidate] { remotes }

    public var selectedPair: ICEPairSnapshot? { selected.map(snapshot) }
    public var pairSnapshots: [ICEPairSnapshot] { pairs.indices.map(snapshot) }

    func snapshot(_ index: Int) -> ICEPairSnapshot {
        let pair = pairs[index]
        return ICEPairSnapshot(local: locals[pair.local].candidate, remote: remotes[pair.remote],
                               state: pair.state, nominated: pair.nominated, priority: pair.priority)
    }

    // MARK: Local side

    /// A bound UDP socket; its address becomes a host candidate.
    public mutating func addSocket(id: Int, address: TransportAddress, now: ICETime) {
        // A second socket on an address we have would be a duplicate candidate: not taken.
        guard sockets[id] == nil, !sockets.values.contains(address) else { return }
        sockets[id] = address
        // Earlier sockets are preferred; the driver lists IPv6 first (RFC 8421's preference).
        let localPreference = UInt32(max(0, 65535 - sockets.count + 1))
        let candidate = ICECandidate(
            foundation: foundation(type: .host, base: address.ip, server: nil), component: 1,
            priority: ICECandidate.priority(type: .host, localPreference: localPreference, component: 1),
            address: address, type: .host)
        locals.append(LocalCandidate(candidate: candidate, socket: id, localPreference: localPreference))
        if !configuration.relayOnly { actions.append(.localCandidate(candidate)) }
        for remote in remotes.indices { formPairs(remote: remote, onlySocket: id, now: now) }
    }

    /// After the sockets are added: asks the STUN server for srflx candidates and starts the
    /// gathering deadline.
    public mutating func startGathering(now: ICETime) {
        if let server = configuration.stunServer {
            for (id, address) in sockets.sorted(by: { $0.key < $1.key })
            where address.ip.isIPv4 == server.ip.isIPv4 && !address.ip.isLoopback {
                var request = STUNMessage(method: .binding, class: .request)
                if let software = configuration.software { request.attributes.append(.software(software)) }
                let bytes = request.encode(fingerprint: true)
                transactions[request.transactionID] = Transaction(
                    kind: .gather(socket: id), socket: id, destination: server, bytes: bytes,
                    timer: STUNRetransmissionTimer(sentAt: now, parameters: configuration.checkRetransmission))
                actions.append(.send(socket: id, to: server, bytes: bytes))
            }
        }
        pendingTURNFallbacks = configuration.turnFallbacks
        if let server = configuration.turnServer { beginTURN(server, now: now) }
        gatheringDeadline = now + configuration.gatheringTimeout
        if state == .new { setState(.checking) }
        checkGatheringDone(now: now)
    }

    /// Starts an allocation on `server`: on its stream (TCP, TLS: the agent has connected it)
    /// or on the UDP socket of its address family.
    public mutating func beginTURN(_ server: TURNServerConfiguration, now: ICETime) {
        let socket: Int
        if server.transport != .udp {
            socket = Self.turnStreamSocket
        } else if let (id, _) = sockets.sorted(by: { $0.key < $1.key }).first(where: { $0.value.ip.isIPv4 == server.address.ip.isIPv4 }) {
            socket = id
        } else {
            return
        }
        var client = TURNClientCore(server: server.address, username: server.username, password: server.password)
        client.software = configuration.software
        client.retransmission = configuration.turnRetransmission
        turnAllocation = client.allocate(now: now)
        turn = client
        turnSocket = socket
        flushTURN(now: now)
    }

    mutating func checkGatheringDone(now: ICETime) {
        guard !gatheringComplete else { return }
        let pending = turnAllocation != nil || transactions.values.contains { if case .gather = $0.kind { true } else { false } }
        if !pending || (gatheringDeadline.map { now >= $0 } ?? false) {
            transactions = transactions.filter { if case .gather = $0.value.kind { false } else { true } }
            gatheringComplete = true
            actions.append(.gatheringComplete)
        }
    }

    mutating func foundation(type: CandidateType, base: IPAddress, server: TransportAddress?) -> String {
        let key = "\(type.rawValue)|\(base)|\(server.map(\.description) ?? "")"
        if let existing = foundations[key] { return existing }
        let value = String(foundations.count + 1)
        foundations[key] = value
        return value
    }

    // MARK: Remote side

    public mutating func setRemoteCredentials(ufrag: String, password: String, now: ICETime) {
        remoteUfrag = ufrag
        remotePassword = password
        if state == .new { setState(.checking) }
    }

    /// Trickled or signalled at once; never restarts anything (RFC 8838, specs item 3).
    public mutating func addRemoteCandidate(_ candidate: ICECandidate, now: ICETime) {
        guard state != .closed else { return }
        guard candidate.component == 1 || !configuration.rtcpMux, candidate.type != .peerReflexive else {
            statistics.remoteCandidatesIgnored += 1
            return
        }
        if let existing = remotes.firstIndex(where: { $0.address == candidate.address && $0.component == candidate.component }) {
            // A signalled candidate we had learnt as peer-reflexive: take the signalled identity.
            if remotes[existing].type == .peerReflexive {
                remotes[existing] = candidate
                recomputePriorities()
            } else {
                statistics.remoteCandidatesIgnored += 1
            }
            return
        }
        guard remotes.count < configuration.maximumRemoteCandidates else {
            statistics.remoteCandidatesOverLimit += 1
            return
        }
        remotes.append(candidate)
        formPairs(remote: remotes.count - 1, onlySocket: nil, now: now)
    }

    public mutating func endOfRemoteCandidates(now: ICETime) {
        remoteCandidatesComplete = true
        evaluateFailure()
    }

    mutating func formPairs(remote: Int, onlySocket: Int?, now: ICETime) {
        let remoteCandidate = remotes[remote]
        for (index, local) in locals.enumerated()
        where configuration.relayOnly ? local.candidate.type == .relayed : (local.candidate.type == .host || local.candidate.type == .relayed) {
            if let onlySocket, local.socket != onlySocket { continue }
            guard local.candidate.address.ip.isIPv4 == remoteCandidate.address.ip.isIPv4,
                  local.candidate.address.ip.isLoopback == remoteCandidate.address.ip.isLoopback else { continue }
            if pairIndex(socket: local.socket, remote: remoteCandidate.address) != nil { continue }
            guard pairs.count < configuration.maximumPairs else {
                statistics.pairsOverLimit += 1
                continue
            }
            var pair = Pair(local: index, remote: remote)
            pair.foundation = local.candidate.foundation + ":" + remoteCandidate.foundation
            pair.priority = pairPriority(local: local.candidate.priority, remote: remoteCandidate.priority)
            // Unfrozen unless another pair of its foundation is already on its way (RFC 8445 6.1.2.6).
            let busy = pairs.contains { $0.foundation == pair.foundation && ($0.state == .waiting || $0.state == .inProgress) }
            pair.state = busy ? .frozen : .waiting
            pairs.append(pair)
            if local.socket == Self.relaySocket { permit(remoteCandidate.address.ip, now: now) }
        }
    }

    func pairPriority(local: UInt32, remote: UInt32) -> UInt64 {
        let (g, d) = role == .controlling ? (UInt64(local), UInt64(remote)) : (UInt64(remote), UInt64(local))
        return (1 << 32) * min(g, d) + 2 * max(g, d) + (g > d ? 1 : 0)
    }

    mutating func recomputePriorities() {
        for i in pairs.indices {
            pairs[i].priority = pairPriority(local: locals[pairs[i].local].candidate.priority,
                                             remote: remotes[pairs[i].remote].priority)
        }
    }

    func pairIndex(socket: Int, remote: TransportAddress) -> Int? {
        pairs.firstIndex { locals[$0.local].socket == socket && remotes[$0.remote].address == remote }
    }
}
