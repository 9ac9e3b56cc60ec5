/// A person as an import file describes them, before numbers are normalised.
public struct ContactCard: Sendable, Equatable {
    public var uid: String?
    public var name: String
    /// Numbers as written in the file, with their labels ("cell", "work").
    public var phones: [(number: String, label: String?)]
    public var jids: [String]

    public init(uid: String? = nil, name: String, phones: [(number: String, label: String?)] = [], jids: [String] = []) {
        self.uid = uid
        self.name = name
        self.phones = phones
        self.jids = jids
    }

    public static func == (lhs: ContactCard, rhs: ContactCard) -> Bool {
        lhs.uid == rhs.uid && lhs.name == rhs.name && lhs.jids == rhs.jids
            && lhs.phones.map(\.number) == rhs.phones.map(\.number) && lhs.phones.map(\.label) == rhs.phones.map(\.label)
    }
}
