import Foundation

/// Puts a file into an XEP-0363 slot and fetches attachments back, through libcurl: the
/// framing, chunking, TLS and proxy handling of HTTP are curl's, which the field trusts for
/// exactly this job; this type decides what is allowed (http and https only, a size cap,
/// redirects checked one by one) and where host names are looked up.
public struct HTTPTransfer: Sendable {
    /// Where host names are looked up; nil leaves it to curl and the system's resolver.
    public var nameserver: DNSResolver.Nameserver?
    /// CAs to trust instead of the system store (the account's ca_file).
    public var caFile: String?
    /// The longest the server may take to accept the connection, or stay silent during a transfer.
    public var timeout: Duration = .seconds(60)
    /// The largest body `get` accepts.
    public var maximumDownload = 512 << 20

    /// Redirects a download follows before giving up.
    static let maximumRedirects = 5

    public init(nameserver: DNSResolver.Nameserver? = nil, caFile: String? = nil) {
        self.nameserver = nameserver
        self.caFile = caFile
    }

    public typealias Progress = @Sendable (_ done: Int, _ total: Int?) -> Void

    public func put(_ body: [UInt8], to url: URL, headers: [(String, String)], contentType: String,
                    progress: Progress? = nil) async throws {
        // Framing headers are curl's to write; a slot's own would contradict them.
        var head = headers.filter { !["host", "content-length", "content-type", "connection", "transfer-encoding", "expect"]
            .contains($0.0.lowercased()) }
        head.append(("Content-Type", contentType))
        let target = try CurlURL(url.absoluteString)
        let response = try await CurlRequest(url: target, upload: body, headers: head, options: try await options(for: target),
                                             progress: progress).run()
        guard (200..<300).contains(response.status) else { throw HTTPError.status(response.status, url.absoluteString) }
    }

    public func get(_ url: URL, progress: Progress? = nil) async throws -> [UInt8] {
        var target = try CurlURL(url.absoluteString)
        // Followed here rather than by curl, so that each new host is looked up through the
        // account's nameserver and each new address is checked like the first.
        for _ in 0...Self.maximumRedirects {
            let response = try await CurlRequest(url: target, upload: nil, headers: [], options: try await options(for: target),
                                                 progress: progress).run()
            if [301, 302, 303, 307, 308].contains(response.status), let location = response.redirect {
                let next = try? CurlURL(location)
                // From https to http would hide a downgrade behind a link that looked secure.
                guard let next, next.scheme == "https" || target.scheme == "http" else {
                    throw HTTPError.redirectRefused(CurlRequest.text(location))
                }
                target = next
                continue
            }
            guard (200..<300).contains(response.status) else { throw HTTPError.status(response.status, target.text) }
            return response.body
        }
        throw HTTPError.tooManyRedirects(url.absoluteString)
    }

    private func options(for url: CurlURL) async throws -> CurlRequest.Options {
        var options = CurlRequest.Options(caFile: caFile, timeout: timeout, maximumDownload: maximumDownload)
        if let nameserver, !DNSResolver.isAddressLiteral(url.host) {
            let addresses = try await DNSResolver(nameserver: nameserver).lookupAddresses(url.host)
            guard !addresses.isEmpty else { throw HTTPError.noAddress(url.host) }
            // Pinned for this host and port, curl never asks the system's resolver.
            let list = addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")
            options.resolve = ["\(url.host):\(url.port):\(list)"]
        }
        return options
    }
}

public enum HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case unsupportedURL(String)
    case noAddress(String)
    case status(Int, String)
    case malformed(String)
    /// Over the download limit, which it carries.
    case tooLarge(Int)
    case closed
    case timedOut(String)
    case connectionFailed(String, String)
    case tls(String)
    case redirectRefused(String)
    case tooManyRedirects(String)
    case failed(String)

    public var description: String {
        switch self {
        case .unsupportedURL(let url): "Cannot fetch \(url): only http and https links are supported."
        case .noAddress(let host): "Could not find \(host) in DNS."
        case .status(let code, let url): "The web server answered \(code) for \(url)."
        case .malformed(let what): "The web server's answer was malformed (\(what))."
        case .tooLarge(let limit): "The file is larger than the \(limit) bytes a download may have."
        case .closed: "The web server closed the connection before the transfer finished."
        case .timedOut(let host): "The web server \(host) stopped answering."
        case .connectionFailed(let host, let why): "Could not connect to \(host) (\(why))."
        case .tls(let why): "The secure connection to the web server failed: \(why)."
        case .redirectRefused(let url): "The web server sent the download on to \(url), which Dialtone does not follow (only http and https, never from https to http)."
        case .tooManyRedirects(let url): "The web server redirected \(url) more than \(HTTPTransfer.maximumRedirects) times."
        case .failed(let why): "The transfer failed: \(why)."
        }
    }
}
