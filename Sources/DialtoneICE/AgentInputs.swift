import Synchronization

/// What an agent's actor works through: datagrams from its sockets, its TURN stream and the
/// media thread, and timer ticks. Datagrams are bounded: whoever floods a socket faster than
/// the agent works costs dropped datagrams (as a full socket buffer would), not memory.
/// Ticks always go in, or a full queue could stop the agent's timers for good.
final class AgentInputs: Sendable {
    /// About 1.5 s of a call's packets at 50 a second each way, far more than a working
    /// agent ever holds.
    static let defaultLimit = 256

    let stream: AsyncStream<ICEAgent.Input>
    private let continuation: AsyncStream<ICEAgent.Input>.Continuation
    private let queued = Atomic<Int>(0)
    private let droppedCount = Atomic<Int>(0)
    let limit: Int

    init(limit: Int = AgentInputs.defaultLimit) {
        self.limit = limit
        (stream, continuation) = AsyncStream.makeStream(of: ICEAgent.Input.self)
    }

    /// Datagrams refused because the queue was full.
    var dropped: Int { droppedCount.load(ordering: .relaxed) }

    func datagram(socket: Int, from: TransportAddress, bytes: [UInt8]) {
        guard queued.add(1, ordering: .relaxed).newValue <= limit else {
            queued.subtract(1, ordering: .relaxed)
            droppedCount.add(1, ordering: .relaxed)
            return
        }
        if case .terminated = continuation.yield(.datagram(socket: socket, from: from, bytes: bytes)) {
            queued.subtract(1, ordering: .relaxed)
        }
    }

    func tick() {
        continuation.yield(.tick)
    }

    /// The consumer took `input` off the stream.
    func taken(_ input: ICEAgent.Input) {
        if case .datagram = input { queued.subtract(1, ordering: .relaxed) }
    }

    func finish() {
        continuation.finish()
    }
}
