@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import Foundation
import Synchronization
import XCTest

/// A stand-in for the account's OMEMO, for the call manager's side of verified calls: "sealing"
/// puts the text in an `<encrypted/>` as it is (the real encryption is tested in Core and end to
/// end), names the device it was for, and opening reads it back with the sender's device from
/// the header, as OMEMO's would.
final class FakeSealing: Sendable {
    let ownDevice: UInt32?
    let verified: Bool
    let fails: Bool
    /// (text, device) of each fingerprint sealed.
    let sealed = Mutex<[(String, UInt32)]>([])

    init(ownDevice: UInt32? = 7, verified: Bool = true, fails: Bool = false) {
        self.ownDevice = ownDevice
        self.verified = verified
        self.fails = fails
    }

    struct Refused: Error {}

    var sealing: FingerprintSealing {
        FingerprintSealing(
            ownDevice: { _ in self.ownDevice },
            seal: { text, _, device in
                if self.fails { throw Refused() }
                self.sealed.withLock { $0.append((text, device)) }
                return Self.encrypted(text, from: self.ownDevice ?? 0, to: device)
            },
            open: { encrypted, _ in
                guard !encrypted.keys.isEmpty, let payload = encrypted.payload else { throw Refused() }
                return .init(fingerprint: String(decoding: payload, as: UTF8.self), device: encrypted.senderDevice, verified: self.verified)
            })
    }

    /// An encrypted fingerprint as the draft shows it, the payload in clear (a test's stand-in).
    static func encrypted(_ text: String, from sender: UInt32, to device: UInt32) -> OMEMOEncrypted {
        OMEMOEncrypted(version: .legacy, senderDevice: sender, keys: [.init(account: nil, device: device, isKeyExchange: false, data: [1, 2])],
                       iv: Array(repeating: 0, count: 12), payload: Array(text.utf8))
    }
}

/// Verified calls (Conversations' OMEMO DTLS-SRTP verification draft) in the call manager:
/// our proceed names our device, our fingerprint goes encrypted for the device the peer's
/// proceed named (or that encrypted its offer) and never also in clear, the peer's is opened,
/// and the call is marked only when both went that way with one device. What may not be
/// trusted (an answer in clear after our encrypted offer, another device's, one that does not
/// open) ends the session with a security error; calls without OMEMO go as before.
final class CallManagerVerificationTests: XCTestCase {
    private let friend = FakeCallSignalling.friend
    private let me = FakeCallSignalling.me
    private let peerFingerprint = String(repeating: "AB:", count: 31) + "AB"

    private func transport(setup: String, sealedBy device: UInt32?) -> ICEUDPTransport {
        var transport = ICEUDPTransport(ufrag: "peer", password: "peerpasswordpeerpasswd")
        if let device {
            transport.sealedFingerprint = SealedFingerprint(setup: setup, encrypted: FakeSealing.encrypted(peerFingerprint, from: device, to: 7))
        } else {
            transport.fingerprint = DTLSFingerprint(setup: setup, value: Array(repeating: 0xAB, count: 32))
        }
        return transport
    }

    private func accept(_ id: String, sealedBy device: UInt32?) -> JingleAction {
        JingleAction(.sessionAccept, sid: id, initiator: me, responder: friend,
                     contents: [JingleContent(description: RTPDescription(payloadTypes: [.opus]),
                                              transport: transport(setup: "active", sealedBy: device))], bundle: ["0"])
    }

    private func initiate(_ id: String, sealedBy device: UInt32?) -> JingleAction {
        JingleAction(.sessionInitiate, sid: id, initiator: friend,
                     contents: [JingleContent(description: RTPDescription(payloadTypes: [.opus]),
                                              transport: transport(setup: "actpass", sealedBy: device))], bundle: ["0"])
    }

    /// The fingerprint elements of the transport in a sent Jingle request: (namespace, has encrypted child).
    private func fingerprints(in iq: XMLElement?) -> [String] {
        guard let transport = iq?.child("jingle", namespace: JingleNamespace.jingle)?
            .child("content", namespace: JingleNamespace.jingle)?.child("transport", namespace: JingleNamespace.iceUDP) else { return [] }
        return transport.elements.filter { $0.name == "fingerprint" }.map(\.namespace)
    }

    /// Outgoing: our call, and the friend's proceed naming its OMEMO device (our offer follows).
    private func proceeded(_ manager: CallManager, device: UInt32) async throws -> String {
        let id = try await manager.place(to: friend.bare)
        await manager.receive(.proceed, id: id, from: friend, device: device)
        return id
    }

    // MARK: We call

    func testOurOfferIsSealedForTheDeviceTheProceedNamedAndTheCallIsVerified() async throws {
        let omemo = FakeSealing()
        let sent = FakeCallSignalling(sealing: omemo.sealing)
        let manager = sent.manager()
        let id = try await proceeded(manager, device: 42)
        let initiate = sent.sent(.sessionInitiate).first
        XCTAssertEqual(fingerprints(in: initiate), [JingleNamespace.omemoVerification], "only the encrypted fingerprint, none in clear")
        let sealed = omemo.sealed.withLock { $0 }
        XCTAssertEqual(sealed.map(\.1), [42])
        XCTAssertEqual(SealedFingerprint(setup: "actpass", encrypted: FakeSealing.encrypted("", from: 1, to: 2)).opened(sealed.first?.0 ?? "")?.value.count, 32,
                       "what was encrypted is our fingerprint's text")

        await manager.receive(accept(id, sealedBy: 42), from: friend)
        XCTAssertEqual(sent.replies(), ["result"])
        let call = await manager.call(id)
        XCTAssertEqual(call?.protection, FingerprintProtection(device: 42, verified: true))
        XCTAssertEqual(call?.state, .connecting)
        await manager.hangUpAll()
    }

    func testAnAnswerInClearAfterOurSealedOfferEndsTheCall() async throws {
        let sent = FakeCallSignalling(sealing: FakeSealing().sealing)
        let manager = sent.manager()
        let id = try await proceeded(manager, device: 42)
        await manager.receive(accept(id, sealedBy: nil), from: friend)
        XCTAssertEqual(sent.jingle(), ["session-initiate", "session-terminate security-error"])
        let call = await manager.call(id)
        XCTAssertEqual(call?.outcome, .failed)
        XCTAssertNil(call?.protection)
        XCTAssertTrue(call?.reason?.contains("not OMEMO-encrypted") == true, call?.reason ?? "")
    }

    func testAnAnswerSealedByAnotherDeviceEndsTheCall() async throws {
        let sent = FakeCallSignalling(sealing: FakeSealing().sealing)
        let manager = sent.manager()
        let id = try await proceeded(manager, device: 42)
        await manager.receive(accept(id, sealedBy: 666), from: friend)
        XCTAssertEqual(sent.jingle().last, "session-terminate security-error")
        let reason = await manager.call(id)?.reason
        XCTAssertTrue(reason?.contains("device 666, not 42") == true, reason ?? "")
    }

    func testAProceedWithoutDeviceKeepsTheFingerprintInClear() async throws {
        let omemo = FakeSealing()
        let sent = FakeCallSignalling(sealing: omemo.sealing)
        let manager = sent.manager()
        let id = try await manager.place(to: friend.bare)
        await manager.receive(.proceed, id: id, from: friend)
        XCTAssertEqual(fingerprints(in: sent.sent(.sessionInitiate).first), [JingleNamespace.dtls])
        XCTAssertTrue(omemo.sealed.withLock { $0.isEmpty })
        await manager.receive(accept(id, sealedBy: nil), from: friend)
        let call = await manager.call(id)
        XCTAssertEqual(call?.state, .connecting, "a call without OMEMO goes as before")
        XCTAssertNil(call?.protection)
        await manager.hangUpAll()
    }

    func testAFingerprintThatCannotBeSealedGoesInClear() async throws {
        let sent = FakeCallSignalling(sealing: FakeSealing(fails: true).sealing)
        let manager = sent.manager()
        let id = try await proceeded(manager, device: 42)
        XCTAssertEqual(fingerprints(in: sent.sent(.sessionInitiate).first), [JingleNamespace.dtls])
        await manager.receive(accept(id, sealedBy: nil), from: friend)
        let call = await manager.call(id)
        XCTAssertEqual(call?.state, .connecting, "an answer in clear is fine: ours went in clear too")
        XCTAssertNil(call?.protection)
        await manager.hangUpAll()
    }

    // MARK: We answer

    func testOurProceedNamesOurDeviceAndOurAnswerIsSealedForTheCallersDevice() async throws {
        let omemo = FakeSealing(ownDevice: 7, verified: false)
        let sent = FakeCallSignalling(sealing: omemo.sealing)
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "in1", from: friend)
        try await manager.answer("in1")
        let proceed = sent.messages.compactMap { MessageInitiation(message: $0) }.first { $0.action == .proceed }
        XCTAssertEqual(proceed?.device, 7)
        await manager.receive(initiate("in1", sealedBy: 99), from: friend)
        XCTAssertEqual(fingerprints(in: sent.sent(.sessionAccept).first), [JingleNamespace.omemoVerification])
        XCTAssertEqual(omemo.sealed.withLock { $0.map(\.1) }, [99], "for the device that encrypted the offer")
        let call = await manager.call("in1")
        XCTAssertEqual(call?.protection, FingerprintProtection(device: 99, verified: false), "protected, but the device is not verified")
        await manager.hangUpAll()
    }

    func testAnOfferThatDoesNotOpenEndsWithASecurityError() async throws {
        let sent = FakeCallSignalling(sealing: FakeSealing().sealing)
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "in1", from: friend)
        try await manager.answer("in1")
        var broken = initiate("in1", sealedBy: 99)
        broken.contents[0].transport?.sealedFingerprint?.encrypted.keys = []
        await manager.receive(broken, from: friend)
        XCTAssertEqual(sent.jingle(), ["session-terminate security-error"])
        XCTAssertEqual(sent.sent(.sessionAccept).count, 0)
        let outcome = await manager.call("in1")?.outcome
        XCTAssertEqual(outcome, .failed)
    }

    func testWithoutOMEMOTheProceedNamesNoDeviceAndASealedOfferIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "in1", from: friend)
        try await manager.answer("in1")
        let proceed = sent.messages.compactMap { MessageInitiation(message: $0) }.first { $0.action == .proceed }
        XCTAssertNotNil(proceed)
        XCTAssertNil(proceed?.device)
        await manager.receive(initiate("in1", sealedBy: 99), from: friend)
        XCTAssertEqual(sent.jingle(), ["session-terminate security-error"])
    }

    func testABareSealedOfferRingsWithItsFingerprintOpened() async throws {
        let sent = FakeCallSignalling(sealing: FakeSealing().sealing)
        let manager = sent.manager()
        await manager.receive(initiate("bare1", sealedBy: 99), from: friend)
        let call = await manager.call("bare1")
        XCTAssertEqual(call?.state, .incoming)
        guard case .offerReceived(let offer)? = await manager.phase(of: "bare1") else { return XCTFail("no offer waiting") }
        XCTAssertEqual(offer.audio?.transport?.fingerprint?.value, Array(repeating: 0xAB, count: 32))
        await manager.hangUpAll()
    }
}
