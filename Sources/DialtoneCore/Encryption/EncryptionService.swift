import DialtoneOMEMO
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// End-to-end encryption of chats with OMEMO (XEP-0384), both versions: this account's own
/// device (made once, kept in the store), its device list and bundle on our PEP service, the
/// device lists of the people we write to, and two stages of the messaging pipeline: outgoing
/// messages are encrypted for every trusted device of the contact and of our own account,
/// received ones decrypted before they are stored.
///
/// Work that needs the network after a message was received (a new bundle once pre-keys were
/// used, the heartbeat a key exchange asks for, a broken session repaired) is noted while
/// the message is handled and done afterwards (`doPendingWork`), never while the session's
/// batch waits: the stream would wait for itself.
final class EncryptionService: AccountFeature {
    let account: JID
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    /// The phone gateway: its numbers carry SMS, which no OMEMO reaches.
    let gateway: JID?
    /// Whether chats are encrypted where the contact has devices, unless the user said otherwise.
    let onByDefault: Bool
    let logger: Logger
    private var loaded: OMEMODevice?
    private let keeper: StoreKeeper
    /// Accounts whose device lists were asked for in this session (others come as notifications).
    var listsAsked: Set<String> = []
    /// Of those, the ones whose answers have not all come yet.
    var listsAsking: Set<String> = []
    /// Whether our device was put on the server in this session (lists and bundle).
    var publishedThisSession = false
    /// A publication is under way (the session's start, or a command that needs it done).
    var publishing = false
    /// Work noted while messages were handled, done by `doPendingWork`.
    var bundleOutdated = false
    var heartbeatsOwed: Set<Recipient> = []
    var sessionsToRepair: Set<Recipient> = []

    /// One device of one account, in the version spoken with it.
    struct Recipient: Hashable {
        var account: String
        var device: UInt32
        var format: OMEMOFormat

        var address: OMEMODeviceAddress { OMEMODeviceAddress(account: account, device: device) }
        var version: OMEMOVersion { format == .legacy ? .legacy : .current }
    }

    init(account: JID, store: Store, client: XMPPClient, broadcaster: EventBroadcaster, gateway: JID?, onByDefault: Bool,
         logger: Logger) {
        self.account = account.bare
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.gateway = gateway
        self.onByDefault = onByDefault
        self.logger = logger
        keeper = StoreKeeper(store: store)
    }

    /// Our device: as saved, or made now (keys, 100 pre-keys, a signed pre-key) and saved.
    func ownDevice() throws -> OMEMODevice {
        if let loaded { return loaded }
        let context = try OMEMOContext()
        let device: OMEMODevice
        if let saved = try store.omemoOwnIdentity() {
            device = try OMEMODevice(restoring: OMEMOIdentity(publicKey: saved.publicKey, privateKey: saved.privateKey,
                                                              registrationID: saved.registrationID),
                                     records: keeper, context: context)
        } else {
            device = try OMEMODevice(context: context, records: keeper)
            let identity = device.store.identity
            try store.saveOMEMOOwnIdentity(OMEMOOwnIdentity(registrationID: identity.registrationID, publicKey: identity.publicKey,
                                                            privateKey: identity.privateKey))
            logger.info("made this account's OMEMO device \(device.id)")
        }
        loaded = device
        return device
    }

    var hasPendingWork: Bool { bundleOutdated || !heartbeatsOwed.isEmpty || !sessionsToRepair.isEmpty }

    // MARK: Our device on the server

    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        guard !resumed else { return }
        // Lists are asked again in a new session: notifications missed meanwhile are not resent.
        listsAsked = []
        publishedThisSession = false
        try? store.forgetOMEMODecrypted(before: Date())
        await publishOwnDevice()
    }

    /// Puts our device in both versions' device lists (beside the account's other devices) and
    /// publishes its bundle in both forms, readable by anyone.
    nonisolated(nonsending) func publishOwnDevice() async {
        publishing = true
        defer { publishing = false }
        do {
            let device = try ownDevice()
            // Counted and made under the lock: two processes would otherwise make the same ids.
            try store.exclusively("omemo") {
                let preKeys = try device.preKeyCount()
                if preKeys < 100 { try device.addPreKeys(100 - preKeys) }
            }
            try rotateSignedPreKeyIfDue(device)
            // The bundle goes again only when it changed (pre-keys used, a new signed pre-key):
            // a login is not a reason to write to the server.
            let published = "\(device.id) \(try device.signedPreKeyID() ?? 0) \(try device.preKeyIDsDigest())"
            let bundleKnown = try store.state("omemoPublishedBundle") == published
            for version in OMEMOVersion.allCases {
                // Only a list we could read is extended: publishing ours alone would drop the others.
                var list = try await client.omemoDevices(of: account, version: version) ?? OMEMODeviceList(devices: [])
                try store.setOMEMODevices(list.devices, labels: list.labels, of: account.description, version: version.name)
                // A list without us (a new server, another client's overwrite) may have lost the bundle too.
                if !bundleKnown || !list.devices.contains(device.id) {
                    try await client.publishOMEMOBundle(OMEMOBundle(try device.bundle(version.format)), device: device.id, version: version)
                }
                if !list.devices.contains(device.id) {
                    list.devices.append(device.id)
                    list.labels[device.id] = "Dialtone"
                    try await client.publishOMEMODevices(list, version: version)
                }
            }
            try store.setState("omemoPublishedBundle", published)
            logger.debug("OMEMO device \(device.id) published (bundle \(bundleKnown ? "unchanged" : "sent"))")
            listsAsked.insert(account.description)
            bundleOutdated = false
            publishedThisSession = true
        } catch XMPPConnectionError.notConnected {
            // The next session publishes it.
            logger.info("could not publish this device for OMEMO: not connected")
        } catch {
            logger.warning("could not publish this device for OMEMO: \(error)")
        }
    }

    /// Our device on the server before something that a peer reads it for (a call's first
    /// key exchange: python-omemo, for one, refuses a sender whose device it cannot look up).
    /// A publication already under way is waited for, up to five seconds.
    nonisolated(nonsending) func ensurePublished() async {
        guard !publishedThisSession else { return }
        guard publishing else { return await publishOwnDevice() }
        await waitWhile { publishing }
    }

    /// Waits while another caller's work is under way (`busy`), up to five seconds.
    private nonisolated(nonsending) func waitWhile(_ busy: () -> Bool) async {
        for _ in 0..<100 where busy() { try? await Task.sleep(for: .milliseconds(50)) }
    }

    /// A new signed pre-key once a week (as Conversations and python-omemo rotate theirs); the
    /// time of the last is kept in the store's state.
    private func rotateSignedPreKeyIfDue(_ device: OMEMODevice, now: Date = Date()) throws {
        let key = "omemoSignedPreKeyAt"
        guard let last = try store.state(key).flatMap(Double.init) else {
            try store.setState(key, String(now.timeIntervalSince1970))
            return
        }
        guard now.timeIntervalSince1970 - last >= Self.signedPreKeyLifetime else { return }
        try store.exclusively("omemo") { try device.rotateSignedPreKey() }
        try store.setState(key, String(now.timeIntervalSince1970))
        logger.info("rotated this device's signed pre-key")
    }

    static let signedPreKeyLifetime: TimeInterval = 7 * 24 * 3600

    /// A device list as its account's PEP service announced it (ours included). Our own list
    /// without our device (another client wrote it over) gets it back.
    func devicesAnnounced(by owner: JID, version: OMEMOVersion, _ list: OMEMODeviceList) {
        do {
            try store.setOMEMODevices(list.devices, labels: list.labels, of: owner.bare.description, version: version.name)
            if owner.bare == account, let device = loaded, !list.devices.contains(device.id) { bundleOutdated = true }
        } catch {
            logger.error("cannot store \(owner.bare)'s OMEMO devices: \(error)")
        }
    }

    /// Asks for `peer`'s device lists once a session (notifications keep them current after);
    /// a second caller meanwhile (the conversation's title, its first message) waits for the
    /// answer rather than reading what is stored before it came.
    nonisolated(nonsending) func refreshDevices(of peer: String) async {
        guard let jid = try? JID(peer) else { return }
        guard !listsAsked.contains(peer) else {
            await waitWhile { listsAsking.contains(peer) }
            return
        }
        listsAsked.insert(peer)
        listsAsking.insert(peer)
        defer { listsAsking.remove(peer) }
        for version in OMEMOVersion.allCases {
            do {
                let list = try await client.omemoDevices(of: jid, version: version)
                try store.setOMEMODevices(list?.devices ?? [], labels: list?.labels ?? [:], of: peer, version: version.name)
            } catch {
                logger.info("no \(version.name) OMEMO device list for \(peer): \(error)")
            }
        }
    }

    // MARK: Work after messages

    /// What received messages left to do: a new bundle when pre-keys were used, heartbeats
    /// after key exchanges, broken sessions started again.
    nonisolated(nonsending) func doPendingWork() async {
        if bundleOutdated { await publishOwnDevice() }
        let repairs = sessionsToRepair
        sessionsToRepair = []
        for recipient in repairs {
            // A new session from their bundle; its key exchange tells them to drop the old one.
            try? store.exclusively("omemo") {
                try ownDevice().forgetSession(with: recipient.account, device: recipient.device, format: recipient.format)
            }
            heartbeatsOwed.insert(recipient)
        }
        let owed = heartbeatsOwed
        heartbeatsOwed = []
        for recipient in owed {
            do {
                guard let jid = try? JID(recipient.account),
                      let encrypted = try await encrypt(nil, for: [recipient], format: recipient.format) else { continue }
                try await client.send(Message.omemoKeyTransport(encrypted, to: jid).element)
                logger.debug("sent a heartbeat to \(recipient.account)'s device \(recipient.device)")
            } catch {
                logger.info("no heartbeat to \(recipient.account)'s device \(recipient.device): \(error)")
            }
        }
    }

    // MARK: Policy

    /// Whether a chat with `peer` is one OMEMO could ever encrypt: not a phone number through
    /// the gateway (SMS), not the gateway itself.
    func canEncrypt(_ peer: JID) -> Bool {
        guard let gateway else { return true }
        return peer.domain != gateway.domain
    }

    /// The trust a device met for the first time gets: blind trust, unless the user verified
    /// one of its account's devices (then a new one must be verified too).
    func firstTrust(for owner: String) throws -> OMEMOTrust {
        try store.omemoDevices(of: owner).contains { $0.trust == .verified } ? .untrusted : .blind
    }
}

extension OMEMOVersion {
    var format: OMEMOFormat { self == .legacy ? .legacy : .current }
    /// How the store names the version.
    var name: String { self == .legacy ? "legacy" : "current" }
}

/// The key store's records in Dialtone's store, read and written at each library call.
@_spi(Bench)
public final class StoreKeeper: OMEMOKeyRecords {
    let store: Store

    public init(store: Store) { self.store = store }

    private func address(_ device: OMEMOKeyStore.Device) -> OMEMODeviceAddress {
        OMEMODeviceAddress(account: device.account, device: UInt32(bitPattern: device.id))
    }

    public func session(_ device: OMEMOKeyStore.Device) throws -> [UInt8]? { try store.omemoSession(address(device)) }
    public func sessionDevices(of account: String) throws -> [Int32] { try store.omemoSessionDevices(of: account).map { Int32(bitPattern: $0) } }
    public func setSession(_ record: [UInt8]?, for device: OMEMOKeyStore.Device) throws { try store.saveOMEMOSession(record, for: address(device)) }
    public func preKeys() throws -> [UInt32: [UInt8]] { try store.omemoPreKeys(signed: false) }
    public func preKey(_ id: UInt32) throws -> [UInt8]? { try store.omemoPreKey(id, signed: false) }
    public func setPreKey(_ record: [UInt8]?, id: UInt32) throws { try store.saveOMEMOPreKey(record, id: id) }
    public func signedPreKeys() throws -> [UInt32: [UInt8]] { try store.omemoPreKeys(signed: true) }
    public func signedPreKey(_ id: UInt32) throws -> [UInt8]? { try store.omemoPreKey(id, signed: true) }
    public func setSignedPreKey(_ record: [UInt8]?, id: UInt32) throws { try store.saveOMEMOSignedPreKey(record, id: id) }
    public func identity(of device: OMEMOKeyStore.Device) throws -> [UInt8]? { try store.omemoLibraryIdentity(address(device)) }
    public func setIdentity(_ key: [UInt8]?, of device: OMEMOKeyStore.Device) throws { try store.saveOMEMOIdentity(key, of: address(device)) }
}

// MARK: Between the layers' value types

extension OMEMOBundle {
    init(_ keys: OMEMOBundleKeys) {
        self.init(identityKey: keys.identityKey, signedPreKeyID: keys.signedPreKeyID, signedPreKey: keys.signedPreKey,
                  signedPreKeySignature: keys.signedPreKeySignature, preKeys: keys.preKeys)
    }
}

extension OMEMOBundleKeys {
    init(_ bundle: OMEMOBundle) {
        self.init(identityKey: bundle.identityKey, signedPreKeyID: bundle.signedPreKeyID, signedPreKey: bundle.signedPreKey,
                  signedPreKeySignature: bundle.signedPreKeySignature, preKeys: bundle.preKeys)
    }
}
