import DialtoneICE
import DialtoneMedia
import DialtoneTLS
import Logging
import NIOCore
import Synchronization

/// How a call's audio is set up: devices, codec and the ICE agent's options.
public struct CallMediaConfiguration: Sendable {
    public var ice = ICEConfiguration()
    public var captureDevice = "default"
    public var playbackDevice = "default"
    /// asoundrc text to find the devices in (tests and `--alsa-config`), instead of the system's.
    public var alsaConfiguration: String?
    public var opus = OpusEncoderSettings()
    /// Drops this fraction of outgoing packets at random (tests of loss).
    public var outgoingLossRate = 0.0
    public var voice = VoiceProcessingSettings()
    /// Capture and playback threads under SCHED_FIFO where the system allows it.
    public var realtimeAudio = true
    /// How long the DTLS handshake may take once ICE is connected.
    public var handshakeTimeout: Duration = .seconds(10)

    public init() {}
}

/// What the media of a call agreed on in signalling.
public struct NegotiatedMedia: Sendable, Equatable {
    /// Opus, PCMU or PCMA, with the payload type the peer uses.
    public var audio: PayloadType
    public var telephoneEvent: PayloadType?
    public var remoteFingerprint: [UInt8]
    public var dtlsRole: DTLSRole

    public init(audio: PayloadType, telephoneEvent: PayloadType?, remoteFingerprint: [UInt8], dtlsRole: DTLSRole) {
        self.audio = audio
        self.telephoneEvent = telephoneEvent
        self.remoteFingerprint = remoteFingerprint
        self.dtlsRole = dtlsRole
    }
}

public enum CallMediaError: Error, Sendable, Equatable, CustomStringConvertible {
    case ice(String)
    case dtls(DTLSError)
    case handshakeTimedOut
    case audio(String)
    case closed

    public var description: String {
        switch self {
        case .ice(let reason): "No network path to the other side (\(reason))."
        case .dtls(let error): error.description
        case .handshakeTimedOut: "The encryption handshake (DTLS) did not finish in time."
        case .audio(let reason): "The audio device failed: \(reason)."
        case .closed: "The call's media was closed."
        }
    }
}

/// One call's transport and audio: the ICE agent; DTLS-SRTP on the pair it selects; then the
/// media session sending and receiving over the same agent (RFC 7983 demultiplexing is the
/// agent's). Everything of the handshake is confined to this actor; the capture thread hands
/// its packets to `AgentOutput`, which never blocks it.
public actor CallMedia {
    public nonisolated let agent: ICEAgent
    public nonisolated let identity: TLSIdentity
    private let configuration: CallMediaConfiguration
    private let logger: Logger
    private var dtls: DTLSSession?
    private var session: MediaSession?
    private var output: AgentOutput?
    private var pump: Task<Void, Never>?
    private var handshakeWaiters: [CheckedContinuation<Void, any Error>] = []
    private var failure: CallMediaError?
    private var digitSink: (@Sendable (Character) -> Void)?
    /// DTLS that arrived before we knew the peer's fingerprint.
    private var early: [[UInt8]] = []
    /// Set first thing in `stop()`: a `connect` resuming after it must not open devices.
    private var stopped = false

    public init(role: ICERole, configuration: CallMediaConfiguration, logger: Logger = Logger(label: "dialtone.call.media")) throws {
        do {
            identity = try TLSIdentity.selfSigned(commonName: "dialtone")
        } catch {
            throw CallMediaError.dtls(.invalidCredentials(error.description))
        }
        agent = ICEAgent(role: role, configuration: configuration.ice, logger: logger)
        self.configuration = configuration
        self.logger = logger
    }

    /// Opens the sockets and starts gathering; candidates follow as agent events.
    public func start() async throws {
        do { try await agent.start() } catch { throw CallMediaError.ice("\(error)") }
        // libsrtp's one-time set-up (its self-tests, NSS) takes tens of milliseconds: run it
        // while ICE and DTLS are under way, not between the handshake and the first packet.
        Task.detached(priority: .utility) { try? SRTPContext.prepare() }
        let incoming = agent.incoming
        pump = Task { [weak self] in
            for await packet in incoming {
                guard let self else { return }
                await self.receive(packet)
            }
        }
    }

    /// Waits for ICE, runs the DTLS handshake, then starts audio. Returns once media flows
    /// both ways is possible (keys agreed, devices open).
    public func connect(_ media: NegotiatedMedia, onDigit: @escaping @Sendable (Character) -> Void) async throws {
        digitSink = onDigit
        let session: DTLSSession
        do {
            session = try DTLSSession(role: media.dtlsRole, identity: identity, remoteFingerprint: media.remoteFingerprint)
        } catch {
            throw CallMediaError.dtls(error)
        }
        // A passive side's first flight can come before our own agent calls itself connected.
        dtls = session
        for datagram in early { await receive(MediaPacket(kind: .dtls, bytes: datagram)) }
        early = []
        do { try await agent.connected() } catch { throw CallMediaError.ice("\(error)") }
        guard !stopped else { throw CallMediaError.closed }
        do { try session.start() } catch { throw CallMediaError.dtls(error) }
        await flushDTLS()
        let timer = Task { [weak self] in await self?.driveRetransmissions() }
        defer { timer.cancel() }
        try await waitForHandshake()
        guard !stopped else { throw CallMediaError.closed }
        guard let keys = session.keyingMaterial else { throw CallMediaError.handshakeTimedOut }
        try startAudio(keys: keys, media: media)
    }

    public func sendDTMF(_ digits: String) -> [Character] {
        session?.sendDTMF(digits) ?? Array(digits)
    }

    public var statistics: CallStatistics? { session?.statistics }

    /// Levels of the last frames (0…1), for the call view's meters.
    public var levels: (capture: Double, playback: Double)? { session?.levels }

    public func setMuted(_ muted: Bool) { session?.isMuted = muted }
    public func setHeld(_ held: Bool) { session?.isHeld = held }

    public func switchDevices(capture: String?, playback: String?) throws {
        guard let session else { throw CallMediaError.closed }
        do { try session.switchDevices(capture: capture, playback: playback) } catch {
            throw CallMediaError.audio("\(error)")
        }
    }

    public func stop() async {
        stopped = true
        fail(.closed)
        agent.directRoute.setReceiver(nil)
        session?.stop()
        session = nil
        if let dtls {
            dtls.close()
            for datagram in dtls.takeDatagrams() { try? await agent.send(datagram) }
        }
        dtls = nil
        output?.finish()
        output = nil
        await agent.close()
        pump?.cancel()
        fail(.closed)
    }

    // MARK: Internals

    private func startAudio(keys: SRTPKeyingMaterial, media: NegotiatedMedia) throws {
        var settings = MediaSessionConfiguration(keys: keys, role: media.dtlsRole)
        settings.opusPayloadType = media.audio.id
        settings.codec = media.audio.isOpus ? .opus : (media.audio.name.lowercased() == "pcma" ? .pcma : .pcmu)
        if let event = media.telephoneEvent {
            settings.telephoneEventPayloadType = event.id
            settings.telephoneEventClockRate = event.clockRate
        }
        settings.opus = media.audio.isOpus ? media.audio.applied(to: configuration.opus) : configuration.opus
        settings.captureDevice = configuration.captureDevice
        settings.playbackDevice = configuration.playbackDevice
        settings.alsaConfiguration = configuration.alsaConfiguration
        settings.outgoingLossRate = configuration.outgoingLossRate
        settings.voice = configuration.voice
        settings.realtimeAudio = configuration.realtimeAudio
        let output = AgentOutput(agent: agent)
        self.output = output
        let digits = digitSink ?? { _ in }
        do {
            let session = try MediaSession(configuration: settings, transport: output, source: output, onDigit: digits)
            try session.start()
            self.session = session
            // The peer's RTP on the selected pair now goes straight from the socket's event
            // loop to the session until the playback thread reads the socket itself (the pump
            // still brings DTLS and anything from other pairs).
            agent.directRoute.setReceiver { datagram in session.receive(datagram: datagram) }
        } catch {
            throw CallMediaError.audio("\(error)")
        }
    }

    private func receive(_ packet: MediaPacket) async {
        switch packet.kind {
        case .dtls:
            guard let dtls else {
                if early.count < 8 { early.append(packet.bytes) }
                return
            }
            do {
                try dtls.feed(datagram: packet.bytes)
            } catch {
                logger.info("DTLS: \(error)")
                fail(.dtls(error))
            }
            await flushDTLS()
            if dtls.isHandshakeComplete { resumeHandshakeWaiters(nil) }
        case .rtp:
            packet.bytes.withUnsafeBytes { session?.receive(datagram: $0) }
        default:
            break
        }
    }

    private func flushDTLS() async {
        guard let dtls else { return }
        for datagram in dtls.takeDatagrams() {
            do { try await agent.send(datagram) } catch { logger.debug("DTLS datagram not sent: \(error)") }
        }
    }

    private func driveRetransmissions() async {
        while !Task.isCancelled, let dtls, !dtls.isHandshakeComplete, failure == nil {
            let delay = min(dtls.retransmitDelay ?? .milliseconds(50), .milliseconds(50))
            if delay > .zero { try? await Task.sleep(for: delay) }
            if let remaining = dtls.retransmitDelay, remaining <= .zero {
                do { try dtls.handleTimeout() } catch { fail(.dtls(error)) }
                await flushDTLS()
            }
        }
    }

    private func waitForHandshake() async throws {
        if let failure { throw failure }
        if dtls?.isHandshakeComplete == true { return }
        let deadline = configuration.handshakeTimeout
        let timeout = Task { [weak self] in
            try? await Task.sleep(for: deadline)
            await self?.fail(.handshakeTimedOut)
        }
        defer { timeout.cancel() }
        try await withCheckedThrowingContinuation { handshakeWaiters.append($0) }
    }

    private func fail(_ error: CallMediaError) {
        if failure == nil { failure = error }
        resumeHandshakeWaiters(error)
    }

    private func resumeHandshakeWaiters(_ error: CallMediaError?) {
        let waiters = handshakeWaiters
        handshakeWaiters = []
        for waiter in waiters {
            if let error { waiter.resume(throwing: error) } else { waiter.resume() }
        }
    }
}

/// The media session's way out: straight onto the selected pair's socket when the agent's
/// direct route has one; otherwise (before nomination, relayed pairs) into a bounded queue that
/// a task drains into the (async) ICE agent, so the capture thread never waits. When the queue
/// is full the oldest packets go: late audio is worth less than current audio. And its way in
/// for the playback thread: the selected pair's socket, read directly when there is one.
final class AgentOutput: MediaPacketOutput, MediaPacketSource {
    private let queue: AsyncStream<[UInt8]>.Continuation
    private let drain: Task<Void, Never>
    private let route: DirectMediaRoute

    init(agent: ICEAgent) {
        route = agent.directRoute
        let (stream, continuation) = AsyncStream<[UInt8]>.makeStream(bufferingPolicy: .bufferingNewest(32))
        queue = continuation
        drain = Task {
            for await packet in stream { try? await agent.send(packet) }
        }
    }

    func send(_ datagram: UnsafeRawBufferPointer) {
        if route.send(datagram) { return }
        queue.yield(Array(datagram))
    }

    func readWaiting(_ body: (UnsafeRawBufferPointer, Int64) -> Void) {
        route.readWaiting(body)
    }

    func stopReading() {
        route.stopReading()
    }

    func finish() {
        queue.finish()
    }
}
