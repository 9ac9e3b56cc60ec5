import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// OMEMO in the terminal interface: a chat with a contact who has a device is encrypted and
/// says so in its title, messages carry the lock, /omemo fingerprints lists both sides'
/// devices and /omemo trust verifies one; a phone number's title says SMS is not encrypted;
/// a message that cannot be encrypted though encryption is on says why it waits.
final class TerminalInterfaceEncryptionTests: TerminalInterfaceTestCase {
    func testAnEncryptedChatAndANumberSayWhatTheyAre() async throws {
        let environment = try TestEnvironment.current()
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty else {
            throw missingPart("the simulated gateway is not running")
        }
        let alice = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let bobDevices = try await bob.session.fingerprints(of: nil)
        let bobDevice = try XCTUnwrap(bobDevices.first)
        try await startInterface(for: alice, environment: environment, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        try await waitForScreen("online") { $0.contains("online") }

        try await command("/msg \(bob.jid) Secret plans")
        try await eventually("bob reads it, decrypted") {
            try bob.store.history(peer: alice.jid.description).contains { $0.body == "Secret plans" && $0.encryption != nil }
        }
        try await waitForScreen("the title says the chat is encrypted") { $0.contains("🔒 OMEMO") }
        _ = try await bob.session.sendMessage(to: alice.jid, body: "Understood")
        try await waitForScreen("his answer with its lock") { screen in
            screen.split(separator: "\n").contains { $0.contains("Understood") && $0.contains("🔒") }
        }

        let bobsStart = String(try XCTUnwrap(bobDevice.grouped).prefix(17))
        try await command("/omemo fingerprints")
        try await waitForScreen("both sides' devices") { screen in
            screen.contains("this device") && screen.contains("trusted, not verified") && screen.contains(bobsStart)
        }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        // Alone, so that curses does not read it with the next key as Alt+key.
        try await Task.sleep(for: .milliseconds(400))
        try await command("/omemo trust \(try XCTUnwrap(bobDevice.fingerprint))")
        try await waitForScreen("verified") { $0.contains("Verified") && $0.contains("OMEMO, verified") }

        try await command("/msg (555) 010-7777 Running late")
        try await waitForScreen("a number's title") { $0.contains("SMS: not end-to-end encrypted") && $0.contains("Echo: Running late") }
        try await command("/omemo on")
        try await waitForScreen("refused for SMS") { $0.contains("SMS and MMS cannot be end-to-end encrypted.") }

        // Encryption on for a contact without OMEMO: what is typed waits, and the interface says why.
        let carol = try environment.newAccount("carol")
        try await command("/msg \(carol.jid)")
        try await command("/omemo on")
        try await waitForScreen("encryption on") { $0.contains("now encrypted (OMEMO)") }
        try await command("Are you there?")
        try await waitForScreen("why it waits") { $0.contains("has no OMEMO devices") }
        try await command("/quit")
        await bob.stop()
    }
}
