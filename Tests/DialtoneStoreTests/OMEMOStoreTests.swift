@testable import DialtoneStore
import XCTest

/// What the store keeps for OMEMO: our identity, the library's records read back as written,
/// trust that belongs to one identity key (a new key starts over), device lists per version,
/// the per-conversation choice, and messages marked with their encryption.
final class OMEMOStoreTests: XCTestCase {
    private let ada = OMEMODeviceAddress(account: "ada@example.org", device: 31415)

    func testTheLibrarysRecordsReadBackAsWritten() throws {
        let store = try Store()
        XCTAssertNil(try store.omemoOwnIdentity())
        let own = OMEMOOwnIdentity(registrationID: 27183, publicKey: [5, 1, 2], privateKey: [9, 9])
        try store.saveOMEMOOwnIdentity(own)
        XCTAssertEqual(try store.omemoOwnIdentity(), own)

        try store.saveOMEMOSession([1, 2, 3], for: ada)
        XCTAssertEqual(try store.omemoSession(ada), [1, 2, 3])
        XCTAssertEqual(try store.omemoSessionDevices(of: "ada@example.org"), [31415])
        try store.saveOMEMOSession(nil, for: ada)
        XCTAssertNil(try store.omemoSession(ada))

        try store.saveOMEMOPreKey([4], id: 1)
        try store.saveOMEMOPreKey([5], id: 2)
        try store.saveOMEMOSignedPreKey([6], id: 1)
        try store.saveOMEMOPreKey(nil, id: 1)
        XCTAssertEqual(try store.omemoPreKeys(signed: false), [2: [5]])
        XCTAssertEqual(try store.omemoPreKey(1, signed: true), [6])
        try store.saveOMEMOIdentity([5, 7], of: ada)
        XCTAssertEqual(try store.omemoLibraryIdentity(ada), [5, 7])
    }

    func testTrustBelongsToOneIdentityKey() throws {
        let store = try Store()
        XCTAssertEqual(try store.meetOMEMOIdentity([5, 1], of: ada, trust: .blind), .blind)
        XCTAssertEqual(try store.setOMEMOTrust(.verified, ofIdentity: [5, 1]), [ada])
        XCTAssertEqual(try store.meetOMEMOIdentity([5, 1], of: ada, trust: .blind), .verified, "the same key keeps the user's word")
        XCTAssertEqual(try store.meetOMEMOIdentity([5, 2], of: ada, trust: .untrusted), .untrusted, "another key is another identity")
        XCTAssertEqual(try store.omemoTrust(of: ada)?.key, [5, 2])
    }

    func testDevicesAreListedPerVersionAndMergedWithWhatWeMet() throws {
        let store = try Store()
        try store.setOMEMODevices([31415, 2], labels: [2: "Gajim"], of: "ada@example.org", version: "current")
        try store.setOMEMODevices([31415], of: "ada@example.org", version: "legacy")
        try store.meetOMEMOIdentity([5, 3], of: OMEMODeviceAddress(account: "ada@example.org", device: 99), trust: .blind)
        let devices = try store.omemoDevices(of: "ada@example.org")
        XCTAssertEqual(devices.map(\.address.device), [2, 99, 31415])
        XCTAssertEqual(devices[2].versions, ["legacy", "current"])
        XCTAssertEqual(devices[0].label, "Gajim")
        XCTAssertEqual(devices[1].versions, [], "met once, no longer listed")
        XCTAssertEqual(devices[1].trust, .blind)
        try store.setOMEMODevices([], of: "ada@example.org", version: "current")
        XCTAssertEqual(try store.omemoDevices(of: "ada@example.org").first { $0.address.device == 2 }, nil)
    }

    func testTheConversationChoiceAndTheMessagesMark() throws {
        let store = try Store()
        XCTAssertNil(try store.omemoChoice(for: "ada@example.org"))
        try store.setOMEMOChoice(false, for: "ada@example.org")
        XCTAssertEqual(try store.omemoChoice(for: "ada@example.org"), false)
        try store.setOMEMOChoice(nil, for: "ada@example.org")
        XCTAssertNil(try store.omemoChoice(for: "ada@example.org"))

        var received = StoredMessage(direction: .incoming, sender: "ada@example.org/phone", body: nil, stanzaID: "m1", dedupeKey: "m1",
                                     archiveID: "a1", timestamp: Date(), status: .received)
        received.encryption = MessageEncryption(scheme: "eu.siacs.conversations.axolotl", device: 31415, trust: nil,
                                                failure: "It was not encrypted for this device.")
        _ = try store.record([("ada@example.org", received)])
        let stored = try XCTUnwrap(store.history(peer: "ada@example.org").first)
        XCTAssertEqual(stored.encryption, received.encryption)
        XCTAssertEqual(try store.conversations().first?.unread, 1, "one that could not be read still came")
        XCTAssertTrue(try store.containsMessage(archiveID: "a1"))

        let sent = try store.enqueue(StoredMessage(direction: .outgoing, sender: "me@example.com", body: "hi", stanzaID: "o1",
                                                   dedupeKey: "o1", timestamp: Date(), status: .pending), to: "ada@example.org")
        try store.setEncryption(MessageEncryption(scheme: "urn:xmpp:omemo:2", device: 7, trust: nil), ofOutgoing: "o1")
        XCTAssertEqual(try store.message(id: try XCTUnwrap(sent.id))?.encryption?.scheme, "urn:xmpp:omemo:2")
    }
}
