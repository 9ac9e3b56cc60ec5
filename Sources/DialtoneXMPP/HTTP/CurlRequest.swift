import CCurl
import Foundation

/// curl_global_init must run once before anything else of curl's, and was not thread-safe
/// before 7.84: a global's initialiser runs exactly once, under the runtime's lock, on first use.
let curlReady: Bool = dt_curl_global_init() == CURLE_OK

/// One HTTP exchange on one curl easy handle. curl_easy_perform blocks, so it runs on a thread
/// of its own, never on the Swift concurrency pool where a slow download would hold a worker;
/// the awaiting task resumes when it ends, and cancelling that task stops the transfer.
final class CurlRequest: @unchecked Sendable {
    struct Options: Sendable {
        var caFile: String?
        var timeout: Duration
        var maximumDownload: Int
        /// curl's "HOST:PORT:ADDRESS[,ADDRESS]" entries, so it never looks those names up itself.
        var resolve: [String] = []
    }

    struct Response: Sendable {
        var status: Int
        var body: [UInt8]
        /// Where a 3xx answer points, made absolute by curl; the caller decides whether to go.
        var redirect: String?
    }

    private let url: CurlURL
    private let upload: [UInt8]?
    private let headers: [(String, String)]
    private let options: Options
    private let progress: HTTPTransfer.Progress?

    // Only touched on the transfer's thread: by perform and by curl's callbacks inside it.
    private var uploaded = 0
    private var received: [UInt8] = []
    private var overLimit = false
    private var reported = -1

    private let lock = NSLock()
    private var cancelled = false

    /// `upload` nil is a GET; otherwise a PUT of those bytes.
    init(url: CurlURL, upload: [UInt8]?, headers: [(String, String)], options: Options, progress: HTTPTransfer.Progress?) {
        self.url = url
        self.upload = upload
        self.headers = headers
        self.options = options
        self.progress = progress
    }

    func run() async throws -> Response {
        try await withTaskCancellationHandler {
            try Task.checkCancellation()
            return try await withCheckedThrowingContinuation { continuation in
                let thread = Thread { [self] in continuation.resume(with: perform()) }
                thread.name = "dialtone-http"
                thread.start()
            }
        } onCancel: {
            lock.withLock { cancelled = true }
        }
    }

    private var isCancelled: Bool { lock.withLock { cancelled } }

    private func perform() -> Result<Response, any Error> {
        _ = dt_block_sigpipe_on_this_thread()
        guard curlReady, let curl = curl_easy_init() else { return .failure(HTTPError.failed("libcurl could not start")) }
        defer { curl_easy_cleanup(curl) }
        let errorText = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorText.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        defer { errorText.deallocate() }

        // "Expect:" turns off 100-continue, which would hold every upload for a second.
        var headerLines = ["Expect:"]
        for (name, value) in headers where !(name + value).contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
            // "Name:" alone would tell curl to drop the header; "Name;" sends it empty.
            headerLines.append(value.isEmpty ? "\(name);" : "\(name): \(value)")
        }
        let headerList = Self.list(headerLines)
        defer { curl_slist_free_all(headerList) }
        let resolveList = Self.list(options.resolve)
        defer { curl_slist_free_all(resolveList) }

        let me = Unmanaged.passUnretained(self).toOpaque()
        let milliseconds = max(1, Int(options.timeout.components.seconds) * 1000
            + Int(options.timeout.components.attoseconds / 1_000_000_000_000_000))
        var set: [CURLcode] = [
            dt_curl_set_string(curl, CURLOPT_URL, url.text),
            dt_curl_set_string(curl, CURLOPT_PROTOCOLS_STR, "http,https"),
            dt_curl_set_string(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"),
            dt_curl_set_long(curl, CURLOPT_FOLLOWLOCATION, 0),
            // Several threads use curl at once: no alarm() around name look-ups, no signal handlers.
            dt_curl_set_long(curl, CURLOPT_NOSIGNAL, 1),
            dt_curl_set_pointer(curl, CURLOPT_ERRORBUFFER, errorText),
            dt_curl_set_string(curl, CURLOPT_USERAGENT, "Dialtone"),
            dt_curl_set_list(curl, CURLOPT_HTTPHEADER, headerList),
            dt_curl_set_long(curl, CURLOPT_SSL_VERIFYPEER, 1),
            dt_curl_set_long(curl, CURLOPT_SSL_VERIFYHOST, 2),
            dt_curl_set_long(curl, CURLOPT_CONNECTTIMEOUT_MS, milliseconds),
            // A server silent (under a byte a second) for the timeout ends the transfer; a
            // long download that keeps moving does not.
            dt_curl_set_long(curl, CURLOPT_LOW_SPEED_LIMIT, 1),
            dt_curl_set_long(curl, CURLOPT_LOW_SPEED_TIME, (milliseconds + 999) / 1000),
            dt_curl_set_write_function(curl, curlWrite),
            dt_curl_set_pointer(curl, CURLOPT_WRITEDATA, me),
            dt_curl_set_long(curl, CURLOPT_NOPROGRESS, 0),
            dt_curl_set_xferinfo_function(curl, curlProgress),
            dt_curl_set_pointer(curl, CURLOPT_XFERINFODATA, me),
        ]
        if let caFile = options.caFile {
            // Instead of the system store, as for the XMPP connection: Debian's curl also has
            // a default CA directory, which would otherwise still be trusted.
            set.append(dt_curl_set_string(curl, CURLOPT_CAINFO, caFile))
            set.append(dt_curl_set_string(curl, CURLOPT_CAPATH, nil))
        }
        if let resolveList { set.append(dt_curl_set_list(curl, CURLOPT_RESOLVE, resolveList)) }
        if let upload {
            set.append(dt_curl_set_long(curl, CURLOPT_UPLOAD, 1))
            set.append(dt_curl_set_offset(curl, CURLOPT_INFILESIZE_LARGE, curl_off_t(upload.count)))
            set.append(dt_curl_set_read_function(curl, curlRead))
            set.append(dt_curl_set_pointer(curl, CURLOPT_READDATA, me))
        } else {
            set.append(dt_curl_set_offset(curl, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maximumDownload)))
        }
        guard set.allSatisfy({ $0 == CURLE_OK }) else {
            return .failure(HTTPError.failed("libcurl refused a setting (\(Self.text(curl_easy_strerror(set.first { $0 != CURLE_OK }!))))"))
        }

        let code = curl_easy_perform(curl)
        guard code == CURLE_OK else {
            let detail = errorText.pointee != 0 ? Self.text(errorText) : Self.text(curl_easy_strerror(code))
            return .failure(error(for: code, detail: detail))
        }
        var status = 0
        _ = dt_curl_get_long(curl, CURLINFO_RESPONSE_CODE, &status)
        var location: UnsafeMutablePointer<CChar>?
        _ = dt_curl_get_string(curl, CURLINFO_REDIRECT_URL, &location)
        var length: curl_off_t = -1
        _ = dt_curl_get_offset(curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
        if (200..<300).contains(status) {
            if let upload, reported != upload.count { progress?(upload.count, upload.count) }
            if upload == nil, reported != received.count { progress?(received.count, length >= 0 ? Int(length) : nil) }
        }
        return .success(Response(status: status, body: received, redirect: location.map { String(cString: $0) }))
    }

    /// Errors a user can act on; curl's own sentence where none of ours says more (a malformed
    /// chunk, a reset connection).
    private func error(for code: CURLcode, detail: String) -> any Error {
        if isCancelled { return CancellationError() }
        if overLimit { return HTTPError.tooLarge(options.maximumDownload) }
        switch code {
        case CURLE_FILESIZE_EXCEEDED: return HTTPError.tooLarge(options.maximumDownload)
        case CURLE_OPERATION_TIMEDOUT: return HTTPError.timedOut(url.host)
        case CURLE_COULDNT_RESOLVE_HOST: return HTTPError.noAddress(url.host)
        case CURLE_COULDNT_CONNECT: return HTTPError.connectionFailed(url.host, detail)
        case CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_CERTPROBLEM,
             CURLE_SSL_CIPHER, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS:
            return HTTPError.tls(detail)
        case CURLE_PARTIAL_FILE, CURLE_GOT_NOTHING: return HTTPError.closed
        case CURLE_WEIRD_SERVER_REPLY, CURLE_BAD_CONTENT_ENCODING, CURLE_HTTP2, CURLE_HTTP2_STREAM, CURLE_HTTP3:
            return HTTPError.malformed(detail)
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT: return HTTPError.unsupportedURL(url.text)
        default: return HTTPError.failed(detail)
        }
    }

    // MARK: curl's callbacks, on the transfer's thread

    fileprivate func write(_ bytes: UnsafeRawBufferPointer) -> Int {
        // MAXFILESIZE only covers a length announced up front; chunked or unannounced bodies
        // are cut here. Returning less than given makes curl abort the transfer.
        guard received.count + bytes.count <= options.maximumDownload else {
            overLimit = true
            return 0
        }
        received.append(contentsOf: bytes)
        return bytes.count
    }

    fileprivate func read(into buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let upload else { return 0 }
        let count = min(buffer.count, upload.count - uploaded)
        upload.withUnsafeBytes { source in
            buffer.baseAddress!.copyMemory(from: source.baseAddress! + uploaded, byteCount: count)
        }
        uploaded += count
        return count
    }

    /// False stops the transfer: the awaiting task was cancelled.
    fileprivate func progressed(downloadTotal: Int, downloaded: Int, uploadTotal: Int, uploaded: Int) -> Bool {
        if isCancelled { return false }
        if upload != nil, uploaded != reported, uploaded > 0 {
            reported = uploaded
            progress?(uploaded, uploadTotal)
        } else if upload == nil, downloaded != reported, downloaded > 0 {
            reported = downloaded
            progress?(downloaded, downloadTotal > 0 ? downloadTotal : nil)
        }
        return true
    }

    private static func list(_ lines: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines { list = curl_slist_append(list, line) }
        return list
    }

    /// curl's own messages can quote what the server sent: controls never reach the screen.
    static func text(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "" }
        let scalars = String(cString: pointer).unicodeScalars.filter {
            !($0.properties.generalCategory == .control || $0.properties.generalCategory == .format)
        }
        return String(String.UnicodeScalarView(scalars)).trimmingCharacters(in: .whitespaces)
    }
}

private func request(_ userdata: UnsafeMutableRawPointer?) -> CurlRequest {
    Unmanaged<CurlRequest>.fromOpaque(userdata!).takeUnretainedValue()
}

private let curlWrite: curl_write_callback = { data, size, count, userdata in
    request(userdata).write(UnsafeRawBufferPointer(start: data, count: size * count))
}

private let curlRead: curl_read_callback = { data, size, count, userdata in
    request(userdata).read(into: UnsafeMutableRawBufferPointer(start: data, count: size * count))
}

private let curlProgress: curl_xferinfo_callback = { userdata, downloadTotal, downloaded, uploadTotal, uploaded in
    request(userdata).progressed(downloadTotal: Int(downloadTotal), downloaded: Int(downloaded),
                                 uploadTotal: Int(uploadTotal), uploaded: Int(uploaded)) ? 0 : 1
}

/// A URL as curl itself reads it, so that the host checked and pinned is the one curl connects to.
struct CurlURL: Sendable {
    let text: String
    let scheme: String
    /// Without the brackets of an IPv6 literal.
    let host: String
    let port: Int

    init(_ text: String) throws(HTTPError) {
        guard curlReady, let handle = curl_url() else { throw .failed("libcurl could not start") }
        defer { curl_url_cleanup(handle) }
        let shown = CurlRequest.text(text)
        guard curl_url_set(handle, CURLUPART_URL, text, UInt32(CURLU_NON_SUPPORT_SCHEME)) == CURLUE_OK else {
            throw .unsupportedURL(shown)
        }
        func part(_ which: CURLUPart, _ flags: Int32 = 0) -> String? {
            var value: UnsafeMutablePointer<CChar>?
            guard curl_url_get(handle, which, &value, UInt32(flags)) == CURLUE_OK, let value else { return nil }
            defer { curl_free(value) }
            return String(cString: value)
        }
        guard let scheme = part(CURLUPART_SCHEME)?.lowercased(), scheme == "http" || scheme == "https",
              let host = part(CURLUPART_HOST), !host.isEmpty,
              let port = part(CURLUPART_PORT, CURLU_DEFAULT_PORT).flatMap({ Int($0) }),
              let normalised = part(CURLUPART_URL) else {
            throw .unsupportedURL(shown)
        }
        self.text = normalised
        self.scheme = scheme
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        self.port = port
    }
}
