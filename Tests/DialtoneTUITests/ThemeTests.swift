@testable import DialtoneTUI
import XCTest

final class ThemeTests: XCTestCase {
    private var shipped: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Themes").path
    }

    func testEveryShippedThemeLoadsAndNamesEveryRole() throws {
        let names = Theme.available(searchPath: [shipped])
        XCTAssertEqual(Set(names), ["dark", "light", "high-contrast", "monochrome"])
        for name in names {
            let text = try String(contentsOfFile: shipped + "/\(name).toml", encoding: .utf8)
            for role in StyleRole.allCases {
                XCTAssertTrue(text.contains("\n\(role.rawValue) = "), "\(name) names \(role.rawValue)")
            }
            XCTAssertNoThrow(try Theme.load(named: name, searchPath: [shipped]), name)
        }
        let dark = try Theme.load(named: "dark", searchPath: [shipped])
        for role in StyleRole.allCases {
            XCTAssertEqual(dark.style(for: role), Palette.builtInDark.style(for: role), "dark.toml is the built-in look: \(role)")
        }
    }

    func testMonochromeHasNoColours() throws {
        let palette = try Theme.load(named: "monochrome", searchPath: [shipped])
        XCTAssertEqual(palette, palette.withoutColours)
    }

    func testUserThemeComesFirstAndBadThemesSayWhy() throws {
        let user = FileManager.default.temporaryDirectory.appendingPathComponent("themes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: user, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: user) }
        try "[styles]\ntimestamp = { fg = \"red\" }\n".write(to: user.appendingPathComponent("dark.toml"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try Theme.load(named: "dark", searchPath: [user.path, shipped]).style(for: .timestamp).foreground, .red)
        XCTAssertThrowsError(try Theme.parse("[styles]\ntimestamp = { fg = \"chartreuse\" }")) {
            XCTAssertTrue(String(describing: $0).contains("must be one of"))
        }
        XCTAssertThrowsError(try Theme.parse("[styles]\nnosuchrole = {}"))
        XCTAssertThrowsError(try Theme.load(named: "../../etc/passwd", searchPath: [shipped]))
        XCTAssertThrowsError(try Theme.load(named: "nope", searchPath: [shipped])) {
            XCTAssertTrue(String(describing: $0).contains("there are dark"), "\($0)")
        }
    }
}

final class ExtendedColourTests: XCTestCase {
    func testHexAndIndexedColoursFallBackToTheEight() throws {
        let palette = try Theme.parse("""
            [styles]
            timestamp = { fg = "#ff8700", bg = "236" }
            peerName = { fg = "color21" }
            ownName = { fg = "green" }
            """)
        let timestamp = palette.style(for: .timestamp)
        XCTAssertEqual(timestamp.extendedForeground, .rgb(0xFF, 0x87, 0x00))
        XCTAssertEqual(timestamp.extendedForeground?.index256, 208, "xterm's 208 is #ff8700")
        XCTAssertEqual(timestamp.foreground, .yellow, "the nearest corner of the RGB cube")
        XCTAssertEqual(timestamp.extendedBackground, .indexed(236))
        XCTAssertEqual(timestamp.background, .black, "a dark grey falls back to black")
        XCTAssertEqual(palette.style(for: .peerName).extendedForeground?.index256, 21)
        XCTAssertEqual(palette.style(for: .peerName).foreground, .blue)
        XCTAssertNil(palette.style(for: .ownName).extendedForeground)
        XCTAssertThrowsError(try Theme.parse("[styles]\ntimestamp = { fg = \"#12345\" }"))
        XCTAssertThrowsError(try Theme.parse("[styles]\ntimestamp = { fg = \"300\" }"))
    }

    func testTheTerminalGetsWhatItCanShow() {
        let orange = Palette.ExtendedColor.rgb(0xFF, 0x87, 0x00)
        XCTAssertEqual(Palette.ExtendedColor.rgb(0, 0, 0).index256, 16)
        XCTAssertEqual(Palette.ExtendedColor.rgb(255, 255, 255).index256, 231)
        XCTAssertEqual(Palette.ExtendedColor.rgb(128, 128, 128).index256, 244)
        XCTAssertEqual(Terminal.number(.red, orange, colours: 8), Int32(1), "eight colours: the fallback")
        XCTAssertEqual(Terminal.number(.red, orange, colours: 256), 208)
        XCTAssertEqual(Terminal.number(.red, orange, colours: 0x100_0000), 0xFF8700, "direct colour: the RGB itself")
        XCTAssertEqual(Terminal.number(.default, nil, colours: 256), -1)
    }
}
