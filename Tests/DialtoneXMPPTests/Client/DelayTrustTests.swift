@testable import DialtoneXMPP
import DialtoneXML
import Foundation
import XCTest

/// A live message's <delay> is its writer's claim: it may make the message older than its
/// arrival, never newer; our server's stamp (offline storage) is preferred and marks it held.
final class DelayTrustTests: XCTestCase {
    private let arrival = Date(timeIntervalSince1970: 1_800_000_000)

    private func timestamp(_ delays: String) async throws -> (time: Date, heldByServer: Bool) {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: JID(verified: "me@example.com"), password: "x")) { _ in }
        let message = Message(try XMLElement(parsing: """
            <message xmlns='jabber:client' from='stranger@evil.example/x' to='me@example.com' type='chat'>\
            <body>hi</body>\(delays)</message>
            """))
        return await client.liveTimestamp(message, arrival: arrival)
    }

    func testAFutureStampFromAnyoneIsTheArrivalTime() async throws {
        let result = try await timestamp("<delay xmlns='urn:xmpp:delay' stamp='2099-01-01T00:00:00Z'/>")
        XCTAssertEqual(result.time, arrival)
        XCTAssertFalse(result.heldByServer)
        // Naming our server does not help a future stamp either.
        let named = try await timestamp("<delay xmlns='urn:xmpp:delay' from='example.com' stamp='2099-01-01T00:00:00Z'/>")
        XCTAssertEqual(named.time, arrival)
    }

    func testAnOlderStampIsKeptButNotTakenForOfflineStorage() async throws {
        let result = try await timestamp("<delay xmlns='urn:xmpp:delay' from='evil.example' stamp='2020-01-01T00:00:00Z'/>")
        XCTAssertEqual(result.time, try XCTUnwrap(XMPPDateTime.parse("2020-01-01T00:00:00Z")))
        XCTAssertFalse(result.heldByServer, "only our server's stamp means offline storage")
    }

    func testOurServersStampWinsOverTheSendersAndMeansHeld() async throws {
        let result = try await timestamp("""
            <delay xmlns='urn:xmpp:delay' stamp='2099-01-01T00:00:00Z'/>\
            <delay xmlns='urn:xmpp:delay' from='example.com' stamp='2026-01-01T10:00:00Z'/>
            """)
        XCTAssertEqual(result.time, try XCTUnwrap(XMPPDateTime.parse("2026-01-01T10:00:00Z")))
        XCTAssertTrue(result.heldByServer)
    }

    func testNoDelayIsTheArrivalTime() async throws {
        let result = try await timestamp("")
        XCTAssertEqual(result.time, arrival)
        XCTAssertFalse(result.heldByServer)
    }
}
