import DialtoneCore
import Foundation

extension TUIApp {
    func run(_ command: CommandSpec.Name, arguments: String) {
        switch command {
        case .msg: message(arguments)
        case .group: group(arguments)
        case .close:
            guard let peer = view?.peer else { return }
            list.close(peer)
            view = nil
            if let next = list.selectedPeer { open(next) }
        case .search: search(arguments)
        case .contacts: showContacts()
        case .add: addContact(arguments)
        case .rename: renameContact(arguments)
        case .import: importContacts(arguments)
        case .attach: attach(arguments)
        case .open: openAttachment(arguments)
        case .cmd: adHoc(arguments)
        case .field: setField(arguments)
        case .next: commandAction("next")
        case .prev: commandAction("prev")
        case .complete: commandAction("complete")
        case .cancel: commandAction("cancel")
        case .account: account(arguments)
        case .connect: connect()
        case .disconnect: disconnect()
        case .status: setStatus(arguments)
        case .set: setOption(arguments)
        case .play: play(arguments)
        case .stop: stopPlaying()
        case .call: placeCall(arguments)
        case .answer: answer()
        case .decline: decline(busy: arguments.trimmingCharacters(in: .whitespaces) == "busy")
        case .hangup: hangUp()
        case .mute: setMuted(true)
        case .unmute: setMuted(false)
        case .hold: setHeld(nil)
        case .dtmf: sendDigits(arguments.filter { !$0.isWhitespace })
        case .device: switchDevice(arguments)
        case .calls: showCallLog()
        case .theme: switchTheme(arguments.trimmingCharacters(in: .whitespaces))
        case .help: overlay = HelpText.lines(for: arguments.trimmingCharacters(in: .whitespaces), width: layout.messageWidth)
        case .quit: running = false
        }
    }

    /// /msg TO [TEXT]: TO may be several words ("Alice Liddell", "+1 555 123 4567"), so the
    /// longest leading words that name a recipient are TO and the rest is the text.
    private func message(_ arguments: String) {
        let words = arguments.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
        guard !words.isEmpty else { show(error: CommandTable.spec(named: "msg")!.usage); return }
        let contacts = (try? session.records.contacts()) ?? []
        let book = (try? session.records.addressBook()) ?? []
        var split = 1
        for count in stride(from: words.count, through: 1, by: -1) {
            if (try? session.recipients.parse(words[..<count].joined(separator: " "), contacts: contacts, addressBook: book)) != nil {
                split = count
                break
            }
        }
        let recipient = words[..<split].joined(separator: " ")
        let text = words[split...].joined(separator: " ")
        let session = self.session
        let account = current
        Task { @MainActor in
            do {
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

    private func group(_ arguments: String) {
        let people = arguments.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard people.count >= 2 else { show(error: "A group text needs at least two people: /group TO, TO, …"); return }
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

    private func search(_ words: String) {
        guard !words.isEmpty else { show(error: "/search WORDS"); return }
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
    func switchTheme(_ name: String) {
        guard !name.isEmpty else {
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
