import DialtoneCore
import Foundation

/// Commands for the account, the address book and files.
extension TUIApp {
    private var addressBook: AddressBook { session.addressBook }

    /// /contacts: the address book and roster in place of the conversation.
    func showContacts() {
        do {
            var lines = [StyledLine([TextRun("Contacts — Esc closes; /msg NAME or /call NAME", .notice)])]
            // Each XMPP address with its subscription (RFC 6121) as the roster last said.
            let roster = Dictionary(try session.records.contacts().map { ($0.jid, $0) }) { first, _ in first }
            let withState = { (jid: String) in Sanitizer.plain(jid) + (roster[jid].map { " (\($0.subscriptionState))" } ?? "") }
            for entry in try session.records.addressBook() {
                let numbers = entry.phones.compactMap { PhoneNumber(e164: $0)?.formatted(for: session.recipients.country) }
                lines += StyledWrapper.wrap([TextRun(Sanitizer.plain(entry.name), .peerName),
                                             TextRun("  " + (numbers + entry.jids.map(withState)).joined(separator: ", "))],
                                            width: layout.messageWidth, indent: "    ")
            }
            let book = Set(try session.records.addressBook().flatMap(\.jids))
            for contact in try session.records.contacts() where !book.contains(contact.jid) {
                lines += StyledWrapper.wrap([TextRun(Sanitizer.plain(contact.name ?? contact.jid), .peerName),
                                             TextRun("  " + withState(contact.jid) + " roster")],
                                            width: layout.messageWidth, indent: "    ")
            }
            let requests = try session.records.subscriptionRequests()
            if !requests.isEmpty { lines.append(StyledLine([TextRun("Asking to see your presence — /accept ADDRESS or /deny ADDRESS", .notice)])) }
            for request in requests {
                lines += StyledWrapper.wrap([TextRun(Sanitizer.plain(request.nick ?? request.jid), .peerName),
                                             TextRun("  " + Sanitizer.plain(request.jid))],
                                            width: layout.messageWidth, indent: "    ")
            }
            overlay = lines
        } catch {
            show(error: "Cannot read contacts: \(error)")
        }
    }

    /// /add NAME ADDRESS[, ADDRESS…] — a quoted name may have spaces; numbers may too.
    func addContact(name: String, addresses: [String]) {
        do {
            try addressBook.add(name: name, addresses: addresses)
            refreshNames()
            show(notice: "Added \(Sanitizer.plain(name)).")
            subscribe(to: addresses, name: name)
        } catch {
            show(error: "\(error)")
        }
    }

    /// /rename NAME NEW-NAME (quote names with spaces).
    func renameContact(_ name: String, to newName: String) {
        do {
            let entry = try addressBook.rename(name, to: newName)
            refreshNames()
            show(notice: "Renamed to \(Sanitizer.plain(newName)).")
            // The roster's name too, so that the account's other clients show the same one.
            let inRoster = try addressBook.rosterAddresses(of: entry)
            let session = self.session
            if !inRoster.isEmpty {
                Task { @MainActor in
                    do { for jid in inRoster { try await session.renameContact(jid, to: newName) } } catch {
                        self.show(error: "Renamed in the address book, not in the roster: \(error)")
                    }
                    self.redraw()
                }
            }
        } catch {
            show(error: "\(error)")
        }
    }

    /// /remove NAME|ADDRESS: a person leaves the address book and their addresses the roster
    /// (ending the subscriptions both ways); an address only in the roster leaves it.
    func removeContact(_ typed: String) {
        let session = self.session
        var inRoster: [JID] = []
        do {
            if let entry = try addressBook.entry(named: typed) {
                inRoster = try addressBook.rosterAddresses(of: entry)
                try addressBook.remove(typed)
                refreshNames()
            } else if typed.contains("@"), let jid = try? JID(typed),
                      try session.records.contacts().contains(where: { $0.jid == jid.bare.description }) {
                inRoster = [jid.bare]
            } else {
                show(error: "Nobody is called \(Sanitizer.plain(typed)), and it is no address in the roster.")
                return
            }
        } catch {
            show(error: "\(error)")
            return
        }
        show(notice: "Removed \(Sanitizer.plain(typed)).")
        guard !inRoster.isEmpty else { return }
        Task { @MainActor in
            do { for jid in inRoster { try await session.removeContact(jid) } } catch {
                self.show(error: "Removed from the address book, still in the roster: \(error)")
            }
            self.redraw()
        }
    }

    /// /import PATH: vCard, a vdir or CSV.
    func importContacts(from path: String) {
        do {
            let result = try addressBook.importContacts(from: path)
            refreshNames()
            show(notice: "Imported \(result.cards) contacts with \(result.numbers) numbers" + (result.skipped.isEmpty ? "." : "; \(result.skipped.count) skipped."))
        } catch {
            show(error: "\(error)")
        }
    }

    func refreshNames() {
        names = (try? session.displayNames()) ?? names
        list.names = names
        view?.names = names
        view?.relayout()
    }

    /// /attach PATH [CAPTION]: uploads a file and sends its link to the open conversation.
    func attach(_ path: String, caption: String) {
        guard let peer = view?.peer, let jid = try? JID(peer) else { show(error: "No conversation is open: /msg TO first."); return }
        let session = self.session
        show(notice: "Uploading \(Sanitizer.plain((path as NSString).lastPathComponent))…")
        Task { @MainActor in
            do {
                _ = try await session.sendAttachment(path: path, to: jid, caption: caption.isEmpty ? nil : caption)
                self.show(notice: "Sent \(Sanitizer.plain((path as NSString).lastPathComponent)).")
            } catch {
                self.show(error: "Not sent: \(error)")
            }
            self.redraw()
        }
    }

    /// /open [N]: fetches the newest (or Nth newest) attachment here, saved under the name the
    /// screen shows, and opens it: text (only when the bytes are text) in $PAGER on this
    /// terminal, anything else with xdg-open. A file that came over plain http is only saved,
    /// with a warning; /open again opens it.
    func openAttachment(_ index: Int) {
        let found = (view?.messages ?? []).reversed().flatMap(\.attachments)
        guard index >= 1, index <= found.count else {
            show(error: found.isEmpty ? "No attachment in this conversation." : "There are \(found.count) attachments here.")
            return
        }
        let attachment = found[index - 1]
        if let warned = warnedDownloads[attachment.url] {
            warnedDownloads[attachment.url] = nil
            open(warned)
            return
        }
        let session = self.session
        show(notice: "Fetching \(AttachmentFile(attachment).displayName)…")
        Task { @MainActor in
            do {
                let downloaded = try await session.download(attachment)
                if let warning = downloaded.warning, downloaded.opens {
                    self.warnedDownloads[attachment.url] = downloaded
                    self.show(error: "Saved to \(Sanitizer.plain(downloaded.path)). \(warning) /open \(index) again opens it.")
                } else {
                    self.open(downloaded)
                }
            } catch {
                self.show(error: "Cannot fetch it: \(error)")
            }
            self.redraw()
        }
    }

    private func open(_ downloaded: DownloadedAttachment) {
        let saved = "Saved to \(Sanitizer.plain(downloaded.path))"
        switch downloaded.opening {
        case .pager:
            page(downloaded.path)
            show(notice: saved + ".")
        case .viewer:
            Self.launch(["xdg-open", downloaded.path])
            show(notice: saved + "; opening it.")
        case .notOpened(let why):
            show(error: saved + "; not opened: " + why)
        }
    }

    /// Shows a file in $PAGER (less when unset) on this terminal, and takes the screen back
    /// when it exits. Events wait meanwhile; nothing is lost.
    func page(_ path: String) {
        let pager = ProcessInfo.processInfo.environment["PAGER"].flatMap { $0.isEmpty ? nil : $0 } ?? "less"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // $PAGER may carry its own options ("less -R"); the file goes as an argument, never
        // through the shell's parsing.
        process.arguments = ["-c", pager + " \"$1\"", "pager", path]
        terminal.suspend()
        do {
            try process.run()
            process.waitUntilExit()
        } catch {
            show(error: "Cannot run \(Sanitizer.plain(pager)): \(error)")
        }
        terminal.resume()
        resize()
    }

    /// Starts a program detached from the screen: its output goes nowhere near curses.
    static func launch(_ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }

    /// /account: who we are and how we are connected.
    func showAccount() {
        let presence = "\(presenceShow ?? "available")" + (presenceStatus.map { " — \(Sanitizer.plain($0))" } ?? "")
        overlay = [
            StyledLine([TextRun("Account — Esc closes", .notice)]),
            StyledLine([TextRun("address  ", .timestamp), TextRun(session.account.description)]),
            StyledLine([TextRun("state    ", .timestamp), TextRun(Sanitizer.plain(connection.description))]),
            StyledLine([TextRun("presence ", .timestamp), TextRun(presence)]),
            StyledLine([TextRun("gateway  ", .timestamp), TextRun(session.recipients.gateway?.description ?? "none")]),
            StyledLine([TextRun("country  ", .timestamp), TextRun(session.recipients.country)]),
        ]
        guard sessions.count > 1 else { return }
        overlay?.append(StyledLine([TextRun("Accounts — /account N or Ctrl-x switches", .notice)]))
        for (index, account) in sessions.enumerated() {
            let state = index == current ? "in view" : Sanitizer.plain(accounts[index].connection.description)
            overlay?.append(StyledLine([TextRun("\(index + 1)  ", .timestamp), TextRun(account.account.bare.description + "  "),
                                        TextRun(state, .timestamp)]))
        }
    }

    func connect() {
        let session = self.session
        Task { @MainActor in await session.connect(); self.redraw() }
    }

    func disconnect() {
        let session = self.session
        Task { @MainActor in await session.disconnect(); self.redraw() }
    }

    /// /status available|away|dnd|xa|chat [TEXT]
    func setStatus(_ kind: String, text: String?) {
        let show = kind == "available" ? nil : kind
        presenceShow = show
        presenceStatus = text
        let session = self.session
        Task { @MainActor in
            do {
                try await session.setPresence(show: show, status: text)
                self.show(notice: "Status: \(kind)" + (text.map { " — \(Sanitizer.plain($0))" } ?? "") + ".")
            } catch {
                self.show(notice: "Status set; it goes out when connected.")
            }
            self.redraw()
        }
    }

    /// /set NAME VALUE for this run: notify (none, osc777, osc9, notify-send), keypad (on, off).
    func setOption(_ setting: Setting) {
        switch setting {
        case .notify(let style):
            notifier = Notifier(style: style)
            show(notice: "Notifications: \(style.rawValue).")
        case .keypad(let on):
            keypad = on
            show(notice: "Keypad \(on ? "on" : "off").")
        }
    }
}
