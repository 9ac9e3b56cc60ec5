import DialtoneCore
import Foundation

/// The open conversation as screen rows: messages laid out for the pane's width, with day
/// separators, and a scroll position counted in rows up from the newest.
public struct MessageViewModel: Sendable {
    public private(set) var peer: String
    public private(set) var messages: [StoredMessage] = []
    /// The conversation's calls, shown among the messages at the time they started.
    public private(set) var calls: [CallRecord] = []
    public private(set) var width: Int
    public private(set) var lines: [StyledLine] = []
    /// Rows scrolled back from the bottom; 0 follows new messages.
    public private(set) var scrollBack = 0
    public var names: any NameSource
    public var format: MessageFormat

    public init(peer: String, width: Int, names: any NameSource, format: MessageFormat = MessageFormat()) {
        self.peer = peer
        self.width = width
        self.names = names
        self.format = format
    }

    public mutating func show(_ messages: [StoredMessage]) {
        self.messages = messages.sorted { $0.timestamp < $1.timestamp }
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

    /// A new or changed message (a correction, a status); new ones go in time order.
    public mutating func upsert(_ message: StoredMessage) {
        if let id = message.id, let index = messages.firstIndex(where: { $0.id == id }) {
            messages[index] = message
        } else {
            let index = messages.lastIndex(where: { $0.timestamp <= message.timestamp }).map { $0 + 1 } ?? 0
            messages.insert(message, at: index)
            // Someone reading back should not have the page move under them.
            if scrollBack > 0 { scrollBack += format.lines(for: message, peer: peer, names: names, width: width).count }
        }
        relayout()
    }

    @discardableResult
    public mutating func setStatus(_ status: StoredMessage.Status, forMessage id: Int64) -> Bool {
        guard let index = messages.firstIndex(where: { $0.id == id }) else { return false }
        messages[index].status = status
        relayout()
        return true
    }

    public mutating func resize(width: Int) {
        guard width != self.width else { return }
        self.width = width
        relayout()
    }

    public mutating func relayout() {
        var result: [StyledLine] = []
        var previousDay: DateComponents?
        var callIndex = 0
        func separate(_ time: Date) {
            let day = format.calendar.dateComponents([.year, .month, .day], from: time)
            if day != previousDay {
                result.append(format.daySeparator(for: time, width: width))
                previousDay = day
            }
        }
        func callsBefore(_ time: Date?) {
            while callIndex < calls.count, time.map({ calls[callIndex].startedAt <= $0 }) ?? true {
                separate(calls[callIndex].startedAt)
                result += format.lines(for: calls[callIndex], peer: peer, names: names, width: width)
                callIndex += 1
            }
        }
        for message in messages {
            callsBefore(message.timestamp)
            separate(message.timestamp)
            result += format.lines(for: message, peer: peer, names: names, width: width)
        }
        callsBefore(nil)
        lines = result
        scrollBack = min(scrollBack, maxScroll(height: 1))
    }

    /// The rows to draw in a pane `height` rows high, oldest first, bottom-aligned.
    public func visibleLines(height: Int) -> ArraySlice<StyledLine> {
        guard height > 0 else { return [] }
        let end = max(0, lines.count - scrollBack)
        return lines[max(0, end - height)..<end]
    }

    public mutating func scroll(by rows: Int, height: Int) {
        scrollBack = max(0, min(scrollBack + rows, maxScroll(height: height)))
    }

    public mutating func scrollToBottom() { scrollBack = 0 }

    private func maxScroll(height: Int) -> Int { max(0, lines.count - height) }
}
