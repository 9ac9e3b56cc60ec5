/// What arrives on an ICE socket, by its first byte (RFC 7983 section 7, with TURN ChannelData
/// from RFC 8656 in 64–79). Everything that is not STUN or ChannelData belongs to the media layer.
public enum PacketKind: Sendable, Equatable {
    case stun
    case dtls
    case rtp
    case turnChannelData
    /// 4–19 (ZRTP), 80–127 and 192–255: dropped.
    case unknown

    public init(firstByte: UInt8) {
        switch firstByte {
        case 0...3: self = .stun
        case 20...63: self = .dtls
        case 64...79: self = .turnChannelData
        case 128...191: self = .rtp
        default: self = .unknown
        }
    }

    public init(_ packet: [UInt8]) {
        self = packet.first.map(PacketKind.init(firstByte:)) ?? .unknown
    }
}

/// One DTLS or RTP/RTCP datagram for the media layer.
public struct MediaPacket: Sendable, Equatable {
    /// `.dtls` or `.rtp` (RTCP too: with rtcp-mux they share the range; the RTP layer tells them apart).
    public let kind: PacketKind
    public let bytes: [UInt8]
    public init(kind: PacketKind, bytes: [UInt8]) {
        self.kind = kind
        self.bytes = bytes
    }
}

/// What the media layer (DTLS-SRTP, RTP) needs from ICE, and nothing more: one flow, already
/// demultiplexed. `send` goes out on the nominated pair (or, before there is one, back the way
/// the peer's last validated media came, for gateways that start early); `incoming` carries DTLS
/// and RTP/RTCP from any validated pair. STUN and TURN never appear here.
public protocol MediaTransport: Sendable {
    /// Throws `ICEError.notConnected` when no pair can carry media yet.
    func send(_ packet: [UInt8]) async throws
    /// Finishes when the agent closes or fails.
    var incoming: AsyncStream<MediaPacket> { get }
}
