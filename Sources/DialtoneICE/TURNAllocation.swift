import NIOCore
import NIOPosix

public struct TURNData: Sendable, Equatable {
    public let peer: TransportAddress
    public let bytes: [UInt8]
}

public enum TURNError: Error, Equatable, Sendable {
    case failed(String)
    case closed
}

/// One TURN allocation on its own UDP socket: `TURNClientCore` driven by NIO and the clock.
public actor TURNAllocation {
    public nonisolated let received: AsyncStream<TURNData>
    private let receivedSink: AsyncStream<TURNData>.Continuation
    private let inputs = AgentInputs()
    private var core: TURNClientCore
    private let group: any EventLoopGroup
    private let origin = ContinuousClock.now
    private var channel: (any Channel)?
    private var serverAddress: SocketAddress?
    private var waiters: [TURNClientCore.Operation: CheckedContinuation<Void, any Error>] = [:]
    private var wakeUp = WakeUp()
    private var closed = false

    public init(server: TransportAddress, username: String, password: String,
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        core = TURNClientCore(server: server, username: username, password: password)
        self.group = group
        // Bounded: data nobody reads must not grow it without end (the newest are kept).
        (received, receivedSink) = AsyncStream.makeStream(of: TURNData.self, bufferingPolicy: .bufferingNewest(256))
    }

    private var now: ICETime { ContinuousClock.now - origin }
    public var relayedAddress: TransportAddress? { core.relayedAddress }
    public var rejected: STUNRejectionCounters { core.rejected }

    /// Binds a socket of the server's family (on loopback when the server is there) and allocates.
    public func allocate(lifetime: UInt32 = 600) async throws -> TransportAddress {
        if channel == nil {
            let server = core.server
            let local = server.ip.isLoopback ? server.ip.description : (server.ip.isIPv4 ? "0.0.0.0" : "::")
            let sink = inputs
            channel = try await DatagramBootstrap(group: group)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(DatagramHandler(socket: 0, sink: sink))
                    }
                }
                .bind(host: local, port: 0).get()
            serverAddress = try server.socketAddress()
            Task { await self.run() }
        }
        let operation = core.allocate(lifetime: lifetime, now: now)
        try await complete(operation)
        guard let relayed = core.relayedAddress else { throw TURNError.failed("no relayed address") }
        return relayed
    }

    public func createPermission(for peers: [TransportAddress]) async throws {
        try await complete(core.createPermission(for: peers, now: now))
    }

    public func bindChannel(to peer: TransportAddress) async throws {
        try await complete(core.bindChannel(to: peer, now: now))
    }

    public func refresh(lifetime: UInt32 = 600) async throws {
        try await complete(core.refresh(lifetime: lifetime, now: now))
    }

    public func send(_ bytes: [UInt8], to peer: TransportAddress) {
        write(core.wrap(bytes, to: peer))
    }

    /// Deallocates (Refresh with lifetime 0) if allocated, then closes the socket.
    public func close() async {
        guard !closed else { return }
        if core.relayedAddress != nil { try? await complete(core.refresh(lifetime: 0, now: now)) }
        closed = true
        try? await channel?.close()
        inputs.finish()
        receivedSink.finish()
        for waiter in waiters.values { waiter.resume(throwing: TURNError.closed) }
        waiters.removeAll()
    }

    private func complete(_ operation: TURNClientCore.Operation) async throws {
        guard !closed else { throw TURNError.closed }
        try await withCheckedThrowingContinuation { continuation in
            waiters[operation] = continuation
            flush()
        }
    }

    private func run() async {
        for await input in inputs.stream {
            inputs.taken(input)
            switch input {
            case .datagram(_, let from, let bytes):
                if from == core.server { core.receive(bytes, now: now) }
            case .tick:
                wakeUp.ticked(at: now)
                core.tick(now: now)
            }
            flush()
        }
    }

    private func flush() {
        for bytes in core.takeOutgoing() { write(bytes) }
        for event in core.takeEvents() {
            switch event {
            case .succeeded(let operation):
                waiters.removeValue(forKey: operation)?.resume()
            case .failed(let operation, let reason):
                waiters.removeValue(forKey: operation)?.resume(throwing: TURNError.failed(reason))
            case .data(let peer, let bytes):
                receivedSink.yield(TURNData(peer: peer, bytes: bytes))
            case .allocated, .deallocated:
                break
            }
        }
        wakeUp.schedule(core.nextDeadline, now: now, into: inputs)
    }

    private func write(_ bytes: [UInt8]) {
        guard let channel, let serverAddress else { return }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: serverAddress, data: ByteBuffer(bytes: bytes)), promise: nil)
    }
}
