import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// OMEMO (XEP-0384) both ways between `dialtone` and a contact on python-omemo through
/// slixmpp-omemo, an implementation we did not write (Peers/omemo_peer.py), in both versions:
/// the key exchange and the messages after it, `listen` and `send` as two processes of one
/// account sharing sessions, trust by fingerprint, and a new device of a verified contact
/// that is not trusted silently.
final class EncryptionTests: ContactPeerTestCase {
    override class var peerScript: String { "omemo_peer.py" }
    override class var contactName: String { "omemo" }
    override class var configurationExtra: String { "gateway = \"gateway.dialtone.test\"" }

    private static let legacy = "eu.siacs.conversations.axolotl"
    private static let current = "urn:xmpp:omemo:2"

    private func incoming(_ listener: ChildProcess, _ body: String) -> [String: Any]? {
        lines(listener, type: "message").first { $0["direction"] as? String == "incoming" && $0["body"] as? String == body }
    }

    func testTheLegacyVersionBothWays() async throws {
        let listener = try await listenOnline(config: config)
        let contact = try peer(them, ["--versions", "legacy", "--echo", "--timeout", "60"])
        try await waitForPeer(contact)
        _ = try await run(["send", them.jid.bare.description, "Tea at four?"])

        try await eventually("they decrypt our message") {
            self.events("message", in: contact).contains { $0["body"] as? String == "Tea at four?" }
        }
        let received = try XCTUnwrap(events("message", in: contact).first { $0["body"] as? String == "Tea at four?" })
        XCTAssertEqual(received["encrypted"] as? String, Self.legacy, "it travelled encrypted: \(received)")
        try await eventually("their encrypted answer is decrypted") { self.incoming(listener, "echo: Tea at four?") != nil }
        let answer = try XCTUnwrap(incoming(listener, "echo: Tea at four?"))
        XCTAssertEqual(answer["encrypted"] as? Bool, true, "\(answer)")
        XCTAssertEqual(answer["trust"] as? String, "blind", "trusted before verification: \(answer)")
        let ours = try XCTUnwrap(lines(listener, type: "message").first { $0["body"] as? String == "Tea at four?" })
        XCTAssertEqual(ours["encrypted"] as? Bool, true, "ours is marked as sent encrypted: \(ours)")

        // The history keeps the decrypted text.
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))
        let history = CallHarness.jsonLines(try await run(["history", "--json", them.jid.bare.description]).output)
        XCTAssertTrue(history.contains { $0["body"] as? String == "echo: Tea at four?" && $0["encrypted"] as? Bool == true }, "\(history)")
    }

    func testTheCurrentVersionBothWaysWhenTheyWriteFirst() async throws {
        let listener = try await listenOnline(config: config)
        let contact = try peer(them, ["--versions", "current", "--echo", "--send", us.jid.bare.description, "Kaidan says hi",
                                      "--timeout", "60"])
        try await waitForPeer(contact)
        try await eventually("their key exchange is decrypted") { self.incoming(listener, "Kaidan says hi") != nil }
        XCTAssertEqual(incoming(listener, "Kaidan says hi")?["encrypted"] as? Bool, true)

        _ = try await run(["send", them.jid.bare.description, "Hello in OMEMO 2"])
        try await eventually("they decrypt our envelope") {
            self.events("message", in: contact).contains { $0["body"] as? String == "Hello in OMEMO 2" }
        }
        let received = try XCTUnwrap(events("message", in: contact).first { $0["body"] as? String == "Hello in OMEMO 2" })
        XCTAssertEqual(received["encrypted"] as? String, Self.current, "\(received)")
        try await eventually("their answer is decrypted") { self.incoming(listener, "echo: Hello in OMEMO 2") != nil }
        XCTAssertEqual(events("undecryptable", in: contact).count, 0, contact.output)
    }

    func testANewDeviceOfAVerifiedContactIsNotTrustedSilently() async throws {
        let listener = try await listenOnline(config: config)
        let first = try peer(them, ["--versions", "legacy", "--echo", "--timeout", "90"])
        try await waitForPeer(first)
        _ = try await run(["send", them.jid.bare.description, "one"])
        try await eventually("the first device reads it") { self.events("message", in: first).contains { $0["body"] as? String == "one" } }

        let devices = CallHarness.jsonLines(try await run(["omemo", "fingerprints", "--json", them.jid.bare.description]).output)
        XCTAssertEqual(devices.count, 1, "\(devices)")
        let fingerprint = try XCTUnwrap(devices.first?["fingerprint"] as? String)
        XCTAssertEqual(fingerprint.count, 64)
        XCTAssertEqual(devices.first?["trust"] as? String, "blind")
        // Typed as clients show it: groups of eight.
        let grouped = stride(from: 0, to: 64, by: 8).map { start in
            String(fingerprint.dropFirst(start).prefix(8))
        }
        _ = try await run(["omemo", "trust"] + grouped)

        // The contact adds a device: a new one of a verified contact waits for the user.
        let second = try peer(them, ["--versions", "legacy", "--echo", "--timeout", "90"])
        try await waitForPeer(second)
        let secondID = try XCTUnwrap(event("ready", in: second)?["device"] as? Int)
        _ = try await run(["send", them.jid.bare.description, "two"])
        try await eventually("the verified device reads it") { self.events("message", in: first).contains { $0["body"] as? String == "two" } }
        try await Task.sleep(for: .seconds(1))
        XCTAssertFalse(events("message", in: second).contains { $0["body"] as? String == "two" }, "not encrypted for the new device")
        let now = CallHarness.jsonLines(try await run(["omemo", "fingerprints", "--json", them.jid.bare.description]).output)
        let newDevice = try XCTUnwrap(now.first { $0["device"] as? Int == secondID }, "\(now)")
        XCTAssertEqual(newDevice["trust"] as? String, "untrusted", "\(now)")
        XCTAssertEqual(now.first { $0["fingerprint"] as? String == fingerprint }?["trust"] as? String, "verified")

        // Once the user verifies it, it is written to too.
        _ = try await run(["omemo", "trust", try XCTUnwrap(newDevice["fingerprint"] as? String)])
        _ = try await run(["send", them.jid.bare.description, "three"])
        try await eventually("the new device reads it") { self.events("message", in: second).contains { $0["body"] as? String == "three" } }
        _ = listener
    }

    func testAPhoneNumberIsNeverEncrypted() async throws {
        let child = try dialtone("dt", ["omemo", "on", "+15551234567", "--config", config])
        let status = try await child.wait(timeout: .seconds(30))
        XCTAssertNotEqual(status, 0)
        XCTAssertTrue(child.errors.contains("phone number"), child.output + child.errors)
    }
}
