// libFuzzer entry point, built only by Scripts/fuzz-rtp (the test target excludes this folder).
// Every input is what a peer could send: it goes through the RTP and RTCP parsers, RTCP
// statistics, SRTP and SRTCP unprotect under both profiles, the jitter buffer and the DTMF
// receiver, which must refuse garbage without crashing. Inputs that parse as RTP or RTCP are
// also protected and unprotected again, which must give them back unchanged.

func makeContexts() -> [(SRTPContext, SRTPContext)] {
    SRTPProtectionProfile.allCases.map { profile in
        let key = [UInt8](repeating: 3, count: 16)
        let salt = [UInt8](repeating: 5, count: profile.saltLength)
        return (try! SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .outbound),
                try! SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .inbound))
    }
}
nonisolated(unsafe) var contexts = makeContexts()
/// Each SSRC a round trip protects adds a stream to libsrtp's sessions, and it looks streams
/// up in a list: fresh contexts now and then keep the run's speed and memory flat.
nonisolated(unsafe) var inputsOnContexts = 0
nonisolated(unsafe) var rtcp = RTCPSession(localSSRC: 1, clockRate: 48000, cname: "fuzz", codec: "opus")
nonisolated(unsafe) var jitter = JitterBuffer()
nonisolated(unsafe) var dtmf = DTMFReceiver()
nonisolated(unsafe) var clock: Int64 = 0

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    clock += 20_000_000
    if let packet = try? RTPPacket.parse(bytes) {
        _ = packet.encode()
        rtcp.noteReceived(packet.header, payloadBytes: packet.payload.count, now: UInt64(clock))
        jitter.insert(timestamp: packet.header.timestamp, payload: packet.payload, arrival: clock)
        _ = dtmf.receive(packet.payload, timestamp: packet.header.timestamp)
    }
    _ = jitter.pull(now: clock, quiet: size % 2 == 0)
    if let packets = try? RTCPPacket.parseCompound(bytes) {
        _ = RTCPPacket.encodeCompound(packets)
    }
    try? rtcp.handleRTCP(bytes, now: UInt64(clock))
    _ = rtcp.makeReport(now: UInt64(clock))
    inputsOnContexts += 1
    if inputsOnContexts == 10_000 {
        inputsOnContexts = 0
        contexts = makeContexts()
    }
    var replayed = false
    defer {
        if replayed {
            print("fuzz-rtp: input authenticated as a packet of earlier contexts; starting afresh")
            inputsOnContexts = 0
            contexts = makeContexts()
        }
    }
    for (sender, receiver) in contexts {
        // An input that authenticates is a packet an earlier pair of contexts (same keys)
        // protected: the receiver has moved on without the sender, so round trips could fail
        // for that reason alone. Start both afresh after this input.
        var garbage = bytes
        if (try? receiver.unprotectRTP(&garbage)) != nil { replayed = true }
        garbage = bytes
        if (try? receiver.unprotectRTCP(&garbage)) != nil { replayed = true }
        var copy = bytes
        if (try? sender.protectRTP(&copy)) != nil {
            do {
                try receiver.unprotectRTP(&copy)
                if copy != bytes { fatalError("SRTP round trip changed the packet") }
            } catch {
                // Replays of an index already seen are refused, which is right; anything else is a bug.
                if error != .replayed && error != .tooOld { fatalError("SRTP round trip failed: \(error), \(sender.profile), \(inputsOnContexts) inputs on these contexts") }
            }
        }
        copy = bytes
        if bytes.count >= 8, (try? sender.protectRTCP(&copy)) != nil {
            do {
                try receiver.unprotectRTCP(&copy)
                if copy != bytes { fatalError("SRTCP round trip changed the packet") }
            } catch {
                fatalError("SRTCP round trip failed: \(error), \(sender.profile), \(inputsOnContexts) inputs on these contexts")
            }
        }
    }
    return 0
}
