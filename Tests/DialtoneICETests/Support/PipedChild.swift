import DialtoneTestSupport
import Foundation
#if canImport(Glibc)
import Glibc
#endif

struct PeerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A child process with pipes on stdin and stdout, for peers that talk JSON lines.
///
/// Started by `Spawn` (not Foundation's Process, see there). Reads poll a non-blocking pipe so
/// no executor thread ever blocks.
final class PipedChild: @unchecked Sendable {
    let pid: pid_t
    let stderrPath: String
    private var input: Int32
    private let output: Int32
    private var buffer: [UInt8] = []
    private var exited = false

    init(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        stderrPath = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-peer-\(UUID().uuidString).stderr").path
        var toChild: [Int32] = [0, 0]
        var fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0, pipe(&fromChild) == 0 else { throw PeerError("pipe failed") }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let errorsPath = stderrPath
        let started = Result { try Spawn.start(arguments, environment: environment, stdin: .descriptor(toChild[0]),
                                              stdout: .descriptor(fromChild[1]), stderr: .file(errorsPath)) }
        close(toChild[0])
        close(fromChild[1])
        switch started {
        case .success(let child): pid = child
        case .failure(let error):
            close(toChild[1])
            close(fromChild[0])
            throw PeerError("\(error)")
        }
        input = toChild[1]
        output = fromChild[0]
        _ = fcntl(output, F_SETFL, fcntl(output, F_GETFL) | O_NONBLOCK)
        signal(SIGPIPE, SIG_IGN)
    }

    deinit {
        if input >= 0 { close(input) }
        close(output)
        if !exited {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    func writeLine(_ line: String) throws {
        var bytes = Array((line + "\n").utf8)
        while !bytes.isEmpty {
            let n = write(input, bytes, bytes.count)
            guard n > 0 else { throw PeerError("write to peer failed: \(String(cString: strerror(errno)))") }
            bytes.removeFirst(n)
        }
    }

    func writeJSON(_ object: [String: Any]) throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try writeLine(String(decoding: data, as: UTF8.self))
    }

    /// The next line, or nil at end of output. Throws after `timeout` (a hang guard only).
    func readLine(timeout: Duration = .seconds(30)) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[..<newline], as: UTF8.self)
                buffer.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = read(output, &chunk, chunk.count)
            if n > 0 {
                buffer += chunk.prefix(n)
                continue
            }
            if n == 0 { return nil }
            guard errno == EAGAIN || errno == EINTR else { throw PeerError("read failed") }
            guard ContinuousClock.now < deadline else { throw PeerError("peer silent for \(timeout); stderr: \(errors)") }
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    func readJSON(timeout: Duration = .seconds(30)) async throws -> [String: Any]? {
        guard let line = try await readLine(timeout: timeout) else { return nil }
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw PeerError("not a JSON object: \(line)")
        }
        return object
    }

    func closeInput() {
        if input >= 0 { close(input) }
        input = -1
    }

    func wait(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while ContinuousClock.now < deadline {
            if waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                let signal = status & 0x7F
                return signal == 0 ? (status >> 8) & 0xFF : 128 + signal
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw PeerError("peer \(pid) did not exit within \(timeout)")
    }

    /// Blocks until the child exits: for clean-up in a `defer`, where nothing may be awaited.
    @discardableResult
    func waitSynchronously() -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        exited = true
        return (status >> 8) & 0xFF
    }

    func terminate() {
        if !exited { kill(pid, SIGTERM) }
    }

    var errors: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }
}

/// Fails the test instead of hanging it; not a measure of speed.
func withHangGuard<T: Sendable>(_ limit: Duration = .seconds(60), _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw PeerError("still running after \(limit)")
        }
        let result = try await group.next()!
        group.cancelAll()
        return result
    }
}
