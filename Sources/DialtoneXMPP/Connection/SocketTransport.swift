#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// A TCP connection as a stream of byte chunks in and a write call out.
///
/// TLS and XML live above this, in the client actor, so that STARTTLS is a change of
/// state there rather than surgery on a channel pipeline.
final class SocketTransport: Sendable {
    let inbound: AsyncThrowingStream<ByteBuffer, any Error>
    private let channel: any Channel

    private init(channel: any Channel, inbound: AsyncThrowingStream<ByteBuffer, any Error>) {
        self.channel = channel
        self.inbound = inbound
    }

    static func connect(host: String, port: Int, timeout: TimeAmount,
                        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SocketTransport {
        let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
        let channel = try await ClientBootstrap(group: group)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelOption(.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(QuickAcknowledgement())
                    try channel.pipeline.syncOperations.addHandler(InboundBridge(continuation: continuation))
                }
            }
            .connect(host: host, port: port).get()
        return SocketTransport(channel: channel, inbound: stream)
    }

    func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        channel.writeAndFlush(channel.allocator.buffer(bytes: bytes), promise: nil)
    }

    func writeAndWait(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes)).get()
    }

    func close() {
        channel.close(promise: nil)
    }

    /// The address actually connected to (a name resolved), as text.
    var remoteIPAddress: String? { channel.remoteAddress?.ipAddress }
}

/// Acknowledges what the server sent at once instead of after the kernel's delayed-ACK
/// timer (40 ms). Servers that leave Nagle's algorithm on (Prosody does by default) hold a
/// second small write until the first is acknowledged: a stream header and its features, a
/// SASL success and the next stream, each cost a 40 ms stall. Linux leaves quick-ack mode
/// by itself, so it is asked for again after every read (one setsockopt).
private final class QuickAcknowledgement: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private static let option = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: TCP_QUICKACK))

    func channelActive(context: ChannelHandlerContext) {
        rearm(context)
        context.fireChannelActive()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        rearm(context)
        context.fireChannelReadComplete()
    }

    private func rearm(_ context: ChannelHandlerContext) {
        try? context.channel.syncOptions?.setOption(Self.option, value: 1)
    }
}

/// Hands every read to the async side; the stream ends when the socket does.
private final class InboundBridge: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation

    init(continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: error)
        context.close(promise: nil)
    }
}
