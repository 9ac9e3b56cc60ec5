@testable import DialtoneMedia
import DialtoneTLS
import XCTest

func hex(_ text: String) -> [UInt8] {
    let digits = Array(text.filter { !$0.isWhitespace }.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<$0 + 2], as: UTF8.self), radix: 16)! }
}

final class SRTPVectorTests: XCTestCase {
    /// RFC 3711 B.2: the AES-CM keystream for a given session key and IV.
    func testAESCounterModeKeystreamRFC3711B2() throws {
        let keystream = try aesCTRKeystream(key: hex("2B7E151628AED2A6ABF7158809CF4F3C"),
                                            iv: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD0000"), length: 48)
        XCTAssertEqual(keystream, hex("""
            E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0
            """))
        // Blocks FEFF..FF01 of the same stream: the counter runs through the low 16 bits.
        let far = try aesCTRKeystream(key: hex("2B7E151628AED2A6ABF7158809CF4F3C"),
                                      iv: hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFDFEFF"), length: 48)
        XCTAssertEqual(far, hex("""
            EC8CDF7398607CB0F2D21675EA9EA1E4 362B7C3C6773516318A077D7FC5073AE 6A2CC3787889374FBEB4C81B17BA6C44
            """))
    }

    /// RFC 3711 B.3: session keys from a master key and salt.
    func testKeyDerivationRFC3711B3() throws {
        let keys = try SRTPSessionKeys(profile: .aes128CMHMACSHA1_80, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                       masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"))
        XCTAssertEqual(keys.rtpKey, hex("C61E7A93744F39EE10734AFE3FF7A087"))
        XCTAssertEqual(keys.rtpSalt, hex("30CBBC08863D8C85D49DB34A9AE1"))
        XCTAssertEqual(keys.rtpAuthKey, hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4"))
        XCTAssertNotEqual(keys.rtcpKey, keys.rtpKey)
    }

    // Known answers produced by libsrtp (through pylibsrtp 1.0.0), an implementation we did not
    // write, for the same master key and salt as B.3: they pin the packet layout, the IV, the
    // authenticated range with the ROC, and the SRTCP trailer of both profiles.
    static let rtp = hex("80e01234decafbadcafebabe") + Array(0..<20)
    static let rtcp = hex("80c90001cafebabe") + Array(0..<8)

    func testProtectMatchesLibsrtpAESCM() throws {
        let context = try SRTPContext(profile: .aes128CMHMACSHA1_80, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                      masterSalt: hex("0EC675AD498AFEEBB6960B3AABE6"))
        var packet = Self.rtp
        try context.protectRTP(&packet)
        XCTAssertEqual(packet, hex("80e01234decafbadcafebabee5ff75e44837d5742f0673b5333b81a68f0181f1b67e9a970d9c0e6bb6a1"))
        var control = Self.rtcp
        try context.protectRTCP(&control)
        XCTAssertEqual(control, hex("80c90001cafebabeda82aaf34b29141180000001c09ee02365848c9ed78b"))
    }

    func testProtectMatchesLibsrtpAEADGCM() throws {
        let context = try SRTPContext(profile: .aeadAES128GCM, masterKey: hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
                                      masterSalt: hex("0EC675AD498AFEEBB6960B3A"))
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
        return (try SRTPContext(profile: profile, masterKey: key, masterSalt: salt),
                try SRTPContext(profile: profile, masterKey: key, masterSalt: salt))
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
                                           masterSalt: Array(repeating: 9, count: profile.saltLength))
            var other = rtp(2)
            try sender.protectRTP(&other)
            XCTAssertThrowsError(try stranger.unprotectRTP(&other))
        }
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

    func testReceiverWithKnownRolloverAcceptsLatePacketFromPreviousCycle() throws {
        let (sender, receiver) = try pair(.aes128CMHMACSHA1_80)
        sender.setRolloverCounter(4, highestSequence: 65000, ssrc: 0x5555)
        receiver.setRolloverCounter(4, highestSequence: 65000, ssrc: 0x5555)
        var late = rtp(65534)
        try sender.protectRTP(&late)
        var wrapped = rtp(3)
        try sender.protectRTP(&wrapped)
        XCTAssertEqual(sender.rolloverCounter(ssrc: 0x5555), 5)
        try receiver.unprotectRTP(&wrapped)
        XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 5)
        try receiver.unprotectRTP(&late)   // ROC 4 guessed for it, from before the wrap
        XCTAssertEqual(receiver.rolloverCounter(ssrc: 0x5555), 5)
    }
}
