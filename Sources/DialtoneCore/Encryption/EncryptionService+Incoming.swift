import DialtoneOMEMO
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Receiving: the incoming stage. An encrypted message (live, a carbon of what our other
/// device sent or received, an archive result) becomes its plaintext with who sent it and how
/// far that device is trusted; one that cannot be read is kept, saying why, instead of
/// vanishing. Nothing here waits for the network: what a message leaves to do is noted.
extension EncryptionService: IncomingStage {
    nonisolated(nonsending) func process(_ received: ReceivedMessage) async throws -> ReceivedMessage? {
        guard received.message.isOMEMOEncrypted else { return received }
        // Already stored (seen live, now in the archive): its keys are spent, and the stored
        // row is what counts.
        if let id = received.archiveID, try store.containsMessage(archiveID: id) { return received }
        let elements = received.message.omemoElements
        let scheme = elements.first?.version.namespace ?? OMEMOVersion.legacy.namespace
        guard received.room == nil, !received.privateInRoom else {
            return undecrypted(received, scheme: scheme, sender: 0, "OMEMO in group chats is not supported yet.")
        }
        guard let sender = (received.direction == .incoming ? received.message.from : account)?.bare.description else { return received }
        let device = try ownDevice()
        let ours = account.description
        guard let element = elements.first(where: { element in
            element.keys.contains { $0.device == device.id && ($0.account == nil || $0.account == ours) }
        }), let key = element.keys.first(where: { $0.device == device.id && ($0.account == nil || $0.account == ours) }) else {
            // Our own message from this very device (its copy): the stored row has its text.
            if sender == ours, elements.contains(where: { $0.senderDevice == device.id }) { return received }
            if elements.isEmpty { return undecrypted(received, scheme: scheme, sender: 0, "Its encryption element is malformed.") }
            return undecrypted(received, scheme: scheme, sender: elements[0].senderDevice,
                               "It was not encrypted for this device (\(device.id)).")
        }
        let format = element.version.format
        let recipient = Recipient(account: sender, device: element.senderDevice, format: format)
        // Another process of the account (a `listen` beside the interface) gets the same
        // message, and only the first to decrypt it can: the others take what it stored.
        // Named by a digest of its whole key for us: the start of every key exchange of one
        // session is the same.
        let shared = "\(sender) \(element.senderDevice) \(lowercaseHex(SCRAMHash.sha256.digest(key.data)))"
        if let found = try? store.omemoDecrypted(shared) { return apply(found, to: received) }
        let material: [UInt8]
        do {
            material = try decryptKey(key, from: recipient, device: device)
        } catch {
            switch await decryptedElsewhere(shared, archiveID: received.archiveID) {
            case .stored: return received
            case .decrypted(let found): return apply(found, to: received)
            case .no: break
            }
            // A session that no longer works (they lost theirs, or we ours): a new one, as
            // Conversations repairs it, so that their next message can be read. A message
            // decrypted before (by another process of the account) says nothing of the session.
            if !key.isKeyExchange, error as? OMEMOError != .duplicate { sessionsToRepair.insert(recipient) }
            // A key-transport message carried nothing to show.
            guard element.payload != nil else { return nil }
            return undecrypted(received, scheme: element.version.namespace, sender: element.senderDevice, "\(error)")
        }
        // After a key exchange the heartbeat tells the sender the session stands, so it stops
        // sending key exchanges.
        if key.isKeyExchange { heartbeatsOwed.insert(recipient) }
        let trust = meetSender(recipient, device: device)
        let encryption = MessageEncryption(scheme: element.version.namespace, device: element.senderDevice, trust: trust)
        guard let payload = element.payload else { return nil }
        let body: String?
        do {
            let plaintext = try OMEMOPayload.open(payload, iv: element.iv, keyMaterial: material, format: format, context: device.context)
            if format == .legacy {
                body = String(decoding: plaintext, as: UTF8.self)
            } else {
                guard let envelope = SCEEnvelope(decrypted: plaintext) else { throw OMEMOError.badPayload }
                // An envelope names who wrote it: one taken from someone else's message is refused.
                if let from = envelope.from, from.bare.description != sender {
                    return undecrypted(received, scheme: element.version.namespace, sender: element.senderDevice,
                                       "It claims to be from \(from.bare), not from \(sender).")
                }
                body = envelope.body
            }
        } catch {
            return undecrypted(received, scheme: element.version.namespace, sender: element.senderDevice, "\(error)")
        }
        let found = OMEMODecrypted(body: body, encryption: encryption)
        // A message our archive named is found by that id once stored; one without is kept
        // here for the other processes.
        if received.archiveID == nil { try? store.rememberOMEMODecrypted(found, key: shared) }
        return apply(found, to: received)
    }

    private enum Elsewhere {
        /// Another process stored it (by our archive's id): the store takes this copy for it.
        case stored
        case decrypted(OMEMODecrypted)
        case no
    }

    /// Whether another process decrypted the message, within half a second (it got the
    /// message at the same moment and may still be at it).
    private nonisolated(nonsending) func decryptedElsewhere(_ key: String, archiveID: String?) async -> Elsewhere {
        for attempt in 0...10 {
            if let archiveID, (try? store.containsMessage(archiveID: archiveID)) == true { return .stored }
            if let found = try? store.omemoDecrypted(key) { return .decrypted(found) }
            if attempt < 10 { try? await Task.sleep(for: .milliseconds(50)) }
        }
        return .no
    }

    /// The message with its decrypted text (nil: there was none to show).
    private func apply(_ found: OMEMODecrypted, to received: ReceivedMessage) -> ReceivedMessage? {
        guard let body = found.body else { return nil }
        var result = received
        result.message = received.message.decrypted(body: body)
        result.decryption = Decryption(scheme: found.encryption.scheme, senderDevice: found.encryption.device ?? 0,
                                       trust: found.encryption.trust?.rawValue)
        return result
    }

    /// The message key `key` carries for this device, decrypted with the sender's session,
    /// which is read, advanced and written back under the lock the account's other processes
    /// take too. A key exchange used up one of our pre-keys: a new bundle is due.
    func decryptKey(_ key: OMEMOEncrypted.Key, from sender: Recipient, device: OMEMODevice) throws -> [UInt8] {
        let material = try store.exclusively("omemo") {
            try device.decryptKey(key.data, isKeyExchange: key.isKeyExchange, from: sender.account, device: sender.device,
                                  format: sender.format)
        }
        if key.isKeyExchange { bundleOutdated = true }
        return material
    }

    /// The identity the sender's device showed in this session, met (and trusted or not) here.
    func meetSender(_ recipient: Recipient, device: OMEMODevice) -> OMEMOTrust? {
        guard let identity = device.identity(of: recipient.account, device: recipient.device, format: recipient.format) else { return nil }
        do {
            // Met before with this key (nearly always): a read, no write.
            if let known = try store.omemoTrust(of: recipient.address), known.key == identity { return known.trust }
            return try store.meetOMEMOIdentity(identity, of: recipient.address, trust: try firstTrust(for: recipient.account))
        } catch {
            logger.error("cannot store the identity of \(recipient.account)'s device \(recipient.device): \(error)")
            return nil
        }
    }

    /// The message kept with no text but the reason it could not be read.
    private func undecrypted(_ received: ReceivedMessage, scheme: String, sender: UInt32, _ reason: String) -> ReceivedMessage {
        logger.info("could not decrypt message \(received.message.id ?? "?"): \(reason)")
        var result = received
        result.message = received.message.decrypted(body: nil)
        result.decryption = Decryption(scheme: scheme, senderDevice: sender, trust: nil, failure: reason)
        return result
    }
}
