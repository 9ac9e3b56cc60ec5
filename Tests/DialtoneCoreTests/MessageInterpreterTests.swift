@testable import DialtoneCore
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import XCTest

final class MessageInterpreterTests: XCTestCase {
    private let interpreter = MessageInterpreter(account: JID(verified: "me@example.com"), gateway: JID(verified: "cheogram.com"))

    private func interpret(_ xml: String, direction: ReceivedMessage.Direction = .incoming) throws -> (peer: String, message: StoredMessage)? {
        let message = Message(try XMLElement(parsing: xml))
        return interpreter.interpret(ReceivedMessage(message: message, direction: direction, source: .live, archiveID: nil, timestamp: Date()))
    }

    func testAReusedStanzaIDWithNewTextIsANewMessage() throws {
        // No origin-id: a client that reuses ids (or restarts its counter) sends "1" twice.
        let store = try Store()
        func received(_ body: String, originID: String? = nil) throws -> (peer: String, message: StoredMessage) {
            try XCTUnwrap(interpret("""
                <message xmlns='jabber:client' from='ada@example.org/phone' to='me@example.com' type='chat' id='1'>\
                <body>\(body)</body>\(originID.map { "<origin-id xmlns='urn:xmpp:sid:0' id='\($0)'/>" } ?? "")</message>
                """))
        }
        guard case .inserted = try store.record([try received("Are you there?")]).first,
              case .inserted = try store.record([try received("Call me back")]).first else {
            return XCTFail("a later message with the same id and other text was taken for a duplicate")
        }
        // The same message again (a carbon, the archive's copy) is still one.
        guard case .duplicate = try store.record([try received("Call me back")]).first else {
            return XCTFail("the same message twice was stored twice")
        }
        // With an origin-id, that alone identifies it.
        guard case .inserted = try store.record([try received("a", originID: "o-1")]).first,
              case .duplicate = try store.record([try received("a, edited in transit", originID: "o-1")]).first else {
            return XCTFail("origin-id did not identify the message")
        }
        XCTAssertEqual(try store.history(peer: "ada@example.org").map(\.body), ["Are you there?", "Call me back", "a"])
    }

    /// An encrypted file (XEP-0454) arrives as its aesgcm:// link alone, after decryption:
    /// an attachment, named from its path, whatever its type; the decryption's outcome is kept.
    func testAnAESGCMLinkIsAnAttachmentAndTheDecryptionIsKept() throws {
        let link = "aesgcm://upload.example.org/x/holiday%20photo.jpg#" + String(repeating: "ab", count: 44)
        var received = ReceivedMessage(message: Message(try XMLElement(parsing: """
            <message xmlns='jabber:client' from='ada@example.org/phone' to='me@example.com' type='chat' id='1'><body>\(link)</body></message>
            """)), direction: .incoming, source: .live, archiveID: nil, timestamp: Date())
        received.decryption = Decryption(scheme: "eu.siacs.conversations.axolotl", senderDevice: 42, trust: "verified")
        let stored = try XCTUnwrap(interpreter.interpret(received)).message
        XCTAssertEqual(stored.attachments.map(\.url), [link])
        XCTAssertEqual(stored.attachments.first?.name, "holiday photo.jpg")
        XCTAssertEqual(stored.attachments.first?.mediaType, "image/jpeg")
        XCTAssertNil(stored.body, "the link shows once, as the attachment")
        XCTAssertEqual(stored.encryption, MessageEncryption(scheme: "eu.siacs.conversations.axolotl", device: 42, trust: .verified))

        // One that could not be decrypted is kept, with no text but why.
        var failed = received
        failed.message = received.message.decrypted(body: nil)
        failed.decryption = Decryption(scheme: "urn:xmpp:omemo:2", senderDevice: 42, trust: nil, failure: "not for this device")
        let kept = try XCTUnwrap(interpreter.interpret(failed)).message
        XCTAssertNil(kept.body)
        XCTAssertEqual(kept.encryption?.failure, "not for this device")
    }

    func testGroupTextSenderFromFallbackPrefix() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551110000,+15552220000@cheogram.com' to='me@example.com/x' type='chat'>
            <body>&lt;xmpp:+15552220000@cheogram.com&gt; Pizza tonight?</body>
            <fallback xmlns='urn:xmpp:fallback:0'><body start='0' end='33'/></fallback></message>
            """))
        XCTAssertEqual(result.peer, "+15551110000,+15552220000@cheogram.com")
        XCTAssertEqual(result.message.sender, "+15552220000@cheogram.com")
        XCTAssertEqual(result.message.body, "Pizza tonight?")
    }

    func testGroupTextSenderFromPrefixWithoutFallbackOrFromOfrom() throws {
        let prefixed = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551110000,+15552220000@cheogram.com' to='me@example.com' type='chat'>
            <body>&lt;xmpp:+15551110000@cheogram.com&gt; hi all</body></message>
            """))
        XCTAssertEqual(prefixed.message.sender, "+15551110000@cheogram.com")
        XCTAssertEqual(prefixed.message.body, "hi all")

        let addressed = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551110000,+15552220000@cheogram.com' to='me@example.com' type='chat'>
            <body>no prefix here</body><addresses xmlns='http://jabber.org/protocol/address'>
            <address type='ofrom' jid='+15552220000@cheogram.com'/></addresses></message>
            """))
        XCTAssertEqual(addressed.message.sender, "+15552220000@cheogram.com")
        XCTAssertEqual(addressed.message.body, "no prefix here")
    }

    func testSenderNamedOutsideTheGatewayIsNotBelieved() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551110000,+15552220000@cheogram.com' to='me@example.com' type='chat'>
            <body>&lt;xmpp:boss@evil.example&gt; wire the money</body><addresses xmlns='http://jabber.org/protocol/address'>
            <address type='ofrom' jid='ceo@evil.example'/></addresses></message>
            """))
        XCTAssertEqual(result.message.sender, "+15551110000,+15552220000@cheogram.com", "no trusted sender: the group itself")
        XCTAssertEqual(result.message.body, "<xmpp:boss@evil.example> wire the money", "an untrusted prefix stays visible")
    }

    func testAddressedMessageFromANumberThreadsByParticipants() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15552220000@cheogram.com' to='me@example.com' type='chat'><body>reply all</body>
            <addresses xmlns='http://jabber.org/protocol/address'><address type='to' jid='me@example.com'/>
            <address type='cc' jid='+15551110000@cheogram.com'/></addresses></message>
            """))
        XCTAssertEqual(result.peer, "+15551110000,+15552220000@cheogram.com")
        XCTAssertEqual(result.message.sender, "+15552220000@cheogram.com")
    }

    func testAddressesFromAnyoneButTheGatewayDoNotMakeAGroup() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='bob@example.org/x' to='me@example.com' type='chat'><body>hi</body>
            <addresses xmlns='http://jabber.org/protocol/address'><address type='cc' jid='+15551110000@cheogram.com'/></addresses></message>
            """))
        XCTAssertEqual(result.peer, "bob@example.org")
    }

    func testVoicemailWithSubjectOOBAndRepeatedURL() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551234567@cheogram.com' to='me@example.com' type='chat'>
            <subject>Voicemail (0:42)</subject><body>https://files.example/vm/1234.oga</body>
            <x xmlns='jabber:x:oob'><url>https://files.example/vm/1234.oga</url><desc>Voicemail</desc></x></message>
            """))
        XCTAssertEqual(result.message.subject, "Voicemail (0:42)")
        XCTAssertNil(result.message.body, "the link shows once, as the attachment")
        XCTAssertEqual(result.message.attachments.count, 1)
        XCTAssertEqual(result.message.attachments.first?.mediaType, "audio/ogg")
        XCTAssertTrue(result.message.attachments.first?.isAudio ?? false)
    }

    func testSIMSGivesTypeNameAndSize() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='+15551234567@cheogram.com' to='me@example.com' type='chat'><body>look</body>
            <reference xmlns='urn:xmpp:reference:0' type='data' uri='https://files.example/a'>
            <media-sharing xmlns='urn:xmpp:sims:1'><file xmlns='urn:xmpp:jingle:apps:file-transfer:5'>
            <media-type>image/jpeg</media-type><name>cat.jpg</name><size>12345</size></file>
            <sources><reference xmlns='urn:xmpp:reference:0' type='data' uri='https://files.example/a'/></sources>
            </media-sharing></reference></message>
            """))
        XCTAssertEqual(result.message.body, "look")
        XCTAssertEqual(result.message.attachments, [Attachment(url: "https://files.example/a", mediaType: "image/jpeg", name: "cat.jpg", size: 12345)])
    }

    func testSubjectOnlyIsKeptAndEmptyIsDropped() throws {
        XCTAssertEqual(try interpret("""
            <message xmlns='jabber:client' from='bob@example.org/x' to='me@example.com'><subject>Just a subject</subject></message>
            """)?.message.subject, "Just a subject")
        XCTAssertNil(try interpret("<message xmlns='jabber:client' from='bob@example.org/x' to='me@example.com'><active xmlns='http://jabber.org/protocol/chatstates'/></message>"))
    }

    func testOutgoingGroupTextBelongsToTheGroup() throws {
        let result = try XCTUnwrap(interpret("""
            <message xmlns='jabber:client' from='me@example.com/phone' to='+15551110000,+15552220000@cheogram.com' type='chat'><body>me too</body></message>
            """, direction: .outgoing))
        XCTAssertEqual(result.peer, "+15551110000,+15552220000@cheogram.com")
        XCTAssertEqual(result.message.sender, "me@example.com")
    }
}
