@testable import DialtoneMedia
import Foundation
import XCTest

/// The echo canceller as the call uses it: the playback thread reports what it played, the
/// capture thread cleans what the microphone heard, which includes that, delayed and quieter.
final class VoiceProcessorTests: XCTestCase {
    /// Repeatable noise, speech-like in that it covers the voice band.
    struct Noise {
        var state: UInt32 = 12_345
        mutating func next() -> Int16 {
            state = state &* 1_103_515_245 &+ 12_345
            return Int16(truncatingIfNeeded: Int32(bitPattern: state) >> 20)
        }
    }

    func energy(_ samples: ArraySlice<Int16>) -> Double {
        samples.reduce(0) { $0 + Double($1) * Double($1) } / Double(max(1, samples.count))
    }

    /// Runs `seconds` of far-end noise played out, its echo (50 ms later, at 40 %) plus
    /// `near` picked up by the microphone; returns (captured, sent).
    func run(_ settings: VoiceProcessingSettings, seconds: Int, near: (Int) -> Int16) throws -> ([Int16], [Int16]) {
        let frame = 960
        let processor = try VoiceProcessor(settings: settings, frameSamples: frame)
        var noise = Noise()
        let total = seconds * 48_000
        let far = (0..<total).map { _ in Int16(Double(noise.next()) * 2) }
        let delay = 2_400
        var captured = [Int16](repeating: 0, count: total)
        var sent = [Int16](repeating: 0, count: total)
        for start in stride(from: 0, to: total, by: frame) {
            far[start..<start + frame].withUnsafeBufferPointer { processor.played($0) }
            for i in start..<start + frame {
                let echo = i >= delay ? Double(far[i - delay]) * 0.4 : 0
                captured[i] = Int16(clamping: Int(echo) + Int(near(i)))
            }
            captured[start..<start + frame].withUnsafeBufferPointer { input in
                sent[start..<start + frame].withUnsafeMutableBufferPointer { processor.process(input, into: $0) }
            }
        }
        return (captured, sent)
    }

    func testTheFarEndsEchoIsAttenuatedInWhatWeSend() throws {
        var settings = VoiceProcessingSettings()
        settings.noiseSuppression = false
        let (captured, sent) = try run(settings, seconds: 8, near: { _ in 0 })
        let last = captured.count - 48_000
        let attenuation = 10 * log10(energy(captured[last...]) / max(1, energy(sent[last...])))
        XCTAssertGreaterThan(attenuation, 15, "echo attenuated by \(attenuation) dB")
    }

    func testWithoutEchoCancellationTheEchoGoesThrough() throws {
        let (captured, sent) = try run(.off, seconds: 2, near: { _ in 0 })
        XCTAssertTrue(captured == sent, "switched off, the signal is untouched")
    }

    /// Both talking: our voice (a 440 Hz tone) survives while the echo goes.
    func testNearEndSpeechSurvivesDoubleTalk() throws {
        var settings = VoiceProcessingSettings()
        settings.noiseSuppression = false
        let tone = ToneAnalysis.sine(frequency: 440, sampleRate: 48_000, count: 8 * 48_000, amplitude: 3_000)
        let (_, sent) = try run(settings, seconds: 8, near: { tone[$0] })
        let last = Array(sent.suffix(48_000))
        XCTAssertEqual(ToneAnalysis.dominantFrequency(last, sampleRate: 48_000), 440, accuracy: 3)
        let kept = 10 * log10(energy(last[...]) / energy(tone.suffix(48_000)))
        XCTAssertGreaterThan(kept, -6, "near-end speech kept within 6 dB (\(kept) dB)")
    }

    /// A call's capture starts before its playback (which waits for the first packet), and the
    /// two threads never run in lockstep: neither is an error, and nothing may be printed
    /// (the terminal interface's screen is the terminal).
    func testCaptureAndPlaybackOutOfStepPrintNothing() throws {
        var settings = VoiceProcessingSettings()
        settings.noiseSuppression = false
        let processor = try VoiceProcessor(settings: settings, frameSamples: 960)
        var noise = Noise()
        let frame = (0..<960).map { _ in noise.next() }
        var out = [Int16](repeating: 0, count: 960)
        let printed = try capturingStandardError {
            // Capture alone first, then playback running ahead (more than the queue holds).
            for _ in 0..<10 { frame.withUnsafeBufferPointer { input in out.withUnsafeMutableBufferPointer { processor.process(input, into: $0) } } }
            for _ in 0..<12 { frame.withUnsafeBufferPointer { processor.played($0) } }
            for _ in 0..<20 { frame.withUnsafeBufferPointer { input in out.withUnsafeMutableBufferPointer { processor.process(input, into: $0) } } }
        }
        XCTAssertEqual(printed, "", "speexdsp's complaints reached stderr")
        XCTAssertGreaterThan(energy(out[...]), 0, "the captured signal still comes out")
    }

    /// Runs `body` with file descriptor 2 pointed at a pipe; returns what was written there.
    func capturingStandardError(_ body: () -> Void) throws -> String {
        let pipe = Pipe()
        let saved = dup(2)
        XCTAssertGreaterThanOrEqual(saved, 0)
        dup2(pipe.fileHandleForWriting.fileDescriptor, 2)
        body()
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        try pipe.fileHandleForWriting.close()
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}
