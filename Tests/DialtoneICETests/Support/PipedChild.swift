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
/// posix_spawn, as in IntegrationTests' ChildProcess and for the same reason: Foundation's
/// Process reaps children from one thread with a blocking wait4 on Linux, so a long-running
/// child stalls the others. Reads poll a non-blocking pipe so no executor thread ever blocks.
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
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on 0 and 1; every other pipe end closes at exec.
        posix_spawn_file_actions_adddup2(&actions, toChild[0], 0)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], 1)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let result = posix_spawn(&child, arguments[0], &actions, &attributes, &argv, &envp)
        close(toChild[0])
        close(fromChild[1])
        guard result == 0 else {
            close(toChild[1])
            close(fromChild[0])
            throw PeerError("cannot start \(arguments[0]): \(String(cString: strerror(result)))")
        }
        pid = child
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
