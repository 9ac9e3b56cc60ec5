/// Errors from parsing RTP and RTCP (RFC 3550). Each names what is wrong so that a log line
/// about a peer's bad packet is actionable without a packet capture.
public enum RTPError: Error, Sendable, Equatable, CustomStringConvertible {
    case truncated(String)
    case badVersion(UInt8)
    case badPadding
    case malformed(String)

    public var description: String {
        switch self {
        case .truncated(let what): return "RTP packet too short: \(what)"
        case .badVersion(let version): return "RTP version \(version), expected 2"
        case .badPadding: return "RTP padding count larger than the packet"
        case .malformed(let what): return "malformed RTP/RTCP: \(what)"
        }
    }
}

/// A header extension (RFC 3550 5.3.1): the profile-defined 16 bits and the data, a multiple of 4 bytes.
public struct RTPHeaderExtension: Sendable, Equatable {
    public var profile: UInt16
    public var data: [UInt8]

    public init(profile: UInt16, data: [UInt8]) {
        self.profile = profile
        self.data = data
    }
}

/// RTP fixed header fields (RFC 3550 5.1) plus CSRCs and the optional extension.
public struct RTPHeader: Sendable, Equatable {
    public var marker: Bool = false
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32] = []
    public var headerExtension: RTPHeaderExtension? = nil

    public init(payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32, marker: Bool = false) {
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.marker = marker
    }

    /// Bytes the header occupies on the wire, which SRTP needs: it authenticates but does not encrypt them.
    public var encodedLength: Int {
        12 + 4 * csrcs.count + (headerExtension.map { 4 + (($0.data.count + 3) & ~3) } ?? 0)
    }

    public func encode(into out: inout [UInt8]) {
        precondition(csrcs.count <= 15, "RTP allows at most 15 CSRCs")
        let x: UInt8 = headerExtension == nil ? 0 : 0x10
        out.append(0x80 | x | UInt8(csrcs.count))
        out.append((marker ? 0x80 : 0) | (payloadType & 0x7F))
        appendBigEndian(sequenceNumber, to: &out)
        appendBigEndian(timestamp, to: &out)
        appendBigEndian(ssrc, to: &out)
        for csrc in csrcs { appendBigEndian(csrc, to: &out) }
        if let ext = headerExtension {
            let words = (ext.data.count + 3) / 4
            appendBigEndian(ext.profile, to: &out)
            appendBigEndian(UInt16(words), to: &out)
            out.append(contentsOf: ext.data)
            out.append(contentsOf: repeatElement(0, count: words * 4 - ext.data.count))
        }
    }

    /// Parses the header and returns it with the offset where the payload starts.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTPError) -> (RTPHeader, Int) {
        guard bytes.count >= 12 else { throw .truncated("\(bytes.count) bytes, the fixed header needs 12") }
        let first = bytes[0]
        guard first >> 6 == 2 else { throw .badVersion(first >> 6) }
        var header = RTPHeader(
            payloadType: bytes[1] & 0x7F, sequenceNumber: readUInt16(bytes, 2),
            timestamp: readUInt32(bytes, 4), ssrc: readUInt32(bytes, 8), marker: bytes[1] & 0x80 != 0)
        let csrcCount = Int(first & 0x0F)
        var offset = 12
        guard bytes.count >= offset + 4 * csrcCount else { throw .truncated("\(csrcCount) CSRCs announced") }
        if csrcCount > 0 {
            header.csrcs.reserveCapacity(csrcCount)
            for index in 0..<csrcCount { header.csrcs.append(readUInt32(bytes, offset + 4 * index)) }
        }
        offset += 4 * csrcCount
        if first & 0x10 != 0 {
            guard bytes.count >= offset + 4 else { throw .truncated("header extension announced") }
            let profile = readUInt16(bytes, offset)
            let length = Int(readUInt16(bytes, offset + 2)) * 4
            offset += 4
            guard bytes.count >= offset + length else { throw .truncated("header extension of \(length) bytes") }
            header.headerExtension = RTPHeaderExtension(profile: profile, data: Array(bytes[offset..<offset + length]))
            offset += length
        }
        return (header, offset)
    }
}

/// One RTP packet. Padding is stripped on parse and added on encode when `paddingLength` > 0.
public struct RTPPacket: Sendable, Equatable {
    public var header: RTPHeader
    public var payload: [UInt8]
    /// Padding bytes to add when encoding (including the count byte); 0 for none.
    public var paddingLength: Int = 0

    public init(header: RTPHeader, payload: [UInt8], paddingLength: Int = 0) {
        self.header = header
        self.payload = payload
        self.paddingLength = paddingLength
    }

    public func encode() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(header.encodedLength + payload.count + paddingLength + 16)
        encode(into: &out)
        return out
    }

    public func encode(into out: inout [UInt8]) {
        precondition(paddingLength >= 0 && paddingLength <= 255, "RTP padding is 0 to 255 bytes")
        let start = out.count
        header.encode(into: &out)
        out.append(contentsOf: payload)
        if paddingLength > 0 {
            out[start] |= 0x20
            out.append(contentsOf: repeatElement(0, count: paddingLength - 1))
            out.append(UInt8(paddingLength))
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(RTPError) -> RTPPacket {
        var result: Result<RTPPacket, RTPError> = .failure(.truncated("empty"))
        bytes.withUnsafeBytes { raw in result = Result { () throws(RTPError) in try parse(raw) } }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(RTPError) -> RTPPacket {
        let (header, offset) = try RTPHeader.parse(bytes)
        var end = bytes.count
        var padding = 0
        if bytes[0] & 0x20 != 0 {
            padding = Int(bytes[bytes.count - 1])
            // A count of 0 is invalid: the count byte itself is part of the padding.
            guard padding >= 1, end - padding >= offset else { throw .badPadding }
            end -= padding
        }
        return RTPPacket(header: header, payload: Array(bytes[offset..<end]), paddingLength: padding)
    }
}

/// RFC 5761 4: with rtcp-mux, RTCP packet types 192–223 occupy the second byte where RTP has
/// marker + payload type, so RTP payload types 64–95 must not be used and the byte decides.
public func isRTCP(_ bytes: UnsafeRawBufferPointer) -> Bool {
    bytes.count >= 2 && (192...223).contains(bytes[1])
}

public func isRTCP(_ bytes: [UInt8]) -> Bool {
    bytes.withUnsafeBytes { isRTCP($0) }
}

// MARK: - Byte helpers

@inline(__always) func readUInt16(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

@inline(__always) func readUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inline(__always) func readUInt16(_ bytes: [UInt8], _ offset: Int) -> UInt16 {
    UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
}

@inline(__always) func readUInt32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
    UInt32(bytes[offset]) << 24 | UInt32(bytes[offset + 1]) << 16 | UInt32(bytes[offset + 2]) << 8 | UInt32(bytes[offset + 3])
}

@inline(__always) func appendBigEndian(_ value: UInt16, to out: inout [UInt8]) {
    out.append(UInt8(value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}

@inline(__always) func appendBigEndian(_ value: UInt32, to out: inout [UInt8]) {
    out.append(UInt8(value >> 24))
    out.append(UInt8(truncatingIfNeeded: value >> 16))
    out.append(UInt8(truncatingIfNeeded: value >> 8))
    out.append(UInt8(truncatingIfNeeded: value))
}

@inline(__always) func writeBigEndian(_ value: UInt32, to out: inout [UInt8], at offset: Int) {
    out[offset] = UInt8(value >> 24)
    out[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
    out[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
    out[offset + 3] = UInt8(truncatingIfNeeded: value)
}
