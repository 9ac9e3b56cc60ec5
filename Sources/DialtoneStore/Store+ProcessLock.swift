import Foundation
#if canImport(Glibc)
import Glibc
#endif

extension Store {
    /// Runs `body` while no other process of this store runs one under the same `name`: an
    /// exclusive `flock` on a file beside the database (private to the user, like it).
    ///
    /// For state that is read, changed and written back outside one SQLite transaction, such as
    /// an OMEMO session, which the library loads and stores through separate callbacks: the
    /// interface and a `dialtone send` encrypting at once would otherwise both start from one
    /// chain key, and the contact could read only one of the two messages. Within a process the
    /// account's actor already keeps these in order. In memory (tests) there is no one to wait for.
    public func exclusively<T, E: Error>(_ name: String, _ body: () throws(E) -> T) throws(E) -> T {
        guard let path else { return try body() }
        let descriptor = open(path + "." + name + ".lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        // A lock file that cannot be made (a read-only directory) leaves things as they were.
        guard descriptor >= 0 else { return try body() }
        defer { close(descriptor) }
        while flock(descriptor, LOCK_EX) != 0, errno == EINTR {}
        defer { flock(descriptor, LOCK_UN) }
        return try body()
    }
}
