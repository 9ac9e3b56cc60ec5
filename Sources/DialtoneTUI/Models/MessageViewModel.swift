import DialtoneCore
import Foundation

/// The open conversation as screen rows: messages laid out for the pane's width, with day
/// separators, and a scroll position counted in rows up from the newest.
public struct MessageViewModel: Sendable {
    public private(set) var peer: String
    public private(set) var messages: [StoredMessage] = []
    /// The largest row id shown: a message with a larger one is new, without a search through
    /// a busy room's every message.
    private var newestID: Int64 = 0
    /// The conversation's calls, shown among the messages at the time they started.
    public private(set) var calls: [CallRecord] = []
    public private(set) var width: Int
    public private(set) var lines: [StyledLine] = []
    /// Rows scrolled back from the bottom; 0 follows new messages.
    public private(set) var scrollBack = 0
    /// Whether `lines` is to be laid out again before it is read (`layOutIfNeeded`): left so
    /// by changes that come in bursts, as a room's older history after its newest page,
    /// which would otherwise lay the whole conversation out once for each message.
    public private(set) var needsLayout = false
    public var names: any NameSource { didSet { forgetRendering() } }
    /// While a command that names a message by N is typed (/reply, /react): each message
    /// shows its N, counted from the newest, in place of its time.
    public var numbered = false { didSet { if numbered != oldValue { relayout() } } }
    public var format: MessageFormat { didSet { forgetRendering() } }

    /// The rows of a message or call as last laid out, with the day it falls on. Laying out
    /// (measuring, wrapping, naming) is the costly part, and a busy conversation gets a
    /// message many times a second: only what changed is laid out again.
    private struct Rendered: Sendable {
        var lines: [StyledLine]
        var day: Int
    }
    private var renderedMessages: [Int64: (message: StoredMessage, rendered: Rendered)] = [:]
    private var renderedCalls: [String: (call: CallRecord, rendered: Rendered)] = [:]
    /// The day of the newest row laid out, so that a message appended at the end knows
    /// whether it needs a day separator.
    private var lastDay: Int?

    public init(peer: String, width: Int, names: any NameSource, format: MessageFormat = MessageFormat()) {
        self.peer = peer
        self.width = width
        self.names = names
        self.format = format
    }

    public mutating func show(_ messages: [StoredMessage]) {
        self.messages = messages.sorted { $0.timestamp < $1.timestamp }
        newestID = self.messages.lazy.compactMap(\.id).max() ?? 0
        relayout()
    }

    public mutating func show(calls: [CallRecord]) {
        self.calls = calls.sorted { $0.startedAt < $1.startedAt }
        relayout()
    }

    /// A call's row appears when it starts and changes as it goes (duration, outcome).
    public mutating func upsert(call: CallRecord) {
        if let index = calls.firstIndex(where: { $0.id == call.id }) { calls[index] = call } else {
            calls.append(call)
            calls.sort { $0.startedAt < $1.startedAt }
        }
        relayout()
    }

    /// A new or changed message (a correction, a status); new ones go in time order. With
    /// `deferringLayout`, one that is not simply the newest leaves the rows to be laid out
    /// again when next read (`layOutIfNeeded`) rather than at once.
    public mutating func upsert(_ message: StoredMessage, deferringLayout: Bool = false) {
        if let id = message.id, id <= newestID, let index = messages.lastIndex(where: { $0.id == id }) {
            messages[index] = message
            if deferringLayout { needsLayout = true } else { relayout() }
            return
        }
        let index = messages.lastIndex(where: { $0.timestamp <= message.timestamp }).map { $0 + 1 } ?? 0
        messages.insert(message, at: index)
        newestID = max(newestID, message.id ?? 0)
        let rendered = render(message)
        // Someone reading back should not have the page move under them.
        if scrollBack > 0, index == messages.count - 1 { scrollBack += rendered.lines.count }
        // The usual case, a message newer than everything shown: its rows go at the end
        // (unless every number above it moves).
        if !numbered, !needsLayout, index == messages.count - 1, calls.last.map({ $0.startedAt <= message.timestamp }) ?? true {
            if rendered.day != lastDay { lines.append(format.daySeparator(for: message.timestamp, width: width)) }
            lines += rendered.lines
            lastDay = rendered.day
        } else if deferringLayout {
            needsLayout = true
        } else {
            relayout()
        }
    }

    /// Lays the conversation out again if a deferred change left it to be.
    public mutating func layOutIfNeeded() {
        if needsLayout { relayout() }
    }

    @discardableResult
    public mutating func setStatus(_ status: StoredMessage.Status, forMessage id: Int64) -> Bool {
        guard let index = messages.lastIndex(where: { $0.id == id }) else { return false }
        messages[index].status = status
        relayout()
        return true
    }

    public mutating func resize(width: Int) {
        guard width != self.width else { return }
        self.width = width
        forgetRendering()
        relayout()
    }

    /// Lays the whole conversation out again, from the rows kept of whatever did not change.
    public mutating func relayout() {
        var result: [StyledLine] = []
        var previousDay: Int?
        var callIndex = 0
        func append(_ rendered: Rendered, at time: Date) {
            if rendered.day != previousDay {
                result.append(format.daySeparator(for: time, width: width))
                previousDay = rendered.day
            }
            result += rendered.lines
        }
        /// The calls that started by `time` (all that are left when nil), in their place.
        func callsBefore(_ time: Date?) {
            while callIndex < calls.count, time.map({ calls[callIndex].startedAt <= $0 }) ?? true {
                append(render(calls[callIndex]), at: calls[callIndex].startedAt)
                callIndex += 1
            }
        }
        for (index, message) in messages.enumerated() {
            callsBefore(message.timestamp)
            var rendered = render(message)
            if numbered { rendered.lines = Self.numbering(rendered.lines, messages.count - index) }
            append(rendered, at: message.timestamp)
        }
        callsBefore(nil)
        lines = result
        lastDay = previousDay
        needsLayout = false
        scrollBack = min(scrollBack, maxScroll(height: 1))
    }

    /// The message's first row with "#N" in the time's columns.
    private static func numbering(_ lines: [StyledLine], _ n: Int) -> [StyledLine] {
        guard var first = lines.first, let stamp = first.spans.first, stamp.role == .timestamp else { return lines }
        let label = "#\(n)"
        let width = MessageFormat.timestampWidth - 1
        first.spans[0] = TextRun(String(repeating: " ", count: max(0, width - label.count)) + label + " ", .notice)
        return [first] + lines.dropFirst()
    }

    private mutating func render(_ message: StoredMessage) -> Rendered {
        if let id = message.id, let kept = renderedMessages[id], kept.message == message { return kept.rendered }
        let rendered = Rendered(lines: format.lines(for: message, peer: peer, names: names, width: width),
                                day: dayNumber(message.timestamp))
        if let id = message.id { renderedMessages[id] = (message, rendered) }
        return rendered
    }

    private mutating func render(_ call: CallRecord) -> Rendered {
        if let kept = renderedCalls[call.id], kept.call == call { return kept.rendered }
        let rendered = Rendered(lines: format.lines(for: call, peer: peer, names: names, width: width), day: dayNumber(call.startedAt))
        renderedCalls[call.id] = (call, rendered)
        return rendered
    }

    private func dayNumber(_ date: Date) -> Int {
        let day = format.calendar.dateComponents([.year, .month, .day], from: date)
        return (day.year ?? 0) * 10_000 + (day.month ?? 0) * 100 + (day.day ?? 0)
    }

    private mutating func forgetRendering() {
        renderedMessages.removeAll(keepingCapacity: true)
        renderedCalls.removeAll(keepingCapacity: true)
    }

    /// The rows to draw in a pane `height` rows high, oldest first, bottom-aligned.
    public func visibleLines(height: Int) -> ArraySlice<StyledLine> {
        guard height > 0 else { return [] }
        let end = max(0, lines.count - scrollBack)
        return lines[max(0, end - height)..<end]
    }

    public mutating func scroll(by rows: Int, height: Int) {
        layOutIfNeeded()
        scrollBack = max(0, min(scrollBack + rows, maxScroll(height: height)))
    }

    public mutating func scrollToBottom() { scrollBack = 0 }

    private func maxScroll(height: Int) -> Int { max(0, lines.count - height) }
}
