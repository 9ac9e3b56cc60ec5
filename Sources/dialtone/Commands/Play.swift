import ArgumentParser
import DialtoneCore
import Foundation

struct Play: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Play a voicemail or other sound file (WAV, Ogg Opus or Vorbis, FLAC, MP3), or an attachment's link.")

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("ALSA playback PCM (default: the account's playback, else \"default\").", valueName: "pcm"))
    var playback: String?

    @Option(help: ArgumentHelp("Look the PCM up in this asoundrc file instead of the system's ALSA configuration.", valueName: "file"))
    var alsaConfig: String?

    @Argument(help: "A file, or an http(s) link as listen and history print attachments (fetched first).")
    var source: String

    func run() async throws {
        let runtime = try CommandRuntime(options)
        var path = source
        if source.hasPrefix("https://") || source.hasPrefix("http://") {
            let session = try runtime.openSession()
            do { path = try await session.download(source, progress: ProgressBar.standardError(label: "downloading")).path } catch {
                throw CLIError(String(describing: error))
            }
        }
        let calls = runtime.account.callConfiguration()
        var configuration = calls.media.alsaConfiguration
        if let alsaConfig { configuration = try readALSAConfiguration(alsaConfig) }
        let audio: DecodedAudio
        do { audio = try DecodedAudio(path: path) } catch { throw CLIError(error.description) }
        let player: AudioFilePlayer
        do {
            player = try AudioFilePlayer(audio: audio, device: playback ?? calls.media.playbackDevice, configuration: configuration)
        } catch {
            throw CLIError("\(error)")
        }
        let stop = SignalWaiter.waitForTermination()
        let tty = isatty(2) == 1
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !player.isFinished && !Task.isCancelled {
                    if tty {
                        FileHandle.standardError.write(Data("\r▶ \(CallText.duration(player.position)) / \(CallText.duration(audio.duration)) ".utf8))
                    }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
            group.addTask { await withTaskCancellationHandler { await stop.value } onCancel: { stop.cancel() } }
            await group.next()
            group.cancelAll()
        }
        player.stop()
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
