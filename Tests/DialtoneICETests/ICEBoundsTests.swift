import XCTest
@testable import DialtoneICE

/// What a peer, or anyone who can reach a socket, may make the agent hold (issue 13, 2j).
final class ICEBoundsTests: XCTestCase {
    func remote(_ index: Int) -> ICECandidate {
        ICECandidate(foundation: "r\(index)", priority: UInt32(1000 - index),
                     address: TransportAddress("127.0.0.1", UInt16(30000 + index))!, type: .host)
    }

    func testRemoteCandidatesAndPairsAreBounded() {
        var agent = makeCore(.controlling)
        for socket in 0..<3 { agent.addSocket(id: socket, address: TransportAddress("127.0.0.1", UInt16(10001 + socket))!, now: .zero) }
        agent.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        for index in 0..<80 { agent.addRemoteCandidate(remote(index), now: .zero) }
        XCTAssertEqual(agent.remoteCandidates.count, 50)
        XCTAssertEqual(agent.statistics.remoteCandidatesOverLimit, 30)
        // Three sockets by 50 candidates would be 150 pairs: the checklist stops at 100.
        XCTAssertEqual(agent.pairSnapshots.count, 100)
        XCTAssertEqual(agent.statistics.pairsOverLimit, 50)
    }

    func testPeerReflexiveRemotesCountTowardsTheBound() {
        var agent = makeCore(.controlled) { $0.maximumRemoteCandidates = 2 }
        agent.addSocket(id: 0, address: addrB, now: .zero)
        agent.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
        _ = agent.takeActions()
        // Authenticated checks from ever new source addresses (one peer, or one pretending to
        // be many): each is answered, but only two become candidates.
        for index in 0..<5 {
            let check = STUNMessage(method: .binding, class: .request, attributes: [
                .username("\(agent.localUfrag):peer"), .priority(100), .iceControlling(1),
            ]).encode(integrity: .shortTerm(agent.localPassword), fingerprint: true)
            agent.receive(check, from: remote(index).address, socket: 0, now: .zero)
        }
        XCTAssertEqual(agent.remoteCandidates.count, 2)
        XCTAssertEqual(agent.statistics.remoteCandidatesOverLimit, 3)
    }

    func testTheInputQueueDropsDatagramsBeyondItsBoundButNeverTicks() async {
        let inputs = AgentInputs(limit: 4)
        for index in 0..<10 { inputs.datagram(socket: 0, from: addrA, bytes: [UInt8(index)]) }
        inputs.tick()
        XCTAssertEqual(inputs.dropped, 6)
        var iterator = inputs.stream.makeAsyncIterator()
        var taken: [ICEAgent.Input] = []
        for _ in 0..<5 {
            guard let input = await iterator.next() else { break }
            inputs.taken(input)
            taken.append(input)
        }
        var datagrams: [UInt8] = []
        var ticks = 0
        for input in taken {
            switch input {
            case .datagram(_, _, let bytes): datagrams += bytes
            case .tick: ticks += 1
            }
        }
        XCTAssertEqual(datagrams, [0, 1, 2, 3])
        XCTAssertEqual(ticks, 1)
        // Taken off the queue: room again.
        inputs.datagram(socket: 0, from: addrA, bytes: [42])
        XCTAssertEqual(inputs.dropped, 6)
    }
}
