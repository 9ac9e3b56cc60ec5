import DialtoneTLS
import XCTest

/// Peers whose DTLS certificate is RSA: GStreamer's webrtcbin (Dino's stack) by default, and
/// Asterisk and other SIP-side stacks. We present ECDSA P-256 and accept either, checked
/// against the signalled fingerprint as always. (aiortc offers only ECDHE-ECDSA suites and
/// finds nothing in common with them; a cipher list narrowed like that here would cut these
/// peers off, which is what this guards against.)
final class DTLSRSAPeerTests: XCTestCase {
    /// A self-signed RSA-2048 certificate with SHA-256, as webrtcbin makes (test data only).
    static let rsaPeer = TLSIdentity(certificatePEM: """
        -----BEGIN CERTIFICATE-----
        MIIDEzCCAfugAwIBAgIULHtQU7I+XCgyxdedjP7Ft3s9xK0wDQYJKoZIhvcNAQEL
        BQAwGDEWMBQGA1UEAwwNcnNhLWR0bHMtcGVlcjAgFw0yNjEyMDYyMjAxMjRaGA8y
        MTI2MTExMjIyMDEyNFowGDEWMBQGA1UEAwwNcnNhLWR0bHMtcGVlcjCCASIwDQYJ
        KoZIhvcNAQEBBQADggEPADCCAQoCggEBANWj36jWArclo6f+Kx+hqKvxuIujZr69
        VeoMLQSH4Y0f2jnjNbM8IXnYIrhtapuCF/xl5MeNyETLX9lL4ad3RGQE8Z9Gh5qk
        Ks8kvJI+3zyB+Sib9I6yMboYEhjw6XNZuN5cDxG8URAZH5MGYcIoK62mt/0fbqEJ
        fHZRf3O1aNPLSAxRe8xUmjIIxsjVZQAjH9oNMIHYMOK5K4METt9/6OXFGQfz++VM
        rVkG5GsN/finKtfL/NMLdV3AGMMGH8bAsEuYvw5gNk1kstnaZ9G86/V6BaC0lAs+
        1Ao0oeydnm5pQiF6IoT0f/KUDTWZc1FQSMUIW5MyLiEBENKtSQNR8vUCAwEAAaNT
        MFEwHQYDVR0OBBYEFJGHQ5zh75V78vcIcW/rBFLfNuNWMB8GA1UdIwQYMBaAFJGH
        Q5zh75V78vcIcW/rBFLfNuNWMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQEL
        BQADggEBAJ7KI+ibF4NZuEymaxi6w53H60S75pPiv5ZNnKluw/WVT3SchYe3lntL
        Fcp2QbG+M/7agUyvVX25Y9zhG7+UtNAiuDg2boFndDfQmdPZiOOlJvOe1OS6wp1v
        ASvD0XOlke+UWfHQcS+zPrJhcCzV8G0tysCdKKG6mlC5ZMHLxRxyIYafm6cF0oxH
        auH+0hZB/kKsXcn+YHBTjFrKtuwhPmuhpR7bOzbxxZZ7bHZxDqrc0ERTTnP0Nq3J
        kWFWP9Fl6GOL83zw14hztsLnkgY7kcnYv6v1V9m3+XxMTTwsuZij92ab7WbtcKwP
        KAq/OUIPW6y61PHsKg+iuSRXK3i3x/A=
        -----END CERTIFICATE-----
        """, privateKeyPEM: """
        -----BEGIN PRIVATE KEY-----
        MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDVo9+o1gK3JaOn
        /isfoair8biLo2a+vVXqDC0Eh+GNH9o54zWzPCF52CK4bWqbghf8ZeTHjchEy1/Z
        S+Gnd0RkBPGfRoeapCrPJLySPt88gfkom/SOsjG6GBIY8OlzWbjeXA8RvFEQGR+T
        BmHCKCutprf9H26hCXx2UX9ztWjTy0gMUXvMVJoyCMbI1WUAIx/aDTCB2DDiuSuD
        BE7ff+jlxRkH8/vlTK1ZBuRrDf34pyrXy/zTC3VdwBjDBh/GwLBLmL8OYDZNZLLZ
        2mfRvOv1egWgtJQLPtQKNKHsnZ5uaUIheiKE9H/ylA01mXNRUEjFCFuTMi4hARDS
        rUkDUfL1AgMBAAECggEAAJehLBVTkbEWPCjgmdnZfjq6D2gUNFwksDqExuMqhkDK
        ajekA+2AFWkvBcMl9QBqXPjmA4oLZPIJ8hyGDHvXUW0/LE5bsSj5azpUTPbkQ+oy
        B/qrjyXXU4Nr37nzBPSMTRZeMO8AuY/puUjuRmSemmGdxB842pHtfwQOdsREStyw
        2Df1pBmw+QN5dcbHSjRPjXVo5mHFOvts7qEslrFC2+Mie6dqYRiFh1ipGilGzEfc
        g7RWXtPSMA+uRt6ApeiHK/bEviUEjFnyC60XStWUVf5sKXBu1kLUHLJb39AbSUEO
        sr/ennvfRgJMe0CfY4msBcrLGFrVBbeeIGHTqJU0AQKBgQD7+DDOQ/0hFXuVA0GS
        fLDw1K6g7Ns/NtRMQ4Tr1lUSJO6ZQsLy5FngB1vb+cijHvcQJXMuqJMwIwpJEaO8
        QxyoI3BHKNNDPmGVtnliMqGA5s7GQNsI87CfLTtWPE7Ut+8qZwXtjOvyG50XjJgy
        eshrSn+/+AAAgdMRn/S0B0GfNQKBgQDZDrmjiv1/NK9H6yeVA5TwPhQxbxHQKbBk
        du/WVG/eW30WDlfXRO5AGUzQNThj7YI9SzDSlmO2c64TqEJzKNYV+uZnwJKMXn97
        ALtH/VhcScztmDkiBgJoxCUQnN2iZQr7TywWf7Wj89Thiu3R8j1XUSpIRSPFWtHT
        IxM1ifa8wQKBgQDVpkMsAvZV4TNizNoC7fvSmWRhS7U0SreE2xOQLbMAqZQvHC7V
        ac7TaSn4wjngJtdzN24NOB9mB7Am+PAPKBDaeQIxNGq+b9yq54jRPQE4nXzjGgcf
        9hHjRqUzn/tv327KU4TxQjammceAOlSrKPVcFFVyX0URKQPhw/Hn3OdFqQKBgQDE
        iVXD5J0mKkEwAJgFkImygrNsE2Lwtl7WiO8fhbMJhpObff9Bl1OXTJFF0Xqu2Kbd
        8xBRDgVZdiM//1Gzzl0S5+zqMu8/FG2fpYjuZVI1tklNNVE+ImzaCgh5o1/3pEAu
        T4DfGmIRAz5VvqMaP5oVTxPW/mumTlbBM/g3uSVlwQKBgAkU6rl/4WnRh5EAez5G
        AlvGtN36thmB+7XU/yOe8OGtVToINTuqwQlnDWhvwLCU91Im+1EHlvmlkYOMPQW6
        Pb1cylIL9Y/HEwSDd9mEW+6x70jLuQmUODL+4qa4lcPM3TrDGDsf4Td/PZAjS0IE
        ICG0OPc1a4Cib3VWTyGpsPWS
        -----END PRIVATE KEY-----
        """)

    func testAnRSAPeerConnectsInEitherRoleAndIsCheckedByFingerprint() throws {
        XCTAssertEqual(Self.rsaPeer.sha256Fingerprint.count, 32)
        for role in [DTLSRole.active, .passive] {
            var pair = try DTLSPair(aliceRole: role, bobIdentity: Self.rsaPeer)
            pair.run()
            XCTAssertNil(pair.aliceError, "\(role)")
            XCTAssertNil(pair.bobError, "\(role)")
            XCTAssertTrue(pair.alice.isHandshakeComplete, "\(role)")
            XCTAssertEqual(pair.alice.keyingMaterial, pair.bob.keyingMaterial, "\(role)")
            XCTAssertNotNil(pair.alice.keyingMaterial, "\(role)")
            XCTAssertEqual(pair.alice.peerFingerprint, Self.rsaPeer.sha256Fingerprint, "\(role)")
            // And we still present our own ECDSA certificate.
            XCTAssertEqual(pair.bob.peerFingerprint, pair.alice.localFingerprint, "\(role)")
        }
    }

    func testAnRSAPeerWithAnotherFingerprintIsRefused() throws {
        for role in [DTLSRole.active, .passive] {
            var pair = try DTLSPair(aliceRole: role, alicePins: [UInt8](repeating: 0x5A, count: 32), bobIdentity: Self.rsaPeer)
            pair.run()
            XCTAssertFalse(pair.alice.isHandshakeComplete, "\(role)")
            guard case .fingerprintMismatch? = pair.aliceError else {
                return XCTFail("\(role): expected a fingerprint mismatch, got \(String(describing: pair.aliceError))")
            }
        }
    }
}
