import CSndfile
@testable import DialtoneMedia
import Foundation
import XCTest

/// Voicemails as gateways send them (WAV at 8 kHz, Ogg Opus, Ogg Vorbis, FLAC, stereo or not)
/// decoded through libsndfile and played through ALSA's file plugin.
final class AudioFileTests: XCTestCase {
    /// Writes a tone with libsndfile itself, in the given container and encoding.
    func writeTone(_ path: String, format: Int32, rate: Int32, channels: Int32, frequency: Double, seconds: Double) throws {
        var info = SF_INFO()
        info.samplerate = rate
        info.channels = channels
        info.format = format
        guard let file = sf_open(path, Int32(SFM_WRITE), &info) else {
            throw XCTSkip("this libsndfile cannot write \(path): \(String(cString: sf_strerror(nil)))")
        }
        let frames = Int(Double(rate) * seconds)
        let mono = ToneAnalysis.sine(frequency: frequency, sampleRate: Double(rate), count: frames)
        var interleaved = [Int16]()
        for sample in mono { for _ in 0..<channels { interleaved.append(sample) } }
        _ = interleaved.withUnsafeBufferPointer { sf_writef_short(file, $0.baseAddress, sf_count_t(frames)) }
        sf_close(file)
    }

    func testDecodesTheFormatsVoicemailsComeIn() throws {
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        let cases: [(String, Int32, Int32, Int32, Double)] = [
            ("vm.wav", Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16), 8_000, 1, 500),
            ("vm.flac", Int32(SF_FORMAT_FLAC | SF_FORMAT_PCM_16), 44_100, 2, 700),
            ("vm.ogg", Int32(SF_FORMAT_OGG | SF_FORMAT_VORBIS), 48_000, 1, 1_000),
            ("vm.opus", Int32(SF_FORMAT_OGG | SF_FORMAT_OPUS), 48_000, 1, 800),
        ]
        for (name, format, rate, channels, frequency) in cases {
            try writeTone(devices.path(name), format: format, rate: rate, channels: channels, frequency: frequency, seconds: 1.5)
            let audio = try DecodedAudio(path: devices.path(name))
            XCTAssertEqual(audio.sampleRate, Int(rate), name)
            XCTAssertEqual(audio.duration, 1.5, accuracy: 0.1, name)
            let middle = Array(audio.samples[audio.samples.count / 4 ..< audio.samples.count * 3 / 4])
            XCTAssertEqual(ToneAnalysis.dominantFrequency(middle, sampleRate: Double(rate)), frequency, accuracy: 10, name)
        }
        XCTAssertThrowsError(try DecodedAudio(path: devices.path("missing.wav")))
        try Data("not audio at all".utf8).write(to: devices.directory.appendingPathComponent("junk.ogg"))
        XCTAssertThrowsError(try DecodedAudio(path: devices.path("junk.ogg")))
    }

    func testPlaysAVoicemailThroughALSA() throws {
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        try writeTone(devices.path("vm.wav"), format: Int32(SF_FORMAT_WAV | SF_FORMAT_PCM_16), rate: 8_000, channels: 1,
                      frequency: 500, seconds: 1)
        let audio = try DecodedAudio(path: devices.path("vm.wav"))
        let player = try AudioFilePlayer(audio: audio, device: "dtplayback",
                                         configuration: devices.configuration(input: "unused.raw", output: "out.raw"))
        let deadline = Date().addingTimeInterval(10)
        while !player.isFinished && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        XCTAssertTrue(player.isFinished)
        XCTAssertEqual(player.position, 1, accuracy: 0.05)
        player.stop()
        let played = try devices.readSamples("out.raw")
        XCTAssertGreaterThanOrEqual(played.count, 8_000)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(Array(played.prefix(8_000)), sampleRate: 8_000), 500, accuracy: 10)
    }
}
