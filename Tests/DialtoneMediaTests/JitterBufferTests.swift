@testable import DialtoneMedia
import XCTest

/// Deterministic pseudo-random numbers, so scripted network conditions repeat exactly.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

/// Drives a jitter buffer on a fake clock: packet i is sent at i × `sendInterval` and
/// arrives after `delay(i)` (nil = lost); playback pulls every 20 ms.
struct JitterScenario {
    var buffer = JitterBuffer()
    var played: [PlayoutDecision] = []
    /// Packet numbers in the order they were played (FEC counts for the frame it recovers).
    var playedFrames: [Int] = []

    static let ms: Int64 = 1_000_000

    mutating func run(packets: Int, sendInterval: Int64 = 20 * ms, pullPhase: Int64 = 7 * ms,
                      quiet: Bool = true, timestamp: (Int) -> UInt32 = { UInt32(truncatingIfNeeded: 1_000_000 + $0 * 960) },
                      ssrc: (Int) -> UInt32 = { _ in 1 }, delay: (Int) -> Int64?, afterPull: ((JitterBuffer, Int64) -> Void)? = nil) {
        var arrivals: [(time: Int64, index: Int)] = []
        for i in 0..<packets {
            if let d = delay(i) { arrivals.append((Int64(i) * sendInterval + d, i)) }
        }
        arrivals.sort { $0.time < $1.time }
        var next = 0
        let end = Int64(packets) * sendInterval + 400 * Self.ms
        var now = pullPhase
        while now < end {
            while next < arrivals.count && arrivals[next].time <= now {
                let index = arrivals[next].index
                buffer.insert(timestamp: timestamp(index), ssrc: ssrc(index), payload: Self.payload(index), arrival: arrivals[next].time)
                next += 1
            }
            let decision = buffer.pull(now: now, quiet: quiet)
            played.append(decision)
            switch decision {
            case .packet(let p): playedFrames.append(Self.index(p))
            case .fec(let p): playedFrames.append(Self.index(p) - 1)
            default: break
            }
            afterPull?(buffer, now)
            // Stop once everything that arrived is played, so the stream's end is not
            // counted as loss.
            if next == arrivals.count && buffer.bufferedFrames == 0 { break }
            now += 20 * Self.ms
        }
    }

    static func payload(_ index: Int) -> [UInt8] { [UInt8(index >> 16 & 0xFF), UInt8(index >> 8 & 0xFF), UInt8(index & 0xFF)] }
    static func index(_ payload: [UInt8]) -> Int { Int(payload[0]) << 16 | Int(payload[1]) << 8 | Int(payload[2]) }
}

final class JitterBufferTests: XCTestCase {
    let ms = JitterScenario.ms

    func testCleanNetworkPlaysEverythingInOrderWithOneFrameOfDelay() {
        var scenario = JitterScenario()
        var maxBuffered = 0
        scenario.run(packets: 500, delay: { _ in 5 * self.ms }, afterPull: { buffer, _ in maxBuffered = max(maxBuffered, buffer.bufferedFrames) })
        XCTAssertEqual(scenario.playedFrames, Array(0..<500))
        XCTAssertEqual(scenario.buffer.targetFrames, 1)
        XCTAssertEqual(scenario.buffer.counters.concealed, 0)
        XCTAssertEqual(scenario.buffer.counters.late, 0)
        XCTAssertLessThanOrEqual(maxBuffered, 2)
    }

    func testSingleLossIsRepairedFromTheNextPacketsFEC() {
        var scenario = JitterScenario()
        scenario.run(packets: 100, delay: { $0 == 40 ? nil : 5 * self.ms })
        XCTAssertEqual(scenario.buffer.counters.fecRecovered, 1)
        XCTAssertEqual(scenario.buffer.counters.concealed, 0)
        XCTAssertEqual(scenario.playedFrames, Array(0..<100))
        XCTAssertTrue(scenario.played.contains(.fec(next: JitterScenario.payload(41))))
    }

    func testBurstLossFallsBackToConcealment() {
        var scenario = JitterScenario()
        scenario.run(packets: 100, delay: { (40...42).contains($0) ? nil : 5 * self.ms })
        // 40 and 41 have no next packet to take FEC from; 42 takes it from 43.
        XCTAssertEqual(scenario.buffer.counters.concealed, 2)
        XCTAssertEqual(scenario.buffer.counters.fecRecovered, 1)
        XCTAssertEqual(scenario.playedFrames, Array(0..<40) + [42] + Array(43..<100))
    }

    func testReorderedAndDuplicatePacketsAreSortedAndDeduplicated() {
        var scenario = JitterScenario()
        var duplicateSent = false
        scenario.run(packets: 200, delay: { i in
            // Every tenth packet overtakes its predecessor by 10 ms.
            i % 10 == 5 ? 4 * self.ms : (i % 10 == 4 ? 16 * self.ms : 5 * self.ms)
        }, afterPull: { _, _ in })
        XCTAssertEqual(scenario.playedFrames, Array(0..<200))
        XCTAssertEqual(scenario.buffer.counters.late, 0)
        // Duplicates: insert a copy of a buffered packet.
        var buffer = JitterBuffer()
        buffer.insert(timestamp: 960, payload: [1], arrival: 0)
        buffer.insert(timestamp: 960, payload: [1], arrival: 1)
        duplicateSent = true
        XCTAssertTrue(duplicateSent)
        XCTAssertEqual(buffer.counters.duplicates, 1)
        XCTAssertEqual(buffer.counters.inserted, 1)
    }

    func testLatePacketsAreDroppedAndTheDelayGrowsWithJitter() {
        var scenario = JitterScenario()
        var random = SeededRandom(seed: 7)
        var targets: [Int] = []
        scenario.run(packets: 2300, delay: { i in
            // Clean, then 0–60 ms of random delay for 1000 packets (20 s), then clean again.
            (300..<1300).contains(i) ? Int64.random(in: 5...65, using: &random) * self.ms : 5 * self.ms
        }, afterPull: { buffer, _ in targets.append(buffer.targetFrames) })
        let counters = scenario.buffer.counters
        XCTAssertEqual(targets[250], 1)
        XCTAssertGreaterThan(counters.late, 0)   // the first spikes find the buffer too shallow
        // After adapting, lateness is rare: well under 2 % of the packets.
        XCTAssertLessThan(counters.late, 30, "\(counters)")
        XCTAssertGreaterThanOrEqual(targets[900], 3)
        XCTAssertLessThanOrEqual(targets[900], 5)
        // Once the network is clean for a while the target is back to one frame, and the
        // buffer shrank by dropping frames in quiet.
        XCTAssertEqual(targets.last, 1)
        XCTAssertGreaterThan(counters.dropped, 0)
        XCTAssertLessThanOrEqual(scenario.buffer.bufferedFrames, 3)
        // Played frames never go backwards.
        XCTAssertEqual(scenario.playedFrames, scenario.playedFrames.sorted())
    }

    func testFastSenderClockDriftIsAbsorbedByDroppingInQuiet() {
        var scenario = JitterScenario()
        var maxBuffered = 0
        // The sender's 20 ms are our 19.8 ms: 1 % fast, 30 frames extra over 3000 packets.
        scenario.run(packets: 3000, sendInterval: 19_800_000, delay: { _ in 5 * self.ms },
                     afterPull: { buffer, _ in maxBuffered = max(maxBuffered, buffer.bufferedFrames) })
        XCTAssertLessThanOrEqual(maxBuffered, 4)
        XCTAssertGreaterThanOrEqual(scenario.buffer.counters.dropped, 25)
        XCTAssertLessThanOrEqual(scenario.buffer.counters.dropped, 35)
        XCTAssertEqual(scenario.buffer.counters.late, 0)
    }

    func testFastSenderInContinuousSpeechIsBoundedByTheMaximumDelay() {
        var scenario = JitterScenario()
        var maxBuffered = 0
        scenario.run(packets: 3000, sendInterval: 19_800_000, quiet: false, delay: { _ in 5 * self.ms },
                     afterPull: { buffer, _ in maxBuffered = max(maxBuffered, buffer.bufferedFrames) })
        XCTAssertLessThanOrEqual(maxBuffered, scenario.buffer.configuration.maximumDelayFrames + 2)
        XCTAssertGreaterThan(scenario.buffer.counters.dropped, 0)
    }

    func testSlowSenderClockDriftIsAbsorbedByStretchingInQuiet() {
        var scenario = JitterScenario()
        // 1 % slow: we would run dry every 100 packets.
        scenario.run(packets: 3000, sendInterval: 20_200_000, delay: { _ in 5 * self.ms })
        let counters = scenario.buffer.counters
        XCTAssertGreaterThanOrEqual(counters.stretched, 20)
        // Stretching early keeps the buffer from running dry: few frames need concealing and
        // almost no packet arrives after its time.
        XCTAssertLessThanOrEqual(counters.late, 3, "\(counters)")
        XCTAssertEqual(Set(scenario.playedFrames).count, scenario.playedFrames.count)
        XCTAssertGreaterThanOrEqual(scenario.playedFrames.count, 2990)
    }

    func testTimestampWrapAndAStreamJump() {
        var buffer = JitterBuffer()
        let start = UInt32.max - 960 * 2 + 1
        var now: Int64 = 0
        var played: [[UInt8]] = []
        for i in 0..<10 {
            buffer.insert(timestamp: start &+ UInt32(i * 960), payload: [UInt8(i)], arrival: now)
            if case .packet(let p) = buffer.pull(now: now + 25 * ms) { played.append(p) }
            now += 20 * ms
        }
        XCTAssertEqual(played.first, [0])
        XCTAssertEqual(buffer.counters.late, 0)
        // The peer restarts with a new random timestamp base: the buffer starts over.
        for i in 0..<10 {
            buffer.insert(timestamp: 0x4000_0000 + UInt32(i * 960), payload: [UInt8(100 + i)], arrival: now)
            if case .packet(let p) = buffer.pull(now: now + 25 * ms) { played.append(p) }
            now += 20 * ms
        }
        XCTAssertEqual(buffer.counters.resets, 1)
        XCTAssertTrue(played.contains([105]))
    }
}

/// Streams as real senders shape them: timestamps that do not step by exactly one frame.
/// None of these may mute the stream (issue 13: GStreamer's second Opus packet is 648 ticks
/// after its first, and Dialtone stayed silent until a pause in the audio restarted playout).
final class JitterBufferTimelineTests: XCTestCase {
    let ms = JitterScenario.ms

    /// Packets played in each of the two halves of a 100-packet stream.
    func halves(_ scenario: JitterScenario) -> (Int, Int) {
        (Set(scenario.playedFrames.filter { $0 < 50 }).count, Set(scenario.playedFrames.filter { $0 >= 50 }).count)
    }

    func testAnIrregularFirstTimestampStepIsPlayedThrough() {
        var scenario = JitterScenario()
        // An encoder's look-ahead: the second packet is 648 ticks after the first, the rest 960.
        scenario.run(packets: 200, timestamp: { i in UInt32(1_000_000 + (i == 0 ? 0 : 648 + (i - 1) * 960)) },
                     delay: { _ in 5 * self.ms })
        XCTAssertEqual(scenario.playedFrames, Array(0..<200))
        XCTAssertEqual(scenario.buffer.counters.concealed, 0, "\(scenario.buffer.counters)")
        XCTAssertEqual(scenario.buffer.counters.late, 0)
    }

    func testATalkspurtResumingOffTheFrameGridIsPlayed() {
        // What a marker bit announces: after a pause of three frames (DTX, or audio replaced
        // by a telephone-event) the sender resumes on a timestamp that is not a whole number
        // of frames on. The buffer goes by the timestamps, the marker adds nothing it needs.
        var scenario = JitterScenario()
        scenario.run(packets: 100, timestamp: { i in UInt32(1_000_000 + i * 960 + (i >= 50 ? 3 * 960 + 333 : 0)) },
                     delay: { i in (i >= 50 ? 60 : 0) * self.ms + 5 * self.ms })
        // The frame before the talkspurt may come from its first packet's FEC: count packets.
        let packets = scenario.played.compactMap { decision -> Int? in
            if case .packet(let p) = decision { return JitterScenario.index(p) } else { return nil }
        }
        XCTAssertEqual(packets, Array(0..<100))
        XCTAssertEqual(scenario.buffer.counters.late, 0)
    }

    func testAForwardTimestampJumpDoesNotMuteTheStream() {
        // The peer restarts its stream further on, off the frame grid, without a pause.
        for jump in [20 * 960 + 123, 300 * 960 + 123, 0x4000_0000] {
            var scenario = JitterScenario()
            scenario.run(packets: 100, timestamp: { i in UInt32(truncatingIfNeeded: 1_000_000 + i * 960 + (i >= 50 ? jump : 0)) },
                         delay: { _ in 5 * self.ms })
            let (before, after) = halves(scenario)
            XCTAssertGreaterThanOrEqual(before, 48, "jump \(jump)")
            XCTAssertGreaterThanOrEqual(after, 48, "jump \(jump): \(scenario.buffer.counters)")
        }
    }

    func testABackwardTimestampJumpDoesNotMuteTheStream() {
        // The peer restarts its stream with earlier timestamps: a little, or far back.
        for jump in [3 * 960 + 123, 30 * 960 + 123, 300 * 960 + 123, 0x4000_0000] {
            var scenario = JitterScenario()
            scenario.run(packets: 100, timestamp: { i in UInt32(truncatingIfNeeded: 3_000_000_000 + i * 960 - (i >= 50 ? jump : 0)) },
                         delay: { _ in 5 * self.ms })
            let (before, after) = halves(scenario)
            XCTAssertGreaterThanOrEqual(before, 48, "jump \(jump)")
            // A jump back by less than the maximum delay is taken for late packets until the
            // playout runs dry: a short dropout, then it starts over. Further back, the second
            // packet continuing from the first starts a new timeline.
            let lost = jump < scenario.buffer.configuration.maximumDelayFrames * 960
                ? scenario.buffer.configuration.maximumConcealedFrames + 2 : 1
            XCTAssertGreaterThanOrEqual(after, 50 - lost, "jump \(jump): \(scenario.buffer.counters)")
        }
    }

    func testANewSSRCStartsItsOwnTimelineAtOnce() {
        // The new source's timestamps happen to be just behind the old one's: without
        // starting over they would all be late until a pause.
        var scenario = JitterScenario()
        var gap = 0, longestGap = 0
        scenario.run(packets: 100, timestamp: { i in UInt32(1_000_000 + i * 960 - (i >= 50 ? 4 * 960 + 123 : 0)) },
                     ssrc: { $0 >= 50 ? 0xBEEF : 0xCAFE }, delay: { _ in 5 * self.ms })
        for decision in scenario.played {
            if case .packet = decision { gap = 0 } else { gap += 1 }
            longestGap = max(longestGap, gap)
        }
        XCTAssertEqual(scenario.playedFrames, Array(0..<100))
        XCTAssertEqual(scenario.buffer.counters.resets, 1)
        // The new stream carries on where the old one ends: no gap at all.
        XCTAssertEqual(longestGap, 1)   // the start-up frame, before the first packet plays
    }

    func testADelayStepDuringSpeechCostsOneConcealedFrameNotAGap() {
        // The sender (or the path) falls behind by a little more than a frame for good, in the
        // middle of speech: GStreamer's peer did so a quarter of a second into a call. The
        // packet the buffer just concealed arrives a moment later; played then, the
        // concealment becomes one frame of added delay. Dropped as late, every packet after
        // it came just after its turn too, and five concealed frames ran into silence.
        var scenario = JitterScenario()
        scenario.run(packets: 200, quiet: false, delay: { i in (i < 50 ? 5 : 30) * self.ms })
        let counters = scenario.buffer.counters
        XCTAssertEqual(scenario.playedFrames, Array(0..<200), "\(counters)")
        XCTAssertEqual(counters.concealed, 1, "\(counters)")
        XCTAssertEqual(counters.late, 0, "\(counters)")
        let afterStart = scenario.played.drop { $0 == .silence }
        XCTAssertFalse(afterStart.contains(.silence), "no silence once playing: \(counters)")
    }

    func testAPacketLateForAFrameThatWasNotConcealedIsStillDropped() {
        // FEC from the next packet already stood in for it: playing it too would repeat audio.
        var scenario = JitterScenario()
        scenario.run(packets: 100, quiet: false, delay: { i in (i == 40 ? 50 : 5) * self.ms })
        XCTAssertEqual(scenario.buffer.counters.fecRecovered, 1)
        XCTAssertEqual(scenario.buffer.counters.late, 1)
        XCTAssertEqual(scenario.playedFrames, Array(0..<100))
    }
}
