import NIOCore

/// The byte stream under the client: chunks in, writes out. TLS and XML live above it, in the
/// client actor. `SocketTransport` is the TCP one; tests give the client a scripted stream.
public protocol StreamTransport: Sendable {
    var inbound: AsyncThrowingStream<ByteBuffer, any Error> { get }
    func write(_ bytes: [UInt8])
    func writeAndWait(_ bytes: [UInt8]) async throws
    func close()
    /// The address actually connected to, as text (a name resolved): checked for loopback
    /// when the account allows no TLS.
    var remoteIPAddress: String? { get }
}

/// Opens the stream to one endpoint (host, port) within a timeout.
public typealias StreamConnector = @Sendable (_ host: String, _ port: Int, _ timeout: TimeAmount) async throws -> any StreamTransport

extension SocketTransport: StreamTransport {}

public enum StreamConnectors {
    /// TCP through SwiftNIO: what the client uses unless told otherwise.
    public static let tcp: StreamConnector = { host, port, timeout in
        try await SocketTransport.connect(host: host, port: port, timeout: timeout)
    }
}
