import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dnsmasq serving only the records a test gives it, on a loopback port: SRV look-ups are
/// tested for real without a packet reaching the system's resolver.
///
/// Started with posix_spawn rather than Foundation's Process: on Linux, Process reaps its
/// children from one thread with a blocking wait4, so a long-running child there stalls every
/// other Process in the test run.
final class LoopbackDNS {
    let port: UInt16
    private let pid: pid_t

    init(records: [String]) throws {
        port = UInt16.random(in: 30000...39999)
        let arguments = [
            "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)", "--user=root",
            "--pid-file=", "--log-facility=/dev/null",
        ] + records
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        defer { posix_spawn_file_actions_destroy(&actions) }
        let result = posix_spawn(&child, "/usr/sbin/dnsmasq", &actions, nil, &argv, environ)
        guard result == 0 else { throw TestEnvironmentError("cannot start dnsmasq: \(String(cString: strerror(result)))") }
        pid = child
        // dnsmasq binds before it answers; give it a moment and check it is still alive.
        usleep(200_000)
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == 0 else { throw TestEnvironmentError("dnsmasq exited at once (port \(port) busy?)") }
    }

    func stop() {
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }
}
