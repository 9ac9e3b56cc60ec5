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
    /// New timelines: a new SSRC, or a jump in the sender's timestamps.
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
/// Packets are placed by frame number, not by exact timestamp: a timestamp is rounded to the
/// nearest frame on the grid of the newest packet. Senders do not always step by exactly one
/// frame (GStreamer's Opus encoder puts its second packet 648 ticks after the first, for its
/// look-ahead; a talkspurt may resume anywhere), and a buffer that waits for the exact next
/// timestamp would wait for ever. A jump far ahead or far back (a peer restarting its
/// stream) and a new SSRC start a new timeline, which carries on right after the old one.
///
/// A packet that arrives just after its frame was concealed is played next, the concealment
/// standing as one frame of added delay: a sender or path that falls behind for good (by a
/// frame, mid-speech, where the buffer cannot stretch unheard) costs one concealed frame
/// rather than every later packet arriving just too late.
///
/// Slots are preallocated; in steady state inserting and pulling reuse them.
public struct JitterBuffer: Sendable {
    public let configuration: JitterBufferConfiguration
    public private(set) var counters = JitterBufferCounters()

    private static let empty = Int64.min
    private struct Slot {
        var frame: Int64 = JitterBuffer.empty
        var payload: [UInt8] = []
    }
    private var slots: [Slot]
    private var started = false
    private var playFrame: Int64 = 0
    /// The newest packet's extended timestamp (nil until one arrives after a reset) and the
    /// grid it sets: frame n starts at `anchor + n × frameTicks`.
    private var lastTimestamp: Int64?
    private var lastTimestampRaw: UInt32 = 0
    private var anchor: Int64 = 0
    private var highestFrame: Int64 = JitterBuffer.empty
    private var source: UInt32?
    /// A packet far behind the playout point: if the next one continues from it, the sender
    /// went back in time (a restarted stream) rather than one packet straying.
    private var stray: (frame: Int64, arrival: Int64)?
    private var firstArrival: Int64?
    private var concealedInARow = 0
    /// The frame the last pull concealed (its packet missing, no FEC for it), until another
    /// decision: if that packet turns up now, it was late by a little, not lost.
    private var concealedFrame: Int64?

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
        guard started, highestFrame != Self.empty else { return 0 }
        return max(0, Int(highestFrame - playFrame) + 1)
    }

    /// Measured delay spread (jitter as this buffer sees it), in milliseconds.
    public var delaySpreadMilliseconds: Double { peakSpread / 1e6 }

    /// Takes in one audio packet. `ssrc` names the sender's stream: a new one starts over.
    public mutating func insert(timestamp raw: UInt32, ssrc: UInt32 = 0, payload: UnsafeRawBufferPointer, arrival: Int64) {
        if source != ssrc {
            if source != nil { newTimeline() }
            source = ssrc
        }
        var frame = locate(raw)
        let capacity = Int64(configuration.capacity)
        if started {
            if frame < playFrame, frame == concealedFrame, frame == playFrame - 1 {
                // Just missed: played next, so that the concealment stands as one frame of
                // added delay. Dropped, every later packet of a sender or path that fell
                // behind for good would miss its turn too, and the audio would go silent.
                playFrame = frame
                concealedFrame = nil
                counters.stretched += 1
                stray = nil
                insertFresh(frame: frame, payload: payload, arrival: arrival)
                return
            }
            if frame < playFrame {
                guard playFrame - frame > Int64(configuration.maximumDelayFrames), let previous = stray,
                      (1...2).contains(frame - previous.frame),
                      arrival - previous.arrival >= configuration.frameNanoseconds / 2 else {
                    // Too late to play. Remembered in case the stream went back in time:
                    // two such packets in a row, paced like a stream and not like a burst
                    // held up by the network, are the new timeline.
                    stray = playFrame - frame > Int64(configuration.maximumDelayFrames) ? (frame, arrival) : nil
                    counters.late += 1
                    return
                }
                newTimeline()
                frame = locate(raw)
            } else if frame - playFrame >= capacity {
                newTimeline()
                frame = locate(raw)
            }
        } else if highestFrame != Self.empty, let first = firstBuffered(),
                  frame - first >= capacity || highestFrame - frame >= capacity {
            newTimeline()
            frame = locate(raw)
        }
        stray = nil
        insertFresh(frame: frame, payload: payload, arrival: arrival)
    }

    public mutating func insert(timestamp: UInt32, ssrc: UInt32 = 0, payload: [UInt8], arrival: Int64) {
        payload.withUnsafeBytes { insert(timestamp: timestamp, ssrc: ssrc, payload: $0, arrival: arrival) }
    }

    private mutating func insertFresh(frame: Int64, payload: UnsafeRawBufferPointer, arrival: Int64) {
        let index = slotIndex(frame)
        if slots[index].frame == frame {
            counters.duplicates += 1
            return
        }
        slots[index].frame = frame
        slots[index].payload.removeAll(keepingCapacity: true)
        slots[index].payload.append(contentsOf: payload)
        counters.inserted += 1
        if !started && firstArrival == nil { firstArrival = arrival }
        highestFrame = max(highestFrame, frame)
        trackDelay(frame: frame, arrival: arrival)
    }

    /// Called once per frame period by the playback clock. `quiet` says the last decoded frame
    /// was near silence, so dropping or adding a frame now would not be heard.
    public mutating func pull(now: Int64, quiet: Bool = false) -> PlayoutDecision {
        if !started {
            // Wait one target delay after the first packet: then the packet after the one
            // being played is normally here, which is what lets FEC repair a single loss.
            guard let first = firstBuffered(), let firstArrival,
                  now - firstArrival >= Int64(targetFrames) * configuration.frameNanoseconds else {
                return .silence
            }
            started = true
            playFrame = first
        }

        concealedFrame = nil
        if adapt(quiet: quiet) {
            counters.stretched += 1
            return .conceal
        }

        let index = slotIndex(playFrame)
        if slots[index].frame == playFrame {
            slots[index].frame = Self.empty
            playFrame += 1
            counters.played += 1
            concealedInARow = 0
            return .packet(slots[index].payload)
        }
        playFrame += 1
        let nextIndex = slotIndex(playFrame)
        if slots[nextIndex].frame == playFrame {
            counters.fecRecovered += 1
            concealedInARow = 0
            return .fec(next: slots[nextIndex].payload)
        }
        concealedInARow += 1
        if concealedInARow > configuration.maximumConcealedFrames {
            if highestFrame < playFrame {
                // The stream paused (DTX, hold or a dead peer): start over with the next packet,
                // so that it is played after the target delay rather than counted late.
                started = false
                firstArrival = nil
                highestFrame = Self.empty
            }
            return .silence
        }
        counters.concealed += 1
        concealedFrame = playFrame - 1
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

    /// At most `capacity` frames: nothing is buffered further ahead than that.
    private mutating func dropFrames(_ count: Int) {
        for _ in 0..<min(count, configuration.capacity) {
            let index = slotIndex(playFrame)
            if slots[index].frame == playFrame { slots[index].frame = Self.empty }
            playFrame += 1
            counters.dropped += 1
        }
    }

    private mutating func trackDelay(frame: Int64, arrival: Int64) {
        // Delay relative to the sender's clock: arrival minus media time. Its offset is
        // unknown and irrelevant; only the spread above the quickest recent packet counts.
        // Media time is the frame's place on the grid, so an irregular step in the sender's
        // timestamps does not read as jitter.
        let delay = arrival - frame * configuration.frameNanoseconds
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

    // MARK: Timeline

    /// The frame a timestamp belongs to. RTP timestamps wrap at 2^32: they are extended
    /// relative to the newest packet, and the newest packet sets the grid, so that a sender
    /// that stepped by other than a whole frame goes on from where it is.
    private mutating func locate(_ raw: UInt32) -> Int64 {
        let ticks = Int64(configuration.frameTicks)
        guard let last = lastTimestamp else {
            var frame = started ? playFrame : 0
            if highestFrame != Self.empty { frame = max(frame, highestFrame + 1) }
            lastTimestamp = Int64(raw)
            lastTimestampRaw = raw
            anchor = Int64(raw) - frame * ticks
            return frame
        }
        let delta = Int64(Int32(bitPattern: raw &- lastTimestampRaw))
        let timestamp = last + delta
        let offset = timestamp - anchor + ticks / 2
        // Rounded to the nearest frame; floor division, as offsets before the anchor are negative.
        let frame = offset >= 0 ? offset / ticks : -((-offset + ticks - 1) / ticks)
        if delta > 0 {
            lastTimestamp = timestamp
            lastTimestampRaw = raw
            anchor = timestamp - frame * ticks
        }
        return frame
    }

    private func slotIndex(_ frame: Int64) -> Int {
        let capacity = Int64(configuration.capacity)
        return Int(((frame % capacity) + capacity) % capacity)
    }

    private func firstBuffered() -> Int64? {
        var first: Int64?
        for slot in slots where slot.frame != Self.empty {
            if first == nil || slot.frame < first! { first = slot.frame }
        }
        return first
    }

    /// A new timeline (a new SSRC, or the sender's timestamps jumped): its first packet goes
    /// right after what is buffered of the old one, which still plays, so the switch makes
    /// no gap. Delays measured on the old timeline say nothing of the new one's offset.
    private mutating func newTimeline() {
        lastTimestamp = nil
        stray = nil
        concealedFrame = nil
        delayCount = 0
        delayIndex = 0
        counters.resets += 1
    }
}
