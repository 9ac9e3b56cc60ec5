import ArgumentParser
import DialtoneCore
import Foundation

struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Search all stored history (every word must appear; word beginnings match).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "How many results at most.") var limit = 50

    @Flag(help: "Print JSON lines.") var json = false

    @Argument(help: "The words to find.") var words: [String]

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let names = try? session.displayNames()
        let results: [(peer: String, message: StoredMessage)]
        do { results = try session.records.search(words.joined(separator: " "), limit: limit) } catch {
            throw CLIError(error.description)
        }
        for (peer, message) in results {
            if json {
                JSONLines.write(EventPrinter.messageObject(peer: peer, message, account: session.account.description))
            } else if let line = EventPrinter.text(.message(peer: peer, message), names: names) {
                printForPeople("\(names?.name(for: peer) ?? peer) \(message.timestamp.formatted(date: .abbreviated, time: .omitted)) \(line)")
            }
        }
    }
}
