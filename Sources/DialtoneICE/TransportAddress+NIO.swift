import NIOCore

// Apart from TransportAddress.swift so that the codec and the cores build without NIO
// (Scripts/fuzz-stun compiles them alone).
extension TransportAddress {
    /// NIO's form, for the socket layer only.
    public func socketAddress() throws -> SocketAddress {
        try SocketAddress(ipAddress: ip.description, port: Int(port))
    }

    public init?(_ address: SocketAddress) {
        guard let text = address.ipAddress, let port = address.port, let ip = IPAddress(text) else { return nil }
        self.init(ip: ip, port: UInt16(port))
    }
}
