import DialtoneCore
import Foundation

/// Voicemails and other audio attachments, played from the open conversation.
extension TUIApp {
    static let audioExtensions: Set<String> = ["ogg", "oga", "opus", "wav", "mp3", "flac", "m4a", "amr"]

    /// The conversation's audio attachments, newest first.
    var audioAttachments: [Attachment] {
        (view?.messages ?? []).reversed().flatMap { message in
            message.attachments.filter { attachment in
                if let type = attachment.mediaType { return type.lowercased().hasPrefix("audio/") }
                let ext = (URL(string: attachment.url)?.pathExtension ?? "").lowercased()
                return Self.audioExtensions.contains(ext)
            }
        }
    }

    /// /play [N]: the newest (or Nth newest) audio attachment of the open conversation.
    func play(_ index: Int) {
        let found = audioAttachments
        guard index >= 1, index <= found.count else {
            show(error: found.isEmpty ? "No voicemail or audio in this conversation." : "There are \(found.count) audio attachments here.")
            return
        }
        let attachment = found[index - 1]
        stopPlaying()
        show(notice: "Fetching \(AttachmentFile(attachment).displayName)…")
        let session = self.session
        Task { @MainActor in
            do {
                let audio = try DecodedAudio(path: try await session.download(attachment).path)
                let media = session.callConfiguration.media
                self.player = try AudioFilePlayer(audio: audio, device: media.playbackDevice, configuration: media.alsaConfiguration)
                self.playingName = AttachmentFile(attachment).displayName
                self.notice = nil
                self.updateTicker()
            } catch {
                self.show(error: "Cannot play it: \(error)")
            }
            self.redraw()
        }
    }

    func stopPlaying() {
        player?.stop()
        player = nil
        playingName = nil
        updateTicker()
    }

    /// "▶ voicemail.ogg 0:03 / 0:12 · Alt-s stops" for the status bar.
    var playbackStatus: String? {
        guard let player, let playingName else { return nil }
        return "▶ \(playingName) \(CallText.duration(player.position)) / \(CallText.duration(player.audio.duration)) · Alt-s stops"
    }

    /// Called on each tick: a finished file stops by itself.
    func checkPlayback() {
        if let player, player.isFinished { stopPlaying() }
    }
}
