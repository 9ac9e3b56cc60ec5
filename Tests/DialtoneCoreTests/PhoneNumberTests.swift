@testable import DialtoneCore
import XCTest

final class PhoneNumberTests: XCTestCase {
    func testEveryCommonFormIsTheSameNumber() throws {
        let forms = ["(555) 123-4567", "555.123.4567", "+1 555 123 4567", "1-555-123-4567", "555-123-4567", "+15551234567",
                     "tel:+1-555-123-4567", "555 1234567"]
        for form in forms {
            XCTAssertEqual(try PhoneNumber(parsing: form, region: "US").e164, "+15551234567", form)
        }
        XCTAssertEqual(try PhoneNumber(parsing: "+44 20 7946 0958", region: "US").e164, "+442079460958")
        XCTAssertEqual(try PhoneNumber(parsing: "020 7946 0958", region: "GB").e164, "+442079460958")
    }

    func testFictionalNumbersArePossibleButNotValid() throws {
        let number = try PhoneNumber(parsing: "(555) 123-4567", region: "US")
        XCTAssertFalse(number.isValid, "555 is unassigned")
        XCTAssertTrue(try PhoneNumber(parsing: "+1 212 555 0100", region: "US").e164 == "+12125550100")
    }

    func testRejectsWhatCannotBeANumber() {
        XCTAssertThrowsError(try PhoneNumber(parsing: "hello", region: "US"))
        XCTAssertThrowsError(try PhoneNumber(parsing: "12", region: "US"))
        XCTAssertThrowsError(try PhoneNumber(parsing: "+1 555 123 4567 8901 2345", region: "US"))
    }

    func testFormatsNationallyAtHomeAndInternationallyAbroad() throws {
        let london = try PhoneNumber(parsing: "+442079460958", region: "US")
        XCTAssertEqual(london.formatted(for: "GB"), "020 7946 0958")
        XCTAssertEqual(london.formatted(for: "US"), "+44 20 7946 0958")
        XCTAssertEqual(london.region, "GB")
        XCTAssertEqual(try PhoneNumber(parsing: "5551234567", region: "US").formatted(for: "US"), "(555) 123-4567")
    }

    func testE164FromAJIDLocalPart() {
        XCTAssertEqual(PhoneNumber(e164: "+15551234567")?.e164, "+15551234567")
        XCTAssertNil(PhoneNumber(e164: "15551234567"))
        XCTAssertNil(PhoneNumber(e164: "+1555,+1666"))
        XCTAssertNil(PhoneNumber(e164: "alice"))
    }

    func testShortCodes() {
        XCTAssertTrue(PhoneNumber.isShortCode("12345", region: "US"))
        XCTAssertFalse(PhoneNumber.isShortCode("5551234567", region: "US"))
        XCTAssertFalse(PhoneNumber.isShortCode("hello", region: "US"))
    }

    func testFindsNumbersInText() throws {
        let text = "Call me at (555) 123-4567 or +44 20 7946 0958 tomorrow"
        let found = PhoneNumber.find(in: text, region: "US")
        XCTAssertEqual(found.map(\.number.e164), ["+15551234567", "+442079460958"])
        XCTAssertEqual(String(text[found[0].range]), "(555) 123-4567")
    }
}
