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
        /// How long an incoming call rings here before it counts as missed.
        public var incomingRingTimeout: Duration = .seconds(60)
        /// Ring for proposes from anyone, not only contacts (see `CallSignalling.mayCall`).
        public var callsFromAnyone = false
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
    /// The most missed calls one catch-up reports.
    static let archivedProposalLimit = 100
    /// Calls whose media is being stopped before their ended state goes out.
    private var settling: [String: Task<Void, Never>] = [:]
    private var recentlyEnded: Set<String> = []

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
        // Hung up while the sockets opened: nothing goes out.
        guard call.info.state == .proposing else {
            await stopMedia(call)
            throw CallError.wrongState("The call was ended before it rang.")
        }
        let propose = MessageInitiation(id: id, action: .propose(media: ["audio"]))
        do {
            try await signalling.send(propose.message(to: peer.bare, stanzaID: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "\(error)")
            throw error
        }
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
        armSetupTimer(call)
        do {
            try await startMedia(call, role: .controlled)
        } catch {
            await terminate(call, reason: JingleReason(.failedApplication, text: "\(error)"), outcome: .failed)
            throw error
        }
        // Retracted (or taken elsewhere) while the sockets opened.
        guard call.info.state == .connecting else {
            await stopMedia(call)
            throw CallError.wrongState("The call ended before it could be answered.")
        }
        if let offer = call.pendingOffer {
            call.pendingOffer = nil
            await acceptOffer(offer, for: call)
            return
        }
        do {
            try await signalling.send(MessageInitiation(id: id, action: .accept).message(to: own.bare, stanzaID: newStanzaID()))
            try await signalling.send(MessageInitiation(id: id, action: .proceed).message(to: remote, stanzaID: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "\(error)")
            throw error
        }
    }

    /// Set-up (proceed or accept → audio) has a deadline, ICE and DTLS included: a path that
    /// never works ends the call instead of leaving it connecting.
    private func armSetupTimer(_ call: ActiveCall) {
        call.timer?.cancel()
        let id = call.info.id
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
        case .proposing where !call.sessionSent, .ringing where !call.sessionSent,
             .connecting where call.info.direction == .outgoing && !call.sessionSent:
            // No session yet: the propose is withdrawn (Conversations ignores a finish here).
            end(call, outcome: .cancelled, reason: "cancelled")
            let reason = JingleReason(.cancel)
            try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
        case .connecting where call.info.direction == .incoming && !call.sessionReceived && call.pendingOffer == nil:
            // Accepted but no session yet: the callee reconsidered.
            end(call, outcome: .cancelled, reason: "cancelled")
            if let remote = call.info.remote {
                try? await signalling.send(MessageInitiation(id: id, action: .reject(JingleReason(.cancel))).message(to: remote, stanzaID: newStanzaID()))
            }
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
    /// Ends every call (the account is going away). A call still ringing here is left to ring
    /// on our other devices: it ends here as missed, and nothing is sent.
    public func hangUpAll() async {
        for call in calls.values where call.info.state == .incoming {
            end(call, outcome: .missed, reason: "not answered here")
        }
        for id in calls.keys { try? await hangUp(id) }
        await settle()
    }

    /// Waits until ended calls have stopped their media and reported their last state.
    public func settle() async {
        while let (_, task) = settling.first {
            await task.value
        }
    }

    /// Ends the event streams (after `hangUpAll`), so listeners finish what they hold and stop.
    public func closeEvents() {
        for continuation in subscribers.values { continuation.finish() }
        subscribers = [:]
    }

    // MARK: Incoming stanzas

    /// Where a message with a XEP-0353 element came from, as the client validated it.
    public enum Origin: Sendable { case live, carbon, archive }

    /// A message carrying a XEP-0353 element. `outgoing` is true for our own messages (sent
    /// carbons, our archive): what one of our other devices did.
    public func handle(_ initiation: MessageInitiation, from: JID?, to: JID?, outgoing: Bool, origin: Origin, at timestamp: Date) async {
        guard let own = await signalling.ownAddress() else { return }
        if origin == .archive {
            // The caller check holds for every propose: the archive keeps strangers' proposes
            // too, and anyone can put a <delay> on a live one. A stranger makes no missed call.
            if case .propose = initiation.action, !outgoing, let from, !(await signalling.mayCall(from.bare)) {
                logger.info("ignored an archived call from \(from.bare), who is not a contact")
                return
            }
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
            // Audio only: answering a video call with audio alone would fail on the other side.
            guard calls[initiation.id] == nil, !recentlyEnded.contains(initiation.id), !media.isEmpty,
                  media.allSatisfy({ $0 == "audio" }), from.isFull else { return }
            // Strangers get nothing back, not even "ringing": that would tell them we are online.
            guard await signalling.mayCall(from.bare) else {
                logger.info("ignored a call from \(from.bare), who is not a contact")
                return
            }
            // Both sides called each other at once (XEP-0353 tie-break): the lower id wins.
            if let ours = calls.values.first(where: { $0.info.direction == .outgoing && $0.info.peer == from.bare
                && ($0.info.state == .proposing || $0.info.state == .ringing) }) {
                if initiation.id < ours.info.id {
                    end(ours, outcome: .cancelled, reason: "the other side called at the same time")
                    try? await signalling.send(MessageInitiation(id: ours.info.id, action: .retract(JingleReason(.expired, text: "tie-break")))
                        .message(to: ours.info.peer, stanzaID: newStanzaID()))
                    let call = ActiveCall(info: CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .incoming))
                    call.info.remote = from
                    calls[initiation.id] = call
                    publish(call)
                    try? await answer(initiation.id)
                } else {
                    try? await signalling.send(MessageInitiation(id: initiation.id, action: .reject(JingleReason(.expired, text: "tie-break")))
                        .message(to: from, stanzaID: newStanzaID()))
                }
                return
            }
            let call = ActiveCall(info: CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .incoming))
            call.info.remote = from
            calls[initiation.id] = call
            publish(call)
            armRingTimer(call)
            try? await signalling.send(MessageInitiation(id: initiation.id, action: .ringing).message(to: from, stanzaID: newStanzaID()))
        case .ringing:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing else { return }
            call.info.state = .ringing
            publish(call)
        case .proceed:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing || call.info.state == .ringing, from.isFull else { return }
            call.info.remote = from
            call.info.state = .connecting
            publish(call)
            armSetupTimer(call)
            await initiateSession(call)
        case .reject(let reason):
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state != .ended, !call.sessionSent, call.info.remote == nil || call.info.remote == from else { return }
            let busy = reason?.condition == .busy
            end(call, outcome: busy ? .busy : .declined, reason: (reason ?? JingleReason(.decline)).description)
        case .retract(let reason):
            guard let call = calls[initiation.id], call.info.direction == .incoming, from.bare == call.info.peer,
                  call.info.state == .incoming || (call.info.state == .connecting && !call.sessionReceived) else { return }
            end(call, outcome: .missed, reason: reason.map { "missed (\($0.description))" } ?? "missed")
        case .finish(let reason):
            guard let call = calls[initiation.id], from.bare == call.info.peer, call.info.state != .ended,
                  call.info.remote == nil || call.info.remote == from else { return }
            await terminate(call, reason: reason ?? JingleReason(.success), outcome: call.info.connectedAt == nil ? .failed : .completed, notify: false)
        case .accept:
            return
        }
    }

    /// An iq set with a `<jingle/>` from anyone: answered here (result or error), always.
    public func handle(request: IQRequest) async {
        let iq = request.element
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
            let restart = action.contents.contains { content in
                guard let ufrag = content.transport?.ufrag, let known = call.remoteUfrag else { return false }
                return ufrag != known && call.sessionReceived
            }
            if restart {
                // An ICE restart (new credentials) we cannot follow yet: refused, so the peer
                // keeps the credentials both sides use instead of half-switching.
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "feature-not-implemented")))
                return
            }
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
            // Ended first: the media stopping below must not look like a failure of ours.
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
            await acceptOffer(action, for: call)
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
        call.pendingOffer = action
        calls[action.sid] = call
        publish(call)
        if let refusal = Self.refusal(of: action) {
            await terminate(call, reason: refusal, outcome: .failed)
            return
        }
        armRingTimer(call)
        // Sent, not awaited: a peer that never answers must not hold up the call queue.
        let ringing = JingleAction(.sessionInfo, sid: action.sid, initiator: action.initiator, info: ["ringing"])
        try? await signalling.sendRequest(ringing.iq(to: from, id: newStanzaID()))
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
        let credentials = await media.agent.localCredentials
        // Hung up meanwhile: no session is started.
        guard call.info.state == .connecting, !call.sessionSent else { return }
        call.pendingCandidates = call.pendingCandidates.filter { !candidates.contains($0) }
        let transport = ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password,
                                        candidates: call.signalled.take(candidates),
                                        fingerprint: DTLSFingerprint(setup: "actpass", value: media.identity.sha256Fingerprint))
        let content = JingleContent(creator: "initiator", name: "0", senders: "both",
                                    description: RTPDescription(payloadTypes: [.opus, .pcmu, .pcma, .telephoneEvent]), transport: transport)
        let initiate = JingleAction(.sessionInitiate, sid: call.info.id, initiator: own, contents: [content], bundle: ["0"])
        call.initiator = own
        call.contentName = "0"
        call.contentCreator = "initiator"
        call.sessionSent = true
        do {
            _ = try await signalling.request(initiate.iq(to: remote, id: newStanzaID()))
        } catch {
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
        guard call.info.state == .connecting else { return }
        call.pendingCandidates = call.pendingCandidates.filter { !candidates.contains($0) }
        let telephoneEvent = description.telephoneEvent
        let answer = JingleContent(
            creator: content.creator, name: content.name, senders: content.senders ?? "both",
            description: RTPDescription(payloadTypes: [opus] + (telephoneEvent.map { [$0] } ?? []), rtcpMux: true),
            transport: ICEUDPTransport(ufrag: credentials.ufrag, password: credentials.password,
                                       candidates: call.signalled.take(candidates),
                                       fingerprint: DTLSFingerprint(setup: role == .active ? "active" : "passive",
                                                                    value: media.identity.sha256Fingerprint)))
        let accept = JingleAction(.sessionAccept, sid: call.info.id, initiator: call.initiator, responder: own,
                                  contents: [answer], bundle: offer.bundle.isEmpty ? [] : [content.name])
        do {
            _ = try await signalling.request(accept.iq(to: remote, id: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "the caller refused our answer: \(error)")
            return
        }
        call.acceptSent = true
        call.info.acceptedAt = Date()
        let late = call.pendingCandidates
        call.pendingCandidates = []
        if !late.isEmpty { await sendCandidates(late, for: call) }
        startConnecting(call.info.id, NegotiatedMedia(audio: opus, telephoneEvent: telephoneEvent,
                                                      remoteFingerprint: fingerprint.value, dtlsRole: role))
    }

    /// Outgoing: the callee's session-accept.
    private func applyAnswer(_ answer: JingleAction, to call: ActiveCall) async {
        call.sessionReceived = true
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

    private func addRemoteCandidates(_ action: JingleAction, to call: ActiveCall) async {
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
    private func startConnecting(_ id: String, _ negotiated: NegotiatedMedia) {
        Task { await self.connectMedia(id, negotiated) }
    }

    private func connectMedia(_ id: String, _ negotiated: NegotiatedMedia) async {
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

    private func sendCandidates(_ candidates: [ICECandidate], for call: ActiveCall) async {
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

    // MARK: Endings

    private func ringTimedOut(_ id: String) async {
        guard let call = calls[id], call.info.direction == .outgoing,
              call.info.state == .proposing || call.info.state == .ringing else { return }
        end(call, outcome: .unanswered, reason: "no answer")
        let reason = JingleReason(.timeout)
        try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
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
                // Its answer is expected but not awaited: the peer may be gone.
                try? await signalling.sendRequest(terminate.iq(to: remote, id: newStanzaID()))
                try? await signalling.send(MessageInitiation(id: id, action: .finish(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
            } else if call.info.direction == .outgoing {
                try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
            } else {
                try? await signalling.send(MessageInitiation(id: id, action: .reject(reason)).message(to: remote, stanzaID: newStanzaID()))
            }
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
        let id = call.info.id
        if call.media != nil {
            // Statistics are kept before the media goes, and the ended state goes out after.
            settling[id] = Task { await self.stopMediaAndPublish(id) }
        } else {
            publish(call)
            forgetEnded()
        }
    }

    private func stopMediaAndPublish(_ id: String) async {
        defer { settling[id] = nil }
        guard let call = calls[id] else { return }
        await stopMedia(call)
        publish(call)
        forgetEnded()
    }

    /// Ended calls stay a while for their statistics; beyond a few, the oldest go, their ids
    /// remembered so that a late or repeated propose with one of them rings nothing.
    private func forgetEnded() {
        let ended = calls.values.filter { $0.info.state == .ended && $0.media == nil && settling[$0.info.id] == nil }
        guard ended.count > 16 else { return }
        for call in ended.sorted(by: { ($0.info.endedAt ?? .distantPast) < ($1.info.endedAt ?? .distantPast) }).prefix(ended.count - 16) {
            calls[call.info.id] = nil
            recentlyEnded.insert(call.info.id)
        }
        if recentlyEnded.count > 1_000 { recentlyEnded.removeAll() }
    }

    /// An incoming call rings here for a while, then counts as missed (nothing is sent: the
    /// caller may still be ringing our other devices).
    private func armRingTimer(_ call: ActiveCall) {
        let id = call.info.id
        call.timer = Task { [weak self, ringTimeout = configuration.incomingRingTimeout] in
            try? await Task.sleep(for: ringTimeout)
            guard !Task.isCancelled else { return }
            await self?.incomingRingTimedOut(id)
        }
    }

    private func incomingRingTimedOut(_ id: String) {
        guard let call = calls[id], call.info.state == .incoming else { return }
        end(call, outcome: .missed, reason: "missed")
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
        // A live call that rang while the connection was down may have been settled meanwhile.
        if let call = calls[initiation.id], call.info.state == .incoming, let from {
            switch initiation.action {
            case .retract where from.bare == call.info.peer, .finish where from.bare == call.info.peer:
                end(call, outcome: .missed, reason: "missed")
            case .accept where outgoing, .proceed where outgoing, .reject where outgoing:
                end(call, outcome: .elsewhere, reason: "taken on another device")
            default:
                break
            }
        }
        switch initiation.action {
        case .propose(let media):
            guard !outgoing, let from, media.contains("audio") else { return }
            var info = CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .ended, startedAt: timestamp)
            info.remote = from
            archivedProposals[initiation.id] = info
            // Bounded: a flood of proposes keeps the newest, as a call log would show them.
            if archivedProposals.count > Self.archivedProposalLimit,
               let oldest = archivedProposals.min(by: { $0.value.startedAt < $1.value.startedAt })?.key {
                archivedProposals[oldest] = nil
            }
        case .retract:
            return // still missed
        default:
            settledInArchive.insert(initiation.id)
            // Only what settles a propose we hold needs keeping once the set grows.
            if settledInArchive.count > Self.archivedProposalLimit * 10 {
                settledInArchive = settledInArchive.filter { archivedProposals[$0] != nil }
            }
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

extension TURNTransport {
    /// The order in which a server's ways are tried: plain UDP first.
    var preference: Int {
        switch self {
        case .udp: 0
        case .tcp: 1
        case .tls: 2
        }
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
    var signalled = SignalledCandidates()
    /// A session-initiate that came without a propose, waiting for the user.
    var pendingOffer: JingleAction?
    var lastStatistics: CallStatistics?
    /// The peer's ICE ufrag as agreed: a different one later is a restart.
    var remoteUfrag: String?

    init(info: CallInfo) {
        self.info = info
    }
}

/// The candidates a call has signalled, so that none goes out twice: libnice (Dino's ICE)
/// aborts on two remote candidates with one transport address.
struct SignalledCandidates {
    private var keys: Set<ICECandidate.Key> = []

    /// Those of `candidates` not signalled yet, one per transport address and component
    /// (the highest priority), now counted as signalled.
    mutating func take(_ candidates: [ICECandidate]) -> [ICECandidate] {
        let fresh = ICECandidate.withoutDuplicates(candidates).filter { !keys.contains($0.key) }
        keys.formUnion(fresh.map(\.key))
        return fresh
    }
}
