import COmemo
@testable import DialtoneOMEMO
import Foundation
import XCTest

/// Two devices in one process, each with its own context and key store, set up a session from a
/// bundle and talk both ways, in each OMEMO version libomemo-c speaks: 3 is
/// `eu.siacs.conversations.axolotl` (Conversations, Dino), 4 is `urn:xmpp:omemo:2`. The first
/// message is a pre-key message; the answer and what follows are plain ratchet messages.
final class OMEMOSessionTests: XCTestCase {
    /// A device of ours: its context, its key store with one pre-key and one signed pre-key,
    /// and the bundle it would publish.
    private final class TestDevice {
        let context: OMEMOContext
        let store: OMEMOKeyStore
        let id: Int32
        var bundle: OpaquePointer?

        init(id: Int32, version: UInt32) throws {
            self.id = id
            context = try OMEMOContext()
            var identity: OpaquePointer?
            XCTAssertEqual(signal_protocol_key_helper_generate_identity_key_pair(&identity, context.pointer), SG_SUCCESS)
            defer { dt_signal_unref(UnsafeMutableRawPointer(identity)) }
            var publicBuffer: OpaquePointer?
            var privateBuffer: OpaquePointer?
            XCTAssertEqual(ec_public_key_serialize(&publicBuffer, ratchet_identity_key_pair_get_public(identity)), SG_SUCCESS)
            XCTAssertEqual(ec_private_key_serialize(&privateBuffer, ratchet_identity_key_pair_get_private(identity)), SG_SUCCESS)
            defer {
                signal_buffer_free(publicBuffer)
                signal_buffer_free(privateBuffer)
            }
            var registration: UInt32 = 0
            XCTAssertEqual(signal_protocol_key_helper_generate_registration_id(&registration, 0, context.pointer), SG_SUCCESS)
            store = try OMEMOKeyStore(identityPublic: Self.bytes(publicBuffer), identityPrivate: Self.bytes(privateBuffer),
                                      registrationID: registration, context: context)

            var preKeys: OpaquePointer?
            XCTAssertEqual(signal_protocol_key_helper_generate_pre_keys(&preKeys, 1, 1, context.pointer), SG_SUCCESS)
            defer { signal_protocol_key_helper_key_list_free(preKeys) }
            let preKey = signal_protocol_key_helper_key_list_element(preKeys)
            XCTAssertEqual(signal_protocol_pre_key_store_key(store.storeContext, preKey), SG_SUCCESS)
            var signed: OpaquePointer?
            XCTAssertEqual(signal_protocol_key_helper_generate_signed_pre_key(&signed, identity, 1, 1_700_000_000_000, context.pointer), SG_SUCCESS)
            defer { dt_signal_unref(UnsafeMutableRawPointer(signed)) }
            XCTAssertEqual(signal_protocol_signed_pre_key_store_key(store.storeContext, signed), SG_SUCCESS)
            let omemo2 = version == 4
            let signature = omemo2 ? session_signed_pre_key_get_signature_omemo(signed) : session_signed_pre_key_get_signature(signed)
            let signatureLength = omemo2 ? session_signed_pre_key_get_signature_omemo_len(signed) : session_signed_pre_key_get_signature_len(signed)
            XCTAssertEqual(session_pre_key_bundle_create(
                &bundle, registration, id, session_pre_key_get_id(preKey), ec_key_pair_get_public(session_pre_key_get_key_pair(preKey)),
                1, ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed)), signature, signatureLength,
                ratchet_identity_key_pair_get_public(identity)), SG_SUCCESS)
        }

        deinit { dt_signal_unref(UnsafeMutableRawPointer(bundle)) }

        static func bytes(_ buffer: OpaquePointer?) -> [UInt8] {
            guard let buffer else { return [] }
            return Array(UnsafeBufferPointer(start: signal_buffer_data(buffer), count: signal_buffer_len(buffer)))
        }

        /// Runs `body` with the library's address of `device` (its name kept alive meanwhile).
        func withAddress<T>(of account: String, _ device: Int32, _ body: (UnsafePointer<signal_protocol_address>) throws -> T) rethrows -> T {
            try account.withCString { name in
                var address = signal_protocol_address(name: name, name_len: strlen(name), device_id: device)
                return try withUnsafePointer(to: &address) { try body($0) }
            }
        }

        /// Runs `body` with a session cipher for `device`, in `version`.
        func withCipher<T>(for account: String, _ device: Int32, version: UInt32, _ body: (OpaquePointer?) -> T) -> T {
            withAddress(of: account, device) { address in
                var cipher: OpaquePointer?
                XCTAssertEqual(session_cipher_create(&cipher, store.storeContext, address, context.pointer), SG_SUCCESS)
                defer { session_cipher_free(cipher) }
                session_cipher_set_version(cipher, version)
                return body(cipher)
            }
        }

        func encrypt(_ text: String, to account: String, _ device: Int32, version: UInt32) -> (type: Int32, bytes: [UInt8]) {
            withCipher(for: account, device, version: version) { cipher in
                var message: OpaquePointer?
                let plain = Array(text.utf8)
                XCTAssertEqual(session_cipher_encrypt(cipher, plain, plain.count, &message), SG_SUCCESS)
                defer { dt_signal_unref(UnsafeMutableRawPointer(message)) }
                return (ciphertext_message_get_type(message), Self.bytes(ciphertext_message_get_serialized(message)))
            }
        }

        func decrypt(_ message: (type: Int32, bytes: [UInt8]), from account: String, _ device: Int32, version: UInt32) -> String? {
            withCipher(for: account, device, version: version) { cipher in
                var plain: OpaquePointer?
                var result: Int32
                if message.type == CIPHERTEXT_PREKEY_TYPE {
                    var parsed: OpaquePointer?
                    result = version == 4
                        ? pre_key_signal_message_deserialize_omemo(&parsed, message.bytes, message.bytes.count, store.registrationID, context.pointer)
                        : pre_key_signal_message_deserialize(&parsed, message.bytes, message.bytes.count, context.pointer)
                    guard result == SG_SUCCESS else { return nil }
                    defer { dt_signal_unref(UnsafeMutableRawPointer(parsed)) }
                    result = session_cipher_decrypt_pre_key_signal_message(cipher, parsed, nil, &plain)
                } else {
                    var parsed: OpaquePointer?
                    result = version == 4
                        ? signal_message_deserialize_omemo(&parsed, message.bytes, message.bytes.count, context.pointer)
                        : signal_message_deserialize(&parsed, message.bytes, message.bytes.count, context.pointer)
                    guard result == SG_SUCCESS else { return nil }
                    defer { dt_signal_unref(UnsafeMutableRawPointer(parsed)) }
                    result = session_cipher_decrypt_signal_message(cipher, parsed, nil, &plain)
                }
                defer { signal_buffer_free(plain) }
                guard result == SG_SUCCESS else { return nil }
                return String(decoding: Self.bytes(plain), as: UTF8.self)
            }
        }
    }

    private func conversation(version: UInt32) throws {
        let alice = try TestDevice(id: 1111, version: version)
        let bob = try TestDevice(id: 2222, version: version)
        // Alice fetched Bob's bundle: she builds a session from it.
        try alice.withAddress(of: "bob@example.org", bob.id) { address in
            var builder: OpaquePointer?
            XCTAssertEqual(session_builder_create(&builder, alice.store.storeContext, address, alice.context.pointer), SG_SUCCESS)
            defer { session_builder_free(builder) }
            session_builder_set_version(builder, version)
            XCTAssertEqual(session_builder_process_pre_key_bundle(builder, bob.bundle), SG_SUCCESS)
            _ = try XCTUnwrap(alice.store.sessions[OMEMOKeyStore.Device(account: "bob@example.org", id: bob.id)])
        }
        let first = alice.encrypt("Tea at four?", to: "bob@example.org", bob.id, version: version)
        XCTAssertEqual(first.type, CIPHERTEXT_PREKEY_TYPE, "the first message carries the key agreement")
        XCTAssertEqual(bob.decrypt(first, from: "alice@example.org", alice.id, version: version), "Tea at four?")
        XCTAssertTrue(bob.store.preKeys.isEmpty, "the one-time pre-key is used up")

        let answer = bob.encrypt("Yes, at four.", to: "alice@example.org", alice.id, version: version)
        XCTAssertEqual(answer.type, CIPHERTEXT_SIGNAL_TYPE)
        XCTAssertEqual(alice.decrypt(answer, from: "bob@example.org", bob.id, version: version), "Yes, at four.")
        let again = alice.encrypt("See you.", to: "bob@example.org", bob.id, version: version)
        XCTAssertEqual(again.type, CIPHERTEXT_SIGNAL_TYPE, "once answered, no more key agreement")
        XCTAssertEqual(bob.decrypt(again, from: "alice@example.org", alice.id, version: version), "See you.")
        // The same message twice is refused: a replay decrypts nothing.
        XCTAssertNil(bob.decrypt(again, from: "alice@example.org", alice.id, version: version))
        // A damaged message is refused, not read as other words.
        var damaged = alice.encrypt("Still on?", to: "bob@example.org", bob.id, version: version)
        damaged.bytes[damaged.bytes.count / 2] ^= 0x40
        XCTAssertNil(bob.decrypt(damaged, from: "alice@example.org", alice.id, version: version))
    }

    func testAConversationInTheAxolotlVersion() throws { try conversation(version: UInt32(CIPHERTEXT_CURRENT_VERSION)) }

    func testAConversationInOMEMO2() throws { try conversation(version: UInt32(CIPHERTEXT_OMEMO_VERSION)) }
}
