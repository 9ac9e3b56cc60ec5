import DialtoneCore
import Foundation

/// One row of the conversation list, independent of how the store keeps it.
public struct ConversationEntry: Sendable, Equatable {
    public var peer: String
    public var lastActivity: Date
    public var unread: Int
    /// Of the unread, those in a group chat that name our nick: counted apart ("12@2").
    public var mentions = 0

    public init(peer: String, lastActivity: Date, unread: Int = 0) {
        self.peer = peer
        self.lastActivity = lastActivity
        self.unread = unread
    }

    public init(_ conversation: Conversation) {
        self.init(peer: conversation.peer, lastActivity: conversation.lastActivity, unread: conversation.unread)
    }
}

/// The left pane: conversations, most recent first, with names and unread counts, and which
/// one is open. The selection follows its peer, not its row, as activity reorders the list.
public struct ConversationListModel: Sendable {
    public private(set) var entries: [ConversationEntry] = []
    public private(set) var selectedPeer: String?
    public var names: any NameSource
    /// Who is online, by bare address and resource, with each resource's `show` (nil: plain
    /// available): a contact is as available as their most available device.
    private var devices: [String: [String: String?]] = [:]
    static let devicesPerContact = 16
    static let addressesWithPresence = 20_000
    /// Devices remembered, over every address (tests).
    var rememberedDevices: Int { devices.values.reduce(0) { $0 + $1.count } }

    public init(names: any NameSource) { self.names = names }

    public mutating func replace(_ entries: [ConversationEntry]) {
        self.entries = entries.sorted(by: Self.newestFirst)
        if selectedPeer == nil { selectedPeer = self.entries.first?.peer }
    }

    /// A message came or went: the conversation moves to the top, counting it unread unless
    /// it is the open one.
    public mutating func noteActivity(peer: String, at date: Date, incoming: Bool, mention: Bool = false) {
        var entry = ConversationEntry(peer: peer, lastActivity: date)
        if let index = entries.firstIndex(where: { $0.peer == peer }) { entry = entries.remove(at: index) }
        entry.lastActivity = max(entry.lastActivity, date)
        if incoming && peer != selectedPeer {
            entry.unread += 1
            if mention { entry.mentions += 1 }
        }
        // Into its place in the sorted list (nearly always the top): no sort of the whole
        // list for each message of a busy conversation.
        let place = entries.firstIndex { !Self.newestFirst($0, entry) } ?? entries.count
        entries.insert(entry, at: place)
    }

    /// A contact's device came online, changed its show, or went offline.
    public mutating func notePresence(of address: String, resource: String, available: Bool, show: String?) {
        if available {
            // Bounded: anyone can send presence from any number of made-up resources or
            // addresses; past these, new ones are not remembered (the mark needs only one).
            let known = devices[address]
            guard known?[resource] != nil || (known?.count ?? 0) < Self.devicesPerContact else { return }
            guard known != nil || devices.count < Self.addressesWithPresence else { return }
            devices[address, default: [:]][resource] = .some(show)
        } else if resource.isEmpty {
            // Unavailable from the bare address (a probe's answer, an unsubscription): every
            // device is gone.
            devices[address] = nil
        } else {
            devices[address]?[resource] = nil
            if devices[address]?.isEmpty == true { devices[address] = nil }
        }
    }

    /// Our connection is gone: what we knew of others' presence no longer holds (the server
    /// sends it all again when we are back).
    public mutating func forgetPresence() {
        devices.removeAll()
    }

    /// A presence the account received; its own other devices are not a conversation.
    public mutating func note(_ update: PresenceUpdate, account: JID) {
        guard update.from.bare != account.bare else { return }
        notePresence(of: update.from.bare.description, resource: update.from.resource ?? "",
                     available: update.available, show: update.show)
    }

    /// The account's connection changed: presence holds only while online.
    public mutating func note(_ connection: ConnectionState) {
        if case .online = connection { return }
        forgetPresence()
    }

    /// How available `address` is, where presence exists for it (phone numbers have none).
    public func presence(of address: String) -> Availability? {
        guard let shows = devices[address]?.values, !shows.isEmpty else { return nil }
        let ranked = shows.map { show -> Availability in
            switch show {
            case "away", "xa": .away
            case "dnd": .busy
            default: .available
            }
        }
        return ranked.min()
    }

    /// Opens `peer`, adding it when it has no history yet (a new /msg), and clears its count.
    public mutating func select(_ peer: String) {
        if !entries.contains(where: { $0.peer == peer }) {
            entries.insert(ConversationEntry(peer: peer, lastActivity: Date()), at: 0)
            entries.sort(by: Self.newestFirst)
        }
        selectedPeer = peer
        markRead(peer)
    }

    /// A conversation that never began (a room that would not let us in): off the list.
    public mutating func remove(_ peer: String) {
        entries.removeAll { $0.peer == peer }
        if selectedPeer == peer { selectedPeer = entries.first?.peer }
    }

    public mutating func markRead(_ peer: String) {
        if let index = entries.firstIndex(where: { $0.peer == peer }) {
            entries[index].unread = 0
            entries[index].mentions = 0
        }
    }

    /// Read on another device (XEP-0490): only what came after stays unread.
    public mutating func setUnread(_ peer: String, to count: Int) {
        if let index = entries.firstIndex(where: { $0.peer == peer }) { entries[index].unread = min(entries[index].unread, count) }
    }

    /// Drops `peer` from the list (/close); its history stays in the store.
    public mutating func close(_ peer: String) {
        let index = entries.firstIndex(where: { $0.peer == peer })
        entries.removeAll { $0.peer == peer }
        if selectedPeer == peer {
            selectedPeer = index.flatMap { entries.indices.contains($0) ? entries[$0].peer : entries.last?.peer }
        }
    }

    /// The next (`offset` 1) or previous (-1) conversation, wrapping around.
    public mutating func move(_ offset: Int) {
        guard !entries.isEmpty else { return }
        let current = selectedIndex ?? 0
        let next = ((current + offset) % entries.count + entries.count) % entries.count
        select(entries[next].peer)
    }

    public var selectedIndex: Int? { entries.firstIndex { $0.peer == selectedPeer } }
    public var totalUnread: Int { entries.reduce(0) { $0 + $1.unread } }

    /// The next conversation with unread messages after the selected one, wrapping around.
    public var nextUnread: String? {
        guard !entries.isEmpty else { return nil }
        let start = selectedIndex ?? -1
        for step in 1...entries.count {
            let entry = entries[((start + step) % entries.count + entries.count) % entries.count]
            if entry.unread > 0 { return entry.peer }
        }
        return nil
    }

    /// The conversation at `position` (1 is the top of the list), for Alt-1…Alt-9.
    public func peer(at position: Int) -> String? {
        entries.indices.contains(position - 1) ? entries[position - 1].peer : nil
    }

    /// The pane's rows for `width` columns and `height` rows, scrolled to keep the selection in view.
    public func rows(width: Int, height: Int) -> [StyledLine] {
        guard height > 0, width > 0 else { return [] }
        let first = max(0, (selectedIndex ?? 0) - height + 1)
        return entries.dropFirst(first).prefix(height).map { entry in
            let count = entry.unread > 0 ? " \(entry.unread)" + (entry.mentions > 0 ? "@\(entry.mentions)" : "") : ""
            let name = Sanitizer.plain(names.name(for: entry.peer))
            let label = TerminalWidth.truncate(name, to: width - 1 - count.count)
            let padding = String(repeating: " ", count: max(0, width - 1 - TerminalWidth.columns(of: label) - count.count))
            let role: StyleRole = entry.peer == selectedPeer ? .listSelected : entry.unread > 0 ? .listUnread : .listItem
            // The first column: a mark of the contact's presence, where there is one.
            let mark = presence(of: entry.peer).map { TextRun($0.mark, $0.role) } ?? TextRun(" ", role)
            return StyledLine([mark, TextRun(label + padding, role), TextRun(count, entry.peer == selectedPeer ? .listSelected : .listUnread)])
        }
    }

    private static func newestFirst(_ a: ConversationEntry, _ b: ConversationEntry) -> Bool {
        a.lastActivity != b.lastActivity ? a.lastActivity > b.lastActivity : a.peer < b.peer
    }
}

/// A contact's presence as the list shows it; ordered from most to least available.
public enum Availability: Int, Sendable, Comparable {
    case available, busy, away

    public static func < (a: Availability, b: Availability) -> Bool { a.rawValue < b.rawValue }

    /// Different shapes, so that the marks tell apart without colour (NO_COLOR, monochrome).
    var mark: String {
        switch self {
        case .available: "●"
        case .away: "◐"
        case .busy: "⊘"
        }
    }

    var role: StyleRole {
        switch self {
        case .available: .presenceAvailable
        case .away: .presenceAway
        case .busy: .presenceBusy
        }
    }
}
