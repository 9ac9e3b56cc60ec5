import Foundation
import CSndfile
import Synchronization

public enum AudioFileError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case empty(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "Cannot play \(path): \(reason)."
        case .empty(let path): "\(path) holds no audio."
        }
    }
}

/// A sound file decoded by libsndfile (WAV, FLAC, Ogg Vorbis and Opus, MP3…), mixed to mono
/// 16-bit at the file's own rate: voicemails are short, so the whole file is read at once.
public struct DecodedAudio: Sendable {
    public let samples: [Int16]
    public let sampleRate: Int

    public init(path: String) throws(AudioFileError) {
        var info = SF_INFO()
        guard let file = sf_open(path, Int32(SFM_READ), &info) else {
            throw .unreadable(path: path, reason: String(cString: sf_strerror(nil)))
        }
        defer { sf_close(file) }
        let channels = Int(max(info.channels, 1))
        guard info.frames > 0, info.samplerate > 0 else { throw .empty(path) }
        var interleaved = [Int16](repeating: 0, count: Int(info.frames) * channels)
        let read = interleaved.withUnsafeMutableBufferPointer { sf_readf_short(file, $0.baseAddress, info.frames) }
        guard read > 0 else { throw .empty(path) }
        var mono = [Int16](repeating: 0, count: Int(read))
        for frame in 0..<Int(read) {
            var sum = 0
            for channel in 0..<channels { sum += Int(interleaved[frame * channels + channel]) }
            mono[frame] = Int16(sum / channels)
        }
        samples = mono
        sampleRate = Int(info.samplerate)
    }

    public init(samples: [Int16], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    public var duration: Double { Double(samples.count) / Double(sampleRate) }

    /// A ring as North American phones make it: 440 + 480 Hz, two seconds on, four off.
    public static func ringTone(seconds: Double = 30, sampleRate: Int = 8_000) -> DecodedAudio {
        let count = Int(seconds * Double(sampleRate))
        var samples = [Int16](repeating: 0, count: count)
        for i in 0..<count where (i / sampleRate) % 6 < 2 {
            let t = Double(i) / Double(sampleRate)
            samples[i] = Int16(4_000 * (sin(2 * .pi * 440 * t) + sin(2 * .pi * 480 * t)))
        }
        return DecodedAudio(samples: samples, sampleRate: sampleRate)
    }
}

/// Plays decoded audio on an ALSA device at the file's rate (ALSA's plug layer converts for
/// hardware that wants another), with its position readable from any thread.
public final class AudioFilePlayer: Sendable {
    public let audio: DecodedAudio
    private let progress = Progress()

    /// Shared with the playback thread (an Atomic itself cannot be captured).
    final class Progress: Sendable {
        let played = Atomic<Int>(0)
    }
    private let playback: Mutex<AudioPlayback?> = Mutex(nil)

    public init(audio: DecodedAudio, device: String, configuration: String? = nil) throws(AudioError) {
        self.audio = audio
        var format = AudioFormat()
        format.sampleRate = audio.sampleRate
        format.frameSamples = max(1, audio.sampleRate / 50)
        let samples = audio.samples
        let played = progress
        let player = try AudioPlayback(device: device, configuration: configuration, format: format) { frame in
            let start = played.played.load(ordering: .relaxed)
            let count = max(0, min(frame.count, samples.count - start))
            for i in 0..<count { frame[i] = samples[start + i] }
            for i in count..<frame.count { frame[i] = 0 }
            played.played.store(min(samples.count, start + frame.count), ordering: .relaxed)
        }
        playback.withLock { $0 = player }
    }

    /// Seconds played so far.
    public var position: Double { Double(progress.played.load(ordering: .relaxed)) / Double(audio.sampleRate) }
    public var isFinished: Bool { progress.played.load(ordering: .relaxed) >= audio.samples.count }

    public func stop() {
        playback.withLock { $0 }?.stop()
        playback.withLock { $0 = nil }
    }

    deinit { stop() }
}
