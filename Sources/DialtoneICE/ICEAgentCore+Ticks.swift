/// The agent's clock: pacing of checks, consent freshness (RFC 7675), sending through TURN,
/// and restart and close.

extension ICEAgentCore {
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

