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
