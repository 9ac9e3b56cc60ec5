import DialtoneICE
@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import Foundation
import Synchronization
import XCTest

/// Ringing (XEP-0353) driven through a fake `CallSignalling`: who may ring us, what we answer,
/// missed calls, hanging up before a session exists, and both sides calling at once.
final class CallManagerRingingTests: XCTestCase {
    private let me = JID(verified: "me@example.com/desk")
    private let friend = JID(verified: "friend@example.org/phone")

    /// The XEP-0353 messages the manager sent, in order: (to, action, id).
    private final class Sent: Sendable {
        private let messages = Mutex<[(to: String, action: MessageInitiation.Action, id: String)]>([])
        func record(_ stanza: XMLElement) {
            guard let initiation = MessageInitiation(message: stanza) else { return }
            messages.withLock { $0.append((stanza[attribute: "to"] ?? "", initiation.action, initiation.id)) }
        }
        var all: [(to: String, action: MessageInitiation.Action, id: String)] { messages.withLock { $0 } }
        func names() -> [String] {
            all.map { entry in
                switch entry.action {
                case .propose: "propose"
                case .ringing: "ringing"
                case .proceed: "proceed"
                case .accept: "accept"
                case .reject(let reason): "reject" + (reason?.text.map { " (\($0))" } ?? "")
                case .retract(let reason): "retract" + (reason?.text.map { " (\($0))" } ?? "")
                case .finish: "finish"
                }
            }
        }
    }

    private func manager(_ sent: Sent) -> CallManager {
        let friend = self.friend
        let me = self.me
        let signalling = CallSignalling(
            ownAddress: { me }, send: { sent.record($0) }, request: { $0.iqReply() }, sendRequest: { _ in },
            features: { _ in [] }, mayCall: { $0 == friend.bare })
        var configuration = CallManager.Configuration()
        configuration.media.ice.loopbackOnly = true
        configuration.media.ice.useIPv6 = false
        configuration.useExternalServices = false
        return CallManager(signalling: signalling, configuration: configuration)
    }

    private func live(_ manager: CallManager, _ action: MessageInitiation.Action, id: String, from: JID) async {
        await manager.handle(MessageInitiation(id: id, action: action), from: from, to: me.bare,
                             outgoing: false, origin: .live, at: Date())
    }

    func testAStrangersProposeGetsNoCallAndNoAnswer() async {
        let sent = Sent()
        let manager = manager(sent)
        await live(manager, .propose(media: ["audio"]), id: "s1", from: JID(verified: "stranger@evil.example/x"))
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.count, 0)
        XCTAssertEqual(sent.names(), [], "not even ringing: that would tell a stranger we are online")
    }

    func testAContactsProposeRingsHereAndTellsTheCaller() async {
        let sent = Sent()
        let manager = manager(sent)
        await live(manager, .propose(media: ["audio"]), id: "c1", from: friend)
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.map(\.state), [.incoming])
        XCTAssertEqual(sent.names(), ["ringing"])
        XCTAssertEqual(sent.all.first?.to, friend.description)
    }

    func testAVideoCallIsNotTakenForAnAudioCall() async {
        let sent = Sent()
        let manager = manager(sent)
        await live(manager, .propose(media: ["audio", "video"]), id: "v1", from: friend)
        let calls = await manager.activeCalls
        XCTAssertEqual(calls.count, 0)
    }

    func testARetractBeforeAnswerIsAMissedCallAndOnlyTheCallerCanRetract() async {
        let sent = Sent()
        let manager = manager(sent)
        await live(manager, .propose(media: ["audio"]), id: "c1", from: friend)
        await live(manager, .retract(nil), id: "c1", from: JID(verified: "mallory@evil.example/x"))
        let stillRinging = await manager.call("c1")?.state
        XCTAssertEqual(stillRinging, .incoming, "a retract from someone else changes nothing")
        await live(manager, .retract(nil), id: "c1", from: friend)
        let ended = await manager.call("c1")
        XCTAssertEqual(ended?.state, .ended)
        XCTAssertEqual(ended?.outcome, .missed)
    }

    func testHangingUpARingingCallDeclinesItOnAllTheCallersDevices() async throws {
        let sent = Sent()
        let manager = manager(sent)
        await live(manager, .propose(media: ["audio"]), id: "c1", from: friend)
        try await manager.hangUp("c1")
        let call = await manager.call("c1")
        XCTAssertEqual(call?.outcome, .declined)
        XCTAssertEqual(sent.names(), ["ringing", "reject"])
        XCTAssertEqual(sent.all.last?.to, friend.bare.description, "to the bare address: every device stops")
    }

    func testHangingUpBeforeAnswerRetractsThePropose() async throws {
        let sent = Sent()
        let manager = manager(sent)
        let id = try await manager.place(to: friend.bare)
        await live(manager, .ringing, id: id, from: friend)
        let ringing = await manager.call(id)?.state
        XCTAssertEqual(ringing, .ringing)
        try await manager.hangUp(id)
        let call = await manager.call(id)
        XCTAssertEqual(call?.outcome, .cancelled)
        XCTAssertEqual(sent.names(), ["propose", "retract"])
        await manager.hangUpAll()
    }

    func testARejectEndsOurCallAsDeclinedOrBusy() async throws {
        let sent = Sent()
        let manager = manager(sent)
        let declined = try await manager.place(to: friend.bare)
        await live(manager, .reject(JingleReason(.decline)), id: declined, from: friend)
        let busy = try await manager.place(to: friend.bare)
        await live(manager, .reject(JingleReason(.busy)), id: busy, from: friend)
        let outcomes = [await manager.call(declined)?.outcome, await manager.call(busy)?.outcome]
        XCTAssertEqual(outcomes, [.declined, .busy])
        await manager.hangUpAll()
    }

    /// Both sides called each other at once: the propose with the higher id is turned down…
    func testTieBreakTheHigherIdIsRejected() async throws {
        let sent = Sent()
        let manager = manager(sent)
        let ours = try await manager.place(to: friend.bare)
        // Our ids are 20 characters of a–z and 0–9: 21 z's sort after any of them.
        let theirs = String(repeating: "z", count: 21)
        await live(manager, .propose(media: ["audio"]), id: theirs, from: friend)
        XCTAssertEqual(sent.names(), ["propose", "reject (tie-break)"])
        XCTAssertEqual(sent.all.last?.id, theirs)
        let stillOurs = await manager.call(ours)?.state
        XCTAssertEqual(stillOurs, .proposing)
        await manager.hangUpAll()
    }

    /// …and the lower one wins: ours is withdrawn and theirs taken.
    func testTieBreakTheLowerIdWins() async throws {
        let sent = Sent()
        let manager = manager(sent)
        let ours = try await manager.place(to: friend.bare)
        await live(manager, .propose(media: ["audio"]), id: "0", from: friend)
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
