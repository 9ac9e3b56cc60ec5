import DialtoneXMPP
import Foundation
import XCTest

/// Verified calls between two `dialtone` processes through the test Prosody (Conversations'
/// OMEMO DTLS-SRTP verification draft): the callee's proceed names its OMEMO device, each
/// side's DTLS fingerprint travels only OMEMO-encrypted for the other's device, and a call
/// between devices both users verified is shown as verified. DTLS checks the certificate
/// against the decrypted fingerprint, so audio both ways proves it decrypted right.
final class VerifiedCallTests: XCTestCase {
    func testACallBetweenVerifiedDevicesIsShownVerifiedAndNoFingerprintGoesInClear() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let caller = try environment.newAccount("vcaller")
        let callee = try environment.newAccount("vcallee")
        // Trace: the stanzas as they went are in the logs.
        let callerArguments = try harness.arguments("caller", for: caller, tone: 440).map { $0 == "debug" ? "trace" : $0 }
        let calleeArguments = try harness.arguments("callee", for: callee, tone: 880).map { $0 == "debug" ? "trace" : $0 }
        let accounts = ["caller": (caller, callerArguments), "callee": (callee, calleeArguments)]

        func run(_ name: String, _ command: [String]) async throws -> [[String: Any]] {
            let arguments = try XCTUnwrap(accounts[name]).1
            let result = try await ChildProcess.run([harness.binary] + command + arguments.prefix(4),
                                                    environment: harness.processEnvironment(for: name), timeout: .seconds(30))
            XCTAssertEqual(result.status, 0, "\(name) \(command): " + result.stdout + result.stderr)
            return CallHarness.jsonLines(result.stdout)
        }
        // Each account's device is published; each user verifies the other's.
        var devices: [String: Int] = [:]
        for name in ["caller", "callee"] {
            let own = try await run(name, ["omemo", "fingerprints", "--json"])
            devices[name] = try XCTUnwrap(own.first?["device"] as? Int, "\(own)")
        }
        for (name, other) in [("caller", "callee"), ("callee", "caller")] {
            let peer = try XCTUnwrap(accounts[other]).0.jid.bare.description
            let listed = try await run(name, ["omemo", "fingerprints", "--json", peer])
            let entry = try XCTUnwrap(listed.first { $0["device"] as? Int == devices[other] }, "\(listed)")
            _ = try await run(name, ["omemo", "trust", try XCTUnwrap(entry["fingerprint"] as? String)])
        }

        let (call, answer) = try await harness.callAndAnswer(callee.jid, caller: callerArguments, callee: calleeArguments, duration: 3)
        for (name, output, other) in [("caller", call, "callee"), ("callee", answer, "caller")] {
            let final = try XCTUnwrap(CallHarness.final(output), output)
            XCTAssertEqual(final["outcome"] as? String, "completed", "\(name): \(output)")
            let connected = try XCTUnwrap(CallHarness.jsonLines(output).first { $0["type"] as? String == "call" && $0["state"] as? String == "connected" }, output)
            XCTAssertEqual(connected["verified"] as? Bool, true, "\(name) sees the call verified: \(connected)")
            XCTAssertEqual(connected["omemo_device"] as? Int, devices[other], "\(name): with the other's device")
        }
        XCTAssertEqual(try harness.heard(by: "caller").frequency, 880, "the caller hears the callee")
        XCTAssertEqual(try harness.heard(by: "callee").frequency, 440, "the callee hears the caller")

        // On the wire: the proceed named the callee's device, and neither the offer nor the
        // answer carried a fingerprint in clear.
        let callerLog = try String(contentsOfFile: harness.path("caller.log"), encoding: .utf8)
        let calleeLog = try String(contentsOfFile: harness.path("callee.log"), encoding: .utf8)
        let initiate = try XCTUnwrap(sentLine(in: callerLog, containing: "session-initiate"))
        let accept = try XCTUnwrap(sentLine(in: calleeLog, containing: "session-accept"))
        let proceed = try XCTUnwrap(sentLine(in: calleeLog, containing: "<proceed"))
        XCTAssertTrue(proceed.contains("dlts-srtp-verification") && proceed.contains("id='\(devices["callee"] ?? 0)'"), proceed)
        for line in [initiate, accept] {
            XCTAssertTrue(line.contains("dlts-srtp-verification") && line.contains("eu.siacs.conversations.axolotl"), line)
            XCTAssertFalse(line.contains("urn:xmpp:jingle:apps:dtls:0"), "no fingerprint in clear: \(line)")
        }
    }

    func testACallWithBlindlyTrustedDevicesIsProtectedButNotVerified() async throws {
        let environment = try TestEnvironment.current()
        let harness = try CallHarness(environment: environment)
        defer { harness.remove() }
        let caller = try environment.newAccount("bcaller")
        let callee = try environment.newAccount("bcallee")
        let callerArguments = try harness.arguments("caller", for: caller, tone: 440)
        let calleeArguments = try harness.arguments("callee", for: callee, tone: 880)
        let (call, answer) = try await harness.callAndAnswer(callee.jid, caller: callerArguments, callee: calleeArguments, duration: 2)
        for output in [call, answer] {
            XCTAssertEqual(CallHarness.final(output)?["outcome"] as? String, "completed", output)
            let connected = try XCTUnwrap(CallHarness.jsonLines(output).first { $0["type"] as? String == "call" && $0["state"] as? String == "connected" }, output)
            XCTAssertNotNil(connected["omemo_device"], "the fingerprints went through OMEMO: \(connected)")
            XCTAssertEqual(connected["verified"] as? Bool, false, "blind trust is not verification: \(connected)")
        }
    }

    /// The trace log's line for a stanza we sent containing `text`.
    private func sentLine(in log: String, containing text: String) -> String? {
        log.split(separator: "\n").first { $0.contains("send: ") && $0.contains(text) }.map(String.init)
    }
}
