@testable import DialtoneJingle
import DialtoneICE
import DialtoneXMPP
import Foundation
import XCTest

/// Jingle negotiation driven through a fake `CallSignalling`, phase by phase (`CallPhase`):
/// what a hang-up sends in each, session-accepts and transport-infos from the wrong device or
/// at the wrong time, and the peer's retract or reject before and after the session.
/// Both sides calling at once is in `CallManagerRingingTests`.
final class CallManagerNegotiationTests: XCTestCase {
    private let me = FakeCallSignalling.me
    private let friend = FakeCallSignalling.friend
    private let otherDevice = JID(verified: "friend@example.org/laptop")
    private let stranger = JID(verified: "mallory@evil.example/x")

    // MARK: Calls in each phase

    /// An audio content as a peer offers or answers it: Opus, ICE credentials and a DTLS
    /// fingerprint; its candidates trickle.
    private func content(setup: String, candidates: [ICECandidate] = []) -> JingleContent {
        JingleContent(description: RTPDescription(payloadTypes: [.opus]),
                      transport: ICEUDPTransport(ufrag: "peer", password: "peerpasswordpeerpasswd", candidates: candidates,
                                                 fingerprint: DTLSFingerprint(setup: setup, value: Array(repeating: 0xAB, count: 32))))
    }

    private func initiate(_ id: String) -> JingleAction {
        JingleAction(.sessionInitiate, sid: id, initiator: friend, contents: [content(setup: "actpass")], bundle: ["0"])
    }

    private func accept(_ id: String) -> JingleAction {
        JingleAction(.sessionAccept, sid: id, initiator: me, responder: friend, contents: [content(setup: "active")], bundle: ["0"])
    }

    private func assertPhase(_ manager: CallManager, _ id: String, _ phase: CallPhase, _ message: String = "",
                             line: UInt = #line) async {
        let actual = await manager.phase(of: id)
        XCTAssertEqual(actual, phase, message, line: line)
    }

    /// Outgoing, ringing: only our propose is out.
    private func proposed(_ manager: CallManager) async throws -> String {
        let id = try await manager.place(to: friend.bare)
        await assertPhase(manager, id, .proposed)
        return id
    }

    /// Outgoing: the friend's phone proceeded and our session-initiate went to it.
    private func offered(_ manager: CallManager) async throws -> String {
        let id = try await manager.place(to: friend.bare)
        await manager.receive(.proceed, id: id, from: friend)
        await assertPhase(manager, id, .offered)
        return id
    }

    /// Outgoing: the friend's session-accept taken.
    private func acceptedOutgoing(_ manager: CallManager) async throws -> String {
        let id = try await offered(manager)
        await manager.receive(accept(id), from: friend)
        await assertPhase(manager, id, .accepted)
        return id
    }

    /// Incoming: the friend's propose answered (accept and proceed sent), no session yet.
    private func answered(_ manager: CallManager) async throws -> String {
        await manager.receive(.propose(media: ["audio"]), id: "in1", from: friend)
        try await manager.answer("in1")
        await assertPhase(manager, "in1", .proposed)
        return "in1"
    }

    /// Incoming: the friend's session-initiate after our proceed, and our session-accept taken.
    private func acceptedIncoming(_ manager: CallManager) async throws -> String {
        let id = try await answered(manager)
        await manager.receive(initiate(id), from: friend)
        await assertPhase(manager, id, .accepted)
        return id
    }

    /// Incoming: a session-initiate that came without a propose, ringing here.
    private func offerReceived(_ manager: CallManager) async -> String {
        await manager.receive(initiate("bare1"), from: friend)
        await assertPhase(manager, "bare1", .offerReceived(initiate("bare1")))
        return "bare1"
    }

    /// Hangs up twice (the second must send nothing) and returns how often the call was
    /// reported ended.
    private func hangUpTwice(_ manager: CallManager, _ id: String, _ sent: FakeCallSignalling) async throws -> Int {
        let events = await manager.events()
        try await manager.hangUp(id)
        let once = (sent.names(), sent.jingle())
        try await manager.hangUp(id)
        XCTAssertEqual(sent.names(), once.0, "a second hang-up sends nothing")
        XCTAssertEqual(sent.jingle(), once.1, "a second hang-up sends nothing")
        await manager.settle()
        await manager.closeEvents()
        var ended = 0
        for await case .updated(let info) in events where info.id == id && info.state == .ended { ended += 1 }
        return ended
    }

    // MARK: Hanging up in each phase

    func testHangingUpBeforeTheSessionRetractsThePropose() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await proposed(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.names(), ["propose", "retract"])
        XCTAssertEqual(sent.jingle(), [], "no session to terminate")
        let outcome = await manager.call(id)?.outcome
        XCTAssertEqual(outcome, .cancelled)
    }

    func testHangingUpAfterOurOfferTerminatesTheSession() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await offered(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.jingle(), ["session-initiate", "session-terminate success"])
        XCTAssertEqual(sent.names(), ["propose", "finish"], "a finish, not a retract: the session exists")
        let outcome = await manager.call(id)?.outcome
        XCTAssertEqual(outcome, .cancelled)
    }

    func testHangingUpOurAnsweredCallTerminatesTheSession() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedOutgoing(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.jingle(), ["session-initiate", "session-terminate success"])
        XCTAssertEqual(sent.names(), ["propose", "finish"])
    }

    func testHangingUpAfterProceedBeforeTheSessionRejectsTheCall() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await answered(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.names(), ["ringing", "accept", "proceed", "reject"])
        XCTAssertEqual(sent.all.last?.to, friend.description, "to the device we proceeded to")
        XCTAssertEqual(sent.jingle(), [], "no session to terminate")
    }

    func testHangingUpAnOfferThatRingsDeclinesTheSession() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = await offerReceived(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.jingle(), ["session-info", "session-terminate decline"], "ringing, then the session turned down")
        XCTAssertEqual(sent.names(), ["finish"], "no XEP-0353 reject for a session that came without a propose")
        let outcome = await manager.call(id)?.outcome
        XCTAssertEqual(outcome, .declined)
    }

    func testHangingUpAnAnsweredSessionTerminatesIt() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedIncoming(manager)
        let ended = try await hangUpTwice(manager, id, sent)
        XCTAssertEqual(ended, 1)
        XCTAssertEqual(sent.jingle(), ["session-accept", "session-terminate success"])
        XCTAssertEqual(sent.names(), ["ringing", "accept", "proceed", "finish"])
    }

    // MARK: Stanzas from the wrong device

    func testASessionAcceptFromAnyoneButTheCalledDeviceIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await offered(manager)
        await manager.receive(accept(id), from: stranger)
        await manager.receive(accept(id), from: otherDevice)
        XCTAssertEqual(sent.replies(), ["item-not-found", "item-not-found"])
        await assertPhase(manager, id, .offered, "still waiting for the answer")
        let accepted = await manager.call(id)?.acceptedAt
        XCTAssertNil(accepted)
        await manager.receive(accept(id), from: friend)
        XCTAssertEqual(sent.replies().last, "result")
        await assertPhase(manager, id, .accepted)
        await manager.hangUpAll()
    }

    func testATransportInfoFromAnyoneButThePeersDeviceIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedIncoming(manager)
        let candidate = ICECandidate(foundation: "9", priority: 2_130_706_431, address: TransportAddress("127.0.0.1", 9)!, type: .host)
        let info = JingleAction(.transportInfo, sid: id, initiator: friend,
                                contents: [JingleContent(senders: nil, transport: ICEUDPTransport(ufrag: "peer", password: "peerpasswordpeerpasswd",
                                                                                                  candidates: [candidate]))])
        let pairs = await manager.pairCount(of: id)
        await manager.receive(info, from: stranger)
        await manager.receive(info, from: otherDevice)
        XCTAssertEqual(sent.replies(), ["result", "item-not-found", "item-not-found"], "the initiate's result, then two refusals")
        let unchanged = await manager.pairCount(of: id)
        XCTAssertEqual(unchanged, pairs, "no candidate taken")
        await manager.receive(info, from: friend)
        XCTAssertEqual(sent.replies().last, "result")
        let grown = await manager.pairCount(of: id)
        XCTAssertEqual(grown, pairs.map { $0 + 1 }, "the peer's candidate is paired")
        await manager.hangUpAll()
    }

    // MARK: Stanzas at the wrong time

    func testASecondSessionAcceptIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedOutgoing(manager)
        await manager.receive(accept(id), from: friend)
        XCTAssertEqual(sent.replies(), ["result", "unexpected-request"])
        await manager.hangUpAll()
    }

    func testASessionAcceptToTheCalleeIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await answered(manager)
        await manager.receive(accept(id), from: friend)
        XCTAssertEqual(sent.replies(), ["unexpected-request"], "before the session-initiate")
        await assertPhase(manager, id, .proposed)
        await manager.receive(initiate(id), from: friend)
        await manager.receive(accept(id), from: friend)
        XCTAssertEqual(sent.replies(), ["unexpected-request", "result", "unexpected-request"], "and after it")
        await manager.hangUpAll()
    }

    func testASecondSessionInitiateIsRefused() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedIncoming(manager)
        await manager.receive(initiate(id), from: friend)
        XCTAssertEqual(sent.replies(), ["result", "unexpected-request"])
        XCTAssertEqual(sent.jingle(), ["session-accept"], "answered once")
        await manager.hangUpAll()
    }

    // MARK: The peer withdrawing

    func testARetractAfterOurProceedIsAMissedCall() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await answered(manager)
        await manager.receive(.retract(nil), id: id, from: stranger)
        let connecting = await manager.call(id)?.state
        XCTAssertEqual(connecting, .connecting, "only the caller can retract")
        await manager.receive(.retract(nil), id: id, from: friend)
        let call = await manager.call(id)
        XCTAssertEqual(call?.state, .ended)
        XCTAssertEqual(call?.outcome, .missed)
        await manager.settle()
        XCTAssertEqual(sent.names(), ["ringing", "accept", "proceed"], "nothing goes back")
        XCTAssertEqual(sent.jingle(), [])
    }

    func testARetractOnceTheSessionIsAnsweredChangesNothing() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await acceptedIncoming(manager)
        await manager.receive(.retract(nil), id: id, from: friend)
        let state = await manager.call(id)?.state
        XCTAssertEqual(state, .connecting, "the session's own terminate ends it now")
        await manager.hangUpAll()
    }

    func testARejectAfterOurOfferChangesNothing() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await offered(manager)
        await manager.receive(.reject(JingleReason(.decline)), id: id, from: friend)
        let state = await manager.call(id)?.state
        XCTAssertEqual(state, .connecting, "the session's own terminate ends it now")
        await assertPhase(manager, id, .offered)
        await manager.hangUpAll()
    }

    // MARK: The phases themselves

    func testWhatEachPhaseAllows() {
        let offer = JingleAction(.sessionInitiate, sid: "x")
        let phases: [CallPhase] = [.proposed, .offered, .offerReceived(offer), .answering, .accepted]
        XCTAssertEqual(phases.map(\.hasSession), [false, true, true, true, true])
        XCTAssertEqual(phases.map(\.tricklesCandidates), [false, true, false, false, true])
        XCTAssertEqual(phases.map(\.hasRemoteDescription), [false, false, false, true, true])
        XCTAssertEqual(phases.map(\.pendingOffer), [nil, nil, offer, nil, nil])
    }
}
