import COpus

public enum CodecError: Error, Sendable, Equatable, CustomStringConvertible {
    case opus(String, Int32)
    case badFrameSize(Int)

    public var description: String {
        switch self {
        case .opus(let what, let code):
            let reason = opus_strerror(code).map { String(cString: $0) } ?? "error \(code)"
            return "Opus \(what) failed: \(reason)"
        case .badFrameSize(let samples):
            return "\(samples) samples is not an Opus frame size at 48 kHz (10, 20, 40 or 60 ms)"
        }
    }
}

/// libopus's application modes (OPUS_APPLICATION_*): what the encoder optimises for.
public enum OpusApplication: String, Sendable, CaseIterable {
    /// Speech intelligibility: SILK or hybrid for voice, with in-band FEC possible.
    case voip
    /// Fidelity to the input; the same coding modes as `voip`, tuned for music.
    case audio
    /// CELT only, 2.5 ms less look-ahead; no SILK, so no in-band FEC.
    case restrictedLowDelay = "restricted-lowdelay"

    var opusValue: Int32 {
        switch self {
        case .voip: OPUS_APPLICATION_VOIP
        case .audio: OPUS_APPLICATION_AUDIO
        case .restrictedLowDelay: OPUS_APPLICATION_RESTRICTED_LOWDELAY
        }
    }
}

/// Encoder settings. Defaults suit a voice call: VoIP mode, in-band FEC for the jitter
/// buffer to recover single losses, 20 ms frames. Complexity, application, FEC and DTX were
/// chosen by CPU and speech quality together (Scripts/bench-opus, docs/benchmarks.md "Opus
/// settings"): no cheaper setting kept the quality both without loss and at 5 % loss.
public struct OpusEncoderSettings: Sendable, Equatable {
    public var application = OpusApplication.voip
    /// Tells the encoder the input is speech (OPUS_SIGNAL_VOICE) instead of letting it guess:
    /// below complexity 10 libopus does not analyse the input, and left to guess it may code
    /// speech with CELT alone, at a much lower quality.
    public var voiceSignal = true
    public var bitrate: Int32 = 28_000
    public var complexity: Int32 = 5
    public var inbandFEC = true
    /// What FEC is tuned for; Opus only adds redundancy when this is above zero.
    public var expectedLossPercent: Int32 = 10
    /// Discontinuous transmission: during silence a packet every 400 ms only.
    public var dtx = false
    public var frameMilliseconds = 20
    /// The highest audio rate the receiver will play (RFC 7587 maxplaybackrate): above it the
    /// encoder spends no bits.
    public var maxPlaybackRate: Int32 = 48_000

    public init() {}

    public var frameSamples: Int { 48 * frameMilliseconds }
}

/// libopus encoder, 48 kHz mono. Not Sendable: one capture thread owns it.
public final class OpusEncoder {
    public static let sampleRate: Int32 = 48_000
    public let settings: OpusEncoderSettings
    private let encoder: OpaquePointer

    public init(settings: OpusEncoderSettings = OpusEncoderSettings()) throws(CodecError) {
        guard [10, 20, 40, 60].contains(settings.frameMilliseconds) else { throw .badFrameSize(settings.frameSamples) }
        var error: Int32 = 0
        guard let encoder = opus_encoder_create(Self.sampleRate, 1, settings.application.opusValue, &error), error == OPUS_OK else {
            throw .opus("encoder creation", error)
        }
        self.encoder = encoder
        self.settings = settings
        for (what, result) in [
            ("bitrate", dt_opus_set_bitrate(encoder, settings.bitrate)),
            ("complexity", dt_opus_set_complexity(encoder, settings.complexity)),
            ("in-band FEC", dt_opus_set_inband_fec(encoder, settings.inbandFEC ? 1 : 0)),
            ("loss percentage", dt_opus_set_packet_loss_perc(encoder, settings.expectedLossPercent)),
            ("DTX", dt_opus_set_dtx(encoder, settings.dtx ? 1 : 0)),
            ("signal type", dt_opus_set_signal(encoder, settings.voiceSignal ? OPUS_SIGNAL_VOICE : OPUS_AUTO)),
            ("maximum bandwidth", dt_opus_set_max_bandwidth(encoder, Self.bandwidth(forPlaybackRate: settings.maxPlaybackRate))),
        ] where result != OPUS_OK {
            opus_encoder_destroy(encoder)
            throw .opus(what, result)
        }
    }

    deinit { opus_encoder_destroy(encoder) }

    /// RFC 7587 6.1: the narrowest Opus bandwidth that covers the receiver's playback rate.
    static func bandwidth(forPlaybackRate rate: Int32) -> Int32 {
        switch rate {
        case ..<12_000: OPUS_BANDWIDTH_NARROWBAND
        case ..<16_000: OPUS_BANDWIDTH_MEDIUMBAND
        case ..<24_000: OPUS_BANDWIDTH_WIDEBAND
        case ..<48_000: OPUS_BANDWIDTH_SUPERWIDEBAND
        default: OPUS_BANDWIDTH_FULLBAND
        }
    }

    /// Samples of algorithmic delay (look-ahead), for latency accounting.
    public var lookahead: Int {
        var value: Int32 = 0
        _ = dt_opus_get_lookahead(encoder, &value)
        return Int(value)
    }

    /// Encodes one frame of `settings.frameSamples` samples into `packet` (whose count is the
    /// maximum size); returns the packet length. With DTX, 1 or 2 bytes mean "nothing to send".
    public func encode(_ pcm: UnsafeBufferPointer<Int16>, into packet: UnsafeMutableRawBufferPointer) throws(CodecError) -> Int {
        guard pcm.count == settings.frameSamples else { throw .badFrameSize(pcm.count) }
        let result = opus_encode(encoder, pcm.baseAddress!, Int32(pcm.count),
                                 packet.baseAddress!.assumingMemoryBound(to: UInt8.self), Int32(packet.count))
        guard result > 0 else { throw .opus("encoding", result) }
        return Int(result)
    }

    public func encode(_ pcm: [Int16]) throws(CodecError) -> [UInt8] {
        var packet = [UInt8](repeating: 0, count: 1500)
        var result: Result<Int, CodecError> = .success(0)
        pcm.withUnsafeBufferPointer { samples in
            packet.withUnsafeMutableBytes { out in
                result = Result { () throws(CodecError) in try encode(samples, into: out) }
            }
        }
        let length = try result.get()
        packet.removeLast(packet.count - length)
        return packet
    }
}

@available(*, unavailable)
extension OpusEncoder: Sendable {}

/// libopus decoder, 48 kHz mono, with the two ways of filling a gap: FEC data carried in the
/// next packet, or packet loss concealment. Not Sendable: the playback thread owns it.
public final class OpusDecoder {
    private let decoder: OpaquePointer

    public init() throws(CodecError) {
        var error: Int32 = 0
        guard let decoder = opus_decoder_create(OpusEncoder.sampleRate, 1, &error), error == OPUS_OK else {
            throw .opus("decoder creation", error)
        }
        self.decoder = decoder
    }

    deinit { opus_decoder_destroy(decoder) }

    /// Decodes a packet into `pcm` (count = room available); returns the samples written.
    public func decode(_ packet: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(packet.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(packet.count), pcm, fec: false)
    }

    /// Recovers the frame *before* `nextPacket` from its in-band FEC; `pcm.count` must be the
    /// lost frame's length. Without FEC data libopus falls back to concealment by itself.
    public func decodeFEC(from nextPacket: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(nextPacket.baseAddress?.assumingMemoryBound(to: UInt8.self), Int32(nextPacket.count), pcm, fec: true)
    }

    /// Packet loss concealment for `pcm.count` samples (decode of a missing packet).
    public func conceal(into pcm: UnsafeMutableBufferPointer<Int16>) throws(CodecError) -> Int {
        try run(nil, 0, pcm, fec: false)
    }

    public func decode(_ packet: [UInt8], frameSamples: Int = 5760) throws(CodecError) -> [Int16] {
        var pcm = [Int16](repeating: 0, count: frameSamples)
        var result: Result<Int, CodecError> = .success(0)
        packet.withUnsafeBytes { raw in
            pcm.withUnsafeMutableBufferPointer { out in
                result = Result { () throws(CodecError) in try decode(raw, into: out) }
            }
        }
        let count = try result.get()
        pcm.removeLast(pcm.count - count)
        return pcm
    }

    private func run(_ data: UnsafePointer<UInt8>?, _ length: Int32, _ pcm: UnsafeMutableBufferPointer<Int16>, fec: Bool) throws(CodecError) -> Int {
        let result = opus_decode(decoder, data, length, pcm.baseAddress!, Int32(pcm.count), fec ? 1 : 0)
        guard result >= 0 else { throw .opus(fec ? "FEC decoding" : "decoding", result) }
        return Int(result)
    }
}

@available(*, unavailable)
extension OpusDecoder: Sendable {}
