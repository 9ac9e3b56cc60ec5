@testable import DialtoneOMEMO
import XCTest

/// XEP-0454 files: AES-256-GCM with the tag after the ciphertext, the IV and key in the
/// link's fragment; a wrong key or a changed byte is refused.
final class OMEMOMediaTests: XCTestCase {
    func testAFileSealsAndOpens() throws {
        let file = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let sealed = try OMEMOMedia.seal(file)
        XCTAssertEqual(sealed.upload.count, file.count + 16, "the tag after the ciphertext")
        XCTAssertEqual(sealed.fragment.count, 88, "a 12-byte IV and a 32-byte key in hex")
        XCTAssertNotEqual(Array(sealed.upload.prefix(100)), Array(file.prefix(100)))
        XCTAssertEqual(try OMEMOMedia.open(sealed.upload, fragment: sealed.fragment), file)
        XCTAssertEqual(try OMEMOMedia.open(sealed.upload, fragment: sealed.fragment.uppercased()), file)

        var changed = sealed.upload
        changed[5000] ^= 1
        XCTAssertThrowsError(try OMEMOMedia.open(changed, fragment: sealed.fragment))
        let otherKey = String(sealed.fragment.dropLast(2)) + (sealed.fragment.hasSuffix("00") ? "01" : "00")
        XCTAssertThrowsError(try OMEMOMedia.open(sealed.upload, fragment: otherKey))
        XCTAssertThrowsError(try OMEMOMedia.open(sealed.upload, fragment: "zz"))
        XCTAssertThrowsError(try OMEMOMedia.open([1, 2], fragment: sealed.fragment))
    }

    /// Older clients (Conversations before 2019) used a 16-byte IV.
    func testASixteenByteIVIsRead() throws {
        let key = [UInt8](repeating: 3, count: 32)
        let iv = [UInt8](repeating: 9, count: 16)
        let (ciphertext, tag) = try OMEMOPayload.gcm(encrypting: true, key: key, iv: iv, input: Array("old".utf8), tag: nil)
        XCTAssertEqual(try OMEMOMedia.open(ciphertext + tag, fragment: OMEMOMedia.hex(iv + key)), Array("old".utf8))
    }
}
