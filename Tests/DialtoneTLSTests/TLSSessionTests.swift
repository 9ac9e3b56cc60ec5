@testable import DialtoneTLS
import XCTest

final class TLSSessionTests: XCTestCase {
    private let fixtures = Fixtures.shared

    func testHandshakeWithTestCA() throws {
        let pair = try Pair(client: Pair.trusting())
        XCTAssertFalse(pair.client.isHandshakeComplete)
        XCTAssertNil(pair.client.negotiatedVersion)
        pair.connect()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertTrue(pair.client.isHandshakeComplete)
        XCTAssertTrue(pair.server.isHandshakeComplete)
        XCTAssertEqual(pair.client.negotiatedVersion, "TLSv1.3")
        XCTAssertEqual(pair.server.negotiatedVersion, "TLSv1.3")
        XCTAssertNil(pair.client.negotiatedALPN)
        XCTAssertEqual(pair.client.peerCertificateSHA256, fixtures.server.sha256Fingerprint)
        XCTAssertEqual(pair.client.peerCertificateSHA256?.count, 32)
        XCTAssertNil(pair.server.peerCertificateSHA256, "no client certificate was asked for")
    }

    func testDataBothWaysIncludingOneMegabyte() throws {
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        try pair.client.write(plaintext: Array("<stream:stream>".utf8))
        pair.pump()
        XCTAssertEqual(pair.serverReceived, Array("<stream:stream>".utf8))
        try pair.server.write(plaintext: Array("<stream:features/>".utf8))
        pair.pump()
        XCTAssertEqual(pair.clientReceived, Array("<stream:features/>".utf8))

        let big = randomBytes(1 << 20)
        try pair.client.write(plaintext: big)
        try pair.server.write(plaintext: big.reversed())
        pair.pump()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertEqual(pair.serverReceived.count, 15 + big.count)
        XCTAssertEqual(Array(pair.serverReceived.dropFirst(15)), big)
        XCTAssertEqual(Array(pair.clientReceived.dropFirst(18)), Array(big.reversed()))
    }

    func testWritesBeforeTheHandshakeGoOutAfterIt() throws {
        let pair = try Pair(client: Pair.trusting())
        try pair.client.write(plaintext: Array("early".utf8))
        try pair.server.write(plaintext: Array("greeting".utf8))
        pair.connect()
        XCTAssertEqual(pair.serverReceived, Array("early".utf8))
        XCTAssertEqual(pair.clientReceived, Array("greeting".utf8))
    }

    func testFeedingEmptyBytesStartsTheClientHandshake() throws {
        let client = try TLSSession(client: Pair.trusting())
        XCTAssertEqual(try client.feed(network: []), [])
        let hello = client.takeOutgoing()
        XCTAssertEqual(hello.first, 0x16, "a handshake record")
        XCTAssertEqual(client.takeOutgoing(), [], "taking empties the buffer")
    }

    func testUntrustedCA() throws {
        let pair = try Pair(client: Pair.trusting(ca: fixtures.otherCA))
        pair.connect()
        guard case .certificateUntrusted(let reason)? = pair.clientError else {
            return XCTFail("expected certificateUntrusted, got \(String(describing: pair.clientError))")
        }
        XCTAssertTrue(reason.contains("issuer certificate"), reason)
        XCTAssertEqual(pair.client.peerCertificateSHA256, fixtures.server.sha256Fingerprint,
                       "the fingerprint to offer for pinning is known even though the handshake failed")
        XCTAssertTrue(pair.clientError!.description.contains("ca_file"))
        XCTAssertFalse(pair.client.isHandshakeComplete)
        // The client's alert reached the server and failed its handshake too.
        guard case .handshakeFailed? = pair.serverError else {
            return XCTFail("expected the server to fail, got \(String(describing: pair.serverError))")
        }
    }

    func testSystemTrustDoesNotKnowTheTestCA() throws {
        let pair = try Pair(client: TLSConfiguration(serverName: "dialtone.test", trust: .system))
        pair.connect()
        guard case .certificateUntrusted? = pair.clientError else {
            return XCTFail("expected certificateUntrusted, got \(String(describing: pair.clientError))")
        }
    }

    func testSelfSignedServerIsUntrustedWithoutPin() throws {
        let pair = try Pair(
            client: TLSConfiguration(serverName: "self-signed.test", trust: .caPEM(fixtures.ca.certificatePEM)),
            server: fixtures.selfSigned)
        pair.connect()
        XCTAssertEqual(pair.clientError, .certificateUntrusted("self-signed certificate"))
    }

    func testCAFileTrust() throws {
        let path = NSTemporaryDirectory() + "dialtone-ca-\(UUID().uuidString).pem"
        try fixtures.ca.certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pair = try Pair(client: TLSConfiguration(serverName: "dialtone.test", trust: .caFile(path)))
        pair.connect()
        XCTAssertNil(pair.clientError)
        XCTAssertTrue(pair.client.isHandshakeComplete)
    }

    func testMissingCAFileIsReportedAtCreation() {
        XCTAssertThrowsError(try TLSSession(client: TLSConfiguration(
            serverName: "dialtone.test", trust: .caFile("/nonexistent/ca.pem")))) { error in
            guard case .invalidCredentials(let reason)? = error as? TLSError else {
                return XCTFail("expected invalidCredentials, got \(error)")
            }
            XCTAssertTrue(reason.contains("/nonexistent/ca.pem"), reason)
        }
        XCTAssertThrowsError(try TLSSession(client: TLSConfiguration(
            serverName: "dialtone.test", trust: .caPEM("not a certificate"))))
    }

    func testWrongHostName() throws {
        let pair = try Pair(client: Pair.trusting("other.test"))
        pair.connect()
        XCTAssertEqual(pair.clientError, .hostnameMismatch("other.test"))
    }

    func testHostNameIsNotMatchedByPrefixOrSuffix() throws {
        for name in ["evil-dialtone.test", "dialtone.test.evil", "sub.dialtone.test"] {
            let pair = try Pair(client: Pair.trusting(name))
            pair.connect()
            XCTAssertEqual(pair.clientError, .hostnameMismatch(name))
        }
    }

    func testEmptyServerNameIsRefusedUnlessPinned() throws {
        XCTAssertThrowsError(try TLSSession(client: Pair.trusting(""))) { error in
            guard case .handshakeFailed? = error as? TLSError else { return XCTFail("got \(error)") }
        }
        let pinned = TLSConfiguration(serverName: "", pinnedCertificateSHA256: fixtures.server.sha256Fingerprint)
        let pair = try Pair(client: pinned)
        pair.connect()
        XCTAssertNil(pair.clientError)
        XCTAssertTrue(pair.client.isHandshakeComplete)
    }

    func testIPAddressServerName() throws {
        let good = try Pair(client: Pair.trusting("127.0.0.1"))
        good.connect()
        XCTAssertNil(good.clientError)
        XCTAssertTrue(good.client.isHandshakeComplete)

        let bad = try Pair(client: Pair.trusting("127.0.0.2"))
        bad.connect()
        XCTAssertEqual(bad.clientError, .hostnameMismatch("127.0.0.2"))
    }

    func testMatchingPinTrustsASelfSignedCertificate() throws {
        var configuration = TLSConfiguration(
            serverName: "whatever.example", trust: .caPEM(fixtures.otherCA.certificatePEM),
            pinnedCertificateSHA256: fixtures.selfSigned.sha256Fingerprint)
        configuration.alpn = ["xmpp-client"]
        let pair = try Pair(client: configuration, server: fixtures.selfSigned)
        pair.connect()
        XCTAssertNil(pair.clientError)
        XCTAssertTrue(pair.client.isHandshakeComplete)
        XCTAssertEqual(pair.client.peerCertificateSHA256, fixtures.selfSigned.sha256Fingerprint)
    }

    func testMismatchedPinFailsEvenWithAValidChain() throws {
        let wrong = [UInt8](repeating: 0xAB, count: 32)
        let configuration = TLSConfiguration(
            serverName: "dialtone.test", trust: .caPEM(fixtures.ca.certificatePEM), pinnedCertificateSHA256: wrong)
        let pair = try Pair(client: configuration)
        pair.connect()
        XCTAssertEqual(pair.clientError, .fingerprintMismatch(
            expected: fingerprintString(wrong), actual: fingerprintString(fixtures.server.sha256Fingerprint)))
        XCTAssertFalse(pair.client.isHandshakeComplete)
        XCTAssertNotNil(pair.serverError)
    }

    func testChannelBindingsOnTLS13() throws {
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        let clientExporter = try XCTUnwrap(pair.client.channelBinding(.tlsExporter))
        XCTAssertEqual(clientExporter.count, 32)
        XCTAssertEqual(clientExporter, pair.server.channelBinding(.tlsExporter))
        XCTAssertNil(pair.client.channelBinding(.tlsUnique), "tls-unique is undefined on TLS 1.3")
        XCTAssertNil(pair.server.channelBinding(.tlsUnique))
        // ECDSA with SHA-256 signature, so the end-point binding is the certificate's SHA-256.
        XCTAssertEqual(pair.client.channelBinding(.tlsServerEndPoint), fixtures.server.sha256Fingerprint)
        XCTAssertEqual(pair.server.channelBinding(.tlsServerEndPoint), fixtures.server.sha256Fingerprint)

        let other = try Pair(client: Pair.trusting())
        other.connect()
        XCTAssertNotEqual(other.client.channelBinding(.tlsExporter), clientExporter, "unique per connection")
    }

    func testChannelBindingsOnTLS12() throws {
        let pair = try Pair(client: Pair.trusting(), options: TLSServerOptions(maximumVersion: .tls12))
        XCTAssertNil(pair.client.channelBinding(.tlsUnique), "nothing before the handshake")
        pair.connect()
        XCTAssertEqual(pair.client.negotiatedVersion, "TLSv1.2")
        let clientUnique = try XCTUnwrap(pair.client.channelBinding(.tlsUnique))
        XCTAssertEqual(clientUnique.count, 12)
        XCTAssertEqual(clientUnique, pair.server.channelBinding(.tlsUnique))
        XCTAssertNil(pair.client.channelBinding(.tlsExporter))
        XCTAssertEqual(pair.client.channelBinding(.tlsServerEndPoint), pair.server.channelBinding(.tlsServerEndPoint))
    }

    func testALPN() throws {
        var configuration = Pair.trusting()
        configuration.alpn = ["h2", "xmpp-client"]
        let pair = try Pair(client: configuration, options: TLSServerOptions(alpn: ["xmpp-client", "h2"]))
        pair.connect()
        XCTAssertEqual(pair.client.negotiatedALPN, "xmpp-client")
        XCTAssertEqual(pair.server.negotiatedALPN, "xmpp-client")

        var unknown = Pair.trusting()
        unknown.alpn = ["imap"]
        let lenient = try Pair(client: unknown, options: TLSServerOptions(alpn: ["xmpp-client"]))
        lenient.connect()
        XCTAssertNil(lenient.clientError)
        XCTAssertNil(lenient.client.negotiatedALPN)

        var invalid = Pair.trusting()
        invalid.alpn = [""]
        XCTAssertThrowsError(try TLSSession(client: invalid))
    }

    func testMinimumVersionIsEnforced() throws {
        var configuration = Pair.trusting()
        configuration.minimumVersion = .tls13
        let pair = try Pair(client: configuration, options: TLSServerOptions(maximumVersion: .tls12))
        pair.connect()
        guard case .handshakeFailed? = pair.clientError ?? pair.serverError else {
            return XCTFail("expected handshakeFailed, got \(String(describing: pair.clientError ?? pair.serverError))")
        }
        XCTAssertFalse(pair.client.isHandshakeComplete)
    }

    func testKeyUpdateOnTLS13() throws {
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        XCTAssertTrue(pair.server.startRekeying())
        try pair.server.write(plaintext: Array("after server update".utf8))
        pair.pump()
        XCTAssertTrue(pair.client.startRekeying())
        try pair.client.write(plaintext: Array("after client update".utf8))
        pair.pump()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertEqual(pair.clientReceived, Array("after server update".utf8))
        XCTAssertEqual(pair.serverReceived, Array("after client update".utf8))
    }

    func testRenegotiationOnTLS12() throws {
        let pair = try Pair(client: Pair.trusting(), options: TLSServerOptions(maximumVersion: .tls12))
        pair.connect()
        let uniqueBefore = pair.client.channelBinding(.tlsUnique)
        XCTAssertTrue(pair.server.startRekeying())
        // Data written while the renegotiation is under way must still arrive.
        try pair.server.write(plaintext: Array("during".utf8))
        try pair.client.write(plaintext: Array("meanwhile".utf8))
        pair.pump()
        try pair.server.write(plaintext: Array(" and after".utf8))
        pair.pump()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
        XCTAssertEqual(pair.clientReceived, Array("during and after".utf8))
        XCTAssertEqual(pair.serverReceived, Array("meanwhile".utf8))
        XCTAssertTrue(pair.client.isHandshakeComplete)
        XCTAssertNotEqual(pair.client.channelBinding(.tlsUnique), uniqueBefore, "a new handshake, new Finished")
        XCTAssertEqual(pair.client.channelBinding(.tlsUnique), pair.server.channelBinding(.tlsUnique))
    }

    func testCloseNotifyIsNoticed() throws {
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        try pair.client.write(plaintext: Array("</stream:stream>".utf8))
        pair.client.close()
        XCTAssertThrowsError(try pair.client.write(plaintext: [1])) { error in
            XCTAssertEqual(error as? TLSError, .closed)
        }
        XCTAssertFalse(pair.server.peerClosed)
        pair.pump()
        XCTAssertEqual(pair.serverReceived, Array("</stream:stream>".utf8), "data before close_notify is kept")
        XCTAssertTrue(pair.server.peerClosed)
        XCTAssertFalse(pair.client.peerClosed)
        XCTAssertEqual(try pair.server.feed(network: []), [])

        pair.server.close()
        pair.pump()
        XCTAssertTrue(pair.client.peerClosed)
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
    }

    func testCloseBeforeHandshakeSendsNothing() throws {
        let client = try TLSSession(client: Pair.trusting())
        client.close()
        XCTAssertEqual(client.takeOutgoing(), [])
    }

    func testGarbageBeforeTheHandshake() throws {
        let server = try TLSSession(server: fixtures.server)
        let http = Array("GET / HTTP/1.1\r\nHost: dialtone.test\r\n\r\n".utf8)
        XCTAssertThrowsError(try server.feed(network: http)) { error in
            guard case .handshakeFailed? = error as? TLSError else { return XCTFail("got \(error)") }
        }
        // The failure sticks instead of touching a dead SSL object.
        XCTAssertThrowsError(try server.feed(network: http))
        XCTAssertThrowsError(try server.write(plaintext: [1, 2, 3]))
        XCTAssertNil(server.channelBinding(.tlsExporter))

        let client = try TLSSession(client: Pair.trusting())
        try client.startHandshake()
        _ = client.takeOutgoing()
        XCTAssertThrowsError(try client.feed(network: randomBytes(4096))) { error in
            guard case .handshakeFailed? = error as? TLSError else { return XCTFail("got \(error)") }
        }
        XCTAssertFalse(client.isHandshakeComplete)
    }

    func testGarbageAfterTheHandshake() throws {
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        // A well-formed application-data record header around bytes that will not decrypt.
        let record: [UInt8] = [0x17, 0x03, 0x03, 0x00, 0x40] + randomBytes(64)
        XCTAssertThrowsError(try pair.client.feed(network: record)) { error in
            guard case .protocolError? = error as? TLSError else { return XCTFail("got \(error)") }
        }
        XCTAssertFalse(pair.client.isHandshakeComplete)
        XCTAssertThrowsError(try pair.server.feed(network: randomBytes(1000)))
    }

    func testEveryByteSplitStillWorks() throws {
        // TCP may deliver any split; feed the whole conversation one byte at a time.
        let client = try TLSSession(client: Pair.trusting())
        let server = try TLSSession(server: fixtures.server)
        try client.write(plaintext: Array("ping".utf8))
        try client.startHandshake()
        var serverGot: [UInt8] = []
        for _ in 0..<20 {
            let toServer = client.takeOutgoing()
            for byte in toServer { serverGot += try server.feed(network: [byte]) }
            let toClient = server.takeOutgoing()
            for byte in toClient { _ = try client.feed(network: [byte]) }
            if toServer.isEmpty && toClient.isEmpty { break }
        }
        XCTAssertEqual(serverGot, Array("ping".utf8))
    }

    func testInvalidServerCredentials() {
        XCTAssertThrowsError(try TLSSession(server: TLSIdentity(certificatePEM: "junk", privateKeyPEM: "junk"))) {
            guard case .invalidCredentials? = $0 as? TLSError else { return XCTFail("got \($0)") }
        }
        let mismatched = TLSIdentity(
            certificatePEM: fixtures.server.certificatePEM, privateKeyPEM: fixtures.ca.privateKeyPEM)
        XCTAssertThrowsError(try TLSSession(server: mismatched)) {
            guard case .invalidCredentials? = $0 as? TLSError else { return XCTFail("got \($0)") }
        }
        XCTAssertThrowsError(try TLSIdentity.issue(
            commonName: "x", subjectAltNames: ["x"], by: TLSIdentity(certificatePEM: "", privateKeyPEM: "")))
    }

    func testErrorQueueDoesNotLeakIntoTheNextSession() throws {
        let failed = try Pair(client: Pair.trusting(ca: fixtures.otherCA))
        failed.connect()
        XCTAssertNotNil(failed.clientError)
        let pair = try Pair(client: Pair.trusting())
        pair.connect()
        XCTAssertNil(pair.clientError)
        XCTAssertNil(pair.serverError)
    }

    func testErrorDescriptionsAreSentences() {
        let errors: [TLSError] = [
            .certificateUntrusted("self-signed certificate in certificate chain"),
            .hostnameMismatch("example.org"),
            .fingerprintMismatch(expected: "AA:BB", actual: "CC:DD"),
            .handshakeFailed("x"), .protocolError("x"), .closed, .invalidCredentials("x"),
        ]
        for error in errors {
            XCTAssertTrue(error.description.hasSuffix("."), error.description)
            XCTAssertTrue(error.description.first?.isUppercase ?? false, error.description)
        }
        XCTAssertEqual(
            TLSError.certificateUntrusted("self-signed certificate in certificate chain").description,
            "The server's certificate is not trusted (self-signed certificate in certificate chain). "
                + "Set ca_file or pin its fingerprint if you trust it.")
    }
}
