/// What the playback thread should do for the next frame.
public enum PlayoutDecision: Sendable, Equatable {
    /// Decode this packet.
    case packet([UInt8])
    /// The frame is missing but the next one is here: decode its in-band FEC.
    case fec(next: [UInt8])
    /// Missing with no FEC source: packet loss concealment.
    case conceal
    /// Nothing to play yet (before the first packet, or long after the last): silence.
    case silence
}

public struct JitterBufferConfiguration: Sendable, Equatable {
    /// RTP timestamp ticks per frame (960 = 20 ms at 48 kHz).
    public var frameTicks: Int = 960
    public var clockRate: Int = 48_000
    public var minimumDelayFrames: Int = 1
    /// Above this, frames are dropped even in speech: latency matters more than one glitch.
    public var maximumDelayFrames: Int = 10
    /// Ring capacity in frames; packets further ahead than this are treated as a stream jump.
    public var capacity: Int = 64
    /// Concealed frames before a silent gap (DTX or a dead peer) becomes plain silence.
    public var maximumConcealedFrames: Int = 5

    public init() {}

    public var frameNanoseconds: Int64 { Int64(frameTicks) * 1_000_000_000 / Int64(clockRate) }
}

public struct JitterBufferCounters: Sendable, Equatable {
    public var inserted = 0
    public var late = 0
    public var duplicates = 0
    public var played = 0
    public var fecRecovered = 0
    public var concealed = 0
    /// Frames skipped to shorten the delay (drift from a fast sender, or jitter that calmed down).
    public var dropped = 0
    /// Frames of concealment added to lengthen the delay (a slow sender).
    public var stretched = 0
    public var resets = 0
}

/// An adaptive jitter buffer for fixed-duration frames, driven by an explicit clock (monotonic
/// nanoseconds passed in), so tests can script arrival and playout times exactly.
///
/// The target delay follows the spread of packet delays: each packet's delay relative to the
/// quickest recent one is tracked as a decaying peak, and the target is that peak in frames
/// plus one, never below `minimumDelayFrames` — one frame on a clean network. The buffer
/// moves towards the target by dropping a frame or adding a concealed one, preferably while
/// the caller reports quiet audio, where the change cannot be heard; that also absorbs clock
/// drift between the two ends.
///
/// Slots are preallocated; in steady state inserting and pulling reuse them.
public struct JitterBuffer: Sendable {
    public let configuration: JitterBufferConfiguration
    public private(set) var counters = JitterBufferCounters()

    private struct Slot {
        var timestamp: Int64 = -1
        var payload: [UInt8] = []
    }
    private var slots: [Slot]
    private var started = false
    private var playTimestamp: Int64 = 0
    private var lastTimestamp: Int64?   // extended, of the most recent packet inserted
    private var lastTimestampRaw: UInt32 = 0
    private var highestTimestamp: Int64 = 0
    private var firstArrival: Int64?
    private var concealedInARow = 0

    // Delay tracking: a ring of recent relative delays to find the quickest.
    private var delays: [Int64]
    private var delayCount = 0
    private var delayIndex = 0
    private var peakSpread: Double = 0
    private var overTargetPulls = 0
    private var underTargetPulls = 0

    public init(configuration: JitterBufferConfiguration = JitterBufferConfiguration()) {
        self.configuration = configuration
        slots = (0..<configuration.capacity).map { _ in
            var slot = Slot()
            slot.payload.reserveCapacity(1500)
            return slot
        }
        delays = [Int64](repeating: 0, count: 128)
    }

    /// Current target delay in frames.
    public var targetFrames: Int {
        let frame = Double(configuration.frameNanoseconds)
        // A spread under 2 ms is timer noise, not worth a frame of delay.
        let frames = Int(max(0, (peakSpread - 2e6) / frame).rounded(.up)) + 1
        return min(configuration.maximumDelayFrames, max(configuration.minimumDelayFrames, frames))
    }

    /// Frames buffered from the playout point up to the newest packet.
    public var bufferedFrames: Int {
        guard started, let _ = lastTimestamp else { return 0 }
        return max(0, Int((highestTimestamp - playTimestamp) / Int64(configuration.frameTicks)) + 1)
    }

    /// Measured delay spread (jitter as this buffer sees it), in milliseconds.
    public var delaySpreadMilliseconds: Double { peakSpread / 1e6 }

    public mutating func insert(timestamp raw: UInt32, payload: UnsafeRawBufferPointer, arrival: Int64) {
        let timestamp = extend(raw)
        let frameTicks = Int64(configuration.frameTicks)
        if started {
            if timestamp < playTimestamp {
                counters.late += 1
                return
            }
            if timestamp - playTimestamp >= Int64(configuration.capacity) * frameTicks {
                reset()
                _ = extendAfterReset(raw)
                return insertFresh(timestamp: Int64(raw), payload: payload, arrival: arrival)
            }
        } else if let first = firstBuffered(), timestamp - first >= Int64(configuration.capacity) * frameTicks || first - timestamp >= Int64(configuration.capacity) * frameTicks {
            reset()
            _ = extendAfterReset(raw)
            return insertFresh(timestamp: Int64(raw), payload: payload, arrival: arrival)
        }
        insertFresh(timestamp: timestamp, payload: payload, arrival: arrival)
    }

    public mutating func insert(timestamp: UInt32, payload: [UInt8], arrival: Int64) {
        payload.withUnsafeBytes { insert(timestamp: timestamp, payload: $0, arrival: arrival) }
    }

    private mutating func insertFresh(timestamp: Int64, payload: UnsafeRawBufferPointer, arrival: Int64) {
        let index = slotIndex(timestamp)
        if slots[index].timestamp == timestamp {
            counters.duplicates += 1
            return
        }
        slots[index].timestamp = timestamp
        slots[index].payload.removeAll(keepingCapacity: true)
        slots[index].payload.append(contentsOf: payload)
        counters.inserted += 1
        if !started && firstArrival == nil { firstArrival = arrival }
        highestTimestamp = max(highestTimestamp, timestamp)
        trackDelay(timestamp: timestamp, arrival: arrival)
    }

    /// Called once per frame period by the playback clock. `quiet` says the last decoded frame
    /// was near silence, so dropping or adding a frame now would not be heard.
    public mutating func pull(now: Int64, quiet: Bool = false) -> PlayoutDecision {
        let frameTicks = Int64(configuration.frameTicks)
        if !started {
            // Wait one target delay after the first packet: then the packet after the one
            // being played is normally here, which is what lets FEC repair a single loss.
            guard let first = firstBuffered(), let firstArrival,
                  now - firstArrival >= Int64(targetFrames) * configuration.frameNanoseconds else {
                return .silence
            }
            started = true
            playTimestamp = first
        }

        if adapt(quiet: quiet) {
            counters.stretched += 1
            return .conceal
        }

        let index = slotIndex(playTimestamp)
        if slots[index].timestamp == playTimestamp {
            slots[index].timestamp = -1
            playTimestamp += frameTicks
            counters.played += 1
            concealedInARow = 0
            return .packet(slots[index].payload)
        }
        let nextIndex = slotIndex(playTimestamp + frameTicks)
        playTimestamp += frameTicks
        if slots[nextIndex].timestamp == playTimestamp {
            counters.fecRecovered += 1
            concealedInARow = 0
            return .fec(next: slots[nextIndex].payload)
        }
        concealedInARow += 1
        if concealedInARow > configuration.maximumConcealedFrames {
            if highestTimestamp < playTimestamp {
                // The stream paused (DTX, hold or a dead peer): start over with the next packet,
                // so that it is played after the target delay rather than counted late.
                started = false
                firstArrival = nil
            }
            return .silence
        }
        counters.concealed += 1
        return .conceal
    }

    // MARK: Adaptation

    /// Moves the delay towards the target; returns true when this pull should play an extra
    /// concealed frame instead of advancing (stretching the delay by one frame).
    private mutating func adapt(quiet: Bool) -> Bool {
        // `bufferedFrames` counts the frame about to play, so on target it is target + 1.
        let buffered = bufferedFrames
        let target = targetFrames
        if buffered > target + 2 { overTargetPulls += 1 } else { overTargetPulls = 0 }
        if buffered < target { underTargetPulls += 1 } else { underTargetPulls = 0 }

        // Far too much buffered: drop whatever it costs.
        if buffered > configuration.maximumDelayFrames + 1 {
            dropFrames(buffered - target - 1)
            overTargetPulls = 0
            return false
        }
        // Off target for a while (so one burst or one late packet does not trigger it):
        // one frame at a time, only in quiet.
        guard quiet else { return false }
        if overTargetPulls >= 10 {
            dropFrames(1)
            overTargetPulls = 0
        } else if underTargetPulls >= 10 {
            underTargetPulls = 0
            return true
        }
        return false
    }

    private mutating func dropFrames(_ count: Int) {
        let frameTicks = Int64(configuration.frameTicks)
        for _ in 0..<count {
            let index = slotIndex(playTimestamp)
            if slots[index].timestamp == playTimestamp { slots[index].timestamp = -1 }
            playTimestamp += frameTicks
            counters.dropped += 1
        }
    }

    private mutating func trackDelay(timestamp: Int64, arrival: Int64) {
        // Delay relative to the sender's clock: arrival minus media time. Its offset is
        // unknown and irrelevant; only the spread above the quickest recent packet counts.
        let mediaNanoseconds = timestamp * 1_000_000_000 / Int64(configuration.clockRate)
        let delay = arrival - mediaNanoseconds
        delays[delayIndex] = delay
        delayIndex = (delayIndex + 1) % delays.count
        delayCount = min(delayCount + 1, delays.count)
        var quickest = Int64.max
        for i in 0..<delayCount where delays[i] < quickest { quickest = delays[i] }
        let spread = Double(delay - quickest)
        // Decays to about a third over 4 s at 50 packets/s: the delay comes down again once
        // the network calms, but not between two bursts.
        peakSpread = max(spread, peakSpread * 0.995)
    }

    // MARK: Helpers

    private func slotIndex(_ timestamp: Int64) -> Int {
        let frame = timestamp / Int64(configuration.frameTicks)
        let capacity = Int64(configuration.capacity)
        return Int(((frame % capacity) + capacity) % capacity)
    }

    private func firstBuffered() -> Int64? {
        var first: Int64?
        for slot in slots where slot.timestamp >= 0 {
            if first == nil || slot.timestamp < first! { first = slot.timestamp }
        }
        return first
    }

    /// RTP timestamps wrap at 2^32; extend them relative to the previous packet.
    private mutating func extend(_ raw: UInt32) -> Int64 {
        guard let last = lastTimestamp else {
            lastTimestamp = Int64(raw)
            lastTimestampRaw = raw
            return Int64(raw)
        }
        let delta = Int64(Int32(bitPattern: raw &- lastTimestampRaw))
        let extended = last + delta
        if delta > 0 {
            lastTimestamp = extended
            lastTimestampRaw = raw
        }
        return extended
    }

    private mutating func extendAfterReset(_ raw: UInt32) -> Int64 {
        lastTimestamp = Int64(raw)
        lastTimestampRaw = raw
        highestTimestamp = Int64(raw)
        return Int64(raw)
    }

    private mutating func reset() {
        for i in slots.indices { slots[i].timestamp = -1 }
        started = false
        firstArrival = nil
        lastTimestamp = nil
        delayCount = 0
        delayIndex = 0
        peakSpread = 0
        counters.resets += 1
    }
}
