import Dispatch
import CALSA
#if canImport(Glibc)
import Glibc
#endif
import Logging
import Synchronization

public enum AudioError: Error, Sendable, Equatable, CustomStringConvertible {
    case open(device: String, reason: String)
    case configure(device: String, reason: String)
    case io(device: String, reason: String)
    case thread(String)

    public var description: String {
        switch self {
        case .open(let device, let reason): return "Cannot open audio device \"\(device)\": \(reason). Check `dialtone audio devices` and the device name in the config."
        case .configure(let device, let reason): return "Audio device \"\(device)\" does not take 48 kHz mono 16-bit: \(reason)"
        case .io(let device, let reason): return "Audio device \"\(device)\" failed: \(reason)"
        case .thread(let reason): return "Cannot start the audio thread: \(reason)"
        }
    }
}

func alsaReason(_ code: Int32) -> String {
    snd_strerror(code).map { String(cString: $0) } ?? "error \(code)"
}

/// The format every call uses: 48 kHz, mono, signed 16-bit, 20 ms periods.
public struct AudioFormat: Sendable, Equatable {
    public var sampleRate = 48_000
    public var frameSamples = 960
    public init() {}
    public var frameNanoseconds: Int64 { Int64(frameSamples) * 1_000_000_000 / Int64(sampleRate) }
}

/// Counters the UI and tests read while the stream runs.
public struct AudioStreamCounters: Sendable, Equatable {
    public var frames = 0
    /// Overruns (capture) or underruns (playback) recovered with snd_pcm_recover.
    public var xruns = 0
    /// Whether the thread runs under SCHED_FIFO (see `MediaThread.becomeRealtime`).
    public var realtime = false
}

public enum AudioDirection: Sendable {
    case capture, playback
}

/// An ALSA PCM opened by name, in the call format. `configuration` is optional asoundrc
/// text in which the name is looked up instead of the system configuration, so tests can
/// define `file`/`null` devices without touching the user's files.
final class ALSAPCM {
    let handle: OpaquePointer
    let name: String

    init(name: String, direction: AudioDirection, format: AudioFormat, configuration: String?) throws(AudioError) {
        self.name = name
        var pcm: OpaquePointer?
        let stream = direction == .capture ? SND_PCM_STREAM_CAPTURE : SND_PCM_STREAM_PLAYBACK
        var result: Int32
        if let configuration {
            var top: OpaquePointer?
            var input: OpaquePointer?
            result = snd_config_top(&top)
            guard result >= 0, let top else { throw .open(device: name, reason: alsaReason(result)) }
            defer { snd_config_delete(top) }
            let bytes = Array(configuration.utf8)
            result = bytes.withUnsafeBufferPointer { buffer in
                buffer.withMemoryRebound(to: CChar.self) { snd_input_buffer_open(&input, $0.baseAddress, bytes.count) }
            }
            guard result >= 0, let input else { throw .open(device: name, reason: alsaReason(result)) }
            result = snd_config_load(top, input)
            snd_input_close(input)
            guard result >= 0 else { throw .open(device: name, reason: "configuration: \(alsaReason(result))") }
            result = snd_pcm_open_lconf(&pcm, name, stream, 0, top)
        } else {
            result = snd_pcm_open(&pcm, name, stream, 0)
        }
        guard result >= 0, let pcm else { throw .open(device: name, reason: alsaReason(result)) }
        // Let ALSA convert rate and format where the hardware cannot (soft_resample = 1);
        // 60 ms of device buffer: three periods.
        result = snd_pcm_set_params(pcm, SND_PCM_FORMAT_S16_LE, SND_PCM_ACCESS_RW_INTERLEAVED, 1,
                                    UInt32(format.sampleRate), 1, 60_000)
        guard result >= 0 else {
            snd_pcm_close(pcm)
            throw .configure(device: name, reason: alsaReason(result))
        }
        handle = pcm
    }

    deinit { snd_pcm_close(handle) }
}

/// Sleeps until absolute monotonic deadlines one frame apart. A device that blocks makes
/// the deadline already past when it returns, so the sleep is a no-op; `file` and `null`
/// devices return at once, and this is what keeps them in real time.
struct FramePacer {
    let period: Int64
    private var deadline: Int64

    init(period: Int64) {
        self.period = period
        deadline = monotonicNanoseconds()
    }

    mutating func wait() {
        deadline += period
        let now = monotonicNanoseconds()
        // Fell far behind (a stalled thread): start again from now instead of rushing.
        if now - deadline > 3 * period {
            deadline = now
            return
        }
        guard deadline > now else { return }
        var spec = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &spec, nil) == EINTR {}
    }
}

public func monotonicNanoseconds() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// A dedicated thread (not a Swift concurrency task: audio must not wait behind other work
/// on the cooperative pool). `body` runs until it returns.
final class MediaThread: Sendable {
    private let thread: pthread_t

    init(name: String, _ body: @escaping @Sendable () -> Void) throws(AudioError) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            let name: String
            init(_ body: @escaping @Sendable () -> Void, _ name: String) { self.body = body; self.name = name }
        }
        let box = Unmanaged.passRetained(Box(body, name)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            // Named, so profilers and per-thread CPU figures can tell capture from playback
            // (pthread_setname_np is not visible from Swift; this is what it does on Linux).
            let comm = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
            if comm >= 0 {
                let name = Array(box.name.utf8.prefix(15))
                _ = write(comm, name, name.count)
                close(comm)
            }
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw .thread(String(cString: strerror(result)))
        }
        self.thread = thread
    }

    func join() {
        pthread_join(thread, nil)
    }

    /// The real-time priority audio threads ask for: above every normal task, so a busy
    /// machine (a build, a browser) cannot make the next frame late, and below the sound
    /// servers' own threads (PipeWire 88, JACK 70 and up), which feed the device from ours.
    static let realtimePriority: Int32 = 10

    /// Puts the calling thread under SCHED_FIFO at `realtimePriority`; false when the system
    /// does not allow it (an unprivileged user without an rtprio limit), and the thread goes
    /// on at normal priority. A thread that never blocked would not freeze the machine: the
    /// kernel keeps 5 % of each second for normal tasks (sched_rt_runtime_us).
    static func becomeRealtime() -> Bool {
        var parameters = sched_param()
        parameters.sched_priority = realtimePriority
        return pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0
    }
}

/// Says once a process that audio threads run at normal priority, and how to change that.
private let normalPriorityNotice: Void = {
    Logger(label: "dialtone.media").notice(
        "audio threads at normal priority: SCHED_FIFO is not permitted (raise the rtprio limit, e.g. the audio group's in /etc/security/limits.d; see dialtone(1))")
}()

/// What an audio thread shares with its owner: whether to go on, its counters, its failure,
/// and the thread to join. Capture and playback each have one.
final class AudioStreamState: Sendable {
    let device: String
    private let running = Atomic<Bool>(true)
    private let counters = Mutex(AudioStreamCounters())
    private let failure = Mutex<AudioError?>(nil)
    private let thread: Mutex<MediaThread?> = Mutex(nil)

    init(device: String) { self.device = device }

    var isRunning: Bool { running.load(ordering: .relaxed) }
    var statistics: AudioStreamCounters { counters.withLock { $0 } }
    var error: AudioError? { failure.withLock { $0 } }

    func started(_ started: MediaThread) { thread.withLock { $0 = started } }

    /// Asks for real-time scheduling for the calling audio thread and records the answer.
    func becomeRealtime() {
        let granted = MediaThread.becomeRealtime()
        counters.withLock { $0.realtime = granted }
        if !granted { normalPriorityNotice }
    }

    func countFrame() { counters.withLock { $0.frames += 1 } }

    /// After a failed read or write (`result` < 0): an overrun or underrun, or a suspend, is
    /// recovered and counted; false, with the failure kept, when the device is gone.
    func recover(_ pcm: ALSAPCM, from result: Int) -> Bool {
        let recovered = snd_pcm_recover(pcm.handle, Int32(result), 1)
        counters.withLock { $0.xruns += 1 }
        guard recovered >= 0 else {
            failure.withLock { $0 = .io(device: device, reason: alsaReason(recovered)) }
            return false
        }
        return true
    }

    /// Stops and joins the thread; the device is closed when the thread ends.
    func stop() {
        running.store(false, ordering: .relaxed)
        let joining = thread.withLock { current -> MediaThread? in
            defer { current = nil }
            return current
        }
        joining?.join()
    }
}

/// Capture on its own thread: reads 20 ms frames from an ALSA device and hands each to
/// `onFrame` on that thread, from one preallocated buffer (copy it if you keep it).
public final class AudioCapture: Sendable {
    private let state: AudioStreamState
    public var device: String { state.device }

    /// `realtime`: ask for SCHED_FIFO (granted or not, `statistics.realtime` says).
    public init(device: String, configuration: String? = nil, format: AudioFormat = AudioFormat(), realtime: Bool = true,
                onFrame: @escaping @Sendable (UnsafeBufferPointer<Int16>) -> Void) throws(AudioError) {
        let state = AudioStreamState(device: device)
        self.state = state
        let pcm = try SendablePCM(ALSAPCM(name: device, direction: .capture, format: format, configuration: configuration))
        state.started(try MediaThread(name: "dt-capture") {
            if realtime { state.becomeRealtime() }
            Self.run(pcm: pcm.pcm, format: format, state: state, onFrame: onFrame)
        })
    }

    private static func run(pcm: ALSAPCM, format: AudioFormat, state: AudioStreamState,
                            onFrame: @Sendable (UnsafeBufferPointer<Int16>) -> Void) {
        var buffer = [Int16](repeating: 0, count: format.frameSamples)
        var pacer = FramePacer(period: format.frameNanoseconds)
        snd_pcm_start(pcm.handle)
        while state.isRunning {
            var filled = 0
            while filled < format.frameSamples && state.isRunning {
                let result = buffer.withUnsafeMutableBufferPointer { out in
                    snd_pcm_readi(pcm.handle, out.baseAddress! + filled, snd_pcm_uframes_t(format.frameSamples - filled))
                }
                if result >= 0 {
                    filled += Int(result)
                    continue
                }
                // Overrun (we were too slow) or suspend.
                guard state.recover(pcm, from: result) else { return }
                snd_pcm_start(pcm.handle)
            }
            guard filled == format.frameSamples else { break }
            state.countFrame()
            buffer.withUnsafeBufferPointer { onFrame($0) }
            pacer.wait()
        }
        snd_pcm_drop(pcm.handle)
    }

    public var statistics: AudioStreamCounters { state.statistics }
    public var error: AudioError? { state.error }

    /// Stops and joins the thread; the device is closed when the thread ends.
    public func stop() { state.stop() }

    deinit { stop() }
}

/// Playback on its own thread: every 20 ms asks `fill` for one frame (on that thread, into a
/// preallocated buffer) and writes it to the device.
public final class AudioPlayback: Sendable {
    private let state: AudioStreamState
    public var device: String { state.device }

    /// With a `gate`, the device is opened now (so a wrong name fails at once) but its clock
    /// starts only when the gate opens: a call's playback starts with the first packet, so
    /// the playback clock's phase is the packets' and not a random one (up to a frame saved).
    /// `onEnd` runs on the thread as it ends, whether stopped or failed. `realtime`: ask for
    /// SCHED_FIFO (granted or not, `statistics.realtime` says).
    public init(device: String, configuration: String? = nil, format: AudioFormat = AudioFormat(), gate: StartGate? = nil,
                realtime: Bool = true, onEnd: @escaping @Sendable () -> Void = {},
                fill: @escaping @Sendable (UnsafeMutableBufferPointer<Int16>) -> Void) throws(AudioError) {
        let state = AudioStreamState(device: device)
        self.state = state
        let pcm = try SendablePCM(ALSAPCM(name: device, direction: .playback, format: format, configuration: configuration))
        state.started(try MediaThread(name: "dt-playback") {
            defer { onEnd() }
            if realtime { state.becomeRealtime() }
            if let gate {
                while !gate.wait(milliseconds: 50) { if !state.isRunning { return } }
            }
            Self.run(pcm: pcm.pcm, format: format, state: state, fill: fill)
        })
    }

    private static func run(pcm: ALSAPCM, format: AudioFormat, state: AudioStreamState,
                            fill: @Sendable (UnsafeMutableBufferPointer<Int16>) -> Void) {
        var buffer = [Int16](repeating: 0, count: format.frameSamples)
        var pacer = FramePacer(period: format.frameNanoseconds)
        while state.isRunning {
            buffer.withUnsafeMutableBufferPointer { fill($0) }
            var written = 0
            while written < format.frameSamples && state.isRunning {
                let result = buffer.withUnsafeBufferPointer { samples in
                    snd_pcm_writei(pcm.handle, samples.baseAddress! + written, snd_pcm_uframes_t(format.frameSamples - written))
                }
                if result >= 0 {
                    written += Int(result)
                    continue
                }
                // Underrun: the device ran dry before this frame came.
                guard state.recover(pcm, from: result) else { return }
            }
            state.countFrame()
            pacer.wait()
        }
        snd_pcm_drain(pcm.handle)
    }

    public var statistics: AudioStreamCounters { state.statistics }
    public var error: AudioError? { state.error }

    public func stop() { state.stop() }

    deinit { stop() }
}

/// Hands an opened PCM to its thread. The handle is used by that thread alone from then on,
/// which is what makes the unchecked transfer safe.
private struct SendablePCM: @unchecked Sendable {
    let pcm: ALSAPCM
    init(_ pcm: ALSAPCM) { self.pcm = pcm }
}

/// Opened once, from any thread; waited for by a device thread.
public final class StartGate: Sendable {
    private let opened = Atomic<Bool>(false)
    private let semaphore = DispatchSemaphore(value: 0)

    public init() {}

    public func open() {
        if !opened.exchange(true, ordering: .acquiringAndReleasing) { semaphore.signal() }
    }

    public var isOpen: Bool { opened.load(ordering: .acquiring) }

    /// True once open; false after `milliseconds` without.
    func wait(milliseconds: Int) -> Bool {
        if isOpen { return true }
        if semaphore.wait(timeout: .now() + .milliseconds(milliseconds)) == .success {
            semaphore.signal()
            return true
        }
        return isOpen
    }
}
