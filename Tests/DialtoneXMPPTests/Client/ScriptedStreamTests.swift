@testable import DialtoneXMPP
import NIOCore
import Synchronization
import XCTest

/// The client over a scripted byte stream instead of TCP (`StreamConnector`): what a server
/// says before login, and what the client makes of it, without a socket.
final class ScriptedStreamTests: XCTestCase {
    /// A stream whose server side is the test: what it `says` arrives as one read; what the
    /// client writes is kept.
    final class ScriptedStream: StreamTransport {
        let inbound: AsyncThrowingStream<ByteBuffer, any Error>
        private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
        private let written = Mutex<[UInt8]>([])
        let remoteIPAddress: String? = "127.0.0.1"

        init() { (inbound, continuation) = AsyncThrowingStream.makeStream() }

        func say(_ text: String) { continuation.yield(ByteBuffer(string: text)) }
        func write(_ bytes: [UInt8]) { written.withLock { $0 += bytes } }
        func writeAndWait(_ bytes: [UInt8]) async throws { write(bytes) }
        func close() { continuation.finish() }
        var clientWrote: String { String(decoding: written.withLock { $0 }, as: UTF8.self) }
    }

    private final class States: Sendable {
        private let seen = Mutex<[ConnectionState]>([])
        func append(_ events: [XMPPEvent]) {
            for case .connectionState(let state) in events { seen.withLock { $0.append(state) } }
        }
        var all: [ConnectionState] { seen.withLock { $0 } }
    }

    private let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='s1' version='1.0'>"

    /// Connects once over `stream`, whose server side says `script`, and returns the first
    /// failure the client reports (a retry or giving up).
    private func firstFailure(_ script: String, stream: ScriptedStream = ScriptedStream()) async throws -> String {
        var configuration = XMPPClientConfiguration(jid: JID(verified: "me@example.com"), password: "secret",
                                                    server: "127.0.0.1", port: 5222, tls: .none)
        configuration.reconnect = ReconnectPolicy(initialDelay: .seconds(30), maximumDelay: .seconds(30))
        let states = States()
        let client = XMPPClient(configuration: configuration, connector: { _, _, _ in
            stream.say(script)
            return stream
        }) { states.append($0) }
        await client.start()
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            for state in states.all {
                switch state {
                case .waitingToReconnect(let reason, _), .offline(let reason?):
                    // Stopping while waiting to reconnect (30 s here) returns at once.
                    let stopping = ContinuousClock.now
                    await client.stop()
                    XCTAssertLessThan(ContinuousClock.now - stopping, .seconds(2), "stop() waited for the back-off")
                    return reason
                default: continue
                }
            }
            try await Task.sleep(for: .milliseconds(10))
        }
        await client.stop()
        XCTFail("no failure reported in 10 s; states \(states.all)")
        return ""
    }

    func testTheClientOpensTheStreamToItsDomain() async throws {
        let stream = ScriptedStream()
        _ = try await firstFailure(header + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
                                   stream: stream)
        XCTAssertTrue(stream.clientWrote.contains("to='example.com'") || stream.clientWrote.contains("to=\"example.com\""),
                      stream.clientWrote)
    }

    func testAStreamErrorIsReportedInWords() async throws {
        let reason = try await firstFailure(header + "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>")
        XCTAssertTrue(reason.contains("host unknown"), reason)
    }

    /// Without TLS (allowed to loopback only), PLAIN would send the password in the clear.
    func testOnlyPlainOnAnUnencryptedStreamIsRefused() async throws {
        let reason = try await firstFailure(header + """
            <stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>
            """)
        XCTAssertTrue(reason.contains("PLAIN"), reason)
    }

    func testXMLThatIsNotWellFormedEndsTheStream() async throws {
        let reason = try await firstFailure(header + "<stream:features><a></b></stream:features>")
        XCTAssertTrue(reason.contains("not well-formed"), reason)
    }
}
