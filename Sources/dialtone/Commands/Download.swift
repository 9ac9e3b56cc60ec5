import ArgumentParser
import DialtoneCore
import Foundation

struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch an attachment into $XDG_DATA_HOME/dialtone/downloads and open it.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Only fetch it; do not open it with xdg-open (or $PAGER for text). It is saved under the name listen and history showed.")
    var noOpen = false

    @Argument(help: "The attachment's link (as listen and history print it).")
    var url: String

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let downloaded: DownloadedAttachment
        do { downloaded = try await session.download(url, progress: ProgressBar.standardError(label: "downloading")) } catch {
            throw CLIError(String(describing: error))
        }
        print(downloaded.path)
        guard !noOpen else { return }
        // Said before anything opens it, on the terminal the user is reading.
        if let warning = downloaded.warning { FileHandle.standardError.write(Data("warning: \(warning)\n".utf8)) }
        let opener: String
        switch downloaded.opening {
        case .pager: opener = ProcessInfo.processInfo.environment["PAGER"].flatMap { $0.isEmpty ? nil : $0 } ?? "less"
        case .viewer: opener = "xdg-open"
        case .notOpened(let why): throw CLIError("Saved to \(downloaded.path); not opened: \(why)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        // $PAGER may carry its own options ("less -R"); the file goes as an argument, never
        // through the shell's parsing.
        process.arguments = ["-c", opener + " \"$1\"", "open", downloaded.path]
        do { try process.run() } catch { throw CLIError("Fetched to \(downloaded.path), but could not run \(opener).") }
        process.waitUntilExit()
    }
}

/// A one-line progress bar on standard error, drawn only when that is a terminal.
enum ProgressBar {
    static func standardError(label: String) -> (@Sendable (Int, Int?) -> Void)? {
        guard isatty(2) == 1 else { return nil }
        return { done, total in
            var line = "\r\(label) "
            if let total, total > 0 {
                let filled = done * 30 / total
                line += "[" + String(repeating: "#", count: filled) + String(repeating: " ", count: 30 - filled) + "] \(done * 100 / total)%"
            } else {
                line += "\(done / 1024) KiB"
            }
            if let total, done >= total { line += "\n" }
            FileHandle.standardError.write(Data(line.utf8))
        }
    }
}
