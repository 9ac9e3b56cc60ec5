@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Texting phone numbers through the simulated JMP-style gateway (Scripts/gateway).
final class PhoneGatewayTests: XCTestCase {
    private func phoneAccount(_ environment: TestEnvironment) async throws -> (TestAccount, JID) {
        guard let gatewayDomain = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gatewayDomain.isEmpty else {
            throw missingPart("the simulated gateway is not running (no Python peers)")
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

extension PhoneGatewayTests {
    func testGroupTextRoundTrip() async throws {
        let environment = try TestEnvironment.current()
        let (account, gateway) = try await phoneAccount(environment)
        let group = try await account.session.resolveGroup(["(555) 222-0000", "+1 555 111 0000"])
        XCTAssertEqual(group.description, "+15551110000,+15552220000@\(gateway.domain)")

        _ = try await account.session.sendMessage(to: group, body: "Dinner at 8?")
        // The gateway saw it addressed to every participant…
        try await eventually("the gateway delivers to both") {
            try GatewayLog.entries().contains {
                $0["to"] as? String == group.description && ($0["delivered_to"] as? [String]) == ["+15551110000", "+15552220000"]
            }
        }
        // …and a participant's answer comes back into the same thread, named.
        try await eventually("the group reply is stored in the group") {
            try account.store.history(peer: group.description).contains {
                $0.direction == .incoming && $0.sender == "+15551110000@\(gateway.domain)" && $0.body == "Got it: Dinner at 8?"
            }
        }
        XCTAssertEqual(try account.store.conversations().filter { $0.peer.contains(",") }.count, 1, "one thread for the group")
        await account.stop()
    }

    func testVoicemailAndMMSFromTheGateway() async throws {
        let environment = try TestEnvironment.current()
        let (account, gateway) = try await phoneAccount(environment)
        let control = try JID("control@\(gateway.domain)")
        func order(_ json: [String: Any]) async throws {
            let data = try JSONSerialization.data(withJSONObject: json)
            _ = try await account.session.sendMessage(to: control, body: String(decoding: data, as: UTF8.self))
        }
        let me = account.jid.description
        try await order(["op": "voicemail", "to": me, "from": "+15553334444", "subject": "Voicemail (0:12)",
                         "url": "https://upload.dialtone.test/vm/0001.oga"])
        try await order(["op": "mms", "to": me, "from": "+15553334444", "url": "https://upload.dialtone.test/m/cat.jpg",
                         "body": "https://upload.dialtone.test/m/cat.jpg"])
        let peer = "+15553334444@\(gateway.domain)"
        try await eventually("both arrive") { try account.store.history(peer: peer).count == 2 }
        let history = try account.store.history(peer: peer)
        let voicemail = try XCTUnwrap(history.first { $0.subject != nil })
        XCTAssertEqual(voicemail.subject, "Voicemail (0:12)")
        XCTAssertEqual(voicemail.attachments.first?.isAudio, true)
        XCTAssertNil(voicemail.body, "the body was only the link")
        let mms = try XCTUnwrap(history.first { $0.subject == nil })
        XCTAssertEqual(mms.attachments.first?.mediaType, "image/jpeg")
        XCTAssertNil(mms.body)
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
