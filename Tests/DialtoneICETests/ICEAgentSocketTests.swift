import XCTest
@testable import DialtoneICE

func loopbackConfiguration(_ configure: (inout ICEConfiguration) -> Void = { _ in }) -> ICEConfiguration {
    var configuration = ICEConfiguration()
    configuration.loopbackOnly = true
    configuration.useIPv6 = false
    configure(&configuration)
    return configuration
}

/// Two of our agents over real UDP sockets on 127.0.0.1.
final class ICEAgentSocketTests: XCTestCase {
    func testTwoAgentsConnectAndExchangeMediaOnLoopback() async throws {
        let caller = ICEAgent(role: .controlling, configuration: loopbackConfiguration())
        let callee = ICEAgent(role: .controlled, configuration: loopbackConfiguration())
        try await caller.start()
        try await callee.start()
        let callerCandidates = await caller.gatherAll()
        let calleeCandidates = await callee.gatherAll()
        XCTAssertFalse(callerCandidates.isEmpty)
        XCTAssertTrue(callerCandidates.allSatisfy { $0.address.ip == .loopbackV4 && $0.type == .host })

        let (callerUfrag, callerPassword) = await caller.localCredentials
        let (calleeUfrag, calleePassword) = await callee.localCredentials
        await caller.setRemoteCredentials(ufrag: calleeUfrag, password: calleePassword)
        await callee.setRemoteCredentials(ufrag: callerUfrag, password: callerPassword)
        // Trickled, one at a time.
        for candidate in calleeCandidates { await caller.addRemoteCandidate(candidate) }
        for candidate in callerCandidates { await callee.addRemoteCandidate(candidate) }
        await caller.endOfRemoteCandidates()
        await callee.endOfRemoteCandidates()

        try await withHangGuard(.seconds(20)) {
            try await caller.connected()
            try await callee.connected()
        }
        let callerPair = await caller.selectedPair
        let calleePair = await callee.selectedPair
        XCTAssertEqual(callerPair?.nominated, true)
        XCTAssertEqual(calleePair?.nominated, true)
        XCTAssertEqual(callerPair?.local.address, calleePair?.remote.address)

        let rtp: [UInt8] = [0x80, 0x6F, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + Array("hello".utf8)
        try await caller.send(rtp)
        let dtls: [UInt8] = [22, 0xFE, 0xFD] + Array("client hello".utf8)
        try await callee.send(dtls)
        let got = try await withHangGuard(.seconds(10)) { () -> (MediaPacket?, MediaPacket?) in
            var a = callee.incoming.makeAsyncIterator()
            var b = caller.incoming.makeAsyncIterator()
            return (await a.next(), await b.next())
        }
        XCTAssertEqual(got.0, MediaPacket(kind: .rtp, bytes: rtp))
        XCTAssertEqual(got.1, MediaPacket(kind: .dtls, bytes: dtls))

        let stats = await callee.statistics
        XCTAssertGreaterThan(stats.checksReceived, 0)
        XCTAssertEqual(stats.rejected.total, 0)
        await caller.close()
        await callee.close()
        do {
            try await caller.send(rtp)
            XCTFail("send after close")
        } catch {
            XCTAssertEqual(error as? ICEError, .closed)
        }
    }

    /// Enumerating interfaces sends nothing; it only checks what would become a host candidate.
    func testHostAddressesLeaveOutLoopbackAndLinkLocal() throws {
        var configuration = ICEConfiguration()
        configuration.useIPv6 = true
        let addresses = try ICEAgent.hostAddresses(configuration)
        XCTAssertFalse(addresses.contains { $0.isLoopback || $0.isLinkLocal })
        XCTAssertEqual(addresses, addresses.filter { !$0.isIPv4 } + addresses.filter(\.isIPv4), "IPv6 first")
        configuration.useIPv6 = false
        XCTAssertTrue(try ICEAgent.hostAddresses(configuration).allSatisfy(\.isIPv4))
        XCTAssertTrue(IPAddress("fe80::1")!.isLinkLocal)
        XCTAssertTrue(IPAddress("169.254.3.4")!.isLinkLocal)
        XCTAssertFalse(IPAddress("2001:db8::1")!.isLinkLocal)
    }

    func testLoopbackOnlyGathersNothingElse() throws {
        let addresses = try ICEAgent.hostAddresses(loopbackConfiguration { $0.useIPv6 = true })
        XCTAssertEqual(addresses, [.loopbackV6, .loopbackV4])
    }
}
