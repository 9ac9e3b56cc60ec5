@testable import DialtoneXMPP
import XCTest

final class DNSResolverTests: XCTestCase {
    /// A hand-built answer with name compression, as a real server sends it.
    func testParsesSRVAnswerWithCompression() throws {
        let query = DNSResolver.query(id: 0x1234, name: "_xmpp-client._tcp.example.com", type: 33)
        var answer = query
        answer[2] = 0x81; answer[3] = 0x80  // response, recursion available, no error
        answer[7] = 2  // two answers
        for (priority, weight, port, target) in [(10, 5, 5222, "xmpp1"), (20, 0, 5223, "xmpp2")] {
            answer += [0xC0, 0x0C, 0, 33, 0, 1, 0, 0, 0x0E, 0x10]
            var rdata: [UInt8] = [0, UInt8(priority), 0, UInt8(weight), UInt8(port >> 8), UInt8(port & 0xFF)]
            rdata += [UInt8(target.utf8.count)] + Array(target.utf8)
            rdata += [0xC0, 0x1E]  // pointer to "example.com" inside the question
            answer += [0, UInt8(rdata.count)] + rdata
        }
        let records = try DNSResolver.parseSRV(answer, expectedID: 0x1234)
        XCTAssertEqual(records.map(\.target), ["xmpp1.example.com", "xmpp2.example.com"])
        XCTAssertEqual(records.map(\.port), [5222, 5223])
        XCTAssertThrowsError(try DNSResolver.parseSRV(answer, expectedID: 0x9999))
    }

    func testOrderRespectsPriority() {
        let records = [DNSResolver.Service(priority: 20, weight: 0, port: 1, target: "b"),
                       DNSResolver.Service(priority: 10, weight: 0, port: 1, target: "a")]
        XCTAssertEqual(DNSResolver.order(records).map(\.target), ["a", "b"])
    }

    func testPointerLoopIsMalformedNotAHang() {
        var message: [UInt8] = [0x12, 0x34, 0x81, 0x80, 0, 0, 0, 1, 0, 0, 0, 0]
        message += [0xC0, 0x0C]  // a name that points at itself
        XCTAssertThrowsError(try DNSResolver.parseSRV(message, expectedID: 0x1234))
    }
}
