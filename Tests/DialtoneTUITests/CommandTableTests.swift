import Foundation
@testable import DialtoneTUI
import XCTest

/// The table itself: every command's usage, the executor's usage errors, completion by the
/// entries' kinds, and the man page's list checked against the table.
final class CommandTableTests: XCTestCase {
    /// The usages /help showed before the table carried parsers; they are made from the
    /// parsers now and must read as they did.
    func testUsagesAreMadeFromTheParsersAndReadAsBefore() {
        let expected: [CommandSpec.Name: String] = [
            .msg: "TO [TEXT]", .group: "TO, TO, …", .join: "ROOM [NICK]", .leave: "[ROOM]", .who: "", .nick: "NICK", .topic: "[TEXT]", .invite: "WHO [REASON]", .kick: "NICK [REASON]", .ban: "NICK | ADDRESS [REASON]", .voice: "NICK [on|off]", .moderate: "N [REASON]", .configure: "", .close: "", .search: "WORDS", .contacts: "", .add: "NAME ADDRESS[, ADDRESS…]",
            .rename: "NAME NEW-NAME", .remove: "NAME | ADDRESS", .accept: "[ADDRESS]", .correct: "TEXT", .retract: "[N]", .reply: "N TEXT", .react: "N EMOJI", .block: "[WHO [spam]]", .unblock: "WHO", .blocked: "", .omemo: "on|off|fingerprints|trust|distrust [ARG]", .deny: "[ADDRESS]", .import: "PATH", .attach: "FILE [CAPTION]", .open: "[N]", .play: "[N]", .stop: "",
            .call: "TO", .answer: "", .decline: "[busy]", .hangup: "", .mute: "", .unmute: "", .hold: "", .dtmf: "DIGITS",
            .device: "capture|playback PCM", .calls: "", .cmd: "[ADDRESS | N]", .field: "N VALUE", .next: "", .prev: "",
            .complete: "", .cancel: "", .account: "[N | ADDRESS]", .connect: "", .disconnect: "",
            .status: "available|away|dnd|xa|chat [TEXT]", .set: "NAME VALUE", .theme: "[NAME]", .help: "[CMD]", .quit: "",
        ]
        XCTAssertEqual(CommandTable.all.count, CommandSpec.Name.allCases.count, "each command once")
        for spec in CommandTable.all { XCTAssertEqual(spec.arguments, expected[spec.name], spec.name.rawValue) }
    }

    /// Lines that do not fit the entry fail before any handler runs, and the error is the usage.
    func testTheExecutorRefusesLinesThatDoNotFit() throws {
        let wrong: [(String, String)] = [
            ("quit", "now"), ("close", "it"), ("open", "newest"), ("play", "1 2"), ("msg", ""), ("group", "Alice"),
            ("add", "Alice"), ("rename", "Alice"), ("rename", "a b c"), ("import", ""), ("attach", ""), ("search", " "),
            ("call", ""), ("decline", "later"), ("dtmf", ""), ("device", "capture"), ("device", "speaker default"),
            ("cmd", "not an address"), ("field", "x y"), ("field", ""), ("account", "1 2"), ("status", "asleep"),
            ("set", "keypad maybe"), ("set", "notify"), ("theme", "dark light"), ("help", "msg group"), ("next", "1"),
        ]
        for (name, arguments) in wrong {
            let spec = try XCTUnwrap(CommandTable.spec(named: name))
            XCTAssertThrowsError(try spec.bind(arguments, ArgumentContext()), "/\(name) \(arguments)")
        }
        let right: [(String, String)] = [
            ("quit", ""), ("open", ""), ("open", "2"), ("msg", "alice@example.org hi"), ("group", "Alice, Bob"),
            ("add", #""Alice Liddell" +1 555 123 4567, alice@example.org"#), ("rename", #""Alice Liddell" Alice"#),
            ("import", "~/contacts.vcf"), ("attach", "cat.jpg look"), ("call", "+1 800 555 1234,,1234#"), ("decline", "busy"),
            ("dtmf", "1 2 3"), ("device", "playback plughw:CARD=Headset"), ("cmd", ""), ("cmd", "2"), ("cmd", "cheogram.com"),
            ("field", "2 "), ("field", "4 SIP address"), ("account", "work"), ("status", "away Out for lunch"),
            ("set", "notify osc777"), ("theme", ""), ("theme", "light"), ("help", "/msg"),
        ]
        for (name, arguments) in right {
            let spec = try XCTUnwrap(CommandTable.spec(named: name))
            XCTAssertNoThrow(try spec.bind(arguments, ArgumentContext()), "/\(name) \(arguments)")
        }
    }

    func testTheUsageErrorIsOneSentenceWithTheEntrysHint() throws {
        XCTAssertEqual(CommandTable.spec(named: "open")?.usageError, "Usage: /open [N]")
        XCTAssertEqual(CommandTable.spec(named: "add")?.usageError, "Usage: /add NAME ADDRESS[, ADDRESS…] — quote a name with spaces")
        XCTAssertEqual(CommandTable.spec(named: "group")?.usageError, "Usage: /group TO, TO, … — a group text needs at least two people")
        for spec in CommandTable.all {
            XCTAssertFalse(spec.usageError.contains("\n"), spec.usageError)
            XCTAssertTrue(spec.usageError.hasPrefix("Usage: \(spec.usage)"))
        }
    }

    func testCompletionFollowsEachEntrysKinds() throws {
        let sources = CompletionSources(names: ["Alice Liddell", "Bob"], themes: { ["dark", "high-contrast", "light"] }, files: { _ in [] })
        XCTAssertEqual(Completion.complete("/call Al", from: sources), "/call Alice Liddell ")
        XCTAssertEqual(Completion.complete("/theme hi", from: sources), "/theme high-contrast ")
        XCTAssertNil(Completion.complete("/status a", from: sources), "available and away: nothing more in common")
        XCTAssertEqual(Completion.complete("/status aw", from: sources), "/status away ")
        XCTAssertNil(Completion.complete("/status away Ou", from: sources), "the status text is free")
        XCTAssertEqual(Completion.complete("/decline b", from: sources), "/decline busy ")
        XCTAssertEqual(Completion.complete("/device p", from: sources), "/device playback ")
        XCTAssertEqual(Completion.complete("/set k", from: sources), "/set keypad ")
        XCTAssertEqual(Completion.complete("/set keypad of", from: sources), "/set keypad off ")
        XCTAssertEqual(Completion.complete("/set notify notify", from: sources), "/set notify notify-send ")
        XCTAssertEqual(Completion.complete("/set notify o", from: sources), "/set notify osc", "osc777 and osc9: their common part")
        XCTAssertEqual(Completion.complete("/help ms", from: sources), "/help msg ")
        XCTAssertNil(Completion.complete("/open 1", from: sources))
        XCTAssertNil(Completion.complete("/hangup x", from: sources))
    }

    func testNicksCompleteInARoomsText() {
        let sources = CompletionSources(nicks: ["ada", "Adam", "bob"])
        XCTAssertEqual(Completion.complete("b", from: sources), "bob: ", "at the start, addressed")
        XCTAssertEqual(Completion.complete("thanks b", from: sources), "thanks bob ", "further on, named")
        XCTAssertEqual(Completion.complete("ad", from: sources), "ada", "ada and Adam: their common part")
        XCTAssertNil(Completion.complete("hello ", from: sources), "no word being typed")
        XCTAssertNil(Completion.complete("b", from: CompletionSources()), "not in a room")
    }

    func testFilesCompleteFromTheDirectoryTyped() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-completion-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("photos"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        for file in ["cat one.jpg", "contacts.vcf", ".hidden"] {
            _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(file).path, contents: Data())
        }
        let base = directory.path + "/"
        XCTAssertEqual(Completion.files(base), [base + "cat one.jpg", base + "contacts.vcf", base + "photos/"], "no dot files unless asked")
        let sources = CompletionSources()
        XCTAssertEqual(Completion.complete("/attach \(base)ca", from: sources), "/attach \"\(base)cat one.jpg\" ", "quoted: it has a space")
        XCTAssertEqual(Completion.complete("/import \(base)co", from: sources), "/import \(base)contacts.vcf ")
        XCTAssertEqual(Completion.complete("/attach \(base)ph", from: sources), "/attach \(base)photos/", "a directory: Tab goes on inside")
        XCTAssertNil(Completion.complete("/attach \(base)c", from: sources), "two match: nothing more in common")
    }
}

/// The man page lists the interface's commands by hand, in mdoc; this reads that list and
/// holds it to the table: every command there with its usage, and nothing the table lacks.
final class ManualCommandListTests: XCTestCase {
    func testTheManPageListsExactlyTheTablesCommandsWithTheirUsage() throws {
        let manual = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("man/dialtone.1")
        let listed = try Self.commandUsages(in: String(contentsOf: manual, encoding: .utf8))
        let table = Set(CommandTable.all.map { "/" + $0.name.rawValue })
        XCTAssertEqual(table.subtracting(listed.keys).sorted(), [], "in the table, missing from man/dialtone.1")
        XCTAssertEqual(Set(listed.keys).subtracting(table).sorted(), [], "in man/dialtone.1, not in the table")
        for spec in CommandTable.all {
            guard let usage = listed["/" + spec.name.rawValue] else { continue }
            XCTAssertEqual(Self.normalised(usage), Self.normalised(spec.usage), "/\(spec.name.rawValue) in man/dialtone.1")
        }
    }

    func testTheReaderRendersMdocAsTheManPageShowsIt() throws {
        let page = """
            Commands, each explained by
            .Bl -tag -width "x" -compact
            .It Ic /add Ar name address Ns Op , Ar address ...
            add
            .It Ic /answer , Ic /hangup , Ic /decline Op Cm busy
            calls
            .It Ic /status Cm available Ns | Ns Cm away Op Ar text
            .El
            .It Ic /not-in-the-list
            """
        XCTAssertEqual(try Self.commandUsages(in: page), [
            "/add": "/add name address[, address ...]", "/answer": "/answer", "/hangup": "/hangup", "/decline": "/decline [busy]",
            "/status": "/status available|away [text]",
        ])
    }

    /// Each `.It` line of the list rendered as mdoc shows it, split at ", /" into commands.
    static func commandUsages(in page: String) throws -> [String: String] {
        let lines = page.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Commands, each explained by") })
        var usages: [String: String] = [:]
        for line in lines[start...].prefix(while: { $0 != ".El" }) where line.hasPrefix(".It ") {
            for usage in render(line.dropFirst(4)).components(separatedBy: ", /") {
                let command = usage.hasPrefix("/") ? usage : "/" + usage
                let name = String(command.prefix { $0 != " " })
                XCTAssertNil(usages[name], "\(name) listed twice")
                usages[name] = command
            }
        }
        return usages
    }

    /// Enough of mdoc for the list: macros dropped, `Ns` joins, `Op` brackets up to the end
    /// of the line (as mandoc does), closing punctuation and "|" between words kept.
    static func render(_ line: Substring) -> String {
        var text = ""
        var joinNext = false
        var open = 0
        for token in line.split(separator: " ") {
            switch token {
            case "Ic", "Ar", "Cm", "Ql": continue
            case "Ns": joinNext = true; continue
            case "Op":
                if !joinNext && !text.isEmpty { text += " " }
                text += "["
                open += 1
                joinNext = true
                continue
            default: break
            }
            if !(joinNext || token == "," || text.isEmpty) { text += " " }
            text += token
            joinNext = false
        }
        return text + String(repeating: "]", count: open)
    }

    /// Case, the ellipsis's spelling and the spaces around it aside.
    static func normalised(_ usage: String) -> String {
        usage.lowercased().replacingOccurrences(of: "…", with: "...").replacingOccurrences(of: " ...", with: "...")
    }
}
