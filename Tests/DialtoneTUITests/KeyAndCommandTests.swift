@testable import DialtoneTUI
import XCTest

final class KeyAndCommandTests: XCTestCase {
    func testBracketedPasteSpanningReadsIsOneKey() {
        var decoder = KeyDecoder()
        let first = decoder.decode([.scalar("h"), .scalar("i"), .key(.pasteStart), .scalar("a"), .key(.enter)])
        XCTAssertEqual(first, [.text("hi")])
        let second = decoder.decode([.scalar("b"), .scalar("\r"), .scalar("c"), .key(.pasteEnd), .scalar("\r")])
        XCTAssertEqual(second, [.paste("a\nb\nc"), .enter])
    }

    func testEscapePrefixMeansAlt() {
        var decoder = KeyDecoder()
        XCTAssertEqual(decoder.decode([.scalar("\u{1B}"), .scalar("b"), .scalar("\u{01}"), .scalar("\u{1B}"), .key(.up)]),
                       [.meta("b"), .control("a"), .metaUp])
        XCTAssertEqual(decoder.decode([.scalar("\u{1B}")]), [.escape])
        XCTAssertEqual(decoder.decode([.scalar("\u{7F}"), .key(.resize)]), [.backspace, .resize])
    }

    func testInputLinesBecomeCommandsOrMessages() {
        XCTAssertEqual(InputLine("/msg +1 555 123 4567 hello there"), .command(.msg, arguments: "+1 555 123 4567 hello there"))
        XCTAssertEqual(InputLine("/QUIT"), .command(.quit, arguments: ""))
        XCTAssertEqual(InputLine("//not a command"), .message("/not a command"))
        XCTAssertEqual(InputLine("/frob x"), .unknownCommand("frob"))
        XCTAssertEqual(InputLine("hello"), .message("hello"))
    }

    func testHelpAndCompletionReadTheSameTable() {
        XCTAssertEqual(Set(CommandTable.all.map(\.name)), Set(CommandSpec.Name.allCases))
        for spec in CommandTable.all { XCTAssertFalse(spec.synopsis.isEmpty) }
        XCTAssertEqual(Completion.complete("/ms", names: []), "/msg ")
        XCTAssertEqual(Completion.complete("/msg Al", names: ["Alice Liddell", "Bob"]), "/msg Alice Liddell ")
        XCTAssertEqual(Completion.complete("/group Bob, al", names: ["Alice", "Bob"]), "/group Bob, Alice, ")
        XCTAssertNil(Completion.complete("/q x", names: []))
        XCTAssertEqual(Completion.complete("/msg A", names: ["Anna", "Annie"]), "/msg Ann")
    }
}

final class HelpTextTests: XCTestCase {
    /// Every usage and synopsis reads whole in the pane of an 80-column terminal (and wider):
    /// nothing cut, nothing run together.
    func testHelpPageReadsWholeAtEightyColumns() {
        let paneOfAnEightyColumnTerminal = ScreenLayout(rows: 24, columns: 80).messageWidth
        for width in [paneOfAnEightyColumnTerminal, 80] {
            let lines = HelpText.lines(for: nil, width: width).map(\.text)
            for line in lines { XCTAssertLessThanOrEqual(TerminalWidth.columns(of: line), width, line) }
            let page = lines.joined(separator: " ").split(separator: " ").joined(separator: " ")
            for spec in CommandTable.all {
                XCTAssertTrue(lines.contains { $0.hasPrefix(spec.usage + " ") || $0 == spec.usage }, "usage whole: \(spec.usage)")
                let synopsis = spec.synopsis.split(separator: " ").joined(separator: " ")
                XCTAssertTrue(page.contains(synopsis), "synopsis whole at \(width): \(spec.synopsis)")
            }
            XCTAssertTrue(lines.contains("/add NAME ADDRESS[, ADDRESS…]"), "a long usage has its own line")
            XCTAssertFalse(lines.contains { $0.contains("NEW-NAMRename") || $0.contains("ADDRESS[, Add") })
        }
    }
}

final class CommandWordsTests: XCTestCase {
    func testQuotedWordsKeepTheirSpaces() {
        XCTAssertEqual(ArgumentScanner.words(#""Alice Liddell" +1 555 123 4567, alice@example.org"#),
                       ["Alice Liddell", "+1", "555", "123", "4567,", "alice@example.org"])
        XCTAssertEqual(ArgumentScanner.words(#""Alice Liddell" "Alice L.""#), ["Alice Liddell", "Alice L."])
        XCTAssertEqual(ArgumentScanner.words("  cat.jpg   look at this "), ["cat.jpg", "look", "at", "this"])
        XCTAssertEqual(ArgumentScanner.words(""), [])
    }
}

/// Digits go to a call through one worker, in order (issue 13, 2j: not a task per digit).
@MainActor
final class DigitOutboxTests: XCTestCase {
    final class Recorder {
        var batches: [(String, String)] = []
        var inFlight = 0
        var mostInFlight = 0
    }

    func testDigitsGoOutInOrderThroughOneWorkerAndTheQueueIsBounded() async {
        let recorder = Recorder()
        let outbox = DigitOutbox(limit: 8) { call, digits in
            recorder.inFlight += 1
            recorder.mostInFlight = max(recorder.mostInFlight, recorder.inFlight)
            // The call manager is another actor: every send suspends.
            await Task.yield()
            try? await Task.sleep(for: .milliseconds(1))
            recorder.batches.append((call, digits))
            recorder.inFlight -= 1
        }
        // Key presses, one digit each, faster than they are sent.
        for digit in "1234" { XCTAssertTrue(outbox.enqueue(String(digit), call: "a")) }
        XCTAssertTrue(outbox.enqueue("9", call: "b"))
        XCTAssertTrue(outbox.enqueue("#", call: "a"))
        XCTAssertFalse(outbox.enqueue("567", call: "a"), "more than 8 waiting")
        await outbox.flushed()
        XCTAssertEqual(recorder.mostInFlight, 1)
        XCTAssertEqual(recorder.batches.map(\.1).joined(), "1234" + "9" + "#")
        XCTAssertEqual(recorder.batches.map(\.0).last, "a")
        // Sent: room again.
        XCTAssertTrue(outbox.enqueue("5678", call: "a"))
        await outbox.flushed()
        XCTAssertEqual(recorder.batches.map(\.1).joined(), "12349#5678")
    }
}
