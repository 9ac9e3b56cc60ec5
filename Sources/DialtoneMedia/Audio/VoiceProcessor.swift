import CSpeexDSP
import Synchronization

/// What is done to the microphone's signal before it is encoded. Each part can be switched
/// off in the configuration; echo cancellation is on by default because without it a
/// laptop's speakers come back to the other side through its microphone.
public struct VoiceProcessingSettings: Sendable, Equatable {
    public var echoCancellation = true
    public var noiseSuppression = true
    public var automaticGain = false
    /// How long an echo the canceller models: the speaker-to-microphone path plus the
    /// buffering on both sides.
    public var echoTailMilliseconds = 200

    public init() {}

    public static let off: VoiceProcessingSettings = {
        var settings = VoiceProcessingSettings()
        settings.echoCancellation = false
        settings.noiseSuppression = false
        settings.automaticGain = false
        return settings
    }()

    public var isActive: Bool { echoCancellation || noiseSuppression || automaticGain }
}

public enum VoiceProcessingError: Error, Sendable, Equatable {
    case cannotCreate
}

/// speexdsp's acoustic echo canceller (MDF) and preprocessor (noise suppression, AGC, residual
/// echo suppression). The playback thread reports each frame it plays (`played`), the capture
/// thread cleans each frame it records (`process`); a queue of the blocks played pairs them up,
/// and a lock keeps the two threads out of the state at once. (speexdsp's own pairing,
/// speex_echo_playback/capture, prints "your application is buggy" to stderr whenever the two
/// sides are not in lockstep, which they never are at a call's start, when playback begins
/// with the first packet, nor across the two threads' jitter.)
public final class VoiceProcessor: @unchecked Sendable {
    public let settings: VoiceProcessingSettings
    public let frameSamples: Int
    /// speexdsp works in blocks of 10 ms: its preprocessor hands back the previous block, so
    /// a smaller block is less delay (10 ms instead of a whole 20 ms frame).
    let blockSamples: Int
    private let echo: OpaquePointer?
    private let preprocess: OpaquePointer?
    private let lock = Mutex(())
    /// Blocks played and not yet paired with a captured one, oldest first, in a ring of
    /// `queuedBlocksLimit` blocks; the oldest go when playback runs that far ahead. Silence
    /// stands in when capture runs ahead. Preallocated: nothing is allocated per frame.
    private var queued: [Int16]
    private var queuedFirst = 0
    private var queuedCount = 0
    private let silence: [Int16]
    static let queuedBlocksLimit = 8

    public init(settings: VoiceProcessingSettings, frameSamples: Int, sampleRate: Int = 48_000) throws(VoiceProcessingError) {
        self.settings = settings
        self.frameSamples = frameSamples
        let tenMilliseconds = sampleRate / 100
        blockSamples = frameSamples % tenMilliseconds == 0 ? tenMilliseconds : frameSamples
        queued = [Int16](repeating: 0, count: settings.echoCancellation ? Self.queuedBlocksLimit * blockSamples : 0)
        silence = [Int16](repeating: 0, count: blockSamples)
        var rate = Int32(sampleRate)
        if settings.echoCancellation {
            guard let state = speex_echo_state_init(Int32(blockSamples), Int32(sampleRate * settings.echoTailMilliseconds / 1000)) else {
                throw .cannotCreate
            }
            speex_echo_ctl(state, SPEEX_ECHO_SET_SAMPLING_RATE, &rate)
            echo = state
        } else {
            echo = nil
        }
        guard settings.isActive else {
            preprocess = nil
            return
        }
        guard let pre = speex_preprocess_state_init(Int32(blockSamples), Int32(sampleRate)) else {
            if let echo { speex_echo_state_destroy(echo) }
            throw .cannotCreate
        }
        var denoise: Int32 = settings.noiseSuppression ? 1 : 0
        var agc: Int32 = settings.automaticGain ? 1 : 0
        speex_preprocess_ctl(pre, SPEEX_PREPROCESS_SET_DENOISE, &denoise)
        speex_preprocess_ctl(pre, SPEEX_PREPROCESS_SET_AGC, &agc)
        if let echo {
            // The preprocessor also removes what is left of the echo after the filter.
            speex_preprocess_ctl(pre, SPEEX_PREPROCESS_SET_ECHO_STATE, UnsafeMutableRawPointer(echo))
        }
        preprocess = pre
    }

    deinit {
        if let preprocess { speex_preprocess_state_destroy(preprocess) }
        if let echo { speex_echo_state_destroy(echo) }
    }

    /// A frame just handed to the speaker (the far end's voice): what the echo will sound like.
    public func played(_ frame: UnsafeBufferPointer<Int16>) {
        guard echo != nil, frame.count == frameSamples, let base = frame.baseAddress else { return }
        lock.withLock { _ in
            for start in stride(from: 0, to: frameSamples, by: blockSamples) {
                if queuedCount == Self.queuedBlocksLimit {
                    queuedFirst = (queuedFirst + 1) % Self.queuedBlocksLimit
                    queuedCount -= 1
                }
                let slot = (queuedFirst + queuedCount) % Self.queuedBlocksLimit
                queued.withUnsafeMutableBufferPointer { ($0.baseAddress! + slot * blockSamples).update(from: base + start, count: blockSamples) }
                queuedCount += 1
            }
        }
    }

    /// Cancels the echo of the oldest block played from one captured block.
    private func cancelEcho(_ echo: OpaquePointer, _ input: UnsafePointer<Int16>, into out: UnsafeMutablePointer<Int16>) {
        guard queuedCount > 0 else {
            silence.withUnsafeBufferPointer { speex_echo_cancellation(echo, input, $0.baseAddress, out) }
            return
        }
        queued.withUnsafeBufferPointer { speex_echo_cancellation(echo, input, $0.baseAddress! + queuedFirst * blockSamples, out) }
        queuedFirst = (queuedFirst + 1) % Self.queuedBlocksLimit
        queuedCount -= 1
    }

    /// Cleans one captured frame into `output` (same size).
    public func process(_ captured: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) {
        guard captured.count == frameSamples, output.count == frameSamples, let input = captured.baseAddress,
              let out = output.baseAddress else {
            for i in 0..<min(captured.count, output.count) { output[i] = captured[i] }
            return
        }
        lock.withLock { _ in
            for start in stride(from: 0, to: frameSamples, by: blockSamples) {
                if let echo {
                    cancelEcho(echo, input + start, into: out + start)
                } else {
                    (out + start).update(from: input + start, count: blockSamples)
                }
                if let preprocess { _ = speex_preprocess_run(preprocess, out + start) }
            }
        }
    }

    /// For tests and tools that hold both signals at once: cancels `farEnd`'s echo from `captured`.
    public func cancel(_ captured: UnsafeBufferPointer<Int16>, farEnd: UnsafeBufferPointer<Int16>,
                       into output: UnsafeMutableBufferPointer<Int16>) {
        guard let echo, captured.count == frameSamples, farEnd.count == frameSamples, output.count == frameSamples,
              let input = captured.baseAddress, let far = farEnd.baseAddress, let out = output.baseAddress else {
            process(captured, into: output)
            return
        }
        lock.withLock { _ in
            for start in stride(from: 0, to: frameSamples, by: blockSamples) {
                speex_echo_cancellation(echo, input + start, far + start, out + start)
                if let preprocess { _ = speex_preprocess_run(preprocess, out + start) }
            }
        }
    }
}
