import DialtoneTLS
import XCTest

final class TLSIdentityTests: XCTestCase {
    func testFingerprintString() {
        XCTAssertEqual(fingerprintString([0xAB, 0xCD, 0x01, 0x00, 0xFF]), "AB:CD:01:00:FF")
        XCTAssertEqual(fingerprintString([0x0a]), "0A")
        XCTAssertEqual(fingerprintString([]), "")
    }

    func testParseFingerprint() {
        let bytes: [UInt8] = [0xAB, 0xCD, 0x01, 0xEF]
        XCTAssertEqual(parseFingerprint("AB:CD:01:EF"), bytes)
        XCTAssertEqual(parseFingerprint("ab:cd:01:ef"), bytes)
        XCTAssertEqual(parseFingerprint("abcd01EF"), bytes)
        XCTAssertEqual(parseFingerprint("  AB:CD:01:EF\n"), bytes)
        XCTAssertNil(parseFingerprint(""))
        XCTAssertNil(parseFingerprint("   "))
        XCTAssertNil(parseFingerprint("ABC"), "odd number of digits")
        XCTAssertNil(parseFingerprint("AB:C:D0"), "groups must be pairs")
        XCTAssertNil(parseFingerprint("AB::CD"))
        XCTAssertNil(parseFingerprint("AB:CD:"))
        XCTAssertNil(parseFingerprint("GG"))
        XCTAssertNil(parseFingerprint("AB CD"))

        let fingerprint = Fixtures.shared.server.sha256Fingerprint
        XCTAssertEqual(parseFingerprint(fingerprintString(fingerprint)), fingerprint)
    }

    func testSelfSignedIdentities() throws {
        let first = try TLSIdentity.selfSigned(commonName: "call-1")
        let second = try TLSIdentity.selfSigned(commonName: "call-1")
        XCTAssertEqual(first.sha256Fingerprint.count, 32)
        XCTAssertEqual(first.sha256Fingerprint, first.sha256Fingerprint)
        XCTAssertNotEqual(first.sha256Fingerprint, second.sha256Fingerprint, "fresh key and serial each time")
        XCTAssertTrue(first.certificatePEM.hasPrefix("-----BEGIN CERTIFICATE-----"))
        XCTAssertTrue(first.privateKeyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----"))
        XCTAssertEqual(TLSIdentity(certificatePEM: "nope", privateKeyPEM: "").sha256Fingerprint, [])
        XCTAssertThrowsError(try TLSIdentity.selfSigned(commonName: "x", validDays: 0))
    }

    func testIssuedCertificateNamesAreValidated() {
        let ca = Fixtures.shared.ca
        XCTAssertThrowsError(try TLSIdentity.issue(commonName: "x", subjectAltNames: ["a.test,IP:1.2.3.4"], by: ca))
        XCTAssertThrowsError(try TLSIdentity.issue(commonName: "x", subjectAltNames: [""], by: ca))
        XCTAssertNoThrow(try TLSIdentity.issue(commonName: "x", subjectAltNames: ["::1", "x.test"], by: ca))
    }

    /// The certificates must satisfy an independent verifier, not only our own client.
    func testOpenSSLCommandLineVerifiesTheIssuedCertificate() throws {
        let fixtures = Fixtures.shared
        let directory = NSTemporaryDirectory() + "dialtone-verify-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try fixtures.ca.certificatePEM.write(toFile: directory + "/ca.pem", atomically: true, encoding: .utf8)
        try fixtures.server.certificatePEM.write(toFile: directory + "/server.pem", atomically: true, encoding: .utf8)
        guard let openssl = findExecutable("openssl") else { throw XCTSkip("no openssl command") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: openssl)
        process.arguments = [
            "verify", "-CAfile", directory + "/ca.pem", "-purpose", "sslserver",
            "-verify_hostname", "dialtone.test", directory + "/server.pem",
        ]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertTrue(text.contains("OK"), text)
    }
}

func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
}
