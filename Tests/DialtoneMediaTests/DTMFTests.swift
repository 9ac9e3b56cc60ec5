@testable import DialtoneMedia
import XCTest

final class DTMFTests: XCTestCase {
    func testPayloadCodec() {
        let event = TelephoneEvent(event: 11, end: true, volume: 10, duration: 3200)
        XCTAssertEqual(event.encode(), [11, 0x8A, 0x0C, 0x80])
        XCTAssertEqual(TelephoneEvent.parse(event.encode()), event)
        XCTAssertNil(TelephoneEvent.parse([1, 2]))
        XCTAssertEqual(TelephoneEvent.code(for: "#"), 11)
        XCTAssertEqual(TelephoneEvent.code(for: "D"), 15)
        XCTAssertEqual(TelephoneEvent.digit(for: 10), "*")
        XCTAssertEqual(TelephoneEvent.digit(for: 7), "7")
        XCTAssertNil(TelephoneEvent.code(for: "x"))
    }

    /// One digit at the defaults: 400 ms at volume 10, marker on the first packet, one
    /// timestamp for all, three end packets, then 100 ms before the next digit.
    func testPacketizerFollowsRFC4733() {
        var sender = DTMFSender()
        XCTAssertEqual(sender.send("1#x"), ["x"])
        var timestamp: UInt32 = 5000
        var ticks: [(UInt32, DTMFPacket?)] = []
        for _ in 0..<60 {
            ticks.append((timestamp, sender.tick(timestamp: timestamp)))
            timestamp &+= 960   // the audio timeline advances whether audio or DTMF goes out
        }
        let first = ticks.prefix(while: { $0.1 != nil }).map { $0.1! }
        XCTAssertEqual(first.count, 22)   // 20 ticks of tone + 2 repeats of the end packet
        XCTAssertTrue(first[0].marker)
        XCTAssertTrue(first.dropFirst().allSatisfy { !$0.marker })
        XCTAssertTrue(first.allSatisfy { $0.timestamp == 5000 && $0.payload.event == 1 && $0.payload.volume == 10 })
        XCTAssertEqual(first.map(\.payload.duration).prefix(3), [960, 1920, 2880])
        let ends = first.filter(\.payload.end)
        XCTAssertEqual(ends.count, 3)
        XCTAssertTrue(ends.allSatisfy { $0.payload.duration == 19200 })   // 400 ms at 48 kHz
        XCTAssertEqual(first.map(\.payload.duration), first.map(\.payload.duration).sorted())
        // The gap: audio ticks until 100 ms after the tone ended (20 ticks), then '#'.
        let secondStart = ticks.firstIndex { $0.1?.payload.event == 11 }!
        XCTAssertEqual(secondStart, 25)
        XCTAssertTrue(ticks[22..<25].allSatisfy { $0.1 == nil })
        XCTAssertEqual(ticks[secondStart].1?.timestamp, ticks[secondStart].0)
        XCTAssertTrue(ticks[secondStart].1!.marker)
        XCTAssertTrue(ticks[(secondStart + 22)...].allSatisfy { $0.1 == nil })
        XCTAssertTrue(sender.isIdle)
    }

    func testEightKilohertzClock() {
        var sender = DTMFSender(clockRate: 8000, toneMilliseconds: 100)
        sender.send("5")
        var packets: [DTMFPacket] = []
        for tick in 0..<10 { if let p = sender.tick(timestamp: UInt32(tick * 160)) { packets.append(p) } }
        XCTAssertEqual(packets.count, 7)
        XCTAssertEqual(packets.last?.payload.duration, 800)
    }

    func testReceiverReportsEachDigitOnceDespiteRepeatsAndLoss() {
        var sender = DTMFSender()
        sender.send("123")
        var receiver = DTMFReceiver()
        var heard: [Character] = []
        var timestamp: UInt32 = 0
        var count = 0
        while !sender.isIdle {
            if let packet = sender.tick(timestamp: timestamp) {
                count += 1
                // Lose the first packet of each event (the marker) and every third packet.
                if !packet.marker && count % 3 != 0, let digit = receiver.receive(packet.payload.encode(), timestamp: packet.timestamp) {
                    heard.append(digit)
                }
            }
            timestamp &+= 960
        }
        XCTAssertEqual(heard, ["1", "2", "3"])
        XCTAssertNil(receiver.receive([200, 0, 0, 0], timestamp: 1))   // not a DTMF event
    }
}

extension DTMFTests {
    func testTheSendQueueIsBounded() {
        var sender = DTMFSender()
        let rejected = sender.send(String(repeating: "1", count: DTMFSender.maximumQueued + 10) + "x")
        XCTAssertEqual(rejected.count, 11, "ten that do not fit and one that is no digit")
    }
}
