import NIOCore
import NIOPosix
import Synchronization

/// A hostile or broken "server" on loopback: once the client opens its stream, it answers
/// with bytes the test chose, and records everything the client sent.
final class ScriptedServer: Sendable {
    private let channel: any Channel
    let port: Int

    init(reply: String) async throws {
        let log = ReceivedLog()
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ScriptedHandler(reply: Array(reply.utf8), log: log))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = channel.localAddress?.port ?? 0
        self.log = log
    }

    private let log: ReceivedLog

    /// Everything any client sent so far, as text.
    var receivedText: String { String(decoding: log.bytes, as: UTF8.self) }

    func shutdown() async { try? await channel.close() }
}

private final class ReceivedLog: Sendable {
    private let storage = Mutex<[UInt8]>([])
    func append(_ bytes: [UInt8]) { storage.withLock { $0 += bytes } }
    var bytes: [UInt8] { storage.withLock { $0 } }
}

private final class ScriptedHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let reply: [UInt8]
    let log: ReceivedLog
    var replied = false

    init(reply: [UInt8], log: ReceivedLog) {
        self.reply = reply
        self.log = log
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = Array(unwrapInboundIn(data).readableBytesView)
        log.append(bytes)
        guard !replied else { return }
        replied = true
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: reply)), promise: nil)
    }
}
