import DialtoneXML
@testable import DialtoneXMPP
import XCTest

/// OMEMO's wire forms (XEP-0384) in both versions: what Conversations sends in the legacy
/// namespace and what the current version names differently, read and written; malformed
/// input read as nothing.
final class OMEMOElementsTests: XCTestCase {
    private func parse(_ xml: String) throws -> XMLElement { try XMLElement(parsing: xml) }

    func testALegacyMessageAsConversationsSendsIt() throws {
        let message = try parse("""
            <message xmlns='jabber:client' to='ada@example.org' type='chat'>\
            <encrypted xmlns='eu.siacs.conversations.axolotl'><header sid='27183'>\
            <key rid='31415'>AQID</key><key prekey='true' rid='12321'>BAUG</key><iv>BwgJ</iv></header>\
            <payload>CgsM</payload></encrypted><store xmlns='urn:xmpp:hints'/></message>
            """)
        let encrypted = try XCTUnwrap(OMEMOEncrypted(in: message))
        XCTAssertEqual(encrypted.version, .legacy)
        XCTAssertEqual(encrypted.senderDevice, 27183)
        XCTAssertEqual(encrypted.keys, [
            .init(account: nil, device: 31415, isKeyExchange: false, data: [1, 2, 3]),
            .init(account: nil, device: 12321, isKeyExchange: true, data: [4, 5, 6]),
        ])
        XCTAssertEqual(encrypted.iv, [7, 8, 9])
        XCTAssertEqual(encrypted.payload, [10, 11, 12])
        // Written back, it reads the same.
        var again = XMLElement("message", namespace: "jabber:client")
        again.append(encrypted.element())
        XCTAssertEqual(OMEMOEncrypted(in: again), encrypted)
    }

    func testTheCurrentVersionGroupsKeysByAccountAndMarksKeyExchanges() throws {
        let encrypted = OMEMOEncrypted(version: .current, senderDevice: 77, keys: [
            .init(account: "bob@example.org", device: 5, isKeyExchange: true, data: [1]),
            .init(account: "ada@example.org", device: 6, isKeyExchange: false, data: [2]),
            .init(account: "bob@example.org", device: 8, isKeyExchange: false, data: [3]),
        ], iv: nil, payload: [9, 9])
        let element = encrypted.element()
        let groups = try XCTUnwrap(element.child("header", namespace: "urn:xmpp:omemo:2")).children("keys", namespace: "urn:xmpp:omemo:2")
        XCTAssertEqual(groups.map { $0[attribute: "jid"] }, ["bob@example.org", "ada@example.org"])
        XCTAssertEqual(groups[0].children("key", namespace: "urn:xmpp:omemo:2").map { $0[attribute: "kex"] }, ["true", nil])
        var message = XMLElement("message", namespace: "jabber:client")
        message.append(element)
        let read = try XCTUnwrap(OMEMOEncrypted(in: message))
        XCTAssertEqual(Set(read.keys.map(\.device)), [5, 6, 8])
        XCTAssertEqual(read.keys.first { $0.device == 5 }?.isKeyExchange, true)
        XCTAssertEqual(read.payload, [9, 9])
        // Without a payload: a key-transport message (a heartbeat).
        let transport = OMEMOEncrypted(version: .current, senderDevice: 77, keys: encrypted.keys, iv: nil, payload: nil)
        XCTAssertNil(transport.element().child("payload", namespace: "urn:xmpp:omemo:2"))
    }

    func testMalformedMessagesAreReadAsNothing() throws {
        for bad in [
            "<header><key rid='1'>AQID</key></header>",                  // no sender device
            "<header sid='0'><key rid='1'>AQID</key></header>",          // device 0
            "<header sid='4294967295'><key rid='1'>AQID</key></header>", // beyond 2^31 - 1
            "<header sid='7'><key rid='x'>AQID</key></header>",          // no recipient
            "<header sid='7'><key rid='1'>not base64!</key></header>",
            "<header sid='7'><key rid='1'>AQID</key><iv>%%%</iv></header>",
        ] {
            let message = try parse("<message xmlns='jabber:client'><encrypted xmlns='eu.siacs.conversations.axolotl'>\(bad)</encrypted></message>")
            XCTAssertNil(OMEMOEncrypted(in: message), bad)
        }
        let noAccount = try parse("""
            <message xmlns='jabber:client'><encrypted xmlns='urn:xmpp:omemo:2'><header sid='7'>\
            <keys><key rid='1'>AQID</key></keys></header></encrypted></message>
            """)
        XCTAssertNil(OMEMOEncrypted(in: noAccount), "the current version's keys name their account")
        XCTAssertNil(OMEMOEncrypted(in: try parse("<message xmlns='jabber:client'><body>hi</body></message>")))
    }

    func testDeviceListsInBothVersionsSkipWhatIsNoDevice() throws {
        let legacy = try XCTUnwrap(OMEMODeviceList(try parse("""
            <list xmlns='eu.siacs.conversations.axolotl'><device id='12345'/><device id='0'/><device id='abc'/>\
            <device id='12345'/><device id='4223'/></list>
            """), version: .legacy))
        XCTAssertEqual(legacy.devices, [12345, 4223])
        let current = try XCTUnwrap(OMEMODeviceList(try parse("""
            <devices xmlns='urn:xmpp:omemo:2'><device id='31415' label='Gajim on Ubuntu'/><device id='27183'/></devices>
            """), version: .current))
        XCTAssertEqual(current.devices, [31415, 27183])
        XCTAssertEqual(current.labels, [31415: "Gajim on Ubuntu"])
        XCTAssertEqual(OMEMODeviceList(current.element(version: .current), version: .current), current)
        XCTAssertEqual(OMEMODeviceList(legacy.element(version: .legacy), version: .legacy), legacy)
        XCTAssertNil(OMEMODeviceList(current.element(version: .current), version: .legacy), "one version's list is not the other's")
        XCTAssertEqual(OMEMOVersion.legacy.deviceListNode, "eu.siacs.conversations.axolotl.devicelist")
        XCTAssertEqual(OMEMOVersion.current.deviceListNode, "urn:xmpp:omemo:2:devices")
        XCTAssertEqual(OMEMOVersion.legacy.bundleNode(device: 42).node, "eu.siacs.conversations.axolotl.bundles:42")
        XCTAssertEqual(OMEMOVersion.current.bundleNode(device: 42).node, "urn:xmpp:omemo:2:bundles")
        XCTAssertEqual(OMEMOVersion.current.bundleNode(device: 42).item, "42")
    }

    func testBundlesInBothVersions() throws {
        let legacy = try XCTUnwrap(OMEMOBundle(try parse("""
            <bundle xmlns='eu.siacs.conversations.axolotl'>\
            <signedPreKeyPublic signedPreKeyId='1'>AQID</signedPreKeyPublic>\
            <signedPreKeySignature>BAUG</signedPreKeySignature><identityKey>BwgJ</identityKey>\
            <prekeys><preKeyPublic preKeyId='1'>CgsM</preKeyPublic><preKeyPublic preKeyId='2'>DQ4P</preKeyPublic></prekeys></bundle>
            """), version: .legacy))
        XCTAssertEqual(legacy, OMEMOBundle(identityKey: [7, 8, 9], signedPreKeyID: 1, signedPreKey: [1, 2, 3],
                                           signedPreKeySignature: [4, 5, 6], preKeys: [1: [10, 11, 12], 2: [13, 14, 15]]))
        for version in OMEMOVersion.allCases {
            XCTAssertEqual(OMEMOBundle(legacy.element(version: version), version: version), legacy, "\(version)")
        }
        let current = legacy.element(version: .current)
        XCTAssertNotNil(current.child("spk", namespace: "urn:xmpp:omemo:2"))
        XCTAssertEqual(current.child("prekeys", namespace: "urn:xmpp:omemo:2")?.children("pk", namespace: "urn:xmpp:omemo:2").count, 2)
        var empty = legacy
        empty.preKeys = [:]
        XCTAssertNil(OMEMOBundle(empty.element(version: .current), version: .current), "a bundle with no pre-key to use")
    }
}
