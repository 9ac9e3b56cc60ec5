import DialtoneCore
import Foundation

/// Presence subscriptions in the interface (RFC 6121): a notice when someone asks, /accept and
/// /deny, XMPP addresses added with /add asked for their presence.
extension TUIApp {
    /// Someone asks to see the presence of account `account` (shown once: Core keeps the
    /// request and does not report it again).
    func noteSubscriptionRequest(from jid: String, nick: String?, account: Int) {
        let who = Sanitizer.plain(nick.map { "\($0) (\(jid))" } ?? jid)
        let on = account == current ? "" : " on \(sessions[account].account.bare.description)"
        show(notice: "\(who) asks to see your presence\(on): /accept or /deny")
        terminal.bell()
        notifier.notify(title: "Subscription request\(on)", body: who)
    }

    func noteSubscriptionAnswer(from jid: String, accepted: Bool, account: Int) {
        guard account == current else { return }
        let name = Sanitizer.plain(names.name(for: jid))
        show(notice: accepted ? "\(name) lets you see their presence." : "\(name) refused to share their presence.")
    }

    /// /accept [ADDRESS] and /deny [ADDRESS]: without an address, the oldest request waiting.
    func answerSubscription(_ typed: String?, accept: Bool) {
        let session = self.session
        let address: JID
        do {
            if let typed {
                guard typed.contains("@") || typed.contains("."), let jid = try? JID(typed) else {
                    show(error: "\"\(Sanitizer.plain(typed))\" is not an XMPP address.")
                    return
                }
                address = jid.bare
            } else {
                guard let oldest = try session.records.subscriptionRequests().first, let jid = try? JID(oldest.jid) else {
                    show(notice: "Nobody is waiting for an answer.")
                    return
                }
                address = jid
            }
        } catch {
            show(error: "Cannot read the requests: \(error)")
            return
        }
        Task { @MainActor in
            do {
                if accept { try await session.acceptSubscription(from: address) } else { try await session.denySubscription(from: address) }
                self.show(notice: accept ? "\(address) may see your presence; asked to see theirs."
                                         : "Refused \(address); their requests are no longer shown.")
            } catch {
                self.show(error: "\(address): \(error)")
            }
            self.redraw()
        }
    }

    /// After /add: the XMPP addresses among `addresses` go in the roster with a request.
    func subscribe(to addresses: [String], name: String) {
        let jids = addresses.filter { $0.contains("@") }.compactMap { try? JID($0.hasPrefix("xmpp:") ? String($0.dropFirst(5)) : $0) }
        guard !jids.isEmpty else { return }
        let session = self.session
        Task { @MainActor in
            do {
                for jid in jids { try await session.addContact(jid.bare, name: name) }
            } catch {
                self.show(error: "Added to the address book; the subscription request was not sent: \(error)")
            }
            self.redraw()
        }
    }
}
