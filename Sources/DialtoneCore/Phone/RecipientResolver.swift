import DialtoneStore
import DialtoneXMPP
import Foundation

/// Turns what a user types as a recipient — an address, a contact's name, or a phone number
/// in any common form — into an address. The user never has to type `@gateway`.
public struct RecipientResolver: Sendable {
    public var gateway: JID?
    /// The region for numbers written without a country code ("US").
    public var country: String

    public init(gateway: JID?, country: String) {
        self.gateway = gateway
        self.country = country
    }

    /// The country from the environment's locale (LC_ALL, LC_MESSAGES, LANG: "en_GB.UTF-8" → "GB").
    public static func defaultCountry(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for key in ["LC_ALL", "LC_TELEPHONE", "LANG"] {
            guard let value = environment[key], let underscore = value.firstIndex(of: "_") else { continue }
            let region = value[value.index(after: underscore)...].prefix(2)
            if region.count == 2, region.allSatisfy(\.isLetter) { return region.uppercased() }
        }
        return "US"
    }

    public enum Parsed: Sendable, Equatable {
        case address(JID)
        case contact(JID)
        case number(PhoneNumber)
        case shortCode(String)
    }

    /// What `text` is, without asking anyone.
    public func parse(_ text: String, contacts: [Contact], addressBook: [AddressBookEntry] = []) throws(RecipientError) -> Parsed {
        var trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("xmpp:") { trimmed.removeFirst(5) }
        guard !trimmed.isEmpty else { throw .empty }
        if trimmed.contains("@") {
            guard let jid = try? JID(trimmed) else { throw .invalidAddress(trimmed) }
            return .address(jid)
        }
        if let found = try Self.person(named: trimmed, matching: NameMatch.isWhole, contacts: contacts, addressBook: addressBook) {
            return found
        }
        if Self.looksLikeANumber(trimmed) {
            if PhoneNumber.isShortCode(trimmed, region: country) { return .shortCode(trimmed.filter(\.isNumber)) }
            do { return .number(try PhoneNumber(parsing: trimmed, region: country)) } catch { throw .phone(error) }
        }
        // "Ada" for "Ada Lovelace", "love" for the same: the beginning of the name or of one of its words.
        if let found = try Self.person(named: trimmed, matching: NameMatch.isPart, contacts: contacts, addressBook: addressBook) {
            return found
        }
        throw .unknown(trimmed)
    }

    /// The one roster contact or address-book person whose name `matches` the typed text; nil
    /// when nobody's does; `.ambiguous` with the names (or, for one name, the addresses) when several do.
    private static func person(named typed: String, matching matches: (String, String) -> Bool,
                               contacts: [Contact], addressBook: [AddressBookEntry]) throws(RecipientError) -> Parsed? {
        let named = contacts.filter { $0.name.map { matches($0, typed) } ?? false }
        let people = addressBook.filter { matches($0.name, typed) }
        // A roster contact and an address-book entry of the same name are taken as one person, as before.
        var names: [String] = []
        for name in named.compactMap(\.name) + people.map(\.name)
        where !names.contains(where: { NameMatch.isWhole($0, name) }) {
            names.append(name)
        }
        if names.count > 1 { throw .ambiguous(typed, names.sorted()) }
        if named.count > 1 { throw .ambiguous(typed, named.map(\.jid)) }
        if let contact = named.first, let jid = try? JID(contact.jid) { return .contact(jid) }
        // The address book: a person's first number, else their first address.
        if people.count > 1 { throw .ambiguous(typed, people.map(\.name)) }
        if let person = people.first {
            if let phone = person.phones.first, let number = PhoneNumber(e164: phone) { return .number(number) }
            if let address = person.jids.first, let jid = try? JID(address) { return .contact(jid) }
        }
        return nil
    }

    /// The local mapping (XEP-0100 unavailable, or offline): E.164 at the gateway; short codes
    /// in the gateway's phone-context form.
    public func localAddress(for parsed: Parsed) throws(RecipientError) -> JID {
        switch parsed {
        case .address(let jid), .contact(let jid): return jid
        case .number(let number):
            guard let gateway else { throw .noGateway(number.e164) }
            return (try? JID(local: number.e164, domain: gateway.domain)) ?? gateway
        case .shortCode(let digits):
            guard let gateway else { throw .noGateway(digits) }
            let context = ["US", "CA"].contains(country) ? "ca.us.phone-context.soprani.ca" : "\(country.lowercased()).phone-context.soprani.ca"
            return (try? JID(local: "\(digits);phone-context=\(context)", domain: gateway.domain)) ?? gateway
        }
    }

    static func looksLikeANumber(_ text: String) -> Bool {
        var text = Substring(text)
        if text.hasPrefix("tel:") { text = text.dropFirst(4) }
        let allowed = Set("0123456789+-().  /")
        return text.count >= 3 && text.allSatisfy { allowed.contains($0) || $0.isWhitespace } && text.contains(where: \.isNumber)
    }

    /// A group text's address: the participants' numbers, sorted, joined by commas, at the
    /// gateway — the form JMP/Cheogram use, so that replies reach everyone.
    public func groupAddress(for participants: [JID]) throws(RecipientError) -> JID {
        guard let gateway else { throw .noGateway("a group text") }
        var numbers: Set<String> = []
        for participant in participants {
            guard participant.domain == gateway.domain, let local = participant.local else {
                throw .notAPhoneParticipant(participant.description)
            }
            for part in local.split(separator: ",") { numbers.insert(String(part)) }
        }
        guard numbers.count >= 2 else { throw .groupTooSmall }
        guard let jid = try? JID(local: numbers.sorted().joined(separator: ","), domain: gateway.domain) else {
            throw .groupTooSmall
        }
        return jid
    }
}

public enum RecipientError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case invalidAddress(String)
    case ambiguous(String, [String])
    case unknown(String)
    case phone(PhoneNumberError)
    case noGateway(String)
    case notAPhoneParticipant(String)
    case groupTooSmall

    public var description: String {
        switch self {
        case .empty: "No recipient given."
        case .invalidAddress(let text): "\"\(text)\" is not a valid address."
        case .ambiguous(let name, let choices): "\"\(name)\" could be \(choices.count) contacts: \(choices.joined(separator: ", ")). Type more of the name, or the number or address."
        case .unknown(let text): "\"\(text)\" is neither an address, a contact's name, nor a phone number."
        case .phone(let error): error.description
        case .noGateway(let what): "Texting \(what) needs a phone gateway: set gateway = \"…\" in the account's configuration."
        case .notAPhoneParticipant(let jid): "\(jid) is not a phone number at the account's gateway; group texts are between phone numbers."
        case .groupTooSmall: "A group text needs at least two other participants."
        }
    }
}

/// How a typed name matches a person's name: case and accents never count.
enum NameMatch {
    private static let options: String.CompareOptions = [.caseInsensitive, .diacriticInsensitive]

    static func isWhole(_ name: String, _ typed: String) -> Bool {
        name.compare(typed, options: options) == .orderedSame
    }

    /// The typed text begins the name, or one of its words ("Love" in "Ada Lovelace", "mar" in "Jean-Marc").
    static func isPart(_ name: String, _ typed: String) -> Bool {
        if name.range(of: typed, options: options.union(.anchored)) != nil { return true }
        return name.split(whereSeparator: { $0.isWhitespace || $0 == "-" || $0 == "(" || $0 == "\"" })
            .contains { $0.range(of: typed, options: options.union(.anchored)) != nil }
    }
}
