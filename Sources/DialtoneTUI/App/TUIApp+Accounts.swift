import DialtoneCore
import Foundation

/// Several accounts (numbers) in one interface: one is in view, the others stay connected,
/// ring, notify and count what arrives; Ctrl-x or /account switches between them.
extension TUIApp {
    /// An event of an account not in view.
    func handleParked(_ event: CoreEvent, account: Int) {
        guard var state = parked[account] else { return }
        switch event {
        case .connection(let connection):
            state.connection = connection
            state.list.note(connection)
        case .message(let peer, let message):
            state.list.noteActivity(peer: peer, at: message.timestamp, incoming: message.direction == .incoming)
            if message.direction == .incoming, message.body != nil || !message.attachments.isEmpty {
                state.arrived += 1
                terminal.bell()
                let text = message.body ?? (message.attachments.isEmpty ? "" : "📎 attachment")
                let sender = state.names.name(for: message.sender.isEmpty ? peer : message.sender)
                notifier.notify(title: "\(sender) → \(sessions[account].account.bare.description)", body: text)
            }
        case .presence(let update):
            state.list.note(update, account: sessions[account].account)
        case .contactsChanged:
            if let names = try? sessions[account].displayNames() {
                state.names = names
                state.list.names = names
            }
        default:
            break
        }
        parked[account] = state
        updateTitle()
    }

    /// Puts the account at `index` in view, keeping what there is of the one that leaves.
    func switchAccount(to index: Int) {
        guard sessions.indices.contains(index), index != current, let incoming = parked[index] else { return }
        // Whoever we were typing to on the account that leaves hears we stopped.
        session.inputChanged(in: nil, typing: false)
        parked[current] = ParkedAccount(names: names, list: list, openPeer: view?.peer, connection: connection,
                                        presenceShow: presenceShow, presenceStatus: presenceStatus,
                                        commandList: commandList, commandSession: commandSession)
        parked[index] = nil
        current = index
        names = incoming.names
        list = incoming.list
        connection = incoming.connection
        presenceShow = incoming.presenceShow
        presenceStatus = incoming.presenceStatus
        commandList = incoming.commandList
        commandSession = incoming.commandSession
        overlay = nil
        view = nil
        typing = [:]
        // The store has everything that arrived meanwhile, unread counts included.
        loadConversations()
        if let peer = incoming.openPeer ?? list.selectedPeer { open(peer) }
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
        let parts = parked.keys.sorted().compactMap { index -> String? in
            guard let state = parked[index] else { return nil }
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
        if account == current {
            list.noteActivity(peer: peer, at: date, incoming: incoming)
        } else {
            parked[account]?.list.noteActivity(peer: peer, at: date, incoming: incoming)
        }
    }

    /// The names of the account a call belongs to.
    func names(ofAccount index: Int) -> any NameSource {
        index == current ? names : parked[index]?.names ?? names
    }

    /// The call manager of the account a call belongs to.
    func callManager(for id: String?) -> CallControl {
        sessions[id.flatMap { callOwners[$0] } ?? current].callControl
    }
}
