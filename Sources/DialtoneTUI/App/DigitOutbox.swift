/// DTMF digits on their way to a call: one worker sends them in the order they were typed.
/// A task per key press (what the keypad used to start) may reach the call manager in any
/// order, and a held key starts one per repeat. At most `limit` digits wait here; more are
/// refused, so that a pasted text cannot pile up work behind the keypad.
@MainActor
final class DigitOutbox {
    typealias Send = @MainActor (_ call: String, _ digits: String) async -> Void

    let limit: Int
    private let send: Send
    private var waiting: [(call: String, digits: String)] = []
    private var waitingCount = 0
    private var worker: Task<Void, Never>?

    init(limit: Int = 64, send: @escaping Send) {
        self.limit = limit
        self.send = send
    }

    /// Queues `digits` for `call`; false, with nothing queued, when they do not fit.
    func enqueue(_ digits: String, call: String) -> Bool {
        guard waitingCount + digits.count <= limit else { return false }
        // Digits for the same call go together, in one request.
        if let last = waiting.last, last.call == call {
            waiting[waiting.count - 1].digits += digits
        } else {
            waiting.append((call, digits))
        }
        waitingCount += digits.count
        if worker == nil { worker = Task { await self.drain() } }
        return true
    }

    private func drain() async {
        while !waiting.isEmpty {
            let next = waiting.removeFirst()
            waitingCount -= next.digits.count
            await send(next.call, next.digits)
        }
        worker = nil
    }

    /// Returns once everything queued so far has been handed on.
    func flushed() async {
        while let worker { await worker.value }
    }
}
