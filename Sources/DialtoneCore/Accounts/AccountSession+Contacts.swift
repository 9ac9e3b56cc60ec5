import DialtoneXMPP

/// The roster and presence subscriptions, as front ends change them (RFC 6121). Each needs
/// the connection; what the server does in return arrives as events (`contactsChanged`,
/// `subscriptionAnswered`).
extension AccountSession {
    /// Adds an XMPP contact (or a number at the gateway) to the roster and asks to see their
    /// presence; they are let in when they ask back.
    public func addContact(_ address: JID, name: String?) async throws { try await subscriptions.add(address, name: name) }

    /// Removes a contact from the roster, ending the subscriptions both ways.
    public func removeContact(_ address: JID) async throws { try await subscriptions.remove(address) }

    /// Renames a roster contact for every client of the account.
    public func renameContact(_ address: JID, to name: String) async throws { try await subscriptions.rename(address, to: name) }

    /// Lets someone who asked see the user's presence, and asks to see theirs.
    public func acceptSubscription(from address: JID) async throws { try await subscriptions.accept(address) }

    /// Refuses someone's request; later requests from them are not shown.
    public func denySubscription(from address: JID) async throws { try await subscriptions.deny(address) }
}

/// Blocking (XEP-0191), for addresses and numbers at the gateway alike.
extension AccountSession {
    /// Blocks these addresses (a number as its gateway address: JMP and Cheogram honour that);
    /// `reportingSpam` also reports each as spam (XEP-0377).
    public func block(_ addresses: [JID], reportingSpam: Bool = false) async throws {
        try await blocking.block(addresses, reportingSpam: reportingSpam)
    }

    public func unblock(_ addresses: [JID]) async throws { try await blocking.unblock(addresses) }

    /// What the server blocks now.
    public func blockedAddresses() async throws -> [JID] { try await blocking.list() }
}
