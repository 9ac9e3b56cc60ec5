import Foundation
import XCTest

/// A part of the test environment that is not there: a skip on a developer's machine that
/// lacks it, a failure under CI=true, where Scripts/test provides every part.
public func missingPart(_ what: String) -> any Error {
    if ProcessInfo.processInfo.environment["CI"] != nil { return MissingPartError(description: "\(what) (required under CI=true)") }
    return XCTSkip(what)
}

public struct MissingPartError: Error, CustomStringConvertible {
    public let description: String
}

/// The Python that runs the interop peers (aiortc, aioice, slixmpp, the GStreamer glue):
/// `DIALTONE_PYTHON`, which Scripts/test exports, or the venv Scripts/install-deps makes.
public enum PythonPeers {
    public static func python() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        let cache = environment["XDG_CACHE_HOME"] ?? NSHomeDirectory() + "/.cache"
        let candidates = [environment["DIALTONE_PYTHON"], environment["DIALTONE_VENV"].map { $0 + "/bin/python" },
                          cache + "/dialtone-venv/bin/python"].compactMap { $0 }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw missingPart("no interop venv (Scripts/install-deps --python)")
        }
        return found
    }
}
