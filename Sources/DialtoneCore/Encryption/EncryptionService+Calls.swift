import DialtoneJingle
import DialtoneOMEMO
import DialtoneXMPP
import Logging

/// Why a call's DTLS fingerprint could not be encrypted or decrypted with OMEMO.
enum CallFingerprintError: Error, CustomStringConvertible {
    case notForThisDevice(UInt32)
    case malformed
    case noSession(String, UInt32)
    case phoneNumber
    case accountStopped

    var description: String {
        switch self {
        case .notForThisDevice(let device): "it was not encrypted for this device (\(device))"
        case .malformed: "its OMEMO element is malformed"
        case .noSession(let peer, let device): "no OMEMO session with \(peer)'s device \(device) (no bundle, or the device is distrusted)"
        case .phoneNumber: "phone numbers have no OMEMO"
        case .accountStopped: "the account is stopping"
        }
    }
}

/// Verified calls (Conversations' OMEMO DTLS-SRTP verification draft): a call's DTLS
/// fingerprint encrypted for one device of the peer, in the legacy version the draft names,
/// and the peer's decrypted with the trust its device has here.
extension EncryptionService {
    /// Our device, for the proceed of a call with `peer`; nil for the gateway's numbers or when
    /// the device cannot be loaded.
    func callDevice(for peer: JID) -> UInt32? {
        guard canEncrypt(peer) else { return nil }
        return try? ownDevice().id
    }

    /// `fingerprint` encrypted for `peer`'s `device`, with the session we have or one started
    /// from its bundle; a device the user distrusts gets nothing.
    nonisolated(nonsending) func sealCallFingerprint(_ fingerprint: String, for peer: JID, device: UInt32) async throws -> OMEMOEncrypted {
        guard canEncrypt(peer) else { throw CallFingerprintError.phoneNumber }
        // The peer looks our device up to read this: a one-shot `call` may get here first.
        await ensurePublished()
        let recipient = Recipient(account: peer.bare.description, device: device, format: .legacy)
        guard let encrypted = try await encrypt(fingerprint, for: [recipient], format: .legacy) else {
            throw CallFingerprintError.noSession(recipient.account, device)
        }
        return encrypted
    }

    /// A fingerprint `peer` encrypted for this device: its text, the device that encrypted it,
    /// and whether the user verified that device.
    func openCallFingerprint(_ encrypted: OMEMOEncrypted, from peer: JID) throws -> FingerprintSealing.Opened {
        guard encrypted.version == .legacy, let payload = encrypted.payload else {
            throw CallFingerprintError.malformed
        }
        let device = try ownDevice()
        guard let key = encrypted.keys.first(where: { $0.device == device.id }) else { throw CallFingerprintError.notForThisDevice(device.id) }
        let sender = Recipient(account: peer.bare.description, device: encrypted.senderDevice, format: .legacy)
        let material = try decryptKey(key, from: sender, device: device)
        let plaintext = try OMEMOPayload.open(payload, iv: encrypted.iv, keyMaterial: material, format: .legacy, context: device.context)
        let trust = meetSender(sender, device: device)
        return FingerprintSealing.Opened(fingerprint: String(decoding: plaintext, as: UTF8.self), device: encrypted.senderDevice,
                                         verified: trust == .verified)
    }
}
