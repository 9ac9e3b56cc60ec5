import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Presence subscriptions (RFC 6121 §3): requests to see the user's presence are kept until
/// answered and shown once; contacts the user added are let in at once; the user adds,
/// removes, accepts and denies through the session.
final class SubscriptionService: AccountFeature {
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    let logger: Logger

    init(store: Store, client: XMPPClient, broadcaster: EventBroadcaster, logger: Logger) {
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.logger = logger
    }

    /// A request or an answer from someone (the router has checked it is not from ourselves).
    nonisolated(nonsending) func receive(_ change: SubscriptionChange) async throws {
        let jid = change.from.bare.description
        switch change.kind {
        case .subscribe:
            if let contact = try store.contact(jid: jid), Self.userAddedThem(contact) {
                // Someone the user added asks back: let them in, as pre-approval would have
                // (a server without pre-approval passes the request on to us).
                try? await client.sendSubscription(.subscribed, to: change.from.bare)
                _ = try store.removeSubscriptionRequest(from: jid)
                return
            }
            // Kept before anything is shown; shown only if new (a repeated request, or one
            // from someone the user denied, is not shown again).
            if let nick = change.nick { try store.rememberNicknames([(jid, String(nick.prefix(64)))], at: Date()) }
            if try store.recordSubscriptionRequest(from: jid, nick: change.nick, at: Date()) {
                broadcaster.publish(.subscriptionRequest(from: jid, nick: change.nick))
            }
        case .unsubscribe:
            // They withdrew their request (or no longer want to see us): nothing left to answer.
            if try store.removeSubscriptionRequest(from: jid) { broadcaster.publish(.contactsChanged) }
        case .subscribed, .unsubscribed:
            // The answer to the user's request; the roster push that follows changes the state.
            guard try store.contact(jid: jid) != nil else { return }
            broadcaster.publish(.subscriptionAnswered(from: jid, accepted: change.kind == .subscribed))
        }
    }

    /// In the roster with a subscription to them, or a request of ours out.
    static func userAddedThem(_ contact: Contact) -> Bool {
        contact.asked || contact.subscription == "to" || contact.subscription == "both"
    }

    // MARK: What the user does

    /// Adds `jid` to the roster under `name` and asks to see their presence; they are let in
    /// when they ask back (pre-approved where the server takes it). A waiting request from
    /// them is accepted by this.
    nonisolated(nonsending) func add(_ jid: JID, name: String?) async throws {
        let address = jid.bare
        try await client.setRosterItem(address, name: name)
        let preApproves = await client.serverTakesPreApprovals
        if try store.hasSubscriptionRequest(from: address.description) || preApproves {
            try await client.sendSubscription(.subscribed, to: address)
        }
        try await client.sendSubscription(.subscribe, to: address)
        _ = try store.removeSubscriptionRequest(from: address.description)
        broadcaster.publish(.contactsChanged)
    }

    /// Removes `jid` from the roster; the server ends the subscriptions both ways.
    nonisolated(nonsending) func remove(_ jid: JID) async throws {
        try await client.removeRosterItem(jid.bare)
        _ = try store.removeSubscriptionRequest(from: jid.bare.description)
        broadcaster.publish(.contactsChanged)
    }

    /// Renames a roster contact (the name other clients of the account show too).
    nonisolated(nonsending) func rename(_ jid: JID, to name: String) async throws {
        let groups = try store.contact(jid: jid.bare.description)?.groups ?? []
        try await client.setRosterItem(jid.bare, name: name, groups: groups)
    }

    /// Lets `jid` see the user's presence, and — as Conversations and Dino do — adds them and
    /// asks to see theirs unless that is already so.
    nonisolated(nonsending) func accept(_ jid: JID) async throws {
        let address = jid.bare
        let nick = try store.subscriptionRequests().first { $0.jid == address.description }?.nick
        try await client.sendSubscription(.subscribed, to: address)
        let contact = try store.contact(jid: address.description)
        if contact == nil { try await client.setRosterItem(address, name: nick) }
        if contact.map(Self.userAddedThem) != true { try await client.sendSubscription(.subscribe, to: address) }
        _ = try store.removeSubscriptionRequest(from: address.description)
        broadcaster.publish(.contactsChanged)
    }

    /// Refuses `jid` (or takes back what they had); later requests from them are not shown.
    nonisolated(nonsending) func deny(_ jid: JID) async throws {
        try await client.sendSubscription(.unsubscribed, to: jid.bare)
        try store.denySubscriptionRequest(from: jid.bare.description, at: Date())
        broadcaster.publish(.contactsChanged)
    }
}
