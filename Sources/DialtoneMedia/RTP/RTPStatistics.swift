/// What the UI shows about a call's media, refreshed whenever it asks.
public struct CallStatistics: Sendable, Equatable {
    public var codec: String
    public var packetsSent: UInt64 = 0
    public var packetsReceived: UInt64 = 0
    /// Cumulative, as counted by our receiver (RFC 3550 A.3).
    public var packetsLost: Int64 = 0
    /// Loss seen by the peer, from its last report about us; 0...1.
    public var remoteFractionLost: Double = 0
    /// Our receiver's loss over the last report interval; 0...1.
    public var fractionLost: Double = 0
    /// Interarrival jitter (RFC 3550 A.8) of what we receive, in milliseconds.
    public var jitterMilliseconds: Double = 0
    /// From the peer's last report block about us (LSR/DLSR); nil until one arrives.
    public var roundTripMilliseconds: Double? = nil
    public var sendBitrate: Double = 0
    public var receiveBitrate: Double = 0

    public init(codec: String) { self.codec = codec }
}

/// Extends 16-bit sequence numbers to 32 bits across wrap-around, following the validity
/// rules of RFC 3550 A.1 (dropout and misorder limits, resynchronising after a restart).
///
/// No probation period: SRTP authentication already keeps out stray packets, and with
/// probation the first packets of every call would be thrown away.
public struct SequenceExtender: Sendable {
    public static let maxDropout: UInt16 = 3000
    public static let maxMisorder: UInt16 = 100

    public private(set) var started = false
    public private(set) var maxSequence: UInt16 = 0
    /// Wraps counted so far, shifted by 16 bits (RFC 3550's `cycles`).
    public private(set) var cycles: UInt32 = 0
    public private(set) var baseSequence: UInt32 = 0
    private var badSequence: UInt32 = 0x1_0001   // impossible value: "none"
    /// Bumped on every (re)start, so that statistics built on top know to begin again.
    public private(set) var generation = 0

    public init() {}

    public var extendedMax: UInt32 { cycles &+ UInt32(maxSequence) }

    /// The extended sequence number of `sequence`, or nil when it is too far out to be
    /// trusted (the caller drops the packet). A second such packet continuing on from it is
    /// taken as a peer restart and resets the state.
    public mutating func extend(_ sequence: UInt16) -> UInt32? {
        guard started else {
            reset(to: sequence)
            return UInt32(sequence)
        }
        let delta = sequence &- maxSequence
        if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= 0x1_0000 }
            maxSequence = sequence
            return cycles &+ UInt32(sequence)
        } else if delta <= UInt16.max &- Self.maxMisorder {
            if UInt32(sequence) == badSequence {
                reset(to: sequence)
                return UInt32(sequence)
            }
            badSequence = UInt32(sequence &+ 1)
            return nil
        } else {
            // Reordered or duplicate: belongs to the current cycle, or the previous one if it
            // is "above" the maximum across the wrap.
            if sequence > maxSequence && cycles >= 0x1_0000 {
                return cycles &- 0x1_0000 &+ UInt32(sequence)
            }
            return cycles &+ UInt32(sequence)
        }
    }

    private mutating func reset(to sequence: UInt16) {
        started = true
        generation += 1
        maxSequence = sequence
        cycles = 0
        baseSequence = UInt32(sequence)
        badSequence = 0x1_0001
    }
}

/// Reception statistics of one remote source: loss (A.3) and interarrival jitter (A.8).
public struct ReceptionStatistics: Sendable {
    public let clockRate: UInt32
    public private(set) var sequence = SequenceExtender()
    public private(set) var received: UInt64 = 0
    public private(set) var receivedBytes: UInt64 = 0
    private var expectedPrior: UInt64 = 0
    private var receivedPrior: UInt64 = 0
    private var lastTransit: Int64? = nil
    /// Jitter scaled by 16, as A.8 keeps it to avoid rounding error in integer arithmetic.
    private var scaledJitter: Int64 = 0

    public init(clockRate: UInt32) { self.clockRate = clockRate }

    /// Records a packet; returns its extended sequence number, or nil if it should be dropped.
    /// `arrival` is in RTP timestamp units of any local clock that does not jump.
    @discardableResult
    public mutating func record(sequenceNumber: UInt16, rtpTimestamp: UInt32, arrival: UInt32, bytes: Int) -> UInt32? {
        let generation = sequence.generation
        guard let extended = sequence.extend(sequenceNumber) else { return nil }
        if sequence.generation != generation {
            // First packet, or a restart: counts begin again.
            received = 0
            receivedBytes = 0
            expectedPrior = 0
            receivedPrior = 0
            lastTransit = nil
        }
        received += 1
        receivedBytes += UInt64(bytes)
        // A.8: transit differences cancel the unknown clock offset; only its variation remains.
        let transit = Int64(Int32(bitPattern: arrival &- rtpTimestamp))
        if let lastTransit {
            let d = abs(transit - lastTransit)
            scaledJitter += d - ((scaledJitter + 8) >> 4)
        }
        lastTransit = transit
        return extended
    }

    public var expected: UInt64 {
        guard sequence.started else { return 0 }
        return UInt64(sequence.extendedMax) &- UInt64(sequence.baseSequence) &+ 1
    }

    public var cumulativeLost: Int64 { Int64(expected) - Int64(received) }

    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32 { UInt32(clamping: scaledJitter >> 4) }

    /// Builds the loss part of a report block and starts a new interval.
    public mutating func takeIntervalLoss() -> (fraction: UInt8, cumulative: Int32) {
        let expectedInterval = Int64(expected) - Int64(expectedPrior)
        let receivedInterval = Int64(received) - Int64(receivedPrior)
        expectedPrior = expected
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        let fraction: UInt8 = (expectedInterval == 0 || lostInterval <= 0) ? 0 : UInt8(min(255, (lostInterval << 8) / expectedInterval))
        return (fraction, Int32(clamping: max(-0x80_0000, min(0x7F_FFFF, cumulativeLost))))
    }
}

/// NTP time as RFC 3550 uses it: seconds since 1900 in the top 32 bits, fraction below.
public struct NTPTime: Sendable, Equatable {
    public var value: UInt64
    public init(_ value: UInt64) { self.value = value }

    /// From nanoseconds since the Unix epoch.
    public init(unixNanoseconds: UInt64) {
        let seconds = unixNanoseconds / 1_000_000_000 + 2_208_988_800
        let fraction = (unixNanoseconds % 1_000_000_000) << 32 / 1_000_000_000
        value = seconds << 32 | fraction
    }

    /// The middle 32 bits, the unit of LSR and of RTT arithmetic (1/65536 s).
    public var compact: UInt32 { UInt32(truncatingIfNeeded: value >> 16) }
}

/// RTCP for one call with rtcp-mux: our sender statistics, the remote source's reception
/// statistics, and what its reports tell us (RTT, its view of our loss).
///
/// Times come in as monotonic nanoseconds from the caller, so tests drive it with a fake
/// clock; `wallClockOffset` turns them into NTP for sender reports.
public struct RTCPSession: Sendable {
    public let localSSRC: UInt32
    public let clockRate: UInt32
    public var cname: String
    public var codec: String
    /// Added to monotonic nanoseconds to get Unix-epoch nanoseconds for NTP timestamps.
    public var wallClockOffset: UInt64

    public private(set) var remoteSSRC: UInt32?
    public private(set) var reception: ReceptionStatistics
    public private(set) var packetsSent: UInt32 = 0
    public private(set) var octetsSent: UInt32 = 0
    private var lastRTPTimestampSent: UInt32 = 0
    private var lastRTPSendTime: UInt64 = 0
    private var sentSinceLastReport = false
    /// From the last SR received: its compact NTP time and when it arrived.
    private var lastSRCompact: UInt32 = 0
    private var lastSRArrival: UInt64 = 0
    private var roundTrip: Double?
    private var remoteFractionLost: Double = 0
    private var fractionLost: Double = 0
    private var rateMark: (time: UInt64, sent: UInt64, received: UInt64)?
    private var totalSentBytes: UInt64 = 0
    private var sendBitrate: Double = 0
    private var receiveBitrate: Double = 0

    public init(localSSRC: UInt32, clockRate: UInt32, cname: String, codec: String, wallClockOffset: UInt64 = 0) {
        self.localSSRC = localSSRC
        self.clockRate = clockRate
        self.cname = cname
        self.codec = codec
        self.wallClockOffset = wallClockOffset
        reception = ReceptionStatistics(clockRate: clockRate)
    }

    public mutating func noteSent(rtpTimestamp: UInt32, payloadBytes: Int, now: UInt64) {
        packetsSent &+= 1
        octetsSent &+= UInt32(truncatingIfNeeded: payloadBytes)
        totalSentBytes &+= UInt64(payloadBytes)
        lastRTPTimestampSent = rtpTimestamp
        lastRTPSendTime = now
        sentSinceLastReport = true
    }

    /// Returns the extended sequence number, or nil when the packet is to be dropped.
    @discardableResult
    public mutating func noteReceived(_ header: RTPHeader, payloadBytes: Int, now: UInt64) -> UInt32? {
        if remoteSSRC != header.ssrc {
            remoteSSRC = header.ssrc
            reception = ReceptionStatistics(clockRate: clockRate)
        }
        let arrival = UInt32(truncatingIfNeeded: now / 1000 * UInt64(clockRate) / 1_000_000)
        return reception.record(sequenceNumber: header.sequenceNumber, rtpTimestamp: header.timestamp,
                                arrival: arrival, bytes: payloadBytes)
    }

    /// A compound packet: SR if we sent media since the last report, else RR; then SDES CNAME.
    public mutating func makeReport(now: UInt64) -> [UInt8] {
        var blocks: [RTCPReportBlock] = []
        if let remote = remoteSSRC {
            let loss = reception.takeIntervalLoss()
            fractionLost = Double(loss.fraction) / 256
            // Saturating: the receive thread may have stamped the SR's arrival just after the
            // sending thread read its clock.
            let held = now > lastSRArrival ? now - lastSRArrival : 0
            let delay = UInt32(truncatingIfNeeded: held * 65536 / 1_000_000_000)
            blocks.append(RTCPReportBlock(
                ssrc: remote, fractionLost: loss.fraction, cumulativeLost: loss.cumulative,
                extendedHighestSequence: reception.sequence.extendedMax, jitter: reception.jitter,
                lastSR: lastSRCompact, delaySinceLastSR: lastSRCompact == 0 ? 0 : delay))
        }
        updateRates(now: now)
        var packets: [RTCPPacket] = []
        if sentSinceLastReport {
            // The SR's RTP timestamp must be the same instant as its NTP time: extrapolate.
            let elapsed = (now > lastRTPSendTime ? now - lastRTPSendTime : 0) / 1000 * UInt64(clockRate) / 1_000_000
            let rtpNow = lastRTPTimestampSent &+ UInt32(truncatingIfNeeded: elapsed)
            packets.append(.senderReport(
                ssrc: localSSRC, ntpTimestamp: ntp(now).value, rtpTimestamp: rtpNow,
                packetCount: packetsSent, octetCount: octetsSent, reports: blocks))
        } else {
            packets.append(.receiverReport(ssrc: localSSRC, reports: blocks))
        }
        sentSinceLastReport = false
        packets.append(.sourceDescription([(localSSRC, cname)]))
        return RTCPPacket.encodeCompound(packets)
    }

    /// Takes in a compound RTCP packet from the peer.
    public mutating func handleRTCP(_ bytes: [UInt8], now: UInt64) throws(RTPError) {
        for packet in try RTCPPacket.parseCompound(bytes) {
            switch packet {
            case let .senderReport(_, ntpTimestamp, _, _, _, reports):
                lastSRCompact = NTPTime(ntpTimestamp).compact
                lastSRArrival = now
                handleBlocks(reports, now: now)
            case let .receiverReport(_, reports):
                handleBlocks(reports, now: now)
            default:
                break
            }
        }
    }

    private mutating func handleBlocks(_ reports: [RTCPReportBlock], now: UInt64) {
        for block in reports where block.ssrc == localSSRC {
            remoteFractionLost = Double(block.fractionLost) / 256
            guard block.lastSR != 0 else { continue }
            // RFC 3550 6.4.1: RTT = A - LSR - DLSR, all in 1/65536 s of our own clock.
            let arrival = ntp(now).compact
            let rtt = Int64(Int32(bitPattern: arrival &- block.lastSR &- block.delaySinceLastSR))
            if rtt >= 0 { roundTrip = Double(rtt) * 1000 / 65536 }
        }
    }

    private mutating func updateRates(now: UInt64) {
        let receivedBytes = reception.receivedBytes
        if let mark = rateMark, now > mark.time {
            let seconds = Double(now - mark.time) / 1e9
            sendBitrate = Double(totalSentBytes &- mark.sent) * 8 / seconds
            receiveBitrate = receivedBytes >= mark.received ? Double(receivedBytes - mark.received) * 8 / seconds : 0
        }
        rateMark = (now, totalSentBytes, receivedBytes)
    }

    private func ntp(_ now: UInt64) -> NTPTime {
        NTPTime(unixNanoseconds: now &+ wallClockOffset)
    }

    public var statistics: CallStatistics {
        var stats = CallStatistics(codec: codec)
        stats.packetsSent = UInt64(packetsSent)
        stats.packetsReceived = reception.received
        stats.packetsLost = max(0, reception.cumulativeLost)
        stats.fractionLost = fractionLost
        stats.remoteFractionLost = remoteFractionLost
        stats.jitterMilliseconds = Double(reception.jitter) * 1000 / Double(clockRate)
        stats.roundTripMilliseconds = roundTrip
        stats.sendBitrate = sendBitrate
        stats.receiveBitrate = receiveBitrate
        return stats
    }
}
