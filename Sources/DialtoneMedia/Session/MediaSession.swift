import DialtoneTLS
import Logging
import Synchronization

/// Everything a call's audio needs once signalling and DTLS are done.
public struct MediaSessionConfiguration: Sendable {
    public var localSSRC: UInt32 = UInt32.random(in: 1...UInt32.max)
    public var opusPayloadType: UInt8 = 111
    /// The codec the call agreed on: Opus, or G.711 for gateways that do not take Opus.
    public var codec: AudioCodec = .opus
    public var telephoneEventPayloadType: UInt8 = 101
    /// The telephone-event clock; 48 kHz keeps it on the Opus stream's timeline.
    public var telephoneEventClockRate = 48_000
    public var opus = OpusEncoderSettings()
    public var keys: SRTPKeyingMaterial
    /// Which half of `keys` protects what we send (DTLS client = active).
    public var role: DTLSRole
    public var captureDevice = "default"
    public var playbackDevice = "default"
    /// asoundrc text to look the devices up in, instead of the system configuration.
    public var alsaConfiguration: String? = nil
    public var cname = "dialtone"
    /// Seconds between RTCP reports (RFC 3550 suggests 5 s for a two-party call).
    public var reportInterval = 5.0
    /// Drops this fraction of outgoing packets at random: for tests and demos of loss.
    public var outgoingLossRate = 0.0
    /// Echo cancellation, noise suppression, gain control on what the microphone hears.
    public var voice = VoiceProcessingSettings()
    /// Capture and playback threads under SCHED_FIFO where the system allows it.
    public var realtimeAudio = true

    public init(keys: SRTPKeyingMaterial, role: DTLSRole) {
        self.keys = keys
        self.role = role
    }

    /// The audio clock: devices, RTP timestamps and frames all run at the codec's rate.
    public var sampleRate: Int { codec == .opus ? 48_000 : 8_000 }
    public var frameSamples: Int { sampleRate / 1000 * opus.frameMilliseconds }
    public var frameMilliseconds: Int { opus.frameMilliseconds }

    /// The device format for this codec (ALSA's plug layer converts for hardware that differs).
    var deviceFormat: AudioFormat {
        var format = AudioFormat()
        format.sampleRate = sampleRate
        format.frameSamples = frameSamples
        return format
    }
}

/// The audio codecs a call can use.
public enum AudioCodec: String, Sendable, Equatable {
    case opus
    /// G.711 µ-law and A-law at 8 kHz: what every telephone gateway takes.
    case pcmu, pcma
}

/// One call's audio, wired: capture → Opus → RTP → SRTP → transport on the capture thread;
/// transport → SRTP → jitter buffer on the playback thread, which reads what arrived from the
/// packet source before each frame (or, without a source and until the source can be read, on
/// the transport's thread); jitter buffer → Opus (FEC or PLC for gaps) → playback on the
/// playback thread. Each piece of codec and crypto state is confined to one path; only the
/// jitter buffer, the DTMF queue and the RTCP statistics are shared, each behind its own lock.
public final class MediaSession: Sendable {
    private let configuration: MediaSessionConfiguration
    private let transport: any MediaPacketOutput
    private let sender: SendPath
    private let receiver: ReceivePath
    private let source: (any MediaPacketSource)?
    private let shared: Shared
    private let capture: Mutex<AudioCapture?> = Mutex(nil)
    private let playback: Mutex<AudioPlayback?> = Mutex(nil)

    final class Shared: Sendable {
        /// Controls the UI flips from its own thread and the audio threads read each frame.
        let muted = Atomic<Bool>(false)
        let held = Atomic<Bool>(false)
        /// RMS of the last captured and played frame, 0…32767, for level meters.
        let captureLevel = Atomic<Int>(0)
        let playbackLevel = Atomic<Int>(0)
        /// Opened by the first audio packet: the playback clock starts then.
        let firstPacket = StartGate()
        let jitter: Mutex<JitterBuffer>
        let dtmf: Mutex<DTMFSender>
        let rtcp: Mutex<RTCPSession>
        let voice: VoiceProcessor?
        init(configuration: MediaSessionConfiguration) {
            voice = configuration.voice.isActive
                ? try? VoiceProcessor(settings: configuration.voice, frameSamples: configuration.frameSamples,
                                      sampleRate: configuration.sampleRate)
                : nil
            var jitterConfiguration = JitterBufferConfiguration()
            jitterConfiguration.frameTicks = configuration.frameSamples
            jitter = Mutex(JitterBuffer(configuration: jitterConfiguration))
            dtmf = Mutex(DTMFSender(clockRate: configuration.telephoneEventClockRate,
                                    frameMilliseconds: configuration.opus.frameMilliseconds))
            let codecName = configuration.codec == .opus ? "opus/48000/\(configuration.opus.bitrate / 1000)k"
                : "\(configuration.codec.rawValue.uppercased())/8000"
            rtcp = Mutex(RTCPSession(localSSRC: configuration.localSSRC, clockRate: UInt32(configuration.sampleRate), cname: configuration.cname,
                                     codec: codecName))
        }
    }

    public init(configuration: MediaSessionConfiguration, transport: any MediaPacketOutput,
                source: (any MediaPacketSource)? = nil, onDigit: @escaping @Sendable (Character) -> Void = { _ in }) throws {
        self.configuration = configuration
        self.transport = transport
        self.source = source
        let keys = configuration.keys
        let (localKey, localSalt, remoteKey, remoteSalt) = configuration.role == .active
            ? (keys.clientKey, keys.clientSalt, keys.serverKey, keys.serverSalt)
            : (keys.serverKey, keys.serverSalt, keys.clientKey, keys.clientSalt)
        shared = Shared(configuration: configuration)
        sender = try SendPath(configuration: configuration, key: localKey, salt: localSalt, shared: shared, transport: transport)
        receiver = try ReceivePath(configuration: configuration, key: remoteKey, salt: remoteSalt, shared: shared, onDigit: onDigit)
    }

    /// Hand every datagram from the transport here, from any thread: packets come from the
    /// socket's event loop and, around the switch to it, from the call's own task; the receive
    /// state (SRTP, DTMF, its buffer) takes one at a time, also with the playback thread
    /// reading the packet source.
    public func receive(datagram: UnsafeRawBufferPointer) {
        receiver.receive(datagram, arrival: monotonicNanoseconds())
    }

    /// The receive path on a scripted clock, and what the playback thread would play at
    /// `now`: for tests of the path from SRTP to the jitter buffer without devices.
    func receive(datagram: UnsafeRawBufferPointer, arrival: Int64) {
        receiver.receive(datagram, arrival: arrival)
    }

    func playoutDecision(now: Int64) -> PlayoutDecision {
        shared.jitter.withLock { $0.pull(now: now, quiet: false) }
    }

    /// Opens the devices and starts the audio threads.
    public func start() throws {
        try openPlayback(configuration.playbackDevice)
        try openCapture(configuration.captureDevice)
    }

    private func openPlayback(_ device: String) throws {
        let playbackPath = try PlaybackPath(shared: shared, frameSamples: configuration.frameSamples, codec: configuration.codec)
        let receiver = self.receiver
        let source = self.source
        // A device that fails ends the thread: the transport's thread reads the packets again
        // (consent checks among them, which keep the call up).
        let player = try AudioPlayback(device: device, configuration: configuration.alsaConfiguration,
                                       format: configuration.deviceFormat, gate: shared.firstPacket,
                                       realtime: configuration.realtimeAudio, onEnd: { source?.stopReading() }) { frame in
            source?.readWaiting { datagram, arrival in receiver.receive(datagram, arrival: arrival) }
            playbackPath.fill(frame)
        }
        playback.withLock { $0 = player }
    }

    private func openCapture(_ device: String) throws {
        let sender = self.sender
        let recorder = try AudioCapture(device: device, configuration: configuration.alsaConfiguration,
                                        format: configuration.deviceFormat, realtime: configuration.realtimeAudio) { frame in
            sender.send(frame)
        }
        capture.withLock { $0 = recorder }
    }

    /// Moves capture or playback to another PCM mid-call (a headset plugged in). The stream
    /// goes on: RTP timing and the decoder's state are the session's, not the device's.
    public func switchDevices(capture captureDevice: String?, playback playbackDevice: String?) throws {
        if let playbackDevice {
            playback.withLock { $0 }?.stop()
            try openPlayback(playbackDevice)
        }
        if let captureDevice {
            capture.withLock { $0 }?.stop()
            try openCapture(captureDevice)
        }
    }

    /// Muted: we send silence (the stream keeps its timing, so the peer sees no gap).
    public var isMuted: Bool {
        get { shared.muted.load(ordering: .relaxed) }
        set { shared.muted.store(newValue, ordering: .relaxed) }
    }

    /// On hold: silence both ways.
    public var isHeld: Bool {
        get { shared.held.load(ordering: .relaxed) }
        set { shared.held.store(newValue, ordering: .relaxed) }
    }

    /// Levels of the last frames, 0…1, for meters.
    public var levels: (capture: Double, playback: Double) {
        (Double(shared.captureLevel.load(ordering: .relaxed)) / 32767, Double(shared.playbackLevel.load(ordering: .relaxed)) / 32767)
    }

    public func stop() {
        capture.withLock { $0 }?.stop()
        playback.withLock { $0 }?.stop()
        capture.withLock { $0 = nil }
        playback.withLock { $0 = nil }
    }

    /// Queues DTMF digits; returns the characters that are not digits.
    @discardableResult
    public func sendDTMF(_ digits: String) -> [Character] {
        shared.dtmf.withLock { $0.send(digits) }
    }

    public var statistics: CallStatistics {
        var stats = shared.rtcp.withLock { $0.statistics }
        stats.packetsSent = UInt64(sender.packetsSent.load(ordering: .relaxed))
        return stats
    }

    public var jitterCounters: JitterBufferCounters { shared.jitter.withLock { $0.counters } }
    public var captureCounters: AudioStreamCounters? { capture.withLock { $0 }?.statistics }
    public var playbackCounters: AudioStreamCounters? { playback.withLock { $0 }?.statistics }
}

/// State of the capture thread. `@unchecked` because the encoder and SRTP context are not
/// Sendable: they are used from the capture thread alone (and RTCP sends from there too).
private final class SendPath: @unchecked Sendable {
    let encoder: OpusEncoder
    let srtp: SRTPContext
    let shared: MediaSession.Shared
    let transport: any MediaPacketOutput
    let configuration: MediaSessionConfiguration
    let packetsSent = Atomic<Int>(0)
    var sequence = UInt16.random(in: 0...UInt16.max)
    var timestamp = UInt32.random(in: 0...UInt32.max)
    var firstPacket = true
    var packet: [UInt8] = []
    var encoded = [UInt8](repeating: 0, count: 1500)
    var framesSinceReport = 0
    var random = SystemRandomNumberGenerator()

    init(configuration: MediaSessionConfiguration, key: [UInt8], salt: [UInt8], shared: MediaSession.Shared,
         transport: any MediaPacketOutput) throws {
        encoder = try OpusEncoder(settings: configuration.opus)
        srtp = try SRTPContext(profile: configuration.keys.profile, masterKey: key, masterSalt: salt, direction: .outbound)
        self.shared = shared
        self.transport = transport
        self.configuration = configuration
        packet.reserveCapacity(1600)
    }

    var silence: [Int16] = []
    var cleaned: [Int16] = []

    var started = false

    func send(_ captured: UnsafeBufferPointer<Int16>) {
        let now = UInt64(monotonicNanoseconds())
        if !started {
            started = true
            // For latency measurements: when the first frame came off the microphone.
            Logger(label: "dialtone.media").info("capture: first frame at \(now) ns (monotonic)")
        }
        defer { timestamp &+= UInt32(captured.count) }
        shared.captureLevel.store(AudioLevel.rms(captured), ordering: .relaxed)
        if silence.count != captured.count {
            silence = [Int16](repeating: 0, count: captured.count)
            cleaned = silence
        }
        let quiet = shared.muted.load(ordering: .relaxed) || shared.held.load(ordering: .relaxed)
        if let voice = shared.voice {
            // Processed even while muted, so the echo canceller stays in step with playback.
            cleaned.withUnsafeMutableBufferPointer { voice.process(captured, into: $0) }
            let source = quiet ? silence : cleaned
            source.withUnsafeBufferPointer { send($0, now: now) }
        } else {
            silence.withUnsafeBufferPointer { zeros in send(quiet ? zeros : captured, now: now) }
        }
    }


    private func send(_ frame: UnsafeBufferPointer<Int16>, now: UInt64) {
        if let event = shared.dtmf.withLock({ $0.tick(timestamp: timestamp) }) {
            let header = RTPHeader(payloadType: configuration.telephoneEventPayloadType, sequenceNumber: sequence,
                                   timestamp: event.timestamp, ssrc: configuration.localSSRC, marker: event.marker)
            transmit(header: header, payload: event.payload.encode(), now: now)
        } else {
            let length: Int
            switch configuration.codec {
            case .opus:
                guard let encodedLength = try? encoded.withUnsafeMutableBytes({ try encoder.encode(frame, into: $0) }) else { return }
                // DTX: a 1–2 byte frame means "nothing worth sending".
                if configuration.opus.dtx && encodedLength <= 2 { return }
                length = encodedLength
            case .pcmu, .pcma:
                let aLaw = configuration.codec == .pcma
                for (index, sample) in frame.enumerated() {
                    encoded[index] = aLaw ? G711.encodeALaw(sample) : G711.encodeMuLaw(sample)
                }
                length = frame.count
            }
            let header = RTPHeader(payloadType: configuration.opusPayloadType, sequenceNumber: sequence,
                                   timestamp: timestamp, ssrc: configuration.localSSRC, marker: firstPacket)
            firstPacket = false
            transmit(header: header, payload: encoded[0..<length], now: now)
        }
        framesSinceReport += 1
        if Double(framesSinceReport * configuration.opus.frameMilliseconds) >= configuration.reportInterval * 1000 {
            framesSinceReport = 0
            var report = shared.rtcp.withLock { $0.makeReport(now: now) }
            if (try? srtp.protectRTCP(&report)) != nil {
                report.withUnsafeBytes { transport.send($0) }
            }
        }
    }

    private func transmit<Payload: Collection<UInt8>>(header: RTPHeader, payload: Payload, now: UInt64) {
        packet.removeAll(keepingCapacity: true)
        header.encode(into: &packet)
        packet.append(contentsOf: payload)
        sequence &+= 1
        shared.rtcp.withLock { $0.noteSent(rtpTimestamp: header.timestamp, payloadBytes: payload.count, now: now) }
        packetsSent.add(1, ordering: .relaxed)
        guard (try? srtp.protectRTP(&packet)) != nil else { return }
        if configuration.outgoingLossRate > 0 && Double.random(in: 0..<1, using: &random) < configuration.outgoingLossRate { return }
        packet.withUnsafeBytes { transport.send($0) }
    }
}

/// State of the receive path. `@unchecked` for the same reason as `SendPath`: the SRTP
/// context and the rest are used by one thread at a time, under `serial`.
private final class ReceivePath: @unchecked Sendable {
    private let serial = Mutex<Void>(())
    let srtp: SRTPContext
    let shared: MediaSession.Shared
    let configuration: MediaSessionConfiguration
    let onDigit: @Sendable (Character) -> Void
    var dtmf = DTMFReceiver()
    var packet: [UInt8] = []
    let logger = Logger(label: "dialtone.media")

    init(configuration: MediaSessionConfiguration, key: [UInt8], salt: [UInt8], shared: MediaSession.Shared,
         onDigit: @escaping @Sendable (Character) -> Void) throws {
        srtp = try SRTPContext(profile: configuration.keys.profile, masterKey: key, masterSalt: salt, direction: .inbound)
        self.shared = shared
        self.configuration = configuration
        self.onDigit = onDigit
        packet.reserveCapacity(1600)
    }

    func receive(_ datagram: UnsafeRawBufferPointer, arrival: Int64) {
        serial.withLock { _ in receiveAlone(datagram, now: arrival) }
    }

    private func receiveAlone(_ datagram: UnsafeRawBufferPointer, now: Int64) {
        packet.removeAll(keepingCapacity: true)
        packet.append(contentsOf: datagram)
        if isRTCP(datagram) {
            do {
                try srtp.unprotectRTCP(&packet)
                try shared.rtcp.withLock { rtcp throws in try rtcp.handleRTCP(packet, now: UInt64(now)) }
            } catch {
                logger.debug("dropped RTCP: \(error)")
            }
            return
        }
        do {
            try srtp.unprotectRTP(&packet)
        } catch {
            logger.debug("dropped SRTP: \(error)")
            return
        }
        guard let parsed = try? packet.withUnsafeBytes({ try RTPHeader.parse($0) }) else { return }
        let (header, offset) = parsed
        let accepted = shared.rtcp.withLock { $0.noteReceived(header, payloadBytes: packet.count - offset, now: UInt64(now)) }
        guard accepted != nil else { return }
        if header.payloadType == configuration.telephoneEventPayloadType {
            if let digit = dtmf.receive(Array(packet[offset...]), timestamp: header.timestamp) { onDigit(digit) }
        } else if header.payloadType == configuration.opusPayloadType {
            packet.withUnsafeBytes { raw in
                let payload = UnsafeRawBufferPointer(rebasing: raw[offset...])
                shared.jitter.withLock { $0.insert(timestamp: header.timestamp, ssrc: header.ssrc, payload: payload, arrival: now) }
            }
            shared.firstPacket.open()
        }
    }
}

/// State of the playback thread: the decoder and the loudness of the last frame, which
/// tells the jitter buffer when a frame can be dropped or added unheard.
private final class PlaybackPath: @unchecked Sendable {
    let decoder: OpusDecoder
    let shared: MediaSession.Shared
    let frameSamples: Int
    let codec: AudioCodec
    var quiet = true
    /// G.711's concealment: the last frame again, fading, for a lost packet or two.
    var previous: [Int16] = []

    init(shared: MediaSession.Shared, frameSamples: Int, codec: AudioCodec) throws {
        decoder = try OpusDecoder()
        self.shared = shared
        self.frameSamples = frameSamples
        self.codec = codec
        previous = [Int16](repeating: 0, count: frameSamples)
    }

    /// G.711 needs no decoder state: a byte a sample.
    private func decodeG711(_ payload: [UInt8], into frame: UnsafeMutableBufferPointer<Int16>) -> Int {
        let count = min(payload.count, frame.count)
        let aLaw = codec == .pcma
        for i in 0..<count { frame[i] = aLaw ? G711.decodeALaw(payload[i]) : G711.decodeMuLaw(payload[i]) }
        return count
    }

    var started = false

    func fill(_ frame: UnsafeMutableBufferPointer<Int16>) {
        let now = monotonicNanoseconds()
        if !started {
            started = true
            // For latency measurements: when the first frame went to the speaker.
            Logger(label: "dialtone.media").info("playback: first frame at \(now) ns (monotonic)")
        }
        let decision = shared.jitter.withLock { $0.pull(now: now, quiet: quiet) }
        var produced = 0
        switch (decision, codec) {
        case (.packet(let payload), .opus):
            produced = (try? payload.withUnsafeBytes { try decoder.decode($0, into: frame) }) ?? 0
        case (.fec(let next), .opus):
            produced = (try? next.withUnsafeBytes { try decoder.decodeFEC(from: $0, into: frame) }) ?? 0
        case (.conceal, .opus):
            produced = (try? decoder.conceal(into: frame)) ?? 0
        case (.packet(let payload), _):
            produced = decodeG711(Array(payload), into: frame)
        case (.fec, _), (.conceal, _):
            // No FEC in G.711: the previous frame at half level covers a short gap.
            for i in 0..<min(frame.count, previous.count) { frame[i] = previous[i] / 2 }
            produced = min(frame.count, previous.count)
        case (.silence, _):
            produced = 0
        }
        for i in produced..<frame.count { frame[i] = 0 }
        if codec != .opus {
            for i in 0..<min(frame.count, previous.count) { previous[i] = frame[i] }
        }
        let level = AudioLevel.rms(UnsafeBufferPointer(frame))
        quiet = level < 300
        if shared.held.load(ordering: .relaxed) {
            for i in 0..<frame.count { frame[i] = 0 }
        }
        shared.playbackLevel.store(shared.held.load(ordering: .relaxed) ? 0 : level, ordering: .relaxed)
        shared.voice?.played(UnsafeBufferPointer(frame))
    }
}

/// The level meters' measure of a frame.
enum AudioLevel {
    /// Root-mean-square, 0...32767. In integers, which the compiler vectorises (this loop in
    /// doubles was the largest share of our own code in a call's profile); a frame's squares
    /// of Int16 fit an Int many times over.
    static func rms(_ frame: UnsafeBufferPointer<Int16>) -> Int {
        var sum = 0
        for sample in frame { sum &+= Int(sample) &* Int(sample) }
        return Int((Double(sum) / Double(max(1, frame.count))).squareRoot())
    }
}
