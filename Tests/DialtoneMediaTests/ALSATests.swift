@testable import DialtoneMedia
import Foundation
import Synchronization
import XCTest

/// ALSA devices that need no sound card: the `file` plugin over `null`, defined in asoundrc
/// text handed to snd_pcm_open_lconf, so neither ~/.asoundrc nor the system config is touched.
struct FileAudioDevices {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-alsa-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A capture device reading `input` and a playback device writing `output`, both raw S16LE.
    func configuration(input: String, output: String) -> String {
        """
        pcm.dtcapture { type file; slave.pcm { type null }; file "\(path("capture-copy.raw"))"; infile "\(path(input))"; format "raw" }
        pcm.dtplayback { type file; slave.pcm { type null }; file "\(path(output))"; format "raw" }
        """
    }

    func writeTone(_ name: String, frequency: Double, seconds: Double) throws {
        let samples = ToneAnalysis.sine(frequency: frequency, sampleRate: 48000, count: Int(48000 * seconds))
        let data = samples.withUnsafeBytes { Data($0) }
        try data.write(to: directory.appendingPathComponent(name))
    }

    func readSamples(_ name: String) throws -> [Int16] {
        let data = try Data(contentsOf: directory.appendingPathComponent(name))
        return data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }
}

final class ALSATests: XCTestCase {
    func testCaptureReadsTheFileInRealTimeFrames() throws {
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        try devices.writeTone("in.raw", frequency: 440, seconds: 3)
        let captured = Mutex<[Int16]>([])
        let start = monotonicNanoseconds()
        let capture = try AudioCapture(device: "dtcapture", configuration: devices.configuration(input: "in.raw", output: "out.raw")) { frame in
            XCTAssertEqual(frame.count, 960)
            captured.withLock { $0.append(contentsOf: frame) }
        }
        Thread.sleep(forTimeInterval: 0.5)
        capture.stop()
        let elapsed = monotonicNanoseconds() - start
        let samples = captured.withLock { $0 }
        XCTAssertNil(capture.error)
        XCTAssertEqual(capture.statistics.frames * 960, samples.count)
        XCTAssertGreaterThanOrEqual(capture.statistics.frames, 5)
        // Paced by the clock: never more frames than real time allows (the file plugin alone
        // would deliver all 3 s at once).
        XCTAssertLessThanOrEqual(capture.statistics.frames, Int(elapsed / 20_000_000) + 2)
        // The samples are the file's, in order.
        let expected = ToneAnalysis.sine(frequency: 440, sampleRate: 48000, count: samples.count)
        XCTAssertEqual(samples, expected)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(samples, sampleRate: 48000), 440, accuracy: 2)
    }

    func testPlaybackWritesFramesToTheFile() throws {
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        try devices.writeTone("in.raw", frequency: 440, seconds: 1)
        let position = Mutex(0)
        let playback = try AudioPlayback(device: "dtplayback", configuration: devices.configuration(input: "in.raw", output: "out.raw")) { frame in
            let start = position.withLock { p -> Int in defer { p += frame.count }; return p }
            for (i, s) in ToneAnalysis.sine(frequency: 880, sampleRate: 48000, count: frame.count, start: start).enumerated() { frame[i] = s }
        }
        Thread.sleep(forTimeInterval: 0.4)
        playback.stop()
        XCTAssertNil(playback.error)
        let frames = playback.statistics.frames
        XCTAssertGreaterThanOrEqual(frames, 5)
        let written = try devices.readSamples("out.raw")
        // Whole frames only; the last one or two counted may still have been in ALSA's buffer
        // when stop() dropped it (seen in CI under load: 20 of 21 frames in the file).
        XCTAssertEqual(written.count % 960, 0)
        XCTAssertTrue(((frames - 2) * 960...frames * 960).contains(written.count), "\(written.count) samples for \(frames) frames")
        XCTAssertEqual(ToneAnalysis.dominantFrequency(written, sampleRate: 48000), 880, accuracy: 2)
    }

    /// Capture and playback threads run under SCHED_FIFO when the system allows it (as root
    /// with CAP_SYS_NICE, or within an rtprio limit), say whether they got it, and stay at
    /// normal priority when asked to.
    func testAudioThreadsAskForRealTimeScheduling() throws {
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        try devices.writeTone("in.raw", frequency: 440, seconds: 1)
        let permitted = Self.realtimePermitted()
        for realtime in [true, false] {
            let policies = Mutex<Set<Int32>>([])
            let configuration = devices.configuration(input: "in.raw", output: "out.raw")
            let capture = try AudioCapture(device: "dtcapture", configuration: configuration, realtime: realtime) { _ in
                policies.withLock { _ = $0.insert(sched_getscheduler(0)) }
            }
            let playback = try AudioPlayback(device: "dtplayback", configuration: configuration, realtime: realtime) { frame in
                policies.withLock { _ = $0.insert(sched_getscheduler(0)) }
                for i in frame.indices { frame[i] = 0 }
            }
            Thread.sleep(forTimeInterval: 0.2)
            capture.stop()
            playback.stop()
            let expected = realtime && permitted
            XCTAssertEqual(policies.withLock { $0 }, [expected ? SCHED_FIFO : SCHED_OTHER], "realtime \(realtime), permitted \(permitted)")
            XCTAssertEqual(capture.statistics.realtime, expected)
            XCTAssertEqual(playback.statistics.realtime, expected)
        }
    }

    /// Whether this process may use SCHED_FIFO at all, found on a thread of the test's own.
    static func realtimePermitted() -> Bool {
        let answer = Mutex(false)
        let done = DispatchSemaphore(value: 0)
        Thread {
            var parameters = sched_param()
            parameters.sched_priority = MediaThread.realtimePriority
            answer.withLock { $0 = pthread_setschedparam(pthread_self(), SCHED_FIFO, &parameters) == 0 }
            done.signal()
        }.start()
        done.wait()
        return answer.withLock { $0 }
    }

    func testUnknownDeviceIsATypedError() {
        XCTAssertThrowsError(try AudioCapture(device: "nosuchdevice", configuration: "pcm.other { type null }") { _ in }) { error in
            guard case .open(let device, _)? = error as? AudioError else { return XCTFail("\(error)") }
            XCTAssertEqual(device, "nosuchdevice")
        }
    }
}
