import DialtoneXML
@testable import DialtoneXMPP
import XCTest

/// A message as OMEMO sends it (the readable parts replaced, a fallback body, the EME and
/// store hints) and as it is read after decryption; the current version's SCE envelope.
final class OMEMOMessageTests: XCTestCase {
    private let encrypted = OMEMOEncrypted(version: .legacy, senderDevice: 7, keys: [.init(account: nil, device: 9, isKeyExchange: true, data: [1])],
                                           iv: [2], payload: [3])

    func testAnEncryptedMessageKeepsNothingReadable() throws {
        let plain = Message.chat(to: JID(verified: "ada@example.org"), body: "the secret https://up.example/f.jpg", id: "m1",
                                 outOfBand: [OutOfBandData(url: "https://up.example/f.jpg")])
        let sent = plain.encrypted([encrypted])
        XCTAssertEqual(sent.body, Message.omemoFallback)
        XCTAssertTrue(sent.outOfBandURLs.isEmpty, "a link in the clear would give the file away")
        XCTAssertFalse(sent.serialized.contains("secret"))
        XCTAssertEqual(sent.omemoElements, [encrypted])
        XCTAssertEqual(sent.element.child("encryption", namespace: Namespace.eme)?[attribute: "namespace"], OMEMOVersion.legacy.namespace)
        XCTAssertNotNil(sent.element.child("store", namespace: Namespace.hints))
        XCTAssertEqual(sent.originID, "m1", "ids stay, so that receipts and corrections still name it")
        XCTAssertTrue(sent.requestsReceipt)

        let read = sent.decrypted(body: "the secret")
        XCTAssertEqual(read.body, "the secret")
        XCTAssertEqual(read.element.children("body", namespace: Namespace.client).count, 1, "the fallback is gone")
        XCTAssertNil(sent.decrypted(body: nil).body)
    }

    func testAKeyTransportMessageHasNoBody() throws {
        let message = Message.omemoKeyTransport(OMEMOEncrypted(version: .current, senderDevice: 7,
                                                               keys: [.init(account: "ada@example.org", device: 9, isKeyExchange: false, data: [1])],
                                                               iv: nil, payload: nil), to: JID(verified: "ada@example.org/phone"))
        XCTAssertNil(message.body)
        XCTAssertEqual(message.to, JID(verified: "ada@example.org"))
        XCTAssertNil(message.omemoElements.first?.payload)
        XCTAssertNotNil(message.element.child("store", namespace: Namespace.hints))
    }

    func testTheSCEEnvelopeReadsBackAndIsPadded() throws {
        let sender = JID(verified: "me@example.com/desk")
        let bytes = SCEEnvelope(body: "Grüße <b>&</b>", from: sender).serialized()
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertTrue(text.contains("xmlns=\"urn:xmpp:sce:1\"") || text.contains("xmlns='urn:xmpp:sce:1'"), text)
        XCTAssertTrue(text.contains("<rpad"), text)
        let read = try XCTUnwrap(SCEEnvelope(decrypted: bytes))
        XCTAssertEqual(read.body, "Grüße <b>&</b>")
        XCTAssertEqual(read.from, JID(verified: "me@example.com"), "the bare address: any of our devices")
        // As another implementation writes it (python-omemo's glue, ElementTree).
        let theirs = Array("""
            <ns0:envelope xmlns:ns0="urn:xmpp:sce:1"><ns0:content><ns1:body xmlns:ns1="jabber:client">hi</ns1:body></ns0:content>\
            <ns0:rpad>abab</ns0:rpad><ns0:from jid="ada@example.org" /></ns0:envelope>
            """.utf8)
        XCTAssertEqual(SCEEnvelope(decrypted: theirs), SCEEnvelope(body: "hi", from: JID(verified: "ada@example.org")))
        XCTAssertNil(SCEEnvelope(decrypted: Array("just text".utf8)))
        XCTAssertNil(SCEEnvelope(decrypted: Array("<body xmlns='jabber:client'>hi</body>".utf8)))
    }
}
