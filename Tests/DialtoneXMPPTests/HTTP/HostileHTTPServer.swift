import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A web server on 127.0.0.1 that answers each request with whatever bytes the test scripts,
/// well-formed or not, so the client can be shown lying, truncated and oversized answers.
/// Plain sockets on its own thread: nothing of the client under test is shared with it.
final class HostileHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        var method: String
        var target: String
        /// Header names lower-cased; a repeated header keeps its last value.
        var headers: [String: String]
        var body: [UInt8]
    }

    struct Reply: Sendable {
        var bytes: [UInt8]
        /// Keep the connection open after the bytes until the server stops (a stalled server).
        var holdOpen = false

        init(_ bytes: [UInt8], holdOpen: Bool = false) {
            self.bytes = bytes
            self.holdOpen = holdOpen
        }

        init(_ text: String, holdOpen: Bool = false) {
            self.init(Array(text.utf8), holdOpen: holdOpen)
        }
    }

    let port: UInt16
    private let listener: Int32
    private let lock = NSLock()
    private var stopped = false
    private var held: [Int32] = []
    private var received: [Request] = []
    private let finished = DispatchSemaphore(value: 0)

    init(answer: @escaping @Sendable (Request) -> Reply) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(fd, generic, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, generic, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        listener = fd
        port = UInt16(bigEndian: address.sin_port)
        Thread.detachNewThread { [self] in
            serve(answer)
            finished.signal()
        }
    }

    /// Every request the server has read, in order.
    var requests: [Request] { lock.withLock { received } }

    func url(_ path: String) -> URL { URL(string: "http://127.0.0.1:\(port)\(path)")! }

    func stop() {
        let connections = lock.withLock {
            stopped = true
            defer { held = [] }
            return held
        }
        for connection in connections { close(connection) }
        finished.wait()
        close(listener)
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    private func serve(_ answer: @Sendable (Request) -> Reply) {
        while !isStopped {
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            guard let request = Self.readRequest(connection) else {
                close(connection)
                continue
            }
            lock.withLock { received.append(request) }
            let reply = answer(request)
            Self.writeAll(reply.bytes, to: connection)
            if reply.holdOpen {
                lock.withLock { held.append(connection) }
            } else {
                shutdown(connection, Int32(SHUT_WR))
                close(connection)
            }
        }
    }

    private static func readRequest(_ connection: Int32) -> Request? {
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func more() -> Bool {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return false }
            data += buffer[..<count]
            return true
        }
        var headerEnd: Int?
        while headerEnd == nil {
            guard more() else { return nil }
            headerEnd = data.indices.dropLast(3).first { data[$0] == 13 && data[$0 + 1] == 10 && data[$0 + 2] == 13 && data[$0 + 3] == 10 }
        }
        let lines = String(decoding: data[..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        guard requestLine.count == 3 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = headers["content-length"].flatMap(Int.init) ?? 0
        let bodyStart = headerEnd! + 4
        while data.count - bodyStart < length {
            guard more() else { return nil }
        }
        return Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers,
                       body: Array(data[bodyStart..<(bodyStart + length)]))
    }

    private static func writeAll(_ bytes: [UInt8], to connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }
}
