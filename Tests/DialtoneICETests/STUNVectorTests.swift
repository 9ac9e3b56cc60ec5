import DialtoneTestSupport
import XCTest
@testable import DialtoneICE

/// RFC 5769's test vectors, all four, byte for byte as the RFC prints them.
final class STUNVectorTests: XCTestCase {
    static let shortTermPassword = "VOkJxbRl1RmTxUk/WvJxBt"
    static let transactionID = STUNTransactionID(bytes: hex("b7e7a701 bc34d686 fa87dfae"))!

    static let sampleRequest = hex("""
        00010058 2112a442 b7e7a701 bc34d686 fa87dfae
        80220010 5354554e 20746573 7420636c 69656e74
        00240004 6e0001ff
        80290008 932ff9b1 51263b36
        00060009 6576746a 3a683676 59202020
        00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
        80280004 e57a3bcf
        """)

    static let sampleIPv4Response = hex("""
        0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
        8022000b 74657374 20766563 746f7220
        00200008 0001a147 e112a643
        00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
        80280004 c07d4c96
        """)

    static let sampleIPv6Response = hex("""
        01010048 2112a442 b7e7a701 bc34d686 fa87dfae
        8022000b 74657374 20766563 746f7220
        00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
        00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
        80280004 c8fb0b4c
        """)

    static let longTermRequest = hex("""
        00010060 2112a442 78ad3433 c6ad72c0 29da412e
        00060012 e3839ee3 8388e383 aae38383 e382afe3 82b90000
        0015001c 662f2f34 39396b39 35346436 4f4c3334 6f4c3946 53547679 36347341
        0014000b 6578616d 706c652e 6f726700
        00080014 f6702465 6dd64a3e 02b8e071 2e85c9a2 8ca89666
        """)

    func testSampleRequest() throws {
        let decoded = try STUNMessage.decode(Self.sampleRequest)
        let message = decoded.message
        XCTAssertEqual(message.method, .binding)
        XCTAssertEqual(message.messageClass, .request)
        XCTAssertEqual(message.transactionID, Self.transactionID)
        XCTAssertEqual(message.software, "STUN test client")
        XCTAssertEqual(message.priority, 0x6e00_01ff)
        XCTAssertEqual(message.iceControlled, 0x932f_f9b1_5126_3b36)
        XCTAssertEqual(message.username, "evtj:h6vY")
        XCTAssertTrue(decoded.hasFingerprint)
        XCTAssertNoThrow(try decoded.verifyIntegrity(.shortTerm(Self.shortTermPassword)))
        XCTAssertThrowsError(try decoded.verifyIntegrity(.shortTerm("VOkJxbRl1RmTxUk/WvJxBu"))) {
            XCTAssertEqual($0 as? STUNError, .integrityMismatch)
        }
    }

    func testSampleIPv4Response() throws {
        let decoded = try STUNMessage.decode(Self.sampleIPv4Response)
        XCTAssertEqual(decoded.message.messageClass, .success)
        XCTAssertEqual(decoded.message.software, "test vector")
        XCTAssertEqual(decoded.message.xorMappedAddress, TransportAddress("192.0.2.1", 32853))
        XCTAssertNoThrow(try decoded.verifyIntegrity(.shortTerm(Self.shortTermPassword)))
    }

    func testSampleIPv6Response() throws {
        let decoded = try STUNMessage.decode(Self.sampleIPv6Response)
        XCTAssertEqual(decoded.message.xorMappedAddress, TransportAddress("2001:db8:1234:5678:11:2233:4455:6677", 32853))
        XCTAssertNoThrow(try decoded.verifyIntegrity(.shortTerm(Self.shortTermPassword)))
    }

    func testLongTermRequestDecodesVerifiesAndReencodesExactly() throws {
        let username = "\u{30DE}\u{30C8}\u{30EA}\u{30C3}\u{30AF}\u{30B9}"
        // The RFC's password "The\u{00AD}M\u{00AA}tr\u{2168}" after SASLprep.
        let key = STUNIntegrityKey.longTerm(username: username, realm: "example.org", password: "TheMatrIX")
        let decoded = try STUNMessage.decode(Self.longTermRequest)
        XCTAssertEqual(decoded.message.username, username)
        XCTAssertEqual(decoded.message.nonce, "f//499k954d6OL34oL9FSTvy64sA")
        XCTAssertEqual(decoded.message.realm, "example.org")
        XCTAssertFalse(decoded.hasFingerprint)
        XCTAssertNoThrow(try decoded.verifyIntegrity(key))
        XCTAssertThrowsError(try decoded.verifyIntegrity(.longTerm(username: username, realm: "example.org", password: "TheMatrix")))
        // This vector's padding is zero, as ours is, so our encoder must reproduce it exactly.
        XCTAssertEqual(decoded.message.encode(integrity: key), Self.longTermRequest)
    }

    /// The short-term vectors pad with spaces where we pad with zeros, so compare everything but the
    /// padding-dependent MAC and CRC, and check our own output verifies.
    func testEncodingTheSampleRequestAgain() throws {
        let message = try STUNMessage.decode(Self.sampleRequest).message
        let encoded = message.encode(integrity: .shortTerm(Self.shortTermPassword), fingerprint: true)
        XCTAssertEqual(encoded.count, Self.sampleRequest.count)
        XCTAssertEqual(Array(encoded[0..<20]), Array(Self.sampleRequest[0..<20]))
        let again = try STUNMessage.decode(encoded)
        XCTAssertEqual(again.message, message)
        XCTAssertNoThrow(try again.verifyIntegrity(.shortTerm(Self.shortTermPassword)))
        var xorAddress = STUNMessage(method: .binding, class: .success, transactionID: Self.transactionID,
                                     attributes: [.software("test vector"), .xorMappedAddress(TransportAddress("192.0.2.1", 32853)!)])
        let ipv4 = xorAddress.encode(integrity: .shortTerm(Self.shortTermPassword), fingerprint: true)
        XCTAssertEqual(Array(ipv4[36..<48]), Array(Self.sampleIPv4Response[36..<48]), "XOR-MAPPED-ADDRESS bytes")
        xorAddress.attributes[1] = .xorMappedAddress(TransportAddress("2001:db8:1234:5678:11:2233:4455:6677", 32853)!)
        let ipv6 = xorAddress.encode()
        XCTAssertEqual(Array(ipv6[36..<60]), Array(Self.sampleIPv6Response[36..<60]))
    }

    func testTamperingIsRefusedWithTypedErrors() throws {
        var flipped = Self.sampleRequest
        flipped[40] ^= 1 // inside SOFTWARE: FINGERPRINT no longer matches
        XCTAssertThrowsError(try STUNMessage.decode(flipped)) { XCTAssertEqual($0 as? STUNError, .badFingerprint) }

        XCTAssertThrowsError(try STUNMessage.decode(Array(Self.sampleRequest.prefix(19)))) {
            XCTAssertEqual($0 as? STUNError, .tooShort)
        }
        var badLength = Self.sampleRequest
        badLength[3] = 0x54
        XCTAssertThrowsError(try STUNMessage.decode(badLength)) { XCTAssertEqual($0 as? STUNError, .lengthMismatch) }
        var rtp = Self.sampleRequest
        rtp[0] = 0x80
        XCTAssertThrowsError(try STUNMessage.decode(rtp)) { XCTAssertEqual($0 as? STUNError, .notSTUN) }

        // Same bytes without FINGERPRINT but with a changed byte: only integrity catches it.
        var noFingerprint = Array(Self.sampleRequest.prefix(Self.sampleRequest.count - 8))
        noFingerprint[3] = 0x50
        noFingerprint[60] ^= 0x01 // inside ICE-CONTROLLED
        let decoded = try STUNMessage.decode(noFingerprint)
        XCTAssertThrowsError(try decoded.verifyIntegrity(.shortTerm(Self.shortTermPassword))) {
            XCTAssertEqual($0 as? STUNError, .integrityMismatch)
        }
        let unauthenticated = try STUNMessage.decode(STUNMessage(method: .binding, class: .request).encode())
        XCTAssertThrowsError(try unauthenticated.verifyIntegrity(.shortTerm("x"))) {
            XCTAssertEqual($0 as? STUNError, .missingIntegrity)
        }
    }

    func testAllAttributesRoundTrip() throws {
        let peer = TransportAddress("2001:db8::1", 4000)!
        let attributes: [STUNAttribute] = [
            .mappedAddress(TransportAddress("10.0.0.1", 1)!), .xorMappedAddress(TransportAddress("10.0.0.2", 2)!),
            .xorPeerAddress(peer), .xorRelayedAddress(TransportAddress("203.0.113.9", 65535)!),
            .username("a:b"), .errorCode(code: 487, reason: "Role Conflict"), .unknownAttributes([0x0031, 0x7777]),
            .priority(0x7e00_00ff), .useCandidate, .iceControlled(1), .iceControlling(UInt64.max), .nomination(7),
            .software("dialtone"), .realm("dialtone.test"), .nonce("n0nce"), .lifetime(600), .data([1, 2, 3, 4, 5]),
            .channelNumber(0x4001), .requestedTransport(17), .other(type: 0x8050, value: [9]),
        ]
        let message = STUNMessage(method: .allocate, class: .error, attributes: attributes)
        for key in [STUNIntegrityKey.shortTerm("pw"), .shortTerm("pw", algorithm: .sha256)] {
            let decoded = try STUNMessage.decode(message.encode(integrity: key, fingerprint: true))
            XCTAssertEqual(decoded.message, message)
            XCTAssertEqual(decoded.unknownRequired, [])
            XCTAssertNoThrow(try decoded.verifyIntegrity(key))
        }
        let unknown = STUNMessage(method: .binding, class: .request, attributes: [.other(type: 0x0031, value: [])])
        XCTAssertEqual(try STUNMessage.decode(unknown.encode()).unknownRequired, [0x0031])
    }

    func testMessageTypeBitsForEveryClass() throws {
        XCTAssertEqual(STUNMessage.messageType(method: .binding, class: .request), 0x0001)
        XCTAssertEqual(STUNMessage.messageType(method: .binding, class: .success), 0x0101)
        XCTAssertEqual(STUNMessage.messageType(method: .binding, class: .error), 0x0111)
        XCTAssertEqual(STUNMessage.messageType(method: .data, class: .indication), 0x0017)
        XCTAssertEqual(STUNMessage.messageType(method: .channelBind, class: .request), 0x0009)
        for method in [STUNMethod.binding, .allocate, .refresh, .send, .data, .createPermission, .channelBind, STUNMethod(rawValue: 0xABC)] {
            for cls in [STUNClass.request, .indication, .success, .error] {
                let decoded = try STUNMessage.decode(STUNMessage(method: method, class: cls).encode()).message
                XCTAssertEqual(decoded.method, method)
                XCTAssertEqual(decoded.messageClass, cls)
            }
        }
    }

    func testRejectionCounters() {
        var counters = STUNRejectionCounters()
        counters.count(.badFingerprint)
        counters.count(.badFingerprint)
        counters.count(.integrityMismatch)
        XCTAssertEqual(counters[.badFingerprint], 2)
        XCTAssertEqual(counters.total, 3)
    }
}

final class STUNRetransmissionTests: XCTestCase {
    func testDefaultScheduleMatchesRFC8489() {
        var timer = STUNRetransmissionTimer(sentAt: .zero)
        var sends: [Duration] = [.zero]
        var now = Duration.zero
        var result: STUNRetransmissionTimer.Event?
        while result != .timedOut {
            XCTAssertNil(timer.fire(now: timer.deadline - .milliseconds(1)), "fires early")
            now = timer.deadline
            result = timer.fire(now: now)
            if result == .retransmit { sends.append(now) }
        }
        XCTAssertEqual(sends.map { $0 / .milliseconds(1) }, [0, 500, 1500, 3500, 7500, 15500, 31500])
        XCTAssertEqual(now, .milliseconds(39500))
    }

    func testCustomParameters() {
        var timer = STUNRetransmissionTimer(sentAt: .seconds(10), parameters: .init(rto: .milliseconds(100), rc: 2, rm: 4))
        XCTAssertEqual(timer.fire(now: .milliseconds(10_100)), .retransmit)
        XCTAssertEqual(timer.deadline, .milliseconds(10_500))
        XCTAssertEqual(timer.fire(now: .milliseconds(10_500)), .timedOut)
    }
}

final class DemultiplexTests: XCTestCase {
    func testRFC7983Ranges() {
        XCTAssertEqual(PacketKind(firstByte: 0), .stun)
        XCTAssertEqual(PacketKind(firstByte: 3), .stun)
        XCTAssertEqual(PacketKind(firstByte: 4), .unknown)
        XCTAssertEqual(PacketKind(firstByte: 20), .dtls)
        XCTAssertEqual(PacketKind(firstByte: 63), .dtls)
        XCTAssertEqual(PacketKind(firstByte: 64), .turnChannelData)
        XCTAssertEqual(PacketKind(firstByte: 79), .turnChannelData)
        XCTAssertEqual(PacketKind(firstByte: 80), .unknown)
        XCTAssertEqual(PacketKind(firstByte: 128), .rtp)
        XCTAssertEqual(PacketKind(firstByte: 191), .rtp)
        XCTAssertEqual(PacketKind(firstByte: 192), .unknown)
        XCTAssertEqual(PacketKind([]), .unknown)
    }
}
