// libFuzzer entry point, built only by Scripts/fuzz-stun (the test target excludes this folder).
// Every input goes through the STUN decoder and integrity check, then through the ICE agent's
// and the TURN client's receive paths, which must refuse garbage without crashing.

nonisolated(unsafe) var agent: ICEAgentCore = {
    var core = ICEAgentCore(role: .controlled, ufrag: "fuzz", password: "fuzzpasswordfuzzpassword", tieBreaker: 1)
    core.addSocket(id: 0, address: TransportAddress("127.0.0.1", 1000)!, now: .zero)
    core.setRemoteCredentials(ufrag: "peer", password: "peerpasswordpeerpassword", now: .zero)
    return core
}()
nonisolated(unsafe) var turn = TURNClientCore(server: TransportAddress("127.0.0.1", 3478)!, username: "u", password: "p")
nonisolated(unsafe) var clock = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let decoded = try? STUNMessage.decode(bytes) {
        _ = try? decoded.verifyIntegrity(.shortTerm("fuzzpasswordfuzzpassword"))
        _ = decoded.message.encode(integrity: .shortTerm("x"), fingerprint: true)
    }
    clock += 1
    let now = Duration.milliseconds(clock)
    agent.receive(bytes, from: TransportAddress("127.0.0.1", UInt16(2000 + clock % 4))!, socket: 0, now: now)
    agent.tick(now: now)
    _ = agent.takeActions()
    turn.receive(bytes, now: now)
    _ = turn.takeEvents()
    _ = turn.takeOutgoing()
    return 0
}
