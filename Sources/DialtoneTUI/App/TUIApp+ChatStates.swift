import DialtoneCore

/// Our own chat states (XEP-0085): Core decides what to send (composing, paused, active) from
/// what the input line holds; the interface only says so after every key.
extension TUIApp {
    func updateOwnChatState() {
        let peer = view.flatMap { try? JID($0.peer) }
        session.inputChanged(in: peer, typing: !editor.text.isEmpty && !editor.text.hasPrefix("/"))
        // Commands that name a message by N show each message's N while they are typed.
        view?.numbered = ["/reply ", "/react "].contains { editor.text.hasPrefix($0) }
    }
}
