import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A DNS server on 127.0.0.1 that answers every A question with one address and every other
/// question with no records, and remembers the names it was asked.
final class LoopbackNameserver: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let address: [UInt8]
    private let lock = NSLock()
    private var stopped = false
    private var asked: [String] = []
    private let finished = DispatchSemaphore(value: 0)

    init(address text: String) throws {
        var parsed = in_addr()
        guard inet_pton(AF_INET, text, &parsed) == 1 else { throw POSIXError(.EINVAL) }
        address = withUnsafeBytes(of: parsed.s_addr) { Array($0) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        local.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &local) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard fd >= 0, bound else {
            close(fd)
            throw POSIXError(.EADDRINUSE)
        }
        self.fd = fd
        port = UInt16(bigEndian: local.sin_port)
        Thread.detachNewThread { [self] in
            serve()
            finished.signal()
        }
    }

    var questions: [String] { lock.withLock { asked } }

    func stop() {
        lock.withLock { stopped = true }
        finished.wait()
        close(fd)
    }

    private func serve() {
        var buffer = [UInt8](repeating: 0, count: 1500)
        while !lock.withLock({ stopped }) {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, 50) > 0 else { continue }
            var peer = sockaddr_storage()
            var peerLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let count = withUnsafeMutablePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &peerLength) }
            }
            guard count > 12, let answer = answer(Array(buffer[..<count])) else { continue }
            _ = withUnsafePointer(to: &peer) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, answer, answer.count, 0, $0, peerLength) }
            }
        }
    }

    private func answer(_ query: [UInt8]) -> [UInt8]? {
        var index = 12
        var labels: [String] = []
        while index < query.count, query[index] != 0 {
            let length = Int(query[index])
            guard index + 1 + length <= query.count else { return nil }
            labels.append(String(decoding: query[(index + 1)..<(index + 1 + length)], as: UTF8.self))
            index += 1 + length
        }
        guard index + 5 <= query.count else { return nil }
        let type = UInt16(query[index + 1]) << 8 | UInt16(query[index + 2])
        lock.withLock { asked.append(labels.joined(separator: ".")) }
        var answer = Array(query[..<(index + 5)])
        answer[2] = 0x81; answer[3] = 0x80  // a response, recursion available, no error
        answer[6] = 0; answer[7] = type == 1 ? 1 : 0
        answer[8] = 0; answer[9] = 0; answer[10] = 0; answer[11] = 0
        if type == 1 {
            answer += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
        }
        return answer
    }
}
