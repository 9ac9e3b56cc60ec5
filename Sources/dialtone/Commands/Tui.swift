import ArgumentParser
import DialtoneCore
import DialtoneTUI

struct Tui: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The terminal interface: conversations, messages and commands.")

    @OptionGroup var options: GlobalOptions

    func run() async throws {
        // Logs go to the file before anything can print: the screen belongs to curses.
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let style = runtime.account.notify.flatMap(NotificationStyle.init(rawValue:)) ?? .none
        await runTUI(session, notifications: style)
    }

    @MainActor
    private func runTUI(_ session: AccountSession, notifications: NotificationStyle) async {
        await TUIApp(session: session, notifications: notifications).run()
    }
}
