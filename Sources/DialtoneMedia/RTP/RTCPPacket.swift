/// A reception report block (RFC 3550 6.4.1), the same in SR and RR.
public struct RTCPReportBlock: Sendable, Equatable {
    public var ssrc: UInt32
    /// Lost / expected since the previous report, as a fixed-point fraction of 256.
    public var fractionLost: UInt8
    /// Signed 24 bits: duplicates can make it negative.
    public var cumulativeLost: Int32
    public var extendedHighestSequence: UInt32
    /// Interarrival jitter in RTP timestamp units.
    public var jitter: UInt32
    /// Middle 32 bits of the NTP time of the last SR received from `ssrc`; 0 if none yet.
    public var lastSR: UInt32
    /// Delay since that SR, in units of 1/65536 s.
    public var delaySinceLastSR: UInt32

    public init(ssrc: UInt32, fractionLost: UInt8, cumulativeLost: Int32, extendedHighestSequence: UInt32,
                jitter: UInt32, lastSR: UInt32, delaySinceLastSR: UInt32) {
        self.ssrc = ssrc
        self.fractionLost = fractionLost
        self.cumulativeLost = cumulativeLost
        self.extendedHighestSequence = extendedHighestSequence
        self.jitter = jitter
        self.lastSR = lastSR
        self.delaySinceLastSR = delaySinceLastSR
    }

    func encode(into out: inout [UInt8]) {
        appendBigEndian(ssrc, to: &out)
        let clamped = max(-0x80_0000, min(0x7F_FFFF, cumulativeLost))
        appendBigEndian(UInt32(fractionLost) << 24 | (UInt32(bitPattern: clamped) & 0xFF_FFFF), to: &out)
        appendBigEndian(extendedHighestSequence, to: &out)
        appendBigEndian(jitter, to: &out)
        appendBigEndian(lastSR, to: &out)
        appendBigEndian(delaySinceLastSR, to: &out)
    }

    static func parse(_ bytes: [UInt8], _ offset: Int) -> RTCPReportBlock {
        let word = readUInt32(bytes, offset + 4)
        // Sign-extend the 24-bit count.
        let lost = Int32(bitPattern: word << 8) >> 8
        return RTCPReportBlock(
            ssrc: readUInt32(bytes, offset), fractionLost: UInt8(word >> 24), cumulativeLost: lost,
            extendedHighestSequence: readUInt32(bytes, offset + 8), jitter: readUInt32(bytes, offset + 12),
            lastSR: readUInt32(bytes, offset + 16), delaySinceLastSR: readUInt32(bytes, offset + 20))
    }
}

/// The RTCP packets a voice call needs; anything else (APP, feedback, XR) is kept as `.other`
/// so that a compound packet from a richer peer still parses.
public enum RTCPPacket: Sendable, Equatable {
    case senderReport(ssrc: UInt32, ntpTimestamp: UInt64, rtpTimestamp: UInt32, packetCount: UInt32,
                      octetCount: UInt32, reports: [RTCPReportBlock])
    case receiverReport(ssrc: UInt32, reports: [RTCPReportBlock])
    /// Only CNAME (item 1) is produced; on parse every chunk's CNAME is kept.
    case sourceDescription([(ssrc: UInt32, cname: String)])
    case goodbye(ssrcs: [UInt32], reason: String?)
    case other(packetType: UInt8, count: UInt8, body: [UInt8])

    public static let senderReportType: UInt8 = 200
    public static let receiverReportType: UInt8 = 201
    public static let sourceDescriptionType: UInt8 = 202
    public static let goodbyeType: UInt8 = 203

    public static func == (lhs: RTCPPacket, rhs: RTCPPacket) -> Bool {
        switch (lhs, rhs) {
        case let (.senderReport(a1, a2, a3, a4, a5, a6), .senderReport(b1, b2, b3, b4, b5, b6)):
            return a1 == b1 && a2 == b2 && a3 == b3 && a4 == b4 && a5 == b5 && a6 == b6
        case let (.receiverReport(a1, a2), .receiverReport(b1, b2)):
            return a1 == b1 && a2 == b2
        case let (.sourceDescription(a), .sourceDescription(b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.ssrc == $1.ssrc && $0.cname == $1.cname }
        case let (.goodbye(a1, a2), .goodbye(b1, b2)):
            return a1 == b1 && a2 == b2
        case let (.other(a1, a2, a3), .other(b1, b2, b3)):
            return a1 == b1 && a2 == b2 && a3 == b3
        default:
            return false
        }
    }

    public func encode(into out: inout [UInt8]) {
        let start = out.count
        var count: UInt8 = 0
        var type: UInt8 = 0
        out.append(contentsOf: [0, 0, 0, 0])   // header, filled in once the length is known
        switch self {
        case let .senderReport(ssrc, ntp, rtp, packets, octets, reports):
            precondition(reports.count <= 31)
            type = Self.senderReportType
            count = UInt8(reports.count)
            appendBigEndian(ssrc, to: &out)
            appendBigEndian(UInt32(ntp >> 32), to: &out)
            appendBigEndian(UInt32(truncatingIfNeeded: ntp), to: &out)
            appendBigEndian(rtp, to: &out)
            appendBigEndian(packets, to: &out)
            appendBigEndian(octets, to: &out)
            for report in reports { report.encode(into: &out) }
        case let .receiverReport(ssrc, reports):
            precondition(reports.count <= 31)
            type = Self.receiverReportType
            count = UInt8(reports.count)
            appendBigEndian(ssrc, to: &out)
            for report in reports { report.encode(into: &out) }
        case let .sourceDescription(chunks):
            type = Self.sourceDescriptionType
            count = UInt8(chunks.count)
            for chunk in chunks {
                appendBigEndian(chunk.ssrc, to: &out)
                let name = Array(chunk.cname.utf8.prefix(255))
                out.append(1)
                out.append(UInt8(name.count))
                out.append(contentsOf: name)
                // The item list ends with a zero byte, then pads to a 32-bit boundary.
                out.append(0)
                while (out.count - start) % 4 != 0 { out.append(0) }
            }
        case let .goodbye(ssrcs, reason):
            type = Self.goodbyeType
            count = UInt8(ssrcs.count)
            for ssrc in ssrcs { appendBigEndian(ssrc, to: &out) }
            if let reason {
                let text = Array(reason.utf8.prefix(255))
                out.append(UInt8(text.count))
                out.append(contentsOf: text)
                while (out.count - start) % 4 != 0 { out.append(0) }
            }
        case let .other(packetType, otherCount, body):
            type = packetType
            count = otherCount
            out.append(contentsOf: body)
            while (out.count - start) % 4 != 0 { out.append(0) }
        }
        let words = (out.count - start) / 4 - 1
        out[start] = 0x80 | (count & 0x1F)
        out[start + 1] = type
        out[start + 2] = UInt8(words >> 8)
        out[start + 3] = UInt8(truncatingIfNeeded: words)
    }

    public static func encodeCompound(_ packets: [RTCPPacket]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(128)
        for packet in packets { packet.encode(into: &out) }
        return out
    }

    /// Parses a compound packet (RFC 3550 6.1). Padding is only legal on the last packet.
    public static func parseCompound(_ bytes: [UInt8]) throws(RTPError) -> [RTCPPacket] {
        var packets: [RTCPPacket] = []
        var offset = 0
        guard bytes.count >= 4 else { throw .truncated("RTCP needs at least 4 bytes") }
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .truncated("RTCP header at \(offset)") }
            let first = bytes[offset]
            guard first >> 6 == 2 else { throw .badVersion(first >> 6) }
            let count = first & 0x1F
            let type = bytes[offset + 1]
            let length = (Int(readUInt16(bytes, offset + 2)) + 1) * 4
            guard offset + length <= bytes.count else { throw .truncated("RTCP packet of \(length) bytes") }
            var end = offset + length
            if first & 0x20 != 0 {
                guard end == bytes.count else { throw .malformed("padding before the last RTCP packet") }
                let padding = Int(bytes[end - 1])
                guard padding >= 1, end - padding >= offset + 4 else { throw .badPadding }
                end -= padding
            }
            let body = Array(bytes[(offset + 4)..<end])
            packets.append(try parseOne(type: type, count: count, body: body))
            offset += length
        }
        return packets
    }

    private static func parseOne(type: UInt8, count: UInt8, body: [UInt8]) throws(RTPError) -> RTCPPacket {
        switch type {
        case senderReportType:
            guard body.count >= 24 + 24 * Int(count) else { throw .truncated("sender report") }
            let ntp = UInt64(readUInt32(body, 4)) << 32 | UInt64(readUInt32(body, 8))
            let reports = (0..<Int(count)).map { RTCPReportBlock.parse(body, 24 + 24 * $0) }
            return .senderReport(ssrc: readUInt32(body, 0), ntpTimestamp: ntp, rtpTimestamp: readUInt32(body, 12),
                                 packetCount: readUInt32(body, 16), octetCount: readUInt32(body, 20), reports: reports)
        case receiverReportType:
            guard body.count >= 4 + 24 * Int(count) else { throw .truncated("receiver report") }
            let reports = (0..<Int(count)).map { RTCPReportBlock.parse(body, 4 + 24 * $0) }
            return .receiverReport(ssrc: readUInt32(body, 0), reports: reports)
        case sourceDescriptionType:
            var chunks: [(ssrc: UInt32, cname: String)] = []
            var offset = 0
            for _ in 0..<count {
                guard body.count >= offset + 4 else { throw .truncated("SDES chunk") }
                let ssrc = readUInt32(body, offset)
                offset += 4
                var cname = ""
                while true {
                    guard offset < body.count else { throw .truncated("SDES items") }
                    let item = body[offset]
                    if item == 0 { break }
                    guard offset + 2 <= body.count else { throw .truncated("SDES item") }
                    let length = Int(body[offset + 1])
                    guard offset + 2 + length <= body.count else { throw .truncated("SDES item text") }
                    if item == 1 { cname = String(decoding: body[(offset + 2)..<(offset + 2 + length)], as: UTF8.self) }
                    offset += 2 + length
                }
                offset += 1
                offset = (offset + 3) & ~3
                chunks.append((ssrc, cname))
            }
            return .sourceDescription(chunks)
        case goodbyeType:
            guard body.count >= 4 * Int(count) else { throw .truncated("BYE") }
            let ssrcs = (0..<Int(count)).map { readUInt32(body, 4 * $0) }
            var reason: String?
            let at = 4 * Int(count)
            if body.count > at {
                let length = Int(body[at])
                guard body.count >= at + 1 + length else { throw .truncated("BYE reason") }
                reason = String(decoding: body[(at + 1)..<(at + 1 + length)], as: UTF8.self)
            }
            return .goodbye(ssrcs: ssrcs, reason: reason)
        default:
            return .other(packetType: type, count: count, body: body)
        }
    }
}
