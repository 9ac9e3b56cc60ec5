import CALSA
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An ALSA PCM as `dialtone audio devices` lists it.
public struct AudioDeviceInfo: Sendable, Equatable {
    public enum Direction: String, Sendable { case capture, playback, both }
    public var name: String
    public var description: String
    public var direction: Direction
}

public enum AudioDevices {
    /// The PCMs ALSA knows (its device name hints): `default`, `plughw:CARD=…`, `sysdefault:…`,
    /// and those an asoundrc defines with a hint.
    public static func list() -> [AudioDeviceInfo] {
        // ALSA's "default" always exists, even on a machine whose hints name nothing.
        let fallback = [AudioDeviceInfo(name: "default", description: "ALSA's default device", direction: .both)]
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &hints) == 0, let hints else { return fallback }
        defer { snd_device_name_free_hint(hints) }
        var devices: [AudioDeviceInfo] = []
        var index = 0
        while let hint = hints[index] {
            index += 1
            func value(_ key: String) -> String? {
                guard let raw = snd_device_name_get_hint(hint, key) else { return nil }
                defer { free(raw) }
                return String(cString: raw)
            }
            guard let name = value("NAME"), name != "null" else { continue }
            let direction: AudioDeviceInfo.Direction = switch value("IOID") {
            case "Input": .capture
            case "Output": .playback
            default: .both
            }
            let description = (value("DESC") ?? "").split(separator: "\n").joined(separator: " — ")
            devices.append(AudioDeviceInfo(name: name, description: description, direction: direction))
        }
        return devices.contains { $0.name == "default" } ? devices : fallback + devices
    }
}

/// Records from a capture PCM into memory, with the level of each frame for a meter.
public final class AudioRecorder: Sendable {
    private let capture: AudioCapture
    private let recorded: RecordedSamples

    final class RecordedSamples: Sendable {
        private let state = Mutex<(samples: [Int16], level: Int)>(([], 0))
        func append(_ frame: UnsafeBufferPointer<Int16>) {
            var sum = 0.0
            for sample in frame { sum += Double(sample) * Double(sample) }
            let level = Int((sum / Double(max(1, frame.count))).squareRoot())
            state.withLock {
                $0.samples.append(contentsOf: frame)
                $0.level = level
            }
        }
        var snapshot: (samples: [Int16], level: Int) { state.withLock { $0 } }
    }

    public init(device: String, configuration: String? = nil, realtime: Bool = true) throws(AudioError) {
        let recorded = RecordedSamples()
        self.recorded = recorded
        capture = try AudioCapture(device: device, configuration: configuration, realtime: realtime) { frame in recorded.append(frame) }
    }

    /// Whether the capture thread runs under SCHED_FIFO.
    public var isRealtime: Bool { capture.statistics.realtime }

    public var seconds: Double { Double(recorded.snapshot.samples.count) / 48_000 }
    /// The last frame's level, 0…1.
    public var level: Double { Double(recorded.snapshot.level) / 32_767 }

    public func stop() -> DecodedAudio {
        capture.stop()
        return DecodedAudio(samples: recorded.snapshot.samples, sampleRate: 48_000)
    }
}
