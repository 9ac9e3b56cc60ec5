import DialtoneCore
import Foundation

extension TUIApp {
    /// The one executor: reads the line by the command's table entry and runs its handler, or
    /// shows the entry's usage when the line does not fit (and does nothing else).
    func run(_ command: CommandSpec.Name, arguments: String) {
        guard let spec = CommandTable.spec(named: command.rawValue) else { return }
        let invocation: CommandSpec.Invocation
        do {
            invocation = try spec.bind(arguments, argumentContext)
        } catch {
            show(error: spec.usageError)
            return
        }
        invocation.run(self)
    }

    /// A recipient is what the account's resolver can read, names from the address book and
    /// roster included; they are read only when a command asks.
    private var argumentContext: ArgumentContext {
        let recipients = session.recipients
        let records = session.records
        var known: (contacts: [Contact], book: [AddressBookEntry])?
        return ArgumentContext { text in
            let loaded = known ?? ((try? records.contacts()) ?? [], (try? records.addressBook()) ?? [])
            known = loaded
            return (try? recipients.parse(text, contacts: loaded.contacts, addressBook: loaded.book)) != nil
        }
    }

    /// /msg: opens the conversation with the recipient, and sends the text if there is one.
    func message(to recipient: String, text: String) {
        let session = self.session
        let account = current
        // In a group chat, a nick there is someone to write to privately (room/nick) — unless
        // it is the name of someone the user knows, who comes first: a stranger taking the
        // nick "Mom" must not receive what was meant for Mom.
        let known = Set(names.allNames.map { $0.lowercased() })
        let room = view.flatMap { names.isRoom($0.peer) && !known.contains(recipient.lowercased()) ? try? JID($0.peer) : nil }
        Task { @MainActor in
            do {
                if let room, !recipient.contains("@"),
                   await session.occupants(of: room).contains(where: { $0.nick == recipient }) {
                    let occupant = try JID(local: room.local, domain: room.domain, resource: recipient).description
                    if !text.isEmpty { self.send(text, to: occupant, from: session) }
                    if self.current == account { self.open(occupant) }
                    self.redraw()
                    return
                }
                let jid = try await session.resolveRecipient(recipient)
                // The text goes from the account it was typed on, even if another came into
                // view while the number was being looked up.
                if !text.isEmpty { self.send(text, to: jid.bare.description, from: session) }
                if self.current == account { self.open(jid.bare.description) }
            } catch {
                self.show(error: "\(recipient): \(error)")
            }
            self.redraw()
        }
    }

    func closeConversation() {
        guard let peer = view?.peer else { return }
        list.close(peer)
        view = nil
        if let next = list.selectedPeer { open(next) }
    }

    func group(_ people: [String]) {
        let session = self.session
        let account = current
        Task { @MainActor in
            do {
                let jid = try await session.resolveGroup(people)
                if self.current == account { self.open(jid.bare.description) }
            } catch {
                self.show(error: "Cannot start the group: \(error)")
            }
            self.redraw()
        }
    }

    func search(_ words: String) {
        do {
            let found = try session.records.search(words)
            let width = layout.messageWidth
            var lines = [StyledLine([TextRun("\(found.count) found for “\(Sanitizer.plain(words))” — Esc closes", .notice)])]
            for (peer, message) in found.reversed() {
                let who = Sanitizer.plain(names.name(for: peer))
                let day = message.timestamp.formatted(date: .numeric, time: .shortened)
                lines += StyledWrapper.wrap([TextRun(day + " ", .timestamp), TextRun(who + ": ", .peerName),
                                             TextRun(Sanitizer.plain(message.body ?? ""))], width: width, indent: "  ")
            }
            overlay = lines
        } catch {
            show(error: "Search failed: \(error)")
        }
    }
}

extension TUIApp {
    /// Loads a theme by name and repaints with it at once.
    func switchTheme(_ name: String?) {
        guard let name else {
            show(notice: "Themes: " + Theme.available().joined(separator: ", "))
            return
        }
        do {
            palette = try Theme.load(named: name)
            terminal.apply(palette)
            show(notice: "Theme \(name).")
        } catch {
            show(error: error.description)
        }
    }
}
