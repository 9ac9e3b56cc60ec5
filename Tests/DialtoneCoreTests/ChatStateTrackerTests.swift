@testable import DialtoneCore
import DialtoneXML
import DialtoneXMPP
import Foundation
import Synchronization
import XCTest

/// Our chat states follow the input line as Conversations and Profanity send them, and the
/// peer's reach front ends only when live.
final class ChatStateTrackerTests: XCTestCase {
    private final class Sent: Sendable {
        private let stanzas = Mutex<[(to: String, state: String)]>([])
        func append(_ message: Message) {
            stanzas.withLock { $0.append((message.to?.description ?? "", message.chatState?.rawValue ?? "?")) }
        }
        var all: [String] { stanzas.withLock { $0.map { "\($0.to) \($0.state)" } } }
    }

    private let ada = JID(verified: "ada@example.org")
    private let alan = JID(verified: "alan@example.org")
    private let start = ContinuousClock.now

    private func tracker(enabled: Bool = true, _ sent: Sent) -> ChatStateTracker {
        ChatStateTracker(sendsChatStates: enabled, gateway: JID(verified: "cheogram.com"), broadcaster: EventBroadcaster()) {
            sent.append($0)
        }
    }

    func testTypingSaysComposingOnceThenActiveWhenTheLineIsEmptied() async {
        let sent = Sent()
        let tracker = tracker(sent)
        let first = await tracker.inputChanged(in: ada, typing: true, at: start)
        _ = await tracker.inputChanged(in: ada, typing: true, at: start + .seconds(1))
        let emptied = await tracker.inputChanged(in: ada, typing: false, at: start + .seconds(2))
        _ = await tracker.inputChanged(in: ada, typing: false, at: start + .seconds(3))
        XCTAssertTrue(first, "typing asks for a pause check")
        XCTAssertFalse(emptied)
        XCTAssertEqual(sent.all, ["ada@example.org composing", "ada@example.org active"])
    }

    func testLeavingAConversationWhileTypingSaysActiveThere() async {
        let sent = Sent()
        let tracker = tracker(sent)
        _ = await tracker.inputChanged(in: ada, typing: true, at: start)
        _ = await tracker.inputChanged(in: alan, typing: false, at: start + .seconds(1))
        _ = await tracker.inputChanged(in: nil, typing: false, at: start + .seconds(2))
        XCTAssertEqual(sent.all, ["ada@example.org composing", "ada@example.org active"])
    }

    func testFiveSecondsWithoutAKeySaysPaused() async {
        let sent = Sent()
        let tracker = tracker(sent)
        _ = await tracker.inputChanged(in: ada, typing: true, at: start)
        _ = await tracker.inputChanged(in: ada, typing: true, at: start + .seconds(3))
        let early = await tracker.pauseIfIdle(at: start + .seconds(5))
        let due = await tracker.pauseIfIdle(at: start + .seconds(8))
        let after = await tracker.pauseIfIdle(at: start + .seconds(20))
        XCTAssertTrue(early, "3 s after the last key: look again later")
        XCTAssertFalse(due)
        XCTAssertFalse(after)
        XCTAssertEqual(sent.all, ["ada@example.org composing", "ada@example.org paused"])
        // Typing again after the pause is composing again.
        _ = await tracker.inputChanged(in: ada, typing: true, at: start + .seconds(21))
        XCTAssertEqual(sent.all.last, "ada@example.org composing")
    }

    func testNumbersGroupTextsAndAUserWhoTurnedThemOffGetNone() async {
        let sent = Sent()
        let tracker = tracker(sent)
        _ = await tracker.inputChanged(in: JID(verified: "+15551234567@cheogram.com"), typing: true, at: start)
        _ = await tracker.inputChanged(in: JID(verified: "+15551234567,+15557654321@cheogram.com"), typing: true, at: start)
        XCTAssertEqual(sent.all, [])
        let quiet = Sent()
        let off = self.tracker(enabled: false, quiet)
        _ = await off.inputChanged(in: ada, typing: true, at: start)
        XCTAssertEqual(quiet.all, [])
    }

    func testOnlyLiveChatStatesReachFrontEnds() async throws {
        let broadcaster = EventBroadcaster()
        let tracker = ChatStateTracker(sendsChatStates: true, gateway: nil, broadcaster: broadcaster) { _ in }
        let events = broadcaster.subscribe()
        let composing = Message.chatState(.composing, to: JID(verified: "me@example.org"))
        var element = composing.element
        element[attribute: "from"] = "ada@example.org/phone"
        for source in [ReceivedMessage.Source.archive, .carbon, .live] {
            tracker.receive(ReceivedMessage(message: Message(element), direction: .incoming, source: source, archiveID: nil,
                                            timestamp: Date()))
        }
        broadcaster.finish()
        var seen: [String] = []
        for await event in events { if case .chatState(let peer, let state) = event { seen.append("\(peer) \(state)") } }
        XCTAssertEqual(seen, ["ada@example.org composing"])
    }
}
