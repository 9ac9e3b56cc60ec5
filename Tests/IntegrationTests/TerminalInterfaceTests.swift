@testable import DialtoneCore
import DialtoneMedia
import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Messaging, accounts, notifications and the screen in the terminal interface.
final class TerminalInterfaceTests: TerminalInterfaceTestCase {

    /// Two processes of one account, as a user with a notification script runs them: the
    /// interface and a `listen` each show what arrives on their own connection (the second to
    /// store a message used to take it for a duplicate and print nothing), and the interface
    /// shows what another process stored (a `send` from a script).
    func testTheInterfaceAndAListenerSideBySide() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let config = try environment.writeConfiguration(for: alice, in: directory)
        var variables = ProcessInfo.processInfo.environment
        variables["XDG_DATA_HOME"] = directory.path + "/data"
        variables["XDG_STATE_HOME"] = directory.path + "/state"

        try await startInterface(for: alice, environment: environment, configuration: config)
        try await waitForScreen("online") { $0.contains("online") }
        // Two listeners: whichever process stores a message first, at least one listener is not
        // it, so a listener that stayed silent on duplicates fails here every time.
        let listeners = try (0..<2).map { _ in try ChildProcess([binary, "listen", "--json", "--config", config], environment: variables) }
        defer { for listener in listeners { listener.signal(SIGKILL) } }
        try await eventually("the listeners are online") { listeners.allSatisfy { $0.output.contains("\"online\"") } }

        for index in 1...3 {
            _ = try await bob.session.sendMessage(to: alice.jid, body: "Both see #\(index)")
        }
        try await eventually("each listener prints all three") {
            listeners.allSatisfy { listener in (1...3).allSatisfy { listener.output.contains("Both see #\($0)") } }
        }
        let listener = listeners[0]
        try await command("/msg \(bob.jid)")
        try await waitForScreen("the interface shows all three") { screen in
            (1...3).allSatisfy { screen.contains("Both see #\($0)") }
        }

        let sent = try await ChildProcess.run([binary, "--config", config, "send", bob.jid.description, "Sent from a script"],
                                              environment: variables)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        try await waitForScreen("the interface shows what the script sent") { $0.contains("Sent from a script") }
        XCTAssertEqual(listener.output.components(separatedBy: "Both see #1").count, 2, "printed once")
    }

    func testMessagingFromTheTerminalInterface() async throws {
        let environment = try TestEnvironment.current()
        let (alice, bob) = try await startInterfaceWithContact(environment)

        try await command("/msg \(bob.jid) Hello from the terminal 👋")
        try await eventually("bob receives it") {
            try bob.store.history(peer: alice.jid.description).contains { $0.body == "Hello from the terminal 👋" }
        }
        try await waitForScreen("our message with its mark") { $0.contains("Hello from the terminal") && $0.contains("✓") }

        // Our own chat states: typing says composing, emptying the line says active.
        try await tmux(["send-keys", "-t", "tui", "-l", "Are you"])
        try await bob.waitForEvent { event in
            if case .chatState(let peer, "composing") = event { return peer == alice.jid.description }
            return false
        }
        try await tmux(["send-keys", "-t", "tui", "C-u"])
        try await bob.waitForEvent { event in
            if case .chatState(let peer, "active") = event { return peer == alice.jid.description }
            return false
        }

        // Bob starts typing (XEP-0085): the conversation's title says so until his message comes.
        var composing = DialtoneXML.XMLElement("message", namespace: Namespace.client,
                                               attributes: ["to": alice.jid.description, "type": "chat", "id": "typing-1"])
        composing.append(DialtoneXML.XMLElement("composing", namespace: Namespace.chatStates))
        try await bob.session.xmppClient.send(composing)
        try await waitForScreen("bob typing") { $0.contains("typing…") }
        _ = try await bob.session.sendMessage(to: alice.jid, body: "Hi back from bob")
        try await waitForScreen("bob's reply, no longer typing") { $0.contains("Hi back from bob") && !$0.contains("typing…") }

        // A message from someone else, while bob's conversation is open: counted in the title.
        let carol = try await TestAccount(environment.clientConfiguration(try environment.newAccount("carol")))
        try await carol.connect()
        _ = try await carol.session.sendMessage(to: alice.jid, body: "Are you there?")
        let deadline = ContinuousClock.now + .seconds(20)
        var title = ""
        while ContinuousClock.now < deadline {
            title = try await tmux(["display-message", "-p", "-t", "tui", "#{pane_title}"]).trimmingCharacters(in: .whitespacesAndNewlines)
            if title == "Dialtone (1)" { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(title, "Dialtone (1)", "the unread count shows in the terminal title")
        await carol.stop()

        // A pasted multi-line text is one message, not one per line (bracketed paste).
        try await tmux(["set-buffer", "-b", "p", "first line\nsecond line"])
        try await tmux(["paste-buffer", "-p", "-b", "p", "-t", "tui"])
        try await tmux(["send-keys", "-t", "tui", "Enter"])
        try await eventually("bob receives the paste as one message") {
            try bob.store.history(peer: alice.jid.description).contains { $0.body == "first line\nsecond line" }
        }
        XCTAssertFalse(try bob.store.history(peer: alice.jid.description).contains { $0.body == "first line" })

        try await command("/theme high-contrast")
        try await waitForScreen("the theme switched live") { $0.contains("Theme high-contrast.") }

        // A smaller window: the conversation is laid out again, nothing is lost from view.
        try await tmux(["resize-window", "-t", "tui", "-x", "50", "-y", "14"])
        try await waitForScreen("the re-laid screen") { screen in
            screen.contains("Hi back from bob") && screen.split(separator: "\n").allSatisfy { $0.count <= 50 }
        }

        try await command("/quit")
        await bob.stop()
    }

    /// Two accounts in one interface: the one out of view stays connected and counts what
    /// arrives, Ctrl-x brings it into view, a reply goes out from it, /account switches back.
    func testTwoAccountsInOneInterface() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let dave = try environment.newAccount("dave")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let both = directory.appendingPathComponent("both.toml").path
        let first = try String(contentsOfFile: try environment.writeConfiguration(for: alice, in: directory), encoding: .utf8)
        let second = try String(contentsOfFile: try environment.writeConfiguration(for: dave, in: directory), encoding: .utf8)
        try (first + "\n" + second).write(toFile: both, atomically: true, encoding: .utf8)

        try await startInterface(for: alice, environment: environment, configuration: both)
        try await waitForScreen("online") { $0.contains("online") && $0.contains(alice.jid.description) }
        _ = try await bob.session.sendMessage(to: dave.jid, body: "For the second number")
        try await waitForScreen("the other account's count") { $0.contains("\(dave.jid.description) 1 new") }
        let firstView = try await screen()
        XCTAssertFalse(firstView.contains("For the second number"), "the first account's view stays")

        try await tmux(["send-keys", "-t", "tui", "C-x"])
        try await waitForScreen("the second account in view") { screen in
            screen.contains("For the second number") && !screen.contains("1 new")
        }
        try await command("Answered from the second")
        try await eventually("bob hears from the second account") {
            try bob.store.history(peer: dave.jid.description).contains { $0.body == "Answered from the second" }
        }
        XCTAssertFalse(try bob.store.history(peer: alice.jid.description).contains { $0.body == "Answered from the second" })

        _ = try await bob.session.sendMessage(to: alice.jid, body: "Back to the first")
        try await waitForScreen("the first account's count") { $0.contains("\(alice.jid.description) 1 new") }
        try await command("/account")
        try await waitForScreen("both accounts listed") { $0.contains("1  \(alice.jid.description)") && $0.contains("2  \(dave.jid.description)") }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        try await Task.sleep(for: .milliseconds(300))
        try await command("/account 1")
        try await waitForScreen("the first account again") { $0.contains("Back to the first") }

        try await command("/quit")
        await bob.stop()
    }

    /// A contact whose presence we see gets its mark in the conversation list, and loses it
    /// when they go offline.
    func testPresenceMarksInTheConversationList() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bobAccount = try environment.newAccount("bob")
        // Alice subscribes to bob's presence and bob approves, before the interface starts.
        let online = AsyncStream<Void>.makeStream()
        let aliceSetup = XMPPClient(configuration: environment.clientConfiguration(alice, resource: "setup")) { events in
            for case .connectionState(.online) in events { online.continuation.yield() }
        }
        await aliceSetup.start()
        for await _ in online.stream { break }
        try await aliceSetup.send(DialtoneXML.XMLElement("presence", namespace: Namespace.client,
                                                         attributes: ["to": bobAccount.jid.description, "type": "subscribe"]))
        let bob = try await TestAccount(environment.clientConfiguration(bobAccount))
        try await bob.connect()
        try await bob.session.xmppClient.send(DialtoneXML.XMLElement("presence", namespace: Namespace.client,
                                                                     attributes: ["to": alice.jid.description, "type": "subscribed"]))
        await aliceSetup.stop()

        try await startInterface(for: alice, environment: environment)
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/msg \(bobAccount.jid)")
        try await waitForScreen("bob available") { $0.contains("●bob") }
        await bob.stop()
        try await waitForScreen("bob gone offline") { $0.contains(" bob") && !$0.contains("●bob") }
        try await command("/quit")
    }

    /// /open on a text attachment shows it in $PAGER on the terminal, and the interface takes
    /// the screen back when the pager exits.
    func testOpeningATextAttachmentPagesItAndRestoresTheScreen() async throws {
        let environment = try TestEnvironment.current()
        let dns = try LoopbackDNS(records: ["--host-record=upload.\(environment.domain),127.0.0.1"])
        defer { dns.stop() }
        let alice = try environment.newAccount("alice")
        var bobConfiguration = environment.clientConfiguration(try environment.newAccount("bob"))
        bobConfiguration.nameserver = .init(host: "127.0.0.1", port: dns.port)
        let bob = try await TestAccount(bobConfiguration)
        try await bob.connect()
        let note = directory.appendingPathComponent("shopping list.txt")
        try "eggs\nflour\nsugar\n".write(to: note, atomically: true, encoding: .utf8)
        // The pager: copies what it was given, as proof, and says so on the screen.
        let paged = directory.appendingPathComponent("paged").path
        let pager = directory.appendingPathComponent("pager.sh").path
        try "#!/bin/sh\ncp \"$1\" \(paged)\necho PAGER-RAN\nsleep 1\n".write(toFile: pager, atomically: true, encoding: .utf8)
        chmod(pager, 0o755)

        try await startInterface(for: alice, environment: environment, extra: "nameserver = \"127.0.0.1:\(dns.port)\"",
                                 variables: "PAGER=\(pager)")
        try await waitForScreen("online") { $0.contains("online") }
        _ = try await bob.session.sendAttachment(path: note.path, to: alice.jid, caption: "for Saturday")
        try await waitForScreen("the attachment") { $0.contains("shopping list.txt") }
        try await command("/open")
        try await waitForScreen("the pager on the terminal") { $0.contains("PAGER-RAN") }
        try await waitForScreen("the interface back") { $0.contains("online") && $0.contains("for Saturday") && !$0.contains("PAGER-RAN") }
        XCTAssertEqual(try String(contentsOfFile: paged, encoding: .utf8), "eggs\nflour\nsugar\n")
        try await command("/quit")
        await bob.stop()
    }

    func testTextingAPhoneNumberFromTheTerminalInterface() async throws {
        let environment = try TestEnvironment.current()
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty else {
            throw missingPart("the simulated gateway is not running")
        }
        let alice = try environment.newAccount("alice")
        try await startInterface(for: alice, environment: environment, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/msg (555) 010-7777 Running late")
        // The number is shown as people write it, never as number@gateway, and the echo threads in.
        try await waitForScreen("the gateway's echo in the number's conversation") { screen in
            screen.contains("Echo: Running late") && screen.contains("(555) 010-7777") && !screen.contains("@\(gateway)")
        }
        try await command("/quit")
    }

    /// The address book and account from the interface: /add with a quoted name, the name
    /// showing in the list, /contacts, /account, /status (and its usage when mistyped), Alt-1,
    /// /disconnect and /connect.
    func testAddressBookAndAccountCommands() async throws {
        let environment = try TestEnvironment.current()
        let (alice, bob) = try await startInterfaceWithContact(environment)
        _ = try await bob.session.sendMessage(to: alice.jid, body: "Hello from bob")
        try await waitForScreen("bob's message") { $0.contains("Hello from bob") }

        try await command("/add \"Bob Builder\" \(bob.jid)")
        try await waitForScreen("bob's name from the address book") { $0.contains("Bob Builder") && $0.contains("Added Bob Builder") }
        try await command("/contacts")
        try await waitForScreen("the contacts overlay") { $0.contains("Contacts — Esc closes") && $0.contains(bob.jid.description) }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        // An Escape and a key in the same read are Alt+key (as in every terminal program).
        try await Task.sleep(for: .milliseconds(300))
        // Tab completes a name the address book knows, with no conversation under that name.
        try await command("/add \"Zelda Zimmer\" +1 555 010 4444")
        try await tmux(["send-keys", "-t", "tui", "-l", "/call Zel"])
        try await tmux(["send-keys", "-t", "tui", "Tab"])
        try await waitForScreen("the address book's name completed") { $0.contains("/call Zelda Zimmer") }
        try await tmux(["send-keys", "-t", "tui", "C-u"])
        try await command("/account")
        try await waitForScreen("the account overlay") { $0.contains("address") && $0.contains(alice.jid.description) }
        try await tmux(["send-keys", "-t", "tui", "Escape"])
        try await Task.sleep(for: .milliseconds(300))
        // A line that does not fit the command's arguments shows its usage and does nothing.
        try await command("/status asleep")
        try await waitForScreen("the usage of /status") { $0.contains("Usage: /status available|away|dnd|xa|chat [TEXT]") }
        try await command("/status away Out for lunch")
        try await waitForScreen("the status set") { $0.contains("Status: away — Out for lunch") }
        try await command("/msg carol@\(environment.domain)")
        try await waitForScreen("carol's conversation") { $0.contains("carol@") }
        try await tmux(["send-keys", "-t", "tui", "M-2"])
        try await waitForScreen("Alt-2 opened bob's conversation again") { $0.contains("Hello from bob") }
        try await command("/disconnect")
        try await waitForScreen("offline") { $0.contains("offline") }
        try await command("/connect")
        try await waitForScreen("online again") { $0.contains("online") }
        try await command("/quit")
        await bob.stop()
    }

    /// A gateway's account bot (XEP-0050) from the interface: the command list, a multi-step
    /// form with every field type, a refused PIN, /prev, and completion with a result table.
    func testGatewayCommandsFromTheTerminalInterface() async throws {
        let environment = try TestEnvironment.current()
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty,
              let logPath = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY_LOG"] else {
            throw missingPart("the simulated gateway is not running")
        }
        let alice = try environment.newAccount("alice")
        try await startInterface(for: alice, environment: environment, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        try await waitForScreen("online") { $0.contains("online") }
        try await command("/cmd")
        try await waitForScreen("the gateway's commands") { $0.contains("Account settings") && $0.contains("Check balance") }
        try await command("/cmd 2")
        try await waitForScreen("the balance with its link") { $0.contains("Your balance is $4.20") && $0.contains("Top up") }
        try await command("/cmd 1")
        try await waitForScreen("the account form") { $0.contains("Voicemail PIN") && $0.contains("[secret, required]") && $0.contains("Forward calls to") }
        try await command("/field 1 Bob")
        try await command("/field 2 12")
        try await command("/field 4 SIP address")
        try await command("/next")
        try await waitForScreen("the PIN refused") { $0.contains("PIN must be 4 digits") }
        try await command("/field 2 1234")
        try await command("/next")
        try await waitForScreen("the summary step") { $0.contains("Display name: Bob") && $0.contains("/complete") }
        try await command("/prev")
        try await waitForScreen("back at the form, filled in") { $0.contains("Voicemail PIN") && $0.contains("Bob") }
        try await command("/next")
        try await waitForScreen("the summary again") { $0.contains("Display name: Bob") }
        try await command("/field 1 yes")
        try await command("/complete")
        try await waitForScreen("saved, with the result table") { $0.contains("Saved") && $0.contains("Channel") && $0.contains("completed") }
        let log = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
        let sent = log.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["type"] as? String == "command" && ($0["from"] as? String ?? "").hasPrefix(alice.jid.description) }
        let accepted = sent.first { ($0["values"] as? [String: [String]])?["pin"] == ["1234"] }
        XCTAssertEqual((accepted?["values"] as? [String: [String]])?["forward"], ["sip"], "the choice by its label went as its value")
        XCTAssertEqual(sent.last?["action"] as? String, "complete")
        try await command("/quit")
    }

    /// SIGTERM ends the interface as /quit does: the terminal is given back and it exits 0.
    func testSIGTERMRestoresTheTerminalAndExitsCleanly() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let status = directory.appendingPathComponent("status").path
        try await startInterface(for: alice, environment: environment, statusFile: status)
        try await waitForScreen("online") { $0.contains("online") }
        let shell = try await tmux(["display-message", "-p", "-t", "tui", "#{pane_pid}"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let child = try await ChildProcess.run(["/usr/bin/pgrep", "-P", shell, "-f", "dialtone"], timeout: .seconds(5))
        let pid = try XCTUnwrap(Int32(child.stdout.split(separator: "\n").first ?? ""), child.stdout + child.stderr)
        kill(pid, SIGTERM)
        try await eventually("the interface exits") { FileManager.default.fileExists(atPath: status) && !((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").isEmpty }
        // 0 only through the interface's own way out, which ends curses (endwin) before exiting;
        // killed by the signal, the shell would report 143.
        XCTAssertEqual(try String(contentsOfFile: status, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), "0")
    }

    /// With `notify = "notify-send"`, a message in a conversation not in view becomes a desktop
    /// notification (a stand-in notify-send records its arguments), stripped of escapes.
    func testDesktopNotificationForAMessageOutOfView() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bob = try await TestAccount(environment.clientConfiguration(try environment.newAccount("bob")))
        try await bob.connect()
        let (bin, record) = try notifySendStandIn()
        try await startInterface(for: alice, environment: environment, extra: "notify = \"notify-send\"",
                                 variables: "PATH=\(bin.path):/usr/bin:/bin")
        try await waitForScreen("online") { $0.contains("online") }
        // Another conversation is in view.
        try await command("/msg carol@\(environment.domain)")
        try await waitForScreen("carol's conversation") { $0.contains("carol@") }
        _ = try await bob.session.sendMessage(to: alice.jid, body: "Dinner at eight?\u{1B}]0;owned\u{07}")
        try await eventually("the notification went out") {
            ((try? String(contentsOfFile: record, encoding: .utf8)) ?? "").contains("Dinner at eight?")
        }
        let line = try String(contentsOfFile: record, encoding: .utf8)
        XCTAssertTrue(line.contains("--app-name=Dialtone"), line)
        XCTAssertFalse(line.contains("\u{1B}"), "no escape reaches the notification: \(line)")
        XCTAssertTrue(line.contains(bob.jid.description) || line.contains("bob"), line)
        try await command("/quit")
        await bob.stop()
    }

    /// A stranger asks to see our presence (slixmpp, Peers/roster_peer.py): a notice says who
    /// and how to answer, /accept lets them in and asks for theirs.
    func testASubscriptionRequestIsShownAndAccepted() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let stranger = try environment.newAccount("stranger")
        try await startInterface(for: alice, environment: environment)
        try await waitForScreen("online") { $0.contains("online") }
        let peer = try ChildProcess([try PythonPeers.python(), PythonPeerTestCase.script("roster_peer.py"),
                                     "--jid", stranger.jid.description, "--password", stranger.password,
                                     "--port", String(environment.port), "--ca-file", environment.caFile,
                                     "--subscribe", alice.jid.bare.description, "--nick", "Stranger", "--timeout", "30"])
        defer { peer.signal(SIGKILL) }
        try await waitForScreen("the request") { $0.contains("Stranger (\(stranger.jid.bare.description)) asks to see your presence") }
        try await command("/accept")
        try await eventually("the stranger may see our presence") {
            CallHarness.jsonLines(peer.output).contains { $0["event"] as? String == "subscribed" }
        }
        try await waitForScreen("the answer") { $0.contains("may see your presence") }
        try await command("/quit")
    }

    /// Up on an empty line puts the last message sent on the line as `/correct TEXT`; edited
    /// and sent, the recipient sees the new text in place; /retract then takes it back.
    func testUpOnAnEmptyLineCorrectsTheLastMessage() async throws {
        let environment = try TestEnvironment.current()
        let (alice, bob) = try await startInterfaceWithContact(environment)
        try await command("/msg \(bob.jid) Running late")
        try await eventually("bob has it") { try bob.store.history(peer: alice.jid.description).count == 1 }
        try await tmux(["send-keys", "-t", "tui", "Up"])
        try await waitForScreen("the last message on the line") { $0.contains("/correct Running late") }
        try await tmux(["send-keys", "-t", "tui", "BSpace", "BSpace", "BSpace", "BSpace"])
        try await tmux(["send-keys", "-t", "tui", "-l", "early"])
        try await tmux(["send-keys", "-t", "tui", "Enter"])
        try await eventually("bob sees the corrected text") {
            try bob.store.history(peer: alice.jid.description).map(\.body) == ["Running early"]
        }
        // /retract takes it back: the text leaves bob's history, and ours shows it was taken back.
        try await command("/retract")
        try await eventually("bob's copy is taken back") {
            try bob.store.history(peer: alice.jid.description).first?.retractedAt != nil
        }
        XCTAssertNil(try bob.store.history(peer: alice.jid.description).first?.body)
        try await waitForScreen("the mark") { $0.contains("(taken back)") }
        try await command("/quit")
        await bob.stop()
    }

    /// /reply N TEXT answers a message and /react N EMOJI reacts to one, counted from the
    /// newest: the other side's client gets both, and the terminal shows the answered line
    /// above the reply and the reaction under the message.
    func testReplyAndReactFromTheTerminal() async throws {
        let environment = try TestEnvironment.current()
        let (alice, bob) = try await startInterfaceWithContact(environment)
        let question = try await bob.session.sendMessage(to: JID(verified: alice.jid.bare.description), body: "Dinner at 8?")
        try await waitForScreen("bob's question") { $0.contains("Dinner at 8?") }
        // While the command is typed, each message shows its N in place of its time.
        try await tmux(["send-keys", "-t", "tui", "-l", "/reply "])
        try await waitForScreen("the question numbered") { $0.contains("#1 ") && $0.contains("Dinner at 8?") }
        try await command("1 Yes, 8 is fine")
        try await eventually("bob has the reply, answering his question") {
            let last = try bob.store.history(peer: alice.jid.bare.description).last
            return last?.body == "Yes, 8 is fine" && last?.reply?.id == question.stanzaID
        }
        try await waitForScreen("the answered line above the reply") { $0.contains("↱ ") && $0.contains("Yes, 8 is fine") }
        try await command("/react 2 🎉")
        try await eventually("bob's question has alice's reaction") {
            try bob.store.history(peer: alice.jid.bare.description).first?.reactions == [alice.jid.bare.description: ["🎉"]]
        }
        try await waitForScreen("the reaction under the question") { $0.contains("🎉") }
        try await command("/react 2 🎉")
        try await eventually("again takes it back") {
            try bob.store.history(peer: alice.jid.bare.description).first?.reactions == nil
        }
        try await command("/quit")
        await bob.stop()
    }

    /// Message styling (XEP-0393) in the terminal: the directives stay, *strong* is drawn
    /// bold and _emphasis_ underlined, and a link's underscores are left alone.
    func testMessageStylingIsDrawn() async throws {
        let environment = try TestEnvironment.current()
        let (alice, bob) = try await startInterfaceWithContact(environment)
        _ = try await bob.session.sendMessage(to: alice.jid, body: "a *bold* and _soft_ word, see https://x.example/_y_")
        try await waitForScreen("the message") { $0.contains("*bold*") }
        let drawn = try await tmux(["capture-pane", "-e", "-p", "-t", "tui"])
        let line = try XCTUnwrap(drawn.split(separator: "\n").first { $0.contains("*bold*") }.map(String.init))
        // SGR 1 (bold) right before *bold*, SGR 4 (underline) before _soft_, and none in the link.
        XCTAssertNotNil(line.range(of: #"\x{1B}\[([0-9;]*;)?1(;[0-9;]*)?m\*bold\*"#, options: .regularExpression), line.debugDescription)
        XCTAssertNotNil(line.range(of: #"\x{1B}\[([0-9;]*;)?4(;[0-9;]*)?m_soft_"#, options: .regularExpression), line.debugDescription)
        let link = try XCTUnwrap(drawn.split(separator: "\n").first { $0.contains("x.example") }.map(String.init))
        XCTAssertTrue(link.contains("https://x.example/_y_"), "the link is drawn as one run: \(link.debugDescription)")
        XCTAssertNil(link.range(of: #"\x{1B}\[([0-9;]*;)?4(;[0-9;]*)?m"#, options: .regularExpression), "nothing underlined in the link")
        try await command("/quit")
        await bob.stop()
    }
}
