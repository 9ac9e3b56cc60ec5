import ArgumentParser
import DialtoneCore
import Foundation
import Logging

/// `text` ending in exactly one full stop (a reason may already end in its own).
func sentence(_ text: String) -> String {
    text.hasSuffix(".") || text.hasSuffix("!") || text.hasSuffix("?") ? text : text + "."
}

/// A failure to report as one sentence on standard error, with exit status 1. It may quote
/// what a server or peer said, so it is sanitised like everything else we print.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = Sanitizer.multiline(description) }
}

/// Human-readable output on standard output: what came from the network never reaches the
/// terminal raw (C0/C1 controls, bidi overrides, invisible characters), whatever part of a
/// line it is in; our own tabs and newlines stay.
func printForPeople(_ line: String) {
    FileHandle.standardOutput.write(Data((Sanitizer.terminal(line) + "\n").utf8))
}

/// What every subcommand sets up first: logging to a file, the account, its session.
struct CommandRuntime {
    let account: AccountConfiguration
    let options: GlobalOptions

    init(_ options: GlobalOptions) throws {
        self.options = options
        FileLogging.bootstrap(path: options.logFile ?? Paths.logFile, level: Logger.Level(rawValue: options.logLevel) ?? .info)
        let configuration: Configuration
        do { configuration = try Configuration.load(from: options.configurationPath) } catch { throw CLIError(error.description) }
        do { account = try configuration.account(options.account) } catch { throw CLIError(error.description) }
        warnings = configuration.warnings
        for warning in warnings {
            FileHandle.standardError.write(Data("Warning: \(warning)\n".utf8))
            Logger(label: "dialtone").warning("\(warning)")
        }
    }

    /// The configuration's warnings, already printed on standard error (the TUI shows them too).
    let warnings: [String]

    func openSession(calls: CallSettings? = nil) throws -> AccountSession {
        try Self.openSession(for: account, calls: calls)
    }

    /// `joinsRooms` for what stays (the TUI, `listen`): it joins the bookmarked rooms at start.
    /// A one-shot command does not come and go in every room.
    static func openSession(for account: AccountConfiguration, calls: CallSettings? = nil,
                            joinsRooms: Bool = false) throws -> AccountSession {
        do { return try AccountSession.open(account, calls: calls, joinsRooms: joinsRooms, logger: Logger(label: "dialtone")) } catch {
            throw CLIError(String(describing: error))
        }
    }

    /// The account `--account` names, or else every account of the configuration (for the
    /// subcommands that serve them all at once: listen, search).
    func selectedAccounts() throws -> [AccountConfiguration] {
        options.account == nil ? try allAccounts() : [account]
    }

    /// Every account of the configuration, in its order (the TUI runs them side by side).
    func allAccounts() throws -> [AccountConfiguration] {
        do { return try Configuration.load(from: options.configurationPath).accounts } catch {
            throw CLIError(error.description)
        }
    }
}

/// The asoundrc text of `--alsa-config FILE`, for the audio subcommands.
func readALSAConfiguration(_ path: String) throws -> String {
    do { return try String(contentsOfFile: path, encoding: .utf8) } catch {
        throw CLIError("Cannot read the ALSA configuration \(path).")
    }
}

/// Checks a typed recipient without the network (a typo fails before connecting).
func parseRecipient(_ text: String, in session: AccountSession) throws -> RecipientResolver.Parsed {
    do { return try session.recipients.parse(text, contacts: session.records.contacts(), addressBook: session.records.addressBook()) } catch {
        throw CLIError(String(describing: error))
    }
}

/// The conversation a typed recipient names in the store, without the network (`history`,
/// `calls --with`): a number is looked for under the gateway's address.
func conversationAddress(_ text: String, in session: AccountSession) throws -> String {
    do { return try session.recipients.localAddress(for: parseRecipient(text, in: session)).bare.description } catch let error as RecipientError {
        throw CLIError(error.description)
    }
}

/// The row of the message with `id` in the conversation with `to` (for a reply or a reaction).
func referencedMessage(_ id: String, with to: String, in session: AccountSession) throws -> Int64 {
    let peer = try conversationAddress(to, in: session)
    guard let message = try Contacts.run({ try session.records.message(withID: id, in: peer) }), let row = message.id else {
        throw CLIError("No message in the conversation with \(Sanitizer.plain(to)) has the id \(Sanitizer.plain(id)) (\"id\" in dialtone history --json).")
    }
    return row
}

/// Waits for SIGINT or SIGTERM, so that a listener can close its stream politely.
///
/// A handler writes one byte to a pipe (the only safe thing to do in a signal handler) and a
/// thread blocked on the pipe's other end wakes the waiting task. libdispatch's signal
/// sources are no help here: with the signal ignored the kernel discards it first.
enum SignalWaiter {
    nonisolated(unsafe) private static var writeEnd: Int32 = -1

    static func waitForTermination() -> Task<Void, Never> {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return Task {} }
        writeEnd = ends[1]
        let handler: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(SignalWaiter.writeEnd, &byte, 1)
        }
        signal(SIGINT, handler)
        signal(SIGTERM, handler)
        let readEnd = ends[0]
        let (stream, continuation) = AsyncStream<Void>.makeStream()
        let thread = Thread {
            var byte: UInt8 = 0
            while read(readEnd, &byte, 1) < 0 && errno == EINTR {}
            continuation.yield()
            continuation.finish()
        }
        thread.start()
        return Task {
            for await _ in stream { break }
        }
    }
}
