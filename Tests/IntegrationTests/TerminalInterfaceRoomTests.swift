@testable import DialtoneCore
import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Group chats in the terminal interface, beside an occupant on slixmpp's own XEP-0045 plugin
/// (Peers/muc_peer.py): /join opens the room, talk goes both ways by nick, /who lists who is
/// there, and a message naming our nick is counted apart in the list.
final class TerminalInterfaceRoomTests: TerminalInterfaceTestCase {
    private var occupants: [ChildProcess] = []

    override func tearDown() async throws {
        for child in occupants where child.isRunning { child.signal(SIGKILL) }
        try await super.tearDown()
    }

    private func events(_ name: String, in child: ChildProcess) -> [[String: Any]] {
        CallHarness.jsonLines(child.output).filter { $0["event"] as? String == name }
    }

    private func say(_ line: String, into commands: URL) throws { try appendCommand(line, to: commands) }

    /// An occupant (slixmpp's XEP-0045 plugin) joining `room` as `nick`, and the file its
    /// commands go to.
    private func occupant(_ nick: String, in room: JID, _ environment: TestEnvironment) throws -> (child: ChildProcess, commands: URL) {
        let commands = directory.appendingPathComponent("\(nick)-commands")
        _ = FileManager.default.createFile(atPath: commands.path, contents: nil)
        let account = try environment.newAccount(nick == "ada" ? "occupant" : nick)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/muc_peer.py").path
        let child = try ChildProcess([try PythonPeers.python(), script, "--jid", account.jid.description, "--password", account.password,
                                      "--port", String(environment.port), "--ca-file", environment.caFile, "--room", room.description,
                                      "--nick", nick, "--commands", commands.path, "--timeout", "90"])
        occupants.append(child)
        return (child, commands)
    }

    func testJoiningARoomTalkingPrivatelyNickTopicAndAMentionCountedApartAndNotified() async throws {
        let environment = try TestEnvironment.current()
        let room = environment.newRoom("tea")
        let roomName = try XCTUnwrap(room.local)
        let (ada, commands) = try occupant("ada", in: room, environment)
        try await eventually("ada is in the room") { !self.events("joined", in: ada).isEmpty || !ada.isRunning }

        let (bin, notified) = try notifySendStandIn()
        try await startInterface(for: try environment.newAccount("alice"), environment: environment,
                                 extra: "notify = \"notify-send\"", variables: "PATH=\(bin.path):/usr/bin:/bin")
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/join \(room) dt")
        // The notice may give way to the room's subject at once: the list and the title say it.
        try await waitForScreen("joined, and the room open in the list") { $0.components(separatedBy: "#\(roomName)").count >= 3 }
        try await command("hello tea drinkers")
        try await eventually("ada reads it from dt") {
            self.events("message", in: ada).contains { $0["nick"] as? String == "dt" && $0["body"] as? String == "hello tea drinkers" }
        }
        try say("say welcome!", into: commands)
        try await waitForScreen("ada's message by her nick") { $0.contains("ada: welcome!") }

        // Tab completes a nick of the room, addressed at the start of the line.
        try await tmux(["send-keys", "-t", "tui", "-l", "ad"])
        try await tmux(["send-keys", "-t", "tui", "Tab"])
        try await waitForScreen("ada's nick completed") { $0.contains("> ada:") }
        try await tmux(["send-keys", "-t", "tui", "C-u"])

        // Someone comes: one line says so.
        let (_, bobCommands) = try occupant("bob", in: room, environment)
        try await waitForScreen("bob's coming said in one line") { $0.contains("bob came") }

        // A wider terminal shows who is here beside the messages.
        try await tmux(["resize-window", "-t", "tui", "-x", "120", "-y", "24"])
        try await waitForScreen("the occupants' column") { screen in
            screen.contains("3 here") && screen.split(separator: "\n").contains { $0.hasSuffix("│ bob") || $0.contains("│ bob ") }
        }
        try await tmux(["resize-window", "-t", "tui", "-x", "80", "-y", "24"])

        try await command("/who")
        try await waitForScreen("the occupants") { $0.contains("In \(room.description.prefix(20))") && $0.contains("ada") }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        // An Escape and a key in the same read are Alt+key (as in every terminal program).
        try await Task.sleep(for: .milliseconds(300))

        // A private message to ada through the room, and hers back: their own conversation.
        try await command("/msg ada psst, ada")
        try await eventually("ada gets it privately, from dt") {
            self.events("private", in: ada).contains { $0["nick"] as? String == "dt" && $0["body"] as? String == "psst, ada" }
        }
        try say("pm dt psst yourself", into: commands)
        try await waitForScreen("her answer in the private conversation, named with the room") {
            $0.contains("ada (#\(roomName.prefix(8))") && $0.contains("psst yourself")
        }
        try await command("/msg \(room)")

        // A subject our role may not set: the room's refusal is shown. The owner's is shown.
        try await command("/topic Earl Grey only")
        try await waitForScreen("the room's refusal") { screen in
            screen.contains(room.description.prefix(20)) && (screen.lowercased().contains("forbidden") || screen.contains("not allowed"))
        }
        try say("subject Earl Grey only", into: commands)
        try await waitForScreen("the owner's subject") { $0.contains("Subject: Earl Grey only") }
        // A new nick the room agrees to.
        try await command("/nick dt2")
        try await waitForScreen("the new nick") { $0.contains("dt is now dt2") }
        try await command("still me")
        try await eventually("ada reads it from dt2") {
            self.events("message", in: ada).contains { $0["nick"] as? String == "dt2" && $0["body"] as? String == "still me" }
        }

        // A room that does not let us in: the error, and back where we were, with no trace of it.
        try await command("/join nowhere@nothing.\(environment.domain)")
        try await waitForScreen("the refusal") { $0.contains("nowhere@nothing.\(environment.domain) refused") }
        let shown = try await screen()
        XCTAssertEqual(shown.split(separator: "\n").filter { $0.contains("nowhere@nothing") }.count, 1,
                       "only the refusal names it, no conversation in the list:\n\(shown)")
        XCTAssertTrue(shown.contains("dt2: tea") || shown.contains("#\(roomName)"), "back in the room:\n\(shown)")
        // Another conversation in view: room chatter is counted, a mention counted apart.
        try await command("/msg carol@\(environment.domain)")
        try say("say just chatting", into: commands)
        try say("say dt2: tea at four?", into: commands)
        try await waitForScreen("two unread in the room, one of them a mention") { screen in
            screen.split(separator: "\n").contains { $0.contains("#\(roomName.prefix(8))") && $0.contains("2@1") }
        }
        // Only the mention became a notification.
        try await eventually("the mention is notified") {
            ((try? String(contentsOfFile: notified, encoding: .utf8)) ?? "").contains("dt2: tea at four?")
        }
        let notifications = try String(contentsOfFile: notified, encoding: .utf8)
        XCTAssertFalse(notifications.contains("just chatting"), notifications)
        try await command("/quit")
        try say("leave", into: commands)
        try say("leave", into: bobCommands)
    }

    /// A room we create is ours to configure: its form on the command screen, a field filled
    /// in, /complete, and the room is named so for everyone (its disco identity); and ours to
    /// moderate.
    func testConfiguringARoomWeCreated() async throws {
        let environment = try TestEnvironment.current()
        let room = environment.newRoom("ours")
        try await startInterface(for: try environment.newAccount("alice"), environment: environment)
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/join \(room) dt")
        try await waitForScreen("the room open") { $0.components(separatedBy: "#\(room.local ?? "")").count >= 3 }
        try await command("/configure")
        try await waitForScreen("the room's form") { $0.contains("Configuration at") && $0.contains("1. Title") }
        // Prosody's first field is the room's title.
        try await command("/field 1 Tea Room")
        try await command("/complete")
        try await waitForScreen("configured") { $0.contains("is configured") }
        let other = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await other.connect()
        let answer = try await other.session.xmppClient.request(
            .iq(.get, id: newStanzaID(), to: room, payload: XMLElement("query", namespace: Namespace.discoInfo)))
        let names = answer.child("query", namespace: Namespace.discoInfo)?.children("identity", namespace: Namespace.discoInfo)
            .compactMap { $0[attribute: "name"] } ?? []
        XCTAssertEqual(names, ["Tea Room"], answer.excerptForLog(600))
        await other.stop()

        // As its owner we moderate (XEP-0425): a message taken down says by whom and why.
        try await command("posted in the wrong room")
        try await waitForScreen("our message") { $0.contains("posted in the wrong room") }
        // The room's echo gives it the room's id, which moderation names (loopback: at once).
        try await Task.sleep(for: .milliseconds(500))
        try await command("/moderate 1 wrong room")
        try await waitForScreen("taken down, with the reason") { $0.contains("(taken down by dt: wrong room)") }
        let after = try await screen()
        XCTAssertFalse(after.contains("posted in the wrong room"), after)
        try await command("/quit")
    }
}
