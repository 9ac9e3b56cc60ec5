import ArgumentParser
import DialtoneCore
import Foundation

struct Correct: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replace the text of your last message to TO (XEP-0308); the old text stays in history.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Give up connecting after this many seconds (nothing is changed then).")
    var timeout: Double = 30
    @Argument(help: "The recipient, as for send.") var to: String
    @Argument(help: "The new text.") var text: String

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let peer = try conversationAddress(to, in: session)
        let history = try Contacts.run { try session.records.history(peer: peer, limit: 200) }
        guard let last = history.last(where: { $0.direction == .outgoing && $0.stanzaID != nil && $0.body != nil }), let id = last.id else {
            throw CLIError("You have sent \(Sanitizer.plain(to)) no message to correct.")
        }
        let text = self.text
        try await withOnlineSession(session, timeout: timeout) { _ = try await $0.correctMessage(id, newBody: text) }
    }
}
