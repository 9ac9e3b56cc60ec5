import DialtoneXML

/// OMEMO's public PEP nodes (XEP-0384): each account's device list and each device's bundle,
/// readable by anyone (`access_model=open`), as Conversations and Dino need to start sessions
/// with people who do not share presence.
extension XMPPClient {
    /// Publishes our account's device list in `version`'s node.
    public func publishOMEMODevices(_ list: OMEMODeviceList, version: OMEMOVersion) async throws {
        try await publish(list.element(version: version), id: "current", to: version.deviceListNode,
                          options: [("pubsub#access_model", "open")])
    }

    /// Publishes one device's bundle in `version`'s node (the current version keeps every
    /// device's bundle as an item of one node).
    public func publishOMEMOBundle(_ bundle: OMEMOBundle, device: UInt32, version: OMEMOVersion) async throws {
        let (node, item) = version.bundleNode(device: device)
        var options = [("pubsub#access_model", "open")]
        if version == .current { options.append(("pubsub#max_items", "max")) }
        try await publish(bundle.element(version: version), id: item, to: node, options: options)
    }

    /// `account`'s device list in `version`; nil when it has none there.
    public func omemoDevices(of account: JID, version: OMEMOVersion) async throws -> OMEMODeviceList? {
        let items = try await pepItems(of: account, node: version.deviceListNode)
        // One item ("current"); some servers keep older ones after it.
        let item = items.first { $0[attribute: "id"] == "current" } ?? items.last
        return item?.elements.lazy.compactMap { OMEMODeviceList($0, version: version) }.first
    }

    /// One device's bundle in `version`; nil when it published none.
    public func omemoBundle(of account: JID, device: UInt32, version: OMEMOVersion) async throws -> OMEMOBundle? {
        let (node, item) = version.bundleNode(device: device)
        let items = try await pepItems(of: account, node: node, item: item)
        return items.first?.elements.lazy.compactMap { OMEMOBundle($0, version: version) }.first
    }

    /// A device list in a PEP notification's items, if the node is one.
    static func omemoDeviceList(in items: XMLElement?) -> (OMEMOVersion, OMEMODeviceList)? {
        guard let node = items?[attribute: "node"], let version = OMEMOVersion.allCases.first(where: { $0.deviceListNode == node }),
              let item = items?.children("item", namespace: Namespace.pubsubEvent).last else { return nil }
        guard let list = item.elements.lazy.compactMap({ OMEMODeviceList($0, version: version) }).first else {
            return (version, OMEMODeviceList(devices: []))
        }
        return (version, list)
    }
}
