import DialtoneTLS
import XCTest

#if os(Linux)
/// Every session owns an SSL_CTX, an SSL and two BIOs, and identity creation juggles keys and
/// certificates: a missed free on any path shows up as steady heap growth over many rounds.
final class TLSMemoryTests: XCTestCase {
    func testRepeatedSessionsDoNotGrowTheHeap() throws {
        func round() throws {
            let identity = try TLSIdentity.selfSigned(commonName: "leak.test")
            let pinned = TLSConfiguration(
                serverName: "leak.test", trust: .caPEM(Fixtures.shared.ca.certificatePEM),
                pinnedCertificateSHA256: identity.sha256Fingerprint)
            let good = try Pair(client: pinned, server: identity, options: TLSServerOptions(alpn: ["xmpp-client"]))
            good.connect()
            try good.client.write(plaintext: [UInt8](repeating: 7, count: 20_000))
            good.pump()
            XCTAssertEqual(good.serverReceived.count, 20_000)
            _ = good.client.channelBinding(.tlsExporter)
            _ = good.client.channelBinding(.tlsServerEndPoint)
            good.client.close()
            good.pump()

            let failing = try Pair(client: Pair.trusting(ca: Fixtures.shared.otherCA))
            failing.connect()
            XCTAssertNotNil(failing.clientError)
            XCTAssertThrowsError(try TLSSession(server: TLSIdentity(
                certificatePEM: identity.certificatePEM, privateKeyPEM: Fixtures.shared.ca.privateKeyPEM)))
        }
        for _ in 0..<20 { try round() }   // let caches and lazy OpenSSL state settle
        let before = try residentBytes()
        for _ in 0..<200 { try round() }
        let growth = try residentBytes() - before
        // A leaked connection (SSL, context, buffers holding 20 kB) costs 40 kB or more a round;
        // this catches such leaks while tolerating allocator noise. Finer leaks need a heap profiler.
        XCTAssertLessThan(growth, 4_000_000, "resident memory grew by \(growth) bytes over 200 rounds")
    }

    private func residentBytes() throws -> Int {
        let statm = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8)
        let fields = statm.split(separator: " ")
        let pages = try XCTUnwrap(fields.count > 1 ? Int(fields[1]) : nil)
        return pages * 4096
    }
}
#endif
