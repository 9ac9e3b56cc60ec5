@testable import DialtoneMedia
import XCTest

final class RTPPacketTests: XCTestCase {
    func testEncodeParseRoundTripWithCSRCExtensionAndPadding() throws {
        var header = RTPHeader(payloadType: 111, sequenceNumber: 0xFFFE, timestamp: 0xDEADBEEF, ssrc: 0x01020304, marker: true)
        header.csrcs = [0xAABBCCDD, 0x11223344]
        header.headerExtension = RTPHeaderExtension(profile: 0xBEDE, data: [1, 2, 3, 4, 5, 6, 7, 8])
        let packet = RTPPacket(header: header, payload: [9, 8, 7], paddingLength: 5)
        let bytes = packet.encode()
        XCTAssertEqual(bytes.count, 12 + 8 + 4 + 8 + 3 + 5)
        XCTAssertEqual(bytes[0], 0x80 | 0x20 | 0x10 | 2)
        XCTAssertEqual(bytes[1], 0x80 | 111)
        XCTAssertEqual(bytes.last, 5)
        XCTAssertEqual(try RTPPacket.parse(bytes), packet)
        XCTAssertEqual(header.encodedLength, 32)
    }

    func testKnownWireBytes() throws {
        // V=2, no P/X/CC, M=0, PT=0, seq 1, ts 160, SSRC 0x12345678, payload 0xFF.
        let bytes: [UInt8] = [0x80, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xA0, 0x12, 0x34, 0x56, 0x78, 0xFF]
        let packet = try RTPPacket.parse(bytes)
        XCTAssertEqual(packet.header.sequenceNumber, 1)
        XCTAssertEqual(packet.header.timestamp, 160)
        XCTAssertEqual(packet.header.ssrc, 0x12345678)
        XCTAssertEqual(packet.payload, [0xFF])
        XCTAssertEqual(packet.encode(), bytes)
    }

    func testRejectsBrokenPackets() {
        XCTAssertThrowsError(try RTPPacket.parse([0x80, 0, 0])) { XCTAssertEqual($0 as? RTPError, .truncated("3 bytes, the fixed header needs 12")) }
        XCTAssertThrowsError(try RTPPacket.parse([0x40] + [UInt8](repeating: 0, count: 11))) { XCTAssertEqual($0 as? RTPError, .badVersion(1)) }
        // Two CSRCs announced, none present.
        XCTAssertThrowsError(try RTPPacket.parse([0x82] + [UInt8](repeating: 0, count: 11)))
        // Padding count larger than the payload.
        XCTAssertThrowsError(try RTPPacket.parse([0xA0] + [UInt8](repeating: 0, count: 11) + [1, 200])) { XCTAssertEqual($0 as? RTPError, .badPadding) }
        // Padding count of zero.
        XCTAssertThrowsError(try RTPPacket.parse([0xA0] + [UInt8](repeating: 0, count: 11) + [1, 0]))
        // Extension longer than the packet.
        XCTAssertThrowsError(try RTPPacket.parse([0x90] + [UInt8](repeating: 0, count: 11) + [0xBE, 0xDE, 0, 9]))
    }

    func testRTCPMuxDemultiplexesOnTheSecondByte() {
        let rtp = RTPPacket(header: RTPHeader(payloadType: 111, sequenceNumber: 1, timestamp: 0, ssrc: 1, marker: true), payload: []).encode()
        XCTAssertFalse(isRTCP(rtp))   // 0x80|111 = 239, outside 192...223
        let rtcp = RTCPPacket.encodeCompound([.receiverReport(ssrc: 1, reports: [])])
        XCTAssertTrue(isRTCP(rtcp))
        XCTAssertFalse(isRTCP([0x80, 0x00]))
    }
}

final class SequenceTests: XCTestCase {
    func testExtendsAcrossWrapAndReordering() {
        var extender = SequenceExtender()
        XCTAssertEqual(extender.extend(65534), 65534)
        XCTAssertEqual(extender.extend(65535), 65535)
        XCTAssertEqual(extender.extend(0), 65536)
        XCTAssertEqual(extender.extend(1), 65537)
        // Late packet from before the wrap keeps its old cycle.
        XCTAssertEqual(extender.extend(65533), 65533)
        XCTAssertEqual(extender.extend(3), 65539)
        XCTAssertEqual(extender.extendedMax, 65539)
    }

    func testLargeJumpIsDroppedUntilConfirmedAsARestart() {
        var extender = SequenceExtender()
        _ = extender.extend(100)
        _ = extender.extend(101)
        XCTAssertNil(extender.extend(20000))
        XCTAssertEqual(extender.extend(102), 102)   // the old stream goes on
        XCTAssertNil(extender.extend(30000))
        XCTAssertEqual(extender.extend(30001), 30001)   // two in a row: the peer restarted
        XCTAssertEqual(extender.baseSequence, 30001)
    }
}

final class RTCPTests: XCTestCase {
    func testCompoundRoundTrip() throws {
        let block = RTCPReportBlock(ssrc: 7, fractionLost: 25, cumulativeLost: -3, extendedHighestSequence: 0x1_0005,
                                    jitter: 77, lastSR: 0x12345678, delaySinceLastSR: 65536)
        let packets: [RTCPPacket] = [
            .senderReport(ssrc: 1, ntpTimestamp: 0x0102030405060708, rtpTimestamp: 9, packetCount: 10, octetCount: 11, reports: [block]),
            .sourceDescription([(1, "alice@example.com")]),
            .goodbye(ssrcs: [1], reason: "hangup"),
            .other(packetType: 205, count: 1, body: [0, 0, 0, 1, 0, 0, 0, 2]),
        ]
        let bytes = RTCPPacket.encodeCompound(packets)
        XCTAssertEqual(bytes.count % 4, 0)
        XCTAssertEqual(try RTCPPacket.parseCompound(bytes), packets)
        XCTAssertEqual(try RTCPPacket.parseCompound(RTCPPacket.encodeCompound([.receiverReport(ssrc: 5, reports: [block, block])])),
                       [.receiverReport(ssrc: 5, reports: [block, block])])
    }

    func testRejectsTruncatedCompound() {
        var bytes = RTCPPacket.encodeCompound([.receiverReport(ssrc: 5, reports: [RTCPReportBlock(
            ssrc: 1, fractionLost: 0, cumulativeLost: 0, extendedHighestSequence: 0, jitter: 0, lastSR: 0, delaySinceLastSR: 0)])])
        bytes.removeLast(4)
        XCTAssertThrowsError(try RTCPPacket.parseCompound(bytes))
    }

    func testLossFractionAndCumulativeLoss() {
        var stats = ReceptionStatistics(clockRate: 48000)
        // 100 packets sent, every 4th lost: 25 lost, fraction 64/256.
        for seq in 0..<100 where seq % 4 != 3 {
            stats.record(sequenceNumber: UInt16((65500 + seq) & 0xFFFF), rtpTimestamp: UInt32(seq * 960), arrival: UInt32(seq * 960), bytes: 60)
        }
        XCTAssertEqual(stats.expected, 99)   // the last (99) was lost, so the highest seen is 98
        XCTAssertEqual(stats.cumulativeLost, 24)
        let loss = stats.takeIntervalLoss()
        XCTAssertEqual(loss.cumulative, 24)
        XCTAssertEqual(Int(loss.fraction), 24 * 256 / 99)
        // Next interval: 99 (lost) and 100...109 received, so 1 of 11 lost.
        for seq in 100..<110 { stats.record(sequenceNumber: UInt16((65500 + seq) & 0xFFFF), rtpTimestamp: UInt32(seq * 960), arrival: UInt32(seq * 960), bytes: 60) }
        XCTAssertEqual(stats.takeIntervalLoss().fraction, UInt8(256 / 11))
        // And one with none lost.
        for seq in 110..<120 { stats.record(sequenceNumber: UInt16((65500 + seq) & 0xFFFF), rtpTimestamp: UInt32(seq * 960), arrival: UInt32(seq * 960), bytes: 60) }
        XCTAssertEqual(stats.takeIntervalLoss().fraction, 0)
        XCTAssertEqual(stats.cumulativeLost, 25)
    }

    func testJitterFollowsRFC3550A8() {
        var stats = ReceptionStatistics(clockRate: 8000)
        // Transit alternates by 80 timestamp units: |D| = 80 each time after the first.
        var expected = 0.0
        for i in 0..<200 {
            let arrival = UInt32(i * 160 + (i % 2 == 0 ? 0 : 80))
            stats.record(sequenceNumber: UInt16(i), rtpTimestamp: UInt32(i * 160), arrival: arrival, bytes: 160)
            if i > 0 { expected += (80 - expected) / 16 }
        }
        XCTAssertEqual(Double(stats.jitter), expected, accuracy: 1.5)
        XCTAssertGreaterThan(stats.jitter, 70)
        // Perfectly regular arrival: jitter decays to zero.
        var steady = ReceptionStatistics(clockRate: 8000)
        for i in 0..<100 { steady.record(sequenceNumber: UInt16(i), rtpTimestamp: UInt32(i * 160), arrival: UInt32(i * 160 + 1234), bytes: 160) }
        XCTAssertEqual(steady.jitter, 0)
    }

    func testRoundTripTimeFromLSRAndDLSR() throws {
        let ms: UInt64 = 1_000_000
        var alice = RTCPSession(localSSRC: 0xA, clockRate: 48000, cname: "a", codec: "opus", wallClockOffset: 1_700_000_000 * 1_000_000_000)
        var bob = RTCPSession(localSSRC: 0xB, clockRate: 48000, cname: "b", codec: "opus", wallClockOffset: 5)
        var now: UInt64 = 1_000 * ms
        // Alice sends media and an SR; it reaches Bob after 40 ms one-way.
        for i in 0..<50 {
            alice.noteSent(rtpTimestamp: UInt32(i * 960), payloadBytes: 80, now: now)
            bob.noteReceived(RTPHeader(payloadType: 111, sequenceNumber: UInt16(i), timestamp: UInt32(i * 960), ssrc: 0xA),
                             payloadBytes: 80, now: now + 40 * ms)
            now += 20 * ms
        }
        let sr = alice.makeReport(now: now)
        XCTAssertEqual(try RTCPPacket.parseCompound(sr).first.map { if case .senderReport = $0 { return true } else { return false } }, true)
        try bob.handleRTCP(sr, now: now + 40 * ms)
        // Bob holds it 100 ms, then reports; 40 ms back: RTT = 80 ms.
        let rr = bob.makeReport(now: now + 140 * ms)
        try alice.handleRTCP(rr, now: now + 180 * ms)
        let rtt = try XCTUnwrap(alice.statistics.roundTripMilliseconds)
        XCTAssertEqual(rtt, 80, accuracy: 0.1)
        XCTAssertEqual(bob.statistics.packetsReceived, 50)
        XCTAssertEqual(bob.statistics.packetsLost, 0)
        XCTAssertEqual(alice.statistics.packetsSent, 50)
        XCTAssertEqual(alice.statistics.codec, "opus")
    }

    /// Threads read the clock in either order: a report built with a time just before the
    /// SR's arrival was stamped must not trap, and says the SR was held for no time.
    func testReportWithAClockReadBeforeTheSRArrived() throws {
        var alice = RTCPSession(localSSRC: 0xA, clockRate: 48000, cname: "a", codec: "opus")
        var bob = RTCPSession(localSSRC: 0xB, clockRate: 48000, cname: "b", codec: "opus")
        alice.noteSent(rtpTimestamp: 0, payloadBytes: 10, now: 1_000)
        bob.noteReceived(RTPHeader(payloadType: 111, sequenceNumber: 1, timestamp: 0, ssrc: 0xA), payloadBytes: 10, now: 2_000)
        try bob.handleRTCP(alice.makeReport(now: 5_000_000), now: 9_000_000)
        let report = try RTCPPacket.parseCompound(bob.makeReport(now: 8_000_000))
        guard case .receiverReport(_, let blocks)? = report.first else { return XCTFail("\(report)") }
        XCTAssertEqual(blocks.first?.delaySinceLastSR, 0)
        XCTAssertNotEqual(blocks.first?.lastSR, 0)
    }
}
