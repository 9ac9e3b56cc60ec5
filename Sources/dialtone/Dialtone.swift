import ArgumentParser
import DialtoneCore
import Foundation

@main
struct Dialtone: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dialtone",
        abstract: "A terminal phone and chat client over XMPP.",
        version: DialtoneVersion.string,
        subcommands: [Tui.self, Send.self, Correct.self, Retract.self, Moderate.self, React.self, Listen.self, Join.self, Leave.self, Rooms.self, Roster.self, History.self, Contacts.self, Block.self, Unblock.self, Blocked.self, OMEMO.self, Search.self, Download.self, PlaceCall.self, AnswerCall.self, CallLog.self, Play.self, Audio.self],
        defaultSubcommand: Tui.self
    )

    /// The global options may come before the subcommand, too.
    static func main() async {
        ProcessHardening.apply()
        await main(GlobalArgumentOrder.reordered(Array(CommandLine.arguments.dropFirst()), root: Dialtone.self))
    }
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The configuration file.", valueName: "file"))
    var config: String?

    @Option(name: .long, help: ArgumentHelp("The account to use, by its address (default: the first; listen, answer and search serve every account).", valueName: "jid"))
    var account: String?

    @Option(name: .long, help: ArgumentHelp("Log file (default: $XDG_STATE_HOME/dialtone/dialtone.log).", valueName: "file"))
    var logFile: String?

    @Option(name: .long, help: ArgumentHelp("Log level: trace, debug, info, warning, error.", valueName: "level"))
    var logLevel: String = "info"

    var configurationPath: String { config ?? Configuration.defaultPath }

    func loadAccount() throws -> AccountConfiguration {
        try Configuration.load(from: configurationPath).account(account)
    }
}

