import DialtoneCore
@testable import DialtoneTUI
import XCTest

/// The argument parsers each table entry is built from, one kind at a time.
final class CommandArgumentsTests: XCTestCase {
    func testNoArgumentsRefusesAnyText() throws {
        XCTAssertNoThrow(try CommandArguments.none.parse(""))
        XCTAssertNoThrow(try CommandArguments.none.parse("   "))
        XCTAssertThrowsError(try CommandArguments.none.parse("now"))
    }

    func testNumbersRequiredAndOptional() throws {
        XCTAssertEqual(try CommandArguments.number("N").parse(" 12 "), 12)
        XCTAssertThrowsError(try CommandArguments.number("N").parse(""))
        XCTAssertThrowsError(try CommandArguments.number("N").parse("two"))
        XCTAssertThrowsError(try CommandArguments.number("N").parse("2 3"), "one number, not two")
        let optional = CommandArguments.number("N").optional()
        XCTAssertEqual(optional.usage, "[N]")
        XCTAssertNil(try optional.parse(""))
        XCTAssertEqual(try optional.parse("3"), 3)
        XCTAssertThrowsError(try optional.parse("newest"))
    }

    func testFreeTextIsTrimmedAndMayBeRequired() throws {
        XCTAssertEqual(try CommandArguments.text("WORDS").parse("  pizza  tonight "), "pizza  tonight")
        XCTAssertThrowsError(try CommandArguments.text("WORDS").parse("  "))
        XCTAssertNil(try CommandArguments.optionalText("TEXT").parse(""))
        XCTAssertEqual(try CommandArguments.rawText("VALUE").parse(""), "")
    }

    func testQuotingKeepsSpacesTogether() throws {
        let rename = CommandArguments.word("NAME", quoted: true).then(.word("NEW-NAME", quoted: true))
        XCTAssertEqual(rename.usage, "NAME NEW-NAME")
        let renamed = try rename.parse(#""Alice Liddell" "Alice L.""#)
        XCTAssertEqual([renamed.0, renamed.1], ["Alice Liddell", "Alice L."])
        XCTAssertThrowsError(try rename.parse("Alice Liddell Alice"), "three words are not two")
        XCTAssertThrowsError(try rename.parse("Alice"), "the new name is missing")
        let emptied = try rename.parse(#"Bob """#)
        XCTAssertEqual(emptied.1, "", "an empty quoted word is a word")
    }

    func testRecipientIsTheLongestLeadingWordsThatNameOne() throws {
        let msg = CommandArguments.recipientAndText("TO", "TEXT")
        XCTAssertEqual(msg.usage, "TO [TEXT]")
        let book = ArgumentContext { ["Alice Liddell", "+1 555 123 4567", "alice"].contains($0) }
        XCTAssertEqual(try msg.parse("Alice Liddell hello  there", context: book), RecipientAndText(recipient: "Alice Liddell", text: "hello there"))
        XCTAssertEqual(try msg.parse("+1 555 123 4567 Running late", context: book), RecipientAndText(recipient: "+1 555 123 4567", text: "Running late"))
        XCTAssertEqual(try msg.parse("nobody hi", context: book), RecipientAndText(recipient: "nobody", text: "hi"),
                       "an unknown recipient is the first word, for the resolver to explain")
        XCTAssertEqual(try msg.parse("Alice Liddell", context: book).text, "")
        XCTAssertThrowsError(try msg.parse(" ", context: book))
    }

    func testCommaSeparatedListsCountTheirItems() throws {
        let group = CommandArguments.list("TO", minimum: 2)
        XCTAssertEqual(group.usage, "TO, TO, …")
        XCTAssertEqual(try group.parse("Alice Liddell, +1 555 123 4567 ,bob@example.org"), ["Alice Liddell", "+1 555 123 4567", "bob@example.org"])
        XCTAssertThrowsError(try group.parse("Alice, "), "one person is not a group")
        let addresses = CommandArguments.word("NAME", quoted: true).then(.list("ADDRESS", minimum: 1))
        XCTAssertEqual(addresses.usage, "NAME ADDRESS[, ADDRESS…]")
        let added = try addresses.parse(#""Alice Liddell" +1 555 123 4567, alice@example.org"#)
        XCTAssertEqual(added.0, "Alice Liddell")
        XCTAssertEqual(added.1, ["+1 555 123 4567", "alice@example.org"])
        XCTAssertThrowsError(try addresses.parse(#""Alice Liddell""#), "a name without an address")
    }

    func testFilesThenCaption() throws {
        let attach = CommandArguments.file("FILE").then(.quotedText("CAPTION"))
        XCTAssertEqual(attach.usage, "FILE [CAPTION]")
        let quoted = try attach.parse(#""my cat.jpg" look at "this""#)
        XCTAssertEqual(quoted.0, "my cat.jpg")
        XCTAssertEqual(quoted.1, "look at this")
        XCTAssertEqual(try attach.parse("~/cat.jpg").0, NSHomeDirectory() + "/cat.jpg")
        XCTAssertEqual(try attach.parse("cat.jpg").1, "")
        XCTAssertThrowsError(try attach.parse(""))
        let path = CommandArguments.path("PATH")
        XCTAssertEqual(try path.parse("  ~/My Contacts.vcf "), NSHomeDirectory() + "/My Contacts.vcf", "the whole rest, spaces and all")
        XCTAssertEqual(try path.parse(#""/tmp/a b.csv""#), "/tmp/a b.csv")
        XCTAssertThrowsError(try path.parse(#""""#))
    }

    func testChoicesAmongFixedWords() throws {
        let status = CommandArguments.choice(["available", "away", "dnd", "xa", "chat"]).then(.optionalText("TEXT"))
        XCTAssertEqual(status.usage, "available|away|dnd|xa|chat [TEXT]")
        let away = try status.parse("Away  Out for lunch")
        XCTAssertEqual(away.0, "away", "any case, the table's spelling")
        XCTAssertEqual(away.1, "Out for lunch")
        XCTAssertNil(try status.parse("dnd").1)
        XCTAssertThrowsError(try status.parse("asleep"))
        let busy = CommandArguments.choice(["busy"]).optional()
        XCTAssertEqual(busy.usage, "[busy]")
        XCTAssertNil(try busy.parse(""))
        XCTAssertEqual(try busy.parse("busy"), "busy")
        XCTAssertThrowsError(try busy.parse("later"))
    }

    func testSettingsCheckNameAndValue() throws {
        XCTAssertEqual(try CommandArguments.setting.parse("notify osc9"), .notify(.osc9))
        XCTAssertEqual(try CommandArguments.setting.parse("notify notify-send"), .notify(.notifySend))
        XCTAssertEqual(try CommandArguments.setting.parse("keypad off"), .keypad(false))
        for wrong in ["notify", "notify loud", "keypad maybe", "volume 11", "keypad on off", ""] {
            XCTAssertThrowsError(try CommandArguments.setting.parse(wrong), wrong)
        }
    }

    func testNumberOrNameAndNumberOrAddress() throws {
        let account = CommandArguments.numberOrName("N | ADDRESS").optional()
        XCTAssertEqual(account.usage, "[N | ADDRESS]")
        XCTAssertEqual(try account.parse("2"), .number(2))
        XCTAssertEqual(try account.parse("work@"), .name("work@"))
        XCTAssertEqual(try account.parse("007"), .name("007"))
        XCTAssertNil(try account.parse(""))
        let cmd = CommandArguments.numberOrAddress("ADDRESS | N")
        XCTAssertEqual(try cmd.parse("3"), .number(3))
        XCTAssertEqual(try cmd.parse("cheogram.com"), .address(try JID("cheogram.com")))
        XCTAssertThrowsError(try cmd.parse("not an address"))
        XCTAssertThrowsError(try cmd.parse("@@"))
    }

    func testDigitsDropTheirSpaces() throws {
        let dtmf = try XCTUnwrap(CommandTable.spec(named: "dtmf"))
        XCTAssertEqual(dtmf.usage, "/dtmf DIGITS")
        XCTAssertThrowsError(try dtmf.bind("", ArgumentContext()))
        XCTAssertEqual(try CommandArguments.text("DIGITS").map { $0.filter { !$0.isWhitespace } }.parse("1 2 3 #"), "123#")
    }
}
