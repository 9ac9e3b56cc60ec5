import DialtoneICE
import DialtoneMedia
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging

/// Everything about calls between the XMPP connection and the media: XEP-0353 ringing,
/// XEP-0166/0167/0176/0320 sessions, and the lifetime of each call's `CallMedia`.
///
/// Every stanza is checked against the call it claims to belong to: JMI replies only from the
/// peer we proposed to (or from our own devices), Jingle actions only from the device the
/// session runs with. Anything else gets an error reply or is dropped, never acted on.
public actor CallManager {
    public struct Configuration: Sendable {
        public var media = CallMediaConfiguration()
        /// How long a propose rings before it is given up (XEP-0353 leaves this to clients).
        public var ringTimeout: Duration = .seconds(30)
        /// How long after proceed (or accept) the session may take to be set up.
        public var setupTimeout: Duration = .seconds(30)
        /// Take STUN and TURN servers from our server (XEP-0215) where the configuration names none.
        public var useExternalServices = true
        /// An ALSA PCM to ring on for incoming calls (a speaker while the headset is on); nil: the bell only.
        public var ringDevice: String?
        public init() {}
    }

    private let signalling: CallSignalling
    private let configuration: Configuration
    private let logger: Logger
    private var calls: [String: ActiveCall] = [:]
    private var subscribers: [Int: AsyncStream<CallEvent>.Continuation] = [:]
    private var nextSubscriber = 0
    /// Proposes seen while catching up on the archive, by id, until something settles them.
    private var archivedProposals: [String: CallInfo] = [:]
    private var settledInArchive: Set<String> = []

    public init(signalling: CallSignalling, configuration: Configuration = Configuration(),
                logger: Logger = Logger(label: "dialtone.calls")) {
        self.signalling = signalling
        self.configuration = configuration
        self.logger = logger
    }

    public func events() -> AsyncStream<CallEvent> {
        let (stream, continuation) = AsyncStream<CallEvent>.makeStream(bufferingPolicy: .unbounded)
        nextSubscriber += 1
        let id = nextSubscriber
        subscribers[id] = continuation
        continuation.onTermination = { [weak self] _ in Task { await self?.unsubscribe(id) } }
        return stream
    }

    private func unsubscribe(_ id: Int) { subscribers[id] = nil }

    public func call(_ id: String) -> CallInfo? { calls[id]?.info }
    public var activeCalls: [CallInfo] { calls.values.map(\.info).filter { $0.state != .ended } }

    /// The call's RTP statistics: live while it runs, the last figures once it ended.
    public func statistics(_ id: String) async -> CallStatistics? {
        guard let call = calls[id] else { return nil }
        if let media = call.media, let live = await media.statistics { return live }
        return call.lastStatistics
    }

    // MARK: Commands

    /// Rings every device of `peer` (XEP-0353 propose to the bare JID) and returns the call's id.
    public func place(to peer: JID) async throws -> String {
        guard await signalling.ownAddress() != nil else { throw CallError.offline }
        let id = Self.newSessionID()
        let call = ActiveCall(info: CallInfo(id: id, peer: peer.bare, direction: .outgoing, state: .proposing))
        calls[id] = call
        publish(call)
        // Gathering starts now so that candidates are ready when the callee proceeds.
        do {
            try await startMedia(call, role: .controlling)
        } catch {
            end(call, outcome: .failed, reason: "\(error)")
            throw error
        }
        let propose = MessageInitiation(id: id, action: .propose(media: ["audio"]))
        try await signalling.send(propose.message(to: peer.bare, stanzaID: newStanzaID()))
        call.timer = Task { [weak self, ringTimeout = configuration.ringTimeout] in
            try? await Task.sleep(for: ringTimeout)
            guard !Task.isCancelled else { return }
            await self?.ringTimedOut(id)
        }
        return id
    }

    /// Answers a ringing call: XEP-0353 accept (to our own devices) and proceed (to the caller),
    /// or a session-accept when the call came as a bare Jingle session-initiate.
    public func answer(_ id: String) async throws {
        let call = try existing(id)
        guard call.info.direction == .incoming, call.info.state == .incoming, let remote = call.info.remote else {
            throw CallError.wrongState("Only a ringing incoming call can be answered.")
        }
        guard let own = await signalling.ownAddress() else { throw CallError.offline }
        call.timer?.cancel()
        call.info.state = .connecting
        publish(call)
        do {
            try await startMedia(call, role: .controlled)
        } catch {
            await terminate(call, reason: JingleReason(.failedApplication, text: "\(error)"), outcome: .failed)
            throw error
        }
        if let offer = call.pendingOffer {
            call.pendingOffer = nil
            await acceptOffer(offer, for: call)
            return
        }
        try await signalling.send(MessageInitiation(id: id, action: .accept).message(to: own.bare, stanzaID: newStanzaID()))
        try await signalling.send(MessageInitiation(id: id, action: .proceed).message(to: remote, stanzaID: newStanzaID()))
        call.timer = Task { [weak self, setupTimeout = configuration.setupTimeout] in
            try? await Task.sleep(for: setupTimeout)
            guard !Task.isCancelled else { return }
            await self?.setupTimedOut(id)
        }
    }

    /// Refuses a ringing call (`busy` for a second call while in one).
    public func decline(_ id: String, busy: Bool = false) async throws {
        let call = try existing(id)
        guard call.info.direction == .incoming, call.info.state == .incoming, let remote = call.info.remote else {
            throw CallError.wrongState("Only a ringing incoming call can be declined.")
        }
        let reason = JingleReason(busy ? .busy : .decline)
        if call.pendingOffer != nil {
            await terminate(call, reason: reason, outcome: busy ? .busy : .declined)
            return
        }
        // To the caller's bare JID: all its devices stop, and our carbons tell our other devices.
        try? await signalling.send(MessageInitiation(id: id, action: .reject(reason)).message(to: remote.bare, stanzaID: newStanzaID()))
        end(call, outcome: busy ? .busy : .declined, reason: reason.description)
    }

    /// Ends a call in any state: retracts a propose, declines a ringing call, terminates a session.
    public func hangUp(_ id: String) async throws {
        let call = try existing(id)
        switch call.info.state {
        case .ended:
            return
        case .incoming:
            try await decline(id)
        case .proposing where !call.sessionSent, .ringing where !call.sessionSent:
            let reason = JingleReason(.cancel)
            try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
            end(call, outcome: .cancelled, reason: "cancelled")
        default:
            await terminate(call, reason: JingleReason(.success), outcome: call.info.connectedAt == nil ? .cancelled : .completed)
        }
    }

    /// Sends RFC 4733 digits on a connected call; returns the characters that are not digits.
    @discardableResult
    public func sendDTMF(_ id: String, digits: String) async throws -> [Character] {
        let call = try existing(id)
        guard call.info.state == .connected, let media = call.media else { throw CallError.notConnected }
        return await media.sendDTMF(digits)
    }

    /// Sends silence instead of the microphone (and tells the peer, XEP-0167 session-info).
    public func setMuted(_ id: String, _ muted: Bool) async throws {
        let call = try existing(id)
        guard call.info.state == .connected, let media = call.media else { throw CallError.notConnected }
        await media.setMuted(muted || call.info.held)
        call.info.muted = muted
        publish(call)
        await sendInfo(muted ? "mute" : "unmute", content: true, for: call)
    }

    /// Hold: silence both ways, and the peer is told (it may play music or show "on hold").
    public func setHeld(_ id: String, _ held: Bool) async throws {
        let call = try existing(id)
        guard call.info.state == .connected, let media = call.media else { throw CallError.notConnected }
        await media.setHeld(held)
        call.info.held = held
        publish(call)
        await sendInfo(held ? "hold" : "active", content: false, for: call)
    }

    /// Moves the call's audio to other PCMs, e.g. to a headset plugged in mid-call.
    public func switchDevices(_ id: String, capture: String?, playback: String?) async throws {
        let call = try existing(id)
        guard call.info.state == .connected, let media = call.media else { throw CallError.notConnected }
        try await media.switchDevices(capture: capture, playback: playback)
    }

    /// Capture and playback levels (0…1) of a connected call.
    public func levels(_ id: String) async -> (capture: Double, playback: Double)? {
        await calls[id]?.media?.levels
    }

    private func sendInfo(_ name: String, content: Bool, for call: ActiveCall) async {
        guard let remote = call.info.remote else { return }
        var element = XMLElement(name, namespace: JingleNamespace.rtpInfo)
        if content {
            element[attribute: "creator"] = call.contentCreator
            element[attribute: "name"] = call.contentName
        }
        var jingle = JingleAction(.sessionInfo, sid: call.info.id, initiator: call.initiator).element
        jingle.append(element)
        _ = try? await signalling.request(.iq(.set, id: newStanzaID(), to: remote, payload: jingle))
    }

    /// Ends every call (the account is going away).
    public func hangUpAll() async {
        for id in calls.keys { try? await hangUp(id) }
    }

    // MARK: Incoming stanzas

    /// Where a message with a XEP-0353 element came from, as the client validated it.
    public enum Origin: Sendable { case live, carbon, archive }

    /// A message carrying a XEP-0353 element. `outgoing` is true for our own messages (sent
    /// carbons, our archive): what one of our other devices did.
    public func handle(_ initiation: MessageInitiation, from: JID?, to: JID?, outgoing: Bool, origin: Origin, at timestamp: Date) async {
        guard let own = await signalling.ownAddress() else { return }
        if origin == .archive {
            noteArchived(initiation, from: from, to: to, outgoing: outgoing, at: timestamp)
            return
        }
        guard let from else { return }
        let fromOurOtherDevice = from.bare == own.bare && from != own
        if fromOurOtherDevice || outgoing {
            ourOtherDevice(did: initiation)
            return
        }
        guard from.bare != own.bare else { return } // our own echo
        switch initiation.action {
        case .propose(let media):
            guard calls[initiation.id] == nil, media.contains("audio"), from.isFull else { return }
            let call = ActiveCall(info: CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .incoming))
            call.info.remote = from
            calls[initiation.id] = call
            publish(call)
            try? await signalling.send(MessageInitiation(id: initiation.id, action: .ringing).message(to: from, stanzaID: newStanzaID()))
        case .ringing:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing else { return }
            call.info.state = .ringing
            publish(call)
        case .proceed:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing || call.info.state == .ringing, from.isFull else { return }
            call.timer?.cancel()
            call.info.remote = from
            call.info.state = .connecting
            publish(call)
            await initiateSession(call)
        case .reject(let reason):
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state != .ended, !call.sessionSent else { return }
            let busy = reason?.condition == .busy
            end(call, outcome: busy ? .busy : .declined, reason: (reason ?? JingleReason(.decline)).description)
        case .retract(let reason):
            guard let call = calls[initiation.id], call.info.direction == .incoming, from.bare == call.info.peer,
                  call.info.state == .incoming || (call.info.state == .connecting && !call.sessionReceived) else { return }
            end(call, outcome: .missed, reason: reason.map { "missed (\($0.description))" } ?? "missed")
        case .finish(let reason):
            guard let call = calls[initiation.id], from.bare == call.info.peer, call.info.state != .ended else { return }
            await terminate(call, reason: reason ?? JingleReason(.success), outcome: call.info.connectedAt == nil ? .failed : .completed, notify: false)
        case .accept:
            return
        }
    }

    /// An iq set with a `<jingle/>` from anyone: answered here (result or error), always.
    public func handle(request iq: XMLElement) async {
        let action: JingleAction
        do {
            action = try JingleAction(iq: iq)
        } catch {
            logger.info("malformed Jingle: \(error)")
            try? await signalling.send(iq.jingleError(.badRequest))
            return
        }
        guard let from = iq.fromAddress.jid, from.isFull else {
            try? await signalling.send(iq.jingleError(.badRequest))
            return
        }
        if action.kind == .sessionInitiate {
            await received(initiate: action, iq: iq, from: from)
            return
        }
        guard let call = calls[action.sid], call.info.remote == from, call.info.state != .ended else {
            try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "item-not-found"), jingleCondition: "unknown-session"))
            return
        }
        switch action.kind {
        case .sessionAccept:
            guard call.info.direction == .outgoing, call.sessionSent, !call.sessionReceived else {
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "unexpected-request"), jingleCondition: "out-of-order"))
                return
            }
            try? await signalling.send(iq.iqReply())
            await applyAnswer(action, to: call)
        case .transportInfo:
            try? await signalling.send(iq.iqReply())
            await addRemoteCandidates(action, to: call)
        case .sessionTerminate:
            try? await signalling.send(iq.iqReply())
            let reason = action.reason ?? JingleReason(.success)
            let outcome: CallInfo.Outcome = switch reason.condition {
            case .success: call.info.connectedAt == nil ? (call.info.direction == .incoming ? .missed : .failed) : .completed
            case .decline: .declined
            case .busy: .busy
            case .cancel, .gone, .timeout, .expired: call.info.connectedAt == nil ? (call.info.direction == .incoming ? .missed : .unanswered) : .completed
            default: .failed
            }
            await stopMedia(call)
            end(call, outcome: outcome, reason: reason.description)
        case .sessionInfo:
            if action.info.contains("ringing"), call.info.state == .proposing {
                call.info.state = .ringing
                publish(call)
            }
            try? await signalling.send(iq.iqReply())
        default:
            try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "feature-not-implemented"), jingleCondition: "unsupported-info"))
        }
    }

    /// The archive catch-up is over: proposes nobody answered are missed calls.
    public func archiveCaughtUp() {
        for (id, info) in archivedProposals where !settledInArchive.contains(id) && calls[id] == nil {
            var missed = info
            missed.state = .ended
            missed.outcome = .missed
            missed.reason = "missed while offline"
            missed.endedAt = info.startedAt
            broadcast(.updated(missed))
        }
        archivedProposals = [:]
        settledInArchive = []
    }

    // MARK: Session set-up

    private func received(initiate action: JingleAction, iq: XMLElement, from: JID) async {
        if let call = calls[action.sid] {
            // After our proceed: the session JMI announced, from the device we proceeded to.
            guard call.info.direction == .incoming, call.info.remote == from, !call.sessionReceived, call.info.state == .connecting else {
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "unexpected-request"), jingleCondition: "out-of-order"))
                return
            }
            try? await signalling.send(iq.iqReply())
            call.timer?.cancel()
            await acceptOffer(action, for: call)
            return
        }
        // A session without a propose (older clients, gateways): it rings like one.
        try? await signalling.send(iq.iqReply())
        let call = ActiveCall(info: CallInfo(id: action.sid, peer: from.bare, direction: .incoming, state: .incoming))
        call.info.remote = from
        call.pendingOffer = action
        calls[action.sid] = call
        publish(call)
        if let refusal = Self.refusal(of: action) {
            await terminate(call, reason: refusal, outcome: .failed)
            return
        }
        let ringing = JingleAction(.sessionInfo, sid: action.sid, initiator: action.initiator, info: ["ringing"])
        _ = try? await signalling.request(ringing.iq(to: from, id: newStanzaID()))
    }

    /// Why an offer cannot be taken, if it cannot: no audio we decode, no fingerprint to check
    /// DTLS against (Conversations refuses those too), or no ICE-UDP transport.
    static func refusal(of offer: JingleAction) -> JingleReason? {
        guard let content = offer.audio, let description = content.description else {
            return JingleReason(.unsupportedApplications, text: "no audio content")
        }
        guard description.opus != nil else { return JingleReason(.incompatibleParameters, text: "no Opus") }
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

    private func startMedia(_ call: ActiveCall, role: ICERole) async throws {
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
    private func mediaConfiguration() async -> CallMediaConfiguration {
        var media = configuration.media
        guard configuration.useExternalServices, media.ice.stunServer == nil || media.ice.turnServer == nil else { return media }
        let services = await signalling.externalServices()
        if media.ice.stunServer == nil,
           let stun = services.first(where: { $0.type == "stun" && $0.transport == "udp" }),
           let address = TransportAddress(stun.address, stun.port) {
            media.ice.stunServer = address
        }
        if media.ice.turnServer == nil,
           let turn = services.first(where: { $0.type == "turn" && $0.transport == "udp" && $0.username != nil && $0.password != nil }),
           let address = TransportAddress(turn.address, turn.port), let username = turn.username, let password = turn.password {
            media.ice.turnServer = TURNServerConfiguration(address: address, username: username, password: password)
        }
        if !services.isEmpty { logger.debug("ICE servers from XEP-0215: stun \(media.ice.stunServer.map { "\($0)" } ?? "-"), turn \(media.ice.turnServer.map { "\($0.address)" } ?? "-")") }
        return media
    }

    private func iceEvent(_ event: ICEEvent, call id: String) async {
        guard let call = calls[id], call.info.state != .ended else { return }
        switch event {
        case .localCandidate(let candidate):
            guard call.trickle else { return }
            if call.sessionSent || (call.info.direction == .incoming && call.sessionReceived && call.acceptSent) {
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
    private func initiateSession(_ call: ActiveCall) async {
        guard let remote = call.info.remote, let media = call.media, let own = await signalling.ownAddress() else { return }
        let features = await signalling.features(remote)
        call.trickle = !features.contains(JingleNamespace.noTrickle)
        let candidates = call.trickle ? await media.agent.localCandidates : await media.agent.gatherAll()
        call.pendingCandidates = []
        let credentials = await media.agent.localCredentials
        let transport = ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password, candidates: candidates,
                                        fingerprint: DTLSFingerprint(setup: "actpass", value: media.identity.sha256Fingerprint))
        let content = JingleContent(creator: "initiator", name: "0", senders: "both",
                                    description: RTPDescription(payloadTypes: [.opus, .telephoneEvent]), transport: transport)
        let initiate = JingleAction(.sessionInitiate, sid: call.info.id, initiator: own, contents: [content], bundle: ["0"])
        call.initiator = own
        call.contentName = "0"
        call.contentCreator = "initiator"
        call.sessionSent = true
        call.timer = Task { [weak self, id = call.info.id, setupTimeout = configuration.setupTimeout] in
            try? await Task.sleep(for: setupTimeout)
            guard !Task.isCancelled else { return }
            await self?.setupTimedOut(id)
        }
        do {
            _ = try await signalling.request(initiate.iq(to: remote, id: newStanzaID()))
        } catch {
            await stopMedia(call)
            end(call, outcome: .failed, reason: "the other side refused the session: \(error)")
            return
        }
        // Candidates found while the initiate was on its way.
        let late = call.pendingCandidates
        call.pendingCandidates = []
        if !late.isEmpty { await sendCandidates(late, for: call) }
    }

    /// Incoming: takes the caller's offer and answers it with a session-accept.
    private func acceptOffer(_ offer: JingleAction, for call: ActiveCall) async {
        call.sessionReceived = true
        if let refusal = Self.refusal(of: offer) {
            await terminate(call, reason: refusal, outcome: .failed)
            return
        }
        guard let remote = call.info.remote, let media = call.media, let own = await signalling.ownAddress(),
              let content = offer.audio, let description = content.description, let opus = description.opus,
              let transport = content.transport, let fingerprint = transport.fingerprint,
              let role = DTLSRole.answering(offered: fingerprint.setup) else { return }
        call.initiator = offer.initiator ?? remote
        call.contentName = content.name
        call.contentCreator = content.creator
        await media.agent.setRemoteCredentials(ufrag: transport.ufrag ?? "", password: transport.password ?? "")
        for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }

        let features = await signalling.features(remote)
        call.trickle = !features.contains(JingleNamespace.noTrickle)
        let candidates = call.trickle ? await media.agent.localCandidates : await media.agent.gatherAll()
        call.pendingCandidates = []
        let credentials = await media.agent.localCredentials
        let telephoneEvent = description.telephoneEvent
        let answer = JingleContent(
            creator: content.creator, name: content.name, senders: content.senders ?? "both",
            description: RTPDescription(payloadTypes: [opus] + (telephoneEvent.map { [$0] } ?? []), rtcpMux: true),
            transport: ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password, candidates: candidates,
                                       fingerprint: DTLSFingerprint(setup: role == .active ? "active" : "passive",
                                                                    value: media.identity.sha256Fingerprint)))
        let accept = JingleAction(.sessionAccept, sid: call.info.id, initiator: call.initiator, responder: own,
                                  contents: [answer], bundle: offer.bundle.isEmpty ? [] : [content.name])
        do {
            _ = try await signalling.request(accept.iq(to: remote, id: newStanzaID()))
        } catch {
            await stopMedia(call)
            end(call, outcome: .failed, reason: "the caller refused our answer: \(error)")
            return
        }
        call.acceptSent = true
        call.info.acceptedAt = Date()
        let late = call.pendingCandidates
        call.pendingCandidates = []
        if !late.isEmpty { await sendCandidates(late, for: call) }
        startConnecting(call.info.id, NegotiatedMedia(opus: opus, telephoneEvent: telephoneEvent,
                                                      remoteFingerprint: fingerprint.value, dtlsRole: role))
    }

    /// Outgoing: the callee's session-accept.
    private func applyAnswer(_ answer: JingleAction, to call: ActiveCall) async {
        call.sessionReceived = true
        call.info.acceptedAt = Date()
        call.timer?.cancel()
        guard let media = call.media else { return }
        guard let content = answer.audio, let description = content.description, let opus = description.opus,
              let transport = content.transport else {
            await terminate(call, reason: JingleReason(.incompatibleParameters, text: "no Opus audio in the answer"), outcome: .failed)
            return
        }
        guard let fingerprint = transport.fingerprint, let role = DTLSRole.offering(answered: fingerprint.setup) else {
            await terminate(call, reason: JingleReason(.securityError, text: "no usable DTLS fingerprint in the answer"), outcome: .failed)
            return
        }
        await media.agent.setRemoteCredentials(ufrag: transport.ufrag ?? "", password: transport.password ?? "")
        for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }
        startConnecting(call.info.id, NegotiatedMedia(opus: opus, telephoneEvent: description.telephoneEvent,
                                                      remoteFingerprint: fingerprint.value, dtlsRole: role))
    }

    private func addRemoteCandidates(_ action: JingleAction, to call: ActiveCall) async {
        guard let media = call.media else { return }
        for content in action.contents {
            guard let transport = content.transport else { continue }
            if let ufrag = transport.ufrag, let password = transport.password, !call.sessionReceived || call.info.direction == .incoming {
                // Credentials may come with the first trickled candidates, before the accept.
                await media.agent.setRemoteCredentials(ufrag: ufrag, password: password)
            }
            for candidate in transport.candidates { await media.agent.addRemoteCandidate(candidate) }
        }
    }

    /// ICE and DTLS run on their own: the stanzas that let them finish (trickled candidates)
    /// must still be handled meanwhile.
    private func startConnecting(_ id: String, _ negotiated: NegotiatedMedia) {
        Task { await self.connectMedia(id, negotiated) }
    }

    private func connectMedia(_ id: String, _ negotiated: NegotiatedMedia) async {
        guard let call = calls[id], let media = call.media else { return }
        call.info.codec = "opus/48000" + (negotiated.telephoneEvent.map { ", telephone-event/\($0.clockRate)" } ?? "")
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
        guard let call = calls[id], call.info.state != .ended else { return }
        call.info.state = .connected
        call.info.connectedAt = Date()
        if let pair = await media.agent.selectedPair {
            call.info.path = "\(pair.local.type.rawValue) → \(pair.remote.type.rawValue)"
        }
        publish(call)
    }

    private func sendCandidates(_ candidates: [ICECandidate], for call: ActiveCall) async {
        guard let remote = call.info.remote, let media = call.media else { return }
        let credentials = await media.agent.localCredentials
        for candidate in candidates {
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

    // MARK: Endings

    private func ringTimedOut(_ id: String) async {
        guard let call = calls[id], call.info.direction == .outgoing,
              call.info.state == .proposing || call.info.state == .ringing else { return }
        let reason = JingleReason(.timeout)
        try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
        await stopMedia(call)
        end(call, outcome: .unanswered, reason: "no answer")
    }

    private func setupTimedOut(_ id: String) async {
        guard let call = calls[id], call.info.state == .connecting else { return }
        await terminate(call, reason: JingleReason(.timeout, text: "the session was not set up in time"), outcome: .failed)
    }

    /// Ends a session we are in: session-terminate to the device, JMI finish to the peer.
    private func terminate(_ call: ActiveCall, reason: JingleReason, outcome: CallInfo.Outcome, notify: Bool = true) async {
        guard call.info.state != .ended else { return }
        // Marked first: nothing below may end it twice.
        let id = call.info.id
        end(call, outcome: outcome, reason: reason.description)
        if notify, let remote = call.info.remote {
            let terminate = JingleAction(.sessionTerminate, sid: id, initiator: call.initiator, reason: reason)
            if call.sessionSent || call.sessionReceived || call.pendingOffer != nil {
                try? await signalling.send(terminate.iq(to: remote, id: newStanzaID()))
            }
            try? await signalling.send(MessageInitiation(id: id, action: .finish(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
        }
    }

    private func stopMedia(_ call: ActiveCall) async {
        call.iceEvents?.cancel()
        call.timer?.cancel()
        let media = call.media
        call.media = nil
        if let media, let statistics = await media.statistics { call.lastStatistics = statistics }
        // A remote learnt as peer-reflexive may have been signalled since: name it as it is now.
        if let media, let pair = await media.agent.selectedPair {
            call.info.path = "\(pair.local.type.rawValue) → \(pair.remote.type.rawValue)"
        }
        await media?.stop()
    }

    private func end(_ call: ActiveCall, outcome: CallInfo.Outcome, reason: String) {
        guard call.info.state != .ended else { return }
        call.timer?.cancel()
        call.info.state = .ended
        call.info.outcome = outcome
        call.info.reason = reason
        call.info.endedAt = Date()
        if call.media != nil {
            // Statistics are kept before the media goes, and the ended state goes out after.
            let id = call.info.id
            Task { await self.stopMediaAndPublish(id) }
        } else {
            publish(call)
        }
    }

    private func stopMediaAndPublish(_ id: String) async {
        guard let call = calls[id] else { return }
        await stopMedia(call)
        publish(call)
    }

    private func ourOtherDevice(did initiation: MessageInitiation) {
        guard let call = calls[initiation.id], call.info.direction == .incoming, call.info.state == .incoming else { return }
        switch initiation.action {
        case .accept, .proceed: end(call, outcome: .elsewhere, reason: "answered on another device")
        case .reject: end(call, outcome: .elsewhere, reason: "declined on another device")
        default: break
        }
    }

    private func noteArchived(_ initiation: MessageInitiation, from: JID?, to: JID?, outgoing: Bool, at timestamp: Date) {
        switch initiation.action {
        case .propose(let media):
            guard !outgoing, let from, media.contains("audio") else { return }
            var info = CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .ended, startedAt: timestamp)
            info.remote = from
            archivedProposals[initiation.id] = info
        case .retract:
            return // still missed
        default:
            settledInArchive.insert(initiation.id)
        }
    }

    // MARK: Plumbing

    private func existing(_ id: String) throws -> ActiveCall {
        guard let call = calls[id] else { throw CallError.unknownCall(id) }
        return call
    }

    private func publish(_ call: ActiveCall) {
        broadcast(.updated(call.info))
    }

    private func broadcast(_ event: CallEvent) {
        for continuation in subscribers.values { continuation.yield(event) }
    }

    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}

/// One call's mutable state, confined to the manager's actor.
final class ActiveCall {
    var info: CallInfo
    var media: CallMedia?
    var iceEvents: Task<Void, Never>?
    var timer: Task<Void, Never>?
    /// The Jingle session's initiator, as every action repeats it.
    var initiator: JID?
    var contentName = "0"
    var contentCreator = "initiator"
    /// We sent session-initiate (outgoing) / received it (incoming).
    var sessionSent = false
    var sessionReceived = false
    var acceptSent = false
    /// False for peers announcing `urn:ietf:rfc:3264`: they get every candidate at once.
    var trickle = true
    var pendingCandidates: [ICECandidate] = []
    /// A session-initiate that came without a propose, waiting for the user.
    var pendingOffer: JingleAction?
    var lastStatistics: CallStatistics?

    init(info: CallInfo) {
        self.info = info
    }
}
