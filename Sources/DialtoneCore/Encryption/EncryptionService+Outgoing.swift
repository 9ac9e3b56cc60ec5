import DialtoneOMEMO
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Why a message waits in the outbox instead of going out in clear.
public enum EncryptionError: Error, Sendable, CustomStringConvertible {
    /// The user turned encryption on for a contact who has no OMEMO device.
    case noDevices(String)
    /// The contact has devices, but none we could start a session with, or trust.
    case noTrustedDevice(String)

    public var description: String {
        switch self {
        case .noDevices(let peer):
            "\(peer) has no OMEMO devices; the message waits. To send it unencrypted: /omemo off, or dialtone omemo off \(peer)."
        case .noTrustedDevice(let peer):
            "None of \(peer)'s OMEMO devices can be written to (untrusted, or no bundle); see /omemo fingerprints \(peer)."
        }
    }
}

/// A shared encrypted file that does not decrypt: damaged, changed, or a wrong key.
public enum EncryptedFileError: Error, Sendable, CustomStringConvertible {
    case damaged(String)

    public var description: String {
        switch self {
        case .damaged: "The encrypted file does not decrypt (damaged, changed on the server, or a wrong key); nothing was saved."
        }
    }
}

/// Sending: the outgoing stage. A message's text (and a correction's) is encrypted for the
/// contact's devices and our own other devices each time it goes, for the devices known then.
extension EncryptionService: OutgoingStage {
    nonisolated(nonsending) func prepare(_ stanza: inout Message, for message: OutgoingMessage) async throws {
        // Rooms are not encrypted (OMEMO there needs every occupant's real address); reactions
        // and retractions carry no text of the user's.
        guard !message.groupchat, !message.privateInRoom, let text = stanza.body else { return }
        switch message.content {
        case .message, .correction: break
        case .reactions, .retraction: return
        }
        let peer = message.to.bare
        guard try await wantsEncryption(peer) else { return }
        let recipients = try recipients(for: peer.description)
        var elements: [OMEMOEncrypted] = []
        var reachedPeer = false
        for format in OMEMOFormat.allCases {
            let group = recipients.filter { $0.format == format }
            guard !group.isEmpty, let element = try await encrypt(text, for: group, format: format) else { continue }
            reachedPeer = reachedPeer || element.keys.contains { key in
                group.contains { $0.device == key.device && $0.account == peer.description }
            }
            elements.append(element)
        }
        guard reachedPeer, let first = elements.first else { throw EncryptionError.noTrustedDevice(peer.description) }
        stanza = stanza.encrypted(elements)
        try? store.setEncryption(MessageEncryption(scheme: first.version.namespace, device: first.senderDevice, trust: nil),
                                 ofOutgoing: message.id)
        // Shown before it went: the front ends learn that it went encrypted.
        if let row = try? store.recentOutgoing(stanzaIDs: [message.id]).first {
            broadcaster.publish(.sentEncrypted(peer: peer.description, row))
        }
    }

    /// A file goes encrypted (XEP-0454: AES-256-GCM, an aesgcm:// link) where its message
    /// will be; also where encryption is wanted but not yet possible (the message waits, and
    /// the file must not have gone in clear).
    nonisolated(nonsending) func sealFile(_ file: [UInt8], to peer: JID) async throws -> SealedFile? {
        let wanted: Bool
        do { wanted = try await wantsEncryption(peer.bare) } catch { wanted = true }
        guard wanted else { return nil }
        let sealed = try OMEMOMedia.seal(file)
        return SealedFile(upload: sealed.upload, scheme: "aesgcm", fragment: sealed.fragment)
    }

    /// Whether a chat message to `peer` is to be encrypted: never for the gateway's numbers;
    /// else as the user chose for it, and by default when it has devices.
    nonisolated(nonsending) func wantsEncryption(_ peer: JID) async throws -> Bool {
        guard canEncrypt(peer) else { return false }
        let choice = try store.omemoChoice(for: peer.description)
        guard choice ?? onByDefault else { return false }
        await refreshDevices(of: peer.description)
        let hasDevices = try store.omemoDevices(of: peer.description).contains { !$0.versions.isEmpty }
        if !hasDevices, choice == true { throw EncryptionError.noDevices(peer.description) }
        return hasDevices
    }

    /// The devices a message to `peer` is encrypted for: the contact's and our own other ones,
    /// except those the user does not trust. Each in one version: the legacy one where its
    /// list names it (every client in use reads it), else the current one.
    func recipients(for peer: String) throws -> [Recipient] {
        let own = try ownDevice().id
        var result: [Recipient] = []
        for owner in [peer, account.description] {
            for record in try store.omemoDevices(of: owner) where !record.versions.isEmpty && record.trust != .untrusted {
                if owner == account.description, record.address.device == own { continue }
                let format: OMEMOFormat = record.versions.contains(OMEMOVersion.legacy.name) ? .legacy : .current
                result.append(Recipient(account: owner, device: record.address.device, format: format))
            }
        }
        return result
    }

    /// `text` encrypted once in `format` and its key for each recipient with whom a session
    /// exists or can be started; nil when there is none. Without text: a key-transport
    /// message.
    nonisolated(nonsending) func encrypt(_ text: String?, for recipients: [Recipient], format: OMEMOFormat) async throws -> OMEMOEncrypted? {
        let device = try ownDevice()
        var ready: [Recipient] = []
        for recipient in recipients where await startSessionIfNeeded(with: recipient, device: device) { ready.append(recipient) }
        guard !ready.isEmpty else { return nil }
        let material: [UInt8]
        let iv: [UInt8]?
        var payload: [UInt8]?
        if let text {
            let plaintext = format == .legacy ? Array(text.utf8) : SCEEnvelope(body: text, from: account).serialized()
            let sealed = try OMEMOPayload.seal(plaintext, format: format, context: device.context)
            (material, iv, payload) = (sealed.keyMaterial, sealed.iv, sealed.payload)
        } else {
            (material, iv) = try OMEMOPayload.keyTransport(format: format)
        }
        var keys: [OMEMOEncrypted.Key] = []
        for recipient in ready {
            do {
                // The session is read, advanced and written back: one process at a time.
                let key = try store.exclusively("omemo") {
                    try device.encryptKey(material, for: recipient.account, device: recipient.device, format: format)
                }
                keys.append(.init(account: format == .current ? recipient.account : nil, device: recipient.device,
                                  isKeyExchange: key.isKeyExchange, data: key.data))
            } catch {
                logger.warning("could not encrypt for \(recipient.account)'s device \(recipient.device): \(error)")
            }
        }
        guard !keys.isEmpty else { return nil }
        // Whoever we write to now needs no heartbeat: this message completes their key exchange.
        for recipient in ready { heartbeatsOwed.remove(recipient) }
        return OMEMOEncrypted(version: format == .legacy ? .legacy : .current, senderDevice: device.id, keys: keys, iv: iv,
                              payload: payload)
    }

    /// A session with `recipient`: the one we have (if the user still trusts the device), or
    /// one started from its bundle, whose identity is met here first.
    private nonisolated(nonsending) func startSessionIfNeeded(with recipient: Recipient, device: OMEMODevice) async -> Bool {
        if device.hasSession(with: recipient.account, device: recipient.device, format: recipient.format) {
            return (try? store.omemoTrust(of: recipient.address))??.trust != .untrusted
        }
        do {
            let owner = try JID(recipient.account)
            guard let bundle = try await client.omemoBundle(of: owner, device: recipient.device, version: recipient.version) else {
                logger.info("\(recipient.account)'s device \(recipient.device) has no \(recipient.version.name) bundle")
                return false
            }
            let keys = OMEMOBundleKeys(bundle)
            let identity = try device.identityKey(keys.identityKey, publishedIn: recipient.format)
            let trust = try store.meetOMEMOIdentity(identity, of: recipient.address, trust: try firstTrust(for: recipient.account))
            guard trust != .untrusted else { return false }
            try store.exclusively("omemo") {
                try device.startSession(with: recipient.account, device: recipient.device, bundle: keys, format: recipient.format)
            }
            return true
        } catch {
            logger.warning("no session with \(recipient.account)'s device \(recipient.device): \(error)")
            return false
        }
    }
}
