import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import Foundation
import XCTest

/// Texting phone numbers through the simulated JMP-style gateway (Scripts/gateway).
final class PhoneGatewayTests: XCTestCase {
    private func phoneAccount(_ environment: TestEnvironment) async throws -> (TestAccount, JID) {
        guard let gatewayDomain = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gatewayDomain.isEmpty else {
            if ProcessInfo.processInfo.environment["CI"] != nil { throw TestEnvironmentError("the simulated gateway is not running") }
            throw XCTSkip("the simulated gateway is not running (no Python peers)")
        }
        let gateway = try JID(gatewayDomain)
        let account = try await TestAccount(environment.clientConfiguration(try environment.newAccount("phone")),
                                            recipients: RecipientResolver(gateway: gateway, country: "US"))
        try await account.connect()
        return (account, gateway)
    }

    func testEveryNumberFormResolvesToTheSameAddressThroughTheGateway() async throws {
        let environment = try TestEnvironment.current()
        let (account, gateway) = try await phoneAccount(environment)
        let expected = try JID("+15551234567@\(gateway.domain)")
        for form in ["(555) 123-4567", "555.123.4567", "+1 555 123 4567", "1-555-123-4567", "tel:+15551234567"] {
            let resolved = try await account.session.resolveRecipient(form)
            XCTAssertEqual(resolved, expected, form)
        }
        await account.stop()
    }

    func testANumberTheGatewayDoesNotServeIsOneClearSentence() async throws {
        let environment = try TestEnvironment.current()
        let (account, _) = try await phoneAccount(environment)
        do {
            _ = try await account.session.resolveRecipient("+44 20 7946 0958")
            XCTFail("the gateway served a number it refuses")
        } catch {
            XCTAssertTrue(String(describing: error).contains("does not serve +442079460958"), "\(error)")
        }
        await account.stop()
    }

    func testTextingANumberReachesTheGatewayAndTheReplyIsThreaded() async throws {
        let environment = try TestEnvironment.current()
        let (account, gateway) = try await phoneAccount(environment)
        let number = try await account.session.resolveRecipient("(555) 010-2030")
        _ = try await account.session.sendMessage(to: number, body: "Are we still on for lunch?")
        try await eventually("the gateway's echo is stored in the number's conversation") {
            try account.store.history(peer: "+15550102030@\(gateway.domain)").contains {
                $0.direction == .incoming && $0.body == "Echo: Are we still on for lunch?"
            }
        }
        let received = try GatewayLog.entries().filter { $0["to"] as? String == "+15550102030@\(gateway.domain)" }
        XCTAssertEqual(received.last?["body"] as? String, "Are we still on for lunch?")
        await account.stop()
    }
}

/// What the simulated gateway received, from its JSON-lines log.
enum GatewayLog {
    static func entries() throws -> [[String: Any]] {
        guard let path = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY_LOG"],
              let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
