/// The agent's receive side: STUN connectivity checks (RFC 8445 §7.3), their responses,
/// role conflicts, nomination and failure.

extension ICEAgentCore {
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
}
