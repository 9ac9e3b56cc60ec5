import ArgumentParser
import DialtoneCore
import Foundation

struct React: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "React to a message in the conversation with TO (XEP-0444); exits 0 once the server has it.",
        discussion: "Your reactions to a message go together: this adds EMOJI to those you gave it (or takes it away with --remove).")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Give up connecting after this many seconds (nothing is changed then).") var timeout: Double = 30
    @Flag(help: "Take the reaction away instead.") var remove = false
    @Argument(help: "The other side of the conversation, as for send.") var to: String
    @Argument(help: "The message's id (\"id\" in history --json or listen --json), whoever sent it.") var id: String
    @Argument(help: "The reaction: one emoji (or a short text without spaces).") var emoji: String

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let row = try referencedMessage(id, with: to, in: session)
        let (emoji, adding) = (self.emoji, !remove)
        try await withOnlineSession(session, timeout: timeout) { _ = try await $0.react(to: row, with: emoji, adding: adding) }
    }
}
