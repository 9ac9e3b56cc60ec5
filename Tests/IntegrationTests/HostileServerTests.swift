import DialtoneCore
import DialtoneXMPP
import XCTest

/// A server that sends what no honest server sends: the client must fail with a clear
/// sentence, say why in a stream error, and never expand, hang or crash.
final class HostileServerTests: XCTestCase {
    private static let header = """
        <?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
        from='hostile.test' id='x' version='1.0'>
        """

    private func reasonFor(reply: String) async throws -> (reason: String, sent: String) {
        let server = try await ScriptedServer(reply: reply)
        var configuration = XMPPClientConfiguration(jid: JID(verified: "victim@hostile.test"), password: "secret",
                                                    server: "127.0.0.1", port: server.port, tls: .none)
        configuration.reconnect.enabled = false
        configuration.connectTimeout = .seconds(5)
        let client = try await TestAccount(configuration)
        var reason = ""
        do {
            try await client.connect(timeout: .seconds(10), failOnRetry: true)
            XCTFail("connected to a hostile server")
        } catch {
            reason = String(describing: error)
        }
        await client.stop()
        // Let the last bytes (the stream error) arrive before reading what was sent.
        try await Task.sleep(for: .milliseconds(200))
        let sent = server.receivedText
        await server.shutdown()
        return (reason, sent)
    }

    func testBillionLaughsIsRefusedNotExpanded() async throws {
        let laughs = """
            <?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">\
            <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>\
            <stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>&lol3;
            """
        let (reason, sent) = try await reasonFor(reply: laughs)
        XCTAssertTrue(reason.contains("document type declaration"), reason)
        XCTAssertTrue(sent.contains("restricted-xml"), "the client names the reason in a stream error: \(sent)")
    }

    func testOversizedStanzaEndsTheStream() async throws {
        let huge = Self.header + "<message><body>" + String(repeating: "A", count: 1_100_000) + "</body></message>"
        let (reason, sent) = try await reasonFor(reply: huge)
        XCTAssertTrue(reason.contains("larger than"), reason)
        XCTAssertTrue(sent.contains("policy-violation"), sent)
    }

    func testMalformedXMLIsAClearError() async throws {
        let (reason, sent) = try await reasonFor(reply: Self.header + "<stream:features><a></b></stream:features>")
        XCTAssertFalse(reason.isEmpty)
        XCTAssertTrue(sent.contains("not-well-formed"), sent)
    }

    func testStreamErrorFromTheServerIsOneSentence() async throws {
        let reply = Self.header + """
            <stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>
            """
        let (reason, _) = try await reasonFor(reply: reply)
        XCTAssertTrue(reason.contains("The server closed the stream: host unknown."), reason)
    }

    func testPlainOnlyServerWithoutTLSGetsNoPassword() async throws {
        let reply = Self.header + """
            <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
            </mechanisms></stream:features>
            """
        let (reason, sent) = try await reasonFor(reply: reply)
        XCTAssertTrue(reason.contains("refusing to send the password in the clear"), reason)
        XCTAssertFalse(sent.contains("secret"), "the password never left")
        XCTAssertFalse(sent.contains("<auth"), sent)
    }
}
