@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import XCTest

/// 500 messages each way while the TCP connections are cut again and again: every one
/// must arrive exactly once, and every one sent must end up confirmed.
final class ResilienceTests: XCTestCase {
    func testNothingLostOrDuplicatedAcrossCutConnections() async throws {
        let environment = try TestEnvironment.current()
        let proxy = try await CuttableProxy(targetHost: environment.server, targetPort: environment.port)
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice"), port: proxy.port))
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob"), port: proxy.port))
        try await alice.connect()
        try await bob.connect()

        let count = 500
        var cuts = 0
        for index in 0..<count {
            _ = try await alice.session.sendMessage(to: bob.jid, body: "a→b \(index)")
            _ = try await bob.session.sendMessage(to: alice.jid, body: "b→a \(index)")
            if index % 80 == 40 {
                proxy.cutAll()
                cuts += 1
            }
            if index % 25 == 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        XCTAssertGreaterThanOrEqual(cuts, 5)

        func incoming(_ account: TestAccount, from peer: TestAccount) throws -> [String] {
            try account.store.history(peer: peer.jid.description, limit: 10 * count)
                .filter { $0.direction == .incoming }.compactMap(\.body)
        }
        do {
            try await eventually(timeout: .seconds(Int(ProcessInfo.processInfo.environment["DIALTONE_RESILIENCE_TIMEOUT"] ?? "120") ?? 120), "all messages arrive") {
                try incoming(bob, from: alice).count >= count && incoming(alice, from: bob).count >= count
            }
        } catch {
            // Say how far it got: that is what tells a lost message from a slow one.
            print("at bob: \(try incoming(bob, from: alice).count), at alice: \(try incoming(alice, from: bob).count),",
                  "outboxes: \(try alice.store.outbox().count) / \(try bob.store.outbox().count)")
            print("alice's recent log:\n\(alice.recentLog.text)\n\nbob's recent log:\n\(bob.recentLog.text)")
            throw error
        }
        try await eventually(timeout: .seconds(60), "both outboxes drain") {
            try alice.store.outbox().isEmpty && bob.store.outbox().isEmpty
        }
        // Let any straggling duplicate arrive before counting.
        try await Task.sleep(for: .seconds(1))
        let atBob = try incoming(bob, from: alice)
        let atAlice = try incoming(alice, from: bob)
        XCTAssertEqual(atBob.count, count, "bob: each exactly once")
        XCTAssertEqual(Set(atBob), Set((0..<count).map { "a→b \($0)" }))
        XCTAssertEqual(atAlice.count, count, "alice: each exactly once")
        XCTAssertEqual(Set(atAlice), Set((0..<count).map { "b→a \($0)" }))
        await alice.stop()
        await bob.stop()
        await proxy.shutdown()
    }

    /// A connection that swallows everything without closing (a NAT that forgot us): the
    /// client notices its request for an ack going unanswered, reconnects, and what it wrote
    /// into the black hole reaches the server, long before the idle keepalive (60 s) would
    /// have noticed anything.
    func testSilentlyDeadConnectionIsNoticedAndWhatWasSentGoesAgain() async throws {
        let environment = try TestEnvironment.current()
        let proxy = try await CuttableProxy(targetHost: environment.server, targetPort: environment.port)
        var configuration = environment.clientConfiguration(try environment.newAccount("alice"), port: proxy.port)
        configuration.keepaliveTimeout = .seconds(2)
        let alice = try await TestAccount(configuration)
        // Bob connects directly: only alice's link goes dead.
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await alice.connect()
        try await bob.connect()

        proxy.freezeAll()
        _ = try await alice.session.sendMessage(to: bob.jid, body: "into the black hole")
        do {
            try await eventually(timeout: .seconds(15), "the message reaches bob") {
                try bob.store.history(peer: alice.jid.description, limit: 10).contains { $0.body == "into the black hole" }
            }
            try await eventually(timeout: .seconds(5), "the server confirms it to alice") { try alice.store.outbox().isEmpty }
        } catch {
            print("alice's recent log:\n\(alice.recentLog.text)")
            throw error
        }
        XCTAssertTrue(alice.recentLog.text.contains("no answer to a stream management request"), "noticed by the unanswered request")
        await alice.stop()
        await bob.stop()
        await proxy.shutdown()
    }
}
