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
