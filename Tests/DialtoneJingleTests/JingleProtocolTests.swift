import DialtoneICE
import DialtoneMedia
@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import XCTest

/// The wire forms of XEP-0353 and XEP-0166/0167/0176/0320 as Conversations and Asterisk
/// write them, read and written back.
final class JingleProtocolTests: XCTestCase {
    /// A session-initiate shaped like Conversations' (libwebrtc underneath): BUNDLE group,
    /// several payload types, rtcp-fb and header extensions we ignore, a component-2 candidate.
    let conversationsInitiate = """
        <iq xmlns="jabber:client" type="set" from="alice@example.org/conv" to="bob@example.org/dialtone" id="j1">\
        <jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="sid42" initiator="alice@example.org/conv">\
        <group xmlns="urn:xmpp:jingle:apps:grouping:0" semantics="BUNDLE"><content name="0"/></group>\
        <content creator="initiator" name="0" senders="both">\
        <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio">\
        <payload-type id="111" name="opus" clockrate="48000" channels="2">\
        <parameter name="minptime" value="10"/><parameter name="useinbandfec" value="1"/>\
        <rtcp-fb xmlns="urn:xmpp:jingle:apps:rtp:rtcp-fb:0" type="transport-cc"/></payload-type>\
        <payload-type id="9" name="G722" clockrate="8000"/>\
        <payload-type id="0" name="PCMU" clockrate="8000"/>\
        <payload-type id="126" name="telephone-event" clockrate="8000"/>\
        <payload-type id="110" name="telephone-event" clockrate="48000"/>\
        <rtp-hdrext xmlns="urn:xmpp:jingle:apps:rtp:rtp-hdrext:0" id="1" uri="urn:ietf:params:rtp-hdrext:ssrc-audio-level"/>\
        <source xmlns="urn:xmpp:jingle:apps:rtp:ssma:0" ssrc="1234567"><parameter name="cname" value="x"/></source>\
        <rtcp-mux/></description>\
        <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="uf1" pwd="pw1pw1pw1pw1pw1pw1pw1p">\
        <fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">\
        AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89</fingerprint>\
        <candidate component="1" foundation="1" generation="0" id="c1" ip="192.0.2.10" network="1" port="50000" priority="2122260223" protocol="udp" type="host"/>\
        <candidate component="2" foundation="1" generation="0" id="c2" ip="192.0.2.10" network="1" port="50001" priority="2122260222" protocol="udp" type="host"/>\
        <candidate component="1" foundation="2" generation="0" id="c3" ip="198.51.100.7" network="1" port="61000" priority="1686052607" protocol="udp" type="srflx" rel-addr="192.0.2.10" rel-port="50000"/>\
        <candidate component="1" foundation="3" generation="0" id="c4" ip="192.0.2.10" network="1" port="9" priority="1518280447" protocol="tcp" type="host"/>\
        </transport></content></jingle></iq>
        """

    func testReadsAConversationsSessionInitiate() throws {
        let iq = try XMLElement(parsing: conversationsInitiate)
        let action = try JingleAction(iq: iq)
        XCTAssertEqual(action.kind, .sessionInitiate)
        XCTAssertEqual(action.sid, "sid42")
        XCTAssertEqual(action.initiator, try JID("alice@example.org/conv"))
        XCTAssertEqual(action.bundle, ["0"])
        let content = try XCTUnwrap(action.audio)
        let description = try XCTUnwrap(content.description)
        XCTAssertTrue(description.rtcpMux)
        XCTAssertEqual(description.ssrcs, [1_234_567])
        XCTAssertEqual(description.opus?.id, 111)
        XCTAssertEqual(description.opus?.parameter("useinbandfec"), "1")
        // 8 kHz telephone-event is what phone gateways expect; it wins over the 48 kHz one.
        XCTAssertEqual(description.telephoneEvent?.id, 126)
        let transport = try XCTUnwrap(content.transport)
        XCTAssertEqual(transport.ufrag, "uf1")
        XCTAssertEqual(transport.fingerprint?.setup, "actpass")
        XCTAssertEqual(transport.fingerprint?.value.count, 32)
        XCTAssertEqual(transport.candidates.count, 3, "the TCP candidate is skipped")
        XCTAssertEqual(transport.unreadableCandidates, 1)
        XCTAssertEqual(transport.candidates[2].type, .serverReflexive)
        XCTAssertEqual(transport.candidates[2].relatedAddress, TransportAddress("192.0.2.10", 50000))
        XCTAssertNil(CallManager.refusal(of: action))
    }

    func testRoundTripsThroughXML() throws {
        var action = try JingleAction(iq: try XMLElement(parsing: conversationsInitiate))
        let reparsed = try JingleAction(try XMLElement(parsing: action.element.serialized()))
        // The unreadable (TCP) candidate is not written back.
        action.contents[0].transport?.unreadableCandidates = 0
        XCTAssertEqual(reparsed, action)
    }

    /// Asterisk hangs up on a candidate that lacks any of these.
    func testEveryCandidateCarriesEveryAttribute() throws {
        let candidate = ICECandidate(foundation: "4", component: 1, priority: 16_777_215, address: TransportAddress("203.0.113.5", 3478)!,
                                     type: .relayed, relatedAddress: TransportAddress("198.51.100.7", 61000))
        let element = ICEUDPTransport.element(for: candidate)
        for name in ["component", "foundation", "generation", "id", "ip", "port", "priority", "protocol", "type", "network", "rel-addr", "rel-port"] {
            XCTAssertNotNil(element[attribute: name], name)
        }
        XCTAssertEqual(ICEUDPTransport.candidate(element), candidate)
    }

    func testRefusesOffersWeCannotTake() throws {
        var action = try JingleAction(iq: try XMLElement(parsing: conversationsInitiate))
        action.contents[0].transport?.fingerprint = nil
        XCTAssertEqual(CallManager.refusal(of: action)?.condition, .securityError)

        action = try JingleAction(iq: try XMLElement(parsing: conversationsInitiate))
        action.contents[0].description?.payloadTypes.removeAll { $0.isOpus }
        XCTAssertNil(CallManager.refusal(of: action), "G.711 alone will do (a gateway without Opus)")
        XCTAssertEqual(action.audio?.description?.preferredAudio?.name, "PCMU")
        action.contents[0].description?.payloadTypes.removeAll { $0.isG711 }
        XCTAssertEqual(CallManager.refusal(of: action)?.condition, .incompatibleParameters, "G.722 alone is not enough")

        action = try JingleAction(iq: try XMLElement(parsing: conversationsInitiate))
        action.contents[0].transport = nil
        XCTAssertEqual(CallManager.refusal(of: action)?.condition, .unsupportedTransports)
    }

    func testMalformedJingleIsAnErrorNotACrash() throws {
        XCTAssertThrowsError(try JingleAction(try XMLElement(parsing: #"<jingle xmlns="urn:xmpp:jingle:1" action="session-initiate"/>"#))) {
            XCTAssertEqual($0 as? JingleAction.ParseError, .missingSessionID)
        }
        XCTAssertThrowsError(try JingleAction(try XMLElement(parsing: #"<jingle xmlns="urn:xmpp:jingle:1" action="dance" sid="1"/>"#))) {
            XCTAssertEqual($0 as? JingleAction.ParseError, .unknownAction("dance"))
        }
        XCTAssertThrowsError(try JingleAction(try XMLElement(parsing: #"<jingle xmlns="urn:xmpp:jingle:1" action="session-terminate" sid="1" initiator="@@"/>"#)))
        // A payload-type id out of range and a candidate without a port are skipped, not fatal.
        let odd = try JingleAction(try XMLElement(parsing: """
            <jingle xmlns="urn:xmpp:jingle:1" action="transport-info" sid="s"><content creator="initiator" name="0">\
            <description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="300" name="opus"/></description>\
            <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1"><candidate component="1" ip="1.2.3.4" priority="1" type="host"/></transport>\
            </content></jingle>
            """))
        XCTAssertEqual(odd.contents.first?.description?.payloadTypes, [])
        XCTAssertEqual(odd.contents.first?.transport?.candidates, [])
    }

    func testMessageInitiationAsConversationsSendsIt() throws {
        let propose = MessageInitiation(id: "abc", action: .propose(media: ["audio"]))
        let message = propose.message(to: try JID("bob@example.org"), stanzaID: "m1")
        XCTAssertEqual(message[attribute: "type"], "chat")
        XCTAssertNotNil(message.child("request", namespace: "urn:xmpp:receipts"))
        XCTAssertNotNil(message.child("store", namespace: "urn:xmpp:hints"))
        XCTAssertEqual(MessageInitiation(message: try XMLElement(parsing: message.serialized())), propose)

        let reject = MessageInitiation(id: "abc", action: .reject(JingleReason(.busy)))
        let parsed = MessageInitiation(message: try XMLElement(parsing: reject.message(to: try JID("a@b"), stanzaID: "m2").serialized()))
        XCTAssertEqual(parsed?.action, .reject(JingleReason(.busy)))
        XCTAssertNil(MessageInitiation(message: try XMLElement(parsing: #"<message xmlns="jabber:client"><propose xmlns="urn:xmpp:jingle-message:0"/></message>"#)),
                     "a propose without an id is no call")
    }

    /// Conversations' verification draft: the proceed names the callee's OMEMO device inside
    /// it, and the transport's fingerprint comes wrapped around an OMEMO `<encrypted/>`.
    func testVerifiedCallElementsAsConversationsSendsThem() throws {
        let proceed = try XMLElement(parsing: """
            <message xmlns="jabber:client" from="bob@example.org/conv" to="alice@example.org/d" id="jm-proceed-x" type="chat">\
            <proceed xmlns="urn:xmpp:jingle-message:0" id="sid42">\
            <device xmlns="http://gultsch.de/xmpp/drafts/omemo/dlts-srtp-verification" id="1285073097"/></proceed>\
            <store xmlns="urn:xmpp:hints"/></message>
            """)
        let parsed = try XCTUnwrap(MessageInitiation(message: proceed))
        XCTAssertEqual(parsed.action, .proceed)
        XCTAssertEqual(parsed.device, 1_285_073_097)
        let ours = MessageInitiation(id: "sid42", action: .proceed, device: 7).message(to: try JID("a@b/c"), stanzaID: "m1")
        XCTAssertEqual(MessageInitiation(message: try XMLElement(parsing: ours.serialized()))?.device, 7)
        XCTAssertNil(MessageInitiation(message: try XMLElement(parsing: MessageInitiation(id: "s", action: .proceed)
            .message(to: try JID("a@b/c"), stanzaID: "m2").serialized()))?.device, "no device unless we have one")

        let transport = try XMLElement(parsing: """
            <transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="uf" pwd="pwpwpwpwpwpwpwpwpwpwpw">\
            <fingerprint xmlns="http://gultsch.de/xmpp/drafts/omemo/dlts-srtp-verification" hash="sha-256" setup="actpass">\
            <encrypted xmlns="eu.siacs.conversations.axolotl"><header sid="5678"><key rid="1234">a2V5</key><iv>aXY=</iv></header>\
            <payload>cGF5bG9hZA==</payload></encrypted></fingerprint></transport>
            """)
        let read = try XCTUnwrap(ICEUDPTransport(transport))
        XCTAssertNil(read.fingerprint, "nothing in clear to trust")
        let sealed = try XCTUnwrap(read.sealedFingerprint)
        XCTAssertEqual(sealed.setup, "actpass")
        XCTAssertEqual(sealed.encrypted.senderDevice, 5678)
        XCTAssertEqual(sealed.encrypted.keys.map(\.device), [1234])
        XCTAssertEqual(ICEUDPTransport(try XMLElement(parsing: read.element.serialized())), read)
        XCTAssertEqual(sealed.opened("AB:" + String(repeating: "CD:", count: 30) + "EF")?.value.count, 32)
        XCTAssertNil(sealed.opened("not a fingerprint"))
    }

    func testReasonsReadAsSentences() throws {
        let reason = try XCTUnwrap(JingleReason(try XMLElement(parsing: """
            <reason xmlns="urn:xmpp:jingle:1"><connectivity-error/><text>ICE failed</text></reason>
            """)))
        XCTAssertEqual(reason.condition, .connectivityError)
        XCTAssertEqual(reason.description, "connection failed: ICE failed")
        XCTAssertEqual(JingleReason(try XMLElement(parsing: #"<reason xmlns="urn:xmpp:jingle:1"><whatever/></reason>"#))?.condition, .generalError)
    }
}

final class OpusParameterTests: XCTestCase {
    func testThePeersOpusParametersShapeOurEncoder() throws {
        var defaults = OpusEncoderSettings()
        defaults.frameMilliseconds = 20
        let narrow = PayloadType(id: 111, name: "opus", clockRate: 48_000, channels: 2,
                                 parameters: [("maxplaybackrate", "16000"), ("useinbandfec", "0")], maxptime: 10)
        let applied = narrow.applied(to: defaults)
        XCTAssertEqual(applied.maxPlaybackRate, 16_000)
        XCTAssertFalse(applied.inbandFEC)
        XCTAssertEqual(applied.frameMilliseconds, 10, "a maxptime below our frame shortens it")
        XCTAssertEqual(PayloadType.opus.applied(to: defaults), defaults, "our own offer changes nothing")
        let element = try XMLElement(parsing: #"<payload-type xmlns="urn:xmpp:jingle:apps:rtp:1" id="111" name="opus" clockrate="48000" ptime="20" maxptime="40"/>"#)
        let parsed = try XCTUnwrap(PayloadType(element))
        XCTAssertEqual(parsed.ptime, 20)
        XCTAssertEqual(parsed.maxptime, 40)
    }
}
