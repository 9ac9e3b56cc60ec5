import DialtoneTUI
import XCTest

final class LineEditorTests: XCTestCase {
    func testEmacsKeysWorkByCluster() {
        var editor = LineEditor(text: "héllo wörld 👩‍👩‍👧")
        editor.backspace()
        XCTAssertEqual(editor.text, "héllo wörld ", "one backspace removes the whole family emoji")
        editor.wordBackward()
        XCTAssertEqual(editor.cursor, 6)
        editor.killToEnd()
        XCTAssertEqual(editor.text, "héllo ")
        editor.home()
        editor.wordForward()
        XCTAssertEqual(editor.cursor, 5)
        editor.end()
        editor.insert("there")
        editor.killWordBackward()
        XCTAssertEqual(editor.text, "héllo ")
        editor.yank()
        XCTAssertEqual(editor.text, "héllo there")
        editor.left(); editor.left()
        editor.killToStart()
        XCTAssertEqual(editor.text, "re")
        XCTAssertEqual(editor.cursor, 0)
    }

    func testCombiningMarkTypedAfterItsBaseJoinsIt() {
        var editor = LineEditor()
        editor.insert("e")
        editor.insert("\u{301}")
        XCTAssertEqual(editor.characters.count, 1)
        XCTAssertEqual(editor.cursor, 1)
    }

    func testViewScrollsToKeepTheCursorVisible() {
        var editor = LineEditor(text: "0123456789李")
        let (text, column) = editor.view(width: 6)
        XCTAssertEqual(column, 5)
        XCTAssertEqual(TerminalWidth.columns(of: text) <= 6, true)
        XCTAssertTrue(text.hasSuffix("李"))
        var pasted = LineEditor()
        pasted.insert("one\r\ntwo")
        XCTAssertEqual(pasted.text, "one\ntwo")
        XCTAssertEqual(pasted.view(width: 20).text, "one↵two")
    }

    func testHistoryWalksBackAndRestoresTheDraft() {
        var history = InputHistory()
        history.record("first")
        history.record("second")
        XCTAssertEqual(history.older(current: "draft"), "second")
        XCTAssertEqual(history.older(current: "second"), "first")
        XCTAssertNil(history.older(current: "first"))
        XCTAssertEqual(history.newer(), "second")
        XCTAssertEqual(history.newer(), "draft")
        XCTAssertNil(history.newer())
    }
}
