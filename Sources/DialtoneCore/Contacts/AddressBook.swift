import DialtoneStore
import DialtoneXMPP
import Foundation

/// The user's address book: imports, edits and exports, stored per account with numbers
/// in E.164 so that every form a number is written in finds the same person.
public struct AddressBook: Sendable {
    let store: Store
    /// The region for numbers written without a country code.
    public let country: String

    init(store: Store, country: String) {
        self.store = store
        self.country = country
    }

    public struct ImportResult: Sendable, Equatable {
        public var cards = 0
        public var numbers = 0
        /// Numbers that could not be read, with why.
        public var skipped: [String] = []
    }

    /// Imports a vCard file, a CSV file, or a directory of them (a vdir, as khard and
    /// vdirsyncer keep). Importing the same cards again changes nothing.
    public func importContacts(from path: String) throws -> ImportResult {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AddressBookError.missing(path)
        }
        var files: [String] = [path]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files = names.sorted().filter { ["vcf", "vcard", "csv"].contains(($0 as NSString).pathExtension.lowercased()) }
                .map { (path as NSString).appendingPathComponent($0) }
        }
        var cards: [ContactCard] = []
        for file in files {
            guard let text = (try? String(contentsOfFile: file, encoding: .utf8)) ?? (try? String(contentsOfFile: file, encoding: .windowsCP1252))
                ?? (try? String(contentsOfFile: file, encoding: .isoLatin1)) else {
                throw AddressBookError.unreadable(file)
            }
            if (file as NSString).pathExtension.lowercased() == "csv" {
                do { cards += try CSVContacts.parse(text) } catch { throw AddressBookError.malformed(file, String(describing: error)) }
            } else {
                cards += VCard.parse(text)
            }
        }
        var result = ImportResult()
        var entries: [AddressBookEntry] = []
        for card in cards {
            var phones: [String] = []
            for phone in card.phones {
                do {
                    let number = try PhoneNumber(parsing: phone.number, region: country)
                    if !phones.contains(number.e164) { phones.append(number.e164) }
                } catch {
                    result.skipped.append("\(card.name): \(error)")
                }
            }
            let jids = card.jids.compactMap { try? JID($0).bare.description }
            guard !phones.isEmpty || !jids.isEmpty else { continue }
            entries.append(AddressBookEntry(uid: card.uid ?? "name:" + card.name.lowercased(), name: card.name, phones: phones, jids: jids))
            result.cards += 1
            result.numbers += phones.count
        }
        try store.saveAddressBook(entries)
        return result
    }

    /// Adds a person by hand, or more numbers/addresses to one of that name.
    public func add(name: String, addresses: [String]) throws {
        var entry = try store.addressBook().first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
            ?? AddressBookEntry(uid: "name:" + name.lowercased(), name: name, phones: [], jids: [])
        for address in addresses {
            if address.contains("@") {
                guard let jid = try? JID(address) else { throw AddressBookError.invalidAddress(address) }
                if !entry.jids.contains(jid.bare.description) { entry.jids.append(jid.bare.description) }
            } else {
                let number = try PhoneNumber(parsing: address, region: country)
                if !entry.phones.contains(number.e164) { entry.phones.append(number.e164) }
            }
        }
        try store.saveAddressBook([entry])
    }

    /// Renames a person; returns their entry as it now is (its addresses in the roster should
    /// be renamed there too, so that every client of the account shows one name).
    @discardableResult
    public func rename(_ name: String, to newName: String) throws -> AddressBookEntry {
        guard var entry = try entry(named: name) else { throw AddressBookError.noSuchContact(name) }
        entry.name = newName
        try store.saveAddressBook([entry])
        return entry
    }

    /// Removes a person; returns the entry that was removed (its addresses in the roster are
    /// the caller's to remove there too).
    @discardableResult
    public func remove(_ name: String) throws -> AddressBookEntry {
        guard let entry = try entry(named: name) else { throw AddressBookError.noSuchContact(name) }
        try store.removeAddressBookEntry(uid: entry.uid)
        return entry
    }

    /// Those of `entry`'s XMPP addresses that are in the roster.
    public func rosterAddresses(of entry: AddressBookEntry) throws -> [JID] {
        try entry.jids.filter { try store.contact(jid: $0) != nil }.compactMap { try? JID($0) }
    }

    public func entry(named name: String) throws -> AddressBookEntry? {
        try store.addressBook().first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }

    public func exportVCard() throws -> String {
        VCard.serialize(try store.addressBook().map { ($0.uid, $0.name, $0.phones, $0.jids) })
    }

    public func exportCSV() throws -> String {
        var text = "Name,Phones,XMPP\n"
        for entry in try store.addressBook() {
            text += [entry.name, entry.phones.joined(separator: " ::: "), entry.jids.joined(separator: " ::: ")]
                .map(CSVContacts.field).joined(separator: ",") + "\n"
        }
        return text
    }
}

public enum AddressBookError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    case unreadable(String)
    case malformed(String, String)
    case invalidAddress(String)
    case noSuchContact(String)

    public var description: String {
        switch self {
        case .missing(let path): "There is no file or directory \(path)."
        case .unreadable(let path): "Cannot read \(path)."
        case .malformed(let path, let why): "\(path) is not a CSV file Dialtone can read (\(why))."
        case .invalidAddress(let text): "\"\(text)\" is not a valid address."
        case .noSuchContact(let name): "No contact named \"\(name)\" in the address book."
        }
    }
}
