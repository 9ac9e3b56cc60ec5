import DialtoneMedia
import DialtoneXMPP
import Foundation
import XCTest

/// Runs `dialtone call` / `dialtone answer` (and the independent Python peer) with audio
/// through ALSA's file plugin: a tone file in, a recording out.
final class CallHarness: @unchecked Sendable {
    let directory: URL
    let environment: TestEnvironment

    init(environment: TestEnvironment) throws {
        self.environment = environment
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-call-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(at: directory) }

    var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dialtone").path
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Config, asoundrc (capture plays `frequency`, playback records) and the call options.
    /// `sampleRate`: the rate the call's codec opens the devices at (the file plugin does not
    /// convert, so the tone file is written at it).
    func arguments(_ name: String, for account: (jid: JID, password: String), tone frequency: Double, extra: String = "",
                   sampleRate: Double = 48_000) throws -> [String] {
        // The test peers are not in each other's rosters: anyone may ring.
        let config = try environment.writeConfiguration(for: account, in: directory, extra: "calls_from = \"anyone\"\n" + extra)
        let tone = ToneAnalysis.sine(frequency: frequency, sampleRate: sampleRate, count: Int(sampleRate) * 30)
        try tone.withUnsafeBytes { Data($0) }.write(to: directory.appendingPathComponent("\(name).in.raw"))
        try """
            pcm.cap { type file; slave.pcm { type null }; file "\(path("\(name).copy.raw"))"; infile "\(path("\(name).in.raw"))"; format "raw" }
            pcm.play { type file; slave.pcm { type null }; file "\(path("\(name).out.raw"))"; format "raw" }
            """.write(toFile: path("\(name).asoundrc"), atomically: true, encoding: .utf8)
        return ["--config", config, "--log-file", path("\(name).log"), "--log-level", "debug", "--json", "--ice-loopback",
                "--capture", "cap", "--playback", "play", "--alsa-config", path("\(name).asoundrc")]
    }

    func processEnvironment(for name: String) -> [String: String] {
        var variables = ProcessInfo.processInfo.environment
        variables["XDG_DATA_HOME"] = path("data-\(name)")
        variables["XDG_STATE_HOME"] = path("state-\(name)")
        return variables
    }

    func start(_ name: String, _ arguments: [String]) throws -> ChildProcess {
        try ChildProcess([binary] + arguments, environment: processEnvironment(for: name))
    }

    /// `dialtone answer --auto` as "callee", then `dialtone call` from "caller" for `duration`
    /// seconds; both exit successfully (else the test fails) and their outputs come back.
    func callAndAnswer(_ callee: JID, caller callerArguments: [String], callee calleeArguments: [String], duration: Int,
                       file: StaticString = #filePath, line: UInt = #line) async throws -> (call: String, answer: String) {
        let answer = try start("callee", ["answer", "--auto", "--timeout", "60"] + calleeArguments)
        defer { answer.signal(SIGKILL) }
        try await eventually("the answerer is online") {
            CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" }
        }
        let call = try await ChildProcess.run([binary, "call", callee.description, "--duration", String(duration)] + callerArguments,
                                              environment: processEnvironment(for: "caller"), timeout: .seconds(60))
        XCTAssertEqual(call.status, 0, call.stdout + call.stderr, file: file, line: line)
        let answered = try await answer.wait(timeout: .seconds(20))
        XCTAssertEqual(answered, 0, answer.output + answer.errors, file: file, line: line)
        return (call.stdout, answer.output)
    }

    /// The strongest of a few probe frequencies in the last second of what `name` played out.
    func heard(by name: String, sampleRate: Double = 48_000) throws -> (frequency: Double, samples: Int) {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).out.raw"))
        let samples = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let second = Int(sampleRate)
        guard samples.count >= second else { return (0, samples.count) }
        let last = Array(samples.suffix(second))
        let probes: [Double] = [300, 440, 600, 660, 880, 1200]
        let strongest = probes.max { ToneAnalysis.power(of: last, at: $0, sampleRate: sampleRate) < ToneAnalysis.power(of: last, at: $1, sampleRate: sampleRate) }
        return (strongest ?? 0, samples.count)
    }

    /// How continuously `name` played a tone at `frequency`. The recording starts when the
    /// first audio packet arrives (the playback clock starts then), so `onset` is how long
    /// after that packet the tone was first heard; `longestGap` is the longest stretch without
    /// it from `onset` + 0.1 s until `tail` seconds before the end, leaving out the `excluded`
    /// stretches (where the peer sent telephone-events instead of audio, say).
    /// Measured in 10 ms windows: one holds the tone if it is not quiet (RMS ≥ 300) and at
    /// least half its energy is at `frequency`.
    func continuity(of name: String, tone frequency: Double, excluded: [ClosedRange<Double>] = [],
                    tail: Double = 0.3, sampleRate: Double = 48_000) throws -> (onset: Double, longestGap: Double, gapAt: Double, checked: Double) {
        let data = try Data(contentsOf: directory.appendingPathComponent("\(name).out.raw"))
        let samples = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let window = Int(sampleRate / 100)
        let tone: [Bool] = stride(from: 0, to: samples.count - window + 1, by: window).map { start in
            let slice = Array(samples[start..<start + window])
            let energy = slice.reduce(0.0) { $0 + Double($1) * Double($1) }
            guard (energy / Double(window)).squareRoot() >= 300 else { return false }
            // For a pure tone of amplitude A over N samples, Goertzel's power (divided by N, as
            // ToneAnalysis gives it) is N·A²/4 and the energy N·A²/2: the share is 1.
            let share = 2 * ToneAnalysis.power(of: slice, at: frequency, sampleRate: sampleRate) / energy
            return share >= 0.5
        }
        let seconds = { (index: Int) in Double(index) / 100 }
        guard let first = tone.firstIndex(of: true) else { return (.infinity, .infinity, 0, 0) }
        let from = first + 10
        let to = tone.count - Int(tail * 100)
        var longest = 0, longestAt = from, run = 0
        for index in from..<max(from, to) {
            let skipped = excluded.contains { $0.overlaps(seconds(index)...seconds(index + 1)) }
            if tone[index] || skipped {
                run = 0
                continue
            }
            run += 1
            if run > longest { longest = run; longestAt = index - run + 1 }
        }
        return (seconds(first), seconds(longest), seconds(longestAt), seconds(max(0, to - from)))
    }

    static func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func states(_ text: String) -> [String] {
        jsonLines(text).filter { $0["type"] as? String == "call" }.compactMap { $0["state"] as? String }
    }

    static func digits(_ text: String) -> String {
        jsonLines(text).filter { $0["type"] as? String == "dtmf" }.compactMap { $0["digit"] as? String }.joined()
    }

    static func final(_ text: String) -> [String: Any]? {
        jsonLines(text).last { $0["type"] as? String == "call" && $0["state"] as? String == "ended" }
    }
}
