import DialtoneStore
import DialtoneXMPP

/// The roster (RFC 6121) as the store keeps it: full fetches replace it, pushes change one
/// contact, and the version goes with them so a versioning server sends only what changed.
final class RosterService: AccountFeature {
    let store: Store
    let broadcaster: EventBroadcaster

    init(store: Store, broadcaster: EventBroadcaster) {
        self.store = store
        self.broadcaster = broadcaster
    }

    func apply(_ change: RosterUpdate) throws {
        switch change {
        case .full(let items, let version):
            try store.replaceContacts(items.map(Self.contact), version: version)
        case .push(let item, let version):
            try store.apply(contact: Self.contact(item), version: version)
        case .unchanged:
            // The stored roster is current; front ends waiting for it may show it now.
            break
        }
        broadcaster.publish(.contactsChanged)
    }

    static func contact(_ item: RosterItem) -> Contact {
        Contact(jid: item.jid.bare.description, name: item.name, subscription: item.subscription, groups: item.groups,
                asked: item.asked)
    }
}

extension Contact {
    /// The subscription in words, as both front ends show it: both, to (you see theirs), from
    /// (they see yours), none — with ", asked" while a request of yours waits.
    public var subscriptionState: String { asked ? "\(subscription), asked" : subscription }
}
