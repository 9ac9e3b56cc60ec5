import ArgumentParser
import DialtoneCore
import Foundation

struct Contacts: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The address book and presence subscriptions: import, list, add, rename, remove, export, requests, accept, deny.",
        discussion: "The address book needs no connection; adding an XMPP address, and requests, accept and deny, connect.",
        subcommands: [Import.self, List.self, Add.self, Rename.self, Remove.self, Export.self, Requests.self, Accept.self, Deny.self],
        defaultSubcommand: List.self)

    /// The account's address book, without connecting.
    static func book(_ options: GlobalOptions) throws -> (AddressBook, AccountSession) {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        return (session.addressBook, session)
    }

    static func run<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as CLIError { throw error } catch {
            throw CLIError(String(describing: error))
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import vCard 3.0/4.0 files, a directory of them (vdir), or CSV; importing again changes nothing.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "A .vcf or .csv file, or a directory of them.") var path: String

        func run() async throws {
            let (book, _) = try Contacts.book(options)
            let result = try Contacts.run { try book.importContacts(from: path) }
            print("Imported \(result.cards) contacts with \(result.numbers) phone numbers.")
            for skipped in result.skipped { FileHandle.standardError.write(Data("skipped \(skipped)\n".utf8)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the address book.")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "Print JSON lines.") var json = false

        func run() async throws {
            let (_, session) = try Contacts.book(options)
            // Each XMPP address with its subscription as the roster last said (RFC 6121).
            let roster = Dictionary(try Contacts.run({ try session.records.contacts() }).map { ($0.jid, $0) }) { first, _ in first }
            for entry in try Contacts.run({ try session.records.addressBook() }) {
                if json {
                    let states = Dictionary(entry.jids.compactMap { jid in roster[jid].map { (jid, $0.subscriptionState) } }) { a, _ in a }
                    JSONLines.write(["name": entry.name, "phones": entry.phones, "jids": entry.jids, "uid": entry.uid,
                                     "subscriptions": states])
                } else {
                    let numbers = entry.phones.compactMap { PhoneNumber(e164: $0)?.formatted(for: session.recipients.country) }
                    let jids = entry.jids.map { jid in roster[jid].map { "\(jid) (\($0.subscriptionState))" } ?? jid }
                    printForPeople(([Sanitizer.plain(entry.name)] + numbers + jids).joined(separator: "\t"))
                }
            }
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add a person, or more numbers or addresses to one.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The person's name.") var name: String
        @Argument(help: "Phone numbers (any common form) and XMPP addresses.") var addresses: [String]
        @Flag(help: "Keep XMPP addresses in the address book only: no roster entry, no subscription request.")
        var noSubscribe = false
        @Option(help: "Give up connecting after this many seconds.") var timeout: Double = 30

        func run() async throws {
            let (book, session) = try Contacts.book(options)
            try Contacts.run { try book.add(name: name, addresses: addresses) }
            // XMPP addresses also go in the roster with a request to see their presence
            // (phone numbers are the address book's alone).
            let jids = addresses.filter { $0.contains("@") }.compactMap { try? Contacts.address($0) }
            guard !noSubscribe, !jids.isEmpty else { return }
            let person = name
            do {
                try await withOnlineSession(session, timeout: timeout) { session in
                    for jid in jids { try await session.addContact(jid, name: person) }
                }
            } catch {
                throw CLIError("Saved in the address book, but the subscription request was not sent: \(error)")
            }
        }
    }

    struct Rename: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rename a person, in the address book and the roster.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The current name.") var name: String
        @Argument(help: "The new name.") var newName: String
        @Flag(help: "Change the address book only, not the name of their addresses in the roster.") var addressBookOnly = false
        @Option(help: "Give up connecting after this many seconds.") var timeout: Double = 30

        func run() async throws {
            let (book, session) = try Contacts.book(options)
            let entry = try Contacts.run { try book.rename(name, to: newName) }
            // The roster's name too, so that every client of the account shows the same one.
            let inRoster = try Contacts.run { try book.rosterAddresses(of: entry) }
            guard !addressBookOnly, !inRoster.isEmpty else { return }
            let renamed = entry.name
            do {
                try await withOnlineSession(session, timeout: timeout) { session in
                    for jid in inRoster { try await session.renameContact(jid, to: renamed) }
                }
            } catch {
                throw CLIError("Renamed in the address book, but not in the roster: \(error)")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a person from the address book and their addresses from the roster.")
        @OptionGroup var options: GlobalOptions
        @Argument(help: "The name.") var name: String
        @Flag(help: "Remove from the address book only; keep their addresses in the roster.") var addressBookOnly = false
        @Option(help: "Give up connecting after this many seconds.") var timeout: Double = 30

        func run() async throws {
            let (book, session) = try Contacts.book(options)
            let inRoster = try Contacts.run { try book.entry(named: name).map(book.rosterAddresses) ?? [] }
            _ = try Contacts.run { try book.remove(name) }
            // Their addresses leave the roster too, which ends the subscriptions both ways.
            guard !addressBookOnly, !inRoster.isEmpty else { return }
            do {
                try await withOnlineSession(session, timeout: timeout) { session in
                    for jid in inRoster { try await session.removeContact(jid) }
                }
            } catch {
                throw CLIError("Removed from the address book, but still in the roster: \(error)")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the address book as vCard 4.0 (or CSV).")
        @OptionGroup var options: GlobalOptions
        @Flag(help: "CSV instead of vCard.") var csv = false

        func run() async throws {
            let (book, _) = try Contacts.book(options)
            let text = try Contacts.run { csv ? try book.exportCSV() : try book.exportVCard() }
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}
