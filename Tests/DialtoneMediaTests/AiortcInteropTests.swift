@testable import DialtoneMedia
import DialtoneTLS
import DialtoneTestSupport
import Foundation
import Synchronization
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A call's media against aiortc, an implementation we did not write: DTLS-SRTP (we are the
/// active side, aiortc the passive one), then Opus over SRTP both ways on loopback UDP.
/// Needs the interop venv (`Scripts/install-deps --python`, or DIALTONE_PYTHON); skipped without it.
final class AiortcInteropTests: XCTestCase {
    /// Routes datagrams from the one UDP socket by first byte (RFC 7983): 20–63 DTLS, 128–191 RTP/RTCP.
    final class Demultiplexer: Sendable {
        let dtls = Mutex<DTLSSession?>(nil)
        let media = Mutex<MediaSession?>(nil)
        let transport: UDPTransport
        init(transport: UDPTransport) { self.transport = transport }

        func receive(_ datagram: UnsafeRawBufferPointer) {
            guard let first = datagram.first else { return }
            if (20...63).contains(first) {
                let bytes = Array(datagram)
                dtls.withLock { session in
                    guard let session else { return }
                    _ = try? session.feed(datagram: bytes)
                    for out in session.takeDatagrams() { out.withUnsafeBytes { transport.send($0) } }
                }
            } else if (128...191).contains(first) {
                media.withLock { $0 }?.receive(datagram: datagram)
            }
        }
    }

    func spawn(_ arguments: [String], stdout: String, stderr: String) throws -> pid_t {
        do { return try Spawn.start(arguments, stdout: .file(stdout), stderr: .file(stderr)) } catch {
            throw missingPart("\(error)")
        }
    }

    /// Waits for a line starting with `prefix` in the child's output file.
    func line(_ prefix: String, in path: String, timeout: Double) -> String? {
        let deadline = monotonicNanoseconds() + Int64(timeout * 1e9)
        while monotonicNanoseconds() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8),
               let found = text.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) {
                return String(found)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return nil
    }

    /// aiortc prefers AES-128-GCM when offered both.
    func testCallWithAiortcGCM() throws {
        try call(offering: [.aes128CMHMACSHA1_80, .aeadAES128GCM], expecting: .aeadAES128GCM)
    }

    func testCallWithAiortcAESCM() throws {
        try call(offering: [.aes128CMHMACSHA1_80], expecting: .aes128CMHMACSHA1_80)
    }

    func call(offering profiles: [SRTPProtectionProfile], expecting expected: SRTPProtectionProfile) throws {
        let interpreter = try PythonPeers.python()
        let devices = try FileAudioDevices()
        defer { devices.remove() }
        try devices.writeTone("in.raw", frequency: 440, seconds: 20)
        let transport = try UDPTransport()
        let demultiplexer = Demultiplexer(transport: transport)
        try transport.start { demultiplexer.receive($0) }
        defer { transport.close() }

        let identity = try TLSIdentity.selfSigned(commonName: "dialtone")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/aiortc_media_peer.py").path
        let out = devices.path("peer.out")
        let err = devices.path("peer.err")
        let pid = try spawn([interpreter, script, String(transport.port), fingerprintString(identity.sha256Fingerprint)],
                            stdout: out, stderr: err)
        defer {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        func peerLog() -> String { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "") + ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "") }

        guard let ready = line("READY", in: out, timeout: 30) else { return XCTFail("aiortc did not start:\n\(peerLog())") }
        let fields = ready.split(separator: " ")
        let peerPort = try XCTUnwrap(UInt16(fields[1]))
        let peerFingerprint = try XCTUnwrap(parseFingerprint(String(fields[2])))
        transport.connect(toPort: peerPort)

        // DTLS: we start it (active); the receive thread answers flights, this loop drives timers.
        // Made inside the lock: from then on only the lock's holder touches it.
        let created = demultiplexer.dtls.withLock { dtls -> Bool in
            guard let session = try? DTLSSession(role: .active, identity: identity, remoteFingerprint: peerFingerprint, profiles: profiles),
                  (try? session.start()) != nil else { return false }
            for datagram in session.takeDatagrams() { datagram.withUnsafeBytes { transport.send($0) } }
            dtls = session
            return true
        }
        XCTAssertTrue(created)
        let deadline = monotonicNanoseconds() + 15_000_000_000
        var keys: SRTPKeyingMaterial?
        while keys == nil && monotonicNanoseconds() < deadline {
            Thread.sleep(forTimeInterval: 0.01)
            keys = demultiplexer.dtls.withLock { dtls -> SRTPKeyingMaterial? in
                guard let dtls else { return nil }
                if let delay = dtls.retransmitDelay, delay <= .zero {
                    try? dtls.handleTimeout()
                    for datagram in dtls.takeDatagrams() { datagram.withUnsafeBytes { transport.send($0) } }
                }
                return dtls.keyingMaterial
            }
        }
        let material = try XCTUnwrap(keys, "DTLS with aiortc did not complete:\n\(peerLog())")
        XCTAssertEqual(material.profile, expected)
        XCTAssertNotNil(line("DTLS connected", in: out, timeout: 10), peerLog())

        var configuration = MediaSessionConfiguration(keys: material, role: .active)
        configuration.captureDevice = "cap"
        configuration.playbackDevice = "play"
        configuration.alsaConfiguration = """
            pcm.cap { type file; slave.pcm { type null }; file "\(devices.path("copy.raw"))"; infile "\(devices.path("in.raw"))"; format "raw" }
            pcm.play { type file; slave.pcm { type null }; file "\(devices.path("out.raw"))"; format "raw" }
            """
        let media = try MediaSession(configuration: configuration, transport: transport)
        demultiplexer.media.withLock { $0 = media }
        try media.start()
        defer { media.stop() }

        guard let heard = line("HEARD", in: out, timeout: 30) else { return XCTFail("aiortc heard nothing:\n\(peerLog())") }
        let stats = media.statistics
        media.stop()
        let parts = heard.split(separator: " ")
        XCTAssertEqual(parts[1], "440", "aiortc heard \(heard)")
        XCTAssertGreaterThan(Double(parts[2]) ?? 0, 10, "aiortc heard \(heard)")

        let played = try devices.readSamples("out.raw")
        XCTAssertGreaterThan(played.count, 48000 * 2)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(Array(played.suffix(48000)), sampleRate: 48000), 880, accuracy: 3)
        XCTAssertGreaterThan(stats.packetsReceived, 50)
        print("aiortc interop: \(heard); ours \(stats)")
    }
}
