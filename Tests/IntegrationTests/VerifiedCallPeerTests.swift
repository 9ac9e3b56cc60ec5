import DialtoneXMPP
import Foundation
import XCTest

/// Verified calls against an OMEMO implementation we did not write: python-omemo's legacy
/// backend through slixmpp-omemo (Peers/omemo_call_peer.py) takes our call as Conversations'
/// verification draft says. It decrypts the fingerprint of our session-initiate, which must
/// be ours and must not also travel in clear, and encrypts its answer's, which we open.
final class VerifiedCallPeerTests: ContactPeerTestCase {
    override class var peerScript: String { "omemo_call_peer.py" }
    override class var contactName: String { "omemocall" }

    func testAnIndependentOMEMOPeerReadsOurFingerprintAndWeReadItsOwn() async throws {
        let contact = try peer(them, ["--timeout", "60"])
        try await waitForPeer(contact)
        let device = try XCTUnwrap(event("ready", in: contact)?["device"] as? Int)
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let call = try dialtone("dt", ["call", them.jid.bare.description, "--duration", "3"] + arguments)
        _ = try await call.wait(timeout: .seconds(60))

        XCTAssertNotNil(event("proceed", in: contact), contact.output + contact.errors)
        let fingerprint = try XCTUnwrap(event("fingerprint", in: contact), contact.output + contact.errors)
        XCTAssertEqual(fingerprint["in_clear"] as? Bool, false, "the fingerprint went only encrypted: \(fingerprint)")
        let text = try XCTUnwrap(fingerprint["text"] as? String)
        XCTAssertEqual(text.split(separator: ":").count, 32, "python-omemo decrypted a SHA-256 fingerprint: \(text)")
        let log = try String(contentsOfFile: harness.path("dt.log"), encoding: .utf8)
        XCTAssertFalse(log.contains("DTLS fingerprint sent in clear"), log)
        XCTAssertNotNil(event("accepted", in: contact), contact.output + contact.errors)

        // Its answer's fingerprint opened, from the device its proceed named.
        let states = CallHarness.jsonLines(call.output).filter { $0["type"] as? String == "call" }
        let ended = try XCTUnwrap(states.last { $0["state"] as? String == "ended" }, call.output + call.errors)
        XCTAssertEqual(ended["omemo_device"] as? Int, device, "\(ended)")
        XCTAssertEqual(ended["verified"] as? Bool, false, "blind trust, not verification: \(ended)")
        XCTAssertFalse((ended["reason"] as? String ?? "").contains("OMEMO"), "no security error: \(ended)")
    }
}
