#if canImport(Glibc)
import Glibc
#endif
import DialtoneMedia

// Codec settings by measurement (Scripts/bench-opus): `MediaBench opus KEY=VALUE…` encodes a
// speech file with the given Opus settings, drops packets at random as the network would, plays
// what arrives through Dialtone's receive path (JitterBuffer, then decode, FEC or concealment as
// PlaybackPath.fill does) and writes what would reach the speaker, for a speech-quality score.
// It prints one line of JSON: CPU per 20 ms frame of encoding and of the receive path (medians
// of `rounds` passes over the whole file), the bit rate, and what the jitter buffer did.
//
//   input=PATH        s16le mono 48 kHz
//   output=PREFIX     writes PREFIX-loss<L>-seed<S>.raw (s16le mono 48 kHz, aligned with the
//                     input: the encoder's look-ahead and the buffer's start are taken off)
//   complexity=5 application=voip|audio|restricted-lowdelay fec=1 dtx=0 signal=voice|auto
//   bitrate=28000 lossperc=10 (the encoder's expected loss) losses=0,5 seeds=1,2,3 rounds=5

/// The same loss pattern for every setting: a seeded generator (SplitMix64), not the system's.
struct SeededRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// True with probability `percent` %.
    mutating func chance(_ percent: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) * 100 < percent }
}

func readSamples(_ path: String) -> [Int16]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var samples: [Int16] = []
    var chunk = [Int16](repeating: 0, count: 48_000)
    while true {
        let count = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 2, 48_000, file) }
        samples.append(contentsOf: chunk[0..<count])
        if count < 48_000 { return samples }
    }
}

func writeSamples(_ samples: [Int16], to path: String) -> Bool {
    guard let file = fopen(path, "wb") else { return false }
    defer { fclose(file) }
    return samples.withUnsafeBytes { fwrite($0.baseAddress, 2, samples.count, file) } == samples.count
}

func opusMode(_ arguments: ArraySlice<String>) throws -> Int32 {
    var options: [String: String] = [:]
    for argument in arguments {
        let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2 else {
            print("MediaBench opus: expected KEY=VALUE, got \(argument)")
            return 2
        }
        options[parts[0]] = parts[1]
    }
    func int(_ key: String, _ fallback: Int) -> Int { options[key].flatMap { Int($0) } ?? fallback }
    func list(_ key: String, _ fallback: String) -> [Int] { (options[key] ?? fallback).split(separator: ",").compactMap { Int($0) } }

    var settings = OpusEncoderSettings()
    settings.complexity = Int32(int("complexity", Int(settings.complexity)))
    settings.bitrate = Int32(int("bitrate", Int(settings.bitrate)))
    settings.inbandFEC = int("fec", settings.inbandFEC ? 1 : 0) != 0
    settings.dtx = int("dtx", settings.dtx ? 1 : 0) != 0
    settings.expectedLossPercent = Int32(int("lossperc", Int(settings.expectedLossPercent)))
    if let name = options["application"] {
        guard let application = OpusApplication(rawValue: name) else {
            print("MediaBench opus: application is one of \(OpusApplication.allCases.map(\.rawValue))")
            return 2
        }
        settings.application = application
    }
    if let signal = options["signal"] { settings.voiceSignal = signal == "voice" }
    let rounds = max(1, int("rounds", 5))
    guard let inputPath = options["input"], var samples = readSamples(inputPath), !samples.isEmpty else {
        print("MediaBench opus: input=PATH (s16le mono 48 kHz) is needed and must not be empty")
        return 2
    }
    let frameSamples = settings.frameSamples
    samples.append(contentsOf: [Int16](repeating: 0, count: (frameSamples - samples.count % frameSamples) % frameSamples))
    let frameCount = samples.count / frameSamples

    // Encoding, as the capture thread does; a fresh encoder each round, so every round codes
    // the same packets. DTX's 1–2 byte frames are not sent (SendPath.send).
    var packets: [[UInt8]?] = []
    var encodeCost: [Double] = []
    var lookahead = 0
    var packet = [UInt8](repeating: 0, count: 1500)
    for _ in 0..<rounds {
        let encoder = try OpusEncoder(settings: settings)
        lookahead = encoder.lookahead
        var round: [[UInt8]?] = []
        round.reserveCapacity(frameCount)
        let start = cpuNanoseconds()
        for f in 0..<frameCount {
            let length = try samples[f * frameSamples..<(f + 1) * frameSamples].withUnsafeBufferPointer { frame in
                try packet.withUnsafeMutableBytes { try encoder.encode(frame, into: $0) }
            }
            round.append(settings.dtx && length <= 2 ? nil : Array(packet[0..<length]))
        }
        encodeCost.append(Double(cpuNanoseconds() - start) / Double(frameCount))
        packets = round
    }
    let sentBytes = packets.reduce(0) { $0 + ($1?.count ?? 0) }
    let sentPackets = packets.reduce(0) { $0 + ($1 == nil ? 0 : 1) }

    // Receiving, as the playback thread does: packet t arrives 1 ms into period t (no jitter),
    // the buffer is pulled 1 ms later, and each decision is decoded as PlaybackPath.fill does.
    // The first and last packets are never dropped, so the output keeps its alignment.
    let frameNanoseconds: Int64 = 20_000_000
    var lines: [String] = []
    var decodeCost: [Double] = []
    for loss in list("losses", "0,5") {
        for seed in loss == 0 ? [0] : list("seeds", "1,2,3") {
            var random = SeededRandom(state: UInt64(seed))
            let lost = (0..<frameCount).map { f in f != 0 && f != frameCount - 1 && random.chance(Double(loss)) }
            var output: [Int16] = []
            var counters: JitterBufferCounters?
            for _ in 0..<(loss == 0 ? rounds : 1) {
                let decoder = try OpusDecoder()
                var jitter = JitterBuffer()
                var frame = [Int16](repeating: 0, count: frameSamples)
                var played: [Int16] = []
                played.reserveCapacity((frameCount + 3) * frameSamples)
                var quiet = true
                let start = cpuNanoseconds()
                for t in 0..<(frameCount + 2) {
                    let now = Int64(t) * frameNanoseconds
                    if t < frameCount, !lost[t], let payload = packets[t] {
                        jitter.insert(timestamp: UInt32(truncatingIfNeeded: t * frameSamples), ssrc: 1, payload: payload, arrival: now + 1_000_000)
                    }
                    let decision = jitter.pull(now: now + 2_000_000, quiet: quiet)
                    let produced = try frame.withUnsafeMutableBufferPointer { pcm -> Int in
                        switch decision {
                        case .packet(let payload): return try payload.withUnsafeBytes { try decoder.decode($0, into: pcm) }
                        case .fec(let next): return try next.withUnsafeBytes { try decoder.decodeFEC(from: $0, into: pcm) }
                        case .conceal: return try decoder.conceal(into: pcm)
                        case .silence: return 0
                        }
                    }
                    for i in produced..<frameSamples { frame[i] = 0 }
                    var sum = 0.0
                    for sample in frame { sum += Double(sample) * Double(sample) }
                    quiet = (sum / Double(frameSamples)).squareRoot() < 300
                    played.append(contentsOf: frame)
                }
                if loss == 0 { decodeCost.append(Double(cpuNanoseconds() - start) / Double(frameCount)) }
                output = played
                counters = jitter.counters
            }
            // Playback starts one frame (the buffer's target delay) after the first packet, and
            // the decoder's output lags by the encoder's look-ahead.
            let skip = frameSamples + lookahead
            let aligned = Array(output[min(skip, output.count)...].prefix(samples.count))
                + [Int16](repeating: 0, count: max(0, samples.count - max(0, output.count - skip)))
            if let prefix = options["output"], !writeSamples(aligned, to: "\(prefix)-loss\(loss)-seed\(seed).raw") {
                print("MediaBench opus: cannot write \(prefix)-loss\(loss)-seed\(seed).raw")
                return 1
            }
            guard let counters else { continue }
            lines.append("{\"loss\":\(loss),\"seed\":\(seed),\"lost\":\(lost.filter { $0 }.count),\"fec\":\(counters.fecRecovered),"
                         + "\"concealed\":\(counters.concealed),\"played\":\(counters.played),\"dropped\":\(counters.dropped),\"stretched\":\(counters.stretched)}")
        }
    }
    let seconds = Double(frameCount * settings.frameMilliseconds) / 1000
    print("{\"complexity\":\(settings.complexity),\"application\":\"\(settings.application.rawValue)\",\"fec\":\(settings.inbandFEC),"
          + "\"dtx\":\(settings.dtx),\"signal\":\"\(settings.voiceSignal ? "voice" : "auto")\",\"bitrate\":\(settings.bitrate),\"frames\":\(frameCount),"
          + "\"lookahead\":\(lookahead),\"encode_us\":\(fixed(median(encodeCost) / 1000, 2)),\"decode_us\":\(fixed(median(decodeCost.isEmpty ? [0] : decodeCost) / 1000, 2)),"
          + "\"encode_us_all\":[\(encodeCost.map { fixed($0 / 1000, 2) }.joined(separator: ","))],"
          + "\"kbps\":\(fixed(Double(sentBytes) * 8 / seconds / 1000, 2)),\"packets_sent\":\(sentPackets),\"runs\":[\(lines.joined(separator: ","))]}")
    return 0
}
