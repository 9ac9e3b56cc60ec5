import Foundation
import GRDB

/// One OMEMO device of another account (or another of our own), as a device list named it.
public struct OMEMODeviceAddress: Hashable, Sendable {
    public var account: String
    public var device: UInt32

    public init(account: String, device: UInt32) {
        self.account = account
        self.device = device
    }
}

/// Our OMEMO device's own identity (XEP-0384): its key pair and registration id. The private
/// key is kept here because the store is the user's alone (0600 in a 0700 directory).
public struct OMEMOOwnIdentity: Sendable, Equatable {
    public var registrationID: UInt32
    public var publicKey: [UInt8]
    public var privateKey: [UInt8]

    public init(registrationID: UInt32, publicKey: [UInt8], privateKey: [UInt8]) {
        self.registrationID = registrationID
        self.publicKey = publicKey
        self.privateKey = privateKey
    }
}

/// The user's word on one device's identity key.
public enum OMEMOTrust: String, Codable, Sendable, CaseIterable {
    /// Trusted before verification (blind trust, as Conversations and Dino do).
    case blind
    /// The user compared the fingerprint and trusts it.
    case verified
    /// Not to be encrypted for, and its messages are marked: the user distrusted it, or it is a
    /// new device of a contact whose devices the user verified.
    case untrusted
}

/// A known device with what we know of it: the lists that name it, its identity and trust.
public struct OMEMODeviceRecord: Sendable, Equatable {
    public var address: OMEMODeviceAddress
    /// The OMEMO versions whose device list names it now ("legacy", "current").
    public var versions: Set<String>
    public var label: String?
    /// Its identity key (with the type byte), once a session or its bundle showed it.
    public var identityKey: [UInt8]?
    public var trust: OMEMOTrust?

    public init(address: OMEMODeviceAddress, versions: Set<String>, label: String?, identityKey: [UInt8]?, trust: OMEMOTrust?) {
        self.address = address
        self.versions = versions
        self.label = label
        self.identityKey = identityKey
        self.trust = trust
    }
}

extension Store {
    static func registerOMEMO(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v18: omemo") { db in
            try db.create(table: "omemo_own") { t in
                t.primaryKey("id", .integer).check { $0 == 1 }
                t.column("registrationID", .integer).notNull()
                t.column("identityPublic", .blob).notNull()
                t.column("identityPrivate", .blob).notNull()
            }
            try db.create(table: "omemo_prekey") { t in
                t.primaryKey("id", .integer)
                t.column("record", .blob).notNull()
            }
            try db.create(table: "omemo_signed_prekey") { t in
                t.primaryKey("id", .integer)
                t.column("record", .blob).notNull()
            }
            try db.create(table: "omemo_session") { t in
                t.column("account", .text).notNull()
                t.column("device", .integer).notNull()
                t.column("record", .blob).notNull()
                t.primaryKey(["account", "device"])
            }
            // The library's record of identities, by its own names for devices.
            try db.create(table: "omemo_identity") { t in
                t.column("account", .text).notNull()
                t.column("device", .integer).notNull()
                t.column("key", .blob).notNull()
                t.primaryKey(["account", "device"])
            }
            // The user's word on each device's identity key, by account and device.
            try db.create(table: "omemo_trust") { t in
                t.column("account", .text).notNull()
                t.column("device", .integer).notNull()
                t.column("key", .blob).notNull()
                t.column("trust", .text).notNull()
                t.column("firstSeen", .datetime).notNull()
                t.primaryKey(["account", "device"])
            }
            try db.create(table: "omemo_device") { t in
                t.column("account", .text).notNull()
                t.column("device", .integer).notNull()
                t.column("version", .text).notNull()
                t.column("label", .text)
                t.primaryKey(["account", "device", "version"])
            }
            try db.create(table: "omemo_chat") { t in
                t.primaryKey("peer", .text)
                t.column("enabled", .boolean).notNull()
            }
            try db.alter(table: "message") { t in t.add(column: "encryption", .text) }
        }
    }

    // MARK: Our device's keys

    /// Our device's identity, or nil before it was made.
    public func omemoOwnIdentity() throws(StoreError) -> OMEMOOwnIdentity? {
        try reading { db in
            guard let own = try Row.fetchOne(db, sql: "SELECT * FROM omemo_own WHERE id = 1") else { return nil }
            let registration: Int64 = own["registrationID"]
            let publicKey: Data = own["identityPublic"]
            let privateKey: Data = own["identityPrivate"]
            return OMEMOOwnIdentity(registrationID: UInt32(truncatingIfNeeded: registration), publicKey: Array(publicKey),
                                    privateKey: Array(privateKey))
        }
    }

    /// Saves a new device's identity (a device is made once an account; its pre-keys are
    /// written as they are made).
    public func saveOMEMOOwnIdentity(_ identity: OMEMOOwnIdentity) throws(StoreError) {
        try writing { db in
            try db.execute(sql: "INSERT OR REPLACE INTO omemo_own (id, registrationID, identityPublic, identityPrivate) VALUES (1, ?, ?, ?)",
                           arguments: [Int64(identity.registrationID), Data(identity.publicKey), Data(identity.privateKey)])
        }
    }

    // The library's records, read at each of its calls (another process may have written them).

    public func omemoSession(_ address: OMEMODeviceAddress) throws(StoreError) -> [UInt8]? {
        try reading { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM omemo_session WHERE account = ? AND device = ?"),
                              arguments: [address.account, Int64(address.device)]).map(Array.init)
        }
    }

    public func omemoSessionDevices(of account: String) throws(StoreError) -> [UInt32] {
        try reading { db in
            try Int64.fetchAll(db, sql: "SELECT device FROM omemo_session WHERE account = ?", arguments: [account])
                .map { UInt32(truncatingIfNeeded: $0) }
        }
    }

    public func omemoPreKeys(signed: Bool) throws(StoreError) -> [UInt32: [UInt8]] {
        try reading { db in
            var result: [UInt32: [UInt8]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT id, record FROM \(signed ? "omemo_signed_prekey" : "omemo_prekey")") {
                let id: Int64 = row["id"]
                let data: Data = row["record"]
                result[UInt32(truncatingIfNeeded: id)] = Array(data)
            }
            return result
        }
    }

    public func omemoPreKey(_ id: UInt32, signed: Bool) throws(StoreError) -> [UInt8]? {
        try reading { db in
            try Data.fetchOne(db, sql: "SELECT record FROM \(signed ? "omemo_signed_prekey" : "omemo_prekey") WHERE id = ?",
                              arguments: [Int64(id)]).map(Array.init)
        }
    }

    public func omemoLibraryIdentity(_ address: OMEMODeviceAddress) throws(StoreError) -> [UInt8]? {
        try reading { db in
            try Data.fetchOne(db.cachedStatement(sql: "SELECT key FROM omemo_identity WHERE account = ? AND device = ?"),
                              arguments: [address.account, Int64(address.device)]).map(Array.init)
        }
    }

    public func saveOMEMOSession(_ record: [UInt8]?, for address: OMEMODeviceAddress) throws(StoreError) {
        try writing { db in try Self.saveSession(address, record, in: db) }
    }

    public func saveOMEMOPreKey(_ record: [UInt8]?, id: UInt32) throws(StoreError) {
        try writing { db in try Self.saveNumbered("omemo_prekey", id, record, in: db) }
    }

    public func saveOMEMOSignedPreKey(_ record: [UInt8]?, id: UInt32) throws(StoreError) {
        try writing { db in try Self.saveNumbered("omemo_signed_prekey", id, record, in: db) }
    }

    /// The identity key a device showed the library (by the library's name for it).
    public func saveOMEMOIdentity(_ key: [UInt8]?, of address: OMEMODeviceAddress) throws(StoreError) {
        try writing { db in try Self.saveIdentity(address, key, in: db) }
    }

    private static func saveNumbered(_ table: String, _ id: UInt32, _ record: [UInt8]?, in db: Database) throws {
        if let record {
            try db.execute(sql: "INSERT OR REPLACE INTO \(table) (id, record) VALUES (?, ?)", arguments: [Int64(id), Data(record)])
        } else {
            try db.execute(sql: "DELETE FROM \(table) WHERE id = ?", arguments: [Int64(id)])
        }
    }

    private static func saveSession(_ address: OMEMODeviceAddress, _ record: [UInt8]?, in db: Database) throws {
        if let record {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO omemo_session (account, device, record) VALUES (?, ?, ?)")
                .execute(arguments: [address.account, Int64(address.device), Data(record)])
        } else {
            try db.execute(sql: "DELETE FROM omemo_session WHERE account = ? AND device = ?", arguments: [address.account, Int64(address.device)])
        }
    }

    private static func saveIdentity(_ address: OMEMODeviceAddress, _ key: [UInt8]?, in db: Database) throws {
        if let key {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO omemo_identity (account, device, key) VALUES (?, ?, ?)")
                .execute(arguments: [address.account, Int64(address.device), Data(key)])
        } else {
            try db.execute(sql: "DELETE FROM omemo_identity WHERE account = ? AND device = ?", arguments: [address.account, Int64(address.device)])
        }
    }

    // MARK: Devices and trust

    /// Replaces the devices `account` lists in `version` ("legacy" or "current").
    public func setOMEMODevices(_ devices: [UInt32], labels: [UInt32: String] = [:], of account: String,
                                version: String) throws(StoreError) {
        try writing { db in
            try db.execute(sql: "DELETE FROM omemo_device WHERE account = ? AND version = ?", arguments: [account, version])
            for device in devices {
                try db.execute(sql: "INSERT INTO omemo_device (account, device, version, label) VALUES (?, ?, ?, ?)",
                               arguments: [account, Int64(device), version, labels[device]])
            }
        }
    }

    /// Every device we know of `account`: listed now, or met before (a session, an identity).
    public func omemoDevices(of account: String) throws(StoreError) -> [OMEMODeviceRecord] {
        try reading { db in
            var records: [UInt32: OMEMODeviceRecord] = [:]
            func record(_ device: Int64) -> OMEMODeviceRecord {
                let id = UInt32(truncatingIfNeeded: device)
                return records[id] ?? OMEMODeviceRecord(address: OMEMODeviceAddress(account: account, device: id), versions: [],
                                                        label: nil, identityKey: nil, trust: nil)
            }
            for row in try Row.fetchAll(db, sql: "SELECT device, version, label FROM omemo_device WHERE account = ?", arguments: [account]) {
                var found = record(row["device"])
                found.versions.insert(row["version"])
                found.label = found.label ?? row["label"]
                records[found.address.device] = found
            }
            for row in try Row.fetchAll(db, sql: "SELECT device, key, trust FROM omemo_trust WHERE account = ?", arguments: [account]) {
                var found = record(row["device"])
                let key: Data = row["key"]
                found.identityKey = Array(key)
                found.trust = (row["trust"] as String?).flatMap(OMEMOTrust.init(rawValue:))
                records[found.address.device] = found
            }
            return records.values.sorted { $0.address.device < $1.address.device }
        }
    }

    /// The identity key a device showed and the trust in it; nil for a device not met yet.
    public func omemoTrust(of address: OMEMODeviceAddress) throws(StoreError) -> (key: [UInt8], trust: OMEMOTrust)? {
        try reading { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT key, trust FROM omemo_trust WHERE account = ? AND device = ?"),
                                             arguments: [address.account, Int64(address.device)]) else { return nil }
            let key: Data = row["key"]
            return (Array(key), OMEMOTrust(rawValue: row["trust"]) ?? .untrusted)
        }
    }

    /// Records the identity key a device showed, with `trust` when it is new to us or its key
    /// changed (the trust given to another key is not this one's); a known key keeps its trust.
    /// Returns the trust it has now.
    @discardableResult
    public func meetOMEMOIdentity(_ key: [UInt8], of address: OMEMODeviceAddress, trust: OMEMOTrust) throws(StoreError) -> OMEMOTrust {
        try writing { db in
            let arguments: StatementArguments = [address.account, Int64(address.device)]
            if let row = try Row.fetchOne(db, sql: "SELECT key, trust FROM omemo_trust WHERE account = ? AND device = ?", arguments: arguments),
               (row["key"] as Data) == Data(key) {
                return OMEMOTrust(rawValue: row["trust"]) ?? .untrusted
            }
            try db.execute(sql: "INSERT OR REPLACE INTO omemo_trust (account, device, key, trust, firstSeen) VALUES (?, ?, ?, ?, ?)",
                           arguments: [address.account, Int64(address.device), Data(key), trust.rawValue, Date()])
            return trust
        }
    }

    /// Sets the user's trust in every device whose identity key is `key`; how many there were.
    @discardableResult
    public func setOMEMOTrust(_ trust: OMEMOTrust, ofIdentity key: [UInt8]) throws(StoreError) -> [OMEMODeviceAddress] {
        try writing { db in
            let devices = try Row.fetchAll(db, sql: "SELECT account, device FROM omemo_trust WHERE key = ?", arguments: [Data(key)]).map { row in
                let device: Int64 = row["device"]
                return OMEMODeviceAddress(account: row["account"], device: UInt32(truncatingIfNeeded: device))
            }
            try db.execute(sql: "UPDATE omemo_trust SET trust = ? WHERE key = ?", arguments: [trust.rawValue, Data(key)])
            return devices
        }
    }

    /// Every identity we met, for finding one by a fingerprint the user typed.
    public func omemoIdentities() throws(StoreError) -> [(address: OMEMODeviceAddress, key: [UInt8], trust: OMEMOTrust)] {
        try reading { db in
            try Row.fetchAll(db, sql: "SELECT account, device, key, trust FROM omemo_trust ORDER BY account, device").map { row in
                let device: Int64 = row["device"]
                let key: Data = row["key"]
                return (OMEMODeviceAddress(account: row["account"], device: UInt32(truncatingIfNeeded: device)), Array(key),
                        OMEMOTrust(rawValue: row["trust"]) ?? .untrusted)
            }
        }
    }

    // MARK: Per-conversation choice

    /// Whether the user turned encryption on or off for `peer`; nil: the default.
    public func omemoChoice(for peer: String) throws(StoreError) -> Bool? {
        try reading { db in try Bool.fetchOne(db, sql: "SELECT enabled FROM omemo_chat WHERE peer = ?", arguments: [peer]) }
    }

    public func setOMEMOChoice(_ enabled: Bool?, for peer: String) throws(StoreError) {
        try writing { db in
            if let enabled {
                try db.execute(sql: "INSERT OR REPLACE INTO omemo_chat (peer, enabled) VALUES (?, ?)", arguments: [peer, enabled])
            } else {
                try db.execute(sql: "DELETE FROM omemo_chat WHERE peer = ?", arguments: [peer])
            }
        }
    }
}

extension Store {
    /// Marks our message with stanza id `stanzaID` as sent encrypted.
    public func setEncryption(_ encryption: MessageEncryption, ofOutgoing stanzaID: String) throws(StoreError) {
        let text = String(decoding: (try? JSONEncoder().encode(encryption)) ?? Data(), as: UTF8.self)
        try writing { db in
            try db.execute(sql: "UPDATE message SET encryption = ? WHERE stanzaID = ? AND direction = 'outgoing'",
                           arguments: [text, stanzaID])
        }
    }

    /// Whether a message with this id in our archive is stored already.
    public func containsMessage(archiveID: String) throws(StoreError) -> Bool {
        try reading { db in
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM message WHERE archiveID = ?)"), arguments: [archiveID]) ?? false
        }
    }
}

/// A message another process of this account decrypted already (its keys are spent once
/// used): the text it found, and how it was encrypted.
public struct OMEMODecrypted: Sendable, Equatable {
    public var body: String?
    public var encryption: MessageEncryption

    public init(body: String?, encryption: MessageEncryption) {
        self.body = body
        self.encryption = encryption
    }
}

extension Store {
    static func registerOMEMODecrypted(in migrator: inout DatabaseMigrator) {
        migrator.registerMigration("v19: omemo decrypted") { db in
            try db.create(table: "omemo_decrypted") { t in
                t.primaryKey("key", .text)
                t.column("body", .text)
                t.column("encryption", .text).notNull()
                t.column("at", .datetime).notNull()
            }
        }
    }

    /// What a process of this account decrypted under `key` (the sender's device and the
    /// message key's bytes for ours): two processes online get each message twice, and only
    /// the first can decrypt it.
    public func omemoDecrypted(_ key: String) throws(StoreError) -> OMEMODecrypted? {
        try reading { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT body, encryption FROM omemo_decrypted WHERE key = ?"), arguments: [key]),
                  let encryption = try? JSONDecoder().decode(MessageEncryption.self, from: Data((row["encryption"] as String).utf8))
            else { return nil }
            return OMEMODecrypted(body: row["body"], encryption: encryption)
        }
    }

    /// Keeps what was decrypted for the account's other processes (a day: see
    /// `forgetOMEMODecrypted`).
    public func rememberOMEMODecrypted(_ decrypted: OMEMODecrypted, key: String, at time: Date = Date()) throws(StoreError) {
        let encryption = String(decoding: (try? JSONEncoder().encode(decrypted.encryption)) ?? Data(), as: UTF8.self)
        try writing { db in
            try db.execute(sql: "INSERT OR REPLACE INTO omemo_decrypted (key, body, encryption, at) VALUES (?, ?, ?, ?)",
                           arguments: [key, decrypted.body, encryption, time])
        }
    }

    /// Forgets what was decrypted more than a day before `time` (once a session: the other
    /// processes got those messages long ago).
    public func forgetOMEMODecrypted(before time: Date) throws(StoreError) {
        try writing { db in try db.execute(sql: "DELETE FROM omemo_decrypted WHERE at < ?", arguments: [time.addingTimeInterval(-86_400)]) }
    }
}
