import DialtoneCore
import Foundation

/// Correcting the last message sent (XEP-0308), as Conversations does: Up on an empty line
/// puts it on the line as `/correct TEXT` to edit; Enter sends the correction.
extension TUIApp {
    /// Our newest message in the conversation in view that can still be corrected.
    private var lastSent: StoredMessage? {
        view?.messages.last { $0.direction == .outgoing && $0.stanzaID != nil && $0.body != nil }
    }

    /// Up on an empty line: the last message sent here, ready to edit; nil when there is none
    /// (Up then walks the input history as before).
    func editLastSent() -> Bool {
        guard editor.text.isEmpty, let body = lastSent?.body else { return false }
        editor.set("/correct " + body)
        return true
    }

    /// Whether the line is still exactly what `editLastSent` put there (a second Up then goes
    /// on into the input history).
    var lineIsUneditedCorrection: Bool {
        guard let body = lastSent?.body else { return false }
        return editor.text == "/correct " + body
    }

    /// /retract [N]: takes back our Nth newest message here (the last without N), for the
    /// recipient too (XEP-0424).
    func retract(_ n: Int?) {
        let sent = (view?.messages ?? []).filter { $0.direction == .outgoing && $0.stanzaID != nil && $0.retractedAt == nil }
        let n = n ?? 1
        guard n >= 1, n <= sent.count, let id = sent[sent.count - n].id else {
            show(error: sent.isEmpty ? "Nothing to take back: you have sent no message in this conversation."
                                     : "You have sent \(sent.count) messages here that can be taken back.")
            return
        }
        let session = self.session
        Task { @MainActor in
            do { _ = try await session.retractMessage(id) } catch { self.show(error: "Not taken back: \(error)") }
            self.redraw()
        }
    }

    /// /correct TEXT: replaces the text of our last message here, for the recipient too.
    func correctLast(_ text: String) {
        guard let message = lastSent, let id = message.id else {
            show(error: "Nothing to correct: you have sent no message in this conversation.")
            return
        }
        guard text != message.body else { return }
        let session = self.session
        Task { @MainActor in
            do { _ = try await session.correctMessage(id, newBody: text) } catch {
                self.show(error: "Not corrected: \(error)")
            }
            self.redraw()
        }
    }
}
