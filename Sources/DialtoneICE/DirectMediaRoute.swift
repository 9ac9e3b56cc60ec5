#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import Synchronization

/// The selected pair as the media threads use it, without the agent's actor in between: the
/// capture thread sends its packets on the pair's socket itself (no hop to the event loop, no
/// wake-up of it), and the playback thread, which wakes once a frame anyway, reads what the
/// peer sent from that socket itself (`readWaiting`). Until it does (the first packets of a
/// call, which start the playback clock), the socket's event loop hands the peer's RTP
/// straight to the media receiver.
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
        /// The channel NIO reads the socket with; its reading pauses while a media thread reads.
        let channel: any Channel
    }

    /// What the route holds, all behind one lock: a send, a read and a change of pair never
    /// overlap, so the descriptor they use stays open while they do.
    private struct State {
        var pair: Pair?
        /// The socket whose channel no longer reads because a media thread does.
        var pausedSocket: Int?
        /// When the media thread last read (CLOCK_MONOTONIC ns), to notice a stalled one.
        var lastRead: Int64 = 0
        /// One reader at a time (the playback thread): its buffers, kept from frame to frame.
        var datagram = [UInt8](repeating: 0, count: 2048)
        var control = [UInt8](repeating: 0, count: 64)
    }

    private let state = Mutex(State())
    private let receiver = Mutex<(@Sendable (UnsafeRawBufferPointer) -> Void)?>(nil)
    /// How a datagram the route will not take goes on to the agent (its input stream).
    private let forward: @Sendable (_ socket: Int, _ from: TransportAddress, _ bytes: [UInt8]) -> Void

    init(forward: @escaping @Sendable (_ socket: Int, _ from: TransportAddress, _ bytes: [UInt8]) -> Void) {
        self.forward = forward
    }

    /// Sends on the selected pair; false when there is none this route can use (the caller
    /// then goes through the agent).
    public func send(_ datagram: UnsafeRawBufferPointer) -> Bool {
        state.withLock { state in
            guard let pair = state.pair else { return false }
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
        guard let current = state.withLock({ $0.pair }), current.socket == socket, current.destination == source,
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
        // Receive timestamps from the start, not only once a pair is chosen: the kernel turns
        // timestamping on through deferred work the first time a socket asks, and until that
        // ran it stamps a datagram when it is read, not when it came (seen under load as
        // arrival times equal to read times). Gathering and checks give that work time.
        var on: CInt = 1
        setsockopt(descriptor, SOL_SOCKET, SO_TIMESTAMPNS_OLD, &on, socklen_t(MemoryLayout<CInt>.size))
        return descriptor
    }

    /// Reads the datagrams waiting on the selected pair's socket (up to `datagramsPerRead`),
    /// on the calling thread, without waiting: the peer's RTP and RTCP go to `body` with their arrival time
    /// (CLOCK_MONOTONIC nanoseconds, from the kernel's receive timestamp, so reading once a
    /// frame does not blur the jitter the buffer measures); anything else (consent checks,
    /// DTLS, packets from another address) goes to the agent as if the event loop had read
    /// it. The first read of a pair pauses the event loop's reading of its socket: from then
    /// on nothing wakes for each packet. False when there is no pair to read (the event loop
    /// goes on reading then).
    @discardableResult
    public func readWaiting(_ body: (UnsafeRawBufferPointer, Int64) -> Void) -> Bool {
        state.withLock { state in
            guard let pair = state.pair else { return false }
            if state.pausedSocket != pair.socket {
                pair.channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
                state.pausedSocket = pair.socket
            }
            let clocks = ClockOffset()
            state.lastRead = clocks.monotonicNow
            // A bounded number a frame: a flood (the port is in the signalling, anyone can
            // send to it) must not keep the audio thread here; the kernel drops what the
            // socket's buffer cannot hold until the next frame.
            for _ in 0..<Self.datagramsPerRead {
                var source = sockaddr_storage()
                let (count, kernelTime) = Self.receive(on: pair.descriptor, into: &state.datagram, control: &state.control, from: &source)
                // EAGAIN: all read. A pending socket error (ICMP unreachable) is the agent's
                // business, which sees the pair fail its checks; stop for this frame.
                guard count >= 0 else { break }
                let arrival = kernelTime.map(clocks.monotonic(fromRealtime:)) ?? clocks.monotonicNow
                state.datagram.withUnsafeBytes { buffer in
                    let datagram = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                    let isMedia = count > 0 && PacketKind(firstByte: datagram[0]) == .rtp
                    if isMedia && Self.same(source, pair.destination) {
                        body(datagram, arrival)
                    } else if let from = Self.transportAddress(source) {
                        forward(pair.socket, from, Array(datagram))
                    }
                }
            }
            return true
        }
    }

    /// One non-blocking recvmsg: the datagram's length (negative when none waits) and its
    /// kernel receive time (CLOCK_REALTIME nanoseconds) when the socket gave one.
    private static func receive(on descriptor: CInt, into datagram: inout [UInt8], control: inout [UInt8],
                                from source: inout sockaddr_storage) -> (count: Int, kernelTime: Int64?) {
        var vector = iovec()
        var message = msghdr()
        return datagram.withUnsafeMutableBytes { buffer in
            control.withUnsafeMutableBytes { control in
                withUnsafeMutablePointer(to: &source) { address in
                    vector.iov_base = buffer.baseAddress
                    vector.iov_len = buffer.count
                    return withUnsafeMutablePointer(to: &vector) { vector in
                        message.msg_name = UnsafeMutableRawPointer(address)
                        message.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
                        message.msg_iov = vector
                        message.msg_iovlen = 1
                        message.msg_control = control.baseAddress
                        message.msg_controllen = control.count
                        let count = recvmsg(descriptor, &message, Int32(MSG_DONTWAIT))
                        return (count, count >= 0 ? receiveTime(control, length: message.msg_controllen) : nil)
                    }
                }
            }
        }
    }

    /// Most datagrams one `readWaiting` takes. Read once a frame, 50 times a second, that is
    /// 1,600 datagrams a second, 32 times what a call sends.
    static let datagramsPerRead = 32

    /// Called on the agent's timer: a media thread that paused the event loop's reading and
    /// then stopped reading (a sound device that blocks for good) gives the socket back, so
    /// consent checks are still answered and the call is not dropped for it. Its next read
    /// takes the socket again.
    func resumeIfReaderStalled(now: Int64 = monotonicNow(), after stall: Int64 = 1_000_000_000) {
        state.withLock { state in
            guard state.pausedSocket != nil, now - state.lastRead > stall else { return }
            Self.resumeEventLoop(&state)
        }
    }

    /// The event loop reads the pair's socket again, if a reader had paused it. (A paused
    /// socket is always the current pair's: a change of socket resumes first.)
    private static func resumeEventLoop(_ state: inout State) {
        if let paused = state.pausedSocket, let pair = state.pair, pair.socket == paused {
            pair.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
        }
        state.pausedSocket = nil
    }

    /// Whether the event loop reads the selected pair's socket (nil without a pair): for tests.
    func eventLoopReads() async -> Bool? {
        guard let channel = state.withLock({ $0.pair?.channel }) else { return nil }
        return try? await channel.getOption(ChannelOptions.autoRead).get()
    }

    /// The reader stopped (the playback thread ended): the event loop reads the socket again.
    public func stopReading() {
        state.withLock { Self.resumeEventLoop(&$0) }
    }

    /// Takes ownership of `new`'s descriptor and closes the previous pair's. A channel a
    /// reader paused reads again: the reader moves to the new pair at its next read.
    func update(_ new: Pair?) {
        state.withLock { state in
            if let new, state.pair?.descriptor != new.descriptor {
                // Receive timestamps (already on for sockets of ours, see boundSocket; a pair's
                // socket may come from elsewhere, as a relayed one does).
                var on: CInt = 1
                setsockopt(new.descriptor, SOL_SOCKET, SO_TIMESTAMPNS_OLD, &on, socklen_t(MemoryLayout<CInt>.size))
            }
            if new?.socket != state.pair?.socket { Self.resumeEventLoop(&state) }
            if let old = state.pair, old.descriptor != new?.descriptor { close(old.descriptor) }
            state.pair = new
        }
    }

    var current: (socket: Int, remote: TransportAddress)? {
        state.withLock { $0.pair.map { ($0.socket, $0.remote) } }
    }

    /// SCM_TIMESTAMPNS from a recvmsg control buffer: CLOCK_REALTIME nanoseconds.
    private static func receiveTime(_ control: UnsafeMutableRawBufferPointer, length: Int) -> Int64? {
        // struct cmsghdr { size_t len; int level; int type; } then the data, aligned to size_t.
        let header = MemoryLayout<Int>.size + 2 * MemoryLayout<CInt>.size
        var offset = 0
        while offset + header <= length {
            let messageLength = control.loadUnaligned(fromByteOffset: offset, as: Int.self)
            let level = control.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size, as: CInt.self)
            let type = control.loadUnaligned(fromByteOffset: offset + MemoryLayout<Int>.size + MemoryLayout<CInt>.size, as: CInt.self)
            guard messageLength >= header, offset + messageLength <= length else { return nil }
            if level == SOL_SOCKET, type == SO_TIMESTAMPNS_OLD, messageLength >= header + MemoryLayout<timespec>.size {
                let time = control.loadUnaligned(fromByteOffset: offset + header, as: timespec.self)
                return Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
            }
            offset += (messageLength + MemoryLayout<Int>.size - 1) & ~(MemoryLayout<Int>.size - 1)
        }
        return nil
    }

    /// Whether a received address is `destination` (the pair's remote): family, address and
    /// port, compared in place (building a SocketAddress to compare would allocate per packet).
    private static func same(_ source: sockaddr_storage, _ destination: SocketAddress) -> Bool {
        var source = source
        return destination.withSockAddr { address, length in
            withUnsafeBytes(of: &source) { received in
                let expected = UnsafeRawBufferPointer(start: address, count: length)
                switch CInt(address.pointee.sa_family) {
                case AF_INET:
                    // sin_family, sin_port, sin_addr: the first 8 bytes.
                    return received.prefix(8).elementsEqual(expected.prefix(8))
                case AF_INET6:
                    // sin6_family, sin6_port, then sin6_addr at 8…24 (flow info in between varies).
                    return received.prefix(4).elementsEqual(expected.prefix(4))
                        && received[8..<24].elementsEqual(expected[8..<24])
                default:
                    return false
                }
            }
        }
    }

    private static func transportAddress(_ source: sockaddr_storage) -> TransportAddress? {
        let family = CInt(source.ss_family)
        var source = source
        return withUnsafeBytes(of: &source) { raw -> TransportAddress? in
            switch family {
            case AF_INET: return TransportAddress(SocketAddress(raw.load(as: sockaddr_in.self), host: ""))
            case AF_INET6: return TransportAddress(SocketAddress(raw.load(as: sockaddr_in6.self), host: ""))
            default: return nil
            }
        }
    }
}

func monotonicNow() -> Int64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec)
}

/// CLOCK_REALTIME (the kernel's receive timestamps) to CLOCK_MONOTONIC (the media clock),
/// read once per batch of datagrams.
private struct ClockOffset {
    let monotonicNow: Int64
    private let offset: Int64

    init() {
        monotonicNow = DialtoneICE.monotonicNow()
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        offset = Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec) - monotonicNow
    }

    func monotonic(fromRealtime nanoseconds: Int64) -> Int64 {
        // Never later than now: a clock step between the two reads must not date a packet ahead.
        min(nanoseconds - offset, monotonicNow)
    }
}
