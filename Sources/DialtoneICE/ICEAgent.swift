#if canImport(Glibc)
import Glibc
#endif
import DialtoneTLS
import Logging
import NIOCore
import NIOPosix

public enum ICEEvent: Sendable, Equatable {
    case localCandidate(ICECandidate)
    case gatheringComplete
    case stateChanged(ICEState)
    case selectedPair(local: ICECandidate, remote: ICECandidate)
    case roleChanged(ICERole)
}

/// The ICE agent on real UDP sockets: owns one NIO datagram channel per host address and drives
/// `ICEAgentCore` with their datagrams and with timers on the continuous clock.
public actor ICEAgent: MediaTransport {
    enum Input: Sendable {
        case datagram(socket: Int, from: TransportAddress, bytes: [UInt8])
        case tick
    }

    public nonisolated let incoming: AsyncStream<MediaPacket>
    /// The selected pair for the media threads, kept up to date by `flush()`.
    public nonisolated let directRoute: DirectMediaRoute
    public nonisolated let events: AsyncStream<ICEEvent>
    private let incomingSink: AsyncStream<MediaPacket>.Continuation
    private let eventSink: AsyncStream<ICEEvent>.Continuation
    private let inputs = AgentInputs()

    private var core: ICEAgentCore
    private let group: any EventLoopGroup
    private let logger: Logger
    private let origin = ContinuousClock.now
    private var channels: [Int: any Channel] = [:]
    /// The file descriptors of `channels` (NIO owns and closes them).
    private var descriptors: [Int: CInt] = [:]
    /// The TCP connection to the TURN server, when configured so.
    private var turnStream: (any Channel)?
    private var addressCache: [TransportAddress: SocketAddress] = [:]
    private var wakeUp = WakeUp()
    private var gatheringWaiters: [CheckedContinuation<Void, Never>] = []
    private var stateWaiters: [CheckedContinuation<Void, Never>] = []
    private var started = false

    public init(role: ICERole, configuration: ICEConfiguration = ICEConfiguration(),
                group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "dialtone.ice")) {
        core = ICEAgentCore(role: role, configuration: configuration)
        self.group = group
        self.logger = logger
        // Bounded, both: a consumer that stops reading (or a peer flooding a pair with media
        // nobody takes) must not grow them without end. The newest are kept.
        (incoming, incomingSink) = AsyncStream.makeStream(of: MediaPacket.self, bufferingPolicy: .bufferingNewest(256))
        (events, eventSink) = AsyncStream.makeStream(of: ICEEvent.self, bufferingPolicy: .bufferingNewest(128))
        let sink = inputs
        directRoute = DirectMediaRoute { socket, from, bytes in sink.datagram(socket: socket, from: from, bytes: bytes) }
    }

    private var now: ICETime { ContinuousClock.now - origin }

    public var localCredentials: (ufrag: String, password: String) { (core.localUfrag, core.localPassword) }
    public var localCandidates: [ICECandidate] { core.localCandidates }
    public var state: ICEState { core.state }
    public var role: ICERole { core.role }
    public var statistics: ICEStatistics { core.statistics }
    public var selectedPair: ICEPairSnapshot? { core.selectedPair }
    public var pairs: [ICEPairSnapshot] { core.pairSnapshots }
    public var relayChannelBound: Bool { core.relayChannelBound }

    /// Binds a socket per usable address and starts gathering. Host candidates appear at once
    /// (as events too); srflx ones follow, bounded by `gatheringTimeout`.
    public func start() async throws {
        guard !started else { return }
        started = true
        let addresses = try Self.hostAddresses(core.configuration)
        var id = 0
        let route = directRoute
        for address in addresses {
            let sink = inputs
            let socketID = id
            do {
                // Our own socket, handed to NIO: the media threads may then send on it
                // themselves (DirectMediaRoute) while the event loop reads it.
                let descriptor = try DirectMediaRoute.boundSocket(address)
                let channel: any Channel
                do {
                    channel = try await DatagramBootstrap(group: group)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture {
                                try channel.pipeline.syncOperations.addHandler(DatagramHandler(socket: socketID, sink: sink, route: route))
                            }
                        }
                        .withBoundSocket(descriptor).get()
                } catch {
                    // NIO may already have closed it (its channel's initialiser does on
                    // failure): closing it again could close someone else's new descriptor,
                    // so a rare failure leaks it instead.
                    throw error
                }
                guard let bound = channel.localAddress.flatMap(TransportAddress.init) else {
                    try? await channel.close()
                    continue
                }
                channels[socketID] = channel
                descriptors[socketID] = descriptor
                core.addSocket(id: socketID, address: bound, now: now)
                id += 1
            } catch {
                logger.info("cannot bind \(address): \(error)")
            }
        }
        guard !channels.isEmpty else { throw ICEError.noUsableInterface }
        if let server = core.configuration.turnServer, server.transport != .udp {
            await openTURNStream(to: server)
        }
        core.startGathering(now: now)
        Task { await self.run() }
        flush()
    }

    /// Waits for gathering to finish (or its deadline), then returns every local candidate:
    /// what a non-trickle peer gets in one go.
    public func gatherAll() async -> [ICECandidate] {
        if !core.gatheringComplete {
            await withCheckedContinuation { gatheringWaiters.append($0) }
        }
        return core.localCandidates
    }

    public func setRemoteCredentials(ufrag: String, password: String) {
        core.setRemoteCredentials(ufrag: ufrag, password: password, now: now)
        flush()
    }

    public func addRemoteCandidate(_ candidate: ICECandidate) {
        core.addRemoteCandidate(candidate, now: now)
        flush()
    }

    /// One line the first time a bound is reached, not one per dropped candidate or datagram.
    private var reportedLimits: Set<String> = []

    private func reportLimits() {
        let statistics = core.statistics
        if statistics.remoteCandidatesOverLimit > 0, reportedLimits.insert("candidates").inserted {
            logger.info("the peer signalled more than \(core.configuration.maximumRemoteCandidates) candidates: the rest are dropped")
        }
        if statistics.pairsOverLimit > 0, reportedLimits.insert("pairs").inserted {
            logger.info("the checklist is full at \(core.configuration.maximumPairs) pairs: later pairs are not checked")
        }
        if inputs.dropped > 0, reportedLimits.insert("inputs").inserted {
            logger.info("datagrams arrive faster than ICE takes them: some are dropped")
        }
    }

    public func endOfRemoteCandidates() {
        core.endOfRemoteCandidates(now: now)
        flush()
    }

    /// Returns the new local credentials to signal.
    public func restart() -> (ufrag: String, password: String) {
        core.restart(now: now)
        flush()
        return localCredentials
    }

    /// Returns once connected; throws if ICE failed or was closed first.
    public func connected() async throws {
        while true {
            switch core.state {
            case .connected: return
            case .failed(let reason): throw ICEError.failed(reason)
            case .closed: throw ICEError.closed
            case .new, .checking: await withCheckedContinuation { stateWaiters.append($0) }
            }
        }
    }

    public func send(_ packet: [UInt8]) async throws {
        try core.sendMedia(packet, now: now)
        flush()
    }

    public func close() async {
        guard core.state != .closed else { return }
        core.close()
        flush()
        directRoute.update(nil)
        directRoute.setReceiver(nil)
        for channel in channels.values { try? await channel.close() }
        channels.removeAll()
        try? await turnStream?.close()
        turnStream = nil
        inputs.finish()
        incomingSink.finish()
        eventSink.finish()
        resumeWaiters()
    }

    private func run() async {
        for await input in inputs.stream {
            inputs.taken(input)
            switch input {
            case .datagram(let socket, let from, let bytes):
                core.receive(bytes, from: from, socket: socket, now: now)
            case .tick:
                wakeUp.ticked(at: now)
                core.tick(now: now)
                directRoute.resumeIfReaderStalled()
            }
            flush()
        }
    }

    /// Carries out the core's actions and arms the timer for its next deadline.
    private func flush() {
        for action in core.takeActions() {
            switch action {
            case .send(let socket, let to, let bytes):
                write(bytes, socket: socket, to: to)
            case .media(let packet):
                incomingSink.yield(packet)
            case .localCandidate(let candidate):
                eventSink.yield(.localCandidate(candidate))
            case .gatheringComplete:
                eventSink.yield(.gatheringComplete)
                for waiter in gatheringWaiters { waiter.resume() }
                gatheringWaiters.removeAll()
            case .stateChanged(let state):
                logger.debug("ICE state \(state)")
                eventSink.yield(.stateChanged(state))
                resumeWaiters()
            case .selectedPair(let local, let remote):
                logger.debug("ICE selected \(local.address) -> \(remote.address)")
                eventSink.yield(.selectedPair(local: local, remote: remote))
            case .roleChanged(let role):
                eventSink.yield(.roleChanged(role))
            case .turnFallback(let server):
                logger.info("TURN server unreachable as configured; trying \(server.address) over \(server.transport.rawValue)")
                Task { await self.fallBack(to: server) }
            }
        }
        updateDirectRoute()
        if reportedLimits.count < 3 { reportLimits() }
        wakeUp.schedule(core.nextDeadline, now: now, into: inputs)
    }

    /// The nominated pair, when it is one of our UDP sockets, for `directRoute`; a relayed pair
    /// (TURN wrapping), a fallback route before nomination, or none at all leave media to `send`.
    private func updateDirectRoute() {
        var wanted: (socket: Int, remote: TransportAddress)?
        if core.state == .connected, core.selectedPair != nil, let route = core.mediaRoute(), channels[route.socket] != nil {
            wanted = (route.socket, route.to)
        }
        let current = directRoute.current
        guard current?.socket != wanted?.socket || current?.remote != wanted?.remote else { return }
        guard let wanted, let descriptor = descriptors[wanted.socket], let channel = channels[wanted.socket],
              let destination = try? wanted.remote.socketAddress() else {
            directRoute.update(nil)
            return
        }
        // The route's own duplicate (see DirectMediaRoute.Pair.descriptor).
        let own = dup(descriptor)
        guard own >= 0 else {
            directRoute.update(nil)
            return
        }
        directRoute.update(DirectMediaRoute.Pair(socket: wanted.socket, descriptor: own, remote: wanted.remote, destination: destination,
                                                 channel: channel))
    }

    private func resumeWaiters() {
        for waiter in stateWaiters { waiter.resume() }
        stateWaiters.removeAll()
        if core.state == .closed {
            for waiter in gatheringWaiters { waiter.resume() }
            gatheringWaiters.removeAll()
        }
    }

    private func fallBack(to server: TURNServerConfiguration) async {
        guard core.state != .closed else { return }
        if server.transport != .udp {
            try? await turnStream?.close()
            turnStream = nil
            await openTURNStream(to: server)
        }
        core.beginTURN(server, now: now)
        flush()
    }

    /// Connects to the TURN server over TCP (and TLS); its messages come back framed, as
    /// datagrams from it.
    private func openTURNStream(to configuration: TURNServerConfiguration) async {
        let sink = inputs
        let server = configuration.address
        var tls: TLSSession?
        if configuration.transport == .tls {
            var settings = TLSConfiguration(serverName: configuration.serverName ?? server.ip.description,
                                            trust: configuration.caFile.map { .caFile($0) } ?? .system)
            settings.alpn = []
            do { tls = try TLSSession(client: settings) } catch {
                logger.info("cannot set up TLS to the TURN server \(server): \(error)")
                return
            }
        }
        let session = tls.map(TLSStreamHandler.init)
        do {
            let address = try server.socketAddress()
            turnStream = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        if let session { try channel.pipeline.syncOperations.addHandler(session) }
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(TURNStreamFramer()))
                        try channel.pipeline.syncOperations.addHandler(TURNStreamHandler(server: server, sink: sink))
                    }
                }
                .connect(to: address).get()
        } catch {
            // No relayed candidate then; host and server-reflexive ones still work.
            logger.info("cannot reach the TURN server \(server) over \(configuration.transport.rawValue): \(error)")
        }
    }

    private func write(_ bytes: [UInt8], socket: Int, to destination: TransportAddress) {
        if socket == ICEAgentCore.turnStreamSocket {
            guard let turnStream else { return }
            var framed = bytes
            // ChannelData over a stream is padded to a multiple of four (RFC 8656 12.5).
            if let first = framed.first, PacketKind(firstByte: first) == .turnChannelData {
                while framed.count % 4 != 0 { framed.append(0) }
            }
            turnStream.writeAndFlush(ByteBuffer(bytes: framed), promise: nil)
            return
        }
        guard let channel = channels[socket] else { return }
        let address: SocketAddress
        if let cached = addressCache[destination] {
            address = cached
        } else {
            guard let made = try? destination.socketAddress() else { return }
            addressCache[destination] = made
            address = made
        }
        channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: bytes)), promise: nil)
    }

    /// Addresses for host candidates: every interface's, minus loopback and link-local, IPv6
    /// first; or only loopback when the configuration asks (tests).
    static func hostAddresses(_ configuration: ICEConfiguration) throws -> [IPAddress] {
        if let chosen = configuration.hostAddresses { return chosen }
        if configuration.loopbackOnly {
            var addresses: [IPAddress] = []
            if configuration.useIPv6 { addresses.append(.loopbackV6) }
            if configuration.useIPv4 { addresses.append(.loopbackV4) }
            return addresses
        }
        var v4: [IPAddress] = []
        var v6: [IPAddress] = []
        for device in try System.enumerateDevices() {
            guard let socketAddress = device.address, let text = socketAddress.ipAddress,
                  let ip = IPAddress(text), !ip.isLoopback, !ip.isLinkLocal else { continue }
            if ip.isIPv4 {
                if configuration.useIPv4, !v4.contains(ip) { v4.append(ip) }
            } else if configuration.useIPv6, !v6.contains(ip) {
                v6.append(ip)
            }
        }
        return v6 + v4
    }
}

/// Hands each datagram to the agent's input stream; the agent's actor does all the work.
final class DatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let socket: Int
    let sink: AgentInputs
    let route: DirectMediaRoute?

    init(socket: Int, sink: AgentInputs, route: DirectMediaRoute? = nil) {
        self.socket = socket
        self.sink = sink
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        if let route, route.deliver(envelope.data, socket: socket, from: envelope.remoteAddress) { return }
        guard let from = TransportAddress(envelope.remoteAddress) else { return }
        sink.datagram(socket: socket, from: from, bytes: Array(envelope.data.readableBytesView))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // ICMP port-unreachable and the like surface here for UDP; a dead pair fails by timeout instead.
    }
}

/// Cuts the TCP stream from a TURN server back into messages: STUN (20-byte header plus its
/// length) and ChannelData (4-byte header plus its length, padded to four).
struct TURNStreamFramer: ByteToMessageDecoder {
    typealias InboundOut = [UInt8]

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard buffer.readableBytes >= 4, let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = buffer.getInteger(at: buffer.readerIndex + 2, as: UInt16.self) else { return .needMoreData }
        let total: Int
        switch first >> 6 {
        case 0: total = 20 + Int(length)
        case 1: total = (4 + Int(length) + 3) / 4 * 4
        default: throw ICEError.failed("the TURN server sent something that is neither STUN nor ChannelData")
        }
        guard buffer.readableBytes >= total, let message = buffer.readBytes(length: total) else { return .needMoreData }
        // ChannelData's padding is not part of the message.
        let trimmed = first >> 6 == 1 ? Array(message.prefix(4 + Int(length))) : message
        context.fireChannelRead(NIOAny(trimmed))
        return .continue
    }
}

final class TURNStreamHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = [UInt8]
    let server: TransportAddress
    let sink: AgentInputs

    init(server: TransportAddress, sink: AgentInputs) {
        self.server = server
        self.sink = sink
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        sink.datagram(socket: ICEAgentCore.turnStreamSocket, from: server, bytes: unwrapInboundIn(data))
    }
}

/// TLS between the TCP socket and the framer, through DialtoneTLS's memory-BIO session: what
/// arrives is decrypted before framing, what we write is encrypted (queued until the
/// handshake is done, which the session does by itself). Confined to the channel's loop.
final class TLSStreamHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let session: TLSSession

    init(_ session: TLSSession) {
        self.session = session
    }

    func channelActive(context: ChannelHandlerContext) {
        do { try session.startHandshake() } catch {
            context.close(promise: nil)
            return
        }
        flushNetwork(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        do {
            let plaintext = try session.feed(network: bytes)
            flushNetwork(context)
            if !plaintext.isEmpty { context.fireChannelRead(wrapInboundOut(ByteBuffer(bytes: plaintext))) }
        } catch {
            // A certificate that does not verify, or garbage: the alert goes out, then we close.
            flushNetwork(context)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var buffer = unwrapOutboundIn(data)
        do {
            try session.write(plaintext: buffer.readBytes(length: buffer.readableBytes) ?? [])
            promise?.succeed(())
        } catch {
            promise?.fail(error)
        }
        flushNetwork(context)
    }

    private func flushNetwork(_ context: ChannelHandlerContext) {
        let outgoing = session.takeOutgoing()
        guard !outgoing.isEmpty else { return }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: outgoing)), promise: nil)
    }
}
