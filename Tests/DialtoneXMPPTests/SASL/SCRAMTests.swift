@testable import DialtoneXMPP
import XCTest

final class SCRAMTests: XCTestCase {
    /// RFC 5802, section 5.
    func testSHA1Vector() throws {
        var client = SCRAMClient(hash: .sha1, username: "user", password: "pencil", binding: .unsupported,
                                 nonce: "fyko+d2lbbFgONRv9qkxdawL")
        XCTAssertEqual(String(decoding: client.initialMessage(), as: UTF8.self), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL")
        let final = try client.respond(to: Array("r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096".utf8))
        XCTAssertEqual(String(decoding: final, as: UTF8.self),
                       "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=")
        XCTAssertNoThrow(try client.verify(serverFinal: Array("v=rmF9pqV8S7suAoZWja4dJRkFsKQ=".utf8)))
    }

    /// RFC 7677, section 3.
    func testSHA256Vector() throws {
        var client = SCRAMClient(hash: .sha256, username: "user", password: "pencil", binding: .unsupported,
                                 nonce: "rOprNGfwEbeRWgbNEkqO")
        let final = try client.respond(to: Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))
        XCTAssertEqual(String(decoding: final, as: UTF8.self),
                       "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        XCTAssertNoThrow(try client.verify(serverFinal: Array("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8)))
    }

    func testForgedServerSignatureIsRefused() throws {
        var client = SCRAMClient(hash: .sha256, username: "user", password: "pencil", binding: .unsupported,
                                 nonce: "rOprNGfwEbeRWgbNEkqO")
        _ = try client.respond(to: Array("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096".utf8))
        XCTAssertThrowsError(try client.verify(serverFinal: Array("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".utf8))) {
            XCTAssertEqual($0 as? SASLError, .serverSignatureMismatch)
        }
    }

    func testNonceThatDoesNotExtendOursIsRefused() {
        var client = SCRAMClient(hash: .sha1, username: "user", password: "pencil", binding: .unsupported, nonce: "abc")
        XCTAssertThrowsError(try client.respond(to: Array("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096".utf8)))
    }

    func testWeakIterationCountIsRefused() {
        var client = SCRAMClient(hash: .sha1, username: "user", password: "pencil", binding: .unsupported, nonce: "abc")
        XCTAssertThrowsError(try client.respond(to: Array("r=abcdef,s=QSXCR+Q6sek8bf92,i=1".utf8))) {
            XCTAssertEqual($0 as? SASLError, .weakIterationCount(1))
        }
    }

    func testChannelBindingGoesIntoTheProof() throws {
        let binding: [UInt8] = Array(repeating: 7, count: 32)
        var client = SCRAMClient(hash: .sha256, username: "user", password: "pencil",
                                 binding: .bound(type: "tls-exporter", data: binding), nonce: "abc")
        XCTAssertTrue(String(decoding: client.initialMessage(), as: UTF8.self).hasPrefix("p=tls-exporter,,n=user,"))
        let final = String(decoding: try client.respond(to: Array("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096".utf8)), as: UTF8.self)
        let expected = Data(Array("p=tls-exporter,,".utf8) + binding).base64EncodedString()
        XCTAssertTrue(final.hasPrefix("c=\(expected),r=abcdef,p="), final)
    }

    func testDowngradeFlagWhenBindingIsPossibleButNotOffered() {
        let client = SCRAMClient(hash: .sha1, username: "a,b=c", password: "x", binding: .supportedButNotOffered, nonce: "n")
        XCTAssertEqual(String(decoding: client.initialMessage(), as: UTF8.self), "y,,n=a=2Cb=3Dc,r=n")
    }

    func testSASLprepMapsSpacesAndNormalises() {
        XCTAssertEqual(SCRAMClient.saslPrep("I\u{00AD}X"), "IX")
        XCTAssertEqual(SCRAMClient.saslPrep("a\u{00A0}b"), "a b")
        XCTAssertEqual(SCRAMClient.saslPrep("\u{2168}"), "IX")
    }
}
