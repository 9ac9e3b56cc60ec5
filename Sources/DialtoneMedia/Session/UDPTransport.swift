#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Where a media session's packets go, called synchronously from the capture thread (which
/// must not wait). In calls an adapter hands them to DialtoneICE's agent (whose own
/// `MediaTransport` is async); `UDPTransport` stands in for it on loopback.
public protocol MediaPacketOutput: Sendable {
    func send(_ datagram: UnsafeRawBufferPointer)
}

public enum TransportError: Error, Sendable, Equatable {
    case socket(String)
}

/// A plain UDP socket on 127.0.0.1 with a receive thread. Not for calls across networks:
/// no ICE, no NAT traversal; it exists so media can be tested before and apart from ICE.
public final class UDPTransport: MediaPacketOutput {
    public let port: UInt16
    private let descriptor: Int32
    private let remote: Mutex<sockaddr_in?> = Mutex(nil)
    private let running = Atomic<Bool>(true)
    private let thread: Mutex<MediaThread?> = Mutex(nil)
    private let handler: Mutex<(@Sendable (UnsafeRawBufferPointer) -> Void)?> = Mutex(nil)

    public init() throws(TransportError) {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw .socket(String(cString: strerror(errno))) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        // A receive timeout lets the thread notice `close()` without signals.
        var timeout = timeval(tv_sec: 0, tv_usec: 50_000)
        let timed = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard bound == 0, named == 0, timed == 0 else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .socket(reason)
        }
        descriptor = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    deinit {
        close()
    }

    public func connect(toPort port: UInt16) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        remote.withLock { $0 = address }
    }

    /// Starts delivering datagrams to `handler` on the receive thread.
    public func start(_ handler: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) throws(AudioError) {
        self.handler.withLock { $0 = handler }
        let fd = descriptor
        let started = try MediaThread(name: "dt-udp") { [self] in
            var buffer = [UInt8](repeating: 0, count: 2048)
            while running.load(ordering: .relaxed) {
                let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { continue }
                let deliver = self.handler.withLock { $0 }
                buffer.withUnsafeBytes { deliver?(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
            }
        }
        thread.withLock { $0 = started }
    }

    public func send(_ datagram: UnsafeRawBufferPointer) {
        guard var address = remote.withLock({ $0 }) else { return }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(descriptor, datagram.baseAddress, datagram.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Stops the receive thread; the socket is closed after it has ended.
    public func close() {
        guard running.exchange(false, ordering: .relaxed) else { return }
        let joining = thread.withLock { current -> MediaThread? in
            defer { current = nil }
            return current
        }
        joining?.join()
        Glibc.close(descriptor)
    }
}
