@testable import DialtoneCore
import Foundation
import XCTest

/// A room's newest page that comes newest first (flip-page) is stored so that history, which
/// sorts by time and then by arrival, reads in the order the messages were said.
final class NewestFirstPageTests: XCTestCase {
    private let noon = Date(timeIntervalSince1970: 1_800_000_000)

    func testEachArrivingMessageGoesBeforeTheOneBeforeIt() {
        var page = NewestFirstPage()
        // Said at noon+5 (three in that second), noon+4, noon+4, noon+1; they arrive newest first.
        let stamps = [5, 5, 5, 4, 4, 1].map { noon.addingTimeInterval($0) }
        let placed = stamps.map { page.place($0) }
        XCTAssertEqual(placed.map { $0.timeIntervalSince(noon) },
                       [5, 4.999, 4.998, 4, 3.999, 1], accuracy: 0.000_1)
        XCTAssertEqual(placed, placed.sorted(by: >), "each strictly before the one that came before it")
    }

    func testAPageThatComesOldestFirstAfterAllIsLeftAsItCame() {
        var page = NewestFirstPage()
        let stamps = [1, 2, 3, 9].map { noon.addingTimeInterval($0) }
        XCTAssertEqual(stamps.map { page.place($0) }, stamps)
    }

    func testAPageOldestFirstWithStampsFinerThanASecondIsLeftAsItCame() {
        var page = NewestFirstPage()
        let stamps = [0, 0.2, 0.5, 0.9].map { noon.addingTimeInterval($0) }
        XCTAssertEqual(stamps.map { page.place($0) }, stamps)
    }

    func testDistinctSecondsAreKept() {
        var page = NewestFirstPage()
        let stamps = [60, 30, 29, 0].map { noon.addingTimeInterval($0) }
        XCTAssertEqual(stamps.map { page.place($0) }, stamps)
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
