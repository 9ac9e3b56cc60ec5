import XCTest
import DialtoneXML

final class XMLStreamEventTests: XCTestCase {
    func testDefaultLimits() {
        let limits = XMLStreamLimits()
        XCTAssertEqual(limits.maxStanzaBytes, 1_048_576)
        XCTAssertEqual(limits.maxDepth, 64)
    }

    func testErrorDescriptionsAreOneSentenceEach() {
        let errors: [XMLStreamError] = [
            .malformed("Opening and ending tag mismatch: body line 1 and message"), .doctypeForbidden, .entityForbidden,
            .processingInstructionForbidden, .stanzaTooLarge(limit: 1_048_576), .tooDeep(limit: 64),
        ]
        for error in errors {
            let text = error.description
            XCTAssertTrue(text.hasPrefix("The server sent "), text)
            XCTAssertTrue(text.hasSuffix("; the connection was closed."), text)
            XCTAssertEqual(text.filter { $0 == "." }.count, 1, text)
        }
        XCTAssertEqual(XMLStreamError.stanzaTooLarge(limit: 1_048_576).description,
                       "The server sent a stanza larger than 1048576 bytes; the connection was closed.")
        XCTAssertTrue(XMLStreamError.malformed("tag mismatch").description.contains("tag mismatch"))
        XCTAssertEqual(Set(errors.map(\.description)).count, errors.count)
    }
}
