@testable import DialtoneMedia
import DialtoneTLS
import Foundation
import Synchronization
import XCTest

/// Two media sessions on loopback UDP, each capturing a tone from a file device and playing
/// what it receives into another file, with SRTP keys from a real DTLS-SRTP handshake.
final class MediaSessionTests: XCTestCase {
    final class DigitLog: Sendable {
        private let digits = Mutex<[Character]>([])
        func append(_ digit: Character) { digits.withLock { $0.append(digit) } }
        var all: [Character] { digits.withLock { $0 } }
    }

    struct Call {
        let devices: FileAudioDevices
        let alice: MediaSession
        let bob: MediaSession
        let aliceTransport: UDPTransport
        let bobTransport: UDPTransport
        let bobDigits: DigitLog

        func stop() {
            alice.stop()
            bob.stop()
            aliceTransport.close()
            bobTransport.close()
        }
    }

    /// DTLS in memory (as the ICE socket would carry it) to agree on keys.
    func handshake(profiles: [SRTPProtectionProfile]) throws -> SRTPKeyingMaterial {
        let aliceIdentity = try TLSIdentity.selfSigned(commonName: "alice")
        let bobIdentity = try TLSIdentity.selfSigned(commonName: "bob")
        let alice = try DTLSSession(role: .active, identity: aliceIdentity, remoteFingerprint: bobIdentity.sha256Fingerprint, profiles: profiles)
        let bob = try DTLSSession(role: .passive, identity: bobIdentity, remoteFingerprint: aliceIdentity.sha256Fingerprint, profiles: profiles)
        try alice.start()
        for _ in 0..<10 {
            for datagram in alice.takeDatagrams() { try bob.feed(datagram: datagram) }
            for datagram in bob.takeDatagrams() { try alice.feed(datagram: datagram) }
        }
        XCTAssertEqual(alice.keyingMaterial, bob.keyingMaterial)
        return try XCTUnwrap(alice.keyingMaterial)
    }

    func makeCall(loss: Double = 0, profiles: [SRTPProtectionProfile] = [.aes128CMHMACSHA1_80],
                  bobSource: QueuedSource? = nil) throws -> Call {
        let devices = try FileAudioDevices()
        try devices.writeTone("alice-in.raw", frequency: 440, seconds: 10)
        try devices.writeTone("bob-in.raw", frequency: 880, seconds: 10)
        let keys = try handshake(profiles: profiles)
        let aliceTransport = try UDPTransport()
        let bobTransport = try UDPTransport()
        aliceTransport.connect(toPort: bobTransport.port)
        bobTransport.connect(toPort: aliceTransport.port)

        func configuration(role: DTLSRole, name: String) -> MediaSessionConfiguration {
            var c = MediaSessionConfiguration(keys: keys, role: role)
            c.captureDevice = "cap"
            c.playbackDevice = "play"
            c.alsaConfiguration = """
                pcm.cap { type file; slave.pcm { type null }; file "\(devices.path("\(name)-copy.raw"))"; infile "\(devices.path("\(name)-in.raw"))"; format "raw" }
                pcm.play { type file; slave.pcm { type null }; file "\(devices.path("\(name)-out.raw"))"; format "raw" }
                """
            c.outgoingLossRate = loss
            c.reportInterval = 0.5
            // Levels are checked below: the noise suppressor would (rightly) turn a steady tone down.
            c.voice = .off
            return c
        }
        let digits = DigitLog()
        let alice = try MediaSession(configuration: configuration(role: .active, name: "alice"), transport: aliceTransport)
        let bob = try MediaSession(configuration: configuration(role: .passive, name: "bob"), transport: bobTransport,
                                   source: bobSource) { digit in
            digits.append(digit)
        }
        try aliceTransport.start { alice.receive(datagram: $0) }
        if let bobSource {
            try bobTransport.start { datagram in
                if !bobSource.take(datagram) { bob.receive(datagram: datagram) }
            }
        } else {
            try bobTransport.start { bob.receive(datagram: $0) }
        }
        try alice.start()
        try bob.start()
        return Call(devices: devices, alice: alice, bob: bob, aliceTransport: aliceTransport, bobTransport: bobTransport, bobDigits: digits)
    }

    /// Polls until `done` or a generous deadline, so a loaded machine only makes it slower.
    func wait(upTo seconds: Double = 15, until done: () -> Bool) {
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while !done() && monotonicNanoseconds() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    /// Enough played on both sides to analyse a second of it, and past the start-up.
    func playedTwoSeconds(_ call: Call) -> Bool {
        (call.alice.playbackCounters?.frames ?? 0) >= 100 && (call.bob.playbackCounters?.frames ?? 0) >= 100
    }

    /// The last second of what a side played.
    func lastSecond(_ call: Call, _ name: String) throws -> [Int16] {
        let samples = try call.devices.readSamples("\(name)-out.raw")
        XCTAssertGreaterThan(samples.count, 48000, "\(name) played too little")
        return Array(samples.suffix(48000))
    }

    /// The meters' level: a full-scale square wave is full scale, a steady 1,000 is 1,000,
    /// silence and an empty frame are 0.
    func testTheMeterLevelIsTheRootMeanSquare() {
        let level = { (samples: [Int16]) in samples.withUnsafeBufferPointer { AudioLevel.rms($0) } }
        XCTAssertEqual(level(Array(repeating: 1000, count: 960)), 1000)
        XCTAssertEqual(level((0..<960).map { $0 % 2 == 0 ? Int16.max : Int16.min }), 32767)
        XCTAssertEqual(level(Array(repeating: 0, count: 960)), 0)
        XCTAssertEqual(level([]), 0)
    }

    func testTonesCrossAndDigitsArrive() throws {
        let call = try makeCall()
        defer { call.devices.remove() }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(call.alice.sendDTMF("12#"), [])
        wait { call.bobDigits.all.count >= 3 && playedTwoSeconds(call) }
        Thread.sleep(forTimeInterval: 0.6)   // one more report interval, for RTT both ways
        let aliceStats = call.alice.statistics
        let bobStats = call.bob.statistics
        call.stop()

        let aliceHeard = try lastSecond(call, "alice")
        let bobHeard = try lastSecond(call, "bob")
        XCTAssertEqual(ToneAnalysis.dominantFrequency(aliceHeard, sampleRate: 48000), 880, accuracy: 3)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(bobHeard, sampleRate: 48000), 440, accuracy: 3)
        XCTAssertGreaterThan(ToneAnalysis.rms(aliceHeard[...]), 2000)
        XCTAssertEqual(call.bobDigits.all, ["1", "2", "#"])

        XCTAssertGreaterThan(aliceStats.packetsSent, 50)
        XCTAssertGreaterThan(bobStats.packetsReceived, 50)
        XCTAssertEqual(bobStats.packetsLost, 0)
        // RTCP went both ways through SRTCP: the round trip is known.
        XCTAssertNotNil(aliceStats.roundTripMilliseconds)
        XCTAssertNotNil(bobStats.roundTripMilliseconds)
        print("media loopback: alice \(aliceStats), jitter buffer \(call.alice.jitterCounters)")
    }

    func testToneSurvivesTenPercentLoss() throws {
        let call = try makeCall(loss: 0.10, profiles: [.aeadAES128GCM])
        defer { call.devices.remove() }
        wait { playedTwoSeconds(call) }
        let bobStats = call.bob.statistics
        let counters = call.bob.jitterCounters
        call.stop()
        let aliceHeard = try lastSecond(call, "alice")
        let bobHeard = try lastSecond(call, "bob")
        XCTAssertEqual(ToneAnalysis.dominantFrequency(aliceHeard, sampleRate: 48000), 880, accuracy: 3)
        XCTAssertEqual(ToneAnalysis.dominantFrequency(bobHeard, sampleRate: 48000), 440, accuracy: 3)
        // Loss was really there, and repaired by FEC or concealment.
        XCTAssertGreaterThan(bobStats.packetsLost, 0)
        XCTAssertGreaterThan(counters.fecRecovered + counters.concealed, 0)
        print("media loopback with loss: bob \(bobStats), jitter buffer \(counters)")
    }

    /// With a packet source, the playback thread reads the packets itself once a frame (after
    /// the first ones, pushed, have started its clock), and gives the reading back when it
    /// stops. Tones and digits arrive as they do when every packet is pushed.
    func testPlaybackThreadReadsItsPacketSource() throws {
        let source = QueuedSource()
        let call = try makeCall(bobSource: source)
        defer { call.devices.remove() }
        Thread.sleep(forTimeInterval: 0.3)
        XCTAssertEqual(call.alice.sendDTMF("7"), [])
        wait { call.bobDigits.all.count >= 1 && playedTwoSeconds(call) }
        XCTAssertFalse(source.stopped, "reading while playing")
        call.stop()
        XCTAssertTrue(source.stopped, "the playback thread gave the reading back as it ended")
        let bobHeard = try lastSecond(call, "bob")
        XCTAssertEqual(ToneAnalysis.dominantFrequency(bobHeard, sampleRate: 48000), 440, accuracy: 3)
        XCTAssertGreaterThan(ToneAnalysis.rms(bobHeard[...]), 2000)
        XCTAssertEqual(call.bobDigits.all, ["7"])
        let (pushed, read) = source.counts
        XCTAssertGreaterThan(read, 90, "the playback thread read the packets")
        XCTAssertLessThan(pushed, 25, "only the first packets were pushed (pushed \(pushed), read \(read))")
    }
}

/// A packet source over a queue: the transport's thread queues once the playback thread has
/// started reading, and pushes before that (as the ICE route's event loop does).
final class QueuedSource: MediaPacketSource {
    private struct State {
        var reading = false
        var stopped = false
        var queue: [([UInt8], Int64)] = []
        var pushed = 0
        var read = 0
    }
    private let state = Mutex(State())

    /// From the transport's thread: true when queued for the reader.
    func take(_ datagram: UnsafeRawBufferPointer) -> Bool {
        state.withLock { state in
            guard state.reading else {
                state.pushed += 1
                return false
            }
            state.queue.append((Array(datagram), monotonicNanoseconds()))
            return true
        }
    }

    func readWaiting(_ body: (UnsafeRawBufferPointer, Int64) -> Void) {
        let waiting = state.withLock { state in
            state.reading = true
            state.stopped = false
            defer { state.queue.removeAll() }
            state.read += state.queue.count
            return state.queue
        }
        for (datagram, arrival) in waiting { datagram.withUnsafeBytes { body($0, arrival) } }
    }

    func stopReading() {
        state.withLock { state in
            state.reading = false
            state.stopped = true
        }
    }

    var stopped: Bool { state.withLock { $0.stopped } }
    var counts: (pushed: Int, read: Int) { state.withLock { ($0.pushed, $0.read) } }
}
