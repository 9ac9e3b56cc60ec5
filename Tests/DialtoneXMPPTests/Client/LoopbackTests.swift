@testable import DialtoneXMPP
import XCTest

/// tls = "none" is allowed to a loopback address only: an address, not a name that looks
/// like one ("127.example.net" resolves wherever its owner likes).
final class LoopbackTests: XCTestCase {
    func testLoopbackAddressesAreLoopback() {
        for address in ["127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1"] {
            XCTAssertTrue(XMPPClient.isLoopback(address), address)
        }
    }

    func testNamesAndOtherAddressesAreNot() {
        for host in ["127.evil.example", "127.0.0.1.evil.example", "127.", "localhost", "192.0.2.1", "::2", "::ffff:10.0.0.1",
                     "128.0.0.1", "", "[::1]"] {
            XCTAssertFalse(XMPPClient.isLoopback(host), host)
        }
    }
}
