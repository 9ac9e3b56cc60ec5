@testable import DialtoneCore
import DialtoneTLS
import DialtoneXMPP
import XCTest

final class LoginTests: XCTestCase {
    func testLogsInWithSTARTTLSAndDirectTLS() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("login")
        for mode in [XMPPClientConfiguration.TLSMode.starttls, .direct] {
            let client = try await TestAccount(environment.clientConfiguration(account, tls: mode))
            try await client.connect()
            let bound = await client.session.xmppClient.boundJID
            XCTAssertEqual(bound?.bare, account.jid, "\(mode)")
            await client.stop()
        }
    }

    func testWrongPasswordIsOneClearSentenceAndNoRetry() async throws {
        let environment = try TestEnvironment.current()
        var account = try environment.newAccount("wrongpw")
        account.password = "not-the-password"
        let client = try await TestAccount(environment.clientConfiguration(account))
        do {
            try await client.connect()
            XCTFail("logged in with a wrong password")
        } catch {
            XCTAssertTrue(String(describing: error).contains("Wrong user name or password"), "\(error)")
        }
        await client.stop()
    }

    func testUntrustedCertificateIsRefused() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("untrusted")
        // Without the test CA, the system store does not know the server's certificate.
        let client = try await TestAccount(environment.clientConfiguration(account, trustTestCA: false))
        do {
            try await client.connect()
            XCTFail("connected to a server with an untrusted certificate")
        } catch {
            XCTAssertTrue(String(describing: error).contains("not trusted"), "\(error)")
        }
        await client.stop()
    }

    func testPinnedFingerprintOfAnotherCertificateIsRefused() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("pin")
        var configuration = environment.clientConfiguration(account)
        configuration.pinnedCertificateSHA256 = Array(repeating: 0xAB, count: 32)
        let client = try await TestAccount(configuration)
        do {
            try await client.connect()
            XCTFail("connected although the pin did not match")
        } catch {
            XCTAssertTrue(String(describing: error).lowercased().contains("fingerprint"), "\(error)")
        }
        await client.stop()
    }

    func testRefusesPlaintextToANonLoopbackHost() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("plain")
        var configuration = environment.clientConfiguration(account, tls: .none)
        // An address that is not loopback (TEST-NET-1): refused before any packet is sent.
        // (A name is judged by the address it resolves to; see LoopbackTests.)
        configuration.server = "192.0.2.1"
        let client = try await TestAccount(configuration)
        do {
            try await client.connect()
            XCTFail("connected without TLS to a non-loopback host")
        } catch {
            XCTAssertTrue(String(describing: error).contains("only allowed to a loopback address"), "\(error)")
        }
        await client.stop()
    }

    func testRefusesToContinueWhenTheServerOffersNoTLS() async throws {
        // Our loopback server requires TLS before it offers any login method, so a client
        // told to use none must stop there, and never send the password in the clear.
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("notls")
        let client = try await TestAccount(environment.clientConfiguration(account, tls: .none))
        do {
            try await client.connect(timeout: .seconds(10))
            XCTFail("logged in without TLS")
        } catch {
            XCTAssertTrue(String(describing: error).contains("no login method"), "\(error)")
        }
        await client.stop()
    }

    /// Prosody 0.12 offers -PLUS only over TLS 1.2 (tls-unique); TLS 1.3 has no binding there.
    func testChannelBindingWhereTheServerOffersIt() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("plus")
        var configuration = environment.clientConfiguration(account)
        configuration.maximumTLSVersion = .tls12
        let bound = try await TestAccount(configuration)
        try await bound.connect()
        let mechanism = await bound.session.xmppClient.authenticationMechanism
        XCTAssertEqual(mechanism, "SCRAM-SHA-1-PLUS")
        await bound.stop()

        let plain = try await TestAccount(environment.clientConfiguration(account))
        try await plain.connect()
        let unbound = await plain.session.xmppClient.authenticationMechanism
        XCTAssertEqual(unbound, "SCRAM-SHA-1", "TLS 1.3: no -PLUS offered by Prosody 0.12")
        await plain.stop()
    }
}
