@testable import DialtoneOMEMO
import XCTest

/// Two devices talk through what would cross the network: the bundle written as each version
/// writes it, key material encrypted per device, and the payload; in both versions. The key
/// store (OMEMOKeyStore) is what the library reads and writes all along: sessions, the
/// pre-key used up, identities.
final class OMEMODeviceTests: XCTestCase {
    func testBundlesAreWrittenAsEachVersionWantsThem() throws {
        let device = try OMEMODevice(context: try OMEMOContext())
        XCTAssertTrue((1...UInt32(Int32.max)).contains(device.id))
        let legacy = try device.bundle(.legacy)
        let current = try device.bundle(.current)
        XCTAssertEqual(legacy.preKeys.count, 100)
        XCTAssertEqual(Set(legacy.preKeys.keys), Set(1...100))
        // Legacy: Curve25519 keys with their type byte; current: 32-byte keys, the identity's Ed25519 form.
        XCTAssertEqual(legacy.identityKey.count, 33)
        XCTAssertEqual(legacy.identityKey.first, 0x05)
        XCTAssertEqual(legacy.signedPreKey.count, 33)
        XCTAssertEqual(current.identityKey.count, 32)
        XCTAssertEqual(current.signedPreKey, Array(legacy.signedPreKey.dropFirst()))
        XCTAssertEqual(current.preKeys[7], legacy.preKeys[7].map { Array($0.dropFirst()) })
        XCTAssertNotEqual(current.identityKey, Array(legacy.identityKey.dropFirst()), "the identity in its Ed25519 form")
        XCTAssertEqual(legacy.signedPreKeySignature.count, 64)
        XCTAssertEqual(current.signedPreKeySignature.count, 64)
    }

    private func conversation(_ format: OMEMOFormat) throws {
        let context = try OMEMOContext()
        let alice = try OMEMODevice(context: context)
        let bob = try OMEMODevice(context: try OMEMOContext())
        let bundle = try bob.bundle(format)

        var forged = bundle
        forged.signedPreKeySignature[10] ^= 1
        XCTAssertThrowsError(try alice.startSession(with: "bob@example.org", device: bob.id, bundle: forged, format: format)) {
            XCTAssertEqual($0 as? OMEMOError, .badBundle, "a signed pre-key its identity did not sign")
        }
        try alice.startSession(with: "bob@example.org", device: bob.id, bundle: bundle, format: format)
        XCTAssertTrue(alice.hasSession(with: "bob@example.org", device: bob.id, format: format))

        let sealed = try OMEMOPayload.seal(Array("Tea at four?".utf8), format: format, context: context)
        let key = try alice.encryptKey(sealed.keyMaterial, for: "bob@example.org", device: bob.id, format: format)
        XCTAssertTrue(key.isKeyExchange)
        let material = try bob.decryptKey(key.data, isKeyExchange: true, from: "alice@example.org", device: alice.id, format: format)
        XCTAssertEqual(try OMEMOPayload.open(sealed.payload, iv: sealed.iv, keyMaterial: material, format: format, context: bob.context),
                       Array("Tea at four?".utf8))
        XCTAssertEqual(try bob.preKeyCount(), 99, "the pre-key Alice used is gone")
        try bob.addPreKeys(1)
        XCTAssertEqual(try bob.preKeyCount(), 100)
        XCTAssertEqual(try bob.preKeys().keys.max(), 101, "a used id is never handed out again")

        let answer = try OMEMOPayload.seal(Array("Yes.".utf8), format: format, context: bob.context)
        let answerKey = try bob.encryptKey(answer.keyMaterial, for: "alice@example.org", device: alice.id, format: format)
        XCTAssertFalse(answerKey.isKeyExchange)
        let answerMaterial = try alice.decryptKey(answerKey.data, isKeyExchange: false, from: "bob@example.org", device: bob.id, format: format)
        XCTAssertEqual(try OMEMOPayload.open(answer.payload, iv: answer.iv, keyMaterial: answerMaterial, format: format, context: context),
                       Array("Yes.".utf8))
        XCTAssertThrowsError(try alice.decryptKey(answerKey.data, isKeyExchange: false, from: "bob@example.org", device: bob.id, format: format)) {
            XCTAssertEqual($0 as? OMEMOError, .duplicate, "a replayed key: decrypted before, not a broken session")
        }
        // A damaged key is refused, not read as another key.
        var damaged = try alice.encryptKey(sealed.keyMaterial, for: "bob@example.org", device: bob.id, format: format)
        XCTAssertFalse(damaged.isKeyExchange, "once answered, no more key agreement")
        damaged.data[damaged.data.count / 2] ^= 0x40
        XCTAssertThrowsError(try bob.decryptKey(damaged.data, isKeyExchange: false, from: "alice@example.org", device: alice.id, format: format)) {
            XCTAssertEqual($0 as? OMEMOError, .undecryptable)
        }
    }

    func testAConversationThroughTheWireFormsInTheLegacyVersion() throws { try conversation(.legacy) }

    func testAConversationThroughTheWireFormsInOMEMO2() throws { try conversation(.current) }

    /// A device made again from its identity and records (another process, a restart) goes on
    /// with the sessions the first one started.
    func testADeviceRestoredFromItsRecordsKeepsItsSessions() throws {
        let records = OMEMOMemoryRecords()
        let context = try OMEMOContext()
        let alice = try OMEMODevice(context: context, records: records)
        let bob = try OMEMODevice(context: try OMEMOContext())
        try alice.startSession(with: "bob@example.org", device: bob.id, bundle: try bob.bundle(.legacy), format: .legacy)
        let first = try alice.encryptKey(Array(repeating: 1, count: 32), for: "bob@example.org", device: bob.id, format: .legacy)
        _ = try bob.decryptKey(first.data, isKeyExchange: true, from: "alice@example.org", device: alice.id, format: .legacy)

        let again = try OMEMODevice(restoring: alice.store.identity, records: records, context: try OMEMOContext())
        XCTAssertEqual(again.id, alice.id)
        XCTAssertTrue(again.hasSession(with: "bob@example.org", device: bob.id, format: .legacy))
        XCTAssertFalse(again.hasSession(with: "bob@example.org", device: bob.id, format: .current), "each version its own session")
        let answer = try bob.encryptKey(Array(repeating: 2, count: 32), for: "alice@example.org", device: alice.id, format: .legacy)
        XCTAssertEqual(try again.decryptKey(answer.data, isKeyExchange: false, from: "bob@example.org", device: bob.id, format: .legacy),
                       Array(repeating: 2, count: 32))
        XCTAssertEqual(again.identity(of: "bob@example.org", device: bob.id, format: .legacy)?.count, 33)
        XCTAssertEqual(try again.identityKey(try bob.bundle(.current).identityKey, publishedIn: .current),
                       try again.identityKey(try bob.bundle(.legacy).identityKey, publishedIn: .legacy),
                       "one identity, whichever version's bundle showed it")
    }

    func testTheSignedPreKeyRotatesAndTheOneBeforeStays() throws {
        let device = try OMEMODevice(context: try OMEMOContext())
        XCTAssertEqual(try device.signedPreKeyID(), 1)
        try device.rotateSignedPreKey()
        try device.rotateSignedPreKey()
        XCTAssertEqual(try device.signedPreKeyID(), 3)
        XCTAssertEqual(Set(try device.signedPreKeys().keys), [2, 3])
        XCTAssertEqual(try device.bundle(.legacy).signedPreKeyID, 3)
    }
}
