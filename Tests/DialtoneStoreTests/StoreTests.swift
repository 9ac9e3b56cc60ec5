@testable import DialtoneStore
import XCTest

final class StoreTests: XCTestCase {
    private func incoming(_ body: String, key: String?, archive: String? = nil, sender: String = "bob@example.com/phone",
                          at time: Date = Date()) -> StoredMessage {
        StoredMessage(direction: .incoming, sender: sender, body: body, stanzaID: key, dedupeKey: key, archiveID: archive,
                      timestamp: time, status: .received)
    }

    func testDuplicatesByArchiveIDAndByOriginIDAreStoredOnce() throws {
        let store = try Store()
        let first = try store.record([("bob@example.com", incoming("hi", key: "o1", archive: "a1"))])
        XCTAssertEqual(first.count, 1)
        guard case .inserted(let id) = first[0] else { return XCTFail("not inserted") }
        // The same message again from the archive, and again live without the archive id.
        XCTAssertEqual(try store.record([("bob@example.com", incoming("hi", key: "o1", archive: "a1"))]), [.duplicate(id)])
        XCTAssertEqual(try store.record([("bob@example.com", incoming("hi", key: "o1"))]), [.duplicate(id)])
        XCTAssertEqual(try store.messageCount(), 1)
        XCTAssertEqual(try store.conversations().first?.unread, 1, "a duplicate is not a new unread message")
    }

    func testTheSameOriginIDFromAnotherSenderIsAnotherMessage() throws {
        let store = try Store()
        try store.record([("bob@example.com", incoming("a", key: "same"))])
        try store.record([("carol@example.com", incoming("b", key: "same", sender: "carol@example.com/x"))])
        XCTAssertEqual(try store.messageCount(), 2)
    }

    func testLateDuplicateFillsInTheArchiveID() throws {
        let store = try Store()
        try store.record([("bob@example.com", incoming("hi", key: "o1"))])
        try store.record([("bob@example.com", incoming("hi", key: "o1", archive: "a9"))])
        XCTAssertEqual(try store.history(peer: "bob@example.com").first?.archiveID, "a9")
    }

    /// Read on another device up to a message (XEP-0490): what came after it stays unread.
    /// An archive stamps whole seconds while live messages carry milliseconds, so a message
    /// fetched from the archive may be stamped before two that came live before it in the
    /// same second; the order they were stored in decides, and reading it leaves nothing unread.
    func testReadElsewhereCountsWhatCameAfterEvenWithinTheArchivesWholeSecond() throws {
        let store = try Store()
        let second = Date(timeIntervalSince1970: 1_800_000_000)
        func incoming(_ body: String, archiveID: String, at time: Date) -> StoredMessage {
            StoredMessage(direction: .incoming, sender: "ada@example.org/phone", body: body, stanzaID: nil,
                          dedupeKey: archiveID, archiveID: archiveID, timestamp: time, status: .received)
        }
        try store.record([("ada@example.org", incoming("one", archiveID: "a1", at: second.addingTimeInterval(0.4))),
                          ("ada@example.org", incoming("two", archiveID: "a2", at: second.addingTimeInterval(0.5)))])
        try store.record([("ada@example.org", incoming("three", archiveID: "a3", at: second))])
        XCTAssertEqual(try store.markDisplayed(peer: "ada@example.org", upToArchiveID: "a1"), .lowered(unread: 2))
        XCTAssertEqual(try store.markDisplayed(peer: "ada@example.org", upToArchiveID: "a3"), .lowered(unread: 0))
        XCTAssertEqual(try store.markDisplayed(peer: "ada@example.org", upToArchiveID: "a2"), .unchanged, "never raised")
        XCTAssertEqual(try store.markDisplayed(peer: "ada@example.org", upToArchiveID: "nope"), .notStored)
    }

    func testOutboxIsSettledByAckOrByOurOwnCopyComingBack() throws {
        let store = try Store()
        let one = try store.enqueue(StoredMessage(direction: .outgoing, sender: "me@example.com", body: "one", stanzaID: "s1",
                                                  dedupeKey: "s1", timestamp: Date(), status: .pending), to: "bob@example.com")
        _ = try store.enqueue(StoredMessage(direction: .outgoing, sender: "me@example.com", body: "two", stanzaID: "s2",
                                           dedupeKey: "s2", timestamp: Date(), status: .pending), to: "bob@example.com")
        XCTAssertEqual(try store.outbox().map(\.message.body), ["one", "two"])
        try store.markSent(stanzaIDs: ["s1"])
        XCTAssertEqual(try store.outbox().map(\.message.body), ["two"])
        // The archive (or a carbon) shows "two" reached the server after all.
        let copy = StoredMessage(direction: .outgoing, sender: "me@example.com/laptop", body: "two", stanzaID: "s2",
                                 dedupeKey: "s2", archiveID: "a2", timestamp: Date(), status: .sent)
        XCTAssertEqual(try store.record([("bob@example.com", copy)]).count, 1)
        XCTAssertTrue(try store.outbox().isEmpty)
        XCTAssertEqual(try store.messageCount(), 2)
        XCTAssertEqual(try store.markDelivered(stanzaID: "s1", peer: "bob@example.com"), one.id)
        XCTAssertNil(try store.markDelivered(stanzaID: "s1", peer: "bob@example.com"), "already delivered")
        XCTAssertNil(try store.markDelivered(stanzaID: "s1", peer: "mallory@example.com"), "a receipt from someone else")
    }

    func testHistoryIsTheNewestInReadingOrder() throws {
        let store = try Store()
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<10 {
            try store.record([("bob@example.com", incoming("m\(index)", key: "k\(index)", at: start.addingTimeInterval(Double(index))))])
        }
        XCTAssertEqual(try store.history(peer: "bob@example.com", limit: 3).map(\.body), ["m7", "m8", "m9"])
    }

    func testArchiveCursorMovesWithTheBatchThatStoredIt() throws {
        let store = try Store()
        XCTAssertNil(try store.archiveCursor)
        try store.record([("bob@example.com", incoming("hi", key: "o1", archive: "a1"))], archiveCursor: "a1")
        XCTAssertEqual(try store.archiveCursor, "a1")
    }

    func testConversationsAreMostRecentFirst() throws {
        let store = try Store()
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        try store.record([("bob@example.com", incoming("old", key: "1", at: start))])
        try store.record([("carol@example.com", incoming("new", key: "2", sender: "carol@example.com/x", at: start.addingTimeInterval(60)))])
        XCTAssertEqual(try store.conversations().map(\.peer), ["carol@example.com", "bob@example.com"])
    }

    func testContactsFollowRosterPushes() throws {
        let store = try Store()
        try store.replaceContacts([Contact(jid: "bob@example.com", name: "Bob", subscription: "both", groups: ["Friends"])])
        try store.apply(contact: Contact(jid: "carol@example.com", name: "Carol", subscription: "to", groups: []))
        try store.apply(contact: Contact(jid: "bob@example.com", name: nil, subscription: "remove", groups: []))
        XCTAssertEqual(try store.contacts().map(\.jid), ["carol@example.com"])
    }

    func testDatabaseOnDiskIsWALAndSurvivesReopening() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-store-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("dialtone.sqlite").path
        do {
            let store = try Store(path: path)
            try store.record([("bob@example.com", incoming("kept", key: "k"))])
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path + "-wal") || FileManager.default.fileExists(atPath: path))
        let reopened = try Store(path: path)
        XCTAssertEqual(try reopened.history(peer: "bob@example.com").map(\.body), ["kept"])
        XCTAssertEqual(try reopened.journalMode(), "wal")
    }
}

final class SearchTests: XCTestCase {
    func testFindsWordsAndPrefixesAcrossConversationsNewestFirst() throws {
        let store = try Store()
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        func add(_ peer: String, _ body: String?, subject: String? = nil, at offset: Double) throws {
            try store.record([(peer, StoredMessage(direction: .incoming, sender: peer, body: body, subject: subject,
                                                   stanzaID: UUID().uuidString, dedupeKey: UUID().uuidString,
                                                   timestamp: start.addingTimeInterval(offset), status: .received))])
        }
        try add("bob@example.com", "Let's get pizza tonight", at: 1)
        try add("carol@example.com", "Pizzeria was closed", at: 2)
        try add("bob@example.com", "Café at noon?", at: 3)
        try add("+15551234567@cheogram.com", nil, subject: "Voicemail from the dentist", at: 4)
        XCTAssertEqual(try store.search("pizz").map(\.message.body), ["Pizzeria was closed", "Let's get pizza tonight"])
        XCTAssertEqual(try store.search("cafe").map(\.peer), ["bob@example.com"], "diacritics folded")
        XCTAssertEqual(try store.search("voicemail dentist").map(\.peer), ["+15551234567@cheogram.com"])
        XCTAssertEqual(try store.search("pizza \"OR 1=1").count, 0, "quotes and operators are just text")
        XCTAssertEqual(try store.search("   ").count, 0)
    }
}

final class CallLogStoreTests: XCTestCase {
    func testCallsAreLoggedAndAMissedCallCountsAsUnreadOnce() throws {
        let store = try Store()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        var call = CallRecord(id: "s1", direction: "incoming", outcome: nil, reason: nil, startedAt: start, connectedAt: nil, endedAt: nil)
        try store.recordCall(call, peer: "+15551234567@gw")
        call.outcome = "missed"
        call.endedAt = start.addingTimeInterval(20)
        try store.recordCall(call, peer: "+15551234567@gw")
        try store.recordCall(call, peer: "+15551234567@gw") // written again: still one missed call
        var answered = CallRecord(id: "s2", direction: "outgoing", outcome: "completed", reason: "hung up",
                                  startedAt: start.addingTimeInterval(60), connectedAt: start.addingTimeInterval(65),
                                  endedAt: start.addingTimeInterval(265))
        try store.recordCall(answered, peer: "bob@example.org")
        answered.reason = "hung up"
        try store.recordCall(answered, peer: "bob@example.org")

        let log = try store.calls()
        XCTAssertEqual(log.map(\.call.id), ["s2", "s1"])
        XCTAssertEqual(log.map(\.peer), ["bob@example.org", "+15551234567@gw"])
        XCTAssertEqual(try store.calls(peer: "bob@example.org").count, 1)
        let conversations = try store.conversations()
        XCTAssertEqual(conversations.first { $0.peer == "+15551234567@gw" }?.unread, 1)
        XCTAssertEqual(conversations.first { $0.peer == "bob@example.org" }?.unread, 0)
        XCTAssertEqual(conversations.first?.peer, "bob@example.org", "the latest call's conversation is on top")
    }
}

final class RosterStoreTests: XCTestCase {
    func testAWholeRosterIsStoredAndReadBackAsGiven() throws {
        let store = try Store()
        let roster = (0..<300).map { i in
            Contact(jid: "c\(i)@example.org", name: i % 3 == 0 ? nil : "Ñame \"\(i)\"", subscription: "both",
                    groups: i % 2 == 0 ? [] : ["Friends", "Ünïcode \(i)", "quote\"s"])
        }
        try store.replaceContacts(roster)
        try store.replaceContacts(roster) // again: replaced, not doubled
        let stored = try store.contacts()
        XCTAssertEqual(stored.count, 300)
        XCTAssertEqual(Set(stored.map(\.jid)), Set(roster.map(\.jid)))
        XCTAssertEqual(stored.first { $0.jid == "c1@example.org" }, roster[1])
        XCTAssertEqual(stored.first { $0.jid == "c3@example.org" }?.name, nil)
        try store.replaceContacts([roster[5]])
        XCTAssertEqual(try store.contacts(), [roster[5]], "the new roster replaces the old one")
    }
}
