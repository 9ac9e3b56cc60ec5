@testable import DialtoneCore
@testable import DialtoneTUI
import XCTest

final class ConversationListModelTests: XCTestCase {
    private let names = FixedNames(["alice@example.org": "Alice", "+15551234567,+15557654321@sms.example": "Alice, Bob"])

    func testMostRecentFirstWithNamesAndUnreadCounts() {
        var list = ConversationListModel(names: names)
        list.replace([
            ConversationEntry(peer: "carol@example.org", lastActivity: Date(timeIntervalSince1970: 100)),
            ConversationEntry(peer: "alice@example.org", lastActivity: Date(timeIntervalSince1970: 300), unread: 2),
            ConversationEntry(peer: "+15551234567,+15557654321@sms.example", lastActivity: Date(timeIntervalSince1970: 200)),
        ])
        XCTAssertEqual(list.selectedPeer, "alice@example.org")
        let rows = list.rows(width: 24, height: 10).map(\.text)
        XCTAssertEqual(rows, [" Alice                 2", " Alice, Bob             ", " carol@example.org      "])
        XCTAssertEqual(list.totalUnread, 2)

        list.select("carol@example.org")
        XCTAssertEqual(list.totalUnread, 2, "opening one conversation does not clear another's count")
        list.noteActivity(peer: "+15551234567,+15557654321@sms.example", at: Date(timeIntervalSince1970: 400), incoming: true)
        list.noteActivity(peer: "carol@example.org", at: Date(timeIntervalSince1970: 350), incoming: true)
        XCTAssertEqual(list.entries.map(\.peer), ["+15551234567,+15557654321@sms.example", "carol@example.org", "alice@example.org"])
        XCTAssertEqual(list.entries.map(\.unread), [1, 0, 2], "the open conversation counts nothing unread")
        XCTAssertEqual(list.selectedPeer, "carol@example.org", "the selection follows its peer as rows move")
    }

    func testSwitchingWrapsAndCloseSelectsANeighbour() {
        var list = ConversationListModel(names: names)
        list.replace((1...3).map { ConversationEntry(peer: "p\($0)@x", lastActivity: Date(timeIntervalSince1970: Double($0))) })
        list.move(-1)
        XCTAssertEqual(list.selectedPeer, "p1@x")
        list.move(1)
        XCTAssertEqual(list.selectedPeer, "p3@x")
        list.close("p3@x")
        XCTAssertEqual(list.selectedPeer, "p2@x")
        list.select("new@x")
        XCTAssertEqual(list.entries.first?.peer, "new@x")
    }

    func testNamesFromTheNetworkAreSanitizedAndTruncated() {
        var list = ConversationListModel(names: FixedNames(["evil@x": "Eve\u{1B}]0;owned\u{07}李小龍李小龍李小龍李小龍"]))
        list.replace([ConversationEntry(peer: "evil@x", lastActivity: Date())])
        let row = list.rows(width: 16, height: 1)[0].text
        XCTAssertFalse(row.unicodeScalars.contains { $0.value < 0x20 })
        XCTAssertEqual(TerminalWidth.columns(of: row), 16)
        XCTAssertTrue(row.contains("…"))
    }
}

final class ConversationJumpTests: XCTestCase {
    func testNextUnreadWrapsAndAltDigitsCountFromTheTop() {
        var list = ConversationListModel(names: FixedNames([:]))
        list.replace([
            ConversationEntry(peer: "a@x", lastActivity: Date(timeIntervalSince1970: 400)),
            ConversationEntry(peer: "b@x", lastActivity: Date(timeIntervalSince1970: 300), unread: 1),
            ConversationEntry(peer: "c@x", lastActivity: Date(timeIntervalSince1970: 200)),
            ConversationEntry(peer: "d@x", lastActivity: Date(timeIntervalSince1970: 100), unread: 3),
        ])
        list.select("c@x")
        XCTAssertEqual(list.nextUnread, "d@x")
        list.select("d@x")
        XCTAssertEqual(list.nextUnread, "b@x", "wraps past the end")
        XCTAssertEqual(list.peer(at: 1), "a@x")
        XCTAssertEqual(list.peer(at: 4), "d@x")
        XCTAssertNil(list.peer(at: 5))
        list.select("b@x")
        list.select("d@x")
        XCTAssertNil(list.nextUnread, "nothing unread left")
    }

    /// A contact is as available as their most available device; the mark takes the first
    /// column, a different shape for each state; phone numbers (no presence) get none.
    /// Anyone may send presence from made-up resources and addresses: what is kept is bounded.
    func testPresenceKeptIsBounded() {
        var list = ConversationListModel(names: FixedNames([:]))
        for index in 0..<1_000 {
            list.notePresence(of: "mallory@example.org", resource: "r\(index)", available: true, show: nil)
        }
        XCTAssertEqual(list.rememberedDevices, ConversationListModel.devicesPerContact)
        list.notePresence(of: "mallory@example.org", resource: "r0", available: true, show: "dnd")
        XCTAssertEqual(list.rememberedDevices, ConversationListModel.devicesPerContact, "a known device still updates")
        for index in 0..<25_000 {
            list.notePresence(of: "bot\(index)@example.org", resource: "x", available: true, show: nil)
        }
        XCTAssertLessThanOrEqual(list.rememberedDevices, ConversationListModel.addressesWithPresence + ConversationListModel.devicesPerContact)
        XCTAssertEqual(list.presence(of: "mallory@example.org"), .available)
    }

    func testPresenceMarksFollowTheMostAvailableDevice() {
        var list = ConversationListModel(names: FixedNames(["bob@example.org": "Bob"]))
        let now = Date()
        list.replace([ConversationEntry(peer: "bob@example.org", lastActivity: now),
                      ConversationEntry(peer: "+15550100199@cheogram.com", lastActivity: now - 60)])
        XCTAssertNil(list.presence(of: "bob@example.org"))
        list.notePresence(of: "bob@example.org", resource: "phone", available: true, show: "away")
        XCTAssertEqual(list.presence(of: "bob@example.org"), .away)
        list.notePresence(of: "bob@example.org", resource: "laptop", available: true, show: "dnd")
        XCTAssertEqual(list.presence(of: "bob@example.org"), .busy)
        list.notePresence(of: "bob@example.org", resource: "desk", available: true, show: nil)
        XCTAssertEqual(list.presence(of: "bob@example.org"), .available)
        var rows = list.rows(width: 20, height: 5).map(\.text)
        XCTAssertEqual(rows[0], "●Bob                ")
        XCTAssertTrue(rows[1].hasPrefix(" +1555"), rows[1])
        list.notePresence(of: "bob@example.org", resource: "desk", available: false, show: nil)
        list.notePresence(of: "bob@example.org", resource: "laptop", available: false, show: nil)
        rows = list.rows(width: 20, height: 5).map(\.text)
        XCTAssertTrue(rows[0].hasPrefix("◐Bob"), rows[0])
        list.notePresence(of: "bob@example.org", resource: "phone", available: false, show: nil)
        XCTAssertNil(list.presence(of: "bob@example.org"))
        // Unavailable from the bare address takes every device; a lost connection, everyone.
        list.notePresence(of: "bob@example.org", resource: "a", available: true, show: nil)
        list.notePresence(of: "bob@example.org", resource: "b", available: true, show: nil)
        list.notePresence(of: "bob@example.org", resource: "", available: false, show: nil)
        XCTAssertNil(list.presence(of: "bob@example.org"))
        list.notePresence(of: "bob@example.org", resource: "a", available: true, show: nil)
        list.forgetPresence()
        XCTAssertNil(list.presence(of: "bob@example.org"))
        XCTAssertTrue(list.rows(width: 20, height: 5)[0].text.hasPrefix(" Bob"))
    }
}
