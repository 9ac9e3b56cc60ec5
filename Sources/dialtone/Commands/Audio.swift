import ArgumentParser
import DialtoneCore
import Foundation

struct Audio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Audio devices: list them, or test a microphone and speaker.",
        subcommands: [AudioDevicesCommand.self, AudioTest.self])
}

struct AudioDevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List ALSA's PCMs (names for --capture, --playback, capture, playback, ring_device).")

    @Flag(help: "Print JSON lines.")
    var json = false

    func run() async throws {
        for device in AudioDevices.list() {
            if json {
                JSONLines.write(["name": device.name, "description": device.description, "direction": device.direction.rawValue])
            } else {
                let direction = device.direction == .both ? "" : " (\(device.direction.rawValue) only)"
                print("\(device.name)\(direction)\n    \(device.description)")
            }
        }
    }
}

struct AudioTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test", abstract: "Record a few seconds from the microphone with a level meter, then play them back.")

    @OptionGroup var options: GlobalOptions

    @OptionGroup var devices: AudioDeviceOptions

    @Option(help: ArgumentHelp("How long to record.", valueName: "seconds"))
    var seconds: Double = 3

    func validate() throws { try validateSeconds(["--seconds": seconds]) }

    func run() async throws {
        // The account is optional here: without a configuration the devices default.
        let account = try? options.loadAccount()
        var media = (account?.callConfiguration() ?? CallSettings()).media
        try devices.apply(to: &media)
        let alsa = media.alsaConfiguration
        let tty = isatty(2) == 1
        let recorder: AudioRecorder
        do { recorder = try AudioRecorder(device: media.captureDevice, configuration: alsa, realtime: media.realtimeAudio) } catch {
            throw CLIError("\(error)")
        }
        var peak = 0.0
        while recorder.seconds < seconds {
            try? await Task.sleep(for: .milliseconds(50))
            peak = max(peak, recorder.level)
            if tty {
                let meter = Self.meter(recorder.level)
                FileHandle.standardError.write(Data("\r● recording \(String(format: "%.1f", recorder.seconds)) s  \(meter) ".utf8))
            }
        }
        let audio = recorder.stop()
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
        print(String(format: "recorded %.1f s, peak level %.0f dBFS", audio.duration, 20 * log10(max(peak, 1e-5))))
        print(recorder.isRealtime ? "audio threads: real-time (SCHED_FIFO)"
              : media.realtimeAudio ? "audio threads: normal priority (SCHED_FIFO not permitted: see realtime_audio in dialtone(1))"
              : "audio threads: normal priority (realtime_audio = false)")
        if peak < 0.001 { FileHandle.standardError.write(Data("The microphone gave silence: check the capture device and its volume (alsamixer).\n".utf8)) }
        let player: AudioFilePlayer
        do { player = try AudioFilePlayer(audio: audio, device: media.playbackDevice, configuration: alsa) } catch {
            throw CLIError("\(error)")
        }
        while !player.isFinished {
            if tty { FileHandle.standardError.write(Data("\r▶ playing back \(String(format: "%.1f", player.position)) s ".utf8)) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        player.stop()
        if tty { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func meter(_ level: Double, cells: Int = 20) -> String {
        let decibels = 20 * log10(max(level, 1e-5))
        let filled = min(cells, max(0, Int(((decibels + 60) / 60 * Double(cells)).rounded())))
        return "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: cells - filled) + "]"
    }
}
