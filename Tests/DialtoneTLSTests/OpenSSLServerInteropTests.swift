import DialtoneTLS
import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Our client against `openssl s_server` over a real loopback socket, driven the way the
/// XMPP layer drives it: socket bytes in, `takeOutgoing()` bytes out.
final class OpenSSLServerInteropTests: XCTestCase {
    func testClientAgainstOpenSSLServer() throws {
        guard let openssl = findExecutable("openssl") else { throw XCTSkip("no openssl command") }
        let fixtures = Fixtures.shared
        let directory = NSTemporaryDirectory() + "dialtone-s_server-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fixtures.server.certificatePEM.write(toFile: directory + "/cert.pem", atomically: true, encoding: .utf8)
        try fixtures.server.privateKeyPEM.write(toFile: directory + "/key.pem", atomically: true, encoding: .utf8)
        let logPath = directory + "/server.log"
        XCTAssertTrue(FileManager.default.createFile(atPath: logPath, contents: nil))
        let log = try XCTUnwrap(FileHandle(forWritingAtPath: logPath))
        defer { try? log.close() }

        let port = try freeLoopbackPort()
        let server = Process()
        server.executableURL = URL(fileURLWithPath: openssl)
        server.arguments = [
            "s_server", "-accept", "127.0.0.1:\(port)", "-naccept", "1",
            "-cert", directory + "/cert.pem", "-key", directory + "/key.pem",
            "-alpn", "xmpp-client",
            "-keymatexport", "EXPORTER-Channel-Binding", "-keymatexportlen", "32",
        ]
        let serverInput = Pipe()
        server.standardInput = serverInput
        server.standardOutput = log
        server.standardError = log
        try server.run()
        defer {
            if server.isRunning { server.terminate() }
            server.waitUntilExit()
        }
        let readLog = { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
        try waitUntil("s_server listening", readLog) { $0.contains("ACCEPT") }

        let socket = try LoopbackSocket(port: port)
        defer { socket.close() }
        var configuration = TLSConfiguration(serverName: "dialtone.test", trust: .caPEM(fixtures.ca.certificatePEM))
        configuration.alpn = ["xmpp-client"]
        let tls = try TLSSession(client: configuration)
        var received: [UInt8] = []

        try tls.startHandshake()
        try socket.send(tls.takeOutgoing())
        while !tls.isHandshakeComplete {
            let bytes = try socket.receive()
            XCTAssertFalse(bytes.isEmpty, "s_server hung up during the handshake: \(readLog())")
            if bytes.isEmpty { return }
            received += try tls.feed(network: bytes)
            try socket.send(tls.takeOutgoing())
        }
        XCTAssertEqual(tls.negotiatedVersion, "TLSv1.3")
        XCTAssertEqual(tls.negotiatedALPN, "xmpp-client")

        try tls.write(plaintext: Array("hello from dialtone\n".utf8))
        try socket.send(tls.takeOutgoing())
        let logText = try waitUntil("s_server received our data", readLog) { $0.contains("hello from dialtone") }

        // s_server prints the exporter output for the label we use as tls-exporter.
        let line = try XCTUnwrap(logText.split(separator: "\n").first { $0.contains("Keying material:") })
        let hex = String(try XCTUnwrap(line.split(separator: ":").last))
        XCTAssertEqual(tls.channelBinding(.tlsExporter), parseFingerprint(hex))

        serverInput.fileHandleForWriting.write(Data("hello from openssl\n".utf8))
        while !String(decoding: received, as: UTF8.self).contains("hello from openssl\n") {
            let bytes = try socket.receive()
            XCTAssertFalse(bytes.isEmpty, "s_server hung up: \(readLog())")
            if bytes.isEmpty { return }
            received += try tls.feed(network: bytes)
            try socket.send(tls.takeOutgoing())
        }

        tls.close()
        try socket.send(tls.takeOutgoing())
        // s_server answers close_notify with its own before it exits.
        while !tls.peerClosed {
            let bytes = try socket.receive()
            if bytes.isEmpty { break }
            _ = try tls.feed(network: bytes)
        }
        XCTAssertTrue(tls.peerClosed, readLog())
        try waitUntil("s_server saw the close", readLog) { $0.contains("CONNECTION CLOSED") || $0.contains("DONE") }
    }
}

@discardableResult
private func waitUntil(
    _ what: String, _ read: () -> String, timeout: Double = 10, _ condition: (String) -> Bool
) throws -> String {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
        let text = read()
        if condition(text) { return text }
        if Date() > deadline {
            XCTFail("timed out waiting for \(what); log:\n\(text)")
            throw CancellationError()
        }
        usleep(20_000)
    }
}

private struct SocketFailure: Error, CustomStringConvertible {
    let description: String
    init(_ what: String) { description = "\(what): errno \(errno)" }
}

// Named wrappers: inside LoopbackSocket, `close` and `send` would resolve to its own methods.
private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}

private func sendWithoutSignal(_ fd: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    #if canImport(Glibc)
    return send(fd, bytes, count, Int32(MSG_NOSIGNAL))
    #else
    return send(fd, bytes, count, 0)
    #endif
}

private func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = in_addr_t(0x7F00_0001).bigEndian
    return address
}

private func tcpSocket() throws -> Int32 {
    #if canImport(Glibc)
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw SocketFailure("socket") }
    return fd
}

/// Asks the kernel for a free port by binding port 0. Another process could take it before
/// s_server does, but on a test machine's loopback that race is remote.
private func freeLoopbackPort() throws -> UInt16 {
    let fd = try tcpSocket()
    defer { closeDescriptor(fd) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw SocketFailure("bind") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw SocketFailure("getsockname") }
    return UInt16(bigEndian: address.sin_port)
}

private final class LoopbackSocket {
    private let fd: Int32

    init(port: UInt16) throws {
        fd = try tcpSocket()
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            closeDescriptor(fd)
            throw SocketFailure("connect to 127.0.0.1:\(port)")
        }
    }

    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { raw in
                sendWithoutSignal(fd, raw.baseAddress, raw.count)
            }
            guard sent > 0 else { throw SocketFailure("send") }
            offset += sent
        }
    }

    /// Empty at end of stream; throws on timeout so a silent server fails the test instead of hanging it.
    func receive() throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = buffer.withUnsafeMutableBytes { raw in recv(fd, raw.baseAddress, raw.count, 0) }
        guard count >= 0 else { throw SocketFailure("recv") }
        return Array(buffer.prefix(count))
    }

    func close() {
        closeDescriptor(fd)
    }
}
