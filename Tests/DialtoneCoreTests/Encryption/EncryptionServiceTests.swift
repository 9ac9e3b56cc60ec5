@testable import DialtoneCore
import DialtoneOMEMO
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging
import XCTest

/// The encryption service's decisions, offline: which chats are encrypted and for which
/// devices, trust by fingerprint, and received messages that cannot be read kept with why.
final class EncryptionServiceTests: XCTestCase {
    private let account = JID(verified: "me@example.com")

    private func service(_ store: Store, onByDefault: Bool = true) -> EncryptionService {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: account, password: "x")) { _ in }
        return EncryptionService(account: account, store: store, client: client, broadcaster: EventBroadcaster(),
                                 gateway: JID(verified: "cheogram.com"), onByDefault: onByDefault, logger: .init(label: "test"))
    }

    func testPhoneNumbersAndRoomsAreNeverEncrypted() async throws {
        let store = try Store()
        let encryption = service(store)
        let number = JID(verified: "+15551234567@cheogram.com")
        try store.setOMEMOChoice(true, for: number.description)
        XCTAssertEqual(try encryption.status(of: number, isRoom: false), .phoneNetwork)
        let wanted = try await encryption.wantsEncryption(number)
        XCTAssertFalse(wanted, "even when turned on: SMS cannot be")
        XCTAssertEqual(try encryption.status(of: JID(verified: "lounge@rooms.example.com"), isRoom: true), .room)
    }

    func testTheDefaultFollowsTheContactsDevicesAndTheUsersChoice() throws {
        let store = try Store()
        let ada = JID(verified: "ada@example.org")
        XCTAssertEqual(try service(store).status(of: ada, isRoom: false), .plain(contactHasDevices: false))
        try store.setOMEMODevices([1], of: ada.description, version: "legacy")
        XCTAssertEqual(try service(store).status(of: ada, isRoom: false), .encrypted(verified: false))
        XCTAssertEqual(try service(store, onByDefault: false).status(of: ada, isRoom: false), .plain(contactHasDevices: true))
        try store.setOMEMOChoice(false, for: ada.description)
        XCTAssertEqual(try service(store).status(of: ada, isRoom: false), .plain(contactHasDevices: true))
        try store.setOMEMOChoice(nil, for: ada.description)
        try store.meetOMEMOIdentity([5] + Array(repeating: 1, count: 32), of: OMEMODeviceAddress(account: ada.description, device: 1), trust: .verified)
        XCTAssertEqual(try service(store).status(of: ada, isRoom: false), .encrypted(verified: true))
    }

    func testEachDeviceIsWrittenToInOneVersionExceptUntrustedOnesAndThisOne() throws {
        let store = try Store()
        let encryption = service(store)
        let own = try encryption.ownDevice().id
        try store.setOMEMODevices([1, 3], of: "ada@example.org", version: "legacy")
        try store.setOMEMODevices([1, 2], of: "ada@example.org", version: "current")
        try store.meetOMEMOIdentity([5, 3], of: OMEMODeviceAddress(account: "ada@example.org", device: 3), trust: .untrusted)
        try store.setOMEMODevices([own, 4], of: account.description, version: "legacy")
        let recipients = try encryption.recipients(for: "ada@example.org").map { "\($0.account) \($0.device) \($0.format)" }
        XCTAssertEqual(Set(recipients), ["ada@example.org 1 legacy", "ada@example.org 2 current", "me@example.com 4 legacy"])
    }

    func testTrustIsSetByFingerprintAndANewDeviceOfAVerifiedContactWaits() throws {
        let store = try Store()
        let encryption = service(store)
        let key: [UInt8] = [5] + (0..<32).map { UInt8($0) }
        let address = OMEMODeviceAddress(account: "ada@example.org", device: 7)
        try store.meetOMEMOIdentity(key, of: address, trust: try encryption.firstTrust(for: "ada@example.org"))
        XCTAssertEqual(try store.omemoTrust(of: address)?.trust, .blind, "trusted before verification")
        let fingerprint = EncryptionService.fingerprint(key)
        XCTAssertEqual(fingerprint.count, 64)
        XCTAssertThrowsError(try encryption.setTrust(.verified, fingerprint: String(fingerprint.prefix(6))), "too short to be sure")
        let grouped = stride(from: 0, to: 16, by: 8).map { String(fingerprint.dropFirst($0).prefix(8)).uppercased() }.joined(separator: " ")
        XCTAssertEqual(try encryption.setTrust(.verified, fingerprint: grouped).map(\.device), [7])
        XCTAssertEqual(try encryption.firstTrust(for: "ada@example.org"), .untrusted, "a new device of a verified contact waits")
        XCTAssertEqual(try encryption.firstTrust(for: "bob@example.org"), .blind)
    }

    func testWhatCannotBeReadIsKeptSayingWhy() async throws {
        let store = try Store()
        let encryption = service(store)
        let own = try encryption.ownDevice().id
        func received(_ encrypted: OMEMOEncrypted, room: JID? = nil) -> ReceivedMessage {
            let message = Message.chat(to: account, body: "x", id: "m1").encrypted([encrypted])
            var element = message.element
            element[attribute: "from"] = "ada@example.org/phone"
            var result = ReceivedMessage(message: Message(element), direction: .incoming, source: .live, archiveID: nil, timestamp: Date())
            result.room = room
            return result
        }
        let forAnother = OMEMOEncrypted(version: .legacy, senderDevice: 9, keys: [.init(account: nil, device: own &+ 1, isKeyExchange: false, data: [1])],
                                        iv: [0], payload: [1])
        let notOurs = try await encryption.process(received(forAnother))
        XCTAssertNil(notOurs?.message.body, "the fallback text is not the message")
        XCTAssertEqual(notOurs?.decryption?.failure, "It was not encrypted for this device (\(own)).")
        let damaged = OMEMOEncrypted(version: .legacy, senderDevice: 9, keys: [.init(account: nil, device: own, isKeyExchange: false, data: [1, 2, 3])],
                                     iv: [0], payload: [1])
        let unreadable = try await encryption.process(received(damaged))
        XCTAssertNotNil(unreadable?.decryption?.failure)
        XCTAssertEqual(encryption.sessionsToRepair.map(\.device), [9], "a session that does not work is started again")
        let inRoom = try await encryption.process(received(damaged, room: JID(verified: "lounge@rooms.example.com")))
        XCTAssertEqual(inRoom?.decryption?.failure, "OMEMO in group chats is not supported yet.")
        // A plain message passes untouched.
        let plain = ReceivedMessage(message: Message.chat(to: account, body: "hi"), direction: .incoming, source: .live, archiveID: nil, timestamp: Date())
        let passed = try await encryption.process(plain)
        XCTAssertEqual(passed, plain)
    }
}
