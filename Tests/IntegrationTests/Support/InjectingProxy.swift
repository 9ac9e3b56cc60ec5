import NIOCore
import NIOPosix
import Synchronization

/// A man on the path before TLS: the first connections get answers the test wrote (a stream
/// error, features without STARTTLS, a <failure/> to it), one per read of the client's;
/// later ones are carried to the real server untouched.
final class InjectingProxy: Sendable {
    private let server: any Channel
    let port: Int

    /// `scripts[i]` answers the i-th connection, one string per read of the client's.
    init(targetHost: String, targetPort: Int, scripts: [[String]]) async throws {
        let counter = Counter()
        server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                let index = counter.next()
                if index < scripts.count {
                    return inbound.eventLoop.makeCompletedFuture {
                        try inbound.pipeline.syncOperations.addHandler(ScriptHandler(answers: scripts[index]))
                    }.flatMap { inbound.setOption(.autoRead, value: true) }
                }
                return ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: targetHost, port: targetPort)
                    .flatMap { outbound in
                        inbound.pipeline.addHandler(Relay(peer: outbound)).flatMap {
                            outbound.pipeline.addHandler(Relay(peer: inbound))
                        }.flatMap {
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress?.port ?? 0
        self.counter = counter
    }

    private let counter: Counter

    /// How many connections the client made so far.
    var connections: Int { counter.value }

    func shutdown() async { try? await server.close() }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    func next() -> Int {
        count.withLock { value in
            defer { value += 1 }
            return value
        }
    }
    var value: Int { count.withLock { $0 } }
}

/// Answers each read with the next scripted string; silent once they run out.
private final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    var answers: [String]

    init(answers: [String]) { self.answers = answers }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !answers.isEmpty else { return }
        let answer = answers.removeFirst()
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: answer)), promise: nil)
    }
}
