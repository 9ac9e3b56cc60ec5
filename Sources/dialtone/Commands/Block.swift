import ArgumentParser
import DialtoneCore
import Foundation

/// Blocking (XEP-0191) from the command line: addresses, names and numbers in any written
/// form (a number is blocked as its gateway address, which JMP and Cheogram honour).
enum Blocking {
    /// What the user typed, as the addresses the server blocks; a typo fails before connecting.
    static func addresses(_ typed: [String], in session: AccountSession) throws -> [JID] {
        try typed.map { text in JID(verified: try conversationAddress(text, in: session)) }
    }

    /// An address as the user knows it: a number at the gateway as a number, a contact by name.
    static func label(_ jid: JID, names: DisplayNames?) -> String {
        let name = names?.name(for: jid.description) ?? jid.description
        return name == jid.description ? name : "\(name)\t\(jid.description)"
    }
}

struct Block: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Block addresses or numbers: nothing they send (messages, calls) reaches you.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Also report each as spam to your server (XEP-0377).") var spam = false
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30
    @Argument(help: "XMPP addresses, contacts' names or phone numbers (any common form).") var who: [String]

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let jids = try Blocking.addresses(who, in: session)
        let spam = self.spam
        try await withOnlineSession(session, timeout: timeout) { try await $0.block(jids, reportingSpam: spam) }
    }
}

struct Unblock: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Unblock addresses or numbers.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30
    @Argument(help: "XMPP addresses, contacts' names or phone numbers (any common form).") var who: [String]

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let jids = try Blocking.addresses(who, in: session)
        try await withOnlineSession(session, timeout: timeout) { try await $0.unblock(jids) }
    }
}

struct Blocked: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List what your server blocks for you.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON lines.") var json = false
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let jids = try await withOnlineSession(session, timeout: timeout) { try await $0.blockedAddresses() }
        let names = try? session.displayNames()
        for jid in jids.sorted(by: { $0.description < $1.description }) {
            if json {
                JSONLines.write(["jid": jid.description, "name": names?.name(for: jid.description) ?? jid.description])
            } else {
                printForPeople(Blocking.label(jid, names: names))
            }
        }
    }
}
