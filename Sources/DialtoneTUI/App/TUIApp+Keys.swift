import DialtoneCore
import Foundation

extension TUIApp {
    func handle(_ key: Key) {
        let page = max(1, layout.messageHeight - 1)
        if handleCallKey(key) { return }
        switch key {
        case .text(let text), .paste(let text): editor.insert(text)
        case .enter: submit()
        case .backspace, .control("h"): editor.backspace()
        case .delete, .control("d"): editor.deleteForward()
        case .left, .control("b"): editor.left()
        case .right, .control("f"): editor.right()
        case .home, .control("a"): editor.home()
        case .end, .control("e"): editor.end()
        case .control("k"): editor.killToEnd()
        case .control("u"): editor.killToStart()
        case .control("w"): editor.killWordBackward()
        case .control("y"): editor.yank()
        case .meta("b"): editor.wordBackward()
        case .meta("f"): editor.wordForward()
        case .up: if lineIsUneditedCorrection || !editLastSent() { walkHistory(older: true) }
        case .down: walkHistory(older: false)
        case .meta(let digit) where digit.isNumber:
            // Alt-1…Alt-9: the conversation at that place in the list; Alt-0 the tenth.
            let position = digit == "0" ? 10 : Int(String(digit)) ?? 0
            if let peer = list.peer(at: position) { open(peer) }
        case .meta("a"), .meta("u"):
            // The next conversation with unread messages (Alt-a as in irssi, when no call rings).
            if let peer = list.nextUnread { open(peer) }
        case .metaDown, .control("n"): switchConversation(1)
        case .metaUp, .control("p"): switchConversation(-1)
        case .pageUp:
            if overlay != nil { overlayOffset = max(0, overlayOffset - page) } else { view?.scroll(by: page, height: layout.messageHeight) }
        case .pageDown:
            if overlay != nil { overlayOffset += page } else { view?.scroll(by: -page, height: layout.messageHeight) }
        case .tab: complete()
        case .escape: overlay = nil; notice = nil
        case .control("x"): if sessions.count > 1 { switchAccount(to: (current + 1) % sessions.count) }
        case .control("l"): resize()
        case .control("c"): running = false
        case .resize: resize()
        default: break
        }
    }

    private var historyKey: String { list.selectedPeer ?? "" }

    private func walkHistory(older: Bool) {
        var history = histories[historyKey] ?? InputHistory()
        let entry = older ? history.older(current: editor.text) : history.newer()
        histories[historyKey] = history
        if let entry { editor.set(entry) }
    }

    private func switchConversation(_ offset: Int) {
        list.move(offset)
        if let peer = list.selectedPeer, peer != view?.peer { open(peer) }
    }

    private func complete() {
        // Open conversations first, then everyone the roster and the address book name.
        var candidates = list.entries.map { Sanitizer.plain(names.name(for: $0.peer)) }
        let open = Set(candidates)
        candidates += names.allNames.map(Sanitizer.plain).filter { !open.contains($0) }
        // In a room, the nicks of who is there (ours aside) for the text itself.
        let room = view.map(\.peer)
        let ourNick = room.flatMap { names.ourNick(in: $0) }
        let nicks = room.flatMap { roomOccupants[current]?[$0] }.map { Array($0.subtracting([ourNick ?? ""])) } ?? []
        let sources = CompletionSources(names: candidates, themes: { Theme.available() }, nicks: nicks.map(Sanitizer.plain))
        if let completed = Completion.complete(editor.text, from: sources) { editor.set(completed) }
    }

    private func submit() {
        let text = editor.submit()
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            _ = resumePausedDial()
            return
        }
        var history = histories[historyKey] ?? InputHistory()
        history.record(text)
        histories[historyKey] = history
        notice = nil
        switch InputLine(text) {
        case .message(let body): send(body)
        case .command(let name, let arguments): run(name, arguments: arguments)
        case .unknownCommand(let word): show(error: "No command /\(word). Type /help for the list.")
        }
    }

    func send(_ body: String, to peer: String? = nil, from account: AccountSession? = nil) {
        guard let peer = peer ?? view?.peer, let jid = try? JID(peer) else {
            show(error: "No conversation is open: /msg TO starts one.")
            return
        }
        view?.scrollToBottom()
        let session = account ?? self.session
        Task { @MainActor in
            do { try await session.sendMessage(to: jid, body: body) } catch { self.show(error: "Not sent: \(error)"); self.redraw() }
        }
    }
}
