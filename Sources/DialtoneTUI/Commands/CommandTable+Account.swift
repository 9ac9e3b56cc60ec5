/// Bots' ad-hoc commands, the account, and the interface itself.
extension CommandTable {
    static let commandSessions: [CommandSpec] = [
        CommandSpec(.cmd, CommandArguments.numberOrAddress("ADDRESS | N").optional(),
                    synopsis: "List a bot's commands (the gateway's by default), or run the Nth.",
                    help: "Ad-hoc commands (XEP-0050), such as JMP's account settings: each step's form shows numbered fields; /field N VALUE fills one in, then /next, /prev, /complete or /cancel.") {
            $0.adHoc($1)
        },
        CommandSpec(.field, CommandArguments.number("N").then(.rawText("VALUE")), synopsis: "Fill in field N of the command's form.",
                    help: "yes/no for a checkbox; a choice by its number, value or label; several separated by commas; \\n for a new line in multi-line text.") {
            $0.setField($1.0, to: $1.1)
        },
        CommandSpec(.next, .none, synopsis: "Send the form and go to the command's next step.", help: "See /cmd.") { app, _ in app.commandAction("next") },
        CommandSpec(.prev, .none, synopsis: "Go back a step in the command.", help: "See /cmd.") { app, _ in app.commandAction("prev") },
        CommandSpec(.complete, .none, synopsis: "Send the form and finish the command.", help: "See /cmd.") { app, _ in app.commandAction("complete") },
        CommandSpec(.cancel, .none, synopsis: "Abandon the command.", help: "See /cmd.") { app, _ in app.commandAction("cancel") },
    ]

    static let account: [CommandSpec] = [
        CommandSpec(.account, CommandArguments.numberOrName("N | ADDRESS").optional(),
                    synopsis: "Show the accounts, or switch to one (Ctrl-x: the next).",
                    help: "Without an argument: address, state, presence, gateway and country of the account in view, and the other accounts by number. With one: that account (by its number or the start of its address) comes into view; the others stay connected, ring and notify.") {
            $0.account($1)
        },
        CommandSpec(.connect, .none, synopsis: "Connect again after /disconnect.", help: "Reconnecting after a lost connection is automatic.") { app, _ in
            app.connect()
        },
        CommandSpec(.disconnect, .none, synopsis: "Close the connection until /connect.", help: "Messages you write meanwhile wait in the outbox.") { app, _ in
            app.disconnect()
        },
        CommandSpec(.status, CommandArguments.choice(["available", "away", "dnd", "xa", "chat"]).then(.optionalText("TEXT")),
                    synopsis: "Set your presence and status text.", help: "Kept across reconnects.") { $0.setStatus($1.0, text: $1.1) },
    ]

    static let interface: [CommandSpec] = [
        CommandSpec(.set, .setting, synopsis: "Change a setting for this run.",
                    help: "notify none|osc777|osc9|notify-send (desktop notifications); keypad on|off (digits as DTMF during calls).",
                    hint: "notify none|osc777|osc9|notify-send, or keypad on|off") { $0.setOption($1) },
        CommandSpec(.theme, CommandArguments.word("NAME", completion: .theme).optional(), synopsis: "Switch the colour theme, or list the themes.",
                    help: "Shipped: dark, light, high-contrast, monochrome (Themes/); your own go in $XDG_CONFIG_HOME/dialtone/themes/NAME.toml. NO_COLOR keeps only attributes.") {
            $0.switchTheme($1)
        },
        CommandSpec(.help, CommandArguments.word("CMD", completion: .command).optional(), synopsis: "List commands, or explain one.",
                    help: "Keys: Ctrl-n/Ctrl-p or Alt-Up/Alt-Down switch conversations, Ctrl-x the account, PgUp/PgDn scroll, Tab completes, Enter sends.") {
            $0.overlay = HelpText.lines(for: $1, width: $0.layout.messageWidth)
        },
        CommandSpec(.quit, .none, synopsis: "Leave Dialtone.", help: "Unsent messages stay in the outbox and go on the next start.") { app, _ in
            app.running = false
        },
    ]
}

/// A setting /set changes for this run.
enum Setting: Sendable, Equatable {
    case notify(NotificationStyle)
    case keypad(Bool)

    /// Each option's values, in the order Tab offers them.
    static let values: [(option: String, values: [String])] = [
        ("notify", NotificationStyle.allCases.map(\.rawValue)),
        ("keypad", ["on", "off"]),
    ]
}

extension CommandArguments where Value == Setting {
    /// NAME VALUE, both checked here: a value the option does not take is a usage error.
    static var setting: Self {
        Self(usage: "NAME VALUE", completion: [.words(Setting.values.map(\.option)), .settingValue]) { scanner, _ throws(ArgumentError) in
            switch (scanner.word(), scanner.word()) {
            case ("notify", let value?):
                guard let style = NotificationStyle(rawValue: value) else { throw ArgumentError() }
                return .notify(style)
            case ("keypad", "on"): return .keypad(true)
            case ("keypad", "off"): return .keypad(false)
            default: throw ArgumentError()
            }
        }
    }
}
