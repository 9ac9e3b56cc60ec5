import ArgumentParser

/// Lets the global options come before the subcommand, as in `git -C DIR log` or
/// `dialtone --config F send bob@example.org hi`.
///
/// swift-argument-parser reads an option only at the level that declares it, and every leaf
/// subcommand declares `GlobalOptions`; so the global options written before the subcommand's
/// name are moved to just after it (after the whole path, for `contacts import`). Nothing else
/// moves, so every other mistake is reported by the parser as before.
enum GlobalArgumentOrder {
    /// `GlobalOptions`' names; each takes a value, as the next argument or after `=`.
    static let optionNames: Set<String> = ["--config", "--account", "--log-file", "--log-level"]

    static func reordered(_ arguments: [String], root: any ParsableCommand.Type) -> [String] {
        var index = arguments.startIndex
        var global: [String] = []
        while index < arguments.endIndex {
            let argument = arguments[index]
            if optionNames.contains(argument), index + 1 < arguments.endIndex {
                global += arguments[index...index + 1]
                index += 2
            } else if let equals = argument.firstIndex(of: "="), optionNames.contains(String(argument[..<equals])) {
                global.append(argument)
                index += 1
            } else {
                break
            }
        }
        guard !global.isEmpty else { return arguments }
        // The subcommand's path: the names that follow, as deep as they go.
        var command = root
        var end = index
        while end < arguments.endIndex, let subcommand = command.configuration.subcommands.first(where: {
            $0._commandName == arguments[end] || $0.configuration.aliases.contains(arguments[end])
        }) {
            command = subcommand
            end += 1
        }
        // No subcommand named: the default one (the terminal interface) gets them where they are.
        guard end > index else { return arguments }
        return Array(arguments[index..<end]) + global + Array(arguments[end...])
    }
}
