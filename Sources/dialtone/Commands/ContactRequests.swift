import ArgumentParser
import DialtoneCore
import Foundation

/// Presence subscriptions from the command line (RFC 6121): who asks to see yours, and the
/// answers. Each connects, because the server keeps requests for us and hands them over at login.
extension Contacts {
    /// An XMPP address typed by the user, as a subscription is addressed (bare).
    static func address(_ text: String) throws -> JID {
        let trimmed = text.hasPrefix("xmpp:") ? String(text.dropFirst(5)) : text
        guard trimmed.contains("@") || trimmed.contains("."), let jid = try? JID(trimmed) else {
            throw CLIError("\"\(text)\" is not an XMPP address (such as ada@example.org).")
        }
        return jid.bare
    }

    struct Requests: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List who asks to see your presence (connects first to receive what the server kept).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON lines.") var json = false
        @Flag(help: "Only what is stored here; do not connect.") var offline = false
        @Option(help: "Give up connecting after this many seconds.") var timeout: Double = 30

        func run() async throws {
            let session = try CommandRuntime(options).openSession()
            if !offline { _ = try await withOnlineSession(session, timeout: timeout) { _ in true } }
            for request in try Contacts.run({ try session.records.subscriptionRequests() }) {
                if json {
                    JSONLines.write(["jid": request.jid, "nick": request.nick ?? NSNull(),
                                     "received": XMPPDateTime.format(request.receivedAt)])
                } else {
                    printForPeople([request.jid, request.nick ?? ""].joined(separator: "\t"))
                }
            }
        }
    }

    struct Accept: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Let ADDRESS see your presence, add them and ask to see theirs.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var request: RequestAnswer

        func run() async throws {
            try await request.answer(options) { try await $0.acceptSubscription(from: $1) }
        }
    }

    struct Deny: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Refuse ADDRESS's request to see your presence (or take it back); later requests are not shown.")
        @OptionGroup var options: GlobalOptions
        @OptionGroup var request: RequestAnswer

        func run() async throws {
            try await request.answer(options) { try await $0.denySubscription(from: $1) }
        }
    }

    /// Whose request an answer is for, and how long it waits for the server.
    struct RequestAnswer: ParsableArguments {
        @Argument(help: "Their XMPP address.") var address: String
        @Option(help: "Give up after this many seconds.") var timeout: Double = 30

        func answer(_ options: GlobalOptions, _ body: @escaping @Sendable (AccountSession, JID) async throws -> Void) async throws {
            let jid = try Contacts.address(address)
            let session = try CommandRuntime(options).openSession()
            try await withOnlineSession(session, timeout: timeout) { try await body($0, jid) }
        }
    }
}
