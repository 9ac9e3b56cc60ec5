import DialtoneXMPP
import Foundation
import XCTest

/// The HTTP client against a server on loopback that lies: every malformed or oversized answer
/// must come back as a thrown error, never a crash, and every good one byte for byte.
final class HTTPTransferTests: XCTestCase {
    private func serve(_ reply: HostileHTTPServer.Reply) throws -> HostileHTTPServer {
        try HostileHTTPServer { _ in reply }
    }

    /// The error `get` throws for the server's answer, failing the test if it returns bytes.
    private func getError(_ reply: HostileHTTPServer.Reply, transfer: HTTPTransfer = HTTPTransfer(),
                          file: StaticString = #filePath, line: UInt = #line) async throws -> (any Error)? {
        let server = try serve(reply)
        defer { server.stop() }
        do {
            let bytes = try await transfer.get(server.url("/file"))
            XCTFail("accepted \(bytes.count) bytes", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private static func chunked(_ chunks: [[UInt8]]) -> [UInt8] {
        var bytes = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for chunk in chunks {
            bytes += Array((String(chunk.count, radix: 16) + "\r\n").utf8) + chunk + [13, 10]
        }
        return bytes + Array("0\r\n\r\n".utf8)
    }

    func testAGoodContentLengthBodyArrivesWhole() async throws {
        let body = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        let server = try serve(.init(Array("HTTP/1.1 200 OK\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body))
        defer { server.stop() }
        let progress = ProgressRecord()
        let bytes = try await HTTPTransfer().get(server.url("/file?x=1"), progress: { progress.add($0, $1) })
        XCTAssertEqual(bytes, body)
        XCTAssertEqual(server.requests.first?.target, "/file?x=1")
        XCTAssertEqual(progress.last?.done, body.count, "progress reached the whole body")
        XCTAssertEqual(progress.last?.total, body.count)
    }

    func testAGoodChunkedBodyArrivesWhole() async throws {
        let parts: [[UInt8]] = [Array("Hello, ".utf8), Array(repeating: 0x41, count: 40_000), Array("!".utf8)]
        let server = try serve(.init(Self.chunked(parts)))
        defer { server.stop() }
        let bytes = try await HTTPTransfer().get(server.url("/file"))
        XCTAssertEqual(bytes, parts.flatMap { $0 })
    }

    func testThousandsOfOneByteChunksArriveInOrder() async throws {
        let body = (0..<50_000).map { UInt8(truncatingIfNeeded: $0) }
        let server = try serve(.init(Self.chunked(body.map { [$0] })))
        defer { server.stop() }
        let bytes = try await HTTPTransfer().get(server.url("/file"))
        XCTAssertEqual(bytes, body)
    }

    func testANegativeChunkSizeIsAnErrorNotACrash() async throws {
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nabc\r\n0\r\n\r\n"))
        XCTAssertTrue(error is HTTPError, "\(String(describing: error))")
    }

    func testAChunkSizeNearIntMaxIsAnErrorNotACrash() async throws {
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\nabc\r\n0\r\n\r\n"))
        XCTAssertTrue(error is HTTPError, "\(String(describing: error))")
    }

    func testAChunkSizeBeyondIntMaxIsAnErrorNotACrash() async throws {
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nabc\r\n0\r\n\r\n"))
        XCTAssertTrue(error is HTTPError, "\(String(describing: error))")
    }

    func testANegativeContentLengthIsAnErrorNotACrash() async throws {
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nabc"))
        XCTAssertTrue(error is HTTPError, "\(String(describing: error))")
    }

    func testAContentLengthOverTheLimitIsRefused() async throws {
        var transfer = HTTPTransfer()
        transfer.maximumDownload = 1000
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "x", count: 5000)),
                                       transfer: transfer)
        XCTAssertEqual(error as? HTTPError, .tooLarge(1000), "refused on the announced length")
    }

    func testAChunkedBodyOverTheLimitIsRefused() async throws {
        var transfer = HTTPTransfer()
        transfer.maximumDownload = 1000
        let error = try await getError(.init(Self.chunked(Array(repeating: Array(repeating: 0x78, count: 300), count: 20))),
                                       transfer: transfer)
        XCTAssertEqual(error as? HTTPError, .tooLarge(1000))
    }

    func testABodyWithoutLengthOverTheLimitIsRefused() async throws {
        var transfer = HTTPTransfer()
        transfer.maximumDownload = 1000
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + String(repeating: "x", count: 5000)),
                                       transfer: transfer)
        XCTAssertEqual(error as? HTTPError, .tooLarge(1000))
    }

    func testATruncatedBodyIsAnError() async throws {
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"))
        XCTAssertEqual(error as? HTTPError, .closed)
    }

    func testARedirectToAFileIsRefused() async throws {
        let error = try await getError(.init("HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(error as? HTTPError, .redirectRefused("file:///etc/passwd"))
    }

    func testARedirectToAnotherSchemeIsRefused() async throws {
        let error = try await getError(.init("HTTP/1.1 301 Moved\r\nLocation: ftp://127.0.0.1/file\r\nContent-Length: 0\r\n\r\n"))
        XCTAssertEqual(error as? HTTPError, .redirectRefused("ftp://127.0.0.1/file"))
    }

    func testARedirectWithinHTTPIsFollowed() async throws {
        let server = try HostileHTTPServer { request in
            request.target == "/moved" ? .init("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nthere")
                : .init("HTTP/1.1 302 Found\r\nLocation: /moved\r\nContent-Length: 4\r\n\r\ngone")
        }
        defer { server.stop() }
        let bytes = try await HTTPTransfer().get(server.url("/file"))
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "there", "the redirect's own body is not part of the file")
        XCTAssertEqual(server.requests.map(\.target), ["/file", "/moved"])
    }

    func testEndlessRedirectsStop() async throws {
        let error = try await getError(.init("HTTP/1.1 302 Found\r\nLocation: /file\r\nContent-Length: 0\r\n\r\n"))
        guard case .tooManyRedirects? = error as? HTTPError else { return XCTFail("\(String(describing: error))") }
    }

    /// A host name is looked up through the account's nameserver (a loopback one here) and
    /// pinned: a name no public resolver knows reaches the server, and curl asks nobody else.
    func testAHostIsLookedUpThroughTheConfiguredNameserver() async throws {
        let dns = try LoopbackNameserver(address: "127.0.0.1")
        defer { dns.stop() }
        let server = try serve(.init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        defer { server.stop() }
        let transfer = HTTPTransfer(nameserver: .init(host: "127.0.0.1", port: dns.port))
        let bytes = try await transfer.get(URL(string: "http://files.dialtone.invalid:\(server.port)/a")!)
        XCTAssertEqual(bytes, Array("ok".utf8))
        XCTAssertTrue(dns.questions.contains("files.dialtone.invalid"), "\(dns.questions)")
        XCTAssertEqual(server.requests.first?.headers["host"], "files.dialtone.invalid:\(server.port)")
    }

    func testCancellingTheTaskStopsAStalledDownload() async throws {
        let server = try serve(.init("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nsome", holdOpen: true))
        defer { server.stop() }
        let started = ContinuousClock.now
        let task = Task { try await HTTPTransfer().get(server.url("/file")) }
        try await Task.sleep(for: .milliseconds(300))
        task.cancel()
        do {
            _ = try await task.value
            XCTFail("a cancelled download returned")
        } catch {
            XCTAssertTrue(error is CancellationError, "\(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(10), "cancelled, not timed out")
    }

    func testASilentServerTimesOut() async throws {
        var transfer = HTTPTransfer()
        transfer.timeout = .seconds(1)
        let error = try await getError(.init("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nsome", holdOpen: true),
                                       transfer: transfer)
        guard case .timedOut? = error as? HTTPError else { return XCTFail("\(String(describing: error))") }
    }

    func testAnUnreadableCAFileIsATLSError() async throws {
        let server = try serve(.init("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        defer { server.stop() }
        // Plain http needs no CA; an https link with a CA file that is not there fails before
        // any bytes are trusted.
        let transfer = HTTPTransfer(caFile: "/nonexistent/ca.pem")
        do {
            _ = try await transfer.get(URL(string: "https://127.0.0.1:\(server.port)/file")!)
            XCTFail("https without a usable CA succeeded")
        } catch let error as HTTPError {
            guard case .tls = error else { return XCTFail("\(error)") }
        }
    }

    func testOnlyWebLinksAreFetched() async throws {
        for link in ["file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1/x"] {
            do {
                _ = try await HTTPTransfer().get(URL(string: link)!)
                XCTFail("fetched \(link)")
            } catch let error as HTTPError {
                XCTAssertEqual(error, .unsupportedURL(link))
            }
        }
    }

    func testAnErrorStatusIsReported() async throws {
        let error = try await getError(.init("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"))
        guard case .status(404, _)? = error as? HTTPError else { return XCTFail("\(String(describing: error))") }
    }

    func testAPutArrivesWholeWithItsHeaders() async throws {
        let server = try serve(.init("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))
        defer { server.stop() }
        let body = (0..<300_000).map { _ in UInt8.random(in: 0...255) }
        let progress = ProgressRecord()
        try await HTTPTransfer().put(body, to: server.url("/slot/abc/photo%20of%20us.jpg"),
                                     headers: [("Authorization", "Basic secret"), ("Cookie", "a=b"), ("Content-Length", "1")],
                                     contentType: "image/jpeg", progress: { progress.add($0, $1) })
        let request = try XCTUnwrap(server.requests.first)
        XCTAssertEqual(request.method, "PUT")
        XCTAssertEqual(request.target, "/slot/abc/photo%20of%20us.jpg")
        XCTAssertEqual(request.headers["authorization"], "Basic secret")
        XCTAssertEqual(request.headers["cookie"], "a=b")
        XCTAssertEqual(request.headers["content-type"], "image/jpeg")
        XCTAssertEqual(request.headers["content-length"], String(body.count), "the caller's length is not the one sent")
        XCTAssertEqual(request.body, body)
        XCTAssertEqual(progress.last?.done, body.count)
    }

    func testAPutRefusedByTheServerIsReported() async throws {
        let server = try serve(.init("HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n"))
        defer { server.stop() }
        do {
            try await HTTPTransfer().put(Array(repeating: 1, count: 10), to: server.url("/slot"), headers: [], contentType: "text/plain")
            XCTFail("a refused upload succeeded")
        } catch let error as HTTPError {
            guard case .status(413, _) = error else { return XCTFail("\(error)") }
        }
    }
}

final class ProgressRecord: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(done: Int, total: Int?)] = []
    func add(_ done: Int, _ total: Int?) { lock.withLock { entries.append((done, total)) } }
    var last: (done: Int, total: Int?)? { lock.withLock { entries.last } }
}
