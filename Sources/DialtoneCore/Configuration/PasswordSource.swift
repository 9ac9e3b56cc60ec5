import Foundation

/// Reads an account's password from a command (`pass show xmpp`) or a private file,
/// never from the command line, where other users could see it.
enum PasswordSource {
    static func password(for account: AccountConfiguration) throws(ConfigurationError) -> String {
        if let command = account.passwordCommand { return try run(command, account: account.jid) }
        if let file = account.passwordFile { return try read(file, account: account.jid) }
        throw .password("Account \(account.jid) has neither password_command nor password_file.")
    }

    private static func run(_ command: String, account: String) throws(ConfigurationError) -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", command]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch {
            throw .password("Could not run password_command for \(account): \(error.localizedDescription)")
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw .password("password_command for \(account) failed with status \(process.terminationStatus).")
        }
        // Like pass(1): the first line is the password.
        let text = String(decoding: data, as: UTF8.self)
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }

    private static func read(_ path: String, account: String) throws(ConfigurationError) -> String {
        let expanded = (path as NSString).expandingTildeInPath
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: expanded),
              let permissions = attributes[.posixPermissions] as? Int else {
            throw .password("Cannot read password_file \(expanded) for \(account).")
        }
        guard permissions & 0o077 == 0 else {
            throw .password("password_file \(expanded) is readable by others (mode \(String(permissions, radix: 8))); run chmod 600 on it.")
        }
        guard let text = try? String(contentsOfFile: expanded, encoding: .utf8) else {
            throw .password("Cannot read password_file \(expanded) for \(account).")
        }
        return String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
    }
}
