import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// SRV look-ups (RFC 2782) with a small DNS client of our own, so that the nameserver can be
/// chosen (tests point it at a server they start on loopback) and no libc resolver state is shared.
public struct DNSResolver: Sendable {
    public struct Nameserver: Sendable, Equatable {
        public var host: String
        public var port: UInt16
        public init(host: String, port: UInt16 = 53) {
            self.host = host
            self.port = port
        }

        /// The first IPv4 nameserver of /etc/resolv.conf.
        public static func system(resolvConf: String = "/etc/resolv.conf") -> Nameserver? {
            guard let text = try? String(contentsOfFile: resolvConf, encoding: .utf8) else { return nil }
            for line in text.split(separator: "\n") {
                let fields = line.split(whereSeparator: \.isWhitespace)
                if fields.count >= 2, fields[0] == "nameserver", inet_addr(String(fields[1])) != INADDR_NONE {
                    return Nameserver(host: String(fields[1]))
                }
            }
            return nil
        }
    }

    public struct Service: Sendable, Equatable {
        public var priority: UInt16
        public var weight: UInt16
        public var port: UInt16
        public var target: String
    }

    public let nameserver: Nameserver
    public var timeout: Duration = .seconds(2)
    public var attempts = 2

    public init(nameserver: Nameserver) {
        self.nameserver = nameserver
    }

    /// The SRV records for `name`, in the order to try them (priority, then weighted random).
    /// An empty result means there are none; a single "." target means the service is
    /// explicitly not offered, which also returns empty.
    public func lookupSRV(_ name: String) async throws(DNSError) -> [Service] {
        let query = Self.query(id: UInt16.random(in: 0...UInt16.max), name: name, type: 33)
        let response = try await exchange(query)
        let records = try Self.parseSRV(response, expectedID: UInt16(query[0]) << 8 | UInt16(query[1]))
        if records.count == 1, records[0].target.isEmpty { return [] }
        return Self.order(records)
    }

    /// The IPv4 and IPv6 addresses of `name` (A and AAAA), IPv6 first as RFC 6724 prefers.
    /// A name that is already an address literal is returned as it is.
    public func lookupAddresses(_ name: String) async throws(DNSError) -> [String] {
        if Self.isAddressLiteral(name) { return [name] }
        var addresses: [String] = []
        var failure: DNSError?
        // One family failing (a server that refuses AAAA) must not hide the other.
        for type: UInt16 in [28, 1] {
            let query = Self.query(id: UInt16.random(in: 0...UInt16.max), name: name, type: type)
            do {
                let response = try await exchange(query)
                addresses += try Self.parseAddresses(response, expectedID: UInt16(query[0]) << 8 | UInt16(query[1]), type: type)
            } catch {
                failure = error
            }
        }
        if addresses.isEmpty, let failure { throw failure }
        return addresses
    }

    static func isAddressLiteral(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }

    static func order(_ records: [Service]) -> [Service] {
        var result: [Service] = []
        for priority in Set(records.map(\.priority)).sorted() {
            var group = records.filter { $0.priority == priority }
            while !group.isEmpty {
                let total = group.reduce(0) { $0 + Int($1.weight) }
                var pick = total > 0 ? Int.random(in: 0...total) : 0
                var index = 0
                for (candidate, record) in group.enumerated() {
                    pick -= Int(record.weight)
                    index = candidate
                    if pick <= 0 { break }
                }
                result.append(group.remove(at: index))
            }
        }
        return result
    }

    private func exchange(_ query: [UInt8]) async throws(DNSError) -> [UInt8] {
        let nameserver = self.nameserver
        let milliseconds = Int32(timeout.wholeMilliseconds)
        let attempts = self.attempts
        let result: Result<[UInt8], DNSError> = await Task.detached {
            Self.blockingExchange(query, nameserver: nameserver, timeoutMilliseconds: milliseconds, attempts: attempts)
        }.value
        return try result.get()
    }

    private static func blockingExchange(_ query: [UInt8], nameserver: Nameserver, timeoutMilliseconds: Int32,
                                         attempts: Int) -> Result<[UInt8], DNSError> {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return .failure(.transport("socket: \(String(cString: strerror(errno)))")) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = nameserver.port.bigEndian
        guard inet_pton(AF_INET, nameserver.host, &address.sin_addr) == 1 else {
            return .failure(.transport("nameserver \(nameserver.host) is not an IPv4 address"))
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return .failure(.transport("connect: \(String(cString: strerror(errno)))")) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<attempts {
            _ = query.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, timeoutMilliseconds) > 0 else { continue }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count > 0 { return .success(Array(buffer.prefix(count))) }
        }
        return .failure(.timeout(nameserver.host))
    }

    // MARK: Wire format (RFC 1035)

    static func query(id: UInt16, name: String, type: UInt16) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            let utf8 = Array(label.utf8.prefix(63))
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes += [0, UInt8(type >> 8), UInt8(type & 0xFF), 0, 1]
        return bytes
    }

    static func parseSRV(_ message: [UInt8], expectedID: UInt16) throws(DNSError) -> [Service] {
        var services: [Service] = []
        try parseAnswers(message, expectedID: expectedID) { (type: UInt16, reader: inout DNSReader) throws(DNSError) in
            guard type == 33 else { return }
            let priority = try reader.u16()
            let weight = try reader.u16()
            let port = try reader.u16()
            let target = try reader.name()
            services.append(Service(priority: priority, weight: weight, port: port, target: target))
        }
        return services
    }

    static func parseAddresses(_ message: [UInt8], expectedID: UInt16, type wanted: UInt16) throws(DNSError) -> [String] {
        var addresses: [String] = []
        try parseAnswers(message, expectedID: expectedID) { (type: UInt16, reader: inout DNSReader) throws(DNSError) in
            guard type == wanted else { return }
            let length = wanted == 1 ? 4 : 16
            var bytes: [UInt8] = []
            for _ in 0..<length { bytes.append(try reader.u8()) }
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            _ = bytes.withUnsafeBytes { inet_ntop(wanted == 1 ? AF_INET : AF_INET6, $0.baseAddress, &text, socklen_t(text.count)) }
            addresses.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return addresses
    }

    /// Walks the answer section, handing each record's type and a reader at its data to `body`.
    private static func parseAnswers(_ message: [UInt8], expectedID: UInt16,
                                     _ body: (UInt16, inout DNSReader) throws(DNSError) -> Void) throws(DNSError) {
        var reader = DNSReader(bytes: message)
        guard message.count >= 12 else { throw .malformed("short header") }
        let id = try reader.u16()
        guard id == expectedID else { throw .malformed("answer to another query") }
        let flags = try reader.u16()
        let rcode = flags & 0x0F
        if rcode == 3 { return }  // NXDOMAIN: no such name
        guard rcode == 0 else { throw .serverFailure(Int(rcode)) }
        let questions = try reader.u16()
        let answers = try reader.u16()
        _ = try reader.u16()
        _ = try reader.u16()
        for _ in 0..<questions {
            _ = try reader.name()
            _ = try reader.u16()
            _ = try reader.u16()
        }
        for _ in 0..<answers {
            _ = try reader.name()
            let type = try reader.u16()
            _ = try reader.u16()
            _ = try reader.u32()
            let length = Int(try reader.u16())
            let end = reader.offset + length
            guard end <= message.count else { throw .malformed("record runs past the message") }
            var record = reader
            try body(type, &record)
            guard record.offset <= end else { throw .malformed("record data longer than its length") }
            reader.offset = end
        }
    }
}

private struct DNSReader {
    let bytes: [UInt8]
    var offset = 0

    mutating func u8() throws(DNSError) -> UInt8 {
        guard offset < bytes.count else { throw .malformed("truncated") }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }
    mutating func u32() throws(DNSError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

    /// A domain name, following compression pointers (bounded, so a loop of pointers ends).
    mutating func name() throws(DNSError) -> String {
        var labels: [String] = []
        var position = offset
        var jumped = false
        for _ in 0..<128 {
            guard position < bytes.count else { throw .malformed("truncated name") }
            let length = Int(bytes[position])
            if length == 0 {
                if !jumped { offset = position + 1 }
                return labels.joined(separator: ".")
            }
            if length & 0xC0 == 0xC0 {
                guard position + 1 < bytes.count else { throw .malformed("truncated pointer") }
                if !jumped { offset = position + 2 }
                position = (length & 0x3F) << 8 | Int(bytes[position + 1])
                jumped = true
                continue
            }
            guard position + 1 + length <= bytes.count else { throw .malformed("truncated label") }
            labels.append(String(decoding: bytes[(position + 1)...(position + length)], as: UTF8.self))
            position += 1 + length
        }
        throw .malformed("name too long or looping")
    }
}

public enum DNSError: Error, Sendable, Equatable, CustomStringConvertible {
    case transport(String)
    case timeout(String)
    case malformed(String)
    case serverFailure(Int)

    public var description: String {
        switch self {
        case .transport(let why): "DNS query failed: \(why)"
        case .timeout(let server): "no answer from nameserver \(server)"
        case .malformed(let why): "malformed DNS answer: \(why)"
        case .serverFailure(let code):
            switch code {
            case 2: "the nameserver failed to answer"
            case 5: "the nameserver refused the query"
            default: "nameserver error \(code)"
            }
        }
    }
}
