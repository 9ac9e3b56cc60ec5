import DialtoneCore
import Foundation

/// How one message looks as rows: "12:34 Alice: text", later rows indented under the text's
/// start column, attachments on rows of their own, our messages with their delivery mark.
/// Everything from the network passes the Sanitizer here, before it can reach the screen.
public struct MessageFormat: Sendable {
    public var calendar: Calendar
    public var locale: Locale
    /// What our own messages are signed with.
    public var ownName: String

    public init(calendar: Calendar = .current, locale: Locale = .current, ownName: String = "me") {
        self.calendar = calendar
        self.locale = locale
        self.ownName = ownName
    }

    static let timestampWidth = 6  // "HH:mm "

    public func lines(for message: StoredMessage, peer: String, names: any NameSource, width: Int) -> [StyledLine] {
        let time = calendar.dateComponents([.hour, .minute], from: message.timestamp)
        let stamp = Self.clock(time.hour ?? 0, time.minute ?? 0)
        let outgoing = message.direction == .outgoing
        // In a room's own view its occupants go by their nicks there.
        let occupantNick = names.isRoom(peer) ? Occupant.nick(inAddress: message.sender) : nil
        let sender = outgoing ? ownName : Sanitizer.plain(occupantNick ?? names.name(for: message.sender.isEmpty ? peer : message.sender))
        // In a group chat, a message naming our nick stands out.
        let mentionsUs = !outgoing && names.ourNick(in: peer).map { Mention.mentions($0, in: message.body ?? "") } == true
        var head: [TextRun] = [TextRun(stamp, .timestamp), TextRun(sender, outgoing ? .ownName : mentionsUs ? .mention : .peerName),
                               TextRun(": ", .text)]
        if let subject = message.subject.map(Sanitizer.plain), !subject.isEmpty {
            head.append(TextRun("[\(subject)] ", .subject))
        }
        let indent = String(repeating: " ", count: Self.timestampWidth)
        var tail: [TextRun] = []
        if let moderation = message.moderation { tail.append(TextRun(Self.takenDown(moderation), .edited)) }
        else if message.retractedAt != nil { tail.append(TextRun("(taken back)", .edited)) }
        else if message.editedAt != nil { tail.append(TextRun(" (edited)", .edited)) }
        if let encryption = message.encryption { tail.append(Self.encryptionMark(encryption)) }
        if outgoing, let mark = Self.mark(for: message.status) { tail.append(TextRun(" " + mark.text, mark.role)) }

        // Numbers and addresses of known people in the text carry their names; the address
        // book's names are sanitised with the rest.
        // A message that is only an attachment link says so on its attachment row.
        let onlyLink = message.body.map { body in message.attachments.contains { $0.url == Sanitizer.multiline(body) } } ?? false
        let body = onlyLink ? "" : message.body.map { Sanitizer.multiline(names.annotate($0)) } ?? ""
        let paragraphs = body.isEmpty ? [] : body.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var rows: [StyledLine] = []
        if let reply = message.reply {
            // The message answered, on the header's row; the text starts on the next.
            // In a chat the author is the other side or the user; a group text names its writers.
            let author = reply.author.map { author in
                author.split(separator: "/").first.map(String.init) == peer || peer.contains(",")
                    ? Sanitizer.plain(names.name(for: author)) : ownName
            }
            let quoted = "↱ " + (author.map { $0 + ": " } ?? "") + Sanitizer.plain(reply.quote ?? "…")
            let room = max(1, width - head.reduce(0) { $0 + TerminalWidth.columns(of: $1.text) })
            rows.append(StyledLine(head + [TextRun(TerminalWidth.truncate(quoted, to: room), .quote)]))
            head = [TextRun(indent)]
        }
        let attachmentRows = message.attachments.map { attachment -> [TextRun] in
            // The same name the file is saved and opened under (AttachmentFile).
            [TextRun("📎 " + AttachmentFile(attachment).label, .attachment)]
        }
        if paragraphs.isEmpty {
            // Header alone, or header with the first attachment beside it.
            var first = head
            if let attachment = attachmentRows.first { first += attachment }
            rows += StyledWrapper.wrap(first + (attachmentRows.count <= 1 ? tail : []), width: width, indent: indent)
            for (index, row) in attachmentRows.dropFirst().enumerated() {
                let last = index == attachmentRows.count - 2
                rows += StyledWrapper.wrap([TextRun(indent)] + row + (last ? tail : []), width: width, indent: indent)
            }
            return rows + reactionRows(message, indent: indent, width: width)
        }
        for (index, styled) in MessageStyling.lines(paragraphs).enumerated() {
            let isLast = index == paragraphs.count - 1
            let lead = index == 0 ? head : [TextRun(indent)]
            let end = isLast && attachmentRows.isEmpty ? tail : []
            rows += StyledWrapper.wrap(lead + styled + end, width: width, indent: indent)
        }
        for (index, row) in attachmentRows.enumerated() {
            let end = index == attachmentRows.count - 1 ? tail : []
            rows += StyledWrapper.wrap([TextRun(indent)] + row + end, width: width, indent: indent)
        }
        return rows + reactionRows(message, indent: indent, width: width)
    }

    /// "👍 2  ❤️" under the message: each reaction once, with how many gave it when more than one.
    private func reactionRows(_ message: StoredMessage, indent: String, width: Int) -> [StyledLine] {
        let counts = message.reactionCounts
        guard !counts.isEmpty else { return [] }
        let text = counts.map { Sanitizer.plain($0.reaction) + ($0.count > 1 ? " \($0.count)" : "") }.joined(separator: "  ")
        return StyledWrapper.wrap([TextRun(indent), TextRun(text, .edited)], width: width, indent: indent)
    }

    /// "12:34 ☎ Outgoing call · 3:21", "12:40 ☎ Missed call from Alice".
    public func lines(for call: CallRecord, peer: String, names: any NameSource, width: Int) -> [StyledLine] {
        let time = calendar.dateComponents([.hour, .minute], from: call.startedAt)
        let stamp = Self.clock(time.hour ?? 0, time.minute ?? 0)
        let name = Sanitizer.plain(names.name(for: peer))
        let text = CallText.logLine(call, name: name)
        let indent = String(repeating: " ", count: Self.timestampWidth)
        return StyledWrapper.wrap([TextRun(stamp, .timestamp), TextRun("☎ " + text, call.isMissed ? .missedCall : .callEvent)],
                                  width: width, indent: indent)
    }

    /// "09:05 ": built by hand, as String(format:) costs more than the rest of a short line.
    static func clock(_ hour: Int, _ minute: Int) -> String {
        (hour < 10 ? "0" : "") + String(hour) + (minute < 10 ? ":0" : ":") + String(minute) + " "
    }

    /// In place of a message a room's moderator took down: who, when the room said, and why.
    /// How a message was encrypted (OMEMO): a lock, checked when its device is verified; a
    /// device the user does not trust, or why it could not be decrypted, in words.
    static func encryptionMark(_ encryption: MessageEncryption) -> TextRun {
        if let failure = encryption.failure { return TextRun("(encrypted; could not be decrypted: \(Sanitizer.plain(failure)))", .error) }
        switch encryption.trust {
        case .verified: return TextRun(" 🔒✓", .edited)
        case .untrusted: return TextRun(" 🔒 from an untrusted device", .error)
        case .blind, nil: return TextRun(" 🔒", .edited)
        }
    }

    static func takenDown(_ moderation: MessageModeration) -> String {
        let by = moderation.moderator.map { " by \(Sanitizer.plain($0))" } ?? ""
        let reason = moderation.reason.map(Sanitizer.plain).flatMap { $0.isEmpty ? nil : ": \($0)" } ?? ""
        return "(taken down\(by)\(reason))"
    }

    public static func mark(for status: StoredMessage.Status) -> TextRun? {
        switch status {
        case .pending: TextRun("…", .statusPending)
        case .sent: TextRun("✓", .statusSent)
        case .delivered: TextRun("✓✓", .statusDelivered)
        case .read: TextRun("✓✓", .statusRead)
        case .failed: TextRun("✗", .statusFailed)
        case .received: nil
        }
    }

    /// "──── Monday, March 3, 2025 ────", centred in the pane.
    public func daySeparator(for date: Date, width: Int) -> StyledLine {
        let formatter = DateFormatter()
        formatter.calendar = calendar
        formatter.timeZone = calendar.timeZone
        formatter.locale = locale
        formatter.dateStyle = .full
        formatter.timeStyle = .none
        let label = TerminalWidth.truncate(" \(formatter.string(from: date)) ", to: max(0, width - 2))
        let rest = max(0, width - TerminalWidth.columns(of: label))
        let left = rest / 2
        return StyledLine([TextRun(String(repeating: "─", count: left) + label + String(repeating: "─", count: rest - left), .daySeparator)])
    }
}
