@testable import DialtoneStore
import XCTest

/// Requests to see the user's presence: kept until answered, new once, and a denied sender's
/// next requests not new at all.
final class SubscriptionRequestTests: XCTestCase {
    func testARequestIsNewOnceAndKeptUntilAnswered() throws {
        let store = try Store()
        let at = Date(timeIntervalSince1970: 1_000)
        XCTAssertTrue(try store.recordSubscriptionRequest(from: "ada@example.org", nick: "Ada", at: at))
        XCTAssertFalse(try store.recordSubscriptionRequest(from: "ada@example.org", nick: "Ada again", at: at + 5))
        XCTAssertEqual(try store.subscriptionRequests(), [SubscriptionRequest(jid: "ada@example.org", nick: "Ada", receivedAt: at)])
        XCTAssertTrue(try store.hasSubscriptionRequest(from: "ada@example.org"))
        XCTAssertTrue(try store.removeSubscriptionRequest(from: "ada@example.org"))
        XCTAssertFalse(try store.removeSubscriptionRequest(from: "ada@example.org"))
        XCTAssertTrue(try store.subscriptionRequests().isEmpty)
    }

    func testADeniedSendersLaterRequestsAreNotNewUntilTheUserChangesTheirMind() throws {
        let store = try Store()
        try store.recordSubscriptionRequest(from: "spam@evil.example", nick: nil, at: Date())
        try store.denySubscriptionRequest(from: "spam@evil.example", at: Date())
        XCTAssertTrue(try store.subscriptionRequests().isEmpty)
        XCTAssertFalse(try store.hasSubscriptionRequest(from: "spam@evil.example"))
        XCTAssertFalse(try store.recordSubscriptionRequest(from: "spam@evil.example", nick: "Totally legit", at: Date()))
        XCTAssertTrue(try store.subscriptionRequests().isEmpty)
        // Adding them (or accepting) forgets the denial.
        XCTAssertFalse(try store.removeSubscriptionRequest(from: "spam@evil.example"), "nothing was waiting")
        XCTAssertTrue(try store.recordSubscriptionRequest(from: "spam@evil.example", nick: nil, at: Date()))
    }

    func testTheRosterKeepsWhetherOurRequestWaits() throws {
        let store = try Store()
        try store.replaceContacts([Contact(jid: "ada@example.org", name: "Ada", subscription: "none", groups: [], asked: true)])
        XCTAssertEqual(try store.contact(jid: "ada@example.org")?.asked, true)
        try store.apply(contact: Contact(jid: "ada@example.org", name: "Ada", subscription: "to", groups: []))
        XCTAssertEqual(try store.contact(jid: "ada@example.org")?.asked, false)
        XCTAssertEqual(try store.contact(jid: "ada@example.org")?.subscription, "to")
    }
}

/// The look-ups every acknowledgement, receipt and read marker makes go through an index,
/// not a read of the whole message table.
final class StanzaIDLookupTests: XCTestCase {
    func testOurMessagesAreFoundByStanzaIDThroughAnIndex() throws {
        let store = try Store()
        let plan = try store.queryPlan("""
            SELECT * FROM message WHERE stanzaID IN ('a', 'b') AND direction = 'outgoing'
            """)
        XCTAssertTrue(plan.contains("message_outgoing_by_stanza_id"), plan)
        XCTAssertFalse(plan.contains("SCAN message"), plan)
    }
}
