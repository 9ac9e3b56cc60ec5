import DialtoneStore

/// What an account has stored, for front ends to show: conversations, history, the call log,
/// contacts and the address book, and search. Read-only: every change goes through a command
/// of `AccountSession` (or `AddressBook`), which stores it and tells the front ends.
public struct AccountRecords: Sendable {
    let store: Store

    /// Conversations, the most recent first, with their unread counts.
    public func conversations() throws(StoreError) -> [Conversation] { try store.conversations() }

    /// The last `limit` messages with `peer` (a bare address or group-text address), oldest first.
    public func history(peer: String, limit: Int = 100) throws(StoreError) -> [StoredMessage] {
        try store.history(peer: peer, limit: limit)
    }

    /// The newest message in `peer`'s conversation with this id (its stanza id or origin-id, as
    /// `history --json` and `listen --json` give it as "id"), whoever sent it.
    public func message(withID id: String, in peer: String) throws(StoreError) -> StoredMessage? {
        try store.message(referencedAs: id, in: peer)
    }

    /// The call log, newest first: with one peer, or everyone's.
    public func calls(peer: String? = nil, limit: Int = 100) throws(StoreError) -> [CallLogEntry] {
        try store.calls(peer: peer, limit: limit)
    }

    /// A group chat the account knows (bookmarked or joined), nil for any other address.
    public func room(_ jid: String) throws(StoreError) -> RoomRecord? { try store.room(jid) }

    /// The roster as last received.
    public func contacts() throws(StoreError) -> [Contact] { try store.contacts() }

    /// Who asks to see the user's presence and waits for an answer, oldest first.
    public func subscriptionRequests() throws(StoreError) -> [SubscriptionRequest] { try store.subscriptionRequests() }

    /// The user's own address book (imported or added), numbers in E.164.
    public func addressBook() throws(StoreError) -> [AddressBookEntry] { try store.addressBook() }

    /// Full-text search over message texts (words, prefixes with `*`, phrases in quotes).
    public func search(_ text: String, limit: Int = 50) throws(StoreError) -> [(peer: String, message: StoredMessage)] {
        try store.search(text, limit: limit)
    }
}
