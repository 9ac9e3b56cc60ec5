@testable import DialtoneXMPP
import DialtoneXML
import XCTest

/// A live <stanza-id by=our address> is our archive's id only when our server announces
/// urn:xmpp:sid:0 (and so strips ids senders forge); otherwise it is ignored.
final class StanzaIDTrustTests: XCTestCase {
    private let forged = """
        <message xmlns='jabber:client' from='stranger@evil.example/x' to='me@example.com/desk' type='chat' id='m1'>\
        <body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' by='me@example.com' id='an-id-in-our-archive'/></message>
        """

    private func archiveID(announced: Bool) async throws -> String? {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: JID(verified: "me@example.com"), password: "x")) { _ in }
        let events = await client.routeForTest(try XMLElement(parsing: forged)) { $0.serverAssignsStanzaIDs = announced }.events
        guard case .message(let received)? = events.first else {
            XCTFail("no message routed: \(events)")
            return nil
        }
        return received.archiveID
    }

    func testAStanzaIDIsIgnoredWhenOurServerDoesNotAnnounceThem() async throws {
        let id = try await archiveID(announced: false)
        XCTAssertNil(id)
    }

    func testAStanzaIDCountsWhenOurServerAnnouncesThem() async throws {
        let id = try await archiveID(announced: true)
        XCTAssertEqual(id, "an-id-in-our-archive")
    }
}
