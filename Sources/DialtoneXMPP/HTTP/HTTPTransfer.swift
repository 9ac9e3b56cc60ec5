import DialtoneTLS
import Foundation
import NIOCore

/// Just enough HTTP/1.1 over our own TLS to put a file into an XEP-0363 slot and fetch one
/// back: one request per connection, Content-Length or chunked bodies, progress reported.
/// A general HTTP client would bring a large dependency for two requests.
public struct HTTPTransfer: Sendable {
    /// Where host names are looked up; nil uses the system's resolver.
    public var nameserver: DNSResolver.Nameserver?
    /// CAs to trust instead of the system store (the account's ca_file).
    public var caFile: String?
    public var timeout: Duration = .seconds(60)
    /// The largest body `get` accepts.
    public var maximumDownload = 512 << 20

    public init(nameserver: DNSResolver.Nameserver? = nil, caFile: String? = nil) {
        self.nameserver = nameserver
        self.caFile = caFile
    }

    public typealias Progress = @Sendable (_ done: Int, _ total: Int?) -> Void

    public func put(_ body: [UInt8], to url: URL, headers: [(String, String)], contentType: String,
                    progress: Progress? = nil) async throws {
        var head = headers.filter { !["host", "content-length", "content-type", "connection"].contains($0.0.lowercased()) }
        head.append(("Content-Type", contentType))
        head.append(("Content-Length", String(body.count)))
        let response = try await exchange("PUT", url: url, headers: head, body: body, progress: progress)
        guard (200..<300).contains(response.status) else { throw HTTPError.status(response.status, url.absoluteString) }
    }

    public func get(_ url: URL, progress: Progress? = nil) async throws -> [UInt8] {
        let response = try await exchange("GET", url: url, headers: [], body: [], progress: progress)
        guard (200..<300).contains(response.status) else { throw HTTPError.status(response.status, url.absoluteString) }
        return response.body
    }

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: [UInt8]
    }

    private func exchange(_ method: String, url: URL, headers: [(String, String)], body: [UInt8],
                          progress: Progress?) async throws -> Response {
        guard let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http", let host = url.host else {
            throw HTTPError.unsupportedURL(url.absoluteString)
        }
        let port = url.port ?? (scheme == "https" ? 443 : 80)
        var address = host
        if let nameserver {
            let addresses = try await DNSResolver(nameserver: nameserver).lookupAddresses(host)
            guard let first = addresses.first else { throw HTTPError.noAddress(host) }
            address = first
        }
        let socket = try await SocketTransport.connect(host: address, port: port,
                                                       timeout: .seconds(Int64(timeout.components.seconds)))
        defer { socket.close() }
        var connection = HTTPConnection(socket: socket, tls: scheme == "https" ? try TLSSession(client: TLSConfiguration(
            serverName: host, trust: caFile.map { .caFile($0) } ?? .system)) : nil)
        try await connection.handshake()

        // As sent: a decoded path could carry spaces into the request line.
        var path = url.path(percentEncoded: true)
        if path.isEmpty { path = "/" }
        if let query = url.query(percentEncoded: true) { path += "?" + query }
        var request = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\(url.port.map { ":\($0)" } ?? "")\r\nConnection: close\r\n"
        request += "User-Agent: Dialtone\r\n"
        for (name, value) in headers where !name.contains(where: { $0 == "\r" || $0 == "\n" }) && !value.contains(where: { $0 == "\r" || $0 == "\n" }) {
            request += "\(name): \(value)\r\n"
        }
        request += "\r\n"
        try await connection.send(Array(request.utf8))
        var sent = 0
        while sent < body.count {
            let end = min(sent + 64 << 10, body.count)
            try await connection.send(Array(body[sent..<end]))
            sent = end
            progress?(sent, body.count)
        }
        return try await connection.readResponse(limit: maximumDownload, progress: method == "GET" ? progress : nil)
    }
}

/// One HTTP/1.1 connection's byte handling (and TLS when https).
private struct HTTPConnection {
    let socket: SocketTransport
    let tls: TLSSession?
    var iterator: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
    var buffered: [UInt8] = []

    init(socket: SocketTransport, tls: TLSSession?) {
        self.socket = socket
        self.tls = tls
        iterator = socket.inbound.makeAsyncIterator()
    }

    mutating func handshake() async throws {
        guard let tls else { return }
        try tls.startHandshake()
        socket.write(tls.takeOutgoing())
        while !tls.isHandshakeComplete {
            guard let chunk = try await iterator.next() else { throw HTTPError.closed }
            buffered += try tls.feed(network: Array(chunk.readableBytesView))
            socket.write(tls.takeOutgoing())
        }
    }

    func send(_ bytes: [UInt8]) async throws {
        if let tls {
            try tls.write(plaintext: bytes)
            try await socket.writeAndWait(tls.takeOutgoing())
        } else {
            try await socket.writeAndWait(bytes)
        }
    }

    /// More plaintext, or nil at the end of the connection.
    mutating func read() async throws -> [UInt8]? {
        if !buffered.isEmpty {
            defer { buffered = [] }
            return buffered
        }
        while true {
            guard let chunk = try await iterator.next() else { return nil }
            guard let tls else { return Array(chunk.readableBytesView) }
            let plaintext = try tls.feed(network: Array(chunk.readableBytesView))
            socket.write(tls.takeOutgoing())
            if !plaintext.isEmpty { return plaintext }
            if tls.peerClosed { return nil }
        }
    }

    mutating func readResponse(limit: Int, progress: HTTPTransfer.Progress?) async throws -> HTTPTransfer.Response {
        var data: [UInt8] = []
        var headerEnd: Int?
        while headerEnd == nil {
            guard let more = try await read() else { throw HTTPError.closed }
            data += more
            headerEnd = Self.find([13, 10, 13, 10], in: data)
            if headerEnd == nil && data.count > 64 << 10 { throw HTTPError.malformed("headers too long") }
        }
        let head = String(decoding: data[..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        guard let statusLine = head.first, statusLine.hasPrefix("HTTP/1."),
              let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw HTTPError.malformed("status line")
        }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body = Array(data[(headerEnd! + 4)...])
        let total = headers["content-length"].flatMap(Int.init)
        if let total, total > limit { throw HTTPError.tooLarge(total) }
        while total.map({ body.count < $0 }) ?? true {
            guard let more = try await read() else { break }
            body += more
            guard body.count <= limit + 16 << 10 else { throw HTTPError.tooLarge(body.count) }
            progress?(body.count, total)
        }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true { body = try Self.dechunk(body) }
        if let total, body.count < total { throw HTTPError.closed }
        return HTTPTransfer.Response(status: status, headers: headers, body: total.map { Array(body.prefix($0)) } ?? body)
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index..<(index + needle.count)].elementsEqual(needle) {
            return index
        }
        return nil
    }

    static func dechunk(_ data: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < data.count {
            guard let lineEnd = find([13, 10], in: Array(data[index...])) else { throw HTTPError.malformed("chunk size") }
            let sizeText = String(decoding: data[index..<(index + lineEnd)], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { throw HTTPError.malformed("chunk size") }
            index += lineEnd + 2
            if size == 0 { break }
            guard index + size <= data.count else { throw HTTPError.closed }
            output += data[index..<(index + size)]
            index += size + 2
        }
        return output
    }
}

public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedURL(String)
    case noAddress(String)
    case status(Int, String)
    case malformed(String)
    case tooLarge(Int)
    case closed

    public var description: String {
        switch self {
        case .unsupportedURL(let url): "Cannot fetch \(url): only http and https links are supported."
        case .noAddress(let host): "Could not find \(host) in DNS."
        case .status(let code, let url): "The web server answered \(code) for \(url)."
        case .malformed(let what): "The web server's answer was malformed (\(what))."
        case .tooLarge(let size): "The file is too large (\(size) bytes)."
        case .closed: "The web server closed the connection before the transfer finished."
        }
    }
}
