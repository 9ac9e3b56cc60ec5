import DialtoneCore
import Foundation

/// Several accounts (numbers) in one interface: one is in view, the others stay connected,
/// ring, notify and count what arrives; Ctrl-x or /account switches between them.
extension TUIApp {
    /// Puts the account at `index` in view, keeping what there is of the one that leaves.
    func switchAccount(to index: Int) {
        guard sessions.indices.contains(index), index != current else { return }
        // Whoever we were typing to on the account that leaves hears we stopped.
        session.inputChanged(in: nil, typing: false)
        accounts[current].openPeer = view?.peer
        current = index
        accounts[index].arrived = 0
        let openPeer = accounts[index].openPeer
        overlay = nil
        view = nil
        typing = [:]
        // The store has everything that arrived meanwhile, unread counts included.
        loadConversations()
        if let peer = openPeer ?? list.selectedPeer { open(peer) }
        show(notice: "Account \(session.account.bare.description).")
        updateTitle()
    }

    /// /account [N | ADDRESS]: shows the accounts, or switches to one.
    func account(_ choice: NumberOrName?) {
        let wanted: String
        switch choice {
        case nil:
            showAccount()
            return
        case .number(let number) where sessions.indices.contains(number - 1):
            number - 1 == current ? show(notice: "Already on \(session.account.bare.description).") : switchAccount(to: number - 1)
            return
        // A number out of range may still start an address ("5551234@…").
        case .number(let number): wanted = String(number)
        case .name(let name): wanted = name
        }
        let matches = sessions.indices.filter { sessions[$0].account.bare.description.lowercased().hasPrefix(wanted.lowercased()) }
        guard let index = matches.first, matches.count == 1 else {
            show(error: matches.isEmpty ? "No account \(Sanitizer.plain(wanted)): /account lists them." : "\(Sanitizer.plain(wanted)) fits several accounts.")
            return
        }
        index == current ? show(notice: "Already on \(session.account.bare.description).") : switchAccount(to: index)
    }

    /// The accounts not in view, for the status bar: "+ work@example.org 3" when something
    /// arrived there, its state when it is not online.
    var otherAccountsStatus: String? {
        let parts = accounts.indices.compactMap { index -> String? in
            guard index != current else { return nil }
            let state = accounts[index]
            let address = sessions[index].account.bare.description
            if case .online = state.connection {
                return state.arrived > 0 ? "\(address) \(state.arrived) new" : nil
            }
            return "\(address) \(Sanitizer.plain(state.connection.description))"
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// Activity in a conversation of an account, in view or not.
    func noteActivity(on account: Int, peer: String, at date: Date, incoming: Bool) {
        accounts[account].list.noteActivity(peer: peer, at: date, incoming: incoming)
    }

    /// The names of the account a call belongs to.
    func names(ofAccount index: Int) -> any NameSource {
        accounts.indices.contains(index) ? accounts[index].names : names
    }

    /// The call manager of the account a call belongs to.
    func callManager(for id: String?) -> CallControl {
        sessions[id.flatMap { callOwners[$0] } ?? current].callControl
    }
}

/// Names for addresses, read afresh when an account's contacts change.
extension TUIApp {
    /// Reads the account's names off the interface's thread: with 5,000 contacts the roster
    /// arrives just before the account is online, and reading them here held back the redraw
    /// that shows it. Changes meanwhile read them once more when this read is in.
    func readNames(of account: Int) {
        guard namesReading.insert(account).inserted else {
            namesStale.insert(account)
            return
        }
        let session = sessions[account]
        let sink = eventSink
        Task.detached(priority: .userInitiated) {
            if let names = try? session.displayNames() { sink?.yield(.names(names, account: account)) }
            await MainActor.run { [weak self] in self?.namesRead(account) }
        }
    }

    private func namesRead(_ account: Int) {
        namesReading.remove(account)
        if namesStale.remove(account) != nil { readNames(of: account) }
    }

    func apply(_ names: DisplayNames, to account: Int) {
        let names = accounts[account].joiningRooms.reduce(names) { $0.joining($1.key, nick: $1.value) }
        // At start the roster usually comes back as stored: the same names need no new layout
        // of the open conversation (whose every text is searched for numbers to name).
        guard names != accounts[account].names as? DisplayNames else { return }
        accounts[account].names = names
        accounts[account].list.names = names
        if account == current {
            view?.names = names
            // A room just joined is known as one now: its occupants' column.
            let before = layout
            layOut()
            if layout != before { view?.resize(width: layout.messageWidth) }
            view?.relayout()
        }
    }
}
