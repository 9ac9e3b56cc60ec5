import NIOCore
import Synchronization
import NIOPosix
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
        let (caller, callee) = try await startedAgents()
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
    /// Once a pair is nominated, RTP goes socket to socket without the agents' actors: the
    /// caller's direct route writes it, the callee's event loop hands it to the receiver. DTLS
    /// and RTP from an address that is not the selected pair still go through the agent.
    func testSelectedPairCarriesRTPDirectlyAndNothingElse() async throws {
        let (caller, callee) = try await startedAgents()
        XCTAssertFalse(caller.directRoute.send(UnsafeRawBufferPointer(start: nil, count: 0)), "no route before a pair is nominated")
        try await connect(caller, callee)

        let (received, sink) = AsyncStream<[UInt8]>.makeStream()
        callee.directRoute.setReceiver { sink.yield(Array($0)) }
        let rtp: [UInt8] = [0x80, 0x6F, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1] + Array("direct".utf8)
        // The nomination reaches the route with the agent's next flush; give it a moment.
        var sent = false
        for _ in 0..<100 where !sent {
            sent = rtp.withUnsafeBytes { caller.directRoute.send($0) }
            if !sent { try await Task.sleep(for: .milliseconds(10)) }
        }
        XCTAssertTrue(sent, "the caller's direct route takes RTP once connected")
        let direct = try await withHangGuard(.seconds(10)) { () -> [UInt8]? in
            var iterator = received.makeAsyncIterator()
            return await iterator.next()
        }
        XCTAssertEqual(direct, rtp)

        // DTLS on the same pair is the agent's, as is RTP from a socket that is no pair at all.
        let dtls: [UInt8] = [22, 0xFE, 0xFD] + Array("late flight".utf8)
        XCTAssertTrue(dtls.withUnsafeBytes { caller.directRoute.send($0) })
        let stray = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let calleePair = await callee.selectedPair
        let calleeAddress = try XCTUnwrap(calleePair?.local.address)
        var buffer = stray.allocator.buffer(capacity: rtp.count)
        buffer.writeBytes(rtp)
        try await stray.writeAndFlush(AddressedEnvelope(remoteAddress: try calleeAddress.socketAddress(), data: buffer))
        let viaAgent = try await withHangGuard(.seconds(10)) { () -> MediaPacket? in
            var iterator = callee.incoming.makeAsyncIterator()
            return await iterator.next()
        }
        XCTAssertEqual(viaAgent, MediaPacket(kind: .dtls, bytes: dtls), "DTLS goes through the agent")
        try await Task.sleep(for: .milliseconds(200))
        let dropped = await callee.statistics.mediaDropped
        XCTAssertEqual(dropped, 1, "the stranger's RTP met the agent's check and was dropped")
        try await stray.close()
        await caller.close()
        await callee.close()
        XCTAssertFalse(rtp.withUnsafeBytes { caller.directRoute.send($0) }, "no route after close")
    }

    /// The playback thread reads the selected pair's socket itself: the peer's RTP comes out
    /// of `readWaiting` with its kernel arrival time, the event loop no longer hands it over,
    /// DTLS and a stranger's RTP read that way still reach the agent, and after
    /// `stopReading` the event loop delivers again.
    func testMediaThreadReadsTheSelectedPairAndForwardsTheRest() async throws {
        let (caller, callee) = try await startedAgents()
        XCTAssertFalse(callee.directRoute.readWaiting { _, _ in XCTFail("nothing to read before a pair") })
        try await connect(caller, callee)
        let pushed = Counter()
        callee.directRoute.setReceiver { _ in pushed.add() }
        try await eventually("both routes have the nominated pair") { callee.directRoute.current != nil && caller.directRoute.current != nil }
        // The first read pauses the event loop's reading of the socket (applied on its loop).
        XCTAssertTrue(callee.directRoute.readWaiting { _, _ in })
        try await eventually("the event loop stops reading") { await callee.directRoute.eventLoopReads() == false }
        let pushedBefore = pushed.value

        let rtp: [UInt8] = [0x80, 0x6F, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1] + Array("pulled".utf8)
        let sentAt = monotonicNow()
        XCTAssertTrue(rtp.withUnsafeBytes { caller.directRoute.send($0) })
        let dtls: [UInt8] = [22, 0xFE, 0xFD] + Array("read by the media thread".utf8)
        XCTAssertTrue(dtls.withUnsafeBytes { caller.directRoute.send($0) })
        let stray = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
        let selected = await callee.selectedPair
        let calleeAddress = try XCTUnwrap(selected?.local.address)
        var buffer = stray.allocator.buffer(capacity: rtp.count)
        buffer.writeBytes(rtp)
        try await stray.writeAndFlush(AddressedEnvelope(remoteAddress: try calleeAddress.socketAddress(), data: buffer))
        try await Task.sleep(for: .milliseconds(100))

        var read: [([UInt8], Int64)] = []
        XCTAssertTrue(callee.directRoute.readWaiting { datagram, arrival in read.append((Array(datagram), arrival)) })
        let readAt = monotonicNow()
        XCTAssertEqual(read.map(\.0), [rtp], "only the pair's RTP is the reader's")
        if let arrival = read.first?.1 {
            // (Realtime to monotonic is exact to the time between two clock reads: 2 ms of slack.)
            XCTAssertGreaterThanOrEqual(arrival, sentAt - 2_000_000, "arrival is when the kernel got it…")
            XCTAssertLessThan(arrival, readAt - 50_000_000, "…not when it was read, 100 ms later")
        }
        XCTAssertEqual(pushed.value, pushedBefore, "the event loop no longer hands RTP over")
        let viaAgent = try await withHangGuard(.seconds(10)) { () -> MediaPacket? in
            var iterator = callee.incoming.makeAsyncIterator()
            return await iterator.next()
        }
        XCTAssertEqual(viaAgent, MediaPacket(kind: .dtls, bytes: dtls), "DTLS read by the media thread goes to the agent")
        try await Task.sleep(for: .milliseconds(100))
        let dropped = await callee.statistics.mediaDropped
        XCTAssertEqual(dropped, 1, "the stranger's RTP went to the agent, which dropped it")

        callee.directRoute.stopReading()
        try await eventually("the event loop reads again") { await callee.directRoute.eventLoopReads() == true }
        XCTAssertTrue(rtp.withUnsafeBytes { caller.directRoute.send($0) })
        for _ in 0..<100 where pushed.value == pushedBefore { try await Task.sleep(for: .milliseconds(10)) }
        XCTAssertEqual(pushed.value, pushedBefore + 1, "after stopReading the event loop delivers again")
        try await stray.close()
        await caller.close()
        await callee.close()
        XCTAssertFalse(callee.directRoute.readWaiting { _, _ in }, "nothing to read after close")
    }

    /// A reader that stops reading (a sound device blocked for good) gets the socket taken
    /// back by the agent's timer, so consent checks go on being answered; reading again takes
    /// it again. A flood is read a bounded number of datagrams at a time.
    func testStalledReaderGivesTheSocketBackAndAFloodIsReadInSlices() async throws {
        let (caller, callee) = try await startedAgents()
        try await connect(caller, callee)
        try await eventually("the callee's route has the pair") { callee.directRoute.current != nil && caller.directRoute.current != nil }
        callee.directRoute.setReceiver { _ in }
        XCTAssertTrue(callee.directRoute.readWaiting { _, _ in })
        try await eventually("the event loop stops reading") { await callee.directRoute.eventLoopReads() == false }

        let rtp: [UInt8] = [0x80, 0x6F, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1] + Array("flood".utf8)
        for _ in 0..<100 { XCTAssertTrue(rtp.withUnsafeBytes { caller.directRoute.send($0) }) }
        try await Task.sleep(for: .milliseconds(50))
        var slices: [Int] = []
        for _ in 0..<5 {
            var count = 0
            callee.directRoute.readWaiting { _, _ in count += 1 }
            slices.append(count)
        }
        XCTAssertEqual(slices.max(), DirectMediaRoute.datagramsPerRead, "one read takes at most a slice: \(slices)")
        XCTAssertEqual(slices.reduce(0, +), 100, "and the next reads the rest: \(slices)")

        // Not stalled yet: the timer leaves the reader alone.
        callee.directRoute.resumeIfReaderStalled()
        let stillPaused = await callee.directRoute.eventLoopReads()
        XCTAssertEqual(stillPaused, false)
        // A second later with no read: the socket goes back to the event loop.
        callee.directRoute.resumeIfReaderStalled(now: monotonicNow() + 2_000_000_000)
        try await eventually("the event loop reads again") { await callee.directRoute.eventLoopReads() == true }
        XCTAssertTrue(callee.directRoute.readWaiting { _, _ in })
        try await eventually("a read takes it again") { await callee.directRoute.eventLoopReads() == false }
        await caller.close()
        await callee.close()
    }

    /// Two of our agents on 127.0.0.1, sockets bound and gathering.
    private func startedAgents() async throws -> (caller: ICEAgent, callee: ICEAgent) {
        let caller = ICEAgent(role: .controlling, configuration: loopbackConfiguration())
        let callee = ICEAgent(role: .controlled, configuration: loopbackConfiguration())
        try await caller.start()
        try await callee.start()
        return (caller, callee)
    }

    /// Gives each agent the other's credentials and all its candidates, and waits until both
    /// are connected.
    private func connect(_ caller: ICEAgent, _ callee: ICEAgent) async throws {
        let (callerUfrag, callerPassword) = await caller.localCredentials
        let (calleeUfrag, calleePassword) = await callee.localCredentials
        await caller.setRemoteCredentials(ufrag: calleeUfrag, password: calleePassword)
        await callee.setRemoteCredentials(ufrag: callerUfrag, password: callerPassword)
        for candidate in await callee.gatherAll() { await caller.addRemoteCandidate(candidate) }
        for candidate in await caller.gatherAll() { await callee.addRemoteCandidate(candidate) }
        await caller.endOfRemoteCandidates()
        await callee.endOfRemoteCandidates()
        try await withHangGuard(.seconds(20)) {
            try await caller.connected()
            try await callee.connected()
        }
    }

    /// Polls `condition` every 10 ms for up to 5 s.
    private func eventually(_ what: String, _ condition: () async -> Bool) async throws {
        for _ in 0..<500 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("timed out waiting: \(what)")
    }

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

private final class Counter: Sendable {
    private let count = Mutex(0)
    func add() { count.withLock { $0 += 1 } }
    var value: Int { count.withLock { $0 } }
}
