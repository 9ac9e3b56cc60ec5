@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// The stages between the user and the wire, where encryption will plug in: each send passes
/// them again, and what a stage cannot handle is stored as received rather than lost.
final class MessagePipelineTests: XCTestCase {
    private let me = JID(verified: "me@example.org")
    private let ada = JID(verified: "ada@example.org/phone")

    /// Rewrites the body as a stand-in for encryption, counting its calls.
    private final class Scrambler: OutgoingStage {
        var calls = 0
        let tag: String
        init(tag: String) { self.tag = tag }
        nonisolated(nonsending) func prepare(_ stanza: inout Message, for message: OutgoingMessage) async throws {
            calls += 1
            stanza = withBody(stanza, "\(tag)(\(stanza.body ?? ""))")
        }
    }

    /// Stands in for decryption: "secret:" bodies are opened, "key-only" ones are for the
    /// stage alone, "broken" ones fail.
    private final class Opener: IncomingStage {
        nonisolated(nonsending) func process(_ received: ReceivedMessage) async throws -> ReceivedMessage? {
            guard let body = received.message.body else { return received }
            if body == "key-only" { return nil }
            if body == "broken" { throw CoreError.notCorrectable }
            guard body.hasPrefix("secret:") else { return received }
            var opened = received
            opened.message = withBody(received.message, String(body.dropFirst("secret:".count)))
            return opened
        }
    }

    func testEverySendPassesTheStagesInOrderAgain() async throws {
        let first = Scrambler(tag: "a")
        let second = Scrambler(tag: "b")
        let pipeline = MessagePipeline(outgoing: [first, second])
        let message = OutgoingMessage(id: "m1", to: ada, content: .message(body: "hello", attachments: []))
        let sent = try await pipeline.stanza(for: message)
        XCTAssertEqual(sent.body, "b(a(hello))")
        XCTAssertEqual(sent.id, "m1")
        // A resend builds from the values again: the stages see plain text, not their own output.
        let resent = try await pipeline.stanza(for: message)
        XCTAssertEqual(resent.body, "b(a(hello))")
        XCTAssertEqual([first.calls, second.calls], [2, 2])
    }

    func testAMessageThatWouldNotGoIsNotBuilt() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let stage = Scrambler(tag: "x")
        messaging.pipeline.outgoing = [stage]
        _ = try await messaging.send(to: ada.bare, body: "offline")
        await messaging.flushOutbox()
        XCTAssertEqual(stage.calls, 0, "offline, nothing is built (or encrypted) for nothing")
        XCTAssertEqual(try store.outbox().count, 1)
    }

    func testIncomingStagesRunBeforeStoringAndLoseNothing() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        messaging.pipeline.incoming = [Opener()]
        func live(_ body: String) -> ReceivedMessage {
            var element = Message.chat(to: me, body: body).element
            element[attribute: "from"] = ada.description
            return ReceivedMessage(message: Message(element), direction: .incoming, source: .live, archiveID: nil, timestamp: Date())
        }
        try await messaging.receive([live("secret:meet at 8"), live("key-only"), live("broken"), live("plain")])
        XCTAssertEqual(try store.history(peer: ada.bare.description).map(\.body), ["meet at 8", "broken", "plain"])
    }
}

/// `message` with its body's text replaced.
private func withBody(_ message: Message, _ body: String) -> Message {
    var element = message.element
    element.children = element.children.map { node in
        guard case .element(let child) = node, child.name == "body", child.namespace == Namespace.client else { return node }
        return .element(.textElement("body", namespace: Namespace.client, body))
    }
    return Message(element)
}
