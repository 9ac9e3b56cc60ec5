import XCTest
@testable import DialtoneICE

/// Agents wired together in memory: every `.send` is delivered (or dropped) at the next step,
/// and time only moves when the test moves it.
struct SimulatedNetwork {
    var agents: [ICEAgentCore]
    /// Socket addresses per agent, by socket id.
    var addresses: [[TransportAddress]]
    var now: ICETime = .zero
    var media: [[MediaPacket]]
    var events: [[ICEAction]]
    var drop: (_ from: TransportAddress, _ to: TransportAddress, _ bytes: [UInt8]) -> Bool = { _, _, _ in false }
    var delivered = 0

    init(_ agents: [ICEAgentCore], addresses: [[TransportAddress]]) {
        self.agents = agents
        self.addresses = addresses
        media = agents.map { _ in [] }
        events = agents.map { _ in [] }
        for i in agents.indices {
            for (socket, address) in addresses[i].enumerated() {
                self.agents[i].addSocket(id: socket, address: address, now: now)
            }
            self.agents[i].startGathering(now: now)
        }
    }

    /// Exchanges credentials and every current local candidate both ways.
    mutating func signal() {
        for i in agents.indices {
            for j in agents.indices where i != j {
                agents[j].setRemoteCredentials(ufrag: agents[i].localUfrag, password: agents[i].localPassword, now: now)
                for candidate in agents[i].localCandidates { agents[j].addRemoteCandidate(candidate, now: now) }
            }
        }
    }

    /// Runs until `until`, stepping `step` at a time, delivering packets between steps.
    mutating func run(for duration: Duration, step: Duration = .milliseconds(5)) {
        let end = now + duration
        while now < end {
            for i in agents.indices { agents[i].tick(now: now) }
            deliverAll()
            now += step
        }
    }

    mutating func deliverAll() {
        var rounds = 0
        while rounds < 20 {
            rounds += 1
            var any = false
            for i in agents.indices {
                for action in agents[i].takeActions() {
                    switch action {
                    case .send(let socket, let to, let bytes):
                        any = true
                        let from = addresses[i][socket]
                        if drop(from, to, bytes) { continue }
                        for j in agents.indices {
                            if let target = addresses[j].firstIndex(of: to) {
                                delivered += 1
                                agents[j].receive(bytes, from: from, socket: target, now: now)
                            }
                        }
                    case .media(let packet):
                        media[i].append(packet)
                    default:
                        events[i].append(action)
                    }
                }
            }
            if !any { break }
        }
    }

    func isNominatedAndSame() -> Bool {
        guard let a = agents[0].selectedPair, let b = agents[1].selectedPair else { return false }
        return a.nominated && b.nominated && a.local.address == b.remote.address && a.remote.address == b.local.address
    }
}

let addrA = TransportAddress("127.0.0.1", 10001)!
let addrA2 = TransportAddress("127.0.0.1", 10002)!
let addrB = TransportAddress("127.0.0.1", 20001)!
let addrB2 = TransportAddress("127.0.0.1", 20002)!

/// Plays the peer whose password is "peerpasswordpeerpassword": answers every check the agent sent.
func answerChecks(_ agent: inout ICEAgentCore, at t: Duration) {
    for action in agent.takeActions() {
        guard case .send(let socket, let to, let bytes) = action, let decoded = try? STUNMessage.decode(bytes),
              decoded.message.messageClass == .request else { continue }
        let response = STUNMessage(method: .binding, class: .success, transactionID: decoded.message.transactionID,
                                   attributes: [.xorMappedAddress(addrB)])
            .encode(integrity: .shortTerm("peerpasswordpeerpassword"), fingerprint: true)
        agent.receive(response, from: to, socket: socket, now: t)
    }
}

func makeCore(_ role: ICERole, tieBreaker: UInt64? = nil, configure: (inout ICEConfiguration) -> Void = { _ in }) -> ICEAgentCore {
    var configuration = ICEConfiguration()
    configure(&configuration)
    return ICEAgentCore(role: role, configuration: configuration, tieBreaker: tieBreaker)
}

final class ICEAgentCoreTests: XCTestCase {
    func testTwoAgentsConnectOnOneNominatedPair() {
        var net = SimulatedNetwork([makeCore(.controlling), makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.signal()
        net.run(for: .seconds(1))
        XCTAssertEqual(net.agents[0].state, .connected)
        XCTAssertEqual(net.agents[1].state, .connected)
        XCTAssertTrue(net.isNominatedAndSame())
        XCTAssertEqual(net.agents[0].statistics.rejected.total, 0)
        XCTAssertEqual(net.agents[1].statistics.rejected.total, 0)
    }

    func testAggressiveNominationAndManyPairsStillAgree() {
        var net = SimulatedNetwork([makeCore(.controlling) { $0.aggressiveNomination = true }, makeCore(.controlled)],
                                   addresses: [[addrA, addrA2], [addrB, addrB2]])
        net.signal()
        net.run(for: .seconds(2))
        XCTAssertEqual(net.agents[0].state, .connected)
        XCTAssertEqual(net.agents[1].state, .connected)
        XCTAssertEqual(net.agents[1].pairSnapshots.count, 4)
        XCTAssertTrue(net.isNominatedAndSame())
    }

    /// specs item 2: a check that arrives must be answered and then checked back.
    func testIncomingCheckTriggersReverseCheck() throws {
        var controlled = makeCore(.controlled)
        controlled.addSocket(id: 0, address: addrB, now: .zero)
        controlled.startGathering(now: .zero)
        controlled.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        _ = controlled.takeActions()
        let check = STUNMessage(method: .binding, class: .request, attributes: [
            .username("\(controlled.localUfrag):peer"), .priority(1_845_501_695), .iceControlling(42),
        ]).encode(integrity: .shortTerm(controlled.localPassword), fingerprint: true)
        controlled.receive(check, from: addrA, socket: 0, now: .milliseconds(1))
        let answered = controlled.takeActions()
        guard case .send(0, addrA, let responseBytes) = answered.first else { return XCTFail("no response: \(answered)") }
        let response = try STUNMessage.decode(responseBytes)
        XCTAssertEqual(response.message.messageClass, .success)
        XCTAssertEqual(response.message.xorMappedAddress, addrA)
        XCTAssertNoThrow(try response.verifyIntegrity(.shortTerm(controlled.localPassword)))
        // Peer-reflexive: the sender was not signalled.
        XCTAssertEqual(controlled.remoteCandidates.map(\.type), [.peerReflexive])

        controlled.tick(now: .milliseconds(2))
        let triggered = controlled.takeActions()
        guard case .send(0, addrA, let checkBytes) = triggered.first else { return XCTFail("no triggered check: \(triggered)") }
        let reverse = try STUNMessage.decode(checkBytes)
        XCTAssertEqual(reverse.message.messageClass, .request)
        XCTAssertEqual(reverse.message.username, "peer:\(controlled.localUfrag)")
        XCTAssertNoThrow(try reverse.verifyIntegrity(.shortTerm("peerpasswordpeerpassword")))
    }

    /// specs item 1: the controlled side uses the pair the controller nominated, even when a
    /// better-priority pair is valid too.
    func testSelectedPairIsTheNominatedOneNotTheBestValid() {
        var controlled = makeCore(.controlled)
        controlled.addSocket(id: 0, address: addrB, now: .zero)
        controlled.startGathering(now: .zero)
        controlled.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        func check(from: TransportAddress, priority: UInt32, useCandidate: Bool, at t: Duration) {
            var attributes: [STUNAttribute] = [.username("\(controlled.localUfrag):peer"), .priority(priority), .iceControlling(7)]
            if useCandidate { attributes.append(.useCandidate) }
            let bytes = STUNMessage(method: .binding, class: .request, attributes: attributes)
                .encode(integrity: .shortTerm(controlled.localPassword), fingerprint: true)
            controlled.receive(bytes, from: from, socket: 0, now: t)
        }
        check(from: addrA, priority: 2_000_000_000, useCandidate: false, at: .milliseconds(1))
        check(from: addrA2, priority: 1000, useCandidate: false, at: .milliseconds(1))
        for step in 1...10 {
            controlled.tick(now: .milliseconds(step * 60))
            answerChecks(&controlled, at: .milliseconds(step * 60))
        }
        XCTAssertEqual(controlled.pairSnapshots.filter { $0.state == .succeeded }.count, 2)
        XCTAssertNil(controlled.selectedPair, "valid is not nominated")
        XCTAssertNil(controlled.mediaRoute())
        check(from: addrA2, priority: 1000, useCandidate: true, at: .seconds(1))
        XCTAssertEqual(controlled.selectedPair?.remote.address, addrA2)
        XCTAssertEqual(controlled.mediaRoute()?.to, addrA2)
        XCTAssertEqual(controlled.state, .connected)
        // The better pair stays unused until it is nominated itself.
        check(from: addrA, priority: 2_000_000_000, useCandidate: false, at: .seconds(2))
        XCTAssertEqual(controlled.selectedPair?.remote.address, addrA2)
    }

    /// specs item 4: libwebrtc's NOMINATION numbers; the highest wins, whatever the order.
    func testRenominationHighestValueWins() throws {
        var controlled = makeCore(.controlled)
        controlled.addSocket(id: 0, address: addrB, now: .zero)
        controlled.startGathering(now: .zero)
        controlled.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        func check(from: TransportAddress, nomination: UInt32?, at t: Duration) {
            var attributes: [STUNAttribute] = [.username("\(controlled.localUfrag):peer"), .priority(1000), .iceControlling(7)]
            if let nomination { attributes.append(.nomination(nomination)) }
            let bytes = STUNMessage(method: .binding, class: .request, attributes: attributes)
                .encode(integrity: .shortTerm(controlled.localPassword), fingerprint: true)
            controlled.receive(bytes, from: from, socket: 0, now: t)
        }
        check(from: addrA, nomination: nil, at: .milliseconds(1))
        check(from: addrA2, nomination: nil, at: .milliseconds(1))
        for step in 1...10 {
            controlled.tick(now: .milliseconds(step * 60))
            answerChecks(&controlled, at: .milliseconds(step * 60))
        }
        XCTAssertEqual(controlled.pairSnapshots.filter { $0.state == .succeeded }.count, 2)
        check(from: addrA, nomination: 1, at: .seconds(1))
        XCTAssertEqual(controlled.selectedPair?.remote.address, addrA)
        check(from: addrA2, nomination: 2, at: .seconds(1))
        XCTAssertEqual(controlled.selectedPair?.remote.address, addrA2)
        check(from: addrA, nomination: 1, at: .seconds(1))
        XCTAssertEqual(controlled.selectedPair?.remote.address, addrA2, "a lower number must not win back")
        XCTAssertEqual(controlled.state, .connected)
    }

    /// specs item 5: both think they control; 487 sorts it out and they still connect.
    func testRoleConflictIsResolved() {
        for (first, second) in [(UInt64(5), UInt64(9)), (9, 5)] {
            var net = SimulatedNetwork([makeCore(.controlling, tieBreaker: first), makeCore(.controlling, tieBreaker: second)],
                                       addresses: [[addrA], [addrB]])
            net.signal()
            net.run(for: .seconds(2))
            XCTAssertEqual(net.agents[0].state, .connected)
            XCTAssertEqual(net.agents[1].state, .connected)
            let roles = Set(net.agents.map(\.role))
            XCTAssertEqual(roles, [.controlling, .controlled])
            // The larger tie-breaker keeps control.
            XCTAssertEqual(net.agents[first > second ? 0 : 1].role, .controlling)
            XCTAssertTrue(net.isNominatedAndSame())
        }
        var net = SimulatedNetwork([makeCore(.controlled, tieBreaker: 3), makeCore(.controlled, tieBreaker: 4)],
                                   addresses: [[addrA], [addrB]])
        net.signal()
        net.run(for: .seconds(2))
        XCTAssertEqual(net.agents[1].role, .controlling)
        XCTAssertTrue(net.isNominatedAndSame())
    }

    /// specs item 3: component 2 is ignored with rtcp-mux, and trickled candidates never restart anything.
    func testComponentTwoIgnoredAndTrickleNeverRestarts() {
        var net = SimulatedNetwork([makeCore(.controlling), makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.agents[1].setRemoteCredentials(ufrag: net.agents[0].localUfrag, password: net.agents[0].localPassword, now: .zero)
        net.agents[0].setRemoteCredentials(ufrag: net.agents[1].localUfrag, password: net.agents[1].localPassword, now: .zero)
        var rtcp = net.agents[1].localCandidates[0]
        rtcp.component = 2
        rtcp.address.port = 20003
        net.agents[0].addRemoteCandidate(rtcp, now: .zero)
        XCTAssertEqual(net.agents[0].pairSnapshots.count, 0)
        XCTAssertEqual(net.agents[0].statistics.remoteCandidatesIgnored, 1)
        net.agents[0].addRemoteCandidate(net.agents[1].localCandidates[0], now: .zero)
        net.run(for: .seconds(1))
        XCTAssertEqual(net.agents[0].state, .connected)
        let credentials = (net.agents[0].localUfrag, net.agents[0].localPassword)
        let selected = net.agents[0].selectedPair
        // A late candidate, then a duplicate: no new credentials, selection kept.
        net.agents[0].addRemoteCandidate(ICECandidate(foundation: "9", priority: 5, address: addrB2, type: .host), now: net.now)
        net.agents[0].addRemoteCandidate(net.agents[1].localCandidates[0], now: net.now)
        net.run(for: .seconds(1))
        XCTAssertEqual(net.agents[0].localUfrag, credentials.0)
        XCTAssertEqual(net.agents[0].localPassword, credentials.1)
        XCTAssertEqual(net.agents[0].selectedPair?.remote, selected?.remote)
        XCTAssertEqual(net.agents[0].state, .connected)
        XCTAssertEqual(net.agents[0].pairSnapshots.count, 2)
    }

    func testConsentExpiresAfterThirtySecondsOfSilence() {
        var net = SimulatedNetwork([makeCore(.controlling), makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.signal()
        net.run(for: .seconds(1))
        XCTAssertEqual(net.agents[0].state, .connected)
        // Consent checks keep it alive while answered.
        net.run(for: .seconds(40), step: .milliseconds(100))
        XCTAssertEqual(net.agents[0].state, .connected)
        XCTAssertEqual(net.agents[1].state, .connected)
        let sentBefore = net.agents[0].statistics.checksSent
        XCTAssertGreaterThan(sentBefore, 6, "consent checks about every 5 s")
        // Now B goes silent.
        // The last answer came at most 6 s (1.2 × 5 s) before the silence: consent lasts 24–30 s more.
        net.drop = { from, _, _ in from == addrB }
        net.run(for: .seconds(23), step: .milliseconds(100))
        XCTAssertEqual(net.agents[0].state, .connected)
        net.run(for: .seconds(8), step: .milliseconds(100))
        guard case .failed(let reason) = net.agents[0].state else { return XCTFail("\(net.agents[0].state)") }
        XCTAssertTrue(reason.contains("consent"), reason)
        XCTAssertNil(net.agents[0].mediaRoute())
    }

    /// specs item 6: media from any validated pair is accepted; from elsewhere it is dropped.
    func testMediaOnlyFromValidatedPairs() {
        var net = SimulatedNetwork([makeCore(.controlling), makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.signal()
        net.run(for: .seconds(1))
        let rtp: [UInt8] = [0x80, 0x6F, 0, 1] + [UInt8](repeating: 7, count: 20)
        let dtls: [UInt8] = [22, 0xFE, 0xFD] + [UInt8](repeating: 1, count: 10)
        net.agents[1].receive(rtp, from: addrA, socket: 0, now: net.now)
        net.agents[1].receive(dtls, from: addrA, socket: 0, now: net.now)
        net.agents[1].receive(rtp, from: TransportAddress("127.0.0.1", 9)!, socket: 0, now: net.now)
        net.deliverAll()
        XCTAssertEqual(net.media[1].map(\.kind), [.rtp, .dtls])
        XCTAssertEqual(net.agents[1].statistics.mediaDropped, 1)
        XCTAssertEqual(net.agents[1].mediaRoute()?.to, addrA)
    }

    func testUnauthenticatedChecksAreRefusedAndCounted() throws {
        var agent = makeCore(.controlled)
        agent.addSocket(id: 0, address: addrB, now: .zero)
        _ = agent.takeActions()
        let wrongPassword = STUNMessage(method: .binding, class: .request, attributes: [
            .username("\(agent.localUfrag):x"), .priority(1), .iceControlling(1),
        ]).encode(integrity: .shortTerm("not the password"), fingerprint: true)
        let noIntegrity = STUNMessage(method: .binding, class: .request, attributes: [.username("\(agent.localUfrag):x")]).encode()
        let wrongUser = STUNMessage(method: .binding, class: .request, attributes: [.username("other:x"), .priority(1)])
            .encode(integrity: .shortTerm(agent.localPassword))
        func sendAll() throws -> [Int] {
            for request in [wrongPassword, noIntegrity, wrongUser, [0, 1, 0, 0, 1, 2, 3]] {
                agent.receive(request, from: addrA, socket: 0, now: .zero)
            }
            return try agent.takeActions().compactMap { action -> Int? in
                guard case .send(_, _, let bytes) = action else { return nil }
                return try STUNMessage.decode(bytes).message.errorCode?.code
            }
        }
        // From an address we have no pair with (perhaps forged): counted, never answered,
        // as an answer larger than the request would make us a reflector.
        XCTAssertEqual(try sendAll(), [])
        XCTAssertEqual(agent.statistics.unansweredUnauthenticatedChecks, 3)
        XCTAssertEqual(agent.statistics.rejected[.integrityMismatch], 1)
        XCTAssertEqual(agent.statistics.rejected[.missingIntegrity], 1)
        XCTAssertEqual(agent.statistics.rejected[.wrongUsername], 1)
        XCTAssertEqual(agent.statistics.rejected[.tooShort], 1)
        XCTAssertTrue(agent.remoteCandidates.isEmpty, "nothing learnt from unauthenticated checks")
        // From the peer's signalled candidate: it is told what is wrong.
        agent.addRemoteCandidate(ICECandidate(foundation: "1", priority: 1, address: addrA, type: .host), now: .zero)
        _ = agent.takeActions()
        XCTAssertEqual(try sendAll(), [401, 400, 401])
        XCTAssertEqual(agent.statistics.unansweredUnauthenticatedChecks, 3)
    }

    func testFailsWithReasonWhenNothingAnswers() {
        var net = SimulatedNetwork([makeCore(.controlling) { $0.checkRetransmission = .init(rto: .milliseconds(100), rc: 3, rm: 4) },
                                    makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.drop = { _, _, _ in true }
        net.signal()
        net.run(for: .seconds(2))
        XCTAssertEqual(net.agents[0].state, .checking, "no failure before end-of-candidates")
        net.agents[0].endOfRemoteCandidates(now: net.now)
        net.run(for: .milliseconds(10))
        XCTAssertEqual(net.agents[0].state, .failed(reason: "all connectivity checks failed"))
    }

    func testRestartReconnectsWithNewCredentials() {
        var net = SimulatedNetwork([makeCore(.controlling), makeCore(.controlled)], addresses: [[addrA], [addrB]])
        net.signal()
        net.run(for: .seconds(1))
        XCTAssertTrue(net.isNominatedAndSame())
        let oldUfrag = net.agents[0].localUfrag
        net.agents[0].restart(now: net.now)
        net.agents[1].restart(now: net.now)
        XCTAssertNotEqual(net.agents[0].localUfrag, oldUfrag)
        XCTAssertEqual(net.agents[0].state, .checking)
        XCTAssertNotNil(net.agents[0].mediaRoute(), "media keeps its old path during the restart")
        net.signal()
        net.run(for: .seconds(1))
        XCTAssertEqual(net.agents[0].state, .connected)
        XCTAssertTrue(net.isNominatedAndSame())
    }

    func testGatheringDeadlineAndServerReflexiveCandidate() throws {
        let server = TransportAddress("192.0.2.10", 3478)!
        let host = TransportAddress("198.51.100.7", 5000)!
        var agent = makeCore(.controlling) { $0.stunServer = server }
        agent.addSocket(id: 0, address: host, now: .zero)
        agent.startGathering(now: .zero)
        let sent = agent.takeActions()
        let toServer = sent.compactMap { action -> [UInt8]? in
            if case .send(0, server, let bytes) = action { bytes } else { nil }
        }
        guard let bytes = toServer.first else { return XCTFail("\(sent)") }
        let request = try STUNMessage.decode(bytes).message
        let mapped = TransportAddress("203.0.113.5", 40000)!
        let response = STUNMessage(method: .binding, class: .success, transactionID: request.transactionID,
                                   attributes: [.xorMappedAddress(mapped)]).encode(fingerprint: true)
        agent.receive(response, from: server, socket: 0, now: .milliseconds(30))
        XCTAssertTrue(agent.gatheringComplete)
        let srflx = try XCTUnwrap(agent.localCandidates.first { $0.type == .serverReflexive })
        XCTAssertEqual(srflx.address, mapped)
        XCTAssertEqual(srflx.relatedAddress, host)
        XCTAssertLessThan(srflx.priority, agent.localCandidates[0].priority)

        var silent = makeCore(.controlled) { $0.stunServer = server }
        silent.addSocket(id: 0, address: host, now: .zero)
        silent.startGathering(now: .zero)
        silent.tick(now: .milliseconds(999))
        XCTAssertFalse(silent.gatheringComplete)
        XCTAssertEqual(silent.nextDeadline, .milliseconds(1000))
        silent.tick(now: .seconds(1))
        XCTAssertTrue(silent.gatheringComplete)
        XCTAssertTrue(silent.takeActions().contains(.gatheringComplete))
    }

    func testCandidatePrioritiesAndSDP() throws {
        XCTAssertEqual(ICECandidate.priority(type: .host, localPreference: 65535, component: 1), 2_130_706_431)
        XCTAssertEqual(ICECandidate.priority(type: .relayed, localPreference: 0, component: 2), 254)
        let line = "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ srflx raddr 10.0.0.1 rport 9"
        let candidate = try XCTUnwrap(ICECandidate(sdp: line))
        XCTAssertEqual(candidate.type, .serverReflexive)
        XCTAssertEqual(candidate.relatedAddress, TransportAddress("10.0.0.1", 9))
        XCTAssertEqual(candidate.sdp, line)
        XCTAssertNil(ICECandidate(sdp: "candidate:1 1 tcp 1 127.0.0.1 5000 typ host"))
        XCTAssertNil(ICECandidate(sdp: "candidate:1 1 udp 1 abcd.local 5000 typ host"))
        // Pair priority (RFC 8445 6.1.2.3): controlling's candidate is G.
        let agent = makeCore(.controlling)
        XCTAssertEqual(agent.pairPriority(local: 10, remote: 20), (1 << 32) * 10 + 2 * 20 + 0)
        XCTAssertEqual(agent.pairPriority(local: 20, remote: 10), (1 << 32) * 10 + 2 * 20 + 1)
    }
}

final class LocalPeerReflexiveTests: XCTestCase {
    /// A NAT we did not know of: the peer reports our check's source as another address. It
    /// becomes the pair's local peer-reflexive candidate, is counted, and is never signalled.
    func testAnUnknownMappedAddressBecomesALocalPeerReflexiveCandidate() throws {
        var agent = makeCore(.controlling)
        agent.addSocket(id: 0, address: addrA, now: .zero)
        agent.startGathering(now: .zero)
        agent.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        agent.addRemoteCandidate(ICECandidate(foundation: "9", priority: 2_000_000_000, address: addrB, type: .host), now: .zero)
        var t: Duration = .zero
        for _ in 0..<40 {
            t += .milliseconds(50)
            agent.tick(now: t)
            answerChecks(&agent, at: t)   // the "peer" maps us to addrB's address
        }
        XCTAssertEqual(agent.statistics.localPeerReflexive, 1)
        let pair = try XCTUnwrap(agent.pairSnapshots.first { $0.state == .succeeded })
        XCTAssertEqual(pair.local.type, .peerReflexive)
        XCTAssertEqual(pair.local.address, addrB)
        XCTAssertEqual(pair.local.relatedAddress, addrA)
        XCTAssertFalse(agent.localCandidates.contains { $0.type == .peerReflexive }, "never signalled")
    }
}

final class CandidateDeduplicationTests: XCTestCase {
    /// libnice aborts on two remote candidates with one transport address (issue 13): ours
    /// never share one.
    func testLocalCandidatesNeverShareATransportAddress() throws {
        let host = TransportAddress("198.51.100.7", 5000)!
        let a = ICECandidate(foundation: "1", priority: 100, address: host, type: .serverReflexive)
        let b = ICECandidate(foundation: "2", priority: 200, address: host, type: .host)
        let c = ICECandidate(foundation: "3", priority: 50, address: addrA, type: .host)
        let d = ICECandidate(foundation: "4", component: 2, priority: 10, address: host, type: .host)
        XCTAssertEqual(ICECandidate.withoutDuplicates([a, c, b, d]), [b, c, d], "the highest priority kept, in first-seen order")

        // A second socket on an address the agent has: no second host candidate.
        let server = TransportAddress("192.0.2.10", 3478)!
        var agent = makeCore(.controlling) { $0.stunServer = server }
        agent.addSocket(id: 0, address: host, now: .zero)
        agent.addSocket(id: 1, address: host, now: .zero)
        agent.startGathering(now: .zero)
        let actions = agent.takeActions()
        XCTAssertEqual(actions.compactMap { if case .localCandidate(let candidate) = $0 { candidate.address } else { nil } }, [host])
        // No NAT: the server sees the host address itself, which is no new candidate.
        let requests = actions.compactMap { if case .send(_, server, let bytes) = $0 { bytes } else { nil } }
        XCTAssertEqual(requests.count, 1)
        for bytes in requests {
            let request = try STUNMessage.decode(bytes).message
            let response = STUNMessage(method: .binding, class: .success, transactionID: request.transactionID,
                                       attributes: [.xorMappedAddress(host)]).encode(fingerprint: true)
            agent.receive(response, from: server, socket: 0, now: .milliseconds(30))
        }
        XCTAssertFalse(agent.takeActions().contains { if case .localCandidate = $0 { true } else { false } })
        XCTAssertEqual(agent.localCandidates.map(\.address), [host])
    }
}
