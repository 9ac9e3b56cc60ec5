import DialtoneCore
import Foundation

/// Our own chat states (XEP-0085), as Conversations and Profanity send them: composing when a
/// message is being typed in a one-to-one conversation, paused after five seconds without a
/// key, active when the line is sent or emptied, or the conversation left.
extension TUIApp {
    /// Called after every key: compares what the input line holds with what was last said.
    func updateOwnChatState() {
        let peer = view?.peer
        if let said = saidChatState, said.peer != peer {
            // Left the conversation while typing there.
            if said.state != "active" { sayChatState("active", to: said.peer) }
            saidChatState = nil
        }
        guard let peer else { return }
        let typing = !editor.text.isEmpty && !editor.text.hasPrefix("/")
        if typing {
            lastTypedAt = ContinuousClock.now
            if saidChatState?.state != "composing" { sayChatState("composing", to: peer) }
            schedulePause()
        } else if let said = saidChatState, said.state != "active" {
            sayChatState("active", to: peer)
        }
    }

    private func schedulePause() {
        guard pauseCheck == nil else { return }
        pauseCheck = Task { @MainActor in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                guard let last = self.lastTypedAt, let said = self.saidChatState, said.state == "composing" else { break }
                if ContinuousClock.now - last >= .seconds(5) {
                    self.sayChatState("paused", to: said.peer)
                    break
                }
            }
            self.pauseCheck = nil
        }
    }

    private func sayChatState(_ state: String, to peer: String) {
        saidChatState = (peer, state)
        guard let jid = try? JID(peer) else { return }
        let session = self.session
        Task { await session.sendChatState(state, to: jid) }
    }
}
