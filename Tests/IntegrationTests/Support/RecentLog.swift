import Logging
import Synchronization

/// The last lines an account logged, at debug level whatever the console shows: what a test
/// prints when it fails, so a rare failure on CI explains itself.
final class RecentLog: Sendable {
    private let lines = Mutex<[String]>([])
    private let capacity: Int

    init(capacity: Int = 400) { self.capacity = capacity }

    func append(_ line: String) {
        lines.withLock { lines in
            lines.append(line)
            if lines.count > capacity { lines.removeFirst(lines.count - capacity) }
        }
    }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct RecentLogHandler: LogHandler {
    let log: RecentLog
    let label: String
    var logLevel: Logger.Level = .debug
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        log.append("\(ContinuousClock.now) \(event.level) \(label) [\(event.source)] \(event.message)")
    }
}
