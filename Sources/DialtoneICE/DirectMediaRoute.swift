#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// The selected pair as the media threads use it, without the agent's actor in between: the
/// capture thread sends its packets on the pair's socket itself (no hop to the event loop, no
/// wake-up of it), and the socket's event loop hands the peer's RTP straight to the media
/// receiver.
///
/// Each packet through the actor cost two task hops and a copy each way, about as much CPU as
/// the Opus encoder. The agent stays the authority: it rewrites this route whenever its media
/// route changes (a pair nominated, consent lost, closed), and anything the route cannot carry
/// (relayed pairs, DTLS, packets from elsewhere) keeps going through the agent.
public final class DirectMediaRoute: Sendable {
    struct Pair: Sendable {
        let socket: Int
        /// A duplicate of the socket's descriptor, the route's own: NIO may close its channel
        /// (and its descriptor) by itself on a socket error, and a number NIO closed can be
        /// reused at once by another connection. This one is closed only by the route, under
        /// the lock a send holds, when the pair is replaced or cleared.
        let descriptor: CInt
        let remote: TransportAddress
        let destination: SocketAddress
    }

    private let pair = Mutex<Pair?>(nil)
    private let receiver = Mutex<(@Sendable (UnsafeRawBufferPointer) -> Void)?>(nil)

    init() {}

    /// Sends on the selected pair; false when there is none this route can use (the caller
    /// then goes through the agent).
    public func send(_ datagram: UnsafeRawBufferPointer) -> Bool {
        pair.withLock { pair in
            guard let pair else { return false }
            let sent = pair.destination.withSockAddr { address, length in
                sendto(pair.descriptor, datagram.baseAddress, datagram.count, Int32(MSG_DONTWAIT), address, socklen_t(length))
            }
            // A full send buffer drops this packet, as the network would; anything else is
            // the agent's to deal with (it sees the socket fail its checks).
            return sent >= 0 || errno == EAGAIN || errno == EWOULDBLOCK
        }
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

    /// A UDP socket bound to `address` on a free port, for NIO to adopt.
    static func boundSocket(_ address: IPAddress) throws -> CInt {
        let local = try SocketAddress(ipAddress: address.description, port: 0)
        let descriptor = socket(local.protocol == .inet6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw ICEError.failed("cannot open a UDP socket: \(String(cString: strerror(errno)))") }
        let bound = local.withSockAddr { bind(descriptor, $0, socklen_t($1)) }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw ICEError.failed("cannot bind \(address): \(reason)")
        }
        return descriptor
    }

    /// Takes ownership of `new`'s descriptor and closes the previous pair's.
    func update(_ new: Pair?) {
        pair.withLock { current in
            if let old = current, old.descriptor != new?.descriptor { close(old.descriptor) }
            current = new
        }
    }

    var current: (socket: Int, remote: TransportAddress)? {
        pair.withLock { $0.map { ($0.socket, $0.remote) } }
    }
}
