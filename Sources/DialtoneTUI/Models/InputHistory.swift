/// What was sent in one conversation, newest last, walked with Up and Down like a shell's.
public struct InputHistory: Sendable, Equatable {
    public private(set) var entries: [String] = []
    /// Index into `entries` while walking; nil when editing a fresh line.
    private var position: Int?
    /// The unsent line, put back when walking past the newest entry.
    private var draft = ""
    public let limit: Int

    public init(limit: Int = 500) { self.limit = limit }

    public mutating func record(_ line: String) {
        position = nil
        guard !line.isEmpty, entries.last != line else { return }
        entries.append(line)
        if entries.count > limit { entries.removeFirst(entries.count - limit) }
    }

    /// The entry before the one shown, or nil at the oldest.
    public mutating func older(current: String) -> String? {
        guard !entries.isEmpty else { return nil }
        let next: Int
        if let position { guard position > 0 else { return nil }; next = position - 1 } else {
            draft = current
            next = entries.count - 1
        }
        position = next
        return entries[next]
    }

    /// The entry after the one shown, the draft after the newest, nil when not walking.
    public mutating func newer() -> String? {
        guard let position else { return nil }
        if position + 1 < entries.count {
            self.position = position + 1
            return entries[position + 1]
        }
        self.position = nil
        return draft
    }
}
