import ArgumentParser
import DialtoneCore
import Foundation

struct Roster: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fetch and print the contact list from the server.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Print JSON lines.")
    var json = false

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let events = await session.events()
        await session.start()
        var failure: String?
        for await event in events {
            if case .contactsChanged = event { break }
            if case .connection(.offline(let reason?)) = event {
                failure = reason
                break
            }
        }
        await session.stop()
        if let failure { throw CLIError(failure) }
        for contact in try session.records.contacts() {
            if json {
                JSONLines.write(["jid": contact.jid, "name": contact.name ?? NSNull(), "subscription": contact.subscription,
                                 "groups": contact.groups])
            } else {
                printForPeople([contact.name.map(Sanitizer.plain) ?? "", contact.jid, contact.subscription].joined(separator: "\t"))
            }
        }
    }
}

struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print stored messages with a contact (no connection needed).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "How many of the newest messages.")
    var limit = 50

    @Flag(help: "Print JSON lines.")
    var json = false

    @Argument(help: "The other party: an address or a contact's name.")
    var with: String

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let peer = try conversationAddress(with, in: session)
        for message in try session.records.history(peer: peer, limit: limit) {
            if json {
                JSONLines.write(EventPrinter.messageObject(peer: peer, message, account: session.account.description))
            } else if let line = EventPrinter.text(.message(peer: peer, message), names: try? session.displayNames()) {
                printForPeople(line)
            }
        }
    }
}
