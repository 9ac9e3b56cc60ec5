import DialtoneXML
import Foundation

/// The two OMEMO versions in use (XEP-0384): the one Conversations, Cheogram, Dino and Profanity
/// speak today, and the current one (Gajim, Kaidan). Each has its own namespace, PEP nodes and
/// element names for the same things.
public enum OMEMOVersion: Sendable, Equatable, CaseIterable {
    /// `eu.siacs.conversations.axolotl` (XEP-0384 version 0.3).
    case legacy
    /// `urn:xmpp:omemo:2`.
    case current

    public var namespace: String { self == .legacy ? "eu.siacs.conversations.axolotl" : "urn:xmpp:omemo:2" }
    /// The PEP node with an account's device list.
    public var deviceListNode: String { self == .legacy ? namespace + ".devicelist" : namespace + ":devices" }
    /// The PEP node (and item) with a device's bundle.
    public func bundleNode(device: UInt32) -> (node: String, item: String) {
        self == .legacy ? (namespace + ".bundles:\(device)", "current") : (namespace + ":bundles", String(device))
    }

    /// Device ids are 1 to 2³¹ − 1 in both versions.
    static func deviceID(_ text: String?) -> UInt32? {
        guard let text, let id = UInt32(text), id >= 1, id <= UInt32(Int32.max) else { return nil }
        return id
    }
}

/// An account's OMEMO devices, as its device list node has them.
public struct OMEMODeviceList: Sendable, Equatable {
    public var devices: [UInt32]
    /// Labels the current version lets a device give itself ("Gajim on Ubuntu"): the device's
    /// claim, shown only as such.
    public var labels: [UInt32: String]

    public init(devices: [UInt32], labels: [UInt32: String] = [:]) {
        self.devices = devices
        self.labels = labels
    }

    /// The list in `element` (`<list/>` or `<devices/>`); entries without a valid id are skipped.
    public init?(_ element: XMLElement, version: OMEMOVersion) {
        guard element.name == (version == .legacy ? "list" : "devices"), element.namespace == version.namespace else { return nil }
        var devices: [UInt32] = []
        var labels: [UInt32: String] = [:]
        for device in element.children("device", namespace: version.namespace) {
            guard let id = OMEMOVersion.deviceID(device[attribute: "id"]), !devices.contains(id) else { continue }
            devices.append(id)
            if version == .current, let label = device[attribute: "label"], !label.isEmpty { labels[id] = String(label.prefix(100)) }
        }
        self.init(devices: devices, labels: labels)
    }

    public func element(version: OMEMOVersion) -> XMLElement {
        var list = XMLElement(version == .legacy ? "list" : "devices", namespace: version.namespace)
        for id in devices {
            var device = XMLElement("device", namespace: version.namespace, attributes: [XMLAttribute("id", String(id))])
            if version == .current, let label = labels[id] { device[attribute: "label"] = label }
            list.append(device)
        }
        return list
    }
}

/// What a device publishes so that others can start a session with it without it being online:
/// its identity key, a signed pre-key with its signature, and one-time pre-keys.
public struct OMEMOBundle: Sendable, Equatable {
    public var identityKey: [UInt8]
    public var signedPreKeyID: UInt32
    public var signedPreKey: [UInt8]
    public var signedPreKeySignature: [UInt8]
    public var preKeys: [UInt32: [UInt8]]

    public init(identityKey: [UInt8], signedPreKeyID: UInt32, signedPreKey: [UInt8], signedPreKeySignature: [UInt8],
                preKeys: [UInt32: [UInt8]]) {
        self.identityKey = identityKey
        self.signedPreKeyID = signedPreKeyID
        self.signedPreKey = signedPreKey
        self.signedPreKeySignature = signedPreKeySignature
        self.preKeys = preKeys
    }

    private static func names(_ version: OMEMOVersion) -> (spk: String, spkID: String, signature: String, identity: String, pk: String, pkID: String) {
        version == .legacy
            ? ("signedPreKeyPublic", "signedPreKeyId", "signedPreKeySignature", "identityKey", "preKeyPublic", "preKeyId")
            : ("spk", "id", "spks", "ik", "pk", "id")
    }

    /// The bundle in `element`; nil when a part is missing or not base64, or no pre-key is left.
    public init?(_ element: XMLElement, version: OMEMOVersion) {
        let ns = version.namespace
        let names = Self.names(version)
        guard element.name == "bundle", element.namespace == ns,
              let spk = element.child(names.spk, namespace: ns), let spkID = UInt32(spk[attribute: names.spkID] ?? ""),
              let signedPreKey = Self.bytes(spk.text),
              let signature = element.childText(names.signature, namespace: ns).flatMap(Self.bytes),
              let identity = element.childText(names.identity, namespace: ns).flatMap(Self.bytes)
        else { return nil }
        var preKeys: [UInt32: [UInt8]] = [:]
        for pk in element.child("prekeys", namespace: ns)?.children(names.pk, namespace: ns) ?? [] {
            guard let id = UInt32(pk[attribute: names.pkID] ?? ""), let key = Self.bytes(pk.text) else { continue }
            preKeys[id] = key
        }
        guard !preKeys.isEmpty else { return nil }
        self.init(identityKey: identity, signedPreKeyID: spkID, signedPreKey: signedPreKey, signedPreKeySignature: signature,
                  preKeys: preKeys)
    }

    public func element(version: OMEMOVersion) -> XMLElement {
        let ns = version.namespace
        let names = Self.names(version)
        var bundle = XMLElement("bundle", namespace: ns)
        bundle.append(.textElement(names.spk, namespace: ns, Self.base64(signedPreKey),
                                   attributes: [XMLAttribute(names.spkID, String(signedPreKeyID))]))
        bundle.append(.textElement(names.signature, namespace: ns, Self.base64(signedPreKeySignature)))
        bundle.append(.textElement(names.identity, namespace: ns, Self.base64(identityKey)))
        var prekeys = XMLElement("prekeys", namespace: ns)
        for (id, key) in preKeys.sorted(by: { $0.key < $1.key }) {
            prekeys.append(.textElement(names.pk, namespace: ns, Self.base64(key), attributes: [XMLAttribute(names.pkID, String(id))]))
        }
        bundle.append(prekeys)
        return bundle
    }

    static func bytes(_ text: String) -> [UInt8]? {
        Data(base64Encoded: text.filter { !$0.isWhitespace }).map(Array.init)
    }

    static func base64(_ bytes: [UInt8]) -> String { Data(bytes).base64EncodedString() }
}

/// An encrypted message (`<encrypted/>`): the sender's device, the message key encrypted for
/// each recipient device, and the payload; without a payload it is a key-transport message
/// (a heartbeat, or a session repaired).
public struct OMEMOEncrypted: Sendable, Equatable {
    public struct Key: Sendable, Equatable {
        /// The account of the recipient device (the current version names it; the legacy one
        /// does not).
        public var account: String?
        public var device: UInt32
        /// A key exchange (the session's first message): `prekey` or `kex`.
        public var isKeyExchange: Bool
        public var data: [UInt8]

        public init(account: String?, device: UInt32, isKeyExchange: Bool, data: [UInt8]) {
            self.account = account
            self.device = device
            self.isKeyExchange = isKeyExchange
            self.data = data
        }
    }

    public var version: OMEMOVersion
    public var senderDevice: UInt32
    public var keys: [Key]
    /// The legacy version's payload IV (AES-GCM); the current one derives it.
    public var iv: [UInt8]?
    public var payload: [UInt8]?

    public init(version: OMEMOVersion, senderDevice: UInt32, keys: [Key], iv: [UInt8]?, payload: [UInt8]?) {
        self.version = version
        self.senderDevice = senderDevice
        self.keys = keys
        self.iv = iv
        self.payload = payload
    }

    /// The `<encrypted/>` in a message, in either version; nil when there is none or it is
    /// malformed (no sender device, a key without a valid recipient, bad base64).
    public init?(in message: XMLElement) {
        for version in OMEMOVersion.allCases {
            if let encrypted = message.child("encrypted", namespace: version.namespace) {
                self.init(encrypted, version: version)
                return
            }
        }
        return nil
    }

    init?(_ element: XMLElement, version: OMEMOVersion) {
        let ns = version.namespace
        guard let header = element.child("header", namespace: ns), let sid = OMEMOVersion.deviceID(header[attribute: "sid"]) else { return nil }
        var keys: [Key] = []
        let groups: [(String?, XMLElement)] = version == .legacy
            ? [(nil, header)]
            : header.children("keys", namespace: ns).map { ($0[attribute: "jid"], $0) }
        for (account, group) in groups {
            if version == .current, account?.isEmpty != false { return nil }
            for key in group.children("key", namespace: ns) {
                guard let rid = OMEMOVersion.deviceID(key[attribute: "rid"]), let data = OMEMOBundle.bytes(key.text) else { return nil }
                let exchange = key[attribute: version == .legacy ? "prekey" : "kex"]
                keys.append(Key(account: account, device: rid, isKeyExchange: exchange == "true" || exchange == "1", data: data))
            }
        }
        var iv: [UInt8]?
        if version == .legacy, let text = header.childText("iv", namespace: ns) {
            guard let bytes = OMEMOBundle.bytes(text) else { return nil }
            iv = bytes
        }
        var payload: [UInt8]?
        if let text = element.childText("payload", namespace: ns) {
            guard let bytes = OMEMOBundle.bytes(text) else { return nil }
            payload = bytes
        }
        self.init(version: version, senderDevice: sid, keys: keys, iv: iv, payload: payload)
    }

    public func element() -> XMLElement {
        let ns = version.namespace
        var encrypted = XMLElement("encrypted", namespace: ns)
        var header = XMLElement("header", namespace: ns, attributes: [XMLAttribute("sid", String(senderDevice))])
        func keyElement(_ key: Key) -> XMLElement {
            var attributes = [XMLAttribute("rid", String(key.device))]
            if key.isKeyExchange { attributes.append(XMLAttribute(version == .legacy ? "prekey" : "kex", "true")) }
            return .textElement("key", namespace: ns, OMEMOBundle.base64(key.data), attributes: attributes)
        }
        if version == .legacy {
            for key in keys { header.append(keyElement(key)) }
            if let iv { header.append(.textElement("iv", namespace: ns, OMEMOBundle.base64(iv))) }
        } else {
            var accounts: [String] = []
            for key in keys where !accounts.contains(key.account ?? "") { accounts.append(key.account ?? "") }
            for account in accounts {
                var group = XMLElement("keys", namespace: ns, attributes: [XMLAttribute("jid", account)])
                for key in keys where (key.account ?? "") == account { group.append(keyElement(key)) }
                header.append(group)
            }
        }
        encrypted.append(header)
        if let payload { encrypted.append(.textElement("payload", namespace: ns, OMEMOBundle.base64(payload))) }
        return encrypted
    }
}
