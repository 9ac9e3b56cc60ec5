import ArgumentParser
import DialtoneCore
import Foundation

struct Download: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fetch an attachment into $XDG_DATA_HOME/dialtone/downloads and open it.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "Only fetch it; do not open it with xdg-open (or $PAGER for text).")
    var noOpen = false

    @Argument(help: "The attachment's link (as listen and history print it).")
    var url: String

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let path: String
        do { path = try await session.download(url, progress: ProgressBar.standardError(label: "downloading")) } catch {
            throw CLIError(String(describing: error))
        }
        print(path)
        guard !noOpen else { return }
        let pager = ProcessInfo.processInfo.environment["PAGER"]
        let isText = path.hasSuffix(".txt") || path.hasSuffix(".vcf")
        let opener = isText && pager != nil ? pager! : "xdg-open"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [opener, path]
        do { try process.run() } catch { throw CLIError("Fetched to \(path), but could not run \(opener).") }
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
