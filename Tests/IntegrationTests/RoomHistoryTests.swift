@testable import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// A room's history at the first visit (XEP-0313 on the room), against Prosody's MUC with
/// mod_muc_mam, beside an occupant we did not write (Peers/muc_peer.py, slixmpp): asked for
/// before the join, newest first, and read as it was said.
final class RoomHistoryTests: PythonPeerTestCase {
    override class var peerScript: String { "muc_peer.py" }

    /// Joining asks for the room's history first: its archive query goes right before the
    /// join presence, so that a busy room's newest messages come before its occupants' presences
    /// (a thousand in a big room). What the room said is stored once, though the catch-up after
    /// the join asks again from where the first query ended. A first visit asks for the newest
    /// 50 (a screenful or two, shown at once; newest first, since Prosody's room archive can
    /// turn a page) and then for the 200 before them.
    func testJoiningAsksForTheRoomsHistoryBeforeItsOccupants() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let me = try environment.newAccount("dt")
        let config = try environment.writeConfiguration(for: me, in: URL(fileURLWithPath: harness.path("")))
        for n in 1...60 { try tell(commands, "say earlier \(n)") }
        try await eventually("ada said them") { self.events("said", in: ada).count == 60 }

        let log = harness.path("join-trace.log")
        let join = try dialtone("dt", ["join", room.description, "--nick", "dt", "--config", config, "--log-file", log, "--log-level", "trace"])
        let status = try await join.wait(timeout: .seconds(60))
        XCTAssertEqual(status, 0, join.output + join.errors)
        let sent = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.contains("send: ") }
        let query = sent.firstIndex { $0.contains("urn:xmpp:mam:2") && ($0.contains("to=\"\(room)\"") || $0.contains("to='\(room)'")) }
        let presence = sent.firstIndex { $0.contains("<presence") && $0.contains("\(room)/dt") && $0.contains("http://jabber.org/protocol/muc") }
        let queryIndex = try XCTUnwrap(query, "no archive query to the room:\n\(sent.joined(separator: "\n"))")
        let presenceIndex = try XCTUnwrap(presence, "no join presence:\n\(sent.joined(separator: "\n"))")
        XCTAssertEqual(queryIndex + 1, presenceIndex, "the join presence goes right behind the archive query")
        let queries = sent.filter { $0.contains("urn:xmpp:mam:2") && $0.contains(room.description) }
        XCTAssertTrue(queries[0].contains("<max>50</max>") && queries[0].contains("<before/>"), String(queries[0]))
        // Prosody's room archive turns a page (it advertises urn:xmpp:mam:2#extended): the newest
        // page comes newest first, and the newest message shows first. Asked once, before.
        XCTAssertTrue(queries[0].contains("<flip-page/>"), String(queries[0]))
        XCTAssertFalse(queries[1].contains("flip-page"), "the page before it comes oldest first: \(queries[1])")
        let discos = sent.indices.filter { sent[$0].contains("http://jabber.org/protocol/disco#info") && sent[$0].contains(room.description) }
        XCTAssertLessThan(try XCTUnwrap(discos.first, "the room's features are asked first"), queryIndex)
        XCTAssertEqual(discos.count, 1, "and only then, not again after the join")
        XCTAssertTrue(queries.count == 3 && queries[1].contains("<max>200</max>") && queries[1].contains("<before>")
                          && queries[2].contains("<after>"),
                      "the 200 before the newest, then after the join from where the first ended, not all over again: \(queries)")

        let history = try await runDialtone(["history", room.description, "--json", "--limit", "100"], config: config)
        XCTAssertEqual(CallHarness.jsonLines(history.output).compactMap { $0["body"] as? String }, (1...60).map { "earlier \($0)" },
                       "all, once, in the order said (the archive stamps whole seconds; the newest 50 came newest first)")
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
    }

    /// A first visit's newest page comes newest first, so a correction or a retraction arrives
    /// before the message it changes: held, and applied once that message is stored. The
    /// history reads as if the page had come in the order said: the corrected text once, the
    /// retracted message empty, no fallback text. (Prosody 0.12 archives no reactions.)
    func testTheNewestPageNewestFirstStillCorrectsAndRetractsWhatCameBefore() async throws {
        let room = environment.newRoom()
        let (ada, commands) = try await occupant(try environment.newAccount("occupant"), in: room, nick: "ada")
        let me = try environment.newAccount("dt")
        let config = try environment.writeConfiguration(for: me, in: URL(fileURLWithPath: harness.path("")))
        func reflected(_ body: String) async throws -> [String: Any] {
            var found: [String: Any] = [:]
            try await eventually("ada's \(body) comes back with the room's id") {
                found = self.events("message", in: ada).first { $0["body"] as? String == body } ?? [:]
                return found["stanza_id"] is String
            }
            return found
        }
        try tell(commands, "say typo herre")
        let typo = try await reflected("typo herre")
        try tell(commands, "correct \(try XCTUnwrap(typo["id"] as? String)) typo here")
        try tell(commands, "say oops")
        let oops = try await reflected("oops")
        try tell(commands, "retract \(try XCTUnwrap(oops["stanza_id"] as? String))")
        try tell(commands, "say after")
        _ = try await reflected("after")

        let log = harness.path("flipped-trace.log")
        let join = try dialtone("dt", ["join", room.description, "--nick", "dt", "--config", config, "--log-file", log, "--log-level", "trace"])
        let status = try await join.wait(timeout: .seconds(60))
        XCTAssertEqual(status, 0, join.output + join.errors)
        XCTAssertTrue(try String(contentsOfFile: log, encoding: .utf8).contains("<flip-page/>"), "the newest page came newest first")
        let history = CallHarness.jsonLines(try await runDialtone(["history", room.description, "--json"], config: config).output)
        let bodies = history.compactMap { $0["body"] as? String }.filter { !$0.isEmpty }
        XCTAssertEqual(bodies, ["typo here", "after"], "\(history)")
        XCTAssertNotNil(history.first?["edited"], "the first is the corrected one: \(history)")
        XCTAssertEqual(history.filter { $0["retracted"] != nil }.count, 1, "oops taken back: \(history)")
        try tell(commands, "leave")
        _ = try await ada.wait(timeout: .seconds(10))
    }
}
