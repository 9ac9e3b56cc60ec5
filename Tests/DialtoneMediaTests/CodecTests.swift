@testable import DialtoneMedia
import XCTest

final class OpusCodecTests: XCTestCase {
    func testToneSurvivesEncodeAndDecode() throws {
        for frameMilliseconds in [10, 20, 60] {
            var settings = OpusEncoderSettings()
            settings.frameMilliseconds = frameMilliseconds
            let encoder = try OpusEncoder(settings: settings)
            let decoder = try OpusDecoder()
            var decoded: [Int16] = []
            let frame = settings.frameSamples
            for index in 0..<(1000 / frameMilliseconds) {   // one second
                let pcm = ToneAnalysis.sine(frequency: 440, sampleRate: 48000, count: frame, start: index * frame)
                let packet = try encoder.encode(pcm)
                XCTAssertGreaterThan(packet.count, 2)
                XCTAssertLessThan(packet.count, 400)
                let out = try decoder.decode(packet)
                XCTAssertEqual(out.count, frame)
                decoded += out
            }
            // Skip the codec's start-up; then the tone must be there, and loud.
            let tail = Array(decoded[4800...])
            XCTAssertEqual(ToneAnalysis.dominantFrequency(tail, sampleRate: 48000), 440, accuracy: 3, "\(frameMilliseconds) ms")
            XCTAssertGreaterThan(ToneAnalysis.rms(tail[...]), 3000)
        }
    }

    func testFECRecoversALostFrameAndPLCFillsAGap() throws {
        var settings = OpusEncoderSettings()
        settings.expectedLossPercent = 20
        settings.bitrate = 32000
        let encoder = try OpusEncoder(settings: settings)
        let decoder = try OpusDecoder()
        var packets: [[UInt8]] = []
        for index in 0..<50 {
            packets.append(try encoder.encode(ToneAnalysis.sine(frequency: 440, sampleRate: 48000, count: 960, start: index * 960)))
        }
        var out: [Int16] = []
        var frame = [Int16](repeating: 0, count: 960)
        for (index, packet) in packets.enumerated() {
            if index == 30 {
                // Lost: recover from packet 31's FEC.
                let count = try packets[31].withUnsafeBytes { raw in
                    try frame.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: raw, into: $0) }
                }
                XCTAssertEqual(count, 960)
                out += frame
            } else if index == 40 {
                let count = try frame.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }
                XCTAssertEqual(count, 960)
                out += frame
            } else {
                out += try decoder.decode(packet)
            }
        }
        // A 20 ms window resolves frequency to about 50 Hz, hence the tolerance.
        let recovered = Array(out[(30 * 960)..<(31 * 960)])
        XCTAssertEqual(ToneAnalysis.dominantFrequency(recovered, sampleRate: 48000), 440, accuracy: 30)
        XCTAssertGreaterThan(ToneAnalysis.rms(recovered[...]), 1000)
        let concealed = Array(out[(40 * 960)..<(41 * 960)])
        XCTAssertEqual(ToneAnalysis.dominantFrequency(concealed, sampleRate: 48000), 440, accuracy: 30)
    }

    func testDTXSendsTinyPacketsInSilence() throws {
        var settings = OpusEncoderSettings()
        settings.dtx = true
        let encoder = try OpusEncoder(settings: settings)
        var sizes: [Int] = []
        for _ in 0..<50 { sizes.append(try encoder.encode([Int16](repeating: 0, count: 960)).count) }
        // In silence DTX sends 1-byte frames, with a comfort-noise update every 400 ms.
        XCTAssertGreaterThanOrEqual(sizes.suffix(40).filter { $0 <= 2 }.count, 36, "\(sizes)")
    }

    func testEveryApplicationAndSignalHintCodesATone() throws {
        var lookaheads: [OpusApplication: Int] = [:]
        for application in OpusApplication.allCases {
            for voiceSignal in [true, false] {
                var settings = OpusEncoderSettings()
                settings.application = application
                settings.voiceSignal = voiceSignal
                let encoder = try OpusEncoder(settings: settings)
                let decoder = try OpusDecoder()
                lookaheads[application] = encoder.lookahead
                var decoded: [Int16] = []
                for index in 0..<50 {
                    decoded += try decoder.decode(encoder.encode(ToneAnalysis.sine(frequency: 440, sampleRate: 48000, count: 960, start: index * 960)))
                }
                let tail = Array(decoded[4800...])
                XCTAssertEqual(ToneAnalysis.dominantFrequency(tail, sampleRate: 48000), 440, accuracy: 3, "\(application) \(voiceSignal)")
                XCTAssertGreaterThan(ToneAnalysis.rms(tail[...]), 3000, "\(application) \(voiceSignal)")
            }
        }
        // CELT alone skips SILK's 4 ms of delay compensation: the reason to pick that mode.
        XCTAssertLessThan(lookaheads[.restrictedLowDelay]!, lookaheads[.voip]!)
        XCTAssertEqual(OpusApplication(rawValue: "restricted-lowdelay"), .restrictedLowDelay)
    }

    func testRejectsBadFrameSizes() {
        var settings = OpusEncoderSettings()
        settings.frameMilliseconds = 25
        XCTAssertThrowsError(try OpusEncoder(settings: settings))
        XCTAssertThrowsError(try OpusEncoder().encode([Int16](repeating: 0, count: 100)))
    }
}

final class G711Tests: XCTestCase {
    func testKnownCodes() {
        XCTAssertEqual(G711.encodeMuLaw(0), 0xFF)
        XCTAssertEqual(G711.decodeMuLaw(0xFF), 0)
        XCTAssertEqual(G711.decodeMuLaw(0x80), 32124)
        XCTAssertEqual(G711.decodeMuLaw(0x00), -32124)
        XCTAssertEqual(G711.encodeMuLaw(Int16.max), 0x80)
        XCTAssertEqual(G711.encodeMuLaw(Int16.min), 0x00)
        XCTAssertEqual(G711.encodeALaw(0), 0xD5)
        XCTAssertEqual(G711.encodeALaw(-1), 0x55)
        XCTAssertEqual(G711.decodeALaw(0xD5), 8)
        XCTAssertEqual(G711.decodeALaw(0xAA), 32256)
        XCTAssertEqual(G711.decodeALaw(0x2A), -32256)
    }

    func testEveryCodeDecodesToAValueThatEncodesBackToIt() {
        for code in 0...255 {
            let byte = UInt8(code)
            XCTAssertEqual(G711.encodeALaw(G711.decodeALaw(byte)), byte, "A-law \(code)")
            // µ-law has two codes for zero (0x7F and 0xFF); the positive one is canonical.
            if byte != 0x7F { XCTAssertEqual(G711.encodeMuLaw(G711.decodeMuLaw(byte)), byte, "µ-law \(code)") }
        }
    }

    func testQuantisationErrorIsWithinTheSegmentStep() {
        for value in stride(from: -32768, through: 32767, by: 7) {
            let sample = Int16(value)
            let magnitude = abs(value)
            // The step doubles per segment; the error is at most half a step (plus bias rounding).
            let bound = max(16, magnitude / 16)
            XCTAssertLessThanOrEqual(abs(Int(G711.decodeMuLaw(G711.encodeMuLaw(sample))) - value), bound, "µ-law \(value)")
            XCTAssertLessThanOrEqual(abs(Int(G711.decodeALaw(G711.encodeALaw(sample))) - value), bound, "A-law \(value)")
        }
    }

    func testToneThroughBothLaws() {
        let tone = ToneAnalysis.sine(frequency: 440, sampleRate: 8000, count: 8000)
        for aLaw in [false, true] {
            let back = G711.decode(G711.encode(tone, aLaw: aLaw), aLaw: aLaw)
            XCTAssertEqual(ToneAnalysis.dominantFrequency(back, sampleRate: 8000), 440, accuracy: 2)
        }
    }
}
