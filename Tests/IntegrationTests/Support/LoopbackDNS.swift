import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A dnsmasq serving only the records a test gives it, on a loopback port: SRV look-ups are
/// tested for real without a packet reaching the system's resolver.
final class LoopbackDNS {
    let port: UInt16
    private let child: ChildProcess

    init(records: [String]) throws {
        port = UInt16.random(in: 30000...39999)
        child = try ChildProcess([
            "/usr/sbin/dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
            "--no-poll", "--listen-address=127.0.0.1", "--bind-interfaces", "--port=\(port)", "--user=root",
            "--pid-file=", "--log-facility=/dev/null",
        ] + records)
        // dnsmasq binds before it answers; give it a moment and check it is still alive.
        usleep(200_000)
        guard child.isRunning else { throw TestEnvironmentError("dnsmasq exited at once (port \(port) busy?)") }
    }

    func stop() {
        child.signal(SIGKILL)
        var status: Int32 = 0
        waitpid(child.pid, &status, 0)
    }
}
