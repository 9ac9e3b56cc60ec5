@testable import DialtoneCore
import DialtoneTUI
import XCTest

final class MessageViewModelTests: XCTestCase {
    override func setUp() { TerminalWidth.prepareLocale() }

    private var format: MessageFormat {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return MessageFormat(calendar: calendar, locale: Locale(identifier: "en_US_POSIX"), ownName: "me")
    }

    private func message(_ id: Int64, _ direction: StoredMessage.Direction, _ body: String?, at seconds: TimeInterval,
                         status: StoredMessage.Status = .received, subject: String? = nil,
                         attachments: [Attachment] = [], sender: String = "alice@example.org/phone") -> StoredMessage {
        StoredMessage(id: id, direction: direction, sender: direction == .outgoing ? "me@example.org" : sender, body: body,
                      subject: subject, stanzaID: "s\(id)", dedupeKey: nil, timestamp: Date(timeIntervalSince1970: seconds),
                      status: status, attachments: attachments)
    }

    func testLayoutWithDaySeparatorsNamesSubjectsAttachmentsAndMarks() {
        var view = MessageViewModel(peer: "alice@example.org", width: 40, names: FixedNames(["alice@example.org": "Alice"]), format: format)
        let day = 86_400.0 * 20_000  // 2024-10-04, a Friday
        view.show([
            message(1, .incoming, "Hi", at: day + 9 * 3600 + 5 * 60, subject: "Lunch"),
            message(2, .outgoing, "Sure", at: day + 9 * 3600 + 6 * 60, status: .delivered),
            message(3, .incoming, nil, at: day + 86_400 + 60,
                    attachments: [Attachment(url: "https://x/y/cat.jpg", mediaType: "image/jpeg", name: "cat.jpg")]),
            message(4, .outgoing, "ok", at: day + 86_400 + 120, status: .pending),
        ])
        XCTAssertEqual(view.lines.map(\.text), [
            "─────── Friday, October 4, 2024 ────────",
            "09:05 Alice: [Lunch] Hi",
            "09:06 me: Sure ✓✓",
            "────── Saturday, October 5, 2024 ───────",
            "00:01 Alice: 📎 cat.jpg (image/jpeg)",
            "00:02 me: ok …",
        ])
        XCTAssertEqual(view.lines[1].spans.first { $0.text.contains("Lunch") }?.role, .subject)

        view.setStatus(.read, forMessage: 2)
        XCTAssertEqual(view.lines[2].spans.last, TextRun(" ✓✓", .statusRead), "read looks different from delivered")
        var corrected = view.messages[1]
        corrected.body = "Sure thing"
        corrected.editedAt = Date()
        view.upsert(corrected)
        XCTAssertEqual(view.lines[2].text, "09:06 me: Sure thing (edited) ✓✓")
    }

    /// A reply shows the line it answers beside its author's name, and its text below; reactions
    /// show under the message as counts, each once.
    func testARepliesAnsweredLineAndReactionCounts() {
        var view = MessageViewModel(peer: "alice@example.org", width: 40, names: FixedNames(["alice@example.org": "Alice"]), format: format)
        let day = 86_400.0 * 20_000
        var question = message(1, .outgoing, "Dinner at 8?", at: day + 9 * 3600, status: .sent)
        question.reactions = ["alice@example.org": ["👍", "🎉"], "me@example.org": ["👍"]]
        var reply = message(2, .incoming, "Yes, 8 is fine", at: day + 9 * 3600 + 60)
        reply.reply = MessageReply(id: "s1", author: "me@example.org", quote: "Dinner at 8?")
        var theirs = message(3, .outgoing, "Great", at: day + 9 * 3600 + 120, status: .sent)
        theirs.reply = MessageReply(id: "s2", author: "alice@example.org/phone", quote: "Yes, 8 is fine and a very long line it is")
        view.show([question, reply, theirs])
        XCTAssertEqual(Array(view.lines.map(\.text).dropFirst()), [
            "09:00 me: Dinner at 8? ✓",
            "      👍 2  🎉",
            "09:01 Alice: ↱ me: Dinner at 8?",
            "      Yes, 8 is fine",
            "09:02 me: ↱ Alice: Yes, 8 is fine and a…",
            "      Great ✓",
        ])
        XCTAssertEqual(view.lines[3].spans.last?.role, .quote)
    }

    /// A message taken back by its sender, and one a room's moderator took down, say so in
    /// their place; the moderator's reason is sanitised like any text.
    func testTakenBackAndTakenDownMessages() {
        var view = MessageViewModel(peer: "alice@example.org", width: 60, names: FixedNames(["alice@example.org": "Alice"]), format: format)
        let day = 86_400.0 * 20_000
        var back = message(1, .incoming, nil, at: day + 9 * 3600)
        back.retractedAt = Date(timeIntervalSince1970: day + 9 * 3600 + 30)
        var down = message(2, .incoming, nil, at: day + 9 * 3600 + 60)
        down.retractedAt = Date(timeIntervalSince1970: day + 9 * 3600 + 90)
        down.moderation = MessageModeration(moderator: "ada", reason: "spam\u{1B}[2J")
        var anonymous = message(3, .incoming, nil, at: day + 9 * 3600 + 120)
        anonymous.retractedAt = Date(timeIntervalSince1970: day + 9 * 3600 + 150)
        anonymous.moderation = MessageModeration(moderator: nil, reason: nil)
        view.show([back, down, anonymous])
        XCTAssertEqual(Array(view.lines.map(\.text).dropFirst()), [
            "09:00 Alice: (taken back)",
            "09:01 Alice: (taken down by ada: spam\u{FFFD}[2J)",
            "09:02 Alice: (taken down)",
        ])
    }

    /// While /reply or /react is typed, each message shows its N (1 the newest) in its time's
    /// place, and a message arriving meanwhile renumbers the rest; afterwards the times return.
    func testMessagesAreNumberedWhileOneIsBeingPicked() {
        var view = MessageViewModel(peer: "alice@example.org", width: 40, names: FixedNames(["alice@example.org": "Alice"]), format: format)
        let day = 86_400.0 * 20_000
        view.show([message(1, .incoming, "Lunch?", at: day + 9 * 3600), message(2, .outgoing, "Sure", at: day + 9 * 3600 + 60, status: .sent)])
        view.numbered = true
        XCTAssertEqual(Array(view.lines.map(\.text).dropFirst()), ["   #2 Alice: Lunch?", "   #1 me: Sure ✓"])
        view.upsert(message(3, .incoming, "At noon", at: day + 9 * 3600 + 120))
        XCTAssertEqual(Array(view.lines.map(\.text).dropFirst()), ["   #3 Alice: Lunch?", "   #2 me: Sure ✓", "   #1 Alice: At noon"])
        view.numbered = false
        XCTAssertEqual(view.lines.last?.text, "09:02 Alice: At noon")
    }

    /// Messages as they arrive (most at the end, some late, a status change, a call, a new
    /// day) give the same rows as laying the whole conversation out at once.
    func testArrivingMessagesLayOutAsTheWholeConversationDoes() {
        let names = FixedNames(["alice@example.org": "Alice"])
        let day = 86_400.0 * 20_000
        var arriving = MessageViewModel(peer: "alice@example.org", width: 30, names: names, format: format)
        var all: [StoredMessage] = []
        for id in Int64(1)...40 {
            // Every fifth message is late (older than the newest shown); day changes at 30.
            let seconds = day + Double(id) * 600 + (id % 5 == 0 ? -1_500 : 0) + (id >= 30 ? 86_400 : 0)
            let next = message(id, id % 3 == 0 ? .outgoing : .incoming, "message number \(id) with some words to wrap",
                               at: seconds, status: id % 3 == 0 ? .pending : .received)
            all.append(next)
            arriving.upsert(next)
            if id == 12 {
                let call = CallRecord(id: "c1", direction: "incoming", outcome: "missed", reason: nil,
                                      startedAt: Date(timeIntervalSince1970: day + 7_000), connectedAt: nil,
                                      endedAt: Date(timeIntervalSince1970: day + 7_010))
                arriving.upsert(call: call)
                var whole = MessageViewModel(peer: "alice@example.org", width: 30, names: names, format: format)
                whole.show(calls: [call])
                whole.show(all)
                XCTAssertEqual(arriving.lines.map(\.text), whole.lines.map(\.text), "with a call among them")
            }
        }
        arriving.setStatus(.delivered, forMessage: 9)
        all[8].status = .delivered
        var whole = MessageViewModel(peer: "alice@example.org", width: 30, names: names, format: format)
        whole.show(calls: arriving.calls)
        whole.show(all)
        XCTAssertEqual(arriving.lines.map(\.text), whole.lines.map(\.text))
        XCTAssertTrue(arriving.lines.contains { $0.text.contains("message number 9") || $0.text.contains("✓✓") })
        XCTAssertEqual(arriving.lines.filter { $0.text.contains("2024") }.count, 2, "one separator a day")
    }

    /// Numbers and addresses of known people inside a message carry their names on screen,
    /// as they do in `listen`; an attachment's own link is left alone.
    func testNumbersInTheTextAreNamedFromTheAddressBook() throws {
        let names = DisplayNames(contacts: [], addressBook: [AddressBookEntry(uid: "1", name: "Grace", phones: ["+15550100200"], jids: [])],
                                 gateway: try JID("cheogram.com"), country: "US")
        var view = MessageViewModel(peer: "+15550100199@cheogram.com", width: 80, names: names, format: format)
        view.show([message(1, .incoming, "Call (555) 010-0200 or xmpp:+15550100200@cheogram.com", at: 1_000_000,
                           sender: "+15550100199@cheogram.com")])
        let text = view.lines.map(\.text).joined(separator: "\n")
        XCTAssertTrue(text.contains("(555) 010-0200 (Grace)"), text)
        XCTAssertTrue(text.contains("xmpp:+15550100200@cheogram.com (Grace)"), text)
    }

    func testWrapsByColumnsWithAHangingIndentAndRelaysOnResize() {
        var view = MessageViewModel(peer: "alice@example.org", width: 24, names: FixedNames(["alice@example.org": "Alice"]), format: format)
        view.show([message(1, .incoming, "the quick brown fox 李小龍李小龍 jumps\nsecond", at: 0)])
        let wrapped = view.lines.dropFirst().map(\.text)
        XCTAssertEqual(wrapped, ["00:00 Alice: the quick", "      brown fox", "      李小龍李小龍 jumps", "      second"])
        for line in view.lines { XCTAssertLessThanOrEqual(line.columns, 24) }
        view.resize(width: 60)
        XCTAssertEqual(view.lines.dropFirst().map(\.text), ["00:00 Alice: the quick brown fox 李小龍李小龍 jumps", "      second"])
    }

    func testScrollingAndSanitizing() {
        var view = MessageViewModel(peer: "alice@example.org", width: 40, names: FixedNames(), format: format)
        view.show((1...30).map { message(Int64($0), .incoming, "line \($0)\u{1B}[2J", at: Double($0)) })
        XCTAssertEqual(view.visibleLines(height: 5).last?.text, "00:00 alice@example.org: line 30\u{FFFD}[2J")
        view.scroll(by: 10, height: 5)
        XCTAssertEqual(view.visibleLines(height: 5).last?.text, "00:00 alice@example.org: line 20\u{FFFD}[2J")
        view.upsert(message(99, .incoming, "new", at: 100))
        XCTAssertEqual(view.visibleLines(height: 5).last?.text, "00:00 alice@example.org: line 20\u{FFFD}[2J", "reading back, the page stays put")
        view.scroll(by: -1000, height: 5)
        XCTAssertEqual(view.visibleLines(height: 5).last?.text, "00:01 alice@example.org: new")
    }

    /// A room's older history comes after its newest page, a message at a time: laid out
    /// once when next drawn, not once each; someone reading back keeps their page.
    func testOlderMessagesDeferredAreLaidOutOnceInTimeOrder() {
        var view = MessageViewModel(peer: "alice@example.org", width: 60, names: FixedNames([:]), format: format)
        view.show((11...20).map { message(Int64($0), .incoming, "line \($0)", at: TimeInterval($0 * 60)) })
        XCTAssertFalse(view.needsLayout)
        view.upsert(message(10, .incoming, "line 10", at: 600), deferringLayout: true)
        XCTAssertTrue(view.needsLayout, "an older message leaves the layout to the next draw")
        view.upsert(message(21, .incoming, "line 21", at: 21 * 60), deferringLayout: true)
        for n in (1...9).reversed() { view.upsert(message(Int64(n), .incoming, "line \(n)", at: TimeInterval(n * 60)), deferringLayout: true) }
        view.layOutIfNeeded()
        XCTAssertFalse(view.needsLayout)
        XCTAssertEqual(view.lines.dropFirst().map { $0.text.components(separatedBy: ": ").last ?? "" }, (1...21).map { "line \($0)" })

        view.scroll(by: 3, height: 5)
        let page = view.visibleLines(height: 5).map(\.text)
        view.upsert(message(0, .incoming, "line 0", at: 0), deferringLayout: true)
        view.layOutIfNeeded()
        XCTAssertEqual(view.visibleLines(height: 5).map(\.text), page, "an older message does not move the page being read")
        view.upsert(message(22, .incoming, "line 22", at: 22 * 60))
        XCTAssertEqual(view.visibleLines(height: 5).map(\.text), page, "nor does a newer one")
    }
}
