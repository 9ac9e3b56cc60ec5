import DialtoneCore
import Foundation

/// Calls in the TUI: the ringing banner, the call panel with timer, meters and quality, the
/// DTMF keypad, and the call commands.
extension TUIApp {
    /// The call the panel shows and the keys act on: a connected one first, then any other
    /// that is not over (the incoming banner is separate).
    var activeCall: CallInfo? {
        let live = calls.values.filter { $0.state != .ended && $0.state != .incoming }
        return live.first { $0.state == .connected } ?? live.min { $0.startedAt < $1.startedAt }
    }

    var ringingCall: CallInfo? {
        calls.values.filter { $0.state == .incoming }.min { $0.startedAt < $1.startedAt }
    }

    func handle(call info: CallInfo, account: Int) {
        let previous = calls[info.id]
        calls[info.id] = info
        let peer = info.peer.description
        let names = names(ofAccount: account)
        let inView = account == current
        if info.state == .incoming && previous == nil {
            // Rings: the bell now, the banner until answered or gone, on whichever account.
            terminal.bell()
            let via = inView ? "" : " on \(sessions[account].account.bare.description)"
            notifier.notify(title: "Incoming call" + via, body: names.name(for: peer))
            show(notice: "Incoming call from \(Sanitizer.plain(names.name(for: peer)))\(via) — Alt-a answers, Alt-d declines")
        }
        if info.state == .connected && previous?.state != .connected { typedDigits = "" }
        defer { updateRinger() }
        if inView, view?.peer == peer,
           let record = try? session.records.calls(peer: peer, limit: 5).first(where: { $0.call.id == info.id })?.call {
            view?.upsert(call: record)
        }
        if info.state == .ended {
            let missed = info.outcome == .missed
            noteActivity(on: account, peer: peer, at: info.endedAt ?? Date(), incoming: missed)
            if missed && !inView { accounts[account].arrived += 1 }
            if missed && (view?.peer != peer || !inView) {
                terminal.bell()
                notifier.notify(title: "Missed call", body: names.name(for: peer))
            }
            show(notice: CallText.line(info, name: Sanitizer.plain(names.name(for: peer))))
            calls[info.id] = nil
            callOwners[info.id] = nil
            updateTitle()
        } else {
            noteActivity(on: account, peer: peer, at: info.startedAt, incoming: false)
        }
        updateTicker()
    }

    /// The ring tone on its own device while a call rings here (when `ring_device` is set).
    func updateRinger() {
        let ringing = calls.values.contains { $0.state == .incoming }
        if ringing, ringer == nil, let device = session.callConfiguration.ringDevice {
            do {
                ringer = try AudioFilePlayer(audio: .ringTone(), device: device, configuration: session.callConfiguration.media.alsaConfiguration)
            } catch {
                show(error: "Cannot ring on \(Sanitizer.plain(device)): \(error)")
            }
        } else if !ringing, let current = ringer {
            current.stop()
            ringer = nil
        }
    }

    /// A tick a few times a second while a call is up or audio plays; none otherwise (no idle wake-ups).
    func updateTicker() {
        let needed = activeCall != nil || player != nil
        if needed && ticker == nil {
            let sink = eventSink
            ticker = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    sink?.yield(.tick)
                }
            }
        } else if !needed {
            ticker?.cancel()
            ticker = nil
            callLevels = nil
            callStatistics = nil
        }
    }

    func refreshCallFigures() async {
        guard let call = activeCall, call.state == .connected else { return }
        let manager = callManager(for: call.id)
        callLevels = await manager.levels(call.id)
        callStatistics = await manager.statistics(call.id)
    }

    // MARK: Panel

    /// Rows above the conversation while a call is ringing or up.
    func callPanel(width: Int) -> [StyledLine] {
        var rows: [StyledLine] = []
        if let ringing = ringingCall {
            // The keys must stay in view at any width: the name gives way first.
            let keys = " · Alt-a answer · Alt-d decline" + (activeCall != nil ? " (busy)" : "")
            let lead = " ☎ Incoming call from "
            // A call to an account out of view says which account it rings on.
            let owner = callOwners[ringing.id] ?? current
            let free = width - TerminalWidth.columns(of: lead + keys)
            let via = owner == current ? "" : TerminalWidth.truncate(" on " + sessions[owner].account.bare.description, to: max(0, free - 8))
            let room = max(4, free - TerminalWidth.columns(of: via))
            let name = TerminalWidth.truncate(Sanitizer.plain(names(ofAccount: owner).name(for: ringing.peer.description)), to: room)
            rows.append(StyledLine([TextRun(lead + name + via + keys, .callBanner)]))
        }
        guard let call = activeCall else { return rows }
        let name = Sanitizer.plain(names.name(for: call.peer.description))
        // The verification mark first: the end of the line gives way in a narrow pane.
        var head = " ☎ " + (CallText.protectionMark(call).map { $0 + " " } ?? "") + CallText.line(call, name: name)
        if let path = call.path, call.state == .connected { head += " · \(path)" }
        if call.muted { head += " · muted" }
        if call.held { head += " · on hold" }
        rows.append(StyledLine([TextRun(head, .callPanel)]))
        if call.state == .connected {
            var runs = [TextRun(" mic ", .callPanel), TextRun(Self.meter(callLevels?.capture ?? 0), .meter),
                        TextRun("  out ", .callPanel), TextRun(Self.meter(callLevels?.playback ?? 0), .meter)]
            if let stats = callStatistics {
                var quality = "  \(call.codec ?? stats.codec)"
                if let rtt = stats.roundTripMilliseconds { quality += String(format: " · rtt %.0f ms", rtt) }
                quality += String(format: " · loss %.1f %% · jitter %.1f ms", stats.fractionLost * 100, stats.jitterMilliseconds)
                runs.append(TextRun(quality, .callPanel))
            }
            rows.append(StyledLine(runs))
            let pad = keypad ? "keypad on: digits dial" : "keypad off"
            rows.append(StyledLine([TextRun(" \(pad)  \(typedDigits.suffix(max(0, width / 2)))   Alt-h hang up · Alt-m mute · Alt-k keypad", .callPanel)]))
        } else {
            rows.append(StyledLine([TextRun(" Alt-h hangs up", .callPanel)]))
        }
        return rows
    }

    /// "▮▮▮▯▯▯▯▯" for a level 0…1 on a loudness scale (speech sits around a third).
    static func meter(_ level: Double, cells: Int = 8) -> String {
        let decibels = 20 * log10(max(level, 1e-5))
        let filled = Int(((decibels + 60) / 60 * Double(cells)).rounded())
        let count = min(cells, max(0, filled))
        return String(repeating: "▮", count: count) + String(repeating: "▯", count: cells - count)
    }

    /// "☎ Alice 1:05" for the status bar.
    var callStatus: String? {
        guard let call = activeCall else { return ringingCall.map { "☎ ringing: \(Sanitizer.plain(names.name(for: $0.peer.description)))" } }
        let name = Sanitizer.plain(names.name(for: call.peer.description))
        switch call.state {
        case .connected: return "☎ \(name) \(CallText.duration(call.duration() ?? 0))"
        default: return "☎ \(name) \(call.state.rawValue)"
        }
    }

    // MARK: Keys

    /// Keys that act on calls; true when the key was used. Only keys that cannot be typing:
    /// Alt combinations, and digits on an empty line while the keypad is on.
    func handleCallKey(_ key: Key) -> Bool {
        switch key {
        case .meta("a"):
            guard let ringing = ringingCall else { return false }
            answer(ringing.id)
        case .meta("d"):
            guard let ringing = ringingCall else { return false }
            decline(ringing.id, busy: activeCall != nil)
        case .meta("h"):
            guard let call = activeCall ?? ringingCall else { return false }
            hangUp(call.id)
        case .meta("m"):
            guard let call = activeCall, call.state == .connected else { return false }
            setMuted(!call.muted)
        case .meta("k"):
            guard activeCall != nil else { return false }
            keypad.toggle()
        case .meta("s"):
            guard player != nil else { return false }
            stopPlaying()
        case .text(let text) where keypad && editor.text.isEmpty && text.allSatisfy({ "0123456789*#".contains($0) }):
            guard let call = activeCall, call.state == .connected else { return false }
            sendDigits(text, on: call.id)
        default:
            return false
        }
        return true
    }

    // MARK: Commands

    /// /call TO: the text is a dial string (a number, then digits to send once connected).
    func placeCall(_ text: String) {
        let dial = DialString.hasDTMF(text) ? DialString(text) : DialString(number: text, steps: [])
        let session = self.session
        let account = current
        Task { @MainActor in
            do {
                let peer = try await session.resolveRecipient(dial.number)
                let id = try await session.placeCall(to: peer)
                if self.current == account { self.open(peer.bare.description) }
                if !dial.steps.isEmpty { self.runDialSteps(dial.steps, on: id, of: session) }
            } catch {
                self.show(error: "Cannot call \(Sanitizer.plain(dial.number)): \(error)")
            }
            self.redraw()
        }
    }

    /// Digits after the number: sent once connected, `,` pausing 2 s; `;` waits for Enter on an
    /// empty line, as `dialtone call` waits for Enter on its standard input.
    private func runDialSteps(_ steps: [DialString.Step], on id: String, of session: AccountSession) {
        Task { @MainActor in
            for await event in await session.events() {
                guard case .call(let info) = event, info.id == id else { continue }
                if info.state == .ended { return }
                if info.state == .connected { break }
            }
            try? await Task.sleep(for: .seconds(1))
            await self.continueDial(steps, on: id)
        }
    }

    /// Runs dial steps up to the next `;`, which parks the rest until Enter.
    private func continueDial(_ steps: [DialString.Step], on id: String) async {
        for (index, step) in steps.enumerated() {
            guard calls[id]?.state == .connected else { return }
            switch step {
            case .pause(let seconds): try? await Task.sleep(for: .seconds(seconds))
            case .waitForUser:
                let rest = Array(steps[(index + 1)...])
                guard !rest.isEmpty else { return }
                pausedDial = (id, rest)
                let digits = rest.compactMap { if case .digits(let digits) = $0 { digits } else { nil } }.joined()
                show(notice: "Dial string paused: Enter on an empty line sends the rest (\(digits)).")
                redraw()
                return
            case .digits(let digits): sendDigits(digits, on: id)
            }
        }
    }

    /// Enter on an empty line while a dial string waits: its rest goes out. True if one waited.
    func resumePausedDial() -> Bool {
        guard let (id, rest) = pausedDial else { return false }
        pausedDial = nil
        notice = nil
        Task { @MainActor in await self.continueDial(rest, on: id) }
        return true
    }

    /// Runs a call operation off the key handler; its failure becomes the error line.
    private func callOperation(on id: String, _ body: @escaping @MainActor (CallControl) async throws -> Void) {
        let calls = callManager(for: id)
        Task { @MainActor in
            do { try await body(calls) } catch { self.show(error: "\(error)") }
            self.redraw()
        }
    }

    func answer(_ id: String? = nil) {
        guard let id = id ?? ringingCall?.id else { show(error: "No call is ringing."); return }
        // The caller's conversation comes into view with the call, on the call's account.
        if let owner = callOwners[id], owner != current { switchAccount(to: owner) }
        if let peer = calls[id]?.peer.description, view?.peer != peer { open(peer) }
        // A second call is answered after the first ends: hang that one up first.
        let others = calls.values.filter { $0.id != id && $0.state != .ended && $0.state != .incoming }
            .map { (id: $0.id, manager: callManager(for: $0.id)) }
        callOperation(on: id) { calls in
            for other in others { try? await other.manager.hangUp(other.id) }
            try await calls.answer(id)
        }
    }

    func decline(_ id: String? = nil, busy: Bool = false) {
        guard let id = id ?? ringingCall?.id else { show(error: "No call is ringing."); return }
        callOperation(on: id) { try await $0.decline(id, busy: busy) }
    }

    func hangUp(_ id: String? = nil) {
        guard let id = id ?? activeCall?.id ?? ringingCall?.id else { show(error: "No call to hang up."); return }
        callOperation(on: id) { try await $0.hangUp(id) }
    }

    func setMuted(_ muted: Bool) {
        guard let call = activeCall else { show(error: "No call is connected."); return }
        callOperation(on: call.id) { try await $0.setMuted(call.id, muted) }
    }

    func setHeld(_ held: Bool?) {
        guard let call = activeCall else { show(error: "No call is connected."); return }
        callOperation(on: call.id) { try await $0.setHeld(call.id, held ?? !call.held) }
    }

    func sendDigits(_ digits: String, on id: String? = nil) {
        guard let id = id ?? activeCall?.id else { show(error: "No call is connected."); return }
        guard digitOutbox.enqueue(digits, call: id) else {
            show(error: "Too many digits waiting to be sent: \(Sanitizer.plain(digits)) dropped.")
            return
        }
        typedDigits += digits
    }

    /// What the digit outbox's one worker does with each batch.
    func deliverDigits(_ digits: String, on id: String) async {
        do {
            let refused = try await callManager(for: id).sendDTMF(id, digits: digits)
            // RFC 4733's digits; the rest of what comes back did not fit the call's queue.
            let notDigits = refused.filter { !"0123456789*#ABCDabcd".contains($0) }
            if !notDigits.isEmpty {
                show(error: "Not DTMF digits: \(Sanitizer.plain(String(notDigits)))")
            } else if !refused.isEmpty {
                show(error: "Too many digits waiting to be sent: \(String(refused)) dropped.")
            }
        } catch {
            show(error: "\(error)")
        }
        redraw()
    }

    /// /device capture PCM | playback PCM
    func switchDevice(capture: Bool, to pcm: String) {
        guard let call = activeCall else { show(error: "No call is connected."); return }
        let manager = callManager(for: call.id)
        Task { @MainActor in
            do {
                try await manager.switchDevices(call.id, capture: capture ? pcm : nil, playback: capture ? nil : pcm)
                self.show(notice: "\(capture ? "Capture" : "Playback") now on \(Sanitizer.plain(pcm)).")
            } catch {
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    /// /calls: the call log in place of the conversation, until Escape.
    func showCallLog() {
        do {
            let log = try session.records.calls(limit: 200)
            var lines = [StyledLine([TextRun("Calls — Esc closes", .notice)])]
            for entry in log.reversed() {
                let day = entry.call.startedAt.formatted(date: .numeric, time: .shortened)
                let text = CallText.logLine(entry.call, name: Sanitizer.plain(names.name(for: entry.peer)))
                lines += StyledWrapper.wrap([TextRun(day + " ", .timestamp), TextRun(text, entry.call.isMissed ? .missedCall : .callEvent)],
                                            width: layout.messageWidth, indent: "  ")
            }
            overlay = lines
        } catch {
            show(error: "Cannot read the call log: \(error)")
        }
    }
}
