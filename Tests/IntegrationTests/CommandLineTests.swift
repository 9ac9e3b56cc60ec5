import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// The real `dialtone` binary, driven as a script would drive it.
final class CommandLineTests: XCTestCase {
    private var directory: URL!

    override func setUp() async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() async throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// Quotes, backslashes, a newline, a tab, a line separator and an emoji: what JSON must escape or keep.
    static let hostileText = "Hello \"there\" \\ from\nthe\tcommand line \u{2028} 👋"

    private var binary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dialtone").path
    }

    /// Writes a config for `account` with its own data directory; returns the arguments that select it.
    private func configure(_ account: (jid: JID, password: String), environment: TestEnvironment,
                           passwordMode: Int = 0o600, extra: String = "") throws -> [String] {
        let config = try environment.writeConfiguration(for: account, in: directory, passwordMode: passwordMode, extra: extra)
        return ["--config", config, "--log-file", directory.appendingPathComponent("\(account.jid.local ?? "account").log").path]
    }

    private func environment(for name: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_DATA_HOME"] = directory.appendingPathComponent("data-\(name)").path
        environment["XDG_STATE_HOME"] = directory.appendingPathComponent("state-\(name)").path
        return environment
    }

    private func jsonLines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testSendExitsZeroOnceConfirmedAndListenPrintsJSON() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bob = try environment.newAccount("bob")
        let aliceArguments = try configure(alice, environment: environment)
        let bobArguments = try configure(bob, environment: environment)

        let listener = try ChildProcess([binary, "listen", "--json"] + bobArguments, environment: self.environment(for: "bob"))
        try await eventually("the listener is online") { self.jsonLines(listener.output).contains { $0["state"] as? String == "online" } }

        let send = try await ChildProcess.run([binary, "send"] + aliceArguments + [bob.jid.description, Self.hostileText],
                                              environment: self.environment(for: "alice"))
        XCTAssertEqual(send.status, 0, send.stderr)

        try await eventually("the listener prints the message") {
            self.jsonLines(listener.output).contains { $0["type"] as? String == "message" }
        }
        let message = try XCTUnwrap(jsonLines(listener.output).first { $0["type"] as? String == "message" })
        XCTAssertEqual(message["body"] as? String, Self.hostileText, "JSON escaping round-trips")
        XCTAssertEqual((message["from"] as? String).flatMap { try? JID($0) }?.bare, alice.jid)
        XCTAssertEqual(message["to"] as? String, bob.jid.description)
        XCTAssertEqual(message["direction"] as? String, "incoming")
        XCTAssertNotNil(message["id"] as? String)
        XCTAssertTrue(message["subject"] is NSNull)
        XCTAssertEqual((message["attachments"] as? [Any])?.count, 0)
        XCTAssertNotNil((message["timestamp"] as? String).flatMap(XMPPDateTime.parse))

        // SIGTERM ends the listener cleanly and promptly.
        listener.signal(SIGTERM)
        let status = try await listener.wait(timeout: .seconds(10))
        XCTAssertEqual(status, 0, listener.errors)

        // History works offline, from the store.
        let history = try await ChildProcess.run([binary, "history", "--json"] + aliceArguments + [bob.jid.description],
                                                 environment: self.environment(for: "alice"))
        XCTAssertEqual(history.status, 0, history.stderr)
        let stored = jsonLines(history.stdout)
        XCTAssertEqual(stored.count, 1)
        XCTAssertEqual(stored.first?["direction"] as? String, "outgoing")
        XCTAssertTrue(["sent", "delivered"].contains(stored.first?["status"] as? String ?? ""), "\(stored)")
    }

    func testWrongPasswordFailsWithOneSentence() async throws {
        let environment = try TestEnvironment.current()
        var account = try environment.newAccount("wrong")
        account.password = "nope"
        let arguments = try configure(account, environment: environment)
        let result = try await ChildProcess.run([binary, "send"] + arguments + ["someone@\(environment.domain)", "x"],
                                                environment: self.environment(for: "wrong"))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("Wrong user name or password"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stdout.isEmpty, result.stdout)
    }

    func testSendThroughAServerHidingSTARTTLSGivesUpWithTheReason() async throws {
        // Whoever hides STARTTLS on every connection: send keeps retrying (it is not the
        // server's word), and at its timeout names why instead of only that it timed out.
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("hidden")
        let hiding = """
            <?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' \
            from='\(environment.domain)' id='x' version='1.0'><stream:features/>
            """
        let proxy = try await InjectingProxy(targetHost: environment.server, targetPort: environment.port,
                                             scripts: Array(repeating: [hiding], count: 100))
        let proxied = TestEnvironment(server: environment.server, domain: environment.domain, port: proxy.port,
                                      directTLSPort: environment.directTLSPort, caFile: environment.caFile,
                                      addUser: environment.addUser)
        let arguments = try configure(account, environment: proxied)
        let result = try await ChildProcess.run([binary, "send", "--timeout", "3"] + arguments + ["someone@\(environment.domain)", "x"],
                                                environment: self.environment(for: "hidden"))
        await proxy.shutdown()
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("The server at \(environment.server) did not offer TLS (STARTTLS)"), result.stderr)
        XCTAssertTrue(result.stderr.contains("the message stays in the outbox"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertGreaterThan(proxy.connections, 1, "it retried")
    }

    func testPasswordFileReadableByOthersIsRefused() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("mode")
        let arguments = try configure(account, environment: environment, passwordMode: 0o644)
        let result = try await ChildProcess.run([binary, "roster"] + arguments, environment: self.environment(for: "mode"))
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("chmod 600"), result.stderr)
    }

    func testMissingConfigurationSaysWhereToPutIt() async throws {
        let result = try await ChildProcess.run([binary, "roster", "--config", directory.appendingPathComponent("none.toml").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("No configuration at"), result.stderr)
    }

    func testRosterPrintsTheServersContacts() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("roster")
        // Put a contact on the server's roster with a raw client first.
        let client = XMPPClient(configuration: environment.clientConfiguration(account, resource: "setup")) { _ in }
        await client.start()
        var query = DialtoneXML.XMLElement("query", namespace: Namespace.roster)
        query.append(DialtoneXML.XMLElement("item", namespace: Namespace.roster,
                                            attributes: [.init("jid", "friend@\(environment.domain)"), .init("name", "A Friend")]))
        var added = false
        for _ in 0..<100 where !added {
            do {
                _ = try await client.request(.iq(.set, id: newStanzaID(), payload: query))
                added = true
            } catch {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        await client.stop()
        XCTAssertTrue(added)

        let arguments = try configure(account, environment: environment)
        let result = try await ChildProcess.run([binary, "roster", "--json"] + arguments, environment: self.environment(for: "roster"))
        XCTAssertEqual(result.status, 0, result.stderr)
        let contacts = jsonLines(result.stdout)
        XCTAssertEqual(contacts.first?["jid"] as? String, "friend@\(environment.domain)")
        XCTAssertEqual(contacts.first?["name"] as? String, "A Friend")
    }

    func testContactsImportListExportAndHistoryNames() async throws {
        let environment = try TestEnvironment.current()
        let account = try environment.newAccount("book")
        let arguments = try configure(account, environment: environment, extra: "gateway = \"gateway.\(environment.domain)\"\ncountry = \"US\"")
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DialtoneCoreTests/Fixtures").path
        let env = self.environment(for: "book")
        for _ in 0..<2 {
            let imported = try await ChildProcess.run([binary, "contacts", "import"] + arguments + [fixtures + "/google.csv"], environment: env)
            XCTAssertEqual(imported.status, 0, imported.stderr)
            XCTAssertTrue(imported.stdout.contains("Imported 3 contacts"), imported.stdout)
        }
        let listed = try await ChildProcess.run([binary, "contacts", "list", "--json"] + arguments, environment: env)
        XCTAssertEqual(jsonLines(listed.stdout).compactMap { $0["name"] as? String },
                       ["Alice Anderson", "Bob \"The Builder\" Brown", "Carol Chen"], "re-importing adds nothing")
        let added = try await ChildProcess.run([binary, "contacts", "add"] + arguments + ["Dora", "555 010 0001"], environment: env)
        XCTAssertEqual(added.status, 0, added.stderr)
        let exported = try await ChildProcess.run([binary, "contacts", "export"] + arguments, environment: env)
        XCTAssertTrue(exported.stdout.contains("FN:Dora\r\nTEL;VALUE=uri:tel:+15550100001"), exported.stdout)
        let missing = try await ChildProcess.run([binary, "contacts", "remove"] + arguments + ["Nobody"], environment: env)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("No contact named"), missing.stderr)
    }

    /// As git and ssh users type them: the global options before the subcommand (and its
    /// subcommand), in both spellings; a recipient by the beginning of a name.
    func testGlobalOptionsBeforeTheSubcommand() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("early")
        let bob = try environment.newAccount("late")
        let arguments = try configure(alice, environment: environment)
        let env = self.environment(for: "early")
        let exports = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DialtoneCoreTests/Fixtures/exports/android.vcf").path

        let imported = try await ChildProcess.run([binary] + arguments + ["contacts", "import", exports], environment: env)
        XCTAssertEqual(imported.status, 0, imported.stderr)
        let added = try await ChildProcess.run([binary, "--config=\(arguments[1])", "contacts", "add", "Robert Late", bob.jid.description],
                                               environment: env)
        XCTAssertEqual(added.status, 0, added.stderr)
        let listed = try await ChildProcess.run([binary, "--account", alice.jid.description] + arguments + ["contacts", "list"], environment: env)
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("Jürgen Müller"), "vCard 2.1 quoted-printable decoded: \(listed.stdout)")

        let sent = try await ChildProcess.run([binary] + arguments + ["send", "Rob", "sent with the options first"], environment: env)
        XCTAssertEqual(sent.status, 0, sent.stderr)
        let history = try await ChildProcess.run([binary] + arguments + ["history", "--json", bob.jid.description], environment: env)
        XCTAssertEqual(history.status, 0, history.stderr)
        XCTAssertEqual(jsonLines(history.stdout).last?["body"] as? String, "sent with the options first")

        let second = try await ChildProcess.run([binary] + arguments + ["contacts", "add", "Rosa Early", "rosa@example.org"], environment: env)
        XCTAssertEqual(second.status, 0, second.stderr)
        let ambiguous = try await ChildProcess.run([binary] + arguments + ["send", "R", "hi"], environment: env)
        XCTAssertNotEqual(ambiguous.status, 0)
        XCTAssertTrue(ambiguous.stderr.contains("Robert Late, Rosa Early"), "the choices are offered: \(ambiguous.stderr)")
        let wrong = try await ChildProcess.run([binary] + arguments + ["send", "--no-such-option", "Rob", "hi"], environment: env)
        XCTAssertNotEqual(wrong.status, 0, "other mistakes are still reported")
        XCTAssertTrue(wrong.stderr.contains("no-such-option"), wrong.stderr)
    }

    func testSendToSeveralNumbersStartsAGroupText() async throws {
        let environment = try TestEnvironment.current()
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty else {
            throw missingPart("the simulated gateway is not running")
        }
        let account = try environment.newAccount("group")
        let arguments = try configure(account, environment: environment, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        let sent = try await ChildProcess.run([binary, "send"] + arguments + ["(555) 333-0001, +1 555 333 0002", "Hello both"],
                                              environment: self.environment(for: "group"))
        XCTAssertEqual(sent.status, 0, sent.stderr)
        try await eventually("the gateway got it for both") {
            try GatewayLog.entries().contains {
                $0["body"] as? String == "Hello both" && ($0["delivered_to"] as? [String]) == ["+15553330001", "+15553330002"]
            }
        }
    }

    /// One `listen` serves every account of the configuration: each JSON object says whose it
    /// is; `search` finds in every account's history; `--account` still picks one.
    func testEveryAccountAtOnceInListenAndSearch() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let dave = try environment.newAccount("dave")
        let bob = try environment.newAccount("bob")
        let both = directory.appendingPathComponent("both.toml").path
        let first = try String(contentsOfFile: try environment.writeConfiguration(for: alice, in: directory), encoding: .utf8)
        let second = try String(contentsOfFile: try environment.writeConfiguration(for: dave, in: directory), encoding: .utf8)
        try (first + "\n" + second).write(toFile: both, atomically: true, encoding: .utf8)
        let log = ["--log-file", directory.appendingPathComponent("both.log").path]
        let listener = try ChildProcess([binary, "listen", "--json", "--config", both] + log, environment: self.environment(for: "both"))
        try await eventually("both accounts are online") {
            Set(self.jsonLines(listener.output).filter { $0["state"] as? String == "online" }.compactMap { $0["account"] as? String }).count == 2
        }
        let bobArguments = try configure(bob, environment: environment)
        for (to, text) in [(alice.jid, "kumquat for alice"), (dave.jid, "kumquat for dave")] {
            let send = try await ChildProcess.run([binary, "send"] + bobArguments + [to.description, text], environment: self.environment(for: "bob"))
            XCTAssertEqual(send.status, 0, send.stderr)
        }
        try await eventually("both messages are printed") {
            self.jsonLines(listener.output).filter { $0["type"] as? String == "message" }.count == 2
        }
        let messages = jsonLines(listener.output).filter { $0["type"] as? String == "message" }
        XCTAssertEqual(Set(messages.map { "\($0["account"] as? String ?? "?") \($0["body"] as? String ?? "")" }),
                       ["\(alice.jid) kumquat for alice", "\(dave.jid) kumquat for dave"])
        listener.signal(SIGTERM)
        let status = try await listener.wait(timeout: .seconds(10))
        XCTAssertEqual(status, 0, listener.errors)

        let everywhere = try await ChildProcess.run([binary, "search", "--json", "--config", both, "kumquat"] + log,
                                                    environment: self.environment(for: "both"))
        XCTAssertEqual(Set(jsonLines(everywhere.stdout).compactMap { $0["account"] as? String }), [alice.jid.description, dave.jid.description])
        let one = try await ChildProcess.run([binary, "search", "--json", "--config", both, "--account", dave.jid.description, "kumquat"] + log,
                                             environment: self.environment(for: "both"))
        XCTAssertEqual(jsonLines(one.stdout).compactMap { $0["body"] as? String }, ["kumquat for dave"])
    }

    /// `dialtone correct TO TEXT` replaces the text of the last message sent to TO: the
    /// recipient's listener reports a correction with the new text.
    func testCorrectReplacesTheLastMessageSent() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bob = try environment.newAccount("bob")
        let aliceArguments = try configure(alice, environment: environment)
        let bobArguments = try configure(bob, environment: environment)
        let listener = try ChildProcess([binary, "listen", "--json"] + bobArguments, environment: self.environment(for: "bob"))
        try await eventually("the listener is online") { self.jsonLines(listener.output).contains { $0["state"] as? String == "online" } }
        for text in ["first", "See you at 7"] {
            let send = try await ChildProcess.run([binary, "send"] + aliceArguments + [bob.jid.description, text], environment: self.environment(for: "alice"))
            XCTAssertEqual(send.status, 0, send.stderr)
        }
        let correct = try await ChildProcess.run([binary, "correct"] + aliceArguments + [bob.jid.description, "See you at 8"],
                                                 environment: self.environment(for: "alice"))
        XCTAssertEqual(correct.status, 0, correct.stderr)
        try await eventually("bob's listener reports the correction") {
            self.jsonLines(listener.output).contains { $0["type"] as? String == "correction" && $0["body"] as? String == "See you at 8" }
        }
        let history = try await ChildProcess.run([binary, "history", "--json"] + aliceArguments + [bob.jid.description],
                                                 environment: self.environment(for: "alice"))
        XCTAssertEqual(jsonLines(history.stdout).compactMap { $0["body"] as? String }, ["first", "See you at 8"])
        let nothing = try await ChildProcess.run([binary, "correct"] + aliceArguments + ["carol@\(environment.domain)", "x"],
                                                 environment: self.environment(for: "alice"))
        XCTAssertNotEqual(nothing.status, 0)
        XCTAssertTrue(nothing.stderr.contains("no message to correct"), nothing.stderr)
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))
    }

    /// `dialtone retract TO` takes back the last message sent to TO: the recipient's listener
    /// reports the retraction and the text is gone from both histories.
    func testRetractTakesBackTheLastMessageSent() async throws {
        let environment = try TestEnvironment.current()
        let alice = try environment.newAccount("alice")
        let bob = try environment.newAccount("bob")
        let aliceArguments = try configure(alice, environment: environment)
        let bobArguments = try configure(bob, environment: environment)
        let listener = try ChildProcess([binary, "listen", "--json"] + bobArguments, environment: self.environment(for: "bob"))
        try await eventually("the listener is online") { self.jsonLines(listener.output).contains { $0["state"] as? String == "online" } }
        let send = try await ChildProcess.run([binary, "send"] + aliceArguments + [bob.jid.description, "wrong window, sorry"],
                                              environment: self.environment(for: "alice"))
        XCTAssertEqual(send.status, 0, send.stderr)
        try await eventually("bob has it") { self.jsonLines(listener.output).contains { $0["type"] as? String == "message" } }
        let retract = try await ChildProcess.run([binary, "retract"] + aliceArguments + [bob.jid.description],
                                                 environment: self.environment(for: "alice"))
        XCTAssertEqual(retract.status, 0, retract.stderr)
        try await eventually("bob's listener reports the retraction") {
            self.jsonLines(listener.output).contains { $0["type"] as? String == "retraction" && $0["body"] is NSNull }
        }
        listener.signal(SIGTERM)
        _ = try await listener.wait(timeout: .seconds(10))
        for (arguments, name, peer) in [(aliceArguments, "alice", bob.jid), (bobArguments, "bob", alice.jid)] {
            let history = try await ChildProcess.run([binary, "history", "--json"] + arguments + [peer.description],
                                                     environment: self.environment(for: name))
            let stored = jsonLines(history.stdout)
            XCTAssertEqual(stored.count, 1, "\(name): \(history.stdout)")
            XCTAssertTrue(stored.first?["body"] is NSNull, "\(name): the text is gone")
            XCTAssertNotNil(stored.first?["retracted"] as? String)
        }
    }
}
