import DialtoneTLS
import XCTest

/// Two DTLS endpoints joined in memory; datagrams are delivered whole, as UDP would.
struct DTLSPair {
    let alice: DTLSSession
    let bob: DTLSSession
    var aliceError: DTLSError?
    var bobError: DTLSError?

    init(aliceRole: DTLSRole, bobPins: [UInt8]? = nil, alicePins: [UInt8]? = nil,
         aliceProfiles: [SRTPProtectionProfile] = [.aes128CMHMACSHA1_80, .aeadAES128GCM],
         bobProfiles: [SRTPProtectionProfile] = [.aes128CMHMACSHA1_80, .aeadAES128GCM], mtu: Int = 1200,
         bobIdentity: TLSIdentity? = nil) throws {
        let aliceIdentity = try TLSIdentity.selfSigned(commonName: "alice")
        let bobIdentity = try bobIdentity ?? TLSIdentity.selfSigned(commonName: "bob")
        alice = try DTLSSession(role: aliceRole, identity: aliceIdentity,
                                remoteFingerprint: alicePins ?? bobIdentity.sha256Fingerprint, profiles: aliceProfiles,
                                mtu: mtu, initialRetransmit: .milliseconds(20))
        bob = try DTLSSession(role: aliceRole == .active ? .passive : .active, identity: bobIdentity,
                              remoteFingerprint: bobPins ?? aliceIdentity.sha256Fingerprint, profiles: bobProfiles,
                              mtu: mtu, initialRetransmit: .milliseconds(20))
    }

    var largestDatagram = 0

    /// Runs the handshake; `drop` says which of alice's datagrams (by count) get lost.
    mutating func run(dropAlice: Set<Int> = [], rounds: Int = 20) {
        do { try alice.start() } catch { aliceError = error }
        do { try bob.start() } catch { bobError = error }
        var aliceSent = 0
        for _ in 0..<rounds {
            var moved = false
            for datagram in alice.takeDatagrams() {
                moved = true
                largestDatagram = max(largestDatagram, datagram.count)
                aliceSent += 1
                if dropAlice.contains(aliceSent) { continue }
                if bobError == nil { do { try bob.feed(datagram: datagram) } catch { bobError = error } }
            }
            for datagram in bob.takeDatagrams() {
                moved = true
                largestDatagram = max(largestDatagram, datagram.count)
                if aliceError == nil { do { try alice.feed(datagram: datagram) } catch { aliceError = error } }
            }
            if !moved {
                if alice.isHandshakeComplete && bob.isHandshakeComplete { break }
                // Nothing in flight: wait for the earliest retransmission timer, as the owner's
                // event loop would, then let both sides handle it.
                let delays = [alice.retransmitDelay, bob.retransmitDelay].compactMap { $0 }
                guard let wait = delays.min() else { break }
                usleep(UInt32(min(wait, .milliseconds(500)).components.attoseconds / 1_000_000_000_000) + 1000)
                try? alice.handleTimeout()
                try? bob.handleTimeout()
            }
        }
    }
}

final class DTLSSessionTests: XCTestCase {
    func testBothRoleOrdersAgreeOnKeys() throws {
        for role in [DTLSRole.active, .passive] {
            var pair = try DTLSPair(aliceRole: role)
            pair.run()
            XCTAssertNil(pair.aliceError)
            XCTAssertNil(pair.bobError)
            XCTAssertTrue(pair.alice.isHandshakeComplete)
            XCTAssertTrue(pair.bob.isHandshakeComplete)
            let a = try XCTUnwrap(pair.alice.keyingMaterial)
            let b = try XCTUnwrap(pair.bob.keyingMaterial)
            XCTAssertEqual(a, b)
            XCTAssertEqual(a.profile, .aes128CMHMACSHA1_80)   // our first preference
            XCTAssertEqual(a.clientKey.count, 16)
            XCTAssertEqual(a.clientSalt.count, 14)
            XCTAssertNotEqual(a.clientKey, a.serverKey)
            XCTAssertEqual(pair.alice.localKeys?.key, pair.bob.remoteKeys?.key)
            XCTAssertEqual(pair.alice.remoteKeys?.salt, pair.bob.localKeys?.salt)
            XCTAssertEqual(pair.alice.peerFingerprint, pair.bob.localFingerprint)
        }
    }

    func testGCMProfileWhenThatIsAllThePeerOffers() throws {
        var pair = try DTLSPair(aliceRole: .active, bobProfiles: [.aeadAES128GCM])
        pair.run()
        let material = try XCTUnwrap(pair.alice.keyingMaterial)
        XCTAssertEqual(material.profile, .aeadAES128GCM)
        XCTAssertEqual(material.serverSalt.count, 12)
        XCTAssertEqual(pair.bob.keyingMaterial, material)
    }

    func testWrongFingerprintIsRefusedWithAReason() throws {
        for role in [DTLSRole.active, .passive] {
            let wrong = [UInt8](repeating: 0xAB, count: 32)
            var pair = try DTLSPair(aliceRole: role, alicePins: wrong)
            pair.run()
            XCTAssertFalse(pair.alice.isHandshakeComplete)
            XCTAssertNil(pair.alice.keyingMaterial)
            guard case .fingerprintMismatch(let expected, let actual)? = pair.aliceError else {
                return XCTFail("expected a fingerprint mismatch, got \(String(describing: pair.aliceError))")
            }
            XCTAssertEqual(expected, fingerprintString(wrong))
            XCTAssertEqual(actual, fingerprintString(pair.bob.localFingerprint))
            XCTAssertTrue(pair.aliceError!.description.contains("intercepting"))
            XCTAssertFalse(pair.bob.isHandshakeComplete)
        }
    }

    func testLostFlightIsRetransmittedOnTimeout() throws {
        var pair = try DTLSPair(aliceRole: .active)
        XCTAssertNil(pair.alice.retransmitDelay)
        try pair.alice.start()
        let delay = try XCTUnwrap(pair.alice.retransmitDelay)   // the ClientHello's timer runs
        XCTAssertLessThanOrEqual(delay, .milliseconds(20))
        pair.run(dropAlice: [1])   // the first ClientHello never arrives
        XCTAssertNil(pair.aliceError)
        XCTAssertTrue(pair.alice.isHandshakeComplete)
        XCTAssertTrue(pair.bob.isHandshakeComplete)
        XCTAssertEqual(pair.alice.keyingMaterial, pair.bob.keyingMaterial)
    }

    func testFlightsFitTheMTU() throws {
        var pair = try DTLSPair(aliceRole: .passive, mtu: 300)
        pair.run()
        XCTAssertTrue(pair.alice.isHandshakeComplete)
        XCTAssertEqual(pair.alice.keyingMaterial, pair.bob.keyingMaterial)
        XCTAssertLessThanOrEqual(pair.largestDatagram, 300)
        XCTAssertGreaterThan(pair.largestDatagram, 100)
    }

    func testFreshIdentityPerSession() throws {
        let first = try DTLSSession(role: .active, remoteFingerprint: [UInt8](repeating: 1, count: 32))
        let second = try DTLSSession(role: .active, remoteFingerprint: [UInt8](repeating: 1, count: 32))
        XCTAssertEqual(first.localFingerprint.count, 32)
        XCTAssertNotEqual(first.localFingerprint, second.localFingerprint)
    }

    func testRolesFromSignalling() {
        XCTAssertEqual(DTLSRole.answering(offered: "actpass"), .active)
        XCTAssertEqual(DTLSRole.answering(offered: "active"), .passive)
        XCTAssertEqual(DTLSRole.offering(answered: "active"), .passive)
        XCTAssertEqual(DTLSRole.offering(answered: "passive"), .active)
        XCTAssertNil(DTLSRole.offering(answered: "actpass"))
    }
}
