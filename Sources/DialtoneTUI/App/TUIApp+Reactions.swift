import DialtoneCore
import Foundation

/// Replies (XEP-0461) and reactions (XEP-0444) to a message of the conversation in view,
/// named by how far up it is: 1 is the newest, as /retract counts.
extension TUIApp {
    /// The Nth newest message here (either side's), or an error shown and nil.
    func message(numbered n: Int, for action: String) -> StoredMessage? {
        let messages = view?.messages ?? []
        guard n >= 1, n <= messages.count else {
            show(error: messages.isEmpty ? "There is no message here to \(action)."
                                         : "N counts messages from the newest (1) up to \(messages.count).")
            return nil
        }
        return messages[messages.count - n]
    }

    /// /reply N TEXT: sends TEXT as an answer to the Nth newest message, which the recipient's
    /// client shows above it (clients without replies see its first line quoted).
    func reply(to n: Int, text: String) {
        guard let peer = view?.peer, let jid = try? JID(peer) else {
            show(error: "No conversation is open: /msg TO starts one.")
            return
        }
        guard let original = message(numbered: n, for: "reply to"), let id = original.id else { return }
        view?.scrollToBottom()
        let session = self.session
        Task { @MainActor in
            do { try await session.sendReply(to: jid, body: text, replyingTo: id) } catch {
                self.show(error: "Not sent: \(error)")
                self.redraw()
            }
        }
    }

    /// /react N EMOJI: adds EMOJI to the Nth newest message, or takes it away when it is
    /// already ours there (as tapping a reaction does on a phone).
    func react(to n: Int, with reaction: String) {
        guard let original = message(numbered: n, for: "react to"), let id = original.id else { return }
        let ours = original.reactions?[session.account.bare.description] ?? []
        let session = self.session
        Task { @MainActor in
            do { try await session.react(to: id, with: reaction, adding: !ours.contains(reaction)) } catch {
                self.show(error: "No reaction sent: \(error)")
            }
            self.redraw()
        }
    }
}
