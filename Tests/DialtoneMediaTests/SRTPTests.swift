@testable import DialtoneMedia
import DialtoneTLS
import XCTest

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

final class SRTPVectorTests: XCTestCase {
    /// RFC 3711 B.3 through the public API: a context made from B.3's master key and salt must
    /// encrypt with B.3's session key and salt and authenticate with B.3's session auth key.
    /// Protecting zeros shows the keystream: AES-128-CTR under the RFC's session key C61E…A087
    /// with IV = (session salt 30CB…9AE1 * 2^16) XOR (SSRC * 2^64) XOR (index * 2^16), RFC 3711
    /// 4.1.1; three blocks, so the counter steps as in B.2. The expected bytes were computed with
    /// `openssl enc -aes-128-ctr` and the tag with `openssl dgst -sha1 -mac HMAC` over the packet
    /// and the ROC, from the RFC's session keys alone (none of our code, nor libsrtp, involved).
    /// (B.2 itself, the AES-CM keystream, is checked by libsrtp's own self-test in srtp_init.)
    func testSessionKeysAndKeystreamRFC3711B3() throws {
        let context = try SRTPContext(profile: .aes128CMHMACSHA1_80, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                      masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"), direction: .outbound)
        // SSRC 0, sequence number 0, ROC 0: the IV is the session salt itself.
        var first = hex("800000000000000000000000") + [UInt8](repeating: 0, count: 48)
        try context.protectRTP(&first)
        XCTAssertEqual(first, hex("""
            800000000000000000000000
            FA63BC4668685B65F8FA1CE3909CEAD5 4DFB05F154B623DDE2BB3DD717DFC3FB F50EFC67D817AACEDC3EDBEB57687C2E
            9B78D8D6BD4DD742CE6B
            """))
        // SSRC CAFEBABE and sequence number 1234 land in their places in the IV.
        var second = hex("80001234DECAFBADCAFEBABE") + [UInt8](repeating: 0, count: 48)
        try context.protectRTP(&second)
        XCTAssertEqual(second, hex("""
            80001234DECAFBADCAFEBABE
            E5FE77E74C32D373270F79BE3F368FA9 9F1093E2B54DA48B51A73734AF6F8D3E 74E367678C622AEB813181C6B5BAD068
            146A9CC4EEDE86C24926
            """))
    }

    // Known answers produced by libsrtp (through pylibsrtp 1.0.0), an implementation we did not
    // write, for the same master key and salt as B.3: they pin the packet layout, the IV, the
    // authenticated range with the ROC, and the SRTCP trailer of both profiles.
    static let rtp = hex("80e01234decafbadcafebabe") + Array(0..<20)
    static let rtcp = hex("80c90001cafebabe") + Array(0..<8)

    func testProtectMatchesLibsrtpAESCM() throws {
        let context = try SRTPContext(profile: .aes128CMHMACSHA1_80, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                      masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"), direction: .outbound)
        var packet = Self.rtp
        try context.protectRTP(&packet)
        XCTAssertEqual(packet, hex("80e01234decafbadcafebabee5ff75e44837d5742f0673b5333b81a68f0181f1b67e9a970d9c0e6bb6a1"))
        var control = Self.rtcp
        try context.protectRTCP(&control)
        XCTAssertEqual(control, hex("80c90001cafebabeda82aaf34b29141180000001c09ee02365848c9ed78b"))
    }

    func testProtectMatchesLibsrtpAEADGCM() throws {
        let context = try SRTPContext(profile: .aeadAES128GCM, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                      masterSalt: hex("0EC675AD498AFEEBB6960B3A"), direction: .outbound)
        var packet = Self.rtp
        try context.protectRTP(&packet)
        XCTAssertEqual(packet, hex("80e01234decafbadcafebabea560a551f147f81ecf7173281339c90da84b7f11d1d2885014f0ae3978e10f700c225f19"))
        var control = Self.rtcp
        try context.protectRTCP(&control)
        XCTAssertEqual(control, hex("80c90001cafebabe41c4f71b68f2eb8c880bb0fb3f3dbae42185ccbd00634a7c80000001"))
    }
}

final class SRTPBehaviourTests: XCTestCase {
    let key = Array(UInt8(1)...UInt8(16))

    func pair(_ profile: SRTPProtectionProfile) throws -> (SRTPContext, SRTPContext) {
        let salt = Array(UInt8(100)..<UInt8(100 + profile.saltLength))
        return (try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .outbound),
                try SRTPContext(profile: profile, masterKey: key, masterSalt: salt, direction: .inbound))
    }

    func rtp(_ seq: UInt16, payload: [UInt8] = [1, 2, 3, 4, 5]) -> [UInt8] {
        RTPPacket(header: RTPHeader(payloadType: 111, sequenceNumber: seq, timestamp: UInt32(seq) * 960, ssrc: 0x5555), payload: payload).encode()
    }

    func testRoundTripBothProfiles() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            for seq in UInt16(0)..<50 {
                let plain = rtp(seq, payload: Array(repeating: UInt8(seq), count: Int(seq)))
                var packet = plain
                try sender.protectRTP(&packet)
                XCTAssertEqual(packet.count, plain.count + profile.tagLength)
                if seq > 0 { XCTAssertNotEqual(Array(packet[12..<plain.count]), Array(plain[12...])) }
                try receiver.unprotectRTP(&packet)
                XCTAssertEqual(packet, plain, "\(profile)")
            }
            var report = RTCPPacket.encodeCompound([.receiverReport(ssrc: 0x5555, reports: []), .sourceDescription([(0x5555, "x")])])
            let plainReport = report
            try sender.protectRTCP(&report)
            try receiver.unprotectRTCP(&report)
            XCTAssertEqual(report, plainReport)
        }
    }

    func testReplayIsRefused() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            var first = rtp(10)
            try sender.protectRTP(&first)
            var copy = first
            try receiver.unprotectRTP(&first)
            XCTAssertThrowsError(try receiver.unprotectRTP(&copy)) { XCTAssertEqual($0 as? SRTPError, .replayed) }
            // Out of order but inside the window is fine once.
            var packets: [[UInt8]] = []
            for seq in UInt16(11)...200 { var p = rtp(seq); try sender.protectRTP(&p); packets.append(p) }
            var late = packets[5]
            var newest = packets.last!
            try receiver.unprotectRTP(&newest)
            XCTAssertThrowsError(try receiver.unprotectRTP(&late)) { XCTAssertEqual($0 as? SRTPError, .tooOld) }
            var recent = packets[packets.count - 10]
            try receiver.unprotectRTP(&recent)
            var recentAgain = packets[packets.count - 10]
            XCTAssertThrowsError(try receiver.unprotectRTP(&recentAgain)) { XCTAssertEqual($0 as? SRTPError, .replayed) }

            var control = RTCPPacket.encodeCompound([.receiverReport(ssrc: 9, reports: [])])
            try sender.protectRTCP(&control)
            var controlCopy = control
            try receiver.unprotectRTCP(&control)
            XCTAssertThrowsError(try receiver.unprotectRTCP(&controlCopy)) { XCTAssertEqual($0 as? SRTPError, .replayed) }
        }
    }

    func testTamperingIsDetected() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            var packet = rtp(1)
            try sender.protectRTP(&packet)
            for position in [1, 5, 12, packet.count - 1] {
                var bad = packet
                bad[position] ^= 0x01
                XCTAssertThrowsError(try receiver.unprotectRTP(&bad), "\(profile) byte \(position)") {
                    XCTAssertEqual($0 as? SRTPError, .authenticationFailed)
                }
            }
            // The untouched packet still decrypts: failures moved neither ROC nor window.
            try receiver.unprotectRTP(&packet)
            var control = RTCPPacket.encodeCompound([.receiverReport(ssrc: 9, reports: [])])
            try sender.protectRTCP(&control)
            control[9] ^= 0x80
            XCTAssertThrowsError(try receiver.unprotectRTCP(&control)) { XCTAssertEqual($0 as? SRTPError, .authenticationFailed) }
            // Wrong key.
            let stranger = try SRTPContext(profile: profile, masterKey: Array(repeating: 9, count: 16),
                                           masterSalt: Array(repeating: 9, count: profile.saltLength), direction: .inbound)
            var other = rtp(2)
            try sender.protectRTP(&other)
            XCTAssertThrowsError(try stranger.unprotectRTP(&other))
        }
    }

    /// A context protects or unprotects, never both: an inbound one holds the peer's key, and
    /// protecting with it would send under the peer's keystream.
    func testContextRefusesTheOtherDirection() throws {
        let (sender, receiver) = try pair(.aes128CMHMACSHA1_80)
        var packet = rtp(1)
        XCTAssertThrowsError(try receiver.protectRTP(&packet)) { XCTAssertEqual($0 as? SRTPError, .wrongDirection) }
        XCTAssertEqual(packet, rtp(1))
        var control = RTCPPacket.encodeCompound([.receiverReport(ssrc: 9, reports: [])])
        XCTAssertThrowsError(try receiver.protectRTCP(&control)) { XCTAssertEqual($0 as? SRTPError, .wrongDirection) }
        try sender.protectRTP(&packet)
        XCTAssertThrowsError(try sender.unprotectRTP(&packet)) { XCTAssertEqual($0 as? SRTPError, .wrongDirection) }
        XCTAssertThrowsError(try sender.unprotectRTCP(&control)) { XCTAssertEqual($0 as? SRTPError, .wrongDirection) }
    }

    func testRolloverCounterAcrossSequenceWrap() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            var seq: UInt16 = 65530
            for _ in 0..<20 {
                let plain = rtp(seq)
                var packet = plain
                try sender.protectRTP(&packet)
                try receiver.unprotectRTP(&packet)
                XCTAssertEqual(packet, plain)
                seq &+= 1
            }
            XCTAssertEqual(sender.rolloverCounter(ssrc: 0x5555), 1)
            XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 1)
        }
    }

    /// Found by Scripts/fuzz-rtp: in the first cycle a sequence number far above the highest
    /// must not be guessed as ROC - 1 (which wrapped to 2^32 - 1 and moved the replay window
    /// so far that every later packet was refused as too old).
    func testFirstCycleHasNoPreviousCycle() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            for seq: UInt16 in [100, 60000, 200] {
                let plain = rtp(seq)
                var packet = plain
                try sender.protectRTP(&packet)
                XCTAssertNoThrow(try receiver.unprotectRTP(&packet), "\(profile) seq \(seq)")
                XCTAssertEqual(packet, plain)
            }
            // 200 after 60000 reads as the next cycle (RFC 3711 3.3.1), on both sides alike.
            XCTAssertEqual(sender.rolloverCounter(ssrc: 0x5555), 1)
            XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 1)
        }
    }

    /// A packet from before a sequence-number wrap that arrives after the first packet of the
    /// next cycle is decrypted with the previous rollover counter (RFC 3711 3.3.1), and the
    /// receiver's counter stays at the new cycle.
    func testLatePacketFromPreviousCycleAfterWrap() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            var start = rtp(65000)
            try sender.protectRTP(&start)
            try receiver.unprotectRTP(&start)
            let latePlain = rtp(65534)
            var late = latePlain
            try sender.protectRTP(&late)
            let wrappedPlain = rtp(3)
            var wrapped = wrappedPlain
            try sender.protectRTP(&wrapped)
            XCTAssertEqual(sender.rolloverCounter(ssrc: 0x5555), 1)
            try receiver.unprotectRTP(&wrapped)
            XCTAssertEqual(wrapped, wrappedPlain)
            XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 1)
            try receiver.unprotectRTP(&late)   // ROC 0 guessed for it, from before the wrap
            XCTAssertEqual(late, latePlain, "\(profile)")
            XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 1)
        }
    }

    /// The replay window reaches 127 packets back from the newest (2.5 s of 20 ms audio): a
    /// packet that late is still played, one 128 back is refused as too old.
    func testReplayWindowIs128Packets() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            var packets: [[UInt8]] = []
            for seq in UInt16(1000)...1128 { var p = rtp(seq); try sender.protectRTP(&p); packets.append(p) }
            var newest = packets[128]
            try receiver.unprotectRTP(&newest)
            var tooLate = packets[0]   // 128 behind
            XCTAssertThrowsError(try receiver.unprotectRTP(&tooLate)) { XCTAssertEqual($0 as? SRTPError, .tooOld) }
            let oldestPlain = rtp(1001)
            var oldest = packets[1]   // 127 behind
            XCTAssertNoThrow(try receiver.unprotectRTP(&oldest), "\(profile)")
            XCTAssertEqual(oldest, oldestPlain)
            var again = packets[1]
            XCTAssertThrowsError(try receiver.unprotectRTP(&again)) { XCTAssertEqual($0 as? SRTPError, .replayed) }
        }
    }

    /// A peer that starts a new SSRC mid-call (a restarted sender, a new media source) has its
    /// packets unprotected from the first one, with their own rollover counter and window, and
    /// the old SSRC keeps working beside it.
    func testPeerChangingSSRCIsUnprotected() throws {
        for profile in SRTPProtectionProfile.allCases {
            let (sender, receiver) = try pair(profile)
            for seq in UInt16(30000)..<30010 {
                var p = rtp(seq)
                try sender.protectRTP(&p)
                try receiver.unprotectRTP(&p)
            }
            for seq in UInt16(5)..<10 {
                let plain = RTPPacket(header: RTPHeader(payloadType: 111, sequenceNumber: seq, timestamp: 0, ssrc: 0x7777),
                                      payload: [9, 9]).encode()
                var p = plain
                try sender.protectRTP(&p)
                XCTAssertNoThrow(try receiver.unprotectRTP(&p), "\(profile) seq \(seq)")
                XCTAssertEqual(p, plain)
            }
            var back = rtp(30010)
            try sender.protectRTP(&back)
            XCTAssertNoThrow(try receiver.unprotectRTP(&back))
            XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x7777), 0)
            XCTAssertNil(receiver.rolloverCounter(ssrc: 0x1234))
        }
    }
}
