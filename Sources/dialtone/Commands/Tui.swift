import ArgumentParser
import Foundation
import DialtoneCore
import DialtoneTUI

struct Tui: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The terminal interface: conversations, messages and commands.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        // Logs go to the file before anything can print: the screen belongs to curses.
        let runtime = try CommandRuntime(options)
        // Every configured account at once, unless --account names one.
        let accounts = options.account == nil ? try runtime.allAccounts() : [runtime.account]
        let sessions = try accounts.map { try CommandRuntime.openSession(for: $0, joinsRooms: true) }
        // The screen belongs to curses: whatever a C library prints on standard error (speexdsp
        // and ALSA warn there) goes to the log file instead of across the interface.
        redirectStandardError(to: options.logFile ?? Paths.logFile)
        let style = runtime.account.notify.flatMap(NotificationStyle.init(rawValue:)) ?? .none
        await runTUI(sessions, notifications: style, notice: runtime.warnings.first.map { "Warning: \($0)" })
    }

    @MainActor
    private func runTUI(_ sessions: [AccountSession], notifications: NotificationStyle, notice: String?) async {
        await TUIApp(sessions: sessions, notifications: notifications).run(notice: notice)
    }
}

/// Points file descriptor 2 at `path` (appending), so stray library output lands in the log.
func redirectStandardError(to path: String) {
    let descriptor = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o600)
    guard descriptor >= 0 else { return }
    dup2(descriptor, STDERR_FILENO)
    close(descriptor)
}
