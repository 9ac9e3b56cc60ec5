import NIOCore
import NIOPosix
import Synchronization

/// A TCP proxy on loopback whose connections a test can cut at will, as a flaky network would.
final class CuttableProxy: Sendable {
    private let server: any Channel
    private let connections = ConnectionRegistry()
    private let frozen = ConnectionRegistry()
    let port: Int

    init(targetHost: String, targetPort: Int) async throws {
        let connections = self.connections
        let group = MultiThreadedEventLoopGroup.singleton
        server = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.autoRead, value: false)
            .childChannelInitializer { inbound in
                ClientBootstrap(group: inbound.eventLoop)
                    .connect(host: targetHost, port: targetPort)
                    .flatMap { outbound in
                        connections.add(inbound)
                        connections.add(outbound)
                        let forward = Relay(peer: outbound)
                        let backward = Relay(peer: inbound)
                        return inbound.pipeline.addHandler(forward).flatMap {
                            outbound.pipeline.addHandler(backward)
                        }.flatMap {
                            // Reading starts only once the other side is connected and wired.
                            inbound.setOption(.autoRead, value: true)
                        }
                    }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        port = server.localAddress?.port ?? 0
    }

    /// Closes every proxied connection at once (both sides see a reset/EOF).
    func cutAll() {
        for channel in connections.takeAll() { channel.close(promise: nil) }
    }

    /// Turns every proxied connection into a black hole without closing it, as a NAT that
    /// forgot the mapping would: nothing is carried either way, and neither side is told.
    /// Connections made afterwards work.
    func freezeAll() {
        for channel in connections.takeAll() {
            frozen.add(channel)
            channel.setOption(.autoRead, value: false).whenFailure { _ in }
        }
    }

    func shutdown() async {
        cutAll()
        for channel in frozen.takeAll() { channel.close(promise: nil) }
        try? await server.close()
    }
}

/// Copies bytes to its peer channel and closes the peer when its own side closes.
final class Relay: ChannelDuplexHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let peer: any Channel

    init(peer: any Channel) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        peer.writeAndFlush(unwrapInboundIn(data), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.close(promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
        peer.close(promise: nil)
    }
}

private final class ConnectionRegistry: Sendable {
    private let channels = Mutex<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) { channels.withLock { $0[ObjectIdentifier(channel)] = channel } }

    func takeAll() -> [any Channel] {
        channels.withLock { current in
            defer { current.removeAll() }
            return Array(current.values)
        }
    }
}
