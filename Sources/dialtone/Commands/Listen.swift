import ArgumentParser
import DialtoneCore
import Foundation

struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Stay connected and print what arrives, until interrupted (SIGINT or SIGTERM).",
        discussion: "Every account of the configuration at once, unless --account names one.")

    @OptionGroup var options: GlobalOptions

    @Flag(help: "One JSON object per line for each message and event (each with its account).")
    var json = false

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let sessions = try runtime.selectedAccounts().map { try CommandRuntime.openSession(for: $0, joinsRooms: true) }
        let stop = SignalWaiter.waitForTermination()
        // One printer a session; with several accounts, human lines say whose they are.
        var printing: [Task<String?, Never>] = []
        for session in sessions {
            let events = await session.events()
            let output = EventPrinter(json: json, account: session.account.description, names: { try? session.displayNames() },
                                      labelled: sessions.count > 1, room: { try? session.records.room($0) })
            await session.start()
            printing.append(Task {
                for await event in events {
                    output.print(event)
                    if case .connection(.offline(let reason?)) = event { return "\(session.account.bare): \(reason)" as String? }
                }
                return nil
            })
        }
        let tasks = printing
        // Until interrupted, or until every account has failed for good.
        let failures = await withTaskGroup(of: [String]?.self) { group in
            group.addTask {
                var failures: [String] = []
                for task in tasks { if let failure = await task.value { failures.append(failure) } }
                return failures
            }
            group.addTask { await withTaskCancellationHandler { await stop.value } onCancel: { stop.cancel() }; return nil }
            let first = await group.next() ?? nil
            for task in tasks { task.cancel() }
            group.cancelAll()
            return first ?? []
        }
        for session in sessions { await session.stop() }
        if !failures.isEmpty { throw CLIError(failures.joined(separator: "\n")) }
    }
}

/// Prints core events for humans or, with --json, as one object per line for scripts.
struct EventPrinter: Sendable {
    let json: Bool
    /// Our own address: the `to` of what we receive.
    let account: String
    /// Names for the human-readable form (read afresh, since imports and roster pushes change them).
    var names: @Sendable () -> DisplayNames? = { nil }
    /// Human lines begin with the account (when one process serves several).
    var labelled = false
    /// The group chat an address is, if it is one (for `room`, `nick` and `mention`).
    var room: @Sendable (String) -> RoomRecord? = { _ in nil }

    func print(_ event: CoreEvent) {
        if json {
            guard var object = Self.jsonObject(event, account: account, room: room) else { return }
            object["account"] = account
            JSONLines.write(object)
        } else if let line = Self.text(event, names: names()) {
            printForPeople(labelled ? "[\(account)] \(line)" : line)
        }
    }

    static func jsonObject(_ event: CoreEvent, account: String, room: (String) -> RoomRecord? = { _ in nil }) -> [String: Any]? {
        switch event {
        case .connection(let state):
            var object: [String: Any] = ["type": "connection", "state": Self.stateName(state)]
            switch state {
            case .waitingToReconnect(let reason, _), .offline(let reason?): object["reason"] = reason
            default: break
            }
            return object
        case .message(let peer, let message):
            return messageObject(peer: peer, message, account: account, room: room(peer))
        case .room(let event):
            return roomObject(event)
        case .status(let id, let status):
            return ["type": "status", "message_id": id, "status": status.rawValue]
        case .held(let peer, let id, let reason):
            return ["type": "held", "peer": peer, "message_id": id, "reason": reason]
        case .sentEncrypted(_, let message):
            guard let id = message.id else { return nil }
            return ["type": "status", "message_id": id, "status": message.status.rawValue, "encrypted": true]
        case .contactsChanged:
            return ["type": "contacts"]
        case .presence(let presence):
            var object: [String: Any] = ["type": "presence", "from": presence.from.description, "available": presence.available]
            if let show = presence.show { object["show"] = show }
            if let status = presence.status { object["status"] = status }
            return object
        case .rejected(let reason):
            return ["type": "rejected", "reason": reason]
        case .corrected(let peer, let message):
            var object = messageObject(peer: peer, message, account: account)
            object["type"] = "correction"
            return object
        case .retracted(let peer, let message):
            var object = messageObject(peer: peer, message, account: account)
            object["type"] = "retraction"
            return object
        case .reacted(let peer, let message, let sender, let reactions):
            var object: [String: Any] = ["type": "reaction", "peer": peer, "from": sender, "reactions": reactions,
                                         "id": message.stanzaID ?? NSNull()]
            if let id = message.id { object["message_id"] = id }
            return object
        case .readElsewhere(let peer, let unread):
            return ["type": "read", "peer": peer, "unread": unread]
        case .chatState(let peer, let state):
            return ["type": "chat_state", "peer": peer, "state": state]
        case .call(let info):
            return callObject(info)
        case .callDigit(let id, let digit):
            return ["type": "dtmf", "call": id, "digit": String(digit)]
        case .subscriptionRequest(let from, let nick):
            return ["type": "subscription_request", "from": from, "nick": nick ?? NSNull()]
        case .subscriptionAnswered(let from, let accepted):
            return ["type": "subscription_answer", "from": from, "accepted": accepted]
        }
    }

    static func callObject(_ info: CallInfo) -> [String: Any] {
        var object: [String: Any] = [
            "type": "call", "call": info.id, "peer": info.peer.description, "direction": info.direction.rawValue,
            "state": info.state.rawValue, "started": XMPPDateTime.format(info.startedAt),
        ]
        if let remote = info.remote { object["remote"] = remote.description }
        if let outcome = info.outcome { object["outcome"] = outcome.rawValue }
        if let reason = info.reason { object["reason"] = reason }
        if let path = info.path { object["path"] = path }
        if let codec = info.codec { object["codec"] = codec }
        if let protection = info.protection {
            // Both DTLS fingerprints went OMEMO-encrypted with this device of the peer.
            object["omemo_device"] = Int(protection.device)
            object["verified"] = protection.verified
        }
        if let duration = info.duration() { object["duration"] = (duration * 1000).rounded() / 1000 }
        if let ended = info.endedAt { object["ended"] = XMPPDateTime.format(ended) }
        if let connected = info.connectedAt { object["connected"] = XMPPDateTime.format(connected) }
        if let accepted = info.acceptedAt { object["accepted"] = XMPPDateTime.format(accepted) }
        if info.muted { object["muted"] = true }
        if info.held { object["held"] = true }
        // When this state was reported, for scripts that time calls.
        object["at"] = XMPPDateTime.format(Date())
        return object
    }

    static func roomObject(_ event: RoomEvent) -> [String: Any] {
        switch event {
        case .joined(let room, let nick): ["type": "room", "event": "joined", "room": room, "nick": nick]
        case .left(let room, let reason): ["type": "room", "event": "left", "room": room, "reason": reason ?? NSNull()]
        case .subject(let room, let subject, let by):
            ["type": "room", "event": "subject", "room": room, "subject": subject ?? NSNull(), "nick": by ?? NSNull()]
        case .occupant(let room, let occupant, let present):
            ["type": "room", "event": present ? "present" : "gone", "room": room, "nick": occupant.nick,
             "role": occupant.role ?? NSNull(), "affiliation": occupant.affiliation ?? NSNull(),
             "jid": occupant.jid?.description ?? NSNull()]
        case .nickChanged(let room, let from, let to): ["type": "room", "event": "nick", "room": room, "nick": from, "new_nick": to]
        case .refused(let room, let reason): ["type": "room", "event": "refused", "room": room, "reason": reason]
        case .invited(let room, let by, let reason):
            ["type": "room", "event": "invited", "room": room, "from": by ?? NSNull(), "reason": reason ?? NSNull()]
        }
    }

    /// A message as JSON; `room` is the group chat it was said in (its record), if any.
    static func messageObject(peer: String, _ message: StoredMessage, account: String, room: RoomRecord? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "type": "message", "peer": peer, "direction": message.direction.rawValue,
            "from": message.sender, "to": message.direction == .incoming ? account : peer,
            "timestamp": XMPPDateTime.format(message.timestamp), "status": message.status.rawValue,
        ]
        if let id = message.id { object["message_id"] = id }
        object["id"] = message.stanzaID ?? NSNull()
        object["body"] = message.body ?? NSNull()
        object["subject"] = message.subject ?? NSNull()
        if let archiveID = message.archiveID { object["archive_id"] = archiveID }
        object["attachments"] = message.attachments.map { attachment -> [String: Any] in
            var entry: [String: Any] = ["url": attachment.url]
            if let type = attachment.mediaType { entry["media_type"] = type }
            if let name = attachment.name { entry["name"] = name }
            if let size = attachment.size { entry["size"] = size }
            if let description = attachment.description { entry["description"] = description }
            return entry
        }
        if message.direction == .incoming && message.sender.contains(",") == false && peer.contains(",") {
            object["group"] = peer
        }
        if let edited = message.editedAt { object["edited"] = XMPPDateTime.format(edited) }
        if let retracted = message.retractedAt { object["retracted"] = XMPPDateTime.format(retracted) }
        if let moderation = message.moderation {
            object["moderated_by"] = moderation.moderator ?? NSNull()
            if let reason = moderation.reason { object["moderation_reason"] = reason }
        }
        if let reply = message.reply {
            object["reply_to"] = reply.id
            if let quote = reply.quote { object["reply_quote"] = quote }
        }
        if let reactions = message.reactions { object["reactions"] = reactions }
        // End-to-end encryption: whether it was, with the sending device's trust, or why it
        // could not be read.
        object["encrypted"] = message.encryption.map { $0.failure == nil } ?? false
        if let encryption = message.encryption {
            object["trust"] = encryption.trust?.rawValue ?? NSNull()
            if let device = encryption.device { object["device"] = Int(device) }
            if let failure = encryption.failure { object["decryption_error"] = failure }
        }
        if let room {
            object["room"] = room.jid
            let nick = message.direction == .incoming ? Occupant.nick(inAddress: message.sender)
                : room.nick
            object["nick"] = nick ?? NSNull()
            object["to"] = room.jid
            object["mention"] = message.direction == .incoming && Mention.mentions(room.nick, in: message.body ?? "")
        }
        return object
    }

    static func stateName(_ state: ConnectionState) -> String {
        switch state {
        case .connecting: "connecting"
        case .online: "online"
        case .waitingToReconnect: "reconnecting"
        case .offline: "offline"
        }
    }

    static func text(_ event: CoreEvent, names: DisplayNames?) -> String? {
        switch event {
        case .connection(let state): return "-- \(state)"
        case .message(let peer, let message):
            let name = { (address: String) in Sanitizer.plain(names?.name(for: address) ?? address) }
            let inRoom = names?.isRoom(peer) == true
            let group = peer.contains(",") || inRoom ? " in \(name(peer))" : ""
            // In a room its occupants go by their nicks there.
            let sender = inRoom ? Sanitizer.plain(Occupant.nick(inAddress: message.sender) ?? peer)
                : name(message.sender)
            var line = "[\(message.timestamp.formatted(date: .omitted, time: .shortened))] "
                + (message.direction == .incoming ? "\(sender)\(group)" : "me → \(name(peer))")
            if let subject = message.subject { line += " [\(Sanitizer.plain(subject))]" }
            let body = message.body.map { names?.annotate($0) ?? $0 }
            if let reply = message.reply {
                let author = reply.author.map { Sanitizer.plain(names?.name(for: $0) ?? $0) + ": " } ?? ""
                line += " (replying to \(author)“\(Sanitizer.plain(reply.quote ?? "…"))”)"
            }
            line += ": " + Sanitizer.plain(body ?? "")
            for attachment in message.attachments {
                // The name `download` saves it under, then the link to give it.
                line += "\n    📎 \(AttachmentFile(attachment).label) \(Sanitizer.plain(attachment.url))"
            }
            return line
        case .rejected(let reason): return "-- rejected: \(reason)"
        case .room(.joined(let room, let nick)): return "-- joined \(room) as \(Sanitizer.plain(nick))"
        case .room(.left(let room, let reason)): return "-- left \(room)" + (reason.map { ": \($0)" } ?? "")
        case .room(.subject(let room, let subject, _)): return "-- subject of \(room): \(Sanitizer.plain(subject ?? "(none)"))"
        case .room(.invited(let room, let by, let reason)):
            let who = by.map { Sanitizer.plain(names?.name(for: $0) ?? $0) } ?? "someone"
            return "-- \(who) invites you to \(Sanitizer.plain(room))" + (reason.map { ": \(Sanitizer.plain($0))" } ?? "")
                + " (dialtone join \(Sanitizer.plain(room)))"
        case .call(let info):
            let line = "-- " + CallText.line(info, name: Sanitizer.plain(names?.name(for: info.peer.description) ?? info.peer.description))
            return info.state == .ended ? line : line + (CallText.protection(info).map { " · \($0)" } ?? "")
        case .callDigit(_, let digit): return "-- DTMF \(digit)"
        case .held(_, _, let reason): return "-- not sent: \(Sanitizer.plain(reason))"
        case .reacted(_, let message, let sender, let reactions):
            let who = Sanitizer.plain(names?.name(for: sender) ?? sender)
            let what = reactions.isEmpty ? "took back their reactions" : "reacted " + Sanitizer.plain(reactions.joined(separator: " "))
            let quoted = MessagingPreview.firstLine(of: message).map { " to “\(Sanitizer.plain($0))”" } ?? ""
            return "-- \(who) \(what)\(quoted)"
        case .retracted(let peer, let message):
            if let moderation = message.moderation {
                let by = moderation.moderator.map { Sanitizer.plain($0) } ?? "a moderator"
                let reason = moderation.reason.map { ": " + Sanitizer.plain($0) } ?? ""
                return "-- \(by) took down a message in \(Sanitizer.plain(peer))\(reason)"
            }
            let name = Sanitizer.plain(names?.name(for: message.direction == .incoming ? message.sender : peer) ?? peer)
            return message.direction == .incoming ? "-- \(name) took back a message" : "-- you took back a message to \(name)"
        case .subscriptionRequest(let from, let nick):
            let who = Sanitizer.plain(nick.map { "\($0) (\(from))" } ?? from)
            return "-- \(who) asks to see your presence: dialtone contacts accept \(Sanitizer.plain(from)) (or deny)"
        case .subscriptionAnswered(let from, let accepted):
            let name = Sanitizer.plain(names?.name(for: from) ?? from)
            return accepted ? "-- \(name) accepted your request to see their presence" : "-- \(name) refused your request to see their presence"
        default: return nil
        }
    }
}

/// One JSON object per line on standard output, keys sorted.
///
/// Our own writer: Foundation's JSONSerialization cost a third of the listener's CPU during a
/// burst of 10,000 messages, and our objects are flat (strings, numbers, booleans, null, lists).
enum JSONLines {
    static func write(_ object: [String: Any]) {
        var text = ""
        text.reserveCapacity(512)
        append(object, to: &text)
        text.append("\n")
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    static func encode(_ object: [String: Any]) -> String {
        var text = ""
        append(object, to: &text)
        return text
    }

    private static func append(_ value: Any, to text: inout String) {
        switch value {
        case let string as String: appendString(string, to: &text)
        case let bool as Bool: text += bool ? "true" : "false"
        case let int as Int: text += String(int)
        case let int as Int64: text += String(int)
        case let double as Double: text += double.isFinite ? String(double) : "null"
        case let list as [Any]:
            text.append("[")
            for (index, element) in list.enumerated() {
                if index > 0 { text.append(",") }
                append(element, to: &text)
            }
            text.append("]")
        case let dictionary as [String: Any]:
            text.append("{")
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { text.append(",") }
                appendString(key, to: &text)
                text.append(":")
                append(dictionary[key]!, to: &text)
            }
            text.append("}")
        default: text += "null"
        }
    }

    private static func appendString(_ string: String, to text: inout String) {
        text.append("\"")
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": text += "\\\""
            case "\\": text += "\\\\"
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            case "\u{08}": text += "\\b"
            case "\u{0C}": text += "\\f"
            // C0 as JSON requires; C1, DEL, line separators and invisible formatting escaped too,
            // so that a line printed raw on a terminal cannot steer it (the text itself is kept).
            case "\u{00}"..."\u{1F}", "\u{7F}"..."\u{9F}", "\u{2028}", "\u{2029}":
                appendEscaped(scalar, to: &text)
            default:
                if Sanitizer.isInvisibleFormatting(scalar) { appendEscaped(scalar, to: &text) } else { text.unicodeScalars.append(scalar) }
            }
        }
        text.append("\"")
    }

    private static func appendEscaped(_ scalar: Unicode.Scalar, to text: inout String) {
        let hex = String(scalar.value, radix: 16)
        text += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
