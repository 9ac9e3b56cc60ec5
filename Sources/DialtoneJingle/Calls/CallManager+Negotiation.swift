import DialtoneICE
import DialtoneMedia
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging

// Jingle (XEP-0166/0167/0176/0320): the session-initiate and -accept with their offers and
// answers, candidates both ways, the ICE servers a call uses, and connecting its media.

extension CallManager {
    // MARK: Session set-up

    func received(initiate action: JingleAction, iq: XMLElement, from: JID) async {
        if let call = calls[action.sid] {
            // After our proceed: the session JMI announced, from the device we proceeded to,
            // once. A call holding an offer already (a bare session-initiate being answered)
            // takes no second one.
            guard call.info.direction == .incoming, call.info.remote == from, call.phase == .proposed, call.info.state == .connecting else {
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "unexpected-request"), jingleCondition: "out-of-order"))
                return
            }
            try? await signalling.send(iq.iqReply())
            // Taken now: the session exists for the peer, and a hang-up meanwhile ends it.
            call.phase = .answering
            call.initiator = action.initiator ?? from
            var offer = action
            do {
                try await openOffer(&offer, for: call, from: from)
            } catch {
                await terminate(call, reason: JingleReason(.securityError, text: "\(error)"), outcome: .failed)
                return
            }
            guard call.info.state == .connecting else { return }
            await acceptOffer(offer, for: call)
            return
        }
        // A session without a propose (older clients, gateways): it rings like one, for
        // those who may call us.
        guard await signalling.mayCall(from.bare), !recentlyEnded.contains(action.sid) else {
            try? await signalling.send(iq.jingleError(.serviceUnavailable))
            return
        }
        try? await signalling.send(iq.iqReply())
        let call = ActiveCall(info: CallInfo(id: action.sid, peer: from.bare, direction: .incoming, state: .incoming))
        call.info.remote = from
        call.initiator = action.initiator ?? from
        var offer = action
        let opening: Error?
        do { try await openOffer(&offer, for: call, from: from); opening = nil } catch { opening = error }
        call.phase = .offerReceived(offer)
        calls[action.sid] = call
        publish(call)
        if let opening {
            await terminate(call, reason: JingleReason(.securityError, text: "\(opening)"), outcome: .failed)
            return
        }
        if let refusal = Self.refusal(of: offer) {
            await terminate(call, reason: refusal, outcome: .failed)
            return
        }
        armRingTimer(call)
        // Sent, not awaited: a peer that never answers must not hold up the call queue.
        let ringing = JingleAction(.sessionInfo, sid: action.sid, initiator: action.initiator, info: ["ringing"])
        try? await signalling.sendRequest(ringing.iq(to: from, id: newStanzaID()))
    }

    /// The caller's fingerprint opened where it came encrypted: our answer's then goes
    /// encrypted for the device that encrypted it.
    private func openOffer(_ offer: inout JingleAction, for call: ActiveCall, from: JID) async throws {
        guard let opened = try await openFingerprints(&offer, from: from) else { return }
        call.openedTheirs = opened
        call.sealingDevice = opened.device
    }

    /// Why an offer cannot be taken, if it cannot: no audio we decode, no fingerprint to check
    /// DTLS against (Conversations refuses those too), or no ICE-UDP transport.
    static func refusal(of offer: JingleAction) -> JingleReason? {
        guard let content = offer.audio, let description = content.description else {
            return JingleReason(.unsupportedApplications, text: "no audio content")
        }
        guard description.preferredAudio != nil else { return JingleReason(.incompatibleParameters, text: "neither Opus nor G.711") }
        guard let transport = content.transport else { return JingleReason(.unsupportedTransports, text: "no ICE-UDP transport") }
        guard let fingerprint = transport.fingerprint, fingerprint.hash == "sha-256", fingerprint.value.count == 32 else {
            return JingleReason(.securityError, text: "no DTLS fingerprint")
        }
        guard DTLSRole.answering(offered: fingerprint.setup) != nil else {
            return JingleReason(.securityError, text: "unknown DTLS setup \(fingerprint.setup)")
        }
        guard transport.ufrag != nil, transport.password != nil else {
            return JingleReason(.failedTransport, text: "no ICE credentials")
        }
        return nil
    }

    func startMedia(_ call: ActiveCall, role: ICERole) async throws {
        let media = try CallMedia(role: role, configuration: await mediaConfiguration(), logger: logger)
        call.media = media
        try await media.start()
        let id = call.info.id
        let events = media.agent.events
        call.iceEvents = Task { [weak self] in
            for await event in events {
                await self?.iceEvent(event, call: id)
            }
        }
    }

    /// The configured media settings, with the server's STUN and TURN filling what is missing.
    func mediaConfiguration() async -> CallMediaConfiguration {
        var media = configuration.media
        guard configuration.useExternalServices, media.ice.stunServer == nil || media.ice.turnServer == nil else { return media }
        let services = await signalling.externalServices()
        if media.ice.stunServer == nil,
           let stun = services.first(where: { $0.type == "stun" && $0.transport == "udp" }),
           let address = TransportAddress(stun.address, stun.port) {
            media.ice.stunServer = address
        }
        // UDP to the TURN server when offered, else TCP, else TLS ("turns", for networks that
        // let little but TLS out); a TLS server's certificate must carry its announced name.
        // Where UDP turns out to be blocked, the other ways the server announced, in order.
        let turns = services.compactMap(Self.turnConfiguration).enumerated()
            .sorted { ($0.element.transport.preference, $0.offset) < ($1.element.transport.preference, $1.offset) }.map(\.element)
        if media.ice.turnServer == nil, let primary = turns.first {
            media.ice.turnServer = primary
            media.ice.turnFallbacks = turns.dropFirst().filter { $0.transport != .udp }
        }
        if !services.isEmpty { logger.debug("ICE servers from XEP-0215: stun \(media.ice.stunServer.map { "\($0)" } ?? "-"), turn \(media.ice.turnServer.map { "\($0.address)" } ?? "-")") }
        return media
    }

    /// A XEP-0215 TURN service (`turn` over UDP or TCP, `turns`) with its credentials, as ICE takes it.
    static func turnConfiguration(_ service: ExternalService) -> TURNServerConfiguration? {
        guard service.type == "turn" || service.type == "turns", let username = service.username, let password = service.password,
              let address = TransportAddress(service.address, service.port) else { return nil }
        let transport: TURNTransport = service.type == "turns" ? .tls : (service.transport == "tcp" ? .tcp : .udp)
        return TURNServerConfiguration(address: address, username: username, password: password, transport: transport,
                                       serverName: service.host)
    }

    func iceEvent(_ event: ICEEvent, call id: String) async {
        guard let call = calls[id], call.info.state != .ended else { return }
        switch event {
        case .localCandidate(let candidate):
            guard call.trickle else { return }
            if call.phase.tricklesCandidates {
                await sendCandidates([candidate], for: call)
            } else {
                call.pendingCandidates.append(candidate)
            }
        case .selectedPair(let local, let remote):
            call.info.path = "\(local.type.rawValue) → \(remote.type.rawValue)"
            if call.info.state == .connected { publish(call) }
        case .stateChanged(.failed(let reason)):
            await terminate(call, reason: JingleReason(call.info.connectedAt == nil ? .failedTransport : .connectivityError, text: reason),
                            outcome: .failed)
        default:
            break
        }
    }

    /// Outgoing, after proceed: the session-initiate with our offer.
    func initiateSession(_ call: ActiveCall) async {
        guard let remote = call.info.remote, let media = call.media, let own = await signalling.ownAddress() else { return }
        let features = await signalling.features(remote)
        call.trickle = !features.contains(JingleNamespace.noTrickle)
        let candidates = call.trickle ? await media.agent.localCandidates : await media.agent.gatherAll()
        let credentials = await media.agent.localCredentials
        var transport = ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password,
                                        fingerprint: DTLSFingerprint(setup: "actpass", value: media.identity.sha256Fingerprint))
        await seal(&transport, for: call)
        // Hung up meanwhile (or while the fingerprint was encrypted): no session is started.
        guard call.info.state == .connecting, call.phase == .proposed else { return }
        call.pendingCandidates = call.pendingCandidates.filter { !candidates.contains($0) }
        transport.candidates = call.signalled.take(candidates)
        let content = JingleContent(creator: "initiator", name: "0", senders: "both",
                                    description: RTPDescription(payloadTypes: [.opus, .pcmu, .pcma, .telephoneEvent]), transport: transport)
        let initiate = JingleAction(.sessionInitiate, sid: call.info.id, initiator: own, contents: [content], bundle: ["0"])
        call.initiator = own
        call.contentName = "0"
        call.contentCreator = "initiator"
        // Offered before the request is out: candidates from now on follow it as transport-info.
        call.phase = .offered
        do {
            _ = try await signalling.request(initiate.iq(to: remote, id: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "the other side refused the session: \(error)")
            return
        }
        // Candidates found after the offer's list was taken and before it went out.
        let late = call.pendingCandidates
        call.pendingCandidates = []
        if !late.isEmpty { await sendCandidates(late, for: call) }
    }

    /// Incoming: takes the caller's offer and answers it with a session-accept.
    func acceptOffer(_ offer: JingleAction, for call: ActiveCall) async {
        // Taken at once, before anything is awaited: a second session-initiate is refused,
        // and other ICE credentials from the caller from now on are a restart.
        call.phase = .answering
        if let refusal = Self.refusal(of: offer) {
            await terminate(call, reason: refusal, outcome: .failed)
            return
        }
        guard let remote = call.info.remote, let media = call.media, let own = await signalling.ownAddress(),
              let content = offer.audio, let description = content.description, let opus = description.preferredAudio,
              let transport = content.transport, let fingerprint = transport.fingerprint,
              let role = DTLSRole.answering(offered: fingerprint.setup) else {
            await terminate(call, reason: JingleReason(.generalError, text: "the session could not be answered"), outcome: .failed)
            return
        }
        call.remoteUfrag = transport.ufrag
        call.initiator = offer.initiator ?? remote
        call.contentName = content.name
        call.contentCreator = content.creator
        await media.agent.setRemoteCredentials(ufrag: transport.ufrag ?? "", password: transport.password ?? "")
        for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }

        let features = await signalling.features(remote)
        call.trickle = !features.contains(JingleNamespace.noTrickle)
        let candidates = call.trickle ? await media.agent.localCandidates : await media.agent.gatherAll()
        let credentials = await media.agent.localCredentials
        var ours = ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password,
                                   fingerprint: DTLSFingerprint(setup: role == .active ? "active" : "passive",
                                                                value: media.identity.sha256Fingerprint))
        await seal(&ours, for: call)
        guard call.info.state == .connecting else { return }
        call.pendingCandidates = call.pendingCandidates.filter { !candidates.contains($0) }
        ours.candidates = call.signalled.take(candidates)
        let telephoneEvent = description.telephoneEvent
        let answer = JingleContent(
            creator: content.creator, name: content.name, senders: content.senders ?? "both",
            description: RTPDescription(payloadTypes: [opus] + (telephoneEvent.map { [$0] } ?? []), rtcpMux: true),
            transport: ours)
        let accept = JingleAction(.sessionAccept, sid: call.info.id, initiator: call.initiator, responder: own,
                                  contents: [answer], bundle: offer.bundle.isEmpty ? [] : [content.name])
        do {
            _ = try await signalling.request(accept.iq(to: remote, id: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "the caller refused our answer: \(error)")
            return
        }
        // The caller has our answer: candidates found meanwhile follow it, the rest trickle.
        call.phase = .accepted
        call.info.acceptedAt = Date()
        let late = call.pendingCandidates
        call.pendingCandidates = []
        if !late.isEmpty { await sendCandidates(late, for: call) }
        startConnecting(call.info.id, NegotiatedMedia(audio: opus, telephoneEvent: telephoneEvent,
                                                      remoteFingerprint: fingerprint.value, dtlsRole: role))
    }

    /// Outgoing: the callee's session-accept.
    func applyAnswer(_ answer: JingleAction, to call: ActiveCall) async {
        // Agreed whether or not the answer is usable: one that is not ends the session.
        call.phase = .accepted
        call.info.acceptedAt = Date()
        guard let media = call.media else { return }
        guard let content = answer.audio, let description = content.description, let opus = description.preferredAudio,
              let transport = content.transport else {
            await terminate(call, reason: JingleReason(.incompatibleParameters, text: "no Opus or G.711 audio in the answer"), outcome: .failed)
            return
        }
        guard let fingerprint = transport.fingerprint, fingerprint.hash == "sha-256", fingerprint.value.count == 32,
              let role = DTLSRole.offering(answered: fingerprint.setup) else {
            await terminate(call, reason: JingleReason(.securityError, text: "no usable DTLS fingerprint in the answer"), outcome: .failed)
            return
        }
        call.remoteUfrag = transport.ufrag ?? call.remoteUfrag
        await media.agent.setRemoteCredentials(ufrag: transport.ufrag ?? "", password: transport.password ?? "")
        for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }
        startConnecting(call.info.id, NegotiatedMedia(audio: opus, telephoneEvent: description.telephoneEvent,
                                                      remoteFingerprint: fingerprint.value, dtlsRole: role))
    }

    func addRemoteCandidates(_ action: JingleAction, to call: ActiveCall) async {
        guard let media = call.media else { return }
        for content in action.contents {
            guard let transport = content.transport else { continue }
            if let ufrag = transport.ufrag, let password = transport.password, call.remoteUfrag == nil {
                // Credentials may come with the first trickled candidates, before the accept.
                call.remoteUfrag = ufrag
                await media.agent.setRemoteCredentials(ufrag: ufrag, password: password)
            }
            for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }
        }
    }

    /// ICE and DTLS run on their own: the stanzas that let them finish (trickled candidates)
    /// must still be handled meanwhile.
    func startConnecting(_ id: String, _ negotiated: NegotiatedMedia) {
        Task { await self.connectMedia(id, negotiated) }
    }

    func connectMedia(_ id: String, _ negotiated: NegotiatedMedia) async {
        guard let call = calls[id], let media = call.media else { return }
        call.info.codec = "\(negotiated.audio.name)/\(negotiated.audio.clockRate)" + (negotiated.telephoneEvent.map { ", telephone-event/\($0.clockRate)" } ?? "")
        do {
            try await media.connect(negotiated) { [weak self] digit in
                Task { await self?.broadcast(.digit(callID: id, digit)) }
            }
        } catch {
            guard let call = calls[id], call.info.state != .ended else { return }
            let condition: JingleReason.Condition = switch error as? CallMediaError {
            case .dtls?: .securityError
            case .ice?: .failedTransport
            case .audio?: .mediaError
            default: .failedApplication
            }
            await terminate(call, reason: JingleReason(condition, text: "\(error)"), outcome: .failed)
            return
        }
        guard let call = calls[id], call.info.state != .ended else {
            // Ended while connecting: its media must not outlive it.
            await media.stop()
            return
        }
        call.timer?.cancel()
        call.info.state = .connected
        call.info.connectedAt = Date()
        if let pair = await media.agent.selectedPair {
            call.info.path = "\(pair.local.type.rawValue) → \(pair.remote.type.rawValue)"
        }
        publish(call)
    }

    func sendCandidates(_ candidates: [ICECandidate], for call: ActiveCall) async {
        guard let remote = call.info.remote, let media = call.media else { return }
        let credentials = await media.agent.localCredentials
        // A candidate the offer or answer already carried may still come as an event (the
        // agent's events lag its list): never signalled twice.
        for candidate in call.signalled.take(candidates) {
            let transport = ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password, candidates: [candidate])
            let info = JingleAction(.transportInfo, sid: call.info.id, initiator: call.initiator,
                                    contents: [JingleContent(creator: call.contentCreator, name: call.contentName, senders: nil,
                                                             transport: transport)])
            do {
                _ = try await signalling.request(info.iq(to: remote, id: newStanzaID()))
            } catch {
                logger.info("candidate not taken by \(remote): \(error)")
            }
        }
    }
}
