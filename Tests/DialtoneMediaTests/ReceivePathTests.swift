@testable import DialtoneMedia
import DialtoneTLS
import Synchronization
import XCTest

/// The receive path (SRTP, RTP statistics, telephone-events, jitter buffer) fed a stream the
/// way GStreamer's webrtcbin sends it, on a scripted clock, without devices.
final class ReceivePathTests: XCTestCase {
    struct NoOutput: MediaPacketOutput {
        func send(_ datagram: UnsafeRawBufferPointer) {}
    }

    final class Digits: Sendable {
        let received = Mutex<[Character]>([])
    }

    let ms: Int64 = 1_000_000

    func testAGStreamerShapedStreamPlaysFromItsFirstPacket() throws {
        let keys = SRTPKeyingMaterial(profile: .aes128CMHMACSHA1_80, clientKey: [UInt8](repeating: 1, count: 16),
                                      clientSalt: [UInt8](repeating: 2, count: 14),
                                      serverKey: [UInt8](repeating: 3, count: 16), serverSalt: [UInt8](repeating: 4, count: 14))
        // We answer (passive): the peer protects with the client half.
        let digits = Digits()
        let session = try MediaSession(configuration: MediaSessionConfiguration(keys: keys, role: .passive), transport: NoOutput()) {
            digit in digits.received.withLock { $0.append(digit) }
        }
        let peer = try SRTPContext(profile: keys.profile, masterKey: keys.clientKey, masterSalt: keys.clientSalt, direction: .outbound)
        var sequence: UInt16 = 40_000
        func send(payloadType: UInt8, timestamp: UInt32, ssrc: UInt32 = 0x1234, marker: Bool, payload: [UInt8], at time: Int64) throws {
            var packet: [UInt8] = []
            RTPHeader(payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc, marker: marker)
                .encode(into: &packet)
            packet += payload
            sequence &+= 1
            try peer.protectRTP(&packet)
            packet.withUnsafeBytes { session.receive(datagram: $0, arrival: time) }
        }
        // Audio frames i = 0..<150 every 20 ms; the first marked, the second 648 ticks on
        // (the encoder's look-ahead); frames 60..<80 replaced by a digit (telephone-event
        // packets on the audio's clock), after which audio resumes with a marker; from frame
        // 120 the peer sends as a new SSRC with its own timestamps.
        var audio = 0
        var playedAudio = 0, silentAfterStart = 0
        for i in 0..<150 {
            let now = Int64(i) * 20 * ms
            let timestamp = i >= 120 ? UInt32(90_000 + (i - 120) * 960) : UInt32(5_000 + (i == 0 ? 0 : 648 + (i - 1) * 960))
            if (60..<80).contains(i) {
                let event = TelephoneEvent(event: 5, end: i >= 77, volume: 10, duration: UInt16((i - 59) * 960))
                try send(payloadType: 101, timestamp: UInt32(5_000 + 648 + 59 * 960), marker: i == 60, payload: event.encode(), at: now + 5 * ms)
            } else {
                try send(payloadType: 111, timestamp: timestamp, ssrc: i >= 120 ? 0x5678 : 0x1234, marker: i == 0 || i == 80 || i == 120, payload: [0xF8, 0xFF, 0xFE, UInt8(i)], at: now + 5 * ms)
                audio += 1
            }
            switch session.playoutDecision(now: now + 7 * ms) {
            case .packet: playedAudio += 1
            case .silence where i > 1 && !(60..<86).contains(i): silentAfterStart += 1
            default: break
            }
        }
        XCTAssertEqual(session.jitterCounters.inserted, audio)
        XCTAssertEqual(session.jitterCounters.late, 0)
        // Every audio packet but the last, still buffered one frame behind, has played.
        XCTAssertEqual(playedAudio, audio - 1, "\(session.jitterCounters)")
        XCTAssertEqual(silentAfterStart, 0)
        XCTAssertEqual(digits.received.withLock { $0 }, ["5"])
    }
}
