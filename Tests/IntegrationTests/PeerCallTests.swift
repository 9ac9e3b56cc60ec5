@testable import DialtoneCore
import DialtoneXML
import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Calls between `dialtone` and an implementation we did not write: slixmpp for XMPP and
/// aiortc (aioice, its DTLS-SRTP, libopus through PyAV) for media, joined by our test glue
/// (Tests/IntegrationTests/Peers/jingle_peer.py), as Conversations joins Jingle to libwebrtc.
final class PeerCallTests: PythonPeerTestCase {
    /// Dialtone calls the peer: tones both ways, our digits reach it as RFC 4733 events.
    private func callPeer(peerOptions: [String] = [], digits: String = "4#", check: (ChildProcess, String) -> Void = { _, _ in }) async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let remote = try peer(them, ["answer"], ["--tone", "880", "--timeout", "40"] + peerOptions)
        try await waitForPeer(remote)
        let call = try await ChildProcess.run(
            [harness.binary, "call", them.jid.description, "--duration", "4", "--dtmf", digits] + arguments,
            environment: harness.processEnvironment(for: "dt"), timeout: .seconds(60))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = "dialtone:\n\(call.stdout)\(call.stderr)\npeer:\n\(remote.output)\(remote.errors.suffix(3000))"
        XCTAssertEqual(call.status, 0, transcript)
        XCTAssertEqual(CallHarness.final(call.stdout)?["outcome"] as? String, "completed", transcript)
        XCTAssertEqual(event("heard", in: remote)?["frequency"] as? Double, 440, "the peer hears our tone\n\(transcript)")
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 880, "we hear the peer's tone\n\(transcript)")
        let received = events(remote).filter { $0["event"] as? String == "dtmf" }.compactMap { $0["digit"] as? String }.joined()
        XCTAssertEqual(received, digits, transcript)
        XCTAssertEqual(events("duplicate-candidate", in: remote).count, 0, "no transport address signalled twice\n\(transcript)")
        check(remote, call.stdout)
    }

    func testDialtoneCallsThePeer() async throws {
        try await callPeer()
    }

    /// A peer that does not trickle (urn:ietf:rfc:3264, as JMP's Asterisk bridge) gets every
    /// candidate inside the session-initiate and never a transport-info.
    func testPeerThatDoesNotTrickleGetsEveryCandidateInTheInitiate() async throws {
        try await callPeer(peerOptions: ["--no-trickle"]) { remote, _ in
            let initiate = self.event("session-initiate", in: remote)
            XCTAssertGreaterThanOrEqual(initiate?["candidates"] as? Int ?? 0, 1, remote.output)
            XCTAssertNil(self.event("transport-info", in: remote), "no trickling to a no-trickle peer:\n\(remote.output)")
        }
    }

    /// Component-2 candidates trickled before the answer are ignored under rtcp-mux.
    func testComponentTwoCandidatesBeforeTheAnswerDoNotDisturbTheCall() async throws {
        try await callPeer(peerOptions: ["--component2"])
    }

    func testPeerCallsDialtone() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 660)
        let answer = try dialtone("dt", ["answer", "--auto", "--timeout", "60"] + arguments)
        try await eventually("dialtone is online") { CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" } }
        let remote = try peer(them, ["call", us.jid.description], ["--tone", "1200", "--duration", "4", "--send-dtmf", "2580"])
        let status = try await answer.wait(timeout: .seconds(40))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = "dialtone:\n\(answer.output)\(answer.errors)\npeer:\n\(remote.output)\(remote.errors.suffix(3000))"
        XCTAssertEqual(status, 0, transcript)
        XCTAssertEqual(CallHarness.states(answer.output), ["incoming", "connecting", "connected", "ended"], transcript)
        XCTAssertEqual(event("heard", in: remote)?["frequency"] as? Double, 660, transcript)
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 1200, transcript)
        XCTAssertEqual(CallHarness.digits(answer.output), "2580", "the peer's RFC 4733 digits reach us\n\(transcript)")
        XCTAssertEqual(events("duplicate-candidate", in: remote).count, 0, "no transport address signalled twice\n\(transcript)")
    }

    /// `dialtone answer` without --account waits on every account of the configuration and
    /// answers the call that comes to the second; each JSON object says whose it is.
    func testAnswerWaitsOnEveryAccount() async throws {
        let first = try environment.newAccount("dt")
        let second = try environment.newAccount("dt2")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: first, tone: 660)
        let config = try XCTUnwrap(arguments.firstIndex(of: "--config").map { arguments[$0 + 1] })
        let other = try environment.writeConfiguration(for: second, in: URL(fileURLWithPath: harness.path("")),
                                                       extra: "calls_from = \"anyone\"\n")
        let both = try String(contentsOfFile: config, encoding: .utf8) + "\n" + String(contentsOfFile: other, encoding: .utf8)
        try both.write(toFile: config, atomically: true, encoding: .utf8)
        let answer = try dialtone("dt", ["answer", "--auto", "--timeout", "60"] + arguments)
        try await eventually("both accounts are online") {
            Set(CallHarness.jsonLines(answer.output).filter { $0["state"] as? String == "online" }.compactMap { $0["account"] as? String })
                .count == 2 || !answer.isRunning
        }
        let remote = try peer(them, ["call", second.jid.description], ["--tone", "1200", "--duration", "3"])
        let status = try await answer.wait(timeout: .seconds(40))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = "dialtone:\n\(answer.output)\(answer.errors)\npeer:\n\(remote.output)\(remote.errors.suffix(3000))"
        XCTAssertEqual(status, 0, transcript)
        XCTAssertEqual(CallHarness.states(answer.output), ["incoming", "connecting", "connected", "ended"], transcript)
        let calls = CallHarness.jsonLines(answer.output).filter { $0["type"] as? String == "call" }
        XCTAssertEqual(Set(calls.compactMap { $0["account"] as? String }), [second.jid.description], transcript)
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 1200, transcript)
    }

    /// Through coturn, relay-only on the peer's side.
    func testRelayOnlyThroughTURN() async throws {
        let variables = ProcessInfo.processInfo.environment
        guard let port = variables["DIALTONE_TEST_TURN_PORT"], let secret = variables["DIALTONE_TEST_TURN_SECRET"] else {
            throw missingPart("no coturn in this test environment")
        }
        try await callPeer(peerOptions: ["--turn", "127.0.0.1:\(port)", "--turn-secret", secret]) { remote, ours in
            // Our pair ends at the peer's relayed address: the audio went through coturn.
            XCTAssertEqual(CallHarness.final(ours)?["path"] as? String, "host → relay", ours + remote.output)
        }
    }

    func testBusyPeerEndsTheCallAsBusy() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let remote = try peer(them, ["answer"], ["--busy", "--timeout", "30"])
        try await waitForPeer(remote)
        let call = try await ChildProcess.run([harness.binary, "call", them.jid.description] + arguments,
                                              environment: harness.processEnvironment(for: "dt"), timeout: .seconds(40))
        XCTAssertNotEqual(call.status, 0, "a refused call is no success")
        XCTAssertEqual(CallHarness.final(call.stdout)?["outcome"] as? String, "busy", call.stdout + remote.output)
        XCTAssertTrue(call.stderr.contains("busy"), call.stderr)
    }

    func testDeclinedByThePeer() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let remote = try peer(them, ["answer"], ["--reject", "--timeout", "30"])
        try await waitForPeer(remote)
        let call = try await ChildProcess.run([harness.binary, "call", them.jid.description] + arguments,
                                              environment: harness.processEnvironment(for: "dt"), timeout: .seconds(40))
        XCTAssertNotEqual(call.status, 0)
        XCTAssertEqual(CallHarness.final(call.stdout)?["outcome"] as? String, "declined", call.stdout + remote.output)
    }

    /// A propose retracted before we answer is a missed call, live…
    func testRetractedProposeIsAMissedCall() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let listen = try dialtone("dt", ["listen", "--json"] + arguments.prefix(6))
        try await eventually("dialtone is online") { CallHarness.jsonLines(listen.output).contains { $0["state"] as? String == "online" } }
        let remote = try peer(them, ["call", us.jid.description], ["--retract-after", "1.5"])
        _ = try await remote.wait(timeout: .seconds(20))
        try await eventually("the missed call shows") {
            CallHarness.jsonLines(listen.output).contains { $0["type"] as? String == "call" && $0["outcome"] as? String == "missed" }
        }
        let states = CallHarness.states(listen.output)
        XCTAssertEqual(states, ["incoming", "ended"], listen.output)
        let log = try await ChildProcess.run([harness.binary, "calls"] + arguments.prefix(6), environment: harness.processEnvironment(for: "dt"))
        XCTAssertTrue(log.stdout.contains("Missed call from"), log.stdout + log.stderr)
    }

    /// …and found after being offline (this server also keeps offline storage)…
    func testProposeWhileOfflineIsAMissedCallAfterwards() async throws {
        try await missedWhileOffline(host: nil)
    }

    /// …and from the archive alone, on a host that keeps no offline storage: what the catch-up
    /// query finds is all there is.
    func testProposeWhileOfflineIsAMissedCallFromTheArchiveAlone() async throws {
        let host = environment.archiveOnlyDomain
        let probe = try await TestAccount(environment.clientConfiguration(try environment.newAccount("probe", on: host)))
        try await probe.connect()
        let withoutOffline = try await probe.session.xmppClient.features(of: try JID(host))
        let withOffline = try await probe.session.xmppClient.features(of: try JID(environment.domain))
        await probe.stop()
        XCTAssertTrue(withOffline.contains("msgoffline"), "the main host announces offline storage: \(withOffline.sorted())")
        XCTAssertFalse(withoutOffline.contains("msgoffline"), "\(host) has no offline storage: \(withoutOffline.sorted())")
        try await missedWhileOffline(host: host)
    }

    private func missedWhileOffline(host: String?) async throws {
        let us = try environment.newAccount("dt", on: host)
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        // Known to the server (and its archive) before the call: a first login.
        let first = try await ChildProcess.run([harness.binary, "roster"] + arguments.prefix(6),
                                               environment: harness.processEnvironment(for: "dt"), timeout: .seconds(30))
        XCTAssertEqual(first.status, 0, first.stderr)
        let remote = try peer(them, ["call", us.jid.description], ["--retract-after", "1.5"])
        _ = try await remote.wait(timeout: .seconds(20))
        let listen = try dialtone("dt", ["listen", "--json"] + arguments.prefix(6))
        try await eventually("the missed call shows after catching up") {
            CallHarness.jsonLines(listen.output).contains { $0["type"] as? String == "call" && $0["outcome"] as? String == "missed" }
        }
        XCTAssertFalse(CallHarness.states(listen.output).contains("incoming"), "an old propose never rings:\n\(listen.output)")
    }
}

extension PeerCallTests {
    /// While in a call, a second caller hears busy; the first call goes on.
    func testSecondCallerHearsBusyWhileInACall() async throws {
        let us = try environment.newAccount("dt")
        let first = try environment.newAccount("peer")
        let second = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 660)
        let answer = try dialtone("dt", ["answer", "--auto", "--busy", "--timeout", "60"] + arguments)
        try await eventually("dialtone is online") { CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" } }
        let caller = try peer(first, ["call", us.jid.description], ["--tone", "880", "--duration", "6"])
        try await eventually("the first call connects") { CallHarness.states(answer.output).contains("connected") }
        let intruder = try peer(second, ["call", us.jid.description], ["--timeout", "20"])
        _ = try await intruder.wait(timeout: .seconds(25))
        XCTAssertEqual(events(intruder).first { $0["event"] as? String == "reject" }?["reason"] as? String, "busy", intruder.output)
        let status = try await answer.wait(timeout: .seconds(30))
        _ = try? await caller.wait(timeout: .seconds(10))
        XCTAssertEqual(status, 0, answer.output + answer.errors)
        XCTAssertEqual(CallHarness.final(answer.output)?["outcome"] as? String, "completed", "the first call was not disturbed")
    }

    /// The peer vanishes mid-call (no hang-up, no network): consent checks go unanswered and
    /// the call ends with a reason, instead of hanging on with dead audio.
    func testVanishedPeerEndsTheCallThroughConsentFreshness() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440, extra: "ice_consent_timeout = 3")
        let remote = try peer(them, ["answer"], ["--tone", "880", "--timeout", "60"])
        try await waitForPeer(remote)
        let call = try dialtone("dt", ["call", them.jid.description] + arguments)
        try await eventually("connected") { CallHarness.states(call.output).contains("connected") || !call.isRunning }
        XCTAssertTrue(call.isRunning, call.output + call.errors)
        remote.signal(SIGKILL)
        let status = try await call.wait(timeout: .seconds(30))
        XCTAssertEqual(status, 1, call.output + call.errors)
        let final = try XCTUnwrap(CallHarness.final(call.output), call.output)
        XCTAssertEqual(final["outcome"] as? String, "failed")
        XCTAssertTrue((final["reason"] as? String ?? "").contains("connection failed"), call.output)
    }
}

extension PeerCallTests {
    /// A call to a phone number through the simulated gateway, which answers like JMP's
    /// Asterisk bridge (no trickle: every candidate in the initiate) with a voice menu; the
    /// digits of the dial string reach it as RFC 4733 events.
    func testCallingAPhoneNumberThroughTheGatewayReachesItsVoiceMenu() async throws {
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty,
              let logPath = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY_LOG"] else {
            throw missingPart("the simulated gateway is not running")
        }
        let us = try environment.newAccount("dt")
        let arguments = try harness.arguments("dt", for: us, tone: 440, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        let call = try await ChildProcess.run(
            // Long enough that the last second (what `heard` analyses) comes after the menu's
            // answer to the digits (1.5 s of a tone of their own) has ended.
            [harness.binary, "call", "(555) 012-3456,,7#", "--duration", "9", "--dtmf-delay", "0.5"] + arguments,
            environment: harness.processEnvironment(for: "dt"), timeout: .seconds(60))
        let log = ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
        let number = "+15550123456"
        let entries = CallHarness.jsonLines(log).filter { $0["number"] as? String == number && ($0["caller"] as? String ?? "").hasPrefix(us.jid.description) }
        let transcript = call.stdout + call.stderr + "\ngateway:\n" + entries.map { "\($0)" }.joined(separator: "\n")
        XCTAssertEqual(call.status, 0, transcript)
        XCTAssertEqual(CallHarness.final(call.stdout)?["peer"] as? String, "\(number)@\(gateway)")
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 600, "we hear the voice menu\n\(transcript)")
        XCTAssertEqual(entries.filter { $0["type"] as? String == "dtmf" }.compactMap { $0["digit"] as? String }.joined(), "7#", transcript)
        XCTAssertEqual(entries.filter { $0["type"] as? String == "menu" }.compactMap { $0["digit"] as? String }.joined(), "7#",
                       "the menu answers each digit\n\(transcript)")
        XCTAssertEqual(entries.first { $0["type"] as? String == "heard" }?["frequency"] as? Double, 440, transcript)
        let initiated = entries.first { $0["type"] as? String == "call" && $0["state"] as? String == "initiated" }
        XCTAssertGreaterThanOrEqual(initiated?["candidates"] as? Int ?? 0, 1, "every candidate in the initiate\n\(transcript)")
        XCTAssertFalse(entries.contains { $0["type"] as? String == "transport-info" }, "nothing trickled to a no-trickle gateway\n\(transcript)")
    }

    /// The gateway's busy number.
    func testBusyPhoneNumber() async throws {
        guard let gateway = ProcessInfo.processInfo.environment["DIALTONE_TEST_GATEWAY"], !gateway.isEmpty else {
            throw missingPart("the simulated gateway is not running")
        }
        let us = try environment.newAccount("dt")
        let arguments = try harness.arguments("dt", for: us, tone: 440, extra: "gateway = \"\(gateway)\"\ncountry = \"US\"")
        let call = try await ChildProcess.run([harness.binary, "call", "+1 555 000 0486"] + arguments,
                                              environment: harness.processEnvironment(for: "dt"), timeout: .seconds(40))
        XCTAssertEqual(call.status, 1)
        XCTAssertEqual(CallHarness.final(call.stdout)?["outcome"] as? String, "busy", call.stdout + call.stderr)
    }

    /// libwebrtc's way to nominate (the NOMINATION attribute, 0xC001, instead of USE-CANDIDATE)
    /// counts as a nomination when the peer calls us.
    func testPeerNominatingWithTheNominationAttribute() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 660)
        let answer = try dialtone("dt", ["answer", "--auto", "--timeout", "60"] + arguments)
        try await eventually("dialtone is online") { CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" } }
        let remote = try peer(them, ["call", us.jid.description], ["--tone", "880", "--duration", "3", "--nomination-attribute"])
        let status = try await answer.wait(timeout: .seconds(40))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = "dialtone:\n\(answer.output)\(answer.errors)\npeer:\n\(remote.output)\(remote.errors.suffix(2000))"
        XCTAssertEqual(status, 0, transcript)
        XCTAssertEqual(event("heard", in: remote)?["frequency"] as? Double, 660, transcript)
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 880, transcript)
    }
}

extension PeerCallTests {
    /// Our account answers on another device: here the ringing stops as answered elsewhere.
    func testAnsweredOnAnotherDeviceStopsRingingHere() async throws {
        let us = try environment.newAccount("dt")
        let caller = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440)
        let listen = try dialtone("dt", ["listen", "--json"] + arguments.prefix(6))
        try await eventually("dialtone is online") { CallHarness.jsonLines(listen.output).contains { $0["state"] as? String == "online" } }
        // Our other device: the same account, another resource, answering.
        let otherDevice = try peer(us, ["answer"], ["--tone", "880", "--answer-delay", "1", "--timeout", "30"])
        try await waitForPeer(otherDevice)
        let remote = try peer(caller, ["call", us.jid.description], ["--tone", "440", "--duration", "2"])
        try await eventually("the call ends here as answered elsewhere") {
            CallHarness.jsonLines(listen.output).contains { $0["type"] as? String == "call" && $0["outcome"] as? String == "elsewhere" }
        }
        XCTAssertEqual(CallHarness.states(listen.output), ["incoming", "ended"], listen.output)
        _ = try? await remote.wait(timeout: .seconds(20))
        XCTAssertNotNil(event("connected", in: remote), "the other device took the call:\n\(remote.output)")
    }
}

extension PeerCallTests {
    /// No TURN in our configuration: the server's (XEP-0215, Prosody's external_services with
    /// coturn's shared secret) is used, here relay-only, so the audio must go through it.
    func testTURNFromTheServerThroughExternalServiceDiscovery() async throws {
        guard ProcessInfo.processInfo.environment["DIALTONE_TEST_TURN_PORT"] != nil else { throw missingPart("no coturn") }
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440, extra: "ice_loopback_only = true\nice_relay_only = true")
            .filter { $0 != "--ice-loopback" }
        let remote = try peer(them, ["answer"], ["--tone", "880", "--timeout", "40"])
        try await waitForPeer(remote)
        let call = try await ChildProcess.run([harness.binary, "call", them.jid.description, "--duration", "3"] + arguments,
                                              environment: harness.processEnvironment(for: "dt"), timeout: .seconds(60))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = call.stdout + call.stderr + "\npeer:\n" + remote.output
        XCTAssertEqual(call.status, 0, transcript)
        XCTAssertEqual(CallHarness.final(call.stdout)?["path"] as? String, "relay → host", transcript)
        XCTAssertEqual(event("heard", in: remote)?["frequency"] as? Double, 440, transcript)
        XCTAssertEqual(try harness.heard(by: "dt").frequency, 880, transcript)
    }
}

extension PeerCallTests {
    /// Someone else (on the same server) sends Jingle for our running call — a terminate with
    /// its session id, a bogus transport-info — and malformed Jingle: each gets an error reply,
    /// and the call goes on to end normally.
    func testJingleFromAnyoneButThePeerIsRefusedAndTheCallGoesOn() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 660, extra: "resource = \"phone\"")
        let answer = try dialtone("dt", ["answer", "--auto", "--timeout", "60"] + arguments)
        try await eventually("dialtone is online") { CallHarness.jsonLines(answer.output).contains { $0["state"] as? String == "online" } }
        let remote = try peer(them, ["call", us.jid.description], ["--tone", "880", "--duration", "5"])
        try await eventually("connected") { CallHarness.states(answer.output).contains("connected") }
        let sid = try XCTUnwrap(CallHarness.jsonLines(answer.output).first { $0["type"] as? String == "call" }?["call"] as? String)

        let mallory = try await TestAccount(environment.clientConfiguration(try environment.newAccount("mallory")))
        try await mallory.connect()
        defer { Task { await mallory.stop() } }
        let target = try us.jid.with(resource: "phone")
        func send(_ jingle: String) async -> StanzaError? {
            do {
                let element = try XMLElement(parsing: jingle)
                _ = try await mallory.session.xmppClient.request(.iq(.set, id: newStanzaID(), to: target, payload: element))
                return nil
            } catch let error as StanzaError {
                return error
            } catch {
                return StanzaError(type: "cancel", condition: "\(error)")
            }
        }
        let terminate = await send(#"<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="\#(sid)"><reason><success/></reason></jingle>"#)
        XCTAssertEqual(terminate?.condition, "item-not-found", "a terminate from a stranger is refused")
        let candidate = await send(#"<jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="\#(sid)"><content creator="initiator" name="0"><transport xmlns="urn:xmpp:jingle:transports:ice-udp:1"><candidate component="1" foundation="1" generation="0" id="x" ip="127.0.0.1" port="9" priority="1" protocol="udp" type="host" network="0"/></transport></content></jingle>"#)
        XCTAssertEqual(candidate?.condition, "item-not-found")
        let malformed = await send(#"<jingle xmlns="urn:xmpp:jingle:1" action="session-accept"/>"#)
        XCTAssertEqual(malformed?.condition, "bad-request")
        let unknown = await send(#"<jingle xmlns="urn:xmpp:jingle:1" action="no-such-action" sid="x"/>"#)
        XCTAssertEqual(unknown?.condition, "bad-request")

        let status = try await answer.wait(timeout: .seconds(30))
        _ = try? await remote.wait(timeout: .seconds(10))
        XCTAssertEqual(status, 0, answer.output + answer.errors)
        XCTAssertEqual(CallHarness.final(answer.output)?["outcome"] as? String, "completed", answer.output)
        XCTAssertGreaterThan(CallHarness.final(answer.output)?["duration"] as? Double ?? 0, 4, "the call was not cut short")
    }
}

extension PeerCallTests {
    /// By default only contacts ring: a stranger's propose gets nothing back, not even
    /// "ringing", which would tell them we are online.
    func testStrangersDoNotRingByDefault() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let config = try environment.writeConfiguration(for: us, in: harness.directory)
        let listen = try dialtone("dt", ["listen", "--json", "--config", config, "--log-file", harness.path("dt.log")])
        try await eventually("dialtone is online") { CallHarness.jsonLines(listen.output).contains { $0["state"] as? String == "online" } }
        let remote = try peer(them, ["call", us.jid.description], ["--timeout", "4"])
        _ = try await remote.wait(timeout: .seconds(15))
        XCTAssertFalse(events(remote).contains { $0["event"] as? String == "ringing" }, remote.output)
        XCTAssertFalse(CallHarness.jsonLines(listen.output).contains { $0["type"] as? String == "call" }, listen.output)
    }
}

extension PeerCallTests {
    /// A peer that takes only G.711 (as a telephone gateway without Opus): the call runs on
    /// PCMU at 8 kHz, devices included, tones and digits both ways.
    func testG711WithAPeerThatDoesNotTakeOpus() async throws {
        let us = try environment.newAccount("dt")
        let them = try environment.newAccount("peer")
        let arguments = try harness.arguments("dt", for: us, tone: 440, extra: "noise_suppression = false", sampleRate: 8_000)
        let remote = try peer(them, ["answer"], ["--tone", "880", "--codec", "pcmu", "--send-dtmf", "9", "--timeout", "40"])
        try await waitForPeer(remote)
        let call = try await ChildProcess.run([harness.binary, "call", them.jid.description, "--duration", "4", "--dtmf", "3"] + arguments,
                                              environment: harness.processEnvironment(for: "dt"), timeout: .seconds(60))
        _ = try? await remote.wait(timeout: .seconds(15))
        let transcript = call.stdout + call.stderr + "\npeer:\n" + remote.output + remote.errors.suffix(2000)
        XCTAssertEqual(call.status, 0, transcript)
        XCTAssertEqual(CallHarness.final(call.stdout)?["codec"] as? String, "PCMU/8000, telephone-event/8000", transcript)
        XCTAssertEqual(event("heard", in: remote)?["frequency"] as? Double, 440, transcript)
        XCTAssertEqual(try harness.heard(by: "dt", sampleRate: 8_000).frequency, 880, transcript)
        XCTAssertEqual(events(remote).filter { $0["event"] as? String == "dtmf" }.compactMap { $0["digit"] as? String }.joined(), "3", transcript)
        XCTAssertEqual(CallHarness.digits(call.stdout), "9", transcript)
    }
}
