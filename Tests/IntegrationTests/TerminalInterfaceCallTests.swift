@testable import DialtoneCore
import DialtoneMedia
import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Calls in the terminal interface: the dialer and the call panel, answering, and a call
/// ringing on the account out of view.
final class TerminalInterfaceCallTests: TerminalInterfaceTestCase {
    /// The dialer: /call from the interface to a `dialtone answer`, the call panel with its
    /// timer, digits typed on the keypad arriving as RFC 4733 events, Alt-h hanging up, and the
    /// call's line in the conversation.
    func testCallingFromTheTerminalInterface() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let alice = try environment.newAccount("alice")
        let bob = try environment.newAccount("bob")
        let bobArguments = try harness.arguments("bob", for: bob, tone: 880)
        // The interface's account gets the same file-backed devices through its config, and a
        // second playback device to move to mid-call.
        _ = try harness.arguments("alice", for: alice, tone: 440)
        let headset = harness.path("headset.raw")
        try (try String(contentsOfFile: harness.path("alice.asoundrc"), encoding: .utf8)
            + "\npcm.headset { type file; slave.pcm { type null }; file \"\(headset)\"; format \"raw\" }\n")
            .write(toFile: harness.path("alice.asoundrc"), atomically: true, encoding: .utf8)
        // Bob's OMEMO device, which alice verifies below: the call is then shown as verified.
        let bobDevices = try await ChildProcess.run([harness.binary, "omemo", "fingerprints", "--json"] + bobArguments.prefix(4),
                                                    environment: harness.processEnvironment(for: "bob"))
        let bobFingerprint = try XCTUnwrap(CallHarness.jsonLines(bobDevices.stdout).first?["fingerprint"] as? String, bobDevices.stderr)
        let answer = try harness.start("bob", ["answer", "--auto", "--timeout", "90"] + bobArguments)
        defer { if answer.isRunning { answer.signal(SIGKILL) } }
        try await eventually("bob is online") { CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" } }

        try await startInterface(for: alice, environment: environment, extra: """
            ice_loopback_only = true
            capture = "cap"
            playback = "play"
            alsa_config = "\(harness.path("alice.asoundrc"))"
            """)
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/omemo fingerprints \(bob.jid)")
        try await waitForScreen("bob's device listed") { $0.contains("OMEMO devices") && $0.contains(String(bobFingerprint.prefix(8))) }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        // Closed before typing on: an Escape right before a key reads as Alt and that key.
        try await waitForScreen("the list closed") { !$0.contains("OMEMO devices") }
        try await command("/omemo trust \(bobFingerprint)")
        try await waitForScreen("bob's device verified") { $0.contains("Verified") }
        try await command("/call \(bob.jid)")
        try await waitForScreen("the connected call with its timer, verified") { screen in
            screen.contains("Call with") && screen.contains("0:0") && screen.contains("mic") && screen.contains("☎ 🔒✓ Call with")
        }
        // Digits on an empty line are the keypad.
        try await tmux(["send-keys", "-t", "tui", "-l", "42#"])
        try await waitForScreen("the digits shown as typed") { $0.contains("42#") }
        try await eventually("bob receives the digits") { CallHarness.digits(answer.output) == "42#" }
        // A headset plugged in mid-call: playback moves, the call goes on.
        try await command("/device playback headset")
        try await waitForScreen("the device switched") { $0.contains("Playback now on headset") }
        try await eventually("the headset plays bob's tone") {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: headset))) ?? Data()
            guard data.count >= 48_000 * 2 else { return false }
            let samples = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            return ToneAnalysis.dominantFrequency(Array(samples.suffix(24_000)), sampleRate: 48_000) == 880
        }
        try await tmux(["send-keys", "-t", "tui", "M-h"])
        let status = try await answer.wait(timeout: .seconds(20))
        XCTAssertEqual(status, 0, answer.output + answer.errors)
        XCTAssertEqual(CallHarness.final(answer.output)?["outcome"] as? String, "completed", answer.output)
        try await waitForScreen("the call's line in the conversation") { $0.contains("☎ Outgoing call to") }
        XCTAssertEqual(try harness.heard(by: "bob").frequency, 440, "bob heard the interface's microphone")
        XCTAssertEqual(CallHarness.final(answer.output)?["outcome"] as? String, "completed", "the device switch did not end the call")

        try await command("/quit")
    }

    /// An incoming call in the interface: the banner, the ring tone on its own device, Alt-a
    /// answers, audio both ways, Alt-h hangs up.
    func testAnsweringACallInTheTerminalInterface() async throws {
        let environment = try TestEnvironment.current()
        let python = try PythonPeers.python()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let alice = try environment.newAccount("alice")
        let caller = try environment.newAccount("caller")
        _ = try harness.arguments("alice", for: alice, tone: 440)
        let ring = harness.path("ring.raw")
        let asoundrc = try String(contentsOfFile: harness.path("alice.asoundrc"), encoding: .utf8)
            + "\npcm.ring { type file; slave.pcm { type null }; file \"\(ring)\"; format \"raw\" }\n"
        try asoundrc.write(toFile: harness.path("alice.asoundrc"), atomically: true, encoding: .utf8)
        try await startInterface(for: alice, environment: environment, extra: """
            calls_from = "anyone"
            ice_loopback_only = true
            capture = "cap"
            playback = "play"
            ring_device = "ring"
            alsa_config = "\(harness.path("alice.asoundrc"))"
            """)
        try await waitForScreen("online") { $0.contains("online") }

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/jingle_peer.py").path
        let peer = try ChildProcess([python, script, "--jid", caller.jid.description, "--password", caller.password,
                                     "--port", String(environment.port), "--ca-file", environment.caFile,
                                     "--tone", "880", "--duration", "30", "--timeout", "60", "call", alice.jid.description])
        defer { if peer.isRunning { peer.signal(SIGKILL) } }
        try await waitForScreen("the ringing banner") { $0.contains("Incoming call from") && $0.contains("Alt-a") }
        try await eventually("the ring tone plays on its own device") {
            let data = (try? Data(contentsOf: URL(fileURLWithPath: ring))) ?? Data()
            guard data.count > 16_000 * 2 else { return false }
            let samples = data.withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
            let first = Array(samples.prefix(8_000))
            return ToneAnalysis.power(of: first, at: 440, sampleRate: 8_000) > 100 * ToneAnalysis.power(of: first, at: 1_000, sampleRate: 8_000)
        }
        try await tmux(["send-keys", "-t", "tui", "M-a"])
        try await waitForScreen("the connected call") { $0.contains("Call with") && $0.contains("mic") }
        // Libraries' warnings (speexdsp, ALSA) go to the log, never across the screen.
        try await Task.sleep(for: .milliseconds(500))
        let screen = try await self.screen()
        XCTAssertFalse(screen.contains("warning"), "stray library output on the screen:\n\(screen)")
        let ringLength = (try? Data(contentsOf: URL(fileURLWithPath: ring)).count) ?? 0
        try await eventually("the peer hears the interface") {
            CallHarness.jsonLines(peer.output).contains { $0["event"] as? String == "heard" }
        }
        XCTAssertEqual(CallHarness.jsonLines(peer.output).first { $0["event"] as? String == "heard" }?["frequency"] as? Double, 440)
        try await tmux(["send-keys", "-t", "tui", "M-h"])
        _ = try await peer.wait(timeout: .seconds(20))
        XCTAssertTrue(CallHarness.jsonLines(peer.output).contains { $0["event"] as? String == "terminated" }, peer.output)
        try await waitForScreen("the call's line in the conversation") { $0.contains("☎ Incoming call from") }
        let later = (try? Data(contentsOf: URL(fileURLWithPath: ring)).count) ?? 0
        XCTAssertLessThanOrEqual(later - ringLength, 8_000 * 2 / 5, "the ring stopped once answered")
        try await command("/quit")
    }

    /// A call to the account out of view rings there too, says which account it is for, and
    /// answering it brings that account into view; the call connects on it.
    func testAnsweringACallOnTheAccountOutOfView() async throws {
        let environment = try TestEnvironment.current()
        let python = try PythonPeers.python()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let alice = try environment.newAccount("alice")
        let dave = try environment.newAccount("dave")
        let caller = try environment.newAccount("caller")
        _ = try harness.arguments("dave", for: dave, tone: 440)
        let both = directory.appendingPathComponent("both.toml").path
        let first = try String(contentsOfFile: try environment.writeConfiguration(for: alice, in: directory), encoding: .utf8)
        let second = try String(contentsOfFile: try environment.writeConfiguration(for: dave, in: directory, extra: """
            calls_from = "anyone"
            ice_loopback_only = true
            capture = "cap"
            playback = "play"
            alsa_config = "\(harness.path("dave.asoundrc"))"
            """), encoding: .utf8)
        try (first + "\n" + second).write(toFile: both, atomically: true, encoding: .utf8)
        try await startInterface(for: alice, environment: environment, configuration: both)
        try await waitForScreen("online, the first account in view") { $0.contains("online") && $0.contains(" \(alice.jid.description) ") }

        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/jingle_peer.py").path
        let peer = try ChildProcess([python, script, "--jid", caller.jid.description, "--password", caller.password,
                                     "--port", String(environment.port), "--ca-file", environment.caFile,
                                     "--tone", "880", "--duration", "30", "--timeout", "60", "call", dave.jid.description])
        defer { if peer.isRunning { peer.signal(SIGKILL) } }
        try await waitForScreen("the ringing banner, naming the account") { screen in
            screen.contains("Incoming call from") && screen.contains("on \(dave.jid.local ?? "")") && screen.contains("Alt-a answer")
        }
        try await tmux(["send-keys", "-t", "tui", "M-a"])
        try await waitForScreen("the call connected on the second account, now in view") { screen in
            screen.contains("Call with") && screen.contains("mic") && screen.contains(" \(dave.jid.description) ")
        }
        try await eventually("the peer hears the second account's microphone") {
            CallHarness.jsonLines(peer.output).contains { $0["event"] as? String == "heard" }
        }
        XCTAssertEqual(CallHarness.jsonLines(peer.output).first { $0["event"] as? String == "heard" }?["frequency"] as? Double, 440)
        try await tmux(["send-keys", "-t", "tui", "M-h"])
        _ = try await peer.wait(timeout: .seconds(20))
        XCTAssertTrue(CallHarness.jsonLines(peer.output).contains { $0["event"] as? String == "terminated" }, peer.output)
        try await command("/quit")
    }
}
