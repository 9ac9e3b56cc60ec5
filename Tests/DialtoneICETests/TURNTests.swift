import DialtoneTestSupport
import Foundation
import XCTest
@testable import DialtoneICE

final class TURNClientCoreTests: XCTestCase {
    let server = TransportAddress("127.0.0.1", 3478)!

    func testRESTCredentials() {
        // base64(HMAC-SHA1("turn-secret", "1700000000:alice")), computed independently with openssl.
        let (username, password) = TURNClientCore.restCredentials(secret: "turn-secret", name: "alice", expiry: 1_700_000_000)
        XCTAssertEqual(username, "1700000000:alice")
        XCTAssertEqual(password, TURNClientCoreTests.expectedRESTPassword)
    }
    static let expectedRESTPassword = "P/+m9gKVzGM5rBfJY3JtNseUl3o="

    func testAllocateRetriesWith401RealmAndNonceThenSigns() throws {
        var client = TURNClientCore(server: server, username: "u", password: "p")
        let operation = client.allocate(now: .zero)
        let first = try STUNMessage.decode(client.takeOutgoing()[0])
        XCTAssertNil(first.message.username)
        XCTAssertFalse(first.hasIntegrity)
        let challenge = STUNMessage(method: .allocate, class: .error, transactionID: first.message.transactionID,
                                    attributes: [.errorCode(code: 401, reason: "Unauthorized"), .realm("dialtone.test"), .nonce("abc")])
        client.receive(challenge.encode(fingerprint: true), now: .milliseconds(10))
        let second = try STUNMessage.decode(client.takeOutgoing()[0])
        XCTAssertEqual(second.message.username, "u")
        XCTAssertEqual(second.message.realm, "dialtone.test")
        XCTAssertEqual(second.message.nonce, "abc")
        let key = STUNIntegrityKey.longTerm(username: "u", realm: "dialtone.test", password: "p")
        XCTAssertNoThrow(try second.verifyIntegrity(key))

        let relayed = TransportAddress("127.0.0.1", 49200)!
        let forged = STUNMessage(method: .allocate, class: .success, transactionID: second.message.transactionID,
                                 attributes: [.xorRelayedAddress(TransportAddress("192.0.2.66", 1)!)])
        client.receive(forged.encode(integrity: .shortTerm("wrong"), fingerprint: true), now: .milliseconds(20))
        XCTAssertEqual(client.rejected[.integrityMismatch], 1)
        XCTAssertNil(client.relayedAddress)
        let success = STUNMessage(method: .allocate, class: .success, transactionID: second.message.transactionID,
                                  attributes: [.xorRelayedAddress(relayed), .lifetime(600)])
        client.receive(success.encode(integrity: key, fingerprint: true), now: .milliseconds(20))
        XCTAssertEqual(client.relayedAddress, relayed)
        XCTAssertEqual(client.takeEvents().last, .succeeded(operation))
        XCTAssertEqual(client.nextDeadline, .milliseconds(20) + .seconds(300), "refresh at half the lifetime")
    }

    func testSendIndicationUntilChannelBoundThenChannelData() throws {
        var client = TURNClientCore(server: server, username: "u", password: "p")
        let peer = TransportAddress("127.0.0.1", 5000)!
        let indication = try STUNMessage.decode(client.wrap([1, 2, 3], to: peer)).message
        XCTAssertEqual(indication.method, .send)
        XCTAssertEqual(indication.messageClass, .indication)
        XCTAssertEqual(indication.xorPeerAddress, peer)
        XCTAssertEqual(indication.data, [1, 2, 3])
        client.bindChannel(to: peer, now: .zero)
        let request = try STUNMessage.decode(client.takeOutgoing()[0]).message
        XCTAssertEqual(request.channelNumber, 0x4000)
        client.receive(STUNMessage(method: .channelBind, class: .success, transactionID: request.transactionID).encode(), now: .zero)
        XCTAssertEqual(client.wrap([1, 2, 3], to: peer), [0x40, 0x00, 0x00, 0x03, 1, 2, 3])
        client.receive([0x40, 0x00, 0x00, 0x02, 9, 8, 0, 0], now: .zero)
        XCTAssertEqual(client.takeEvents().last, .data(from: peer, bytes: [9, 8]))
        client.receive([0x40, 0x01, 0x00, 0x02, 9, 8], now: .zero)
        XCTAssertEqual(client.rejected.total, 1, "unbound channel")
    }
}

/// Against the coturn Scripts/testenv/up starts (127.0.0.1, REST shared secret).
final class TURNServerTests: XCTestCase {
    func testRelayBetweenTwoAllocationsThroughCoturn() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let portText = environment["DIALTONE_TEST_TURN_PORT"], let port = UInt16(portText),
              let secret = environment["DIALTONE_TEST_TURN_SECRET"] else {
            throw missingPart("DIALTONE_TEST_TURN_PORT unset; Scripts/test starts coturn")
        }
        let server = TransportAddress(ip: .loopbackV4, port: port)
        let expiry = Int(Date().timeIntervalSince1970) + 3600
        let aliceCredentials = TURNClientCore.restCredentials(secret: secret, name: "alice", expiry: expiry)
        let bobCredentials = TURNClientCore.restCredentials(secret: secret, name: "bob", expiry: expiry)
        let alice = TURNAllocation(server: server, username: aliceCredentials.username, password: aliceCredentials.password)
        let bob = TURNAllocation(server: server, username: bobCredentials.username, password: bobCredentials.password)

        try await withHangGuard(.seconds(30)) {
            let aliceRelay = try await alice.allocate()
            let bobRelay = try await bob.allocate()
            XCTAssertEqual(aliceRelay.ip, .loopbackV4)
            XCTAssertNotEqual(aliceRelay, bobRelay)
            try await alice.createPermission(for: [bobRelay])
            try await bob.createPermission(for: [aliceRelay])

            // Send and Data indications.
            await alice.send(Array("hello via send indication".utf8), to: bobRelay)
            var bobInbox = bob.received.makeAsyncIterator()
            let first = await bobInbox.next()
            XCTAssertEqual(first, TURNData(peer: aliceRelay, bytes: Array("hello via send indication".utf8)))

            // Channels both ways.
            try await alice.bindChannel(to: bobRelay)
            try await bob.bindChannel(to: aliceRelay)
            await bob.send(Array("reply on a channel".utf8), to: aliceRelay)
            var aliceInbox = alice.received.makeAsyncIterator()
            let second = await aliceInbox.next()
            XCTAssertEqual(second, TURNData(peer: bobRelay, bytes: Array("reply on a channel".utf8)))
            await alice.send(Array("and back".utf8), to: bobRelay)
            let third = await bobInbox.next()
            XCTAssertEqual(third, TURNData(peer: aliceRelay, bytes: Array("and back".utf8)))

            try await alice.refresh(lifetime: 300)
            await alice.close()
            await bob.close()
            let relayAfterClose = await alice.relayedAddress
            XCTAssertNil(relayAfterClose, "deallocated")
        }
    }

    func testWrongPasswordIsRefused() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let portText = environment["DIALTONE_TEST_TURN_PORT"], let port = UInt16(portText) else {
            throw missingPart("DIALTONE_TEST_TURN_PORT unset; Scripts/test starts coturn")
        }
        let expiry = Int(Date().timeIntervalSince1970) + 3600
        let bad = TURNClientCore.restCredentials(secret: "not-the-secret", name: "mallory", expiry: expiry)
        let allocation = TURNAllocation(server: TransportAddress(ip: .loopbackV4, port: port), username: bad.username, password: bad.password)
        do {
            _ = try await withHangGuard(.seconds(30)) { try await allocation.allocate() }
            XCTFail("allocated with a wrong password")
        } catch let error as TURNError {
            guard case .failed(let reason) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(reason.hasPrefix("401"), reason)
        }
        await allocation.close()
    }
}

/// Two of our ICE agents that may only use relayed candidates, through coturn.
final class ICERelayTests: XCTestCase {
    func testRelayOnlyAgentsConnectThroughCoturn() async throws {
        try await relayOnlyCall(callerTransport: .udp, calleeTransport: .udp)
    }

    /// Where UDP to the TURN server is blocked: the allocation is made over TCP (the relayed
    /// candidate is still UDP towards the peer), here on one side and on both.
    func testRelayOverTCPToCoturn() async throws {
        try await relayOnlyCall(callerTransport: .tcp, calleeTransport: .udp)
        try await relayOnlyCall(callerTransport: .tcp, calleeTransport: .tcp)
    }

    /// TURN over TLS ("turns:"), the server's certificate checked against the test CA.
    func testRelayOverTLSToCoturn() async throws {
        try await relayOnlyCall(callerTransport: .tls, calleeTransport: .udp)
    }

    /// UDP to the TURN server is blocked (here: a port where nothing answers UDP): after the
    /// retransmissions the same server is tried over TCP, and the relayed candidate comes then.
    func testFallsBackToTCPWhenUDPToTheTURNServerIsBlocked() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let port = environment["DIALTONE_TEST_TURN_PORT"].flatMap(UInt16.init),
              let tlsPort = environment["DIALTONE_TEST_TURN_TLS_PORT"].flatMap(UInt16.init),
              let secret = environment["DIALTONE_TEST_TURN_SECRET"] else {
            throw missingPart("no coturn; Scripts/test starts one")
        }
        let credentials = TURNClientCore.restCredentials(secret: secret, name: "fb", expiry: Int(Date().timeIntervalSince1970) + 3600)
        let agent = ICEAgent(role: .controlling, configuration: loopbackConfiguration {
            // coturn's TLS port takes TCP only: UDP sent there is never answered.
            $0.turnServer = TURNServerConfiguration(address: TransportAddress(ip: .loopbackV4, port: tlsPort),
                                                    username: credentials.username, password: credentials.password)
            $0.turnFallbacks = [TURNServerConfiguration(address: TransportAddress(ip: .loopbackV4, port: port),
                                                        username: credentials.username, password: credentials.password, transport: .tcp)]
            $0.turnRetransmission = .init(rto: .milliseconds(100), rc: 2, rm: 2)
            $0.relayOnly = true
        })
        try await agent.start()
        let relayed = try await withHangGuard(.seconds(15)) { () -> ICECandidate? in
            for await event in agent.events {
                if case .localCandidate(let candidate) = event, candidate.type == .relayed { return candidate }
            }
            return nil
        }
        XCTAssertEqual(relayed?.type, .relayed, "the relayed candidate arrives, trickled, after the fallback")
        await agent.close()
    }

    /// A certificate from a CA we do not trust: no relayed candidate, so nothing connects.
    func testTURNOverTLSRefusesAnUntrustedCertificate() async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let tlsPort = environment["DIALTONE_TEST_TURN_TLS_PORT"].flatMap(UInt16.init),
              let untrusted = environment["DIALTONE_TEST_UNTRUSTED_CA"], let secret = environment["DIALTONE_TEST_TURN_SECRET"] else {
            throw missingPart("no coturn TLS listener; Scripts/test starts one")
        }
        let credentials = TURNClientCore.restCredentials(secret: secret, name: "x", expiry: Int(Date().timeIntervalSince1970) + 3600)
        let agent = ICEAgent(role: .controlling, configuration: loopbackConfiguration {
            $0.turnServer = TURNServerConfiguration(address: TransportAddress(ip: .loopbackV4, port: tlsPort),
                                                    username: credentials.username, password: credentials.password,
                                                    transport: .tls, caFile: untrusted)
            $0.relayOnly = true
        })
        try await agent.start()
        let candidates = await agent.gatherAll()
        XCTAssertTrue(candidates.isEmpty, "no relay through a server whose certificate does not verify: \(candidates)")
        await agent.close()
    }

    func relayOnlyCall(callerTransport: TURNTransport, calleeTransport: TURNTransport) async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let portText = environment["DIALTONE_TEST_TURN_PORT"], let port = UInt16(portText),
              let secret = environment["DIALTONE_TEST_TURN_SECRET"] else {
            throw missingPart("DIALTONE_TEST_TURN_PORT unset; Scripts/test starts coturn")
        }
        let expiry = Int(Date().timeIntervalSince1970) + 3600
        func configuration(_ name: String, _ transport: TURNTransport) -> ICEConfiguration {
            let credentials = TURNClientCore.restCredentials(secret: secret, name: name, expiry: expiry)
            let tlsPort = environment["DIALTONE_TEST_TURN_TLS_PORT"].flatMap(UInt16.init) ?? port + 10
            return loopbackConfiguration {
                $0.turnServer = TURNServerConfiguration(address: TransportAddress(ip: .loopbackV4, port: transport == .tls ? tlsPort : port),
                                                        username: credentials.username, password: credentials.password,
                                                        transport: transport, caFile: environment["DIALTONE_TEST_CA"])
                $0.relayOnly = true
            }
        }
        let caller = ICEAgent(role: .controlling, configuration: configuration("caller", callerTransport))
        let callee = ICEAgent(role: .controlled, configuration: configuration("callee", calleeTransport))
        try await caller.start()
        try await callee.start()
        let callerCandidates = await caller.gatherAll()
        let calleeCandidates = await callee.gatherAll()
        XCTAssertEqual(callerCandidates.map(\.type), [.relayed])
        XCTAssertEqual(calleeCandidates.map(\.type), [.relayed])

        let (callerUfrag, callerPassword) = await caller.localCredentials
        let (calleeUfrag, calleePassword) = await callee.localCredentials
        await caller.setRemoteCredentials(ufrag: calleeUfrag, password: calleePassword)
        await callee.setRemoteCredentials(ufrag: callerUfrag, password: callerPassword)
        for candidate in calleeCandidates { await caller.addRemoteCandidate(candidate) }
        for candidate in callerCandidates { await callee.addRemoteCandidate(candidate) }
        await caller.endOfRemoteCandidates()
        await callee.endOfRemoteCandidates()
        try await withHangGuard(.seconds(30)) {
            try await caller.connected()
            try await callee.connected()
        }
        let pair = await caller.selectedPair
        XCTAssertEqual(pair?.local.type, .relayed)
        XCTAssertEqual(pair?.remote.type, .relayed)

        let rtp: [UInt8] = [0x80, 0x6F, 0, 9] + Array("through the relay".utf8)
        try await caller.send(rtp)
        let reply: [UInt8] = [0x80, 0x6F, 0, 10] + Array("and back".utf8)
        try await callee.send(reply)
        let got = try await withHangGuard(.seconds(10)) { () -> (MediaPacket?, MediaPacket?) in
            var a = callee.incoming.makeAsyncIterator()
            var b = caller.incoming.makeAsyncIterator()
            return (await a.next(), await b.next())
        }
        XCTAssertEqual(got.0?.bytes, rtp)
        XCTAssertEqual(got.1?.bytes, reply)

        // Once selected, the relayed pair gets a channel, and media goes as ChannelData
        // (padded to four bytes over TCP: this payload is 21 bytes long).
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline, !(await caller.relayChannelBound) { try await Task.sleep(for: .milliseconds(20)) }
        let callerBound = await caller.relayChannelBound
        XCTAssertTrue(callerBound, "a channel was bound for the selected relayed pair")
        let odd: [UInt8] = [0x80, 0x6F, 0, 11] + Array("over the channel!".utf8)
        try await caller.send(odd)
        let again = try await withHangGuard(.seconds(10)) { () -> MediaPacket? in
            var a = callee.incoming.makeAsyncIterator()
            return await a.next()
        }
        XCTAssertEqual(again?.bytes, odd)
        await caller.close()
        await callee.close()
    }
}
