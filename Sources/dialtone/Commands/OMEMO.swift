import ArgumentParser
import DialtoneCore
import Foundation

/// OMEMO end-to-end encryption from the command line: fingerprints to compare, trust, and
/// the per-conversation choice. `send` encrypts on its own where the contact has devices.
struct OMEMO: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "omemo",
        abstract: "End-to-end encryption (OMEMO): fingerprints, trust, on or off for a contact.",
        subcommands: [Fingerprints.self, Trust.self, Distrust.self, On.self, Off.self])

    struct Fingerprints: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List a contact's OMEMO devices (or your own) with their fingerprints and trust.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON lines.") var json = false
        @Option(help: "Give up after this many seconds.") var timeout: Double = 30
        @Argument(help: "A contact's XMPP address or name; none for your own devices.") var contact: String?

        func run() async throws {
            let session = try CommandRuntime(options).openSession()
            let peer = try contact.map { JID(verified: try conversationAddress($0, in: session)) }
            let devices = try await withOnlineSession(session, timeout: timeout) { try await $0.fingerprints(of: peer) }
            for device in devices {
                if json {
                    JSONLines.write(["account": device.account, "device": Int(device.device), "fingerprint": device.fingerprint ?? NSNull(),
                                     "trust": device.trust?.rawValue ?? NSNull(), "listed": device.listed,
                                     "this_device": device.isThisDevice])
                } else {
                    printForPeople(OMEMO.line(device))
                }
            }
            if devices.isEmpty, !json { printForPeople("\(peer?.description ?? "This account") has no OMEMO devices.") }
        }
    }

    struct Trust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify the device with this fingerprint (compared with what its owner's client shows).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The fingerprint, with or without spaces (a unique start of 8 or more digits will do).") var fingerprint: [String]

        func run() async throws { try await OMEMO.setTrust(fingerprint, trusted: true, options: options) }
    }

    struct Distrust: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop encrypting for the device with this fingerprint, and mark what it sends as untrusted.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The fingerprint, with or without spaces (a unique start of 8 or more digits will do).") var fingerprint: [String]

        func run() async throws { try await OMEMO.setTrust(fingerprint, trusted: false, options: options) }
    }

    struct On: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encrypt every message to this contact (they wait if the contact has no devices).")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "A contact's XMPP address or name.") var contact: String

        func run() async throws { try await OMEMO.choose(true, for: contact, options: options) }
    }

    struct Off: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Send to this contact unencrypted.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "A contact's XMPP address or name.") var contact: String

        func run() async throws { try await OMEMO.choose(false, for: contact, options: options) }
    }

    /// A device as a line: whose, which, its fingerprint in groups, and the trust in it.
    static func line(_ device: DeviceFingerprint) -> String {
        let trust = device.isThisDevice ? "this device" : device.trust.map(trustName) ?? "not met yet"
        let listed = device.listed ? "" : " (no longer listed)"
        return "\(device.account)\t\(device.device)\t\(device.grouped ?? "-")\t\(trust)\(listed)"
    }

    static func trustName(_ trust: OMEMOTrust) -> String {
        switch trust {
        case .blind: "trusted (not verified)"
        case .verified: "verified"
        case .untrusted: "untrusted"
        }
    }

    static func setTrust(_ words: [String], trusted: Bool, options: GlobalOptions) async throws {
        let session = try CommandRuntime(options).openSession()
        do {
            for device in try await session.trustDevice(fingerprint: words.joined(), trusted: trusted) {
                printForPeople("\(trusted ? "Verified" : "Distrusted") \(device.account)'s device \(device.device).")
            }
        } catch let error as TrustError {
            throw CLIError(error.description)
        }
    }

    static func choose(_ enabled: Bool, for contact: String, options: GlobalOptions) async throws {
        let session = try CommandRuntime(options).openSession()
        let peer = JID(verified: try conversationAddress(contact, in: session))
        guard try await session.encryptionStatus(of: peer) != .phoneNetwork else {
            throw CLIError("\(peer) is a phone number: SMS and MMS cannot be end-to-end encrypted.")
        }
        try await session.setEncryption(enabled, for: peer)
        printForPeople("Messages to \(peer) are now sent \(enabled ? "encrypted (OMEMO)" : "unencrypted").")
    }
}
