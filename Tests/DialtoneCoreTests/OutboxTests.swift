@testable import DialtoneCore
@testable import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation
import GRDB
import XCTest

/// The outbox keeps what the user sent as values and builds the stanza each time it goes:
/// rows written by older versions (which kept the stanza's text) go out exactly as before, and
/// every send passes the pipeline's stages.
final class OutboxTests: XCTestCase {
    private let me = JID(verified: "me@example.org")
    private let ada = JID(verified: "ada@example.org")

    private func service(_ store: Store) -> MessagingService { .offline(account: me, store: store) }

    /// An outbox row as the version before this one wrote it: the stanza's text beside its values.
    private func enqueueAsOlderVersion(_ stanza: Message, body: String?, attachments: [Attachment] = [],
                                       in store: Store) throws {
        _ = try store.enqueue(StoredMessage(
            direction: .outgoing, sender: me.description, body: body, stanzaID: stanza.id, dedupeKey: stanza.originID,
            timestamp: Date(), status: .pending, attachments: attachments, stanzaXML: stanza.serialized), to: ada.description)
    }

    func testARowAnOlderVersionQueuedGoesOutAsItWouldHaveThen() throws {
        let store = try Store()
        let plain = Message.chat(to: ada, body: "Running late")
        let link = "https://upload.example.org/a1/photo.jpg"
        let withPhoto = Message.chat(to: ada, body: "The view\n\(link)", outOfBand: [OutOfBandData(url: link)])
        try enqueueAsOlderVersion(plain, body: "Running late", in: store)
        try enqueueAsOlderVersion(withPhoto, body: "The view", attachments: [Attachment(url: link, mediaType: "image/jpeg")], in: store)
        let pending = try Outbox(store: store).pending()
        XCTAssertEqual(pending.map { $0.stanza().element }, [plain.element, withPhoto.element])
    }

    func testAMessageSentOfflineWaitsAsValuesAndIsBuiltWithItsID() async throws {
        let store = try Store()
        let sent = try await service(store).send(to: ada, body: "See you at 7")
        XCTAssertNil(sent.stanzaXML, "no stanza text in the outbox")
        let pending = try Outbox(store: store).pending()
        XCTAssertEqual(pending.count, 1)
        let stanza = try XCTUnwrap(pending.first).stanza()
        XCTAssertEqual(stanza.id, sent.stanzaID)
        XCTAssertEqual(stanza.originID, sent.stanzaID, "our copy coming back is recognised by its origin-id")
        XCTAssertEqual(stanza.body, "See you at 7")
        XCTAssertEqual(stanza.to, ada)
        XCTAssertTrue(stanza.requestsReceipt)
    }

    func testACorrectionMadeOfflineWaitsAfterTheMessageItCorrects() async throws {
        let store = try Store()
        let messaging = service(store)
        let sent = try await messaging.send(to: ada, body: "See you at 7")
        _ = try await messaging.correct(try XCTUnwrap(sent.id), newBody: "See you at 8")
        let pending = try Outbox(store: store).pending()
        XCTAssertEqual(pending.count, 2)
        XCTAssertEqual(pending.first?.id, sent.stanzaID, "the message goes first")
        XCTAssertEqual(pending.first?.stanza().body, "See you at 7", "as it was written")
        let correction = try XCTUnwrap(pending.last).stanza()
        XCTAssertEqual(correction.replaceID, sent.stanzaID)
        XCTAssertEqual(correction.body, "See you at 8")
        XCTAssertNotEqual(correction.id, sent.stanzaID)
        // The same id each time it is built: the server's ack for it settles it.
        XCTAssertEqual(try Outbox(store: store).pending().last?.stanza().id, correction.id)
        try store.markSent(stanzaIDs: [try XCTUnwrap(correction.id)])
        XCTAssertEqual(try Outbox(store: store).pending().map(\.id), [sent.stanzaID])
    }

    func testCorrectionsAnOlderVersionQueuedAsTextBecomeValuesAndGoOutUnchanged() throws {
        let store = try Store()
        let original = Message.chat(to: ada, body: "See you at 7")
        try enqueueAsOlderVersion(original, body: "See you at 7", in: store)
        let correction = Message.correction(of: try XCTUnwrap(original.id), to: ada, body: "See you at 8")
        try store.queueStanzaText(stanzaID: try XCTUnwrap(correction.id), xml: correction.serialized, at: Date())
        try store.queueStanzaText(stanzaID: "junk", xml: "<message xmlns='jabber:client'", at: Date())

        _ = service(store)  // adopts them as the session starts
        XCTAssertEqual(try store.pendingCorrections().map(\.stanzaID), [correction.id])
        XCTAssertEqual(try Outbox(store: store).pending().map { $0.stanza().element }, [original.element, correction.element])
        _ = service(store)  // and only once
        XCTAssertEqual(try store.pendingCorrections().count, 1)
        // What it could not read stays where it was rather than being lost.
        XCTAssertEqual(try store.reading { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM queued_stanza") }, 1)
        try store.markSent(stanzaIDs: [try XCTUnwrap(correction.id), "junk"])
        XCTAssertTrue(try store.pendingCorrections().isEmpty)
        XCTAssertEqual(try store.reading { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM queued_stanza") }, 0)
    }
}
