import DialtoneCore

/// Where on-screen names come from; the address book in the app, a dictionary in tests.
public protocol NameSource: Sendable {
    func name(for address: String) -> String
    /// Message text with known people named where their numbers or addresses appear.
    func annotate(_ text: String) -> String
    /// Every name known, for completion.
    var allNames: [String] { get }
    /// Whether a (bare) address is a group chat the account knows.
    func isRoom(_ address: String) -> Bool
    /// Our nick in a group chat, for mentions.
    func ourNick(in room: String) -> String?
}

extension NameSource {
    public func annotate(_ text: String) -> String { text }
    public func isRoom(_ address: String) -> Bool { false }
    public func ourNick(in room: String) -> String? { nil }
}

extension DisplayNames: NameSource {}

/// Names from a fixed table, falling back to the address itself.
public struct FixedNames: NameSource {
    public var names: [String: String]
    public init(_ names: [String: String] = [:]) { self.names = names }
    public func name(for address: String) -> String {
        let bare = address.split(separator: "/", maxSplits: 1).first.map(String.init) ?? address
        return names[bare] ?? bare
    }
    public var allNames: [String] { Array(Set(names.values)).sorted() }
}
