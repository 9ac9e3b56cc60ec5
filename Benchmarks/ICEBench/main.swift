import DialtoneICE
import Foundation

// Two figures for docs/benchmarks.md's ICE section:
//  1. time from both agents holding each other's candidates to both having a nominated pair,
//     over real UDP sockets on 127.0.0.1, default configuration (Ta 50 ms, regular nomination);
//  2. connectivity checks per second the agent core answers (decode, verify HMAC-SHA1 and
//     CRC32, respond, sign), with no sockets: the cost of the protocol alone.

let rounds = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 15 : 15
let checkCount = CommandLine.arguments.count > 2 ? Int(CommandLine.arguments[2]) ?? 100_000 : 100_000

func ms(_ value: Double) -> String { String((value * 10).rounded() / 10) }

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func loopbackConfiguration(aggressive: Bool, turn: TURNServerConfiguration? = nil) -> ICEConfiguration {
    var configuration = ICEConfiguration()
    configuration.loopbackOnly = true
    configuration.useIPv6 = false
    configuration.aggressiveNomination = aggressive
    if let turn {
        configuration.turnServer = turn
        configuration.relayOnly = true
    }
    return configuration
}

/// The clock starts once both have gathered (a relayed candidate included: the allocation is
/// not counted), as for the loopback figure.
func timeToNomination(aggressive: Bool, turn: TURNServerConfiguration? = nil) async throws -> Double {
    let a = ICEAgent(role: .controlling, configuration: loopbackConfiguration(aggressive: aggressive, turn: turn))
    let b = ICEAgent(role: .controlled, configuration: loopbackConfiguration(aggressive: aggressive, turn: turn))
    try await a.start()
    try await b.start()
    let ca = await a.gatherAll()
    let cb = await b.gatherAll()
    let (ua, pa) = await a.localCredentials
    let (ub, pb) = await b.localCredentials
    let clock = ContinuousClock()
    let start = clock.now
    await a.setRemoteCredentials(ufrag: ub, password: pb)
    await b.setRemoteCredentials(ufrag: ua, password: pa)
    for c in cb { await a.addRemoteCandidate(c) }
    for c in ca { await b.addRemoteCandidate(c) }
    try await a.connected()
    try await b.connected()
    let elapsed = clock.now - start
    await a.close()
    await b.close()
    return Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
}

for aggressive in [false, true] {
    var times: [Double] = []
    for _ in 0..<rounds { times.append(try await timeToNomination(aggressive: aggressive)) }
    let label = aggressive ? "aggressive nomination" : "regular nomination"
    print("loopback, candidates to nominated pair (\(label)): median \(ms(median(times))) ms, "
        + "min \(ms(times.min()!)) ms, max \(ms(times.max()!)) ms over \(rounds) rounds")
}

// Through coturn (Scripts/bench-ice starts one): relay-only on both sides, TURN over UDP and TCP.
let environment = ProcessInfo.processInfo.environment
if let port = environment["DIALTONE_TEST_TURN_PORT"].flatMap(UInt16.init), let secret = environment["DIALTONE_TEST_TURN_SECRET"] {
    let credentials = TURNClientCore.restCredentials(secret: secret, name: "bench", expiry: Int(Date().timeIntervalSince1970) + 3600)
    for transport in [TURNTransport.udp, .tcp] {
        let server = TURNServerConfiguration(address: TransportAddress(ip: .loopbackV4, port: port), username: credentials.username,
                                             password: credentials.password, transport: transport)
        var times: [Double] = []
        for _ in 0..<rounds { times.append(try await timeToNomination(aggressive: false, turn: server)) }
        print("through TURN (\(transport.rawValue) to coturn, relay-only both sides), candidates to nominated pair: median "
            + "\(ms(median(times))) ms, min \(ms(times.min()!)) ms, max \(ms(times.max()!)) ms over \(rounds) rounds")
    }
} else {
    print("through TURN: skipped (no DIALTONE_TEST_TURN_PORT; Scripts/bench-ice starts coturn)")
}

// Checks answered per second.
var agent = ICEAgentCore(role: .controlled, ufrag: "bench", password: "benchpasswordbenchpassword")
let local = TransportAddress("127.0.0.1", 40000)!
agent.addSocket(id: 0, address: local, now: .zero)
agent.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
let sources = (0..<16).map { TransportAddress("127.0.0.1", UInt16(41000 + $0))! }
let requests = (0..<4096).map { _ in
    STUNMessage(method: .binding, class: .request, attributes: [
        .username("bench:peer"), .priority(1_853_817_087), .iceControlling(99),
    ]).encode(integrity: .shortTerm("benchpasswordbenchpassword"), fingerprint: true)
}
var best = 0.0
for _ in 0..<5 {
    let clock = ContinuousClock()
    let start = clock.now
    var answered = 0
    for i in 0..<checkCount {
        agent.receive(requests[i & 4095], from: sources[i & 15], socket: 0, now: .milliseconds(i / 1000))
        answered += agent.takeActions().count
    }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    best = max(best, Double(checkCount) / seconds)
    precondition(answered >= checkCount)
}
print("checks answered by the core: \(Int(best)) per second (best of 5 × \(checkCount))")
