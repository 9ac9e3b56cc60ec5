@testable import DialtoneCore
import DialtoneStore
import DialtoneXMPP
import Foundation
import XCTest

/// MMS-style media: a real upload to Prosody's mod_http_file_share (XEP-0363), the link sent
/// with OOB, and the download on the other side, byte for byte.
final class UploadTests: XCTestCase {
    func testUploadSendDownloadRoundTrip() async throws {
        let environment = try TestEnvironment.current()
        let dns = try LoopbackDNS(records: ["--host-record=upload.\(environment.domain),127.0.0.1"])
        defer { dns.stop() }
        func configuration(_ name: String) throws -> XMPPClientConfiguration {
            var configuration = environment.clientConfiguration(try environment.newAccount(name))
            configuration.nameserver = .init(host: "127.0.0.1", port: dns.port)
            return configuration
        }
        let alice = try await TestAccount(try configuration("alice"))
        let bob = try await TestAccount(try configuration("bob"))
        try await alice.connect()
        try await bob.connect()

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-upload-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("photo of us.jpg")
        let bytes = (0..<300_000).map { _ in UInt8.random(in: 0...255) }
        try Data(bytes).write(to: file)

        // The plain path (an MMS's): bob's client has an OMEMO device, so alice says to write in clear.
        try await alice.session.setEncryption(false, for: bob.jid)
        let progress = ProgressLog()
        _ = try await alice.session.sendAttachment(path: file.path, to: bob.jid, caption: "Look!",
                                                   progress: { done, total in progress.add(done, total) })
        XCTAssertEqual(progress.last?.0, bytes.count, "progress reached the whole file")

        try await eventually("bob gets the message with its attachment") {
            try bob.store.history(peer: alice.jid.description).first?.attachments.isEmpty == false
        }
        let received = try XCTUnwrap(bob.store.history(peer: alice.jid.description).first)
        XCTAssertEqual(received.body, "Look!", "the link shows once, as the attachment")
        XCTAssertEqual(received.attachments.first?.mediaType, "image/jpeg")

        setenv("XDG_DATA_HOME", directory.appendingPathComponent("bob-data").path, 1)
        let downloaded = try await bob.session.download(received.attachments[0])
        let path = downloaded.path
        XCTAssertEqual((path as NSString).lastPathComponent, "photo of us.jpg", "saved under the name shown")
        XCTAssertEqual(downloaded.opening, .viewer)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), Data(bytes))
        XCTAssertTrue(path.hasPrefix(directory.path), path)
        await alice.stop()
        await bob.stop()
    }

    /// The link's last path component ("x.desktop") is the sender's choice as much as the name
    /// the screen shows ("invoice.pdf"): the file is saved, and opened, as what was shown.
    func testAnAttachmentIsSavedUnderTheNameShownNotTheLinks() async throws {
        let environment = try TestEnvironment.current()
        let dns = try LoopbackDNS(records: ["--host-record=upload.\(environment.domain),127.0.0.1"])
        defer { dns.stop() }
        var configuration = environment.clientConfiguration(try environment.newAccount("alice"))
        configuration.nameserver = .init(host: "127.0.0.1", port: dns.port)
        let alice = try await TestAccount(configuration)
        try await alice.connect()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-shown-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let launcher = directory.appendingPathComponent("x.desktop")
        try "[Desktop Entry]\nType=Application\nExec=sh -c 'touch /tmp/owned'\n".write(to: launcher, atomically: true, encoding: .utf8)
        let sent = try await alice.session.sendAttachment(path: launcher.path, to: JID(verified: "bob@\(environment.domain)"))
        let link = try XCTUnwrap(sent.attachments.first?.url)
        XCTAssertTrue(link.hasSuffix("/x.desktop"), link)
        setenv("XDG_DATA_HOME", directory.appendingPathComponent("data").path, 1)

        // As a SIMS reference would show it.
        let shown = Attachment(url: link, mediaType: "application/pdf", name: "invoice.pdf")
        let downloaded = try await alice.session.download(shown)
        XCTAssertEqual((downloaded.path as NSString).lastPathComponent, "invoice.pdf")
        XCTAssertEqual(downloaded.opening, .viewer, "a PDF viewer gets it, not a launcher")

        // `dialtone download LINK` finds the name that listen printed for that link.
        _ = try alice.store.record([(peer: "carol@\(environment.domain)", message: StoredMessage(
            direction: .incoming, sender: "carol@\(environment.domain)", body: nil, stanzaID: "s1", dedupeKey: "s1",
            timestamp: Date(), status: .delivered, attachments: [shown]))])
        let byLink = try await alice.session.download(link)
        XCTAssertEqual((byLink.path as NSString).lastPathComponent, "invoice-2.pdf", "the name shown, never over the first")

        // Without any name, the link's own: shown as x.desktop, saved as that, and not run.
        let bare = try await alice.session.download(Attachment(url: link))
        XCTAssertEqual((bare.path as NSString).lastPathComponent, "x.desktop")
        XCTAssertFalse(bare.opens)
        await alice.stop()
    }

    func testAFileOverTheServersLimitIsOneClearSentence() async throws {
        let environment = try TestEnvironment.current()
        let alice = try await TestAccount(environment.clientConfiguration(try environment.newAccount("alice")))
        try await alice.connect()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("dialtone-big-\(UUID().uuidString).bin")
        try Data(count: 11 << 20).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        do {
            _ = try await alice.session.sendAttachment(path: file.path, to: JID(verified: "bob@\(environment.domain)"))
            XCTFail("an 11 MiB upload was accepted")
        } catch {
            XCTAssertTrue(String(describing: error).contains("the server takes at most 10485760"), "\(error)")
        }
        XCTAssertTrue(try alice.store.outbox().isEmpty, "nothing half-sent left behind")
        await alice.stop()
    }
}

final class ProgressLog: @unchecked Sendable {
    private let lock = NSLock()
    private var entries: [(Int, Int?)] = []
    func add(_ done: Int, _ total: Int?) { lock.withLock { entries.append((done, total)) } }
    var last: (Int, Int?)? { lock.withLock { entries.last } }
}
