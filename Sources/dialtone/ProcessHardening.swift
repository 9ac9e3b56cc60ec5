import CProcess
import Foundation

/// What the process does about its own secrets before it reads any: the history, passwords
/// and keys it holds are the user's alone.
enum ProcessHardening {
    static func apply(environment: [String: String] = ProcessInfo.processInfo.environment) {
        // First of all OpenSSL calls: no clean-up at exit racing TLS work still on other threads.
        _ = dialtone_init_openssl_without_atexit()
        // Files and directories we create (database, its WAL and SHM, logs, downloads) are
        // private whatever the user's umask: 0600 and 0700.
        umask(0o077)
        // No core file holding a password or message text, and no other process of the user
        // reading our memory. DIALTONE_ALLOW_CORE_DUMPS=1 keeps them for a developer's debugging.
        guard environment["DIALTONE_ALLOW_CORE_DUMPS"] != "1" else { return }
        var none = rlimit(rlim_cur: 0, rlim_max: 0)
        _ = setrlimit(Int32(RLIMIT_CORE.rawValue), &none)
        _ = dialtone_set_not_dumpable()
    }
}
