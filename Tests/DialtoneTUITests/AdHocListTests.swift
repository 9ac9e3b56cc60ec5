@testable import DialtoneCore
@testable import DialtoneTUI
import XCTest

/// A command list may point elsewhere (XEP-0050 items carry their own jid): the list says
/// where each one runs when that is not the address asked.
final class AdHocListTests: XCTestCase {
    @MainActor
    func testAnItemPointingElsewhereShowsItsAddress() async throws {
        let gateway = try JID("cheogram.com")
        let lines = TUIApp.commandListLines([
            AdHocCommand(jid: gateway, node: "balance", name: "Check balance"),
            AdHocCommand(jid: try JID("billing@evil.example"), node: "pay", name: "Top up"),
        ], of: gateway).map(\.text)
        XCTAssertEqual(lines.dropFirst(), [" 1. Check balance", " 2. Top up (at billing@evil.example)"])
    }
}
