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
