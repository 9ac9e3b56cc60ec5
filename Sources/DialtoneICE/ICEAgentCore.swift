/// The ICE agent (RFC 8445, full, with trickle per RFC 8838 and consent per RFC 7675) as a state
/// machine without sockets or clocks: the driver (`ICEAgent`) feeds it datagrams, remote
/// candidates and timer ticks with the time, and carries out the actions it returns.

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
    public private(set) var role: ICERole
    public let tieBreaker: UInt64
    public private(set) var localUfrag: String
    public private(set) var localPassword: String
    public private(set) var remoteUfrag: String?
    public private(set) var remotePassword: String?
    public private(set) var state: ICEState = .new
    public private(set) var statistics = ICEStatistics()
    public private(set) var gatheringComplete = false
    public private(set) var remoteCandidatesComplete = false

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

    // MARK: Incoming datagrams

    public mutating func receive(_ bytes: [UInt8], from source: TransportAddress, socket: Int, now: ICETime) {
        guard state != .closed else { return }
        if turn != nil, socket == turnSocket, source == turn?.server, !isOurTransaction(bytes) {
            turn!.receive(bytes, now: now)
            flushTURN(now: now)
            return
        }
        switch PacketKind(bytes) {
        case .stun:
            receiveSTUN(bytes, from: source, socket: socket, now: now)
        case .dtls, .rtp:
            // Any validated pair may carry the peer's media (specs item 6); replies follow it
            // until a pair is nominated.
            if let index = pairIndex(socket: socket, remote: source),
               pairs[index].state == .succeeded || pairs[index].receivedAuthenticatedCheck {
                if selected == nil { fallbackRoute = (socket, source) }
                actions.append(.media(MediaPacket(kind: PacketKind(bytes), bytes: bytes)))
            } else {
                statistics.mediaDropped += 1
            }
        case .turnChannelData, .unknown:
            statistics.mediaDropped += 1
        }
    }

    mutating func receiveSTUN(_ bytes: [UInt8], from source: TransportAddress, socket: Int, now: ICETime) {
        let decoded: STUNDecoded
        do {
            decoded = try STUNMessage.decode(bytes)
        } catch {
            statistics.rejected.count(error)
            return
        }
        switch decoded.message.messageClass {
        case .request where decoded.message.method == .binding:
            receiveCheck(decoded, from: source, socket: socket, now: now)
        case .success, .error:
            receiveResponse(decoded, from: source, socket: socket, now: now)
        case .request, .indication:
            // Binding indications are keepalives; other methods are not ours to answer.
            break
        }
    }

    mutating func receiveCheck(_ decoded: STUNDecoded, from source: TransportAddress, socket: Int, now: ICETime) {
        let request = decoded.message
        statistics.checksReceived += 1
        // Unauthenticated answers go only where we have a pair: the peer learns what is wrong,
        // while a forged source address gets nothing (an error answer is larger than the
        // request, which would make us a reflector of 2.4 times what an attacker sends).
        let known = pairIndex(socket: socket, remote: source) != nil
        func refuse(code: Int, reason: String, extra: [STUNAttribute] = []) {
            guard known else {
                statistics.unansweredUnauthenticatedChecks += 1
                return
            }
            respondError(to: request, code: code, reason: reason, extra: extra, socket: socket, destination: source, sign: false)
        }
        if !decoded.unknownRequired.isEmpty {
            refuse(code: 420, reason: "Unknown Attribute", extra: [.unknownAttributes(decoded.unknownRequired)])
            return
        }
        // RFC 8489 9.1.3: missing credentials get 400, wrong ones 401; both are counted.
        guard let username = request.username, decoded.hasIntegrity else {
            let reason: STUNError = request.username == nil ? .missingUsername : .missingIntegrity
            statistics.rejected.count(reason)
            refuse(code: 400, reason: "Bad Request")
            return
        }
        guard username.hasPrefix(localUfrag + ":") else {
            statistics.rejected.count(.wrongUsername)
            refuse(code: 401, reason: "Unauthenticated")
            return
        }
        do {
            try decoded.verifyIntegrity(.shortTerm(localPassword))
        } catch {
            statistics.rejected.count(error)
            refuse(code: 401, reason: "Unauthenticated")
            return
        }
        guard let priority = request.priority else {
            statistics.rejected.count(.badAttribute(type: STUNAttributeType.priority))
            respondError(to: request, code: 400, reason: "Bad Request", socket: socket, destination: source, sign: true)
            return
        }

        // Role conflict (RFC 8445 7.3.1.1).
        if role == .controlling, let theirs = request.iceControlling {
            if tieBreaker >= theirs {
                respondError(to: request, code: 487, reason: "Role Conflict", socket: socket, destination: source, sign: true)
                return
            }
            switchRole(to: .controlled)
        } else if role == .controlled, let theirs = request.iceControlled {
            if tieBreaker >= theirs {
                switchRole(to: .controlling)
            } else {
                respondError(to: request, code: 487, reason: "Role Conflict", socket: socket, destination: source, sign: true)
                return
            }
        }

        var response = STUNMessage(method: .binding, class: .success, transactionID: request.transactionID,
                                   attributes: [.xorMappedAddress(source)])
        if let software = configuration.software { response.attributes.append(.software(software)) }
        emit(socket: socket, to: source, bytes: response.encode(integrity: .shortTerm(localPassword), fingerprint: true))

        // Peer-reflexive remote candidate (RFC 8445 7.3.1.3), within the bound on remotes.
        if !remotes.contains(where: { $0.address == source && $0.component == 1 }) {
            guard remotes.count < configuration.maximumRemoteCandidates else {
                statistics.remoteCandidatesOverLimit += 1
                return
            }
            prflxCount += 1
            remotes.append(ICECandidate(foundation: "prflx\(prflxCount)", component: 1, priority: priority,
                                        address: source, type: .peerReflexive))
            formPairs(remote: remotes.count - 1, onlySocket: socket, now: now)
        }
        guard let index = pairIndex(socket: socket, remote: source) else { return }
        pairs[index].receivedAuthenticatedCheck = true

        // Nomination as controlled: USE-CANDIDATE, or libwebrtc's NOMINATION (specs item 4).
        if role == .controlled, request.hasUseCandidate || request.nomination != nil {
            let value = request.nomination ?? 0
            if pairs[index].state == .succeeded {
                nominate(index, value: value, now: now)
            } else {
                pairs[index].nominateOnSuccess = max(pairs[index].nominateOnSuccess ?? 0, value)
            }
        }

        // The triggered (reverse) check (RFC 8445 7.3.1.4, specs item 2).
        switch pairs[index].state {
        case .succeeded, .inProgress:
            break
        case .frozen, .waiting, .failed:
            pairs[index].state = .waiting
            if !triggered.contains(index) { triggered.append(index) }
        }
    }

    mutating func respondError(to request: STUNMessage, code: Int, reason: String, extra: [STUNAttribute] = [],
                               socket: Int, destination: TransportAddress, sign: Bool) {
        let response = STUNMessage(method: request.method, class: .error, transactionID: request.transactionID,
                                   attributes: [.errorCode(code: code, reason: reason)] + extra)
        emit(socket: socket, to: destination,
             bytes: response.encode(integrity: sign ? .shortTerm(localPassword) : nil, fingerprint: true))
    }

    mutating func switchRole(to newRole: ICERole) {
        guard role != newRole else { return }
        role = newRole
        recomputePriorities()
        actions.append(.roleChanged(newRole))
    }

    mutating func receiveResponse(_ decoded: STUNDecoded, from source: TransportAddress, socket: Int, now: ICETime) {
        let response = decoded.message
        guard let transaction = transactions[response.transactionID] else {
            statistics.unmatchedResponses += 1
            return
        }
        switch transaction.kind {
        case .gather(let gatherSocket):
            guard source == transaction.destination, response.messageClass == .success,
                  let mapped = response.xorMappedAddress ?? response.mappedAddress,
                  let base = sockets[gatherSocket] else {
                statistics.unmatchedResponses += 1
                return
            }
            transactions[response.transactionID] = nil
            statistics.responsesReceived += 1
            if mapped != base, !locals.contains(where: { $0.candidate.address == mapped }),
               let host = locals.first(where: { $0.socket == gatherSocket && $0.candidate.type == .host }) {
                let candidate = ICECandidate(
                    foundation: foundation(type: .serverReflexive, base: base.ip, server: transaction.destination),
                    component: 1,
                    priority: ICECandidate.priority(type: .serverReflexive, localPreference: host.localPreference, component: 1),
                    address: mapped, type: .serverReflexive, relatedAddress: base)
                locals.append(LocalCandidate(candidate: candidate, socket: gatherSocket, localPreference: host.localPreference))
                actions.append(.localCandidate(candidate))
            }
            checkGatheringDone(now: now)

        case .check(let index, let nominatingCheck, let consent, let sentRole):
            guard let password = remotePassword else { return }
            do {
                try decoded.verifyIntegrity(.shortTerm(password))
            } catch {
                // A forged or corrupted answer must not end the real transaction.
                statistics.rejected.count(error)
                return
            }
            transactions[response.transactionID] = nil
            statistics.responsesReceived += 1
            guard index < pairs.count else { return }
            // Non-symmetric answers fail the pair (RFC 8445 7.2.5.2.1).
            guard source == transaction.destination, socket == transaction.socket else {
                pairs[index].state = .failed
                evaluateFailure()
                return
            }
            if response.messageClass == .error {
                if response.errorCode?.code == 487, !consent {
                    if role == sentRole { switchRole(to: role == .controlling ? .controlled : .controlling) }
                    pairs[index].state = .waiting
                    if !triggered.contains(index) { triggered.append(index) }
                } else if !consent {
                    pairs[index].state = .failed
                    if nominating == index { nominating = nil }
                    evaluateFailure()
                }
                return
            }
            pairs[index].lastConsent = now
            if consent { return }
            learnLocalPeerReflexive(response.xorMappedAddress, pair: index)
            let wasValid = pairs[index].state == .succeeded
            pairs[index].state = .succeeded
            if !wasValid {
                pairs[index].nextConsent = now + jittered(configuration.consentInterval)
                firstValidAt = firstValidAt ?? now
                let foundation = pairs[index].foundation
                for other in pairs.indices where pairs[other].foundation == foundation && pairs[other].state == .frozen {
                    pairs[other].state = .waiting
                }
            }
            if nominatingCheck && role == .controlling {
                nominate(index, value: 0, now: now)
            } else if role == .controlled, let value = pairs[index].nominateOnSuccess {
                nominate(index, value: value, now: now)
            }
            maybeNominate(now: now)
        }
    }

    mutating func nominate(_ index: Int, value: UInt32, now: ICETime) {
        pairs[index].nominated = true
        pairs[index].nominationValue = max(pairs[index].nominationValue, value)
        pairs[index].nominateOnSuccess = nil
        if nominating == index { nominating = nil }
        // Only nominated pairs are ever selected (specs item 1): the highest NOMINATION value,
        // then the highest priority.
        let best = pairs.indices
            .filter { pairs[$0].nominated && pairs[$0].state == .succeeded }
            .max { (pairs[$0].nominationValue, pairs[$0].priority) < (pairs[$1].nominationValue, pairs[$1].priority) }
        guard let best, best != selected else { return }
        selected = best
        fallbackRoute = nil
        if pairs[best].nextConsent == nil { pairs[best].nextConsent = now + jittered(configuration.consentInterval) }
        actions.append(.selectedPair(local: locals[pairs[best].local].candidate, remote: remotes[pairs[best].remote]))
        if state != .connected { setState(.connected) }
        // Media through the relay: a channel saves the 36 bytes of a Send indication per packet.
        if locals[pairs[best].local].socket == Self.relaySocket, turn != nil {
            let peer = remotes[pairs[best].remote].address
            channels[peer] = now
            turn!.bindChannel(to: peer, now: now)
            flushTURN(now: now)
        }
    }

    /// RFC 8445 7.2.5.3.1: the peer saw our check come from an address we did not know (a NAT
    /// between us): that address becomes a local peer-reflexive candidate, the pair's local
    /// side. It shares the socket, so nothing about sending changes; it is not signalled.
    mutating func learnLocalPeerReflexive(_ mapped: TransportAddress?, pair index: Int) {
        let local = locals[pairs[index].local]
        guard let mapped, local.socket != Self.relaySocket, mapped != local.candidate.address else { return }
        if let known = locals.firstIndex(where: { $0.socket == local.socket && $0.candidate.address == mapped }) {
            pairs[index].local = known
            return
        }
        let candidate = ICECandidate(
            foundation: foundation(type: .peerReflexive, base: local.candidate.address.ip, server: nil), component: 1,
            priority: ICECandidate.priority(type: .peerReflexive, localPreference: local.localPreference, component: 1),
            address: mapped, type: .peerReflexive, relatedAddress: local.candidate.address)
        locals.append(LocalCandidate(candidate: candidate, socket: local.socket, localPreference: local.localPreference))
        pairs[index].local = locals.count - 1
        statistics.localPeerReflexive += 1
    }

    func jittered(_ interval: Duration) -> Duration {
        // RFC 7675: 0.8–1.2 times the interval, so that consent checks do not synchronise.
        interval * Double.random(in: 0.8...1.2)
    }

    mutating func setState(_ newState: ICEState) {
        guard state != newState else { return }
        state = newState
        actions.append(.stateChanged(newState))
    }

    mutating func evaluateFailure() {
        guard state == .checking, remoteCandidatesComplete, selected == nil, remotePassword != nil else { return }
        let open = pairs.contains { $0.state != .failed }
        if !open {
            setState(.failed(reason: pairs.isEmpty ? "no candidate pairs" : "all connectivity checks failed"))
        }
    }

    // MARK: Time

    /// When `tick` must next run; nil when nothing is scheduled.
    public var nextDeadline: ICETime? {
        guard state != .closed else { return nil }
        var deadline: ICETime?
        func consider(_ t: ICETime?) { if let t { deadline = min(deadline ?? t, t) } }
        for transaction in transactions.values { consider(transaction.timer.deadline) }
        consider(turn?.nextDeadline)
        if turn?.relayedAddress != nil { consider(permissions.values.min().map { $0 + .seconds(240) }) }
        if remotePassword != nil, !triggered.isEmpty || pairs.contains(where: { $0.state == .waiting || $0.state == .frozen }) {
            consider(nextPacedCheck)
        }
        if !gatheringComplete { consider(gatheringDeadline) }
        if role == .controlling, selected == nil, nominating == nil, let first = firstValidAt, !configuration.aggressiveNomination {
            consider(first + configuration.nominationDelay)
        }
        if let selected, state == .connected {
            consider(pairs[selected].nextConsent)
            consider(pairs[selected].lastConsent.map { $0 + configuration.consentTimeout })
        }
        return deadline
    }

    public mutating func tick(now: ICETime) {
        guard state != .closed else { return }
        // Retransmissions and timeouts.
        for (id, var transaction) in transactions {
            guard let event = transaction.timer.fire(now: now) else { continue }
            switch event {
            case .retransmit:
                transactions[id] = transaction
                emit(socket: transaction.socket, to: transaction.destination, bytes: transaction.bytes)
            case .timedOut:
                transactions[id] = nil
                if case .check(let index, _, let consent, _) = transaction.kind, !consent, index < pairs.count,
                   pairs[index].state == .inProgress {
                    pairs[index].state = .failed
                    if nominating == index { nominating = nil }
                }
            }
        }
        if turn != nil {
            turn!.tick(now: now)
            // Permissions last 300 s (RFC 8656 9); renew well before.
            for (ip, granted) in permissions where now >= granted + .seconds(240) { permit(ip, now: now, renew: true) }
            // Channels last 600 s (RFC 8656 12); rebinding refreshes them.
            for (peer, bound) in channels where now >= bound + .seconds(480) {
                channels[peer] = now
                turn!.bindChannel(to: peer, now: now)
            }
            flushTURN(now: now)
        }
        checkGatheringDone(now: now)
        evaluateFailure()
        guard state == .checking || state == .connected, remotePassword != nil else { return }

        // Consent freshness on the selected pair (RFC 7675).
        if let selected, state == .connected {
            if let last = pairs[selected].lastConsent, now >= last + configuration.consentTimeout {
                setState(.failed(reason: "consent expired: no answer to checks for \(configuration.consentTimeout)"))
                return
            }
            if let next = pairs[selected].nextConsent, now >= next {
                pairs[selected].nextConsent = now + jittered(configuration.consentInterval)
                sendCheck(selected, nominate: false, consent: true, now: now)
            }
        }

        maybeNominate(now: now)

        // One paced check per Ta: triggered first, then the best waiting, then the best frozen.
        guard now >= nextPacedCheck else { return }
        var next: Int?
        while !triggered.isEmpty {
            let candidate = triggered.removeFirst()
            if pairs[candidate].state == .waiting { next = candidate; break }
        }
        if next == nil {
            next = pairs.indices.filter { pairs[$0].state == .waiting }.max { pairs[$0].priority < pairs[$1].priority }
                ?? pairs.indices.filter { pairs[$0].state == .frozen }.max { pairs[$0].priority < pairs[$1].priority }
        }
        if let next {
            let nominate = role == .controlling && configuration.aggressiveNomination
            sendCheck(next, nominate: nominate, consent: false, now: now)
            nextPacedCheck = now + configuration.ta
        }
    }

    /// Regular nomination by the controlling agent: the best valid pair, once nothing better is
    /// still being checked or `nominationDelay` has passed since the first valid pair.
    mutating func maybeNominate(now: ICETime) {
        guard role == .controlling, !configuration.aggressiveNomination, selected == nil, nominating == nil,
              let best = pairs.indices.filter({ pairs[$0].state == .succeeded }).max(by: { pairs[$0].priority < pairs[$1].priority })
        else { return }
        let betterPending = pairs.contains {
            $0.priority > pairs[best].priority && ($0.state == .waiting || $0.state == .inProgress || $0.state == .frozen)
        }
        if !betterPending || now >= (firstValidAt ?? now) + configuration.nominationDelay {
            nominating = best
            sendCheck(best, nominate: true, consent: false, now: now)
        }
    }

    mutating func sendCheck(_ index: Int, nominate: Bool, consent: Bool, now: ICETime) {
        guard let remoteUfrag, let remotePassword else { return }
        let local = locals[pairs[index].local]
        var request = STUNMessage(method: .binding, class: .request, attributes: [
            .username("\(remoteUfrag):\(localUfrag)"),
            .priority(ICECandidate.priority(type: .peerReflexive, localPreference: local.localPreference, component: 1)),
            role == .controlling ? .iceControlling(tieBreaker) : .iceControlled(tieBreaker),
        ])
        if nominate { request.attributes.append(.useCandidate) }
        if let software = configuration.software { request.attributes.append(.software(software)) }
        let bytes = request.encode(integrity: .shortTerm(remotePassword), fingerprint: true)
        let destination = remotes[pairs[index].remote].address
        transactions[request.transactionID] = Transaction(
            kind: .check(pair: index, nominating: nominate, consent: consent, role: role), socket: local.socket,
            destination: destination, bytes: bytes,
            timer: STUNRetransmissionTimer(sentAt: now, parameters: configuration.checkRetransmission))
        if !consent, pairs[index].state != .succeeded { pairs[index].state = .inProgress }
        statistics.checksSent += 1
        emit(socket: local.socket, to: destination, bytes: bytes)
    }

    // MARK: Sending, TURN

    /// Every datagram leaves through here: the relayed candidate's are wrapped for the TURN server.
    mutating func emit(socket: Int, to destination: TransportAddress, bytes: [UInt8]) {
        guard socket == Self.relaySocket else {
            actions.append(.send(socket: socket, to: destination, bytes: bytes))
            return
        }
        guard let turn, let turnSocket else { return }
        actions.append(.send(socket: turnSocket, to: turn.server, bytes: turn.wrap(bytes, to: destination)))
    }

    mutating func permit(_ ip: IPAddress, now: ICETime, renew: Bool = false) {
        guard turn != nil, renew || permissions[ip] == nil else { return }
        permissions[ip] = now
        turn!.createPermission(for: [TransportAddress(ip: ip, port: 0)], now: now)
        flushTURN(now: now)
    }

    /// STUN server answers can come from the TURN server's address too; those are ours, not TURN's.
    func isOurTransaction(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 20, PacketKind(bytes) == .stun, let id = STUNTransactionID(bytes: Array(bytes[8..<20])) else { return false }
        return transactions[id] != nil
    }

    mutating func flushTURN(now: ICETime) {
        guard var client = turn, let turnSocket else { return }
        let outgoing = client.takeOutgoing()
        let events = client.takeEvents()
        turn = client
        for bytes in outgoing { actions.append(.send(socket: turnSocket, to: client.server, bytes: bytes)) }
        for event in events {
            switch event {
            case .allocated(let relayed, let mapped, _):
                turnAllocation = nil
                // A relay on an address we already have a candidate for: one per address.
                guard !locals.contains(where: { $0.candidate.address == relayed }) else {
                    checkGatheringDone(now: now)
                    continue
                }
                let candidate = ICECandidate(
                    foundation: foundation(type: .relayed, base: relayed.ip, server: client.server), component: 1,
                    priority: ICECandidate.priority(type: .relayed, localPreference: 65535, component: 1),
                    address: relayed, type: .relayed, relatedAddress: mapped)
                locals.append(LocalCandidate(candidate: candidate, socket: Self.relaySocket, localPreference: 65535))
                actions.append(.localCandidate(candidate))
                for remote in remotes.indices { formPairs(remote: remote, onlySocket: Self.relaySocket, now: now) }
                checkGatheringDone(now: now)
            case .failed(let operation, let reason) where operation == turnAllocation:
                turnAllocation = nil
                if !pendingTURNFallbacks.isEmpty {
                    // The relayed candidate comes later, trickled, if another way works.
                    actions.append(.turnFallback(pendingTURNFallbacks.removeFirst()))
                    _ = reason
                }
                checkGatheringDone(now: now)
            case .data(let peer, let bytes):
                receive(bytes, from: peer, socket: Self.relaySocket, now: now)
            case .succeeded, .failed, .deallocated:
                break
            }
        }
    }

    /// Sends a media packet on `mediaRoute()`.
    public mutating func sendMedia(_ bytes: [UInt8], now: ICETime) throws(ICEError) {
        guard let route = mediaRoute() else { throw state == .closed ? .closed : .notConnected }
        emit(socket: route.socket, to: route.to, bytes: bytes)
    }

    // MARK: Media, restart, close

    /// Where an outgoing media packet goes: the selected (nominated) pair, else back the way
    /// the peer's validated media came.
    public func mediaRoute() -> (socket: Int, to: TransportAddress)? {
        if let selected, state == .connected {
            return (locals[pairs[selected].local].socket, remotes[pairs[selected].remote].address)
        }
        if case .failed = state { return nil }
        if state == .closed { return nil }
        return fallbackRoute
    }

    /// ICE restart (RFC 8445 9): new local credentials, remote state forgotten, sockets and local
    /// candidates kept. Media keeps flowing on the old selection until a new pair is nominated.
    public mutating func restart(now: ICETime) {
        guard state != .closed else { return }
        if let route = mediaRoute() { fallbackRoute = route }
        localUfrag = Self.randomToken(8)
        localPassword = Self.randomToken(24)
        remoteUfrag = nil
        remotePassword = nil
        remotes.removeAll()
        pairs.removeAll()
        triggered.removeAll()
        transactions = transactions.filter { if case .gather = $0.value.kind { true } else { false } }
        selected = nil
        nominating = nil
        firstValidAt = nil
        remoteCandidatesComplete = false
        state = .new
        setState(.checking)
    }

    public mutating func close() {
        if turn?.relayedAddress != nil {
            turn!.refresh(lifetime: 0, now: .zero)
            flushTURN(now: .zero)
        }
        transactions.removeAll()
        triggered.removeAll()
        setState(.closed)
    }
}
