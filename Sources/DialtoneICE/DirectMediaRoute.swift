import NIOCore
import Synchronization

/// The selected pair as the media threads use it, without the agent's actor in between: the
/// capture thread writes its packets straight to the pair's socket, and the socket's event loop
/// hands the peer's RTP straight to the media receiver.
///
/// Each packet through the actor cost two task hops and a copy each way, about as much CPU as
/// the Opus encoder. The agent stays the authority: it rewrites this route whenever its media
/// route changes (a pair nominated, consent lost, closed), and anything the route cannot carry
/// (relayed pairs, DTLS, packets from elsewhere) keeps going through the agent.
public final class DirectMediaRoute: Sendable {
    struct Pair: Sendable {
        let socket: Int
        let channel: any Channel
        let remote: TransportAddress
        let destination: SocketAddress
    }

    private let pair = Mutex<Pair?>(nil)
    private let receiver = Mutex<(@Sendable (UnsafeRawBufferPointer) -> Void)?>(nil)

    init() {}

    /// Sends on the selected pair; false when there is none this route can use (the caller
    /// then goes through the agent).
    public func send(_ datagram: UnsafeRawBufferPointer) -> Bool {
        guard let current = pair.withLock({ $0 }) else { return false }
        var buffer = current.channel.allocator.buffer(capacity: datagram.count)
        buffer.writeBytes(datagram)
        current.channel.writeAndFlush(AddressedEnvelope(remoteAddress: current.destination, data: buffer), promise: nil)
        return true
    }

    /// Where the peer's RTP and RTCP go once the media session runs; nil stops it.
    public func setReceiver(_ body: (@Sendable (UnsafeRawBufferPointer) -> Void)?) {
        receiver.withLock { $0 = body }
    }

    /// Called on the socket's event loop: true when the datagram was RTP/RTCP of the selected
    /// pair and went to the receiver. Only the nominated pair's remote address qualifies, so a
    /// packet from anywhere else still meets the agent's checks.
    func deliver(_ bytes: ByteBuffer, socket: Int, from source: SocketAddress) -> Bool {
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self),
              PacketKind(firstByte: first) == .rtp else { return false }
        guard let current = pair.withLock({ $0 }), current.socket == socket, current.destination == source,
              let body = receiver.withLock({ $0 }) else { return false }
        bytes.withUnsafeReadableBytes { body($0) }
        return true
    }

    func update(_ new: Pair?) {
        pair.withLock { $0 = new }
    }

    var current: (socket: Int, remote: TransportAddress)? {
        pair.withLock { $0.map { ($0.socket, $0.remote) } }
    }
}
