import DialtoneCore
import Foundation

/// OMEMO in the interface: the title says whether the conversation is encrypted (and that a
/// phone number's never is), and /omemo turns it on or off, lists fingerprints, and verifies
/// or distrusts a device.
extension TUIApp {
    /// Looks up whether `peer`'s conversation is encrypted (asking for its devices once) and
    /// puts it in the title.
    func showSecurity(of peer: String) {
        conversationSecurity = nil
        guard let jid = try? JID(peer) else { return }
        let session = self.session
        Task { @MainActor in
            if let status = try? await session.encryptionStatus(of: jid) { self.setSecurity(status, for: peer) }
            await session.refreshEncryption(of: jid)
            if let status = try? await session.encryptionStatus(of: jid) { self.setSecurity(status, for: peer) }
        }
    }

    private func setSecurity(_ status: ConversationEncryption, for peer: String) {
        guard view?.peer == peer else { return }
        let words: String? = switch status {
        case .encrypted(let verified): verified ? "🔒 OMEMO, verified" : "🔒 OMEMO"
        case .plain(let hasDevices): hasDevices ? "not encrypted (/omemo on)" : "not encrypted"
        case .phoneNetwork: "SMS: not end-to-end encrypted"
        case .room: nil
        }
        guard words != conversationSecurity else { return }
        conversationSecurity = words
        redraw()
    }

    /// /omemo on|off|fingerprints|trust|distrust [ARGUMENT]
    func omemo(_ action: String, _ argument: String?) {
        let session = self.session
        switch action {
        case "on", "off":
            guard let peer = view?.peer, let jid = try? JID(peer) else {
                show(error: "Open a conversation first: /omemo \(action) applies to the one in view.")
                return
            }
            Task { @MainActor in
                do {
                    let status = try await session.encryptionStatus(of: jid)
                    if status == .phoneNetwork || status == .room {
                        self.show(error: status == .room ? "Group chats are not encrypted." : "SMS and MMS cannot be end-to-end encrypted.")
                    } else {
                        try await session.setEncryption(action == "on", for: jid)
                        self.show(notice: action == "on" ? "Messages here are now encrypted (OMEMO)." : "Messages here are now sent unencrypted.")
                        self.showSecurity(of: peer)
                    }
                } catch {
                    self.show(error: "\(error)")
                }
                self.redraw()
            }
        case "fingerprints":
            showFingerprints(argument)
        default:
            guard let fingerprint = argument, !fingerprint.isEmpty else {
                show(error: "Usage: /omemo \(action) FINGERPRINT (as /omemo fingerprints shows it)")
                return
            }
            Task { @MainActor in
                do {
                    let devices = try await session.trustDevice(fingerprint: fingerprint, trusted: action == "trust")
                    let names = devices.map { "\(Sanitizer.plain(self.names.name(for: $0.account)))'s device \($0.device)" }
                    self.show(notice: (action == "trust" ? "Verified " : "Distrusted ") + names.joined(separator: ", ") + ".")
                    if let peer = self.view?.peer { self.showSecurity(of: peer) }
                } catch {
                    self.show(error: "\(error)")
                }
                self.redraw()
            }
        }
    }

    /// The devices of a contact (or the one in view) and our own, with fingerprints to compare.
    private func showFingerprints(_ typed: String?) {
        let session = self.session
        let inView = view?.peer
        Task { @MainActor in
            do {
                var peer: JID?
                if let typed, !typed.isEmpty {
                    peer = try await session.resolveRecipient(typed)
                } else if let inView, let jid = try? JID(inView), try await session.encryptionStatus(of: jid) != .room {
                    peer = jid
                }
                var devices: [DeviceFingerprint] = []
                if let peer, peer.bare.description != session.account.bare.description { devices += try await session.fingerprints(of: peer) }
                devices += try await session.fingerprints(of: nil)
                var lines = [StyledLine([TextRun("OMEMO devices — /omemo trust FINGERPRINT verifies one; Esc closes", .notice)])]
                for device in devices {
                    let trust = device.isThisDevice ? "this device" : device.trust.map(Self.trustWords) ?? "not met yet"
                    lines.append(StyledLine([TextRun(Sanitizer.plain(self.names.name(for: device.account)), .peerName),
                                             TextRun("  device \(device.device)")]))
                    lines.append(StyledLine([TextRun("    " + trust + (device.listed ? "" : " (no longer listed)"), .notice)]))
                    // Four groups a row: the fingerprint fits a narrow pane and reads as clients show it.
                    let groups = (device.grouped ?? "(fingerprint not known yet)").split(separator: " ")
                    for row in stride(from: 0, to: groups.count, by: 4) {
                        lines.append(StyledLine([TextRun("    " + groups[row..<min(row + 4, groups.count)].joined(separator: " "), .text)]))
                    }
                }
                self.overlay = lines
            } catch {
                self.show(error: "\(error)")
            }
            self.redraw()
        }
    }

    static func trustWords(_ trust: OMEMOTrust) -> String {
        switch trust {
        case .blind: "trusted, not verified"
        case .verified: "verified"
        case .untrusted: "untrusted"
        }
    }
}
