import GRDB

/// A person from the user's own address book (vCard or CSV import, or added by hand).
public struct AddressBookEntry: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "addressbook"

    /// The card's UID, or one derived from its name: what makes a re-import replace, not duplicate.
    public var uid: String
    public var name: String
    /// Phone numbers in E.164 form.
    public var phones: [String]
    /// XMPP addresses (bare).
    public var jids: [String]

    public init(uid: String, name: String, phones: [String], jids: [String]) {
        self.uid = uid
        self.name = name
        self.phones = phones
        self.jids = jids
    }
}
