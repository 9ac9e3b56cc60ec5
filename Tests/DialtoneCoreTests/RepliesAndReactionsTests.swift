@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// Replies (XEP-0461) and reactions (XEP-0444) through the incoming pipeline and the outbox.
final class RepliesAndReactionsTests: XCTestCase {
    private let me = JID(verified: "me@example.org")
    private let ada = JID(verified: "ada@example.org/phone")

    private func live(_ message: Message, from sender: String = "ada@example.org/phone") -> ReceivedMessage {
        .live(message, from: sender)
    }

    /// A reply is stored as what its sender wrote, without the quote in front of it, and shows
    /// the original's own first line (not the sender's version of it).
    func testAReplyShowsTheOriginalNotTheSendersQuote() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let original = Message.chat(to: me, body: "Dinner at 8?\nOr later")
        let reply = Message.reply(to: me, body: "Yes, 8 is fine", id: newStanzaID(), replyingTo: try XCTUnwrap(original.id),
                                  author: ada, quote: "Lunch at noon?")
        try await messaging.receive([live(original), live(reply)])
        let history = try store.history(peer: ada.bare.description)
        XCTAssertEqual(history.map(\.body), ["Dinner at 8?\nOr later", "Yes, 8 is fine"])
        XCTAssertEqual(history.last?.reply, MessageReply(id: try XCTUnwrap(original.id), author: ada.description, quote: "Dinner at 8?"))
    }

    /// A reply to something history lacks (older than the archive, say) keeps the sender's
    /// quote, but not the author they name for it.
    func testAReplyToAnUnknownMessageKeepsTheQuote() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let reply = Message.reply(to: me, body: "Agreed", id: newStanzaID(), replyingTo: "gone", author: me, quote: "Shall we?")
        try await messaging.receive([live(reply)])
        let stored = try XCTUnwrap(try store.history(peer: ada.bare.description).last)
        XCTAssertEqual(stored.body, "Agreed")
        XCTAssertEqual(stored.reply?.quote, "Shall we?")
        XCTAssertEqual(stored.reply?.id, "gone")
        XCTAssertNil(stored.reply?.author, "whom they say they quote is not shown as fact")
    }

    /// What we send carries the quote as "> " lines that the fallback marks exactly, so that
    /// a client with replies shows our text alone and one without sees the quote.
    func testOurReplysQuoteIsMarkedAsFallback() throws {
        let message = OutgoingMessage(id: "r1", to: ada.bare, content: .message(
            body: "Yes", attachments: [], reply: MessageReply(id: "m1", author: "ada@example.org", quote: "Dinner at 8?")))
        let stanza = message.stanza()
        XCTAssertEqual(stanza.body, "> Dinner at 8?\nYes")
        XCTAssertEqual(stanza.reply?.id, "m1")
        let range = try XCTUnwrap(stanza.replyFallback)
        XCTAssertEqual(range.start, 0)
        XCTAssertEqual(range.end, "> Dinner at 8?\n".unicodeScalars.count)
        XCTAssertNil(stanza.bodyFallback, "a reply's quote is not a group text's sender prefix")
        XCTAssertEqual(MessageInterpreter.splittingReplyQuote(stanza, body: stanza.body).body, "Yes")
    }

    /// Each reactions message replaces its sender's earlier ones; an empty one takes them all
    /// back. Someone else's reactions are theirs and counted apart.
    func testReactionsReplaceTheSendersEarlierOnes() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let original = Message.chat(to: me, body: "Good news")
        let id = try XCTUnwrap(original.id)
        try await messaging.receive([live(original), live(Message.reactions(["👍", "🎉"], to: id, peer: me))])
        try await messaging.receive([live(Message.reactions(["🎉"], to: id, peer: me))])
        var stored = try XCTUnwrap(try store.history(peer: ada.bare.description).last)
        XCTAssertEqual(stored.reactions, ["ada@example.org": ["🎉"]])
        XCTAssertEqual(try store.history(peer: ada.bare.description).count, 1, "reactions are no messages")

        let row = try XCTUnwrap(stored.id)
        stored = try await messaging.react(to: row, with: "🎉", adding: true)
        XCTAssertEqual(stored.reactionCounts.map(\.reaction), ["🎉"])
        XCTAssertEqual(stored.reactionCounts.map(\.count), [2])

        try await messaging.receive([live(Message.reactions([], to: id, peer: me))])
        stored = try XCTUnwrap(try store.history(peer: ada.bare.description).last)
        XCTAssertEqual(stored.reactions, ["me@example.org": ["🎉"]])
    }

    /// A stranger who knows a message's id cannot react to it: reactions apply only inside the
    /// sender's own conversation, and they are no message there either.
    func testAStrangerCannotReactToAnotherConversationsMessage() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let original = Message.chat(to: me, body: "Good news")
        try await messaging.receive([live(original)])
        try await messaging.receive([live(Message.reactions(["💩"], to: try XCTUnwrap(original.id), peer: me),
                                          from: "mallory@example.org/x")])
        XCTAssertNil(try store.history(peer: ada.bare.description).last?.reactions)
        XCTAssertTrue(try store.history(peer: "mallory@example.org").isEmpty)
    }

    /// Our reaction waits in the outbox as values until the server has it, and is built as
    /// all our reactions to that message each time it goes.
    func testOurReactionWaitsInTheOutbox() async throws {
        let store = try Store()
        let messaging = MessagingService.offline(account: me, store: store)
        let original = Message.chat(to: me, body: "Good news")
        try await messaging.receive([live(original)])
        let row = try XCTUnwrap(try store.history(peer: ada.bare.description).last?.id)
        _ = try await messaging.react(to: row, with: "👍", adding: true)
        _ = try await messaging.react(to: row, with: "❤️", adding: true)
        let pending = try messaging.outbox.pending()
        XCTAssertEqual(pending.count, 1, "the newest set replaces one still waiting")
        let last = try XCTUnwrap(pending.last).stanza()
        XCTAssertEqual(last.reactions?.id, original.id)
        XCTAssertEqual(last.reactions?.emojis, ["👍", "❤️"])
        do {
            _ = try await messaging.react(to: row, with: "two words", adding: true)
            XCTFail("a reaction is one emoji or word")
        } catch CoreError.notAReaction {}
    }
}
