import DialtoneCore
import Foundation

/// Group chats in the interface (XEP-0045): /join, /leave, /who, and what rooms report.
extension TUIApp {
    /// /join ROOM [NICK]: opens the room at once, so that its history shows as it comes (the
    /// room's newest messages come before its occupants), and joins. A join that fails leaves
    /// the room's view for the conversation that was open, unless the room had history here.
    func join(_ typed: String, nick: String?) {
        guard let room = try? JID(typed), room.local != nil, room.resource == nil else {
            show(error: "\(Sanitizer.plain(typed)) is not a room's address (room@conference.example.org).")
            return
        }
        let session = self.session
        let account = current
        let address = room.bare.description
        let previous = view?.peer
        // A room from the first message: shown by nick, with its occupants' column.
        accounts[account].joiningRooms[address] = nick
        if let known = names as? DisplayNames { apply(known, to: account) }
        open(address)
        show(notice: "Joining \(room.description)…")
        Task { @MainActor in
            do {
                let joinedAs = try await session.joinRoom(room, nick: nick)
                self.accounts[account].joiningRooms[address] = nil
                self.readNames(of: account)
                self.show(notice: "Joined \(room.description) as \(Sanitizer.plain(joinedAs)).")
            } catch {
                self.accounts[account].joiningRooms[address] = nil
                self.readNames(of: account)
                if self.current == account, self.view?.peer == address, self.view?.messages.isEmpty == true {
                    self.list.remove(address)
                    if let previous { self.open(previous) } else { self.view = nil }
                }
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    /// /leave [ROOM]: without ROOM, the room in view.
    func leave(_ typed: String?) {
        guard let address = typed ?? view?.peer, let room = try? JID(address), names.isRoom(room.bare.description) else {
            show(error: typed == nil ? "The conversation in view is not a group chat: /leave ROOM." : "\(Sanitizer.plain(typed ?? "")) is not a group chat you know.")
            return
        }
        let session = self.session
        Task { @MainActor in
            do {
                try await session.leaveRoom(room)
                self.show(notice: "Left \(room.description).")
            } catch {
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    /// /invite WHO [REASON]: to the room in view, directly (XEP-0249).
    func invite(_ who: String, reason: String?) {
        guard let room = roomInView(for: "invite") else { return }
        let session = self.session
        Task { @MainActor in
            do {
                let invitee = try await session.resolveRecipient(who)
                try await session.invite(invitee, to: room, reason: reason)
                self.show(notice: "Invited \(Sanitizer.plain(self.names.name(for: invitee.description))) to \(room.description).")
            } catch {
                self.show(error: "\(Sanitizer.plain(who)): \(error)")
            }
            self.redraw()
        }
    }

    /// /kick NICK [REASON], /ban NICK|ADDRESS [REASON], /voice NICK [on|off] in the room in view.
    func kick(_ nick: String, reason: String?) {
        moderate("kick") { session, room in
            try await session.kick(nick, from: room, reason: reason?.isEmpty == false ? reason : nil)
            return "Removed \(Sanitizer.plain(nick)) from \(room.description)."
        }
    }

    func ban(_ who: String, reason: String?) {
        moderate("ban") { session, room in
            try await session.ban(who, from: room, reason: reason?.isEmpty == false ? reason : nil)
            return "Banned \(Sanitizer.plain(who)) from \(room.description)."
        }
    }

    func voice(_ nick: String, granted: Bool) {
        moderate("voice") { session, room in
            try await session.setVoice(granted, for: nick, in: room)
            return granted ? "Gave \(Sanitizer.plain(nick)) voice." : "Took \(Sanitizer.plain(nick))'s voice."
        }
    }

    /// /moderate N [REASON]: asks the room to take down its Nth newest message for everyone;
    /// the room's announcement then removes it here too.
    func moderate(message n: Int, reason: String?) {
        guard roomInView(for: "moderate") != nil, let message = message(numbered: n, for: "moderate"), let id = message.id else { return }
        moderate("moderate") { session, _ in
            try await session.moderateMessage(id, reason: reason?.isEmpty == false ? reason : nil)
            return "Asked the room to take the message down."
        }
    }

    private func moderate(_ command: String, _ act: @escaping @Sendable (AccountSession, JID) async throws -> String) {
        guard let room = roomInView(for: command) else { return }
        let session = self.session
        Task { @MainActor in
            do { self.show(notice: try await act(session, room)) } catch { self.show(error: "\(error)") }
            self.redraw()
        }
    }

    /// Notes a coming or going in `room` and, at the end of the burst (a second without
    /// more), says them all in one line when the room is in view: "ada, bob came · carol left".
    private func noteRoomChange(_ room: String, account: Int, _ change: (inout (came: [String], went: [String])) -> Void) {
        guard var pending = roomChanges[account]?[room] else { return }
        let first = pending.came.isEmpty && pending.went.isEmpty
        change(&pending)
        roomChanges[account]?[room] = pending
        guard first else { return }
        Task { @MainActor in
            try? await Task.sleep(for: .seconds(1))
            guard let burst = self.roomChanges[account]?[room] else { return }
            self.roomChanges[account]?[room] = ([], [])
            guard account == self.current, self.view?.peer == room else { return }
            let came = burst.came.filter { !burst.went.contains($0) }, went = burst.went.filter { !burst.came.contains($0) }
            let parts = [came.isEmpty ? nil : Self.nickList(came) + " came", went.isEmpty ? nil : Self.nickList(went) + " left"].compactMap { $0 }
            guard !parts.isEmpty else { return }
            self.show(notice: parts.joined(separator: " · "))
            self.redraw()
        }
    }

    /// "ada, bob and 3 more".
    static func nickList(_ nicks: [String]) -> String {
        let shown = nicks.prefix(4).map(Sanitizer.plain).joined(separator: ", ")
        return nicks.count > 4 ? "\(shown) and \(nicks.count - 4) more" : shown
    }

    /// /configure: the configuration form of the room in view (we own it), on the command
    /// screen: /field N VALUE, then /complete sends it or /cancel leaves the room as it was.
    func configureRoom() {
        guard let room = roomInView(for: "configure") else { return }
        let session = self.session
        let account = current
        Task { @MainActor in
            do {
                let form = try await session.roomConfiguration(of: room)
                guard self.current == account else { return }
                self.commandSession = CommandSessionState(
                    entity: room, node: "configure", name: "Configuration",
                    response: AdHocResponse(node: "configure", status: .executing, actions: ["complete"], form: form),
                    form: form, configuresRoom: true)
                self.showCommandStep()
            } catch {
                self.show(error: "Cannot configure \(room.description): \(error)")
            }
            self.redraw()
        }
    }

    /// /complete or /cancel on a room's configuration.
    func configurationAction(_ action: String, _ state: CommandSessionState) {
        guard action == "complete" || action == "cancel" else { show(error: "Not now: /complete or /cancel."); return }
        let session = self.session
        let account = current
        Task { @MainActor in
            do {
                if action == "complete", let form = state.form { try await session.configureRoom(state.entity, with: form) }
                guard self.current == account else { return }
                var done = state
                done.response = AdHocResponse(node: "configure", status: action == "complete" ? .completed : .canceled, actions: [], form: nil)
                done.form = nil
                self.commandSession = done
                self.overlay = nil
                self.show(notice: action == "complete" ? "\(state.entity.description) is configured." : "Left \(state.entity.description) as it was.")
            } catch {
                self.show(error: "\(state.entity.description): \(error)")
            }
            self.redraw()
        }
    }

    /// The room in view, or an error said and nil.
    private func roomInView(for command: String) -> JID? {
        guard let peer = view?.peer, names.isRoom(peer), let room = try? JID(peer) else {
            show(error: "Open a group chat first: /\(command) is for the room in view.")
            return nil
        }
        return room
    }

    /// /nick NICK in the room in view.
    func changeNick(_ nick: String) {
        guard let room = roomInView(for: "nick") else { return }
        let session = self.session
        Task { @MainActor in
            do {
                try await session.changeNick(in: room, to: nick)
                self.show(notice: "Asked \(room.description) to call you \(Sanitizer.plain(nick)).")
            } catch {
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    /// /topic [TEXT]: shows the subject, or sets it.
    func topic(_ text: String?) {
        guard let room = roomInView(for: "topic") else { return }
        let session = self.session
        Task { @MainActor in
            do {
                if let text {
                    try await session.setSubject(text, of: room)
                } else {
                    let subject = await session.subject(of: room)
                    self.show(notice: "Subject: \(Sanitizer.plain(subject ?? "(none)"))")
                }
            } catch {
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    /// /who: the occupants of the room in view, in place of the conversation.
    func showOccupants() {
        guard let peer = view?.peer, let room = try? JID(peer), names.isRoom(peer) else {
            show(error: "Open a group chat first: /who lists who is in it.")
            return
        }
        let session = self.session
        Task { @MainActor in
            let occupants = await session.occupants(of: room)
            var lines = [StyledLine([TextRun("In \(room.description) — Esc closes", .notice)])]
            if occupants.isEmpty { lines.append(StyledLine([TextRun("Nobody, or you are not in it (/join \(room.description)).", .notice)])) }
            for occupant in occupants {
                let standing = [occupant.role, occupant.affiliation].compactMap { $0 }.filter { $0 != "none" && $0 != "participant" }
                lines.append(StyledLine([TextRun(Sanitizer.plain(occupant.nick), .peerName),
                                         TextRun(standing.isEmpty ? "" : "  " + standing.joined(separator: ", ")),
                                         TextRun(occupant.jid.map { "  " + Sanitizer.plain($0.description) } ?? "")]))
            }
            self.overlay = lines
            self.redraw()
        }
    }

    /// What a room reported: shown when it concerns the account in view.
    func handle(room event: RoomEvent, account: Int) {
        switch event {
        case .joined(let room, let nick):
            roomOccupants[account, default: [:]][room, default: []].insert(nick)
            // From now on comings and goings are news (before, the room listed who was there).
            roomChanges[account, default: [:]][room] = ([], [])
            readNames(of: account)
        case .occupant(let room, let occupant, let present):
            if present {
                let new = roomOccupants[account, default: [:]][room, default: []].insert(occupant.nick).inserted
                if new { noteRoomChange(room, account: account) { $0.came.append(occupant.nick) } }
            } else {
                roomOccupants[account]?[room]?.remove(occupant.nick)
                noteRoomChange(room, account: account) { $0.went.append(occupant.nick) }
            }
        case .nickChanged(let room, let from, let to):
            roomOccupants[account]?[room]?.remove(from)
            roomOccupants[account]?[room]?.insert(to)
            if account == current && view?.peer == room { show(notice: "\(Sanitizer.plain(from)) is now \(Sanitizer.plain(to)).") }
            if names.ourNick(in: room) == from { readNames(of: account) }
        case .left(let room, let reason):
            roomOccupants[account]?[room] = nil
            roomChanges[account]?[room] = nil
            if let reason, account == current { show(error: "You are out of \(room): \(reason).") }
        case .subject(let room, let subject?, _) where account == current && view?.peer == room:
            // A room without one says so as we join: nothing to show.
            show(notice: "Subject: \(Sanitizer.plain(subject))")
        case .refused(let room, let reason) where account == current:
            show(error: "\(room): \(Sanitizer.plain(reason))")
        case .invited(let room, let by, let reason):
            let who = by.map { Sanitizer.plain(accounts[account].names.name(for: $0)) } ?? "Someone"
            let text = "\(who) invites you to \(Sanitizer.plain(room))" + (reason.map { ": “\(Sanitizer.plain($0))”" } ?? "")
            show(notice: text + " — /join \(Sanitizer.plain(room))")
            terminal.bell()
            notifier.notify(title: "Invitation", body: text)
        case .subject, .refused:
            break
        }
    }
}
