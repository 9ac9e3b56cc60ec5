import DialtoneCore
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// How desktop notifications go out, when the user asked for them (`notify` in the config):
/// through the terminal (OSC 777, as rxvt-unicode, foot, kitty and VTE take it; OSC 9, as
/// iTerm2, Windows Terminal and kitty take it) or through `notify-send`.
public enum NotificationStyle: String, Sendable, CaseIterable {
    case none
    case osc777
    case osc9
    case notifySend = "notify-send"
}

/// Sends desktop notifications. Text from the network is cut down to printable characters
/// first: a notification is one more place an escape sequence could hide.
struct Notifier {
    let style: NotificationStyle

    func notify(title: String, body: String) {
        switch style {
        case .none:
            return
        case .osc777, .osc9:
            guard let sequence = Self.sequence(style, title: title, body: body) else { return }
            var bytes = Array(sequence.utf8)
            _ = write(STDOUT_FILENO, &bytes, bytes.count)
        case .notifySend:
            Self.spawn(Self.notifySendArguments(title: title, body: body))
        }
    }

    /// The escape sequence for a terminal style; nil for the others.
    static func sequence(_ style: NotificationStyle, title: String, body: String) -> String? {
        switch style {
        case .osc777: "\u{1B}]777;notify;\(clean(title, separator: true));\(clean(body, separator: true))\u{07}"
        // Without any ";": Windows Terminal and ConEmu read "9;4;…" and the like as sub-commands
        // (progress, tab titles), so a sender named "4;3;1" must not reach the terminal as one.
        case .osc9: "\u{1B}]9;\(clean(title, separator: true)): \(clean(body, separator: true))\u{07}"
        case .none, .notifySend: nil
        }
    }

    /// Printable text only, one line, at most 200 characters; `;` too where it separates fields.
    static func clean(_ text: String, separator: Bool = false) -> String {
        var result = Sanitizer.plain(text).replacingOccurrences(of: "\n", with: " ")
        result = String(result.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }.map(Character.init))
        if separator { result = result.replacingOccurrences(of: ";", with: ",") }
        return String(result.prefix(200))
    }

    /// notify-send's body is markup (a subset of HTML: <b>, <a href>, <img>): the sender's
    /// text shows as written, never as a link or an image of theirs.
    static func markupEscaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }

    static func notifySendArguments(title: String, body: String) -> [String] {
        ["notify-send", "--app-name=Dialtone", "--", clean(title), markupEscaped(clean(body))]
    }

    /// Fire and forget: the child is reaped by a detached thread, never waited for on the main actor.
    private static func spawn(_ arguments: [String]) {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Nothing of the child's may reach the screen curses draws.
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        guard posix_spawnp(&pid, "notify-send", &actions, nil, &argv, environ) == 0 else { return }
        let child = pid
        Thread.detachNewThread {
            var status: Int32 = 0
            waitpid(child, &status, 0)
        }
    }
}
