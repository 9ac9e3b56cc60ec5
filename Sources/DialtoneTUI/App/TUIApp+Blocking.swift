import DialtoneCore
import Foundation

/// Blocking in the interface (XEP-0191): /block, /unblock, /blocked. A number is blocked as
/// its gateway address, which JMP and Cheogram honour.
extension TUIApp {
    /// /block [WHO] [spam]: without WHO, the conversation in view.
    func block(_ typed: String?, reportingSpam: Bool) {
        guard let typed = typed ?? view?.peer else {
            show(error: "Block whom? /block ADDRESS, NAME or NUMBER, or open their conversation first.")
            return
        }
        let session = self.session
        Task { @MainActor in
            do {
                let jid = try await self.blockingAddress(typed, in: session)
                try await session.block([jid], reportingSpam: reportingSpam)
                self.show(notice: "Blocked \(Sanitizer.plain(self.names.name(for: jid.description)))" + (reportingSpam ? " and reported as spam." : "."))
            } catch {
                self.show(error: "\(Sanitizer.plain(typed)): \(error)")
            }
            self.redraw()
        }
    }

    func unblock(_ typed: String) {
        let session = self.session
        Task { @MainActor in
            do {
                let jid = try await self.blockingAddress(typed, in: session)
                try await session.unblock([jid])
                self.show(notice: "Unblocked \(Sanitizer.plain(self.names.name(for: jid.description))).")
            } catch {
                self.show(error: "\(Sanitizer.plain(typed)): \(error)")
            }
            self.redraw()
        }
    }

    /// /blocked: the server's list in place of the conversation.
    func showBlocked() {
        let session = self.session
        Task { @MainActor in
            do {
                let jids = try await session.blockedAddresses().sorted { $0.description < $1.description }
                var lines = [StyledLine([TextRun("Blocked — Esc closes; /unblock WHO", .notice)])]
                if jids.isEmpty { lines.append(StyledLine([TextRun("Nobody.", .notice)])) }
                for jid in jids {
                    let name = self.names.name(for: jid.description)
                    lines.append(StyledLine([TextRun(Sanitizer.plain(name), .peerName),
                                             TextRun(name == jid.description ? "" : "  " + Sanitizer.plain(jid.description))]))
                }
                self.overlay = lines
            } catch {
                self.show(error: "Cannot read the block list: \(error)")
            }
            self.redraw()
        }
    }

    /// The address the server blocks for what was typed (a number: at the gateway, without
    /// asking the gateway, so that a number can be blocked even when the gateway is down).
    private func blockingAddress(_ typed: String, in session: AccountSession) async throws -> JID {
        let parsed = try session.recipients.parse(typed, contacts: session.records.contacts(), addressBook: session.records.addressBook())
        return try session.recipients.localAddress(for: parsed).bare
    }
}
