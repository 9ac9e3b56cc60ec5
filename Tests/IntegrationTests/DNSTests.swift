@testable import DialtoneCore
import DialtoneXMPP
import XCTest

/// The server found through SRV records (RFC 6120 3.2, XEP-0368), from a DNS server on loopback.
final class DNSTests: XCTestCase {
    private func connectThroughDNS(records: [String], tls: XMPPClientConfiguration.TLSMode = .starttls) async throws -> JID? {
        let environment = try TestEnvironment.current()
        let dns = try LoopbackDNS(records: records)
        defer { dns.stop() }
        var configuration = environment.clientConfiguration(try environment.newAccount("srv"), tls: tls)
        configuration.server = nil
        configuration.port = nil
        configuration.nameserver = .init(host: "127.0.0.1", port: dns.port)
        let client = try await TestAccount(configuration)
        defer { Task { await client.stop() } }
        try await client.connect(failOnRetry: true)
        return await client.session.xmppClient.boundJID
    }

    func testFindsTheServerThroughXMPPClientSRV() async throws {
        let environment = try TestEnvironment.current()
        let bound = try await connectThroughDNS(records: [
            "--srv-host=_xmpp-client._tcp.\(environment.domain),xmpp.\(environment.domain),\(environment.port),0,5",
            "--host-record=xmpp.\(environment.domain),127.0.0.1",
        ])
        XCTAssertNotNil(bound)
    }

    func testFindsDirectTLSThroughXMPPSClientSRV() async throws {
        let environment = try TestEnvironment.current()
        // Only a direct-TLS record, and a STARTTLS one pointing at a dead port with a worse priority.
        let bound = try await connectThroughDNS(records: [
            "--srv-host=_xmpps-client._tcp.\(environment.domain),xmpps.\(environment.domain),\(environment.directTLSPort),0,5",
            "--srv-host=_xmpp-client._tcp.\(environment.domain),dead.\(environment.domain),9,10,5",
            "--host-record=xmpps.\(environment.domain),127.0.0.1",
            "--host-record=dead.\(environment.domain),127.0.0.1",
        ])
        XCTAssertNotNil(bound)
    }

    func testUnknownDomainIsAClearDNSError() async throws {
        let environment = try TestEnvironment.current()
        do {
            _ = try await connectThroughDNS(records: ["--srv-host=_xmpp-client._tcp.elsewhere.test,x.elsewhere.test,5222"])
            XCTFail("connected without any record for \(environment.domain)")
        } catch {
            XCTAssertTrue(String(describing: error).contains("Could not find the server for \(environment.domain)"), "\(error)")
        }
    }
}
