import DialtoneMedia
import DialtoneXMPP
import Foundation
import XCTest

/// Calls between two `dialtone` processes through the test Prosody: XEP-0353 ringing, a
/// Jingle session, ICE on loopback, DTLS-SRTP and Opus, with audio through ALSA file devices.
final class CallTests: XCTestCase {
    func testCallBetweenTwoDialtonesCarriesToneBothWaysAndDigits() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let caller = try environment.newAccount("caller")
        let callee = try environment.newAccount("callee")
        let callerArguments = try harness.arguments("caller", for: caller, tone: 440)
        let calleeArguments = try harness.arguments("callee", for: callee, tone: 880)

        let answer = try harness.start("callee", ["answer", "--auto", "--timeout", "60"] + calleeArguments)
        defer { answer.signal(SIGKILL) }
        try await eventually("the answerer is online") {
            CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" }
        }
        let call = try await ChildProcess.run(
            [harness.binary, "call", callee.jid.description, "--duration", "4", "--dtmf", "159#*0"] + callerArguments,
            environment: harness.processEnvironment(for: "caller"), timeout: .seconds(60))
        XCTAssertEqual(call.status, 0, call.stdout + call.stderr)
        let answered = try await answer.wait(timeout: .seconds(20))
        XCTAssertEqual(answered, 0, answer.output + answer.errors)

        XCTAssertEqual(CallHarness.states(call.stdout), ["proposing", "ringing", "connecting", "connected", "ended"], call.stdout)
        XCTAssertEqual(CallHarness.states(answer.output), ["incoming", "connecting", "connected", "ended"], answer.output)
        XCTAssertEqual(CallHarness.final(call.stdout)?["outcome"] as? String, "completed")
        XCTAssertEqual(CallHarness.final(answer.output)?["outcome"] as? String, "completed")
        XCTAssertEqual(CallHarness.final(call.stdout)?["path"] as? String, "host → host")
        XCTAssertEqual(CallHarness.digits(answer.output), "159#*0", "RFC 4733 digits reach the callee")
        // Every answer to our iqs was expected: the ringing notice's and the hang-up's too.
        for name in ["caller", "callee"] {
            let log = (try? String(contentsOfFile: harness.path("\(name).log"), encoding: .utf8)) ?? ""
            XCTAssertFalse(log.contains("rejected stanza"), "\(name): " + log.split(separator: "\n").filter { $0.contains("rejected stanza") }.joined(separator: "\n"))
        }

        let statistics = try XCTUnwrap(CallHarness.jsonLines(call.stdout).last { $0["type"] as? String == "statistics" })
        XCTAssertGreaterThan(statistics["packets_received"] as? Int ?? 0, 100)

        let callerHeard = try harness.heard(by: "caller")
        let calleeHeard = try harness.heard(by: "callee")
        XCTAssertEqual(callerHeard.frequency, 880, "the caller hears the callee's tone")
        XCTAssertEqual(calleeHeard.frequency, 440, "the callee hears the caller's tone")
        XCTAssertGreaterThan(callerHeard.samples, 48_000 * 2)

        // Both call logs keep it, with its duration.
        for (name, arguments, peer) in [("caller", callerArguments, callee.jid), ("callee", calleeArguments, caller.jid)] {
            let log = try await ChildProcess.run([harness.binary, "calls", "--json"] + arguments.prefix(6),
                                                 environment: harness.processEnvironment(for: name))
            XCTAssertEqual(log.status, 0, log.stderr)
            let entries = CallHarness.jsonLines(log.stdout)
            XCTAssertEqual(entries.count, 1, log.stdout)
            XCTAssertEqual(entries.first?["peer"] as? String, peer.description)
            XCTAssertEqual(entries.first?["outcome"] as? String, "completed")
            XCTAssertEqual(entries.first?["duration"] as? Double ?? 0, 4, accuracy: 1.5)
        }
    }
}

extension CallTests {
    /// A voicemail (an 8 kHz WAV, as phone gateways send them) plays through the account's
    /// playback device.
    func testPlayingAVoicemail() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let account = try environment.newAccount("vm")
        let arguments = try harness.arguments("vm", for: account, tone: 440)
        // A RIFF/WAVE header and one second of a 500 Hz tone at 8 kHz.
        let samples = (0..<8_000).map { Int16(8_000 * sin(2 * Double.pi * 500 * Double($0) / 8_000)) }
        var wav = Data("RIFF".utf8)
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { wav.append(contentsOf: $0) } }
        append(UInt32(36 + samples.count * 2))
        wav.append(contentsOf: Array("WAVEfmt ".utf8))
        append(UInt32(16)); append(UInt16(1)); append(UInt16(1)); append(UInt32(8_000)); append(UInt32(16_000)); append(UInt16(2)); append(UInt16(16))
        wav.append(contentsOf: Array("data".utf8))
        append(UInt32(samples.count * 2))
        for sample in samples { append(sample) }
        try wav.write(to: URL(fileURLWithPath: harness.path("voicemail.wav")))

        let play = try await ChildProcess.run(
            [harness.binary, "play", harness.path("voicemail.wav"), "--playback", "play", "--alsa-config", harness.path("vm.asoundrc")]
                + arguments.prefix(4), environment: harness.processEnvironment(for: "vm"), timeout: .seconds(20))
        XCTAssertEqual(play.status, 0, play.stderr)
        let data = try Data(contentsOf: URL(fileURLWithPath: harness.path("vm.out.raw")))
        let played = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        XCTAssertGreaterThanOrEqual(played.count, 8_000)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(Array(played.prefix(8_000)), sampleRate: 8_000), 500, accuracy: 10)

        let refused = try await ChildProcess.run([harness.binary, "play", harness.path("vm.asoundrc")] + arguments.prefix(4),
                                                 environment: harness.processEnvironment(for: "vm"), timeout: .seconds(20))
        XCTAssertEqual(refused.status, 1, "a file that is not audio is refused with a reason")
        XCTAssertTrue(refused.stderr.contains("Cannot play"), refused.stderr)
    }
}

extension CallTests {
    /// `dialtone audio test` records from the capture device and plays it back; `audio devices`
    /// lists PCMs (at least ALSA's own default).
    func testAudioTestRecordsAndPlaysBack() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let account = try environment.newAccount("mic")
        _ = try harness.arguments("mic", for: account, tone: 660)
        let test = try await ChildProcess.run(
            [harness.binary, "audio", "test", "--seconds", "1", "--capture", "cap", "--playback", "play",
             "--alsa-config", harness.path("mic.asoundrc"), "--config", "/nonexistent.toml"],
            environment: harness.processEnvironment(for: "mic"), timeout: .seconds(20))
        XCTAssertEqual(test.status, 0, test.stderr)
        XCTAssertTrue(test.stdout.contains("recorded 1."), test.stdout)
        XCTAssertTrue(test.stdout.contains("audio threads: "), "it says whether the audio threads run in real time: \(test.stdout)")
        let data = try Data(contentsOf: URL(fileURLWithPath: harness.path("mic.out.raw")))
        let played = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        XCTAssertGreaterThanOrEqual(played.count, 48_000)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(Array(played.prefix(48_000)), sampleRate: 48_000), 660, accuracy: 3)

        let devices = try await ChildProcess.run([harness.binary, "audio", "devices", "--json"], timeout: .seconds(20))
        XCTAssertEqual(devices.status, 0, devices.stderr)
        XCTAssertTrue(CallHarness.jsonLines(devices.stdout).contains { $0["name"] as? String == "default" }, devices.stdout)
    }
}
