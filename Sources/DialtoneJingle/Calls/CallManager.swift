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

    let signalling: CallSignalling
    let configuration: Configuration
    let logger: Logger
    var calls: [String: ActiveCall] = [:]
    var subscribers: [Int: AsyncStream<CallEvent>.Continuation] = [:]
    var nextSubscriber = 0
    /// Proposes seen while catching up on the archive, by id, until something settles them.
    var archivedProposals: [String: CallInfo] = [:]
    var settledInArchive: Set<String> = []
    /// The most missed calls one catch-up reports.
    static let archivedProposalLimit = 100
    /// Calls whose media is being stopped before their ended state goes out.
    var settling: [String: Task<Void, Never>] = [:]
    var recentlyEnded: Set<String> = []

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

    func unsubscribe(_ id: Int) { subscribers[id] = nil }

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
        // A bare session-initiate is answered with a session-accept; a propose with XEP-0353.
        if let offer = call.phase.pendingOffer {
            await acceptOffer(offer, for: call)
            return
        }
        do {
            try await signalling.send(MessageInitiation(id: id, action: .accept).message(to: own.bare, stanzaID: newStanzaID()))
            // Our OMEMO device with the proceed: the caller may encrypt its fingerprint for it.
            let device = await signalling.sealing?.ownDevice(remote.bare)
            try await signalling.send(MessageInitiation(id: id, action: .proceed, device: device).message(to: remote, stanzaID: newStanzaID()))
        } catch {
            end(call, outcome: .failed, reason: "\(error)")
            throw error
        }
    }

    /// Set-up (proceed or accept → audio) has a deadline, ICE and DTLS included: a path that
    /// never works ends the call instead of leaving it connecting.
    func armSetupTimer(_ call: ActiveCall) {
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
        if call.phase.hasSession {
            // A session-initiate that came without a propose: the session is turned down.
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
        case _ where call.phase.hasSession:
            await terminate(call, reason: JingleReason(.success), outcome: call.info.connectedAt == nil ? .cancelled : .completed)
        case _ where call.info.direction == .outgoing:
            // No session yet (ringing, or proceeded and the initiate not out): the propose is
            // withdrawn (Conversations ignores a finish here).
            end(call, outcome: .cancelled, reason: "cancelled")
            let reason = JingleReason(.cancel)
            try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
        default:
            // Accepted but no session yet: the callee reconsidered.
            end(call, outcome: .cancelled, reason: "cancelled")
            if let remote = call.info.remote {
                try? await signalling.send(MessageInitiation(id: id, action: .reject(JingleReason(.cancel))).message(to: remote, stanzaID: newStanzaID()))
            }
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

    func sendInfo(_ name: String, content: Bool, for call: ActiveCall) async {
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
}
