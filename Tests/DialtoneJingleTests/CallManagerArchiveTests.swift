@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// Proposes found in the archive (or carrying a <delay>, which anyone can add): missed calls,
/// but only from those who may call us, and only so many.
final class CallManagerArchiveTests: XCTestCase {
    private let friend = JID(verified: "friend@example.org/phone")

    private func manager() -> CallManager {
        let friend = self.friend
        let signalling = CallSignalling(
            ownAddress: { JID(verified: "me@example.com/desk") }, send: { _ in },
            request: { $0 }, sendRequest: { _ in }, features: { _ in [] },
            mayCall: { $0 == friend.bare })
        return CallManager(signalling: signalling)
    }

    /// The missed calls the manager reports once the catch-up is over.
    private func missedCalls(_ manager: CallManager) async -> [CallInfo] {
        let events = await manager.events()
        await manager.archiveCaughtUp()
        await manager.closeEvents()
        var missed: [CallInfo] = []
        for await case .updated(let info) in events where info.outcome == .missed { missed.append(info) }
        return missed
    }

    private func propose(_ manager: CallManager, id: String, from: JID, at time: Date = Date()) async {
        await manager.handle(MessageInitiation(id: id, action: .propose(media: ["audio"])), from: from,
                             to: JID(verified: "me@example.com"), outgoing: false, origin: .archive, at: time)
    }

    func testArchivedProposeFromAStrangerIsNoMissedCall() async {
        let manager = manager()
        await propose(manager, id: "s1", from: JID(verified: "stranger@evil.example/x"))
        await propose(manager, id: "f1", from: friend)
        let missed = await missedCalls(manager)
        XCTAssertEqual(missed.map(\.peer), [friend.bare], "only the contact's call is missed")
    }

    func testArchivedProposesAreBounded() async {
        let manager = manager()
        let start = Date(timeIntervalSince1970: 1_700_000_000)
        for index in 0..<(CallManager.archivedProposalLimit + 50) {
            await propose(manager, id: "p\(index)", from: friend, at: start + Double(index))
        }
        let missed = await missedCalls(manager)
        XCTAssertEqual(missed.count, CallManager.archivedProposalLimit)
        XCTAssertEqual(Set(missed.map(\.id)).contains("p0"), false, "the oldest went first")
        XCTAssertEqual(Set(missed.map(\.id)).contains("p149"), true)
    }
}
