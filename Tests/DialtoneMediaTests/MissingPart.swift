import Foundation
import XCTest

/// A part of the test environment that is not there: a skip on a developer's machine that
/// lacks it, a failure under CI=true, where Scripts/test provides every part.
func missingPart(_ what: String) -> any Error {
    if ProcessInfo.processInfo.environment["CI"] != nil { return MissingPartError(description: "\(what) (required under CI=true)") }
    return XCTSkip(what)
}

struct MissingPartError: Error, CustomStringConvertible {
    let description: String
}
