import ArgumentParser
import DialtoneCore
import Foundation

struct Retract: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take back a message you sent to TO (XEP-0424): your last, or the one with ID.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Give up connecting after this many seconds (nothing is changed then).") var timeout: Double = 30
    @Argument(help: "The recipient, as for send.") var to: String
    @Argument(help: "The message's id (\"id\" in history --json); the last you sent without it.") var id: String?

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let peer = try conversationAddress(to, in: session)
        let history = try Contacts.run { try session.records.history(peer: peer, limit: 1000) }
        let mine = history.filter { $0.direction == .outgoing && $0.stanzaID != nil && $0.retractedAt == nil }
        guard let message = id.map({ wanted in mine.last { $0.stanzaID == wanted } }) ?? mine.last, let rowID = message.id else {
            throw CLIError(id == nil ? "You have sent \(Sanitizer.plain(to)) no message to take back."
                                     : "No message of yours to \(Sanitizer.plain(to)) has the id \(Sanitizer.plain(id ?? "")).")
        }
        try await withOnlineSession(session, timeout: timeout) { _ = try await $0.retractMessage(rowID) }
    }
}
