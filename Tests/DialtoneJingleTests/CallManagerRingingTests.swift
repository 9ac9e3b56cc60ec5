import DialtoneICE
@testable import DialtoneJingle
import DialtoneXMPP
import Foundation
import XCTest

/// Ringing (XEP-0353) driven through a fake `CallSignalling`: who may ring us, what we answer,
/// missed calls, hanging up before a session exists, and both sides calling at once.
final class CallManagerRingingTests: XCTestCase {
    private let friend = FakeCallSignalling.friend

    func testAStrangersProposeGetsNoCallAndNoAnswer() async {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "s1", from: JID(verified: "stranger@evil.example/x"))
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.count, 0)
        XCTAssertEqual(sent.names(), [], "not even ringing: that would tell a stranger we are online")
    }

    func testAContactsProposeRingsHereAndTellsTheCaller() async {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "c1", from: friend)
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.map(\.state), [.incoming])
        XCTAssertEqual(sent.names(), ["ringing"])
        XCTAssertEqual(sent.all.first?.to, friend.description)
    }

    func testAVideoCallIsNotTakenForAnAudioCall() async {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio", "video"]), id: "v1", from: friend)
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.count, 0)
    }

    func testARetractBeforeAnswerIsAMissedCallAndOnlyTheCallerCanRetract() async {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "c1", from: friend)
        await manager.receive(.retract(nil), id: "c1", from: JID(verified: "mallory@evil.example/x"))
        let stillRinging = await manager.call("c1")?.state
        XCTAssertEqual(stillRinging, .incoming, "a retract from someone else changes nothing")
        await manager.receive(.retract(nil), id: "c1", from: friend)
        let ended = await manager.call("c1")
        XCTAssertEqual(ended?.state, .ended)
        XCTAssertEqual(ended?.outcome, .missed)
    }

    func testHangingUpARingingCallDeclinesItOnAllTheCallersDevices() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        await manager.receive(.propose(media: ["audio"]), id: "c1", from: friend)
        try await manager.hangUp("c1")
        let call = await manager.call("c1")
        XCTAssertEqual(call?.outcome, .declined)
        XCTAssertEqual(sent.names(), ["ringing", "reject"])
        XCTAssertEqual(sent.all.last?.to, friend.bare.description, "to the bare address: every device stops")
    }

    func testHangingUpBeforeAnswerRetractsThePropose() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let id = try await manager.place(to: friend.bare)
        await manager.receive(.ringing, id: id, from: friend)
        let ringing = await manager.call(id)?.state
        XCTAssertEqual(ringing, .ringing)
        try await manager.hangUp(id)
        let call = await manager.call(id)
        XCTAssertEqual(call?.outcome, .cancelled)
        XCTAssertEqual(sent.names(), ["propose", "retract"])
        await manager.hangUpAll()
    }

    func testARejectEndsOurCallAsDeclinedOrBusy() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let declined = try await manager.place(to: friend.bare)
        await manager.receive(.reject(JingleReason(.decline)), id: declined, from: friend)
        let busy = try await manager.place(to: friend.bare)
        await manager.receive(.reject(JingleReason(.busy)), id: busy, from: friend)
        let outcomes = [await manager.call(declined)?.outcome, await manager.call(busy)?.outcome]
        XCTAssertEqual(outcomes, [.declined, .busy])
        await manager.hangUpAll()
    }

    /// Both sides called each other at once: the propose with the higher id is turned down…
    func testTieBreakTheHigherIdIsRejected() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let ours = try await manager.place(to: friend.bare)
        // Our ids are 20 characters of a–z and 0–9: 21 z's sort after any of them.
        let theirs = String(repeating: "z", count: 21)
        await manager.receive(.propose(media: ["audio"]), id: theirs, from: friend)
        XCTAssertEqual(sent.names(), ["propose", "reject (tie-break)"])
        XCTAssertEqual(sent.all.last?.id, theirs)
        let stillOurs = await manager.call(ours)?.state
        XCTAssertEqual(stillOurs, .proposing)
        await manager.hangUpAll()
    }

    /// …and the lower one wins: ours is withdrawn and theirs taken.
    func testTieBreakTheLowerIdWins() async throws {
        let sent = FakeCallSignalling()
        let manager = sent.manager()
        let ours = try await manager.place(to: friend.bare)
        await manager.receive(.propose(media: ["audio"]), id: "0", from: friend)
        let withdrawn = await manager.call(ours)
        XCTAssertEqual(withdrawn?.outcome, .cancelled)
        XCTAssertEqual(sent.names().prefix(2), ["propose", "retract (tie-break)"])
        XCTAssertEqual(sent.all.dropFirst().first?.id, ours)
        let theirs = await manager.call("0")
        XCTAssertEqual(theirs?.direction, .incoming)
        XCTAssertNotEqual(theirs?.state, .incoming, "taken at once, not left ringing")
        await manager.hangUpAll()
    }
}
