import DialtoneOMEMO
import DialtoneStore
import DialtoneXMPP
import Logging

/// One OMEMO device as the user sees it: whose, its id, the fingerprint to compare, and the
/// user's trust in it.
public struct DeviceFingerprint: Sendable, Equatable {
    public var account: String
    public var device: UInt32
    /// The identity key's fingerprint in lower-case hex (64 digits); nil until we met it.
    public var fingerprint: String?
    public var trust: OMEMOTrust?
    /// Named in its account's device list now (an old device that left is not).
    public var listed: Bool
    /// The device's own name for itself (the current version lets it give one): a claim.
    public var label: String?
    public var isThisDevice: Bool

    /// The fingerprint as clients show it: eight groups of eight digits.
    public var grouped: String? {
        fingerprint.map { hex in
            stride(from: 0, to: hex.count, by: 8).map { start in
                let from = hex.index(hex.startIndex, offsetBy: start)
                return String(hex[from..<(hex.index(from, offsetBy: 8, limitedBy: hex.endIndex) ?? hex.endIndex)])
            }.joined(separator: " ")
        }
    }
}

/// Whether a conversation is encrypted, and why not.
public enum ConversationEncryption: Sendable, Equatable {
    /// Encrypted with OMEMO; `verified` when every device written to is verified.
    case encrypted(verified: Bool)
    /// Not encrypted: the user turned it off, or the contact has no OMEMO device.
    case plain(contactHasDevices: Bool)
    /// A phone number through the gateway: SMS and MMS, never end-to-end encrypted.
    case phoneNetwork
    /// A group chat: not encrypted.
    case room
}

public enum TrustError: Error, Sendable, CustomStringConvertible {
    case unknownFingerprint(String)

    public var description: String {
        switch self {
        case .unknownFingerprint(let text):
            "No device with fingerprint \(text) is known; see /omemo fingerprints CONTACT (or `dialtone omemo fingerprints CONTACT`)."
        }
    }
}

extension EncryptionService {
    /// Every device of `owner` (ours, with this device first, when nil).
    nonisolated(nonsending) func fingerprints(of owner: String?) async throws -> [DeviceFingerprint] {
        let device = try ownDevice()
        let account = owner ?? self.account.description
        // Listing our own devices also makes sure this one is announced (a one-shot command
        // may otherwise end before the session's start has published it).
        await ensurePublished()
        await refreshDevices(of: account)
        await meetListedDevices(of: account, except: device.id)
        var result: [DeviceFingerprint] = []
        if owner == nil || owner == self.account.description {
            result.append(DeviceFingerprint(account: account, device: device.id, fingerprint: Self.fingerprint(device.store.identityPublic),
                                            trust: .verified, listed: true, label: "this device", isThisDevice: true))
        }
        for record in try store.omemoDevices(of: account) where !(account == self.account.description && record.address.device == device.id) {
            result.append(DeviceFingerprint(account: account, device: record.address.device, fingerprint: record.identityKey.map(Self.fingerprint),
                                            trust: record.trust, listed: !record.versions.isEmpty, label: record.label.map(Sanitizer.plain),
                                            isThisDevice: false))
        }
        return result
    }

    /// Reads the identity of each listed device not met yet from its bundle, so that the user
    /// can verify a device before the first message to it.
    private nonisolated(nonsending) func meetListedDevices(of owner: String, except own: UInt32) async {
        guard let jid = try? JID(owner), let records = try? store.omemoDevices(of: owner) else { return }
        for record in records where record.identityKey == nil && !record.versions.isEmpty && record.address.device != own {
            let version: OMEMOVersion = record.versions.contains(OMEMOVersion.legacy.name) ? .legacy : .current
            do {
                guard let bundle = try await client.omemoBundle(of: jid, device: record.address.device, version: version) else { continue }
                let identity = try ownDevice().identityKey(bundle.identityKey, publishedIn: version.format)
                try store.meetOMEMOIdentity(identity, of: record.address, trust: try firstTrust(for: owner))
            } catch {
                logger.info("no identity for \(owner)'s device \(record.address.device): \(error)")
            }
        }
    }

    /// Sets the trust in every device whose fingerprint is `text` (spaces and case as the user
    /// typed them; a unique prefix of at least 8 digits does); which devices those were.
    func setTrust(_ trust: OMEMOTrust, fingerprint text: String) throws -> [DeviceFingerprint] {
        let wanted = text.lowercased().filter { !$0.isWhitespace && $0 != ":" }
        let keys = Set(try store.omemoIdentities().map(\.key).filter { Self.fingerprint($0).hasPrefix(wanted) })
        guard wanted.count >= 8, keys.count == 1, let key = keys.first else { throw TrustError.unknownFingerprint(text) }
        return try store.setOMEMOTrust(trust, ofIdentity: key).map {
            DeviceFingerprint(account: $0.account, device: $0.device, fingerprint: Self.fingerprint(key), trust: trust, listed: true,
                              label: nil, isThisDevice: false)
        }
    }

    /// How a conversation with `peer` goes now (from what is stored: no network).
    func status(of peer: JID, isRoom: Bool) throws -> ConversationEncryption {
        if isRoom { return .room }
        guard canEncrypt(peer) else { return .phoneNetwork }
        let devices = try store.omemoDevices(of: peer.bare.description).filter { !$0.versions.isEmpty }
        guard try store.omemoChoice(for: peer.bare.description) ?? onByDefault, !devices.isEmpty else {
            return .plain(contactHasDevices: !devices.isEmpty)
        }
        let trusted = devices.filter { $0.trust != .untrusted }
        return .encrypted(verified: !trusted.isEmpty && trusted.allSatisfy { $0.trust == .verified })
    }

    static func fingerprint(_ key: [UInt8]) -> String { lowercaseHex(key.count == 33 ? key.dropFirst() : key[...]) }
}
