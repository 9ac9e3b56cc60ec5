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
        // Every account's history (unless --account names one), newest first across them.
        var results: [(account: String, names: DisplayNames?, peer: String, message: StoredMessage)] = []
        for account in try runtime.selectedAccounts() {
            let session = try CommandRuntime.openSession(for: account)
            let names = try? session.displayNames()
            do {
                for (peer, message) in try session.records.search(words.joined(separator: " "), limit: limit) {
                    results.append((session.account.description, names, peer, message))
                }
            } catch {
                throw CLIError(error.description)
            }
        }
        results.sort { $0.message.timestamp > $1.message.timestamp }
        let several = Set(results.map(\.account)).count > 1
        for (account, names, peer, message) in results.prefix(limit) {
            if json {
                var object = EventPrinter.messageObject(peer: peer, message, account: account)
                object["account"] = account
                JSONLines.write(object)
            } else if let line = EventPrinter.text(.message(peer: peer, message), names: names) {
                let prefix = several ? "[\(account)] " : ""
                printForPeople("\(prefix)\(names?.name(for: peer) ?? peer) \(message.timestamp.formatted(date: .abbreviated, time: .omitted)) \(line)")
            }
        }
    }
}
