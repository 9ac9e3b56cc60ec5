@testable import DialtoneXMPP
import XCTest

final class ReconnectPolicyTests: XCTestCase {
    func testDelaysGrowExponentiallyWithJitterUpToTheCeiling() {
        let policy = ReconnectPolicy(initialDelay: .seconds(1), maximumDelay: .seconds(60))
        for failures in 0..<12 {
            let ceiling = min(Duration.seconds(1) * (1 << failures), .seconds(60))
            var seen: Set<Duration> = []
            for _ in 0..<50 {
                let delay = policy.delay(afterFailures: failures)
                XCTAssertLessThanOrEqual(delay, ceiling)
                XCTAssertGreaterThanOrEqual(delay, ceiling * 0.5, "never less than half: no reconnect storms")
                seen.insert(delay)
            }
            XCTAssertGreaterThan(seen.count, 1, "jitter spreads clients apart")
        }
    }

    func testHugeFailureCountsDoNotOverflow() {
        let policy = ReconnectPolicy(initialDelay: .milliseconds(500), maximumDelay: .seconds(120))
        XCTAssertLessThanOrEqual(policy.delay(afterFailures: 10_000), .seconds(120))
    }
}

final class StanzaIDTests: XCTestCase {
    func testIDsAre24LowercaseHexDigitsAndDistinct() {
        let ids = (0..<1000).map { _ in newStanzaID() }
        XCTAssertEqual(Set(ids).count, 1000)
        for id in ids.prefix(50) {
            XCTAssertEqual(id.count, 24)
            XCTAssertTrue(id.allSatisfy { "0123456789abcdef".contains($0) }, id)
        }
    }
}
