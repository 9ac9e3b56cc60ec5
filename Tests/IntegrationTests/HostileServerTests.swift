@testable import DialtoneCore
import DialtoneXMPP
import Synchronization
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

    // MARK: Injected before TLS: refused, and retried

    /// Puts `script` on the path of the first connection to the real server (what anyone
    /// between client and server can do before TLS) and returns the reasons the client gave
    /// for retrying, once it is online through the untouched second connection.
    private func reasonsForRetryingPast(_ script: (_ domain: String) -> [String]) async throws -> [String] {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("inject")
        let proxy = try await InjectingProxy(targetHost: environment.server, targetPort: environment.port,
                                             scripts: [script(environment.domain)])
        let client = try await TestAccount(environment.clientConfiguration(account, port: proxy.port))
        let reasons = Reasons()
        await client.session.start()
        do {
            try await client.waitForEvent(timeout: .seconds(20)) { event in
                switch event {
                case .connection(.online): return true
                case .connection(.offline(let reason?)): throw TestEnvironmentError("gave up for good: \(reason)")
                case .connection(.waitingToReconnect(let reason, _)):
                    reasons.append(reason)
                    return false
                default: return false
                }
            }
        } catch {
            await client.stop()
            await proxy.shutdown()
            throw error
        }
        XCTAssertEqual(proxy.connections, 2, "one refused connection, then one that worked")
        await client.stop()
        await proxy.shutdown()
        return reasons.all
    }

    private static func header(from domain: String) -> String {
        """
        <?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
        from='\(domain)' id='x' version='1.0'>
        """
    }

    func testHiddenSTARTTLSIsRefusedWithOneSentenceAndRetried() async throws {
        let reasons = try await reasonsForRetryingPast { domain in
            [Self.header(from: domain) + """
                <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>\
                </mechanisms></stream:features>
                """]
        }
        XCTAssertEqual(reasons, ["The server at 127.0.0.1 did not offer TLS (STARTTLS); refusing to log in without encryption."])
    }

    func testInjectedStreamErrorBeforeTLSIsRetried() async throws {
        let reasons = try await reasonsForRetryingPast { domain in
            [Self.header(from: domain) + """
                <stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error></stream:stream>
                """]
        }
        XCTAssertEqual(reasons, ["The server at 127.0.0.1 closed the stream before TLS was set up: not authorized."])
    }

    func testFailureToSTARTTLSIsRetried() async throws {
        let reasons = try await reasonsForRetryingPast { domain in
            [Self.header(from: domain) + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
             "<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"]
        }
        XCTAssertEqual(reasons, ["The server at 127.0.0.1 refused to start TLS (STARTTLS); refusing to log in without encryption."])
    }
}

private final class Reasons: Sendable {
    private let list = Mutex<[String]>([])
    func append(_ reason: String) { list.withLock { $0.append(reason) } }
    var all: [String] { list.withLock { $0 } }
}
