import COmemo
@testable import DialtoneOMEMO
import DialtoneTestSupport
import XCTest

/// libomemo-c's cryptography on OpenSSL, checked against published test vectors (RFC 5869 for
/// the HMAC under HKDF, NIST SP 800-38A for AES) and through the library's own key and
/// signature code (random bytes and SHA-512).
final class OpenSSLCryptoTests: XCTestCase {
    private func data(_ buffer: OpaquePointer?) -> [UInt8] {
        guard let buffer else { return [] }
        return Array(UnsafeBufferPointer(start: signal_buffer_data(buffer), count: signal_buffer_len(buffer)))
    }

    /// RFC 5869 test case 1, through the library's HKDF (which runs on our HMAC-SHA256).
    func testHKDFOnOurHMACMatchesRFC5869() throws {
        let context = try OMEMOContext()
        var hkdf: OpaquePointer?
        XCTAssertEqual(hkdf_create(&hkdf, 3, context.pointer), SG_SUCCESS)
        defer { dt_signal_unref(UnsafeMutableRawPointer(hkdf)) }
        let ikm = [UInt8](repeating: 0x0B, count: 22)
        let salt = hex("000102030405060708090a0b0c")
        let info = hex("f0f1f2f3f4f5f6f7f8f9")
        var output: UnsafeMutablePointer<UInt8>?
        let length = hkdf_derive_secrets(hkdf, &output, ikm, ikm.count, salt, salt.count, info, info.count, 42)
        defer { free(output) }
        XCTAssertEqual(length, 42)
        let derived = Array(UnsafeBufferPointer(start: output, count: max(0, length)))
        XCTAssertEqual(derived, hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"))
    }

    /// NIST SP 800-38A F.2.5 (CBC-AES256) and F.5.5 (CTR-AES256), first block, both ways; a
    /// damaged CBC message fails its padding check instead of decrypting to garbage.
    func testAESMatchesNISTVectorsBothWays() throws {
        let provider = OpenSSLCrypto.provider()
        let key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4")
        let plain = hex("6bc1bee22e409f96e93d7e117393172a")
        for (cipher, iv, expected) in [
            (SG_CIPHER_AES_CBC_PKCS5, hex("000102030405060708090a0b0c0d0e0f"), hex("f58c4c04d6e5f1ba779eabfb5f7bfbd6")),
            (SG_CIPHER_AES_CTR_NOPADDING, hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"), hex("601ec313775789a5b7a7f504bbf3d228")),
        ] {
            var encrypted: OpaquePointer?
            XCTAssertEqual(provider.encrypt_func(&encrypted, cipher, key, key.count, iv, iv.count, plain, plain.count, nil), SG_SUCCESS)
            defer { signal_buffer_free(encrypted) }
            let ciphertext = data(encrypted)
            XCTAssertEqual(Array(ciphertext.prefix(16)), expected, "cipher \(cipher)")
            // CBC pads a whole block onto a whole block; CTR adds nothing.
            XCTAssertEqual(ciphertext.count, cipher == SG_CIPHER_AES_CBC_PKCS5 ? 32 : 16)
            var decrypted: OpaquePointer?
            XCTAssertEqual(provider.decrypt_func(&decrypted, cipher, key, key.count, iv, iv.count, ciphertext, ciphertext.count, nil), SG_SUCCESS)
            XCTAssertEqual(data(decrypted), plain)
            signal_buffer_free(decrypted)
        }
        var encrypted: OpaquePointer?
        let iv = [UInt8](repeating: 7, count: 16)
        XCTAssertEqual(provider.encrypt_func(&encrypted, SG_CIPHER_AES_CBC_PKCS5, key, key.count, iv, 16, plain, plain.count, nil), SG_SUCCESS)
        var damaged = data(encrypted)
        signal_buffer_free(encrypted)
        damaged[damaged.count - 1] ^= 0xFF
        var decrypted: OpaquePointer?
        XCTAssertNotEqual(provider.decrypt_func(&decrypted, SG_CIPHER_AES_CBC_PKCS5, key, key.count, iv, 16, damaged, damaged.count, nil), SG_SUCCESS)
        XCTAssertEqual(provider.encrypt_func(&encrypted, SG_CIPHER_AES_CBC_PKCS5, key, 20, iv, 16, plain, plain.count, nil), SG_ERR_INVAL,
                       "a key of no AES size")
    }

    /// Keys from our random bytes, signatures made and checked by the library (XEdDSA, whose
    /// hashing is our SHA-512): a signature verifies, and fails for other words.
    func testKeysAndSignaturesThroughTheLibrary() throws {
        let context = try OMEMOContext()
        var first: OpaquePointer?
        var second: OpaquePointer?
        XCTAssertEqual(curve_generate_key_pair(context.pointer, &first), SG_SUCCESS)
        XCTAssertEqual(curve_generate_key_pair(context.pointer, &second), SG_SUCCESS)
        defer {
            dt_signal_unref(UnsafeMutableRawPointer(first))
            dt_signal_unref(UnsafeMutableRawPointer(second))
        }
        var firstPublic: OpaquePointer?
        var secondPublic: OpaquePointer?
        XCTAssertEqual(ec_public_key_serialize(&firstPublic, ec_key_pair_get_public(first)), SG_SUCCESS)
        XCTAssertEqual(ec_public_key_serialize(&secondPublic, ec_key_pair_get_public(second)), SG_SUCCESS)
        XCTAssertNotEqual(data(firstPublic), data(secondPublic), "two key pairs from the same random bytes")
        signal_buffer_free(firstPublic)
        signal_buffer_free(secondPublic)

        let words = Array("I am the device you trust".utf8)
        var signature: OpaquePointer?
        XCTAssertEqual(curve_calculate_signature(context.pointer, &signature, ec_key_pair_get_private(first), words, words.count), SG_SUCCESS)
        defer { signal_buffer_free(signature) }
        let signed = data(signature)
        XCTAssertEqual(signed.count, 64)
        XCTAssertEqual(curve_verify_signature(ec_key_pair_get_public(first), words, words.count, signed, signed.count), 1)
        let other = Array("I am another device".utf8)
        XCTAssertEqual(curve_verify_signature(ec_key_pair_get_public(first), other, other.count, signed, signed.count), 0)
        XCTAssertEqual(curve_verify_signature(ec_key_pair_get_public(second), words, words.count, signed, signed.count), 0)
    }
}
