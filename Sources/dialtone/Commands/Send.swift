import ArgumentParser
import DialtoneCore
import Foundation

struct Send: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send a message; exits 0 once the server has confirmed it.")

    @OptionGroup var options: GlobalOptions

    @Option(help: ArgumentHelp("Give up after this many seconds (the message stays in the outbox and goes next time).", valueName: "seconds"))
    var timeout: Double = 60

    @Argument(help: "The recipient: an address, a contact's name, or a phone number in any common form; several, separated by commas, start a group text.")
    var to: String

    /// "alice, +1 555 123 4567, bob": a group text (an address never lacks its @).
    var groupParts: [String]? {
        guard to.contains(","), !to.contains("@") else { return nil }
        return to.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    @Option(help: ArgumentHelp("Upload a file (XEP-0363) and send its link, with TEXT as its caption.", valueName: "file"))
    var attach: String?

    @Option(name: .customLong("reply-to"),
            help: ArgumentHelp("Answer the message with this id (\"id\" in history --json or listen --json) in the conversation with TO (XEP-0461).",
                               valueName: "id"))
    var replyTo: String?

    @Argument(help: "The text to send (optional with --attach).")
    var text: String?

    func validate() throws {
        if text == nil && attach == nil { throw ValidationError("Give the text to send, or --attach FILE.") }
        if replyTo != nil && (attach != nil || text == nil) { throw ValidationError("--reply-to sends a text, not --attach.") }
        if replyTo != nil && groupParts != nil { throw ValidationError("--reply-to answers in one conversation, not a new group text.") }
    }

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        // A typo in the recipient fails at once, before any connection.
        for part in groupParts ?? [to] { _ = try parseRecipient(part, in: session) }
        // So does an id that is not in the conversation.
        let answered = try replyTo.map { id in try referencedMessage(id, with: to, in: session) }
        let events = await session.events()
        await session.start()
        // Why the last attempt to connect failed while it retries (a server that did not offer
        // TLS, say): what a timeout names, so the user learns why rather than only that.
        let retrying = RetryReason()
        let outcome = await withTaskGroup(of: SendOutcome.self) { group in
            group.addTask {
                var sentID: Int64?
                for await event in events {
                    switch event {
                    case .connection(.online) where sentID == nil:
                        do {
                            let recipient: JID
                            if let groupParts { recipient = try await session.resolveGroup(groupParts) } else {
                                recipient = try await session.resolveRecipient(to)
                            }
                            // A group chat is joined first (a known one joins as Core sends).
                            if await !session.isRoom(recipient), await session.isGroupChat(recipient) {
                                try await session.joinRoom(recipient)
                            }
                            if let attach {
                                sentID = try await session.sendAttachment(path: attach, to: recipient, caption: text,
                                                                          progress: ProgressBar.standardError(label: "uploading")).id
                            } else if let answered {
                                sentID = try await session.sendReply(to: recipient, body: text ?? "", replyingTo: answered).id
                            } else {
                                sentID = try await session.sendMessage(to: recipient, body: text ?? "").id
                            }
                        } catch {
                            return .failed("\(error)")
                        }
                    case .connection(.offline(let reason?)):
                        return .failed(reason)
                    case .connection(.waitingToReconnect(let reason, _)):
                        retrying.set(reason)
                    case .connection(.online):
                        retrying.set(nil)
                    case .status(let id, let status) where id == sentID && (status == .sent || status == .delivered):
                        return .sent
                    case .held(_, let id, let reason) where id == sentID:
                        return .failed(reason)
                    default:
                        continue
                    }
                }
                return .failed("The session ended before the server confirmed the message.")
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                if let reason = retrying.get() {
                    return .failed("\(reason) Gave up after \(Int(timeout)) s; the message stays in the outbox.")
                }
                return .failed("The server did not confirm the message within \(Int(timeout)) s; it stays in the outbox.")
            }
            let first = await group.next() ?? .failed("interrupted")
            group.cancelAll()
            return first
        }
        await session.stop()
        if case .failed(let reason) = outcome {
            throw CLIError(reason)
        }
    }

    enum SendOutcome: Sendable {
        case sent
        case failed(String)
    }
}

