/// RFC 4733 telephone-event payload (section 2.3): event, end bit, volume, duration.
public struct TelephoneEvent: Sendable, Equatable {
    public var event: UInt8
    public var end: Bool
    /// Power level in -dBm0, 0...63.
    public var volume: UInt8
    /// In RTP timestamp units since the event's start.
    public var duration: UInt16

    public init(event: UInt8, end: Bool, volume: UInt8, duration: UInt16) {
        self.event = event
        self.end = end
        self.volume = volume
        self.duration = duration
    }

    public func encode() -> [UInt8] {
        [event, (end ? 0x80 : 0) | (volume & 0x3F), UInt8(duration >> 8), UInt8(truncatingIfNeeded: duration)]
    }

    public static func parse(_ bytes: [UInt8]) -> TelephoneEvent? {
        guard bytes.count >= 4 else { return nil }
        return TelephoneEvent(event: bytes[0], end: bytes[1] & 0x80 != 0, volume: bytes[1] & 0x3F,
                              duration: UInt16(bytes[2]) << 8 | UInt16(bytes[3]))
    }

    /// RFC 4733 3.2: 0–9, then *, #, A–D.
    public static func code(for digit: Character) -> UInt8? {
        switch digit {
        case "0"..."9": return UInt8(digit.asciiValue! - UInt8(ascii: "0"))
        case "*": return 10
        case "#": return 11
        case "A", "a": return 12
        case "B", "b": return 13
        case "C", "c": return 14
        case "D", "d": return 15
        default: return nil
        }
    }

    public static func digit(for code: UInt8) -> Character? {
        switch code {
        case 0...9: return Character(UnicodeScalar(UInt8(ascii: "0") + code))
        case 10: return "*"
        case 11: return "#"
        case 12...15: return Character(UnicodeScalar(UInt8(ascii: "A") + code - 12))
        default: return nil
        }
    }
}

/// What the sender puts on the wire for one frame tick while DTMF is active.
public struct DTMFPacket: Sendable, Equatable {
    public var payload: TelephoneEvent
    /// RTP timestamp: the event's start, the same for every packet of the event.
    public var timestamp: UInt32
    /// Set on the first packet of an event.
    public var marker: Bool
}

/// Turns queued digits into telephone-event packets, one per audio frame tick, so the send
/// loop can interleave them with audio on one RTP timeline: while an event is on, the tick
/// sends its packet instead of audio; the audio timestamp keeps advancing underneath, so
/// audio resumes at the right time and the event's timestamp is where its tone began.
public struct DTMFSender: Sendable {
    public var toneMilliseconds: Int
    public var gapMilliseconds: Int
    public var volume: UInt8
    /// Clock rate of the telephone-event payload (the same as the audio's stream, since they
    /// share one SSRC and timeline).
    public let clockRate: Int
    public let frameMilliseconds: Int

    private var queue: [UInt8] = []
    private var current: (code: UInt8, start: UInt32, ticks: Int)?
    private var endSent = 0
    private var gapTicksLeft = 0

    public init(clockRate: Int = 48_000, frameMilliseconds: Int = 20, toneMilliseconds: Int = 400,
                gapMilliseconds: Int = 100, volume: UInt8 = 10) {
        self.clockRate = clockRate
        self.frameMilliseconds = frameMilliseconds
        self.toneMilliseconds = toneMilliseconds
        self.gapMilliseconds = gapMilliseconds
        self.volume = volume
    }

    /// Digits waiting at most: about half a minute of tones at the default timing.
    public static let maximumQueued = 64

    /// Queues digits; characters that are not DTMF digits, and digits beyond
    /// `maximumQueued` waiting, are left out and returned.
    @discardableResult
    public mutating func send(_ digits: String) -> [Character] {
        var rejected: [Character] = []
        for digit in digits {
            if let code = TelephoneEvent.code(for: digit), queue.count < Self.maximumQueued {
                queue.append(code)
            } else {
                rejected.append(digit)
            }
        }
        return rejected
    }

    public var isIdle: Bool { queue.isEmpty && current == nil && gapTicksLeft == 0 }

    /// Called every frame tick with the RTP timestamp the audio frame of this tick would have.
    /// Returns the event packet to send instead of audio, or nil to send audio.
    public mutating func tick(timestamp: UInt32) -> DTMFPacket? {
        let frameTicks = clockRate * frameMilliseconds / 1000
        let toneTicks = max(1, toneMilliseconds / frameMilliseconds)
        if var event = current {
            event.ticks += 1
            current = event
            if event.ticks < toneTicks {
                let duration = UInt16(clamping: event.ticks * frameTicks + frameTicks)
                let end = event.ticks + 1 == toneTicks
                if end { endSent = 1 }
                return DTMFPacket(payload: TelephoneEvent(event: event.code, end: end, volume: volume, duration: duration),
                                  timestamp: event.start, marker: false)
            }
            // RFC 4733 2.5.1.4: the final packet goes out three times in all, for loss.
            let duration = UInt16(clamping: toneTicks * frameTicks)
            endSent += 1
            if endSent >= 3 {
                current = nil
                gapTicksLeft = max(0, gapMilliseconds / frameMilliseconds - 2)
            }
            return DTMFPacket(payload: TelephoneEvent(event: event.code, end: true, volume: volume, duration: duration),
                              timestamp: event.start, marker: false)
        }
        if gapTicksLeft > 0 {
            gapTicksLeft -= 1
            return nil
        }
        guard !queue.isEmpty else { return nil }
        let code = queue.removeFirst()
        current = (code, timestamp, 0)
        endSent = 0
        let end = toneTicks == 1
        if end { endSent = 1 }
        return DTMFPacket(payload: TelephoneEvent(event: code, end: end, volume: volume, duration: UInt16(clamping: frameTicks)),
                          timestamp: timestamp, marker: true)
    }
}

/// Reports each received event once, however many of its packets arrive (repeats,
/// three end packets, or only some of them after loss). An event is known by its timestamp.
public struct DTMFReceiver: Sendable {
    private var recent: [UInt32] = []

    public init() {}

    public mutating func receive(_ payload: [UInt8], timestamp: UInt32) -> Character? {
        guard let event = TelephoneEvent.parse(payload), let digit = TelephoneEvent.digit(for: event.event) else { return nil }
        guard !recent.contains(timestamp) else { return nil }
        recent.append(timestamp)
        if recent.count > 16 { recent.removeFirst() }
        return digit
    }
}
