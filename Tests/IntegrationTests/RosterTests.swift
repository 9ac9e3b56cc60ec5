@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import XCTest

/// Roster versioning (RFC 6121 2.6) against Prosody.
final class RosterTests: XCTestCase {
    /// A client whose roster updates come out of a stream, started with `version` stored.
    private func login(_ configuration: XMPPClientConfiguration, version: String?) async throws
        -> (client: XMPPClient, roster: AsyncStream<RosterUpdate>) {
        let (roster, sink) = AsyncStream<RosterUpdate>.makeStream()
        let client = XMPPClient(configuration: configuration) { events in
            for case .roster(let update) in events { sink.yield(update) }
        }
        await client.setRosterVersion(version)
        await client.start()
        return (client, roster)
    }

    /// The next update, or a failure after 15 s (the stream is read by one task at a time).
    private func next(_ roster: AsyncStream<RosterUpdate>) async throws -> RosterUpdate {
        try await withThrowingTaskGroup(of: RosterUpdate?.self) { group in
            group.addTask {
                var iterator = roster.makeAsyncIterator()
                return await iterator.next()
            }
            group.addTask {
                try await Task.sleep(for: .seconds(15))
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            guard let first else { throw TestEnvironmentError("no roster update within 15 s") }
            return first
        }
    }

    private func add(_ jid: String, name: String, using client: XMPPClient) async throws {
        var query = XMLElement("query", namespace: Namespace.roster)
        query.append(XMLElement("item", namespace: Namespace.roster, attributes: [XMLAttribute("jid", jid), XMLAttribute("name", name)]))
        _ = try await client.request(.iq(.set, id: newStanzaID(), payload: query))
    }

    func testAStoredRosterIsNotSentAgainUntilItChanges() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("alice")
        let bob = "bob@\(environment.domain)", carol = "carol@\(environment.domain)"

        // First login, nothing stored: the whole roster. Prosody calls a new account's empty
        // roster and its first change both "1", so an empty roster's version is not kept.
        let first = try await login(environment.clientConfiguration(account, resource: "one"), version: nil)
        let initial = try await next(first.roster)
        XCTAssertEqual(initial, .full([], version: nil))
        try await add(bob, name: "Bob", using: first.client)
        guard case .push(let pushed, let afterBob?) = try await next(first.roster) else { return XCTFail("a versioned push") }
        XCTAssertEqual(pushed.jid.description, bob)
        await first.client.stop()

        // With that version: "unchanged", and no items sent.
        let second = try await login(environment.clientConfiguration(account, resource: "two"), version: afterBob)
        let answer = try await next(second.roster)
        XCTAssertEqual(answer, .unchanged)
        await second.client.stop()

        // Changed while we were away: the whole roster again, with a new version.
        let other = try await login(environment.clientConfiguration(account, resource: "other"), version: nil)
        _ = try await next(other.roster)
        try await add(carol, name: "Carol", using: other.client)
        await other.client.stop()
        let third = try await login(environment.clientConfiguration(account, resource: "three"), version: afterBob)
        guard case .full(let items, let latest?) = try await next(third.roster) else { return XCTFail("the changed roster in full") }
        XCTAssertEqual(Set(items.map(\.jid.description)), [bob, carol])
        XCTAssertNotEqual(latest, afterBob, "versions: \(afterBob) → \(latest)")
        await third.client.stop()
    }

    /// The session keeps the version with the roster in its store: the next start shows the
    /// stored contacts as current without the server sending them again.
    func testTheSessionStoresTheVersionWithTheRoster() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("alice")
        let setup = try await login(environment.clientConfiguration(account, resource: "setup"), version: nil)
        _ = try await next(setup.roster)
        try await add("bob@\(environment.domain)", name: "Bob", using: setup.client)
        await setup.client.stop()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-roster-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = try await TestAccount(environment.clientConfiguration(account), directory: directory)
        try await first.connect()
        try await eventually("the roster stored with its version") {
            try first.store.contacts().map(\.jid) == ["bob@\(environment.domain)"] && first.store.rosterVersion != nil
        }
        let version = try first.store.rosterVersion
        await first.stop()

        let second = try await TestAccount(environment.clientConfiguration(account), directory: directory)
        // `online` is reported after the roster's answer ("unchanged") has been handled.
        try await second.connect()
        XCTAssertEqual(try second.store.rosterVersion, version)
        XCTAssertEqual(try second.store.contacts().map(\.name), ["Bob"])
        await second.stop()
    }
}
