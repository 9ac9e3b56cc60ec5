// CPU cost of one endpoint's media pipeline per 20 ms frame, both directions, without devices:
// capture frame → Opus encode → RTP → SRTP protect (send) and SRTP unprotect → jitter buffer →
// Opus decode (receive), plus, for the floor, libopus encode + decode alone.
// Scripts/bench-media builds this in release and runs it. `MediaBench opus …` is another mode,
// for choosing the codec's settings (OpusSettings.swift, Scripts/bench-opus).
#if canImport(Glibc)
import Glibc
#endif
import DialtoneMedia
import DialtoneTLS

func cpuNanoseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

let arguments = CommandLine.arguments
let frames = arguments.count > 1 ? Int(arguments[1]) ?? 3000 : 3000
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 5 : 5
/// "speech" (default): a tone with a slow vibrato and some noise, so Opus does real work.
/// "call": what Scripts/bench-call-media feeds both ends (a quiet 440 Hz tone, amplitude 1000,
/// with a 5 ms 2 kHz click at 16000 every 2 s), to read that bench's figures against.
let inputKind = arguments.count > 3 ? arguments[3] : "speech"

var random = SystemRandomNumberGenerator()
let input: [[Int16]] = inputKind == "call"
    ? (0..<100).map { f in
        (0..<960).map { i in
            let n = f * 960 + i
            let tone = 1000 * sin(2 * Double.pi * 440 * Double(n) / 48000)
            let click = n < 240 ? 16000 * sin(2 * Double.pi * 2000 * Double(n) / 48000) : 0
            return Int16(tone + click)
        }
    }
    : (0..<50).map { f in
        (0..<960).map { i in
            let t = Double(f * 960 + i) / 48000
            let s = 6000 * sin(2 * Double.pi * (220 + 30 * sin(2 * Double.pi * 3 * t)) * t) + Double(Int.random(in: -300...300, using: &random))
            return Int16(s)
        }
    }

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

/// `value` with `digits` decimals (no Foundation here).
func fixed(_ value: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = Int((value * scale).rounded())
    let whole = scaled / Int(scale)
    let fraction = String(abs(scaled) % Int(scale))
    return digits == 0 ? "\(whole)" : "\(whole)." + String(repeating: "0", count: digits - fraction.count) + fraction
}

/// Percent of one core for a 20 ms frame period, from CPU nanoseconds per frame.
func percent(_ nanosecondsPerFrame: Double) -> Double { nanosecondsPerFrame / 20_000_000 * 100 }

if arguments.count > 1 && arguments[1] == "opus" {
    exit(try opusMode(arguments.dropFirst(2)))
}

func opusOnly(complexity: Int32) throws -> Double {
    var settings = OpusEncoderSettings()
    settings.complexity = complexity
    let encoder = try OpusEncoder(settings: settings)
    let decoder = try OpusDecoder()
    var packet = [UInt8](repeating: 0, count: 1500)
    var pcm = [Int16](repeating: 0, count: 960)
    let start = cpuNanoseconds()
    for f in 0..<frames {
        let length = try input[f % input.count].withUnsafeBufferPointer { samples in
            try packet.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
        }
        _ = try packet[0..<length].withUnsafeBytes { raw in
            try pcm.withUnsafeMutableBufferPointer { try decoder.decode(raw, into: $0) }
        }
    }
    return Double(cpuNanoseconds() - start) / Double(frames)
}

func pipeline(complexity: Int32, profile: SRTPProtectionProfile) throws -> Double {
    var settings = OpusEncoderSettings()
    settings.complexity = complexity
    let encoder = try OpusEncoder(settings: settings)
    let decoder = try OpusDecoder()
    let key = [UInt8](repeating: 7, count: 16)
    let salt = [UInt8](repeating: 9, count: profile.saltLength)
    let sender = try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .outbound)
    let receiver = try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .inbound)
    var jitter = JitterBuffer()
    var rtcp = RTCPSession(localSSRC: 1, clockRate: 48000, cname: "bench", codec: "opus")
    var encoded = [UInt8](repeating: 0, count: 1500)
    var packet: [UInt8] = []
    packet.reserveCapacity(1600)
    var pcm = [Int16](repeating: 0, count: 960)
    let start = cpuNanoseconds()
    for f in 0..<frames {
        let now = Int64(f) * 20_000_000
        let length = try input[f % input.count].withUnsafeBufferPointer { samples in
            try encoded.withUnsafeMutableBytes { try encoder.encode(samples, into: $0) }
        }
        packet.removeAll(keepingCapacity: true)
        let header = RTPHeader(payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: f), timestamp: UInt32(f * 960), ssrc: 0x1234)
        header.encode(into: &packet)
        packet.append(contentsOf: encoded[0..<length])
        try sender.protectRTP(&packet)
        try receiver.unprotectRTP(&packet)
        let (parsed, offset) = try packet.withUnsafeBytes { try RTPHeader.parse($0) }
        rtcp.noteReceived(parsed, payloadBytes: packet.count - offset, now: UInt64(now))
        packet.withUnsafeBytes { raw in
            jitter.insert(timestamp: parsed.timestamp, payload: UnsafeRawBufferPointer(rebasing: raw[offset...]), arrival: now + 1_000_000)
        }
        if case .packet(let payload) = jitter.pull(now: now + 25_000_000) {
            _ = try payload.withUnsafeBytes { raw in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(raw, into: $0) } }
        }
    }
    return Double(cpuNanoseconds() - start) / Double(frames)
}

/// SRTP alone: protect then unprotect one RTP packet of a 28 kbit/s, 20 ms Opus frame (70 bytes of
/// payload), what each endpoint does once per frame in each direction. Many packets a round, so
/// the clock's resolution does not matter.
func srtpOnly(profile: SRTPProtectionProfile) throws -> Double {
    let key = [UInt8](repeating: 7, count: 16)
    let salt = [UInt8](repeating: 9, count: profile.saltLength)
    let sender = try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .outbound)
    let receiver = try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .inbound)
    let payload = [UInt8](repeating: 0x5a, count: 70)
    var packet: [UInt8] = []
    packet.reserveCapacity(1600)
    let count = frames * 20
    let start = cpuNanoseconds()
    for f in 0..<count {
        packet.removeAll(keepingCapacity: true)
        RTPHeader(payloadType: 111, sequenceNumber: UInt16(truncatingIfNeeded: f), timestamp: UInt32(truncatingIfNeeded: f * 960), ssrc: 0x1234)
            .encode(into: &packet)
        packet.append(contentsOf: payload)
        try sender.protectRTP(&packet)
        try receiver.unprotectRTP(&packet)
    }
    return Double(cpuNanoseconds() - start) / Double(count)
}

print("frames per round: \(frames) (\(frames / 50) s of audio), rounds: \(rounds), input: \(inputKind), Opus 48 kHz mono 28 kbit/s 20 ms, FEC on")
for complexity in [Int32(5), 10] {
    let floor = try (0..<rounds).map { _ in try opusOnly(complexity: complexity) }
    print("complexity \(complexity)  libopus encode+decode alone: \(fixed(median(floor) / 1000, 1)) µs/frame = "
          + "\(fixed(percent(median(floor)), 2)) % of a core (best \(fixed(percent(floor.min()!), 2)) %)")
    for profile in SRTPProtectionProfile.allCases {
        let full = try (0..<rounds).map { _ in try pipeline(complexity: complexity, profile: profile) }
        print("complexity \(complexity)  full pipeline, \(profile.rawValue): \(fixed(median(full) / 1000, 1)) µs/frame = "
              + "\(fixed(percent(median(full)), 2)) % of a core (best \(fixed(percent(full.min()!), 2)) %)")
    }
}

for profile in SRTPProtectionProfile.allCases {
    let cost = try (0..<rounds).map { _ in try srtpOnly(profile: profile) }
    print("SRTP protect + unprotect alone, \(profile.rawValue): \(fixed(median(cost) / 1000, 2)) µs/frame = "
          + "\(fixed(percent(median(cost)), 3)) % of a core (best \(fixed(percent(cost.min()!), 3)) %)")
}

/// Voice processing alone (speexdsp), per frame: what echo cancellation and noise suppression add
/// to the pipeline above. The far end is the same speech-like input, its echo mixed into the capture.
func voiceProcessing(_ settings: VoiceProcessingSettings) throws -> Double {
    let processor = try VoiceProcessor(settings: settings, frameSamples: 960)
    var out = [Int16](repeating: 0, count: 960)
    var captured = [Int16](repeating: 0, count: 960)
    let start = cpuNanoseconds()
    for f in 0..<frames {
        let far = input[f % input.count]
        let near = input[(f + 25) % input.count]
        for i in 0..<960 { captured[i] = Int16(clamping: Int(near[i]) / 2 + Int(far[i]) / 3) }
        far.withUnsafeBufferPointer { processor.played($0) }
        captured.withUnsafeBufferPointer { c in out.withUnsafeMutableBufferPointer { processor.process(c, into: $0) } }
    }
    return Double(cpuNanoseconds() - start) / Double(frames)
}

var echoOnly = VoiceProcessingSettings()
echoOnly.noiseSuppression = false
var noiseOnly = VoiceProcessingSettings()
noiseOnly.echoCancellation = false
for (name, settings) in [("echo cancellation + noise suppression (default)", VoiceProcessingSettings()),
                         ("echo cancellation alone", echoOnly), ("noise suppression alone", noiseOnly)] {
    let cost = try (0..<rounds).map { _ in try voiceProcessing(settings) }
    print("speexdsp \(name): \(fixed(median(cost) / 1000, 1)) µs/frame = \(fixed(percent(median(cost)), 2)) % of a core")
}
