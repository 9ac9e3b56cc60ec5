import DialtoneJingle
import DialtoneStore
import DialtoneXMPP

/// OMEMO end-to-end encryption as front ends drive it: per-conversation on/off, fingerprints
/// and trust (XEP-0384; blind trust before verification, as Conversations and Dino).
extension AccountSession {
    /// The devices of `peer` (nil: the account's own, this one first) with their fingerprints.
    public func fingerprints(of peer: JID?) async throws -> [DeviceFingerprint] {
        try await encryption.fingerprints(of: peer?.bare.description)
    }

    /// Verifies (`trusted`) or distrusts the device(s) with this fingerprint.
    @discardableResult
    public func trustDevice(fingerprint: String, trusted: Bool) throws -> [DeviceFingerprint] {
        try encryption.setTrust(trusted ? .verified : .untrusted, fingerprint: fingerprint)
    }

    /// Turns encryption on or off for one conversation (nil: back to the default).
    public func setEncryption(_ enabled: Bool?, for peer: JID) throws {
        try store.setOMEMOChoice(enabled, for: peer.bare.description)
    }

    /// Whether messages to `peer` are encrypted now, and if not why.
    public func encryptionStatus(of peer: JID) throws -> ConversationEncryption {
        try encryption.status(of: peer, isRoom: groupChats.directory.isRoom(peer))
    }

    /// Looks up `peer`'s devices now (the status then reflects them).
    public func refreshEncryption(of peer: JID) async {
        guard encryption.canEncrypt(peer), !groupChats.directory.isRoom(peer) else { return }
        await encryption.refreshDevices(of: peer.bare.description)
    }
}

// MARK: Verified calls

extension AccountSession {
    /// What calls ask of the account's encryption: its device for a proceed, a fingerprint
    /// encrypted or decrypted (`FingerprintSealing`). Reached through `link`, which the session
    /// fills once it is built.
    static func fingerprintSealing(through link: SessionLink) -> FingerprintSealing {
        FingerprintSealing(
            ownDevice: { peer in await link.session?.callDevice(for: peer) },
            seal: { fingerprint, peer, device in
                guard let session = link.session else { throw CallFingerprintError.accountStopped }
                return try await session.sealCallFingerprint(fingerprint, for: peer, device: device)
            },
            open: { encrypted, peer in
                guard let session = link.session else { throw CallFingerprintError.accountStopped }
                return try await session.openCallFingerprint(encrypted, from: peer)
            })
    }

    func callDevice(for peer: JID) -> UInt32? { encryption.callDevice(for: peer) }

    func sealCallFingerprint(_ fingerprint: String, for peer: JID, device: UInt32) async throws -> OMEMOEncrypted {
        try await encryption.sealCallFingerprint(fingerprint, for: peer, device: device)
    }

    func openCallFingerprint(_ encrypted: OMEMOEncrypted, from peer: JID) throws -> FingerprintSealing.Opened {
        let opened = try encryption.openCallFingerprint(encrypted, from: peer)
        // A pre-key used: the new bundle needs the network, so not while the call waits.
        if encryption.hasPendingWork { Task { await self.encryptionWork() } }
        return opened
    }
}
