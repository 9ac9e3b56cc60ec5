import DialtoneStore
import DialtoneXMPP
import Foundation

/// What to call an address on screen: the address book's name, the roster's, or the phone
/// number formatted as people write it — never `+15551234567@gateway`.
public struct DisplayNames: Sendable, Equatable {
    private let byJID: [String: String]
    private let byPhone: [String: String]
    private let gatewayDomain: String?
    private let country: String

    /// Names people gave for themselves (XEP-0172), for addresses nobody else names: drawn
    /// after a tilde, "~Ada", so that a claimed name never passes for one the user chose.
    private let byNick: [String: String]
    /// Group chats (XEP-0045), by address: the bookmark's name or the room's local part.
    private var rooms: [String: String]
    private var ourNicks: [String: String]

    public init(contacts: [Contact], addressBook: [AddressBookEntry], gateway: JID?, country: String,
                nicknames: [String: String] = [:], rooms: [RoomRecord] = []) {
        byNick = nicknames
        self.rooms = Dictionary(rooms.map { ($0.jid, Self.roomName($0.jid, named: $0.name)) }) { first, _ in first }
        ourNicks = Dictionary(rooms.map { ($0.jid, $0.nick) }) { first, _ in first }
        var byJID: [String: String] = [:]
        for contact in contacts { if let name = contact.name, !name.isEmpty { byJID[contact.jid] = name } }
        var byPhone: [String: String] = [:]
        for entry in addressBook {
            for jid in entry.jids { byJID[jid] = entry.name }
            for phone in entry.phones { byPhone[phone] = entry.name }
        }
        self.byJID = byJID
        self.byPhone = byPhone
        self.gatewayDomain = gateway?.domain
        self.country = country
    }

    /// The name for a (bare or full) address; group texts list their participants. A room
    /// is "#name"; someone in it (room/nick) is "nick (#name)", so that a stranger's nick
    /// never passes for a contact's name (in a room's own view the nick alone is shown).
    public func name(for address: String) -> String {
        let parts = address.split(separator: "/", maxSplits: 1)
        let bare = parts.first.map(String.init) ?? address
        if let room = rooms[bare] { return parts.count > 1 ? "\(parts[1]) (#\(room))" : "#" + room }
        if let name = byJID[bare] { return name }
        guard let jid = try? JID(bare), let local = jid.local, jid.domain == gatewayDomain else {
            return byNick[bare].map { "~" + $0 } ?? bare
        }
        let people = local.split(separator: ",").map { part -> String in
            let text = String(part)
            if let name = byPhone[text] { return name }
            return PhoneNumber(e164: text)?.formatted(for: country) ?? text
        }
        return people.joined(separator: ", ")
    }

    /// Every name the roster and the address book give, sorted and once each: what Tab
    /// offers for a recipient beside the open conversations.
    public var allNames: [String] {
        Array(Set(byJID.values).union(byPhone.values)).sorted { $0.localizedCaseInsensitiveCompare($1) == .orderedAscending }
    }

    /// Whether `address` (bare) is a group chat the account knows.
    public func isRoom(_ address: String) -> Bool { rooms[address] != nil }

    /// Our nick in a room, as last joined.
    public func ourNick(in room: String) -> String? { ourNicks[room] }

    /// These names with `room` (bare) taken for a group chat while it is being joined: its
    /// history comes before the room says we are in, and is shown by nick from the first
    /// message. The names read from the store once the join ends replace these.
    public func joining(_ room: String, nick: String?) -> DisplayNames {
        guard rooms[room] == nil else { return self }
        var names = self
        names.rooms[room] = Self.roomName(room, named: nil)
        if let nick { names.ourNicks[room] = nick }
        return names
    }

    /// A room's name: the one its bookmark gives, or its address's local part.
    private static func roomName(_ jid: String, named name: String?) -> String {
        name ?? (try? JID(jid))?.local ?? jid
    }

    /// The name for a phone number in E.164, if the address book knows it.
    public func name(forPhone e164: String) -> String? { byPhone[e164] }

    /// Message text with known people named where their numbers or addresses appear
    /// (`xmpp:` and `tel:` URIs, and numbers written out): "call (555) 123-4567 (Alice)".
    public func annotate(_ text: String) -> String {
        var result = text
        var replacements: [(Range<String.Index>, String)] = []
        // Punctuation that ends a sentence is not part of the address. (The regex is only
        // built where it can match: a busy room's every message passes here.)
        for match in text.contains("xmpp:") ? text.matches(of: #/xmpp:[^\s?>,;()<]*[^\s?>,;()<.:!]/#) : [] {
            let address = String(text[match.range].dropFirst(5))
            if let name = byJID[address] ?? (try? JID(address)).map({ self.name(for: $0.bare.description) }), name != address {
                replacements.append((match.range, "\(text[match.range]) (\(name))"))
            }
        }
        for found in byPhone.isEmpty || !text.contains(where: \.isNumber) ? [] : PhoneNumber.find(in: text, region: country) {
            guard let name = byPhone[found.number.e164],
                  !replacements.contains(where: { $0.0.overlaps(found.range) }) else { continue }
            replacements.append((found.range, "\(text[found.range]) (\(name))"))
        }
        for (range, replacement) in replacements.sorted(by: { $0.0.lowerBound > $1.0.lowerBound }) {
            result.replaceSubrange(range, with: replacement)
        }
        return result
    }
}
