import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Replies (XEP-0461), reactions (XEP-0444), corrections (XEP-0308) and retractions (XEP-0424)
/// both ways between `dialtone` and a contact on slixmpp, whose own plugins for all four we did
/// not write (Peers/reply_peer.py); and a stranger's reaction, correction and retraction of a
/// message that is not theirs, which change nothing.
final class ReplyAndReactionTests: ContactPeerTestCase {
    override class var peerScript: String { "reply_peer.py" }
    override class var contactName: String { "friend" }

    func testCorrectionsAndRetractionsBothWays() async throws {
        let listener = try await listenOnline(config: config)
        let friend = try peer(them, ["--answer", "--edit", "--timeout", "60"])
        try await waitForPeer(friend)
        _ = try await run(["send", them.jid.bare.description, "Dinner at 8?"])

        // Theirs to us: the correction replaces the text in place, the retraction takes it away.
        try await eventually("their correction arrives") {
            self.lines(listener, type: "correction").contains { $0["body"] as? String == "See you at 8" }
        }
        try await eventually("their retraction arrives") { !self.lines(listener, type: "retraction").isEmpty }
        let corrected = try XCTUnwrap(events("sent", in: friend).first { $0["body"] as? String == "See you at 7" }?["id"] as? String)

        // A stranger who learnt the id cannot correct or take back their message.
        let stranger = try peer(try environment.newAccount("stranger"), ["--forge", us.jid.bare.description, corrected, "--timeout", "20"])
        try await eventually("the stranger sent it") { self.event("forged", in: stranger) != nil || !stranger.isRunning }
        try await Task.sleep(for: .seconds(1.5))
        XCTAssertEqual(lines(listener, type: "correction").count, 1, listener.output)
        XCTAssertEqual(lines(listener, type: "retraction").count, 1, listener.output)

        // Ours to them, through their plugins.
        let ourID = try XCTUnwrap(lines(listener, type: "message").first { $0["body"] as? String == "Dinner at 8?" }?["id"] as? String)
        _ = try await run(["correct", them.jid.bare.description, "Dinner at 9?"])
        try await eventually("they get our correction") {
            self.events("message", in: friend).contains { $0["replace_id"] as? String == ourID && $0["body"] as? String == "Dinner at 9?" }
        }
        _ = try await run(["retract", them.jid.bare.description])
        try await eventually("they get our retraction") {
            self.events("message", in: friend).contains { $0["retract_id"] as? String == ourID }
        }
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))

        let history = CallHarness.jsonLines(try await run(["history", "--json", them.jid.bare.description]).output)
        let theirs = history.filter { $0["direction"] as? String == "incoming" }
        XCTAssertEqual(theirs.count, 3, "the reply, the corrected message and the retracted one: \(history)")
        XCTAssertEqual(theirs.first { $0["id"] as? String == corrected }?["body"] as? String, "See you at 8", "not FORGED")
        XCTAssertNotNil(theirs.first { $0["body"] is NSNull }?["retracted"] as? String)
        let ours = try XCTUnwrap(history.first { $0["id"] as? String == ourID })
        XCTAssertTrue(ours["body"] is NSNull, "ours taken back: \(ours)")
    }

    func testRepliesAndReactionsBothWays() async throws {
        let listener = try await listenOnline(config: config)
        let friend = try peer(them, ["--answer", "--timeout", "60"])
        try await waitForPeer(friend)
        _ = try await run(["send", them.jid.bare.description, "Dinner at 8?"])
        try await eventually("our listener has our message") {
            self.lines(listener, type: "message").contains { $0["body"] as? String == "Dinner at 8?" }
        }
        let sent = try XCTUnwrap(lines(listener, type: "message").first { $0["body"] as? String == "Dinner at 8?" })
        let ourID = try XCTUnwrap(sent["id"] as? String)

        // Theirs to us: the reply shows our own line above their text, without their quote.
        try await eventually("their reply arrives") {
            self.lines(listener, type: "message").contains { $0["reply_to"] as? String == ourID }
        }
        let reply = try XCTUnwrap(lines(listener, type: "message").first { $0["reply_to"] as? String == ourID })
        XCTAssertEqual(reply["body"] as? String, "re: Dinner at 8?", "the fallback quote is not part of the text")
        XCTAssertEqual(reply["reply_quote"] as? String, "Dinner at 8?")
        try await eventually("their reaction arrives") {
            self.lines(listener, type: "reaction").contains { $0["id"] as? String == ourID }
        }
        let reaction = try XCTUnwrap(lines(listener, type: "reaction").first)
        XCTAssertEqual(reaction["from"] as? String, them.jid.bare.description)
        XCTAssertEqual(reaction["reactions"] as? [String], ["👍"])

        // Ours to them, answering and reacting to their reply by its id.
        let theirID = try XCTUnwrap(reply["id"] as? String)
        _ = try await run(["send", "--reply-to", theirID, them.jid.bare.description, "Yes!"])
        try await eventually("they get our reply to theirs") {
            self.events("message", in: friend).contains { $0["reply_id"] as? String == theirID }
        }
        let ours = try XCTUnwrap(events("message", in: friend).first { $0["reply_id"] as? String == theirID })
        XCTAssertEqual(ours["text"] as? String, "Yes!", "our quote is marked as fallback exactly")
        XCTAssertEqual((ours["body"] as? String)?.hasPrefix("> re: Dinner at 8?\n"), true, "\(ours)")
        _ = try await run(["react", them.jid.bare.description, theirID, "🎉"])
        try await eventually("they get our reaction") {
            self.events("reactions", in: friend).contains { $0["id"] as? String == theirID && $0["emojis"] as? [String] == ["🎉"] }
        }

        // A stranger who learnt our message's id cannot react to it.
        let stranger = try peer(try environment.newAccount("stranger"), ["--react", us.jid.bare.description, ourID, "💩", "--timeout", "20"])
        try await eventually("the stranger sent it") { self.event("reacted", in: stranger) != nil || !stranger.isRunning }
        try await Task.sleep(for: .seconds(1.5))
        XCTAssertFalse(lines(listener, type: "reaction").contains { ($0["reactions"] as? [String]) == ["💩"] }, listener.output)
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))

        let history = CallHarness.jsonLines(try await run(["history", "--json", them.jid.bare.description]).output)
        let question = try XCTUnwrap(history.first { $0["id"] as? String == ourID })
        XCTAssertEqual(question["reactions"] as? [String: [String]], [them.jid.bare.description: ["👍"]], "only theirs, kept")
        let answered = try XCTUnwrap(history.first { $0["id"] as? String == theirID })
        XCTAssertEqual(answered["reactions"] as? [String: [String]], [us.jid.bare.description: ["🎉"]])
        XCTAssertEqual(history.first { $0["body"] as? String == "Yes!" }?["reply_to"] as? String, theirID)
    }
}
