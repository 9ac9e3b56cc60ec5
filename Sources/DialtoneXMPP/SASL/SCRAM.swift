import Foundation

/// The client side of SCRAM (RFC 5802, RFC 7677), with optional channel binding (-PLUS).
///
/// A state machine: `initialMessage()`, then `respond(to:)` for the server-first message,
/// then `verify(serverFinal:)`. Nothing here touches the network.
public struct SCRAMClient: Sendable {
    public enum Binding: Sendable, Equatable {
        /// We could not bind (no TLS, or no binding data).
        case unsupported
        /// We support binding but the server did not offer -PLUS: tell it so (a downgrade shows).
        case supportedButNotOffered
        /// Bound to the TLS channel, with the type name and its data.
        case bound(type: String, data: [UInt8])
    }

    public let hash: SCRAMHash
    private let username: String
    private let password: String
    private let binding: Binding
    private let clientNonce: String
    private var authMessage: [UInt8] = []
    private var serverSignature: [UInt8] = []

    public init(hash: SCRAMHash, username: String, password: String, binding: Binding, nonce: String? = nil) {
        self.hash = hash
        self.username = username
        self.password = password
        self.binding = binding
        self.clientNonce = nonce ?? Data(SecureRandom.bytes(18)).base64EncodedString()
    }

    private var gs2Header: String {
        switch binding {
        case .unsupported: "n,,"
        case .supportedButNotOffered: "y,,"
        case .bound(let type, _): "p=\(type),,"
        }
    }

    private var clientFirstBare: String { "n=\(Self.saslName(username)),r=\(clientNonce)" }

    public func initialMessage() -> [UInt8] { Array((gs2Header + clientFirstBare).utf8) }

    public mutating func respond(to serverFirst: [UInt8]) throws(SASLError) -> [UInt8] {
        guard let text = String(bytes: serverFirst, encoding: .utf8) else { throw .malformedChallenge("not UTF-8") }
        let fields = Self.fields(text)
        if fields["m"] != nil { throw .malformedChallenge("unsupported mandatory extension") }
        guard let nonce = fields["r"], let saltText = fields["s"], let iterationText = fields["i"],
              let salt = Data(base64Encoded: saltText), let iterations = Int(iterationText) else {
            throw .malformedChallenge("missing nonce, salt or iteration count")
        }
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw .malformedChallenge("the server's nonce does not extend ours")
        }
        // RFC 7677 recommends at least 4096; a server asking for fewer is either broken or
        // trying to make an offline attack on our password cheap.
        guard iterations >= 4096 else { throw .weakIterationCount(iterations) }
        guard iterations <= 10_000_000 else { throw .malformedChallenge("absurd iteration count \(iterations)") }

        var channelBindingInput = Array(gs2Header.utf8)
        if case .bound(_, let data) = binding { channelBindingInput += data }
        let withoutProof = "c=\(Data(channelBindingInput).base64EncodedString()),r=\(nonce)"

        let saltedPassword = hash.pbkdf2(password: Array(Self.saslPrep(password).utf8), salt: Array(salt), iterations: iterations)
        let clientKey = hash.hmac(key: saltedPassword, Array("Client Key".utf8))
        let storedKey = hash.digest(clientKey)
        authMessage = Array("\(clientFirstBare),\(text),\(withoutProof)".utf8)
        let clientSignature = hash.hmac(key: storedKey, authMessage)
        let proof = zip(clientKey, clientSignature).map { $0 ^ $1 }
        let serverKey = hash.hmac(key: saltedPassword, Array("Server Key".utf8))
        serverSignature = hash.hmac(key: serverKey, authMessage)
        return Array("\(withoutProof),p=\(Data(proof).base64EncodedString())".utf8)
    }

    /// Checks the server's signature: proof that the server knew our password too.
    public func verify(serverFinal: [UInt8]) throws(SASLError) {
        guard let text = String(bytes: serverFinal, encoding: .utf8) else { throw .malformedChallenge("not UTF-8") }
        let fields = Self.fields(text)
        if let error = fields["e"] { throw .serverRejected(error) }
        guard let verifier = fields["v"].flatMap({ Data(base64Encoded: $0) }), !serverSignature.isEmpty else {
            throw .malformedChallenge("no server signature")
        }
        guard Array(verifier) == serverSignature else { throw .serverSignatureMismatch }
    }

    static func fields(_ message: String) -> [String: String] {
        var result: [String: String] = [:]
        for part in message.split(separator: ",") {
            guard let equals = part.firstIndex(of: "="), part.distance(from: part.startIndex, to: equals) == 1 else { continue }
            result[String(part[..<equals])] = String(part[part.index(after: equals)...])
        }
        return result
    }

    static func saslName(_ name: String) -> String {
        name.replacingOccurrences(of: "=", with: "=3D").replacingOccurrences(of: ",", with: "=2C")
    }

    /// The part of SASLprep (RFC 4013) that matters in practice: non-ASCII spaces become
    /// spaces, "commonly mapped to nothing" characters vanish, and the result is NFKC.
    static func saslPrep(_ string: String) -> String {
        var scalars = String.UnicodeScalarView()
        for scalar in string.unicodeScalars {
            switch scalar.value {
            case 0x00AD, 0x034F, 0x1806, 0x180B...0x180D, 0x200B...0x200D, 0x2060, 0xFE00...0xFE0F, 0xFEFF:
                continue
            case 0x00A0, 0x1680, 0x2000...0x200A, 0x202F, 0x205F, 0x3000:
                scalars.append(" ")
            default:
                scalars.append(scalar)
            }
        }
        return String(scalars).precomposedStringWithCompatibilityMapping
    }
}

public enum SASLError: Error, Sendable, Equatable, CustomStringConvertible {
    case malformedChallenge(String)
    case weakIterationCount(Int)
    case serverSignatureMismatch
    case serverRejected(String)
    case notAuthorized(String?)
    case noSupportedMechanism([String])
    case plainRefusedWithoutTLS

    public var description: String {
        switch self {
        case .malformedChallenge(let why): "The server's authentication challenge was malformed (\(why))."
        case .weakIterationCount(let count): "The server asked for only \(count) SCRAM iterations; refusing to send a proof that weak."
        case .serverSignatureMismatch: "The server could not prove it knows the password; it may be an impostor. Not logged in."
        case .serverRejected(let error): "The server rejected the login (\(error))."
        case .notAuthorized(let text): "Wrong user name or password" + (text.map { " (\($0))" } ?? "") + "."
        case .noSupportedMechanism(let offered): "The server offers no login method Dialtone supports (offered: \(offered.joined(separator: ", ")))."
        case .plainRefusedWithoutTLS: "The server offers only PLAIN login on an unencrypted connection; refusing to send the password in the clear."
        }
    }
}
