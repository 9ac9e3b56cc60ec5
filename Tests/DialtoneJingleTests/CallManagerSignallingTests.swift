@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import Synchronization
import XCTest

extension JingleProtocolTests {
    final class Outbox: Sendable {
        /// Each stanza with the path it left by: send, request or sendRequest.
        let stanzas = Mutex<[(String, XMLElement)]>([])
        func append(_ path: String, _ stanza: XMLElement) { stanzas.withLock { $0.append((path, stanza)) } }
        func jingleActions(via path: String) -> [String] {
            stanzas.withLock { $0 }.filter { $0.0 == path }.compactMap { $0.1.child("jingle", namespace: "urn:xmpp:jingle:1")?[attribute: "action"] }
        }
    }

    /// The peer answers our session-info (ringing) and our session-terminate with a result:
    /// both must go out as requests whose answers are expected, or each answer is reported
    /// as "iq response to nothing we asked" (issue 13, at every hang-up).
    func testRingingAndHangUpExpectThePeersAnswers() async throws {
        let outbox = Outbox()
        let signalling = CallSignalling(
            ownAddress: { try? JID("bob@example.org/dialtone") },
            send: { outbox.append("send", $0) },
            request: { outbox.append("request", $0); return $0.iqReply() },
            sendRequest: { outbox.append("sendRequest", $0) },
            features: { _ in [] })
        let manager = CallManager(signalling: signalling)
        await manager.handle(request: IQRequest(try XMLElement(parsing: conversationsInitiate)))
        try await manager.decline("sid42")
        await manager.settle()
        XCTAssertEqual(outbox.jingleActions(via: "sendRequest"), ["session-info", "session-terminate"])
        XCTAssertEqual(outbox.jingleActions(via: "send"), [], "no Jingle set goes out without its answer expected")
    }
}
