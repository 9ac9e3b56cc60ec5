/// One slash command as data: /help and tab completion read this table, so a command's
/// documentation and its name cannot drift apart.
public struct CommandSpec: Sendable, Equatable {
    public enum Name: String, Sendable, CaseIterable {
        case msg, group, close, search, contacts, add, rename, `import`, attach, open, play, stop, call, answer, decline, hangup, mute, unmute, hold, dtmf, device, calls, cmd, field, next, prev, complete, cancel, account, connect, disconnect, status, set, theme, help, quit
    }

    public let name: Name
    public let arguments: String
    public let synopsis: String
    public let help: String

    public var usage: String { arguments.isEmpty ? "/\(name.rawValue)" : "/\(name.rawValue) \(arguments)" }
}

public enum CommandTable {
    public static let all: [CommandSpec] = [
        CommandSpec(name: .msg, arguments: "TO [TEXT]", synopsis: "Open a conversation, and send TEXT if given.",
                    help: "TO is an address, a contact's name, or a phone number in any common form; numbers go through the account's gateway."),
        CommandSpec(name: .group, arguments: "TO, TO, …", synopsis: "Open a group text with several people.",
                    help: "Each TO is an address, a contact's name or a phone number, separated by commas."),
        CommandSpec(name: .close, arguments: "", synopsis: "Close the open conversation.",
                    help: "Removes it from the list; its history stays and it comes back when someone writes."),
        CommandSpec(name: .search, arguments: "WORDS", synopsis: "Search all stored messages.",
                    help: "Shows the newest messages containing WORDS, with their conversations."),
        CommandSpec(name: .contacts, arguments: "", synopsis: "Show the address book and roster.", help: "Names, numbers and addresses; Esc closes."),
        CommandSpec(name: .add, arguments: "NAME ADDRESS[, ADDRESS…]", synopsis: "Add a person (or more numbers) to the address book.",
                    help: "Quote a name with spaces: /add \"Alice Liddell\" +1 555 123 4567, alice@example.org"),
        CommandSpec(name: .rename, arguments: "NAME NEW-NAME", synopsis: "Rename a person in the address book.",
                    help: "Quote names with spaces: /rename \"Alice Liddell\" \"Alice L.\""),
        CommandSpec(name: .import, arguments: "PATH", synopsis: "Import vCard or CSV contacts (a file or a vdir).",
                    help: "As `dialtone contacts import`: importing again changes nothing."),
        CommandSpec(name: .attach, arguments: "FILE [CAPTION]", synopsis: "Upload a file and send its link here (MMS through a gateway).",
                    help: "Through the server's HTTP upload (XEP-0363); quote a file name with spaces."),
        CommandSpec(name: .open, arguments: "[N]", synopsis: "Fetch the newest (or Nth newest) attachment here and open it.",
                    help: "Saved under $XDG_DATA_HOME/dialtone/downloads with the name shown; text (when it is text) opens in $PAGER on this terminal (Dialtone comes back when it exits), anything else with xdg-open. Over plain http, the first /open only saves and warns."),
        CommandSpec(name: .play, arguments: "[N]", synopsis: "Play the newest voicemail or audio attachment here (or the Nth newest).",
                    help: "It is fetched, decoded (WAV, Ogg Opus or Vorbis, FLAC, MP3) and played on the account's playback device; the status bar shows the position. Alt-s or /stop stops it."),
        CommandSpec(name: .stop, arguments: "", synopsis: "Stop playing (Alt-s).", help: "See /play."),
        CommandSpec(name: .call, arguments: "TO", synopsis: "Call an address, a contact or a phone number.",
                    help: "Digits after the number are dialled once connected: \"/call +1 800 555 1234,,1234#\" (each comma waits 2 s; a semicolon stops for you to type the rest). While connected, digits typed on an empty line are sent as DTMF at once (Alt-k turns the keypad off)."),
        CommandSpec(name: .answer, arguments: "", synopsis: "Answer the ringing call (Alt-a).",
                    help: "While in another call, that call ends first."),
        CommandSpec(name: .decline, arguments: "[busy]", synopsis: "Decline the ringing call (Alt-d).",
                    help: "\"busy\" tells the caller you are in another call (Alt-d does so when you are)."),
        CommandSpec(name: .hangup, arguments: "", synopsis: "End the call (Alt-h).", help: "Also cancels a call still ringing."),
        CommandSpec(name: .mute, arguments: "", synopsis: "Mute your microphone (Alt-m toggles).", help: "The other side hears silence and is told."),
        CommandSpec(name: .unmute, arguments: "", synopsis: "Unmute your microphone.", help: "See /mute."),
        CommandSpec(name: .hold, arguments: "", synopsis: "Put the call on hold, or take it off.", help: "Silence both ways until /hold again."),
        CommandSpec(name: .dtmf, arguments: "DIGITS", synopsis: "Send DTMF digits (0-9 * # A-D).",
                    help: "As RFC 4733 telephone events, for phone menus. On an empty line, typing digits does the same."),
        CommandSpec(name: .device, arguments: "capture|playback PCM", synopsis: "Move the call's audio to another ALSA device.",
                    help: "PCM is an ALSA name, such as default or plughw:CARD=Headset. `dialtone audio devices` lists them."),
        CommandSpec(name: .calls, arguments: "", synopsis: "Show the call log.", help: "Incoming, outgoing and missed calls, newest last; Esc closes."),
        CommandSpec(name: .cmd, arguments: "[ADDRESS | N]", synopsis: "List a bot's commands (the gateway's by default), or run the Nth.",
                    help: "Ad-hoc commands (XEP-0050), such as JMP's account settings: each step's form shows numbered fields; /field N VALUE fills one in, then /next, /prev, /complete or /cancel."),
        CommandSpec(name: .field, arguments: "N VALUE", synopsis: "Fill in field N of the command's form.",
                    help: "yes/no for a checkbox; a choice by its number, value or label; several separated by commas; \\n for a new line in multi-line text."),
        CommandSpec(name: .next, arguments: "", synopsis: "Send the form and go to the command's next step.", help: "See /cmd."),
        CommandSpec(name: .prev, arguments: "", synopsis: "Go back a step in the command.", help: "See /cmd."),
        CommandSpec(name: .complete, arguments: "", synopsis: "Send the form and finish the command.", help: "See /cmd."),
        CommandSpec(name: .cancel, arguments: "", synopsis: "Abandon the command.", help: "See /cmd."),
        CommandSpec(name: .account, arguments: "[N | ADDRESS]", synopsis: "Show the accounts, or switch to one (Ctrl-x: the next).",
                    help: "Without an argument: address, state, presence, gateway and country of the account in view, and the other accounts by number. With one: that account (by its number or the start of its address) comes into view; the others stay connected, ring and notify."),
        CommandSpec(name: .connect, arguments: "", synopsis: "Connect again after /disconnect.", help: "Reconnecting after a lost connection is automatic."),
        CommandSpec(name: .disconnect, arguments: "", synopsis: "Close the connection until /connect.", help: "Messages you write meanwhile wait in the outbox."),
        CommandSpec(name: .status, arguments: "available|away|dnd|xa|chat [TEXT]", synopsis: "Set your presence and status text.",
                    help: "Kept across reconnects."),
        CommandSpec(name: .set, arguments: "NAME VALUE", synopsis: "Change a setting for this run.",
                    help: "notify none|osc777|osc9|notify-send (desktop notifications); keypad on|off (digits as DTMF during calls)."),
        CommandSpec(name: .theme, arguments: "[NAME]", synopsis: "Switch the colour theme, or list the themes.",
                    help: "Shipped: dark, light, high-contrast, monochrome (Themes/); your own go in $XDG_CONFIG_HOME/dialtone/themes/NAME.toml. NO_COLOR keeps only attributes."),
        CommandSpec(name: .help, arguments: "[CMD]", synopsis: "List commands, or explain one.",
                    help: "Keys: Ctrl-n/Ctrl-p or Alt-Up/Alt-Down switch conversations, Ctrl-x the account, PgUp/PgDn scroll, Tab completes, Enter sends."),
        CommandSpec(name: .quit, arguments: "", synopsis: "Leave Dialtone.", help: "Unsent messages stay in the outbox and go on the next start."),
    ]

    public static func spec(named name: String) -> CommandSpec? {
        let bare = name.hasPrefix("/") ? String(name.dropFirst()) : name
        return all.first { $0.name.rawValue == bare.lowercased() }
    }

    /// Command names starting with what was typed after the slash.
    public static func completions(for prefix: String) -> [String] {
        all.map { $0.name.rawValue }.filter { $0.hasPrefix(prefix.lowercased()) }
    }
}

/// A line typed at the input: a message, or a command with the rest of the line.
public enum InputLine: Sendable, Equatable {
    case message(String)
    case command(CommandSpec.Name, arguments: String)
    case unknownCommand(String)

    /// A leading "/" starts a command; "//" sends text that starts with one slash.
    public init(_ text: String) {
        guard text.hasPrefix("/") else { self = .message(text); return }
        if text.hasPrefix("//") { self = .message(String(text.dropFirst())); return }
        let body = text.dropFirst()
        let word = body.prefix { !$0.isWhitespace }
        let rest = body.dropFirst(word.count).drop { $0 == " " }
        if let spec = CommandTable.spec(named: String(word)) {
            self = .command(spec.name, arguments: String(rest))
        } else {
            self = .unknownCommand(String(word))
        }
    }
}
