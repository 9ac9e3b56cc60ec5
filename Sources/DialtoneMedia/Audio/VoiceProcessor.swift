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
/// thread cleans each frame it records (`process`); speexdsp pairs them up with its own
/// buffering, and a lock keeps the two threads out of its state at once.
public final class VoiceProcessor: @unchecked Sendable {
    public let settings: VoiceProcessingSettings
    public let frameSamples: Int
    /// speexdsp works in blocks of 10 ms: its preprocessor hands back the previous block, so
    /// a smaller block is less delay (10 ms instead of a whole 20 ms frame).
    let blockSamples: Int
    private let echo: OpaquePointer?
    private let preprocess: OpaquePointer?
    private let lock = Mutex(())

    public init(settings: VoiceProcessingSettings, frameSamples: Int, sampleRate: Int = 48_000) throws(VoiceProcessingError) {
        self.settings = settings
        self.frameSamples = frameSamples
        let tenMilliseconds = sampleRate / 100
        blockSamples = frameSamples % tenMilliseconds == 0 ? tenMilliseconds : frameSamples
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
        guard let echo, frame.count == frameSamples, let base = frame.baseAddress else { return }
        lock.withLock { _ in
            for start in stride(from: 0, to: frameSamples, by: blockSamples) { speex_echo_playback(echo, base + start) }
        }
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
                    speex_echo_capture(echo, input + start, out + start)
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
