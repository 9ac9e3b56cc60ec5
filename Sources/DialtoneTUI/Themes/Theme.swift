import Foundation
import TOMLKit

/// Themes are data: a TOML file names a colour and attributes for each role the screen draws,
///
///     name = "dark"
///     [styles]
///     timestamp = { fg = "blue" }
///     ownName   = { fg = "green", bold = true }
///     statusBar = { fg = "white", bg = "blue" }
///
/// Shipped themes live in the repository's Themes/ (installed in PREFIX/share/dialtone/themes
/// by Scripts/install, or found through DIALTONE_THEMES), user ones in $XDG_CONFIG_HOME/dialtone/themes/; a user theme of
/// the same name wins. Roles a theme leaves out keep the built-in look.
public enum Theme {
    public static func load(named name: String, searchPath: [String] = Theme.searchPath) throws(ThemeError) -> Palette {
        let safe = name.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }
        guard !safe.isEmpty, safe == name else { throw .badName(name) }
        for directory in searchPath {
            let path = (directory as NSString).appendingPathComponent("\(name).toml")
            if let text = try? String(contentsOfFile: path, encoding: .utf8) { return try parse(text, file: path) }
        }
        throw .notFound(name, available: available(searchPath: searchPath))
    }

    public static func parse(_ text: String, file: String = "theme") throws(ThemeError) -> Palette {
        let table: TOMLTable
        do { table = try TOMLTable(string: text) } catch { throw .malformed(file, String(describing: error)) }
        var palette = Palette.builtInDark
        guard let styles = table["styles"]?.table else { return palette }
        for (key, value) in styles {
            guard let role = StyleRole(rawValue: key) else { throw .malformed(file, "unknown role \"\(key)\"") }
            guard let entry = value.table else { throw .malformed(file, "\(key) must be a table such as { fg = \"blue\" }") }
            var style = Palette.Style()
            for (attribute, setting) in entry {
                switch attribute {
                case "fg", "bg":
                    let name = setting.string ?? setting.int.map(String.init) ?? ""
                    if let colour = Palette.Color(rawValue: name) {
                        if attribute == "fg" { style.foreground = colour } else { style.background = colour }
                    } else if let extended = Palette.ExtendedColor(name) {
                        // 256-colour or 24-bit: kept for terminals that have them, with the
                        // nearest of the eight as the fallback.
                        if attribute == "fg" {
                            style.extendedForeground = extended
                            style.foreground = extended.basic
                        } else {
                            style.extendedBackground = extended
                            style.background = extended.basic
                        }
                    } else {
                        throw .malformed(file, "\(key).\(attribute) must be one of \(Palette.Color.allCases.map(\.rawValue).joined(separator: ", ")), a colour number 0–255 or \"#rrggbb\"")
                    }
                case "bold": style.bold = setting.bool ?? false
                case "dim": style.dim = setting.bool ?? false
                case "reverse": style.reverse = setting.bool ?? false
                case "underline": style.underline = setting.bool ?? false
                default: throw .malformed(file, "unknown attribute \(key).\(attribute)")
                }
            }
            palette.styles[role] = style
        }
        return palette
    }

    /// Where themes are looked for, user first.
    public static var searchPath: [String] {
        let environment = ProcessInfo.processInfo.environment
        var paths: [String] = []
        let configHome = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory() + "/.config"
        paths.append(configHome + "/dialtone/themes")
        if let shipped = environment["DIALTONE_THEMES"], !shipped.isEmpty { paths.append(shipped) }
        // Beside a built binary in .build/…/dialtone, the repository's Themes/ is four levels up.
        // The binary's own path, not argv[0], which is a bare name when found through PATH.
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first ?? ""
        let binary = URL(fileURLWithPath: executable).resolvingSymlinksInPath().deletingLastPathComponent()
        for levels in [0, 3, 4] {
            var directory = binary
            for _ in 0..<levels { directory.deleteLastPathComponent() }
            paths.append(directory.appendingPathComponent("Themes").path)
        }
        // Scripts/install PREFIX: PREFIX/bin/dialtone and PREFIX/share/dialtone/themes.
        paths.append(binary.deletingLastPathComponent().appendingPathComponent("share/dialtone/themes").path)
        paths.append("/usr/share/dialtone/themes")
        return paths
    }

    public static func available(searchPath: [String] = Theme.searchPath) -> [String] {
        var names: Set<String> = []
        for directory in searchPath {
            for file in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where file.hasSuffix(".toml") {
                names.insert(String(file.dropLast(5)))
            }
        }
        return names.sorted()
    }
}

public enum ThemeError: Error, Sendable, Equatable, CustomStringConvertible {
    case badName(String)
    case notFound(String, available: [String])
    case malformed(String, String)

    public var description: String {
        switch self {
        case .badName(let name): "\"\(name)\" is not a theme name (letters, digits, - and _)."
        case .notFound(let name, let available): "No theme \"\(name)\"" + (available.isEmpty ? "." : "; there are \(available.joined(separator: ", ")).")
        case .malformed(let file, let why): "\(file): \(why)."
        }
    }
}
