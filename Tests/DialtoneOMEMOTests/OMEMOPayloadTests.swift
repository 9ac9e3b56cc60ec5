@testable import DialtoneOMEMO
import DialtoneTestSupport
import XCTest

/// The payload cipher of each OMEMO version, against vectors made with python-omemo's own
/// primitives (twomemo's HKDF, AES-CBC and HMAC; the `cryptography` package's AES-GCM, as
/// oldmemo uses it) for a fixed key, and both ways with fresh keys; whatever is damaged or
/// for another key is refused.
final class OMEMOPayloadTests: XCTestCase {
    private let text = Array("Tea at four?".utf8)

    func testTheCurrentVersionMatchesTwomemo() throws {
        let context = try OMEMOContext()
        let key = Array(UInt8(1)...UInt8(32))
        let sealed = try OMEMOPayload.sealCurrent(text, key: key, context: context)
        XCTAssertEqual(sealed.payload, hex("a566b94e7904a1fd072701514f03a5ca"))
        XCTAssertEqual(sealed.keyMaterial, key + hex("0c5b2a16d4812e298dc3dcb1b4da6ed8"))
        XCTAssertNil(sealed.iv)
        XCTAssertEqual(try OMEMOPayload.open(sealed.payload, iv: nil, keyMaterial: sealed.keyMaterial, format: .current, context: context), text)
    }

    func testTheLegacyVersionMatchesOldmemo() throws {
        let context = try OMEMOContext()
        let key = Array(UInt8(1)...UInt8(16))
        let iv = Array(UInt8(100)..<UInt8(112))
        let sealed = try OMEMOPayload.sealLegacy(text, key: key, iv: iv)
        XCTAssertEqual(sealed.payload, hex("7f3d9dd8ec405c46c021193f"))
        XCTAssertEqual(sealed.keyMaterial, key + hex("f2feb9a95d11ed310d45ae22bf19e86d"))
        XCTAssertEqual(try OMEMOPayload.open(sealed.payload, iv: iv, keyMaterial: sealed.keyMaterial, format: .legacy, context: context), text)
        // Clients before 2017 put the tag at the end of the payload and sent the key alone.
        XCTAssertEqual(try OMEMOPayload.open(sealed.payload + sealed.keyMaterial.suffix(16), iv: iv, keyMaterial: key,
                                             format: .legacy, context: context), text)
    }

    func testFreshKeysBothWaysAndDamageRefused() throws {
        let context = try OMEMOContext()
        for format in [OMEMOPayload.Format.legacy, .current] {
            let first = try OMEMOPayload.seal(text, format: format, context: context)
            let second = try OMEMOPayload.seal(text, format: format, context: context)
            XCTAssertNotEqual(first.keyMaterial, second.keyMaterial, "a fresh key for each message")
            XCTAssertEqual(first.keyMaterial.count, format == .legacy ? 32 : 48)
            XCTAssertEqual(try OMEMOPayload.open(first.payload, iv: first.iv, keyMaterial: first.keyMaterial, format: format, context: context), text)

            var damaged = first.payload
            damaged[0] ^= 1
            XCTAssertThrowsError(try OMEMOPayload.open(damaged, iv: first.iv, keyMaterial: first.keyMaterial, format: format, context: context)) {
                XCTAssertEqual($0 as? OMEMOError, .badPayload)
            }
            XCTAssertThrowsError(try OMEMOPayload.open(first.payload, iv: first.iv, keyMaterial: second.keyMaterial, format: format,
                                                       context: context), "another message's key")
            XCTAssertThrowsError(try OMEMOPayload.open(first.payload, iv: first.iv, keyMaterial: [1, 2, 3], format: format, context: context))
        }
    }
}
