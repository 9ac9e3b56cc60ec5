import DialtoneTLS
import XCTest

/// A CA, a server certificate for dialtone.test (and 127.0.0.1) signed by it, and an
/// unrelated CA, made once: key generation is the slow part of these tests.
struct Fixtures: Sendable {
    let ca: TLSIdentity
    let server: TLSIdentity
    let otherCA: TLSIdentity
    let selfSigned: TLSIdentity

    static let shared: Fixtures = {
        do {
            let ca = try TLSIdentity.certificateAuthority(commonName: "Dialtone Test CA")
            return Fixtures(
                ca: ca,
                server: try TLSIdentity.issue(
                    commonName: "dialtone.test", subjectAltNames: ["dialtone.test", "127.0.0.1"], by: ca),
                otherCA: try TLSIdentity.certificateAuthority(commonName: "Somebody Else's CA"),
                selfSigned: try TLSIdentity.selfSigned(commonName: "self-signed.test"))
        } catch {
            fatalError("cannot build test certificates: \(error)")
        }
    }()
}

enum Side: Equatable { case client, server }

/// A client and a server joined by nothing but `takeOutgoing` / `feed`, as the XMPP layer
/// joins a session to its socket. Each side's first error is kept so tests can see who saw what.
final class Pair {
    let client: TLSSession
    let server: TLSSession
    var clientReceived: [UInt8] = []
    var serverReceived: [UInt8] = []
    var clientError: TLSError?
    var serverError: TLSError?

    init(client configuration: TLSConfiguration, server identity: TLSIdentity = Fixtures.shared.server,
         options: TLSServerOptions = TLSServerOptions()) throws {
        client = try TLSSession(client: configuration)
        server = try TLSSession(server: identity, options: options)
    }

    static func trusting(_ name: String = "dialtone.test", ca: TLSIdentity = Fixtures.shared.ca) -> TLSConfiguration {
        TLSConfiguration(serverName: name, trust: .caPEM(ca.certificatePEM))
    }

    /// Starts the client's handshake and moves bytes until neither side has anything to say.
    func connect() {
        do {
            try client.startHandshake()
        } catch {
            clientError = error
        }
        pump()
    }

    func pump(maxRounds: Int = 100) {
        for _ in 0..<maxRounds {
            let toServer = client.takeOutgoing()
            if !toServer.isEmpty && serverError == nil {
                do { serverReceived += try server.feed(network: toServer) } catch { serverError = error }
            }
            let toClient = server.takeOutgoing()
            if !toClient.isEmpty && clientError == nil {
                do { clientReceived += try client.feed(network: toClient) } catch { clientError = error }
            }
            if toServer.isEmpty && toClient.isEmpty { return }
        }
        XCTFail("the sessions kept talking for \(maxRounds) rounds")
    }
}

func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    var bytes = [UInt8](repeating: 0, count: count)
    bytes.withUnsafeMutableBytes { raw in
        for offset in stride(from: 0, to: raw.count, by: 8) {
            withUnsafeBytes(of: generator.next()) { word in
                for index in 0..<min(8, raw.count - offset) { raw[offset + index] = word[index] }
            }
        }
    }
    return bytes
}
