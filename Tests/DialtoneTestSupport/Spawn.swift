import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starting child processes for tests with posix_spawn.
///
/// Not Foundation's Process: on Linux it reaps children from one thread with a blocking wait4,
/// so one long-running child (a listener, a peer, a DNS server) stalls every other Process.
public enum Spawn {
    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// /dev/null (for stdin) or nowhere useful.
        case null
        /// A file, created or truncated, private to the user.
        case file(String)
        /// One of our descriptors (a pipe end), duplicated onto the child's.
        case descriptor(Int32)
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Starts `arguments` (the first an absolute path) with default signal handling, whatever
    /// the test runner's threads block, and returns its pid.
    public static func start(_ arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
                             stdin: Stream = .null, stdout: Stream, stderr: Stream) throws -> pid_t {
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        var envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                posix_spawn_file_actions_addopen(&actions, target, path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            case .descriptor(let descriptor):
                // dup2 clears close-on-exec on the target; every other pipe end closes at exec.
                posix_spawn_file_actions_adddup2(&actions, descriptor, target)
            }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
        var child: pid_t = 0
        let result = posix_spawn(&child, arguments[0], &actions, &attributes, &argv, &envp)
        guard result == 0 else { throw Failure(description: "cannot start \(arguments[0]): \(String(cString: strerror(result)))") }
        return child
    }
}
