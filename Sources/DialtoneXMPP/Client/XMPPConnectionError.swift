import DialtoneTLS
import DialtoneXML
import Foundation

/// Why a connection failed, each as one sentence a user can act on.
public enum XMPPConnectionError: Error, Sendable, CustomStringConvertible {
    case dns(domain: String, reason: String)
    case tcp(host: String, port: Int, reason: String)
    case tls(TLSError)
    case sasl(SASLError)
    /// `unverifiedHost` is set when it came on a stream TLS did not yet protect: anyone on
    /// the path could have written it, so it is not the server's word.
    case streamError(condition: String, text: String?, unverifiedHost: String? = nil)
    case xml(XMLStreamError)
    case plaintextRefused(host: String)
    /// The server (or whoever is on the path: the stream is still in the clear) did not
    /// offer STARTTLS, or answered it with <failure/>.
    case starttlsUnavailable(host: String)
    case starttlsRefused(host: String)
    case bindFailed(String)
    case timeout(String)
    case closed
    case protocolViolation(String)
    case notConnected

    public var description: String {
        switch self {
        case .dns(let domain, let reason): "Could not find the server for \(domain) in DNS (\(reason))."
        case .tcp(let host, let port, let reason): "Could not connect to \(host) port \(port) (\(reason))."
        case .tls(let error): error.description
        case .sasl(let error): error.description
        case .streamError(let condition, let text, let unverifiedHost):
            (unverifiedHost.map { "The server at \($0) closed the stream before TLS was set up: " } ?? "The server closed the stream: ")
                + condition.replacingOccurrences(of: "-", with: " ") + (text.map { " (\($0))" } ?? "") + "."
        case .xml(let error): error.description
        case .plaintextRefused(let host): "Refusing an unencrypted connection to \(host): tls = \"none\" is only allowed to a loopback address."
        case .starttlsUnavailable(let host): "The server at \(host) did not offer TLS (STARTTLS); refusing to log in without encryption."
        case .starttlsRefused(let host): "The server at \(host) refused to start TLS (STARTTLS); refusing to log in without encryption."
        case .bindFailed(let why): "The server would not bind a resource (\(why))."
        case .timeout(let what): "The server did not answer in time (\(what))."
        case .closed: "The server closed the connection."
        case .protocolViolation(let what): "The server broke the protocol (\(what))."
        case .notConnected: "Not connected."
        }
    }

    /// Failures that retrying cannot fix; the user must change something first. Nothing
    /// said on a stream before TLS protects it counts: one packet injected there (a stream
    /// error, a hidden or refused STARTTLS) must not keep the account offline for good. We
    /// refuse to log in over it, and try again with back-off.
    public var isPermanent: Bool {
        switch self {
        case .sasl(.notAuthorized), .sasl(.noSupportedMechanism), .sasl(.plainRefusedWithoutTLS), .sasl(.serverSignatureMismatch),
             .sasl(.weakIterationCount), .plaintextRefused:
            true
        case .tls(let error):
            switch error {
            case .certificateUntrusted, .hostnameMismatch, .fingerprintMismatch: true
            default: false
            }
        case .streamError(let condition, _, let unverifiedHost):
            unverifiedHost == nil && ["host-unknown", "not-authorized", "policy-violation", "conflict"].contains(condition)
        default:
            false
        }
    }
}

extension XMLStreamError {
    /// The stream error condition (RFC 6120 4.9.3) that names this failure to the server.
    var streamErrorCondition: String {
        switch self {
        case .doctypeForbidden, .entityForbidden, .processingInstructionForbidden: "restricted-xml"
        case .stanzaTooLarge: "policy-violation"
        case .tooDeep, .malformed: "not-well-formed"
        }
    }
}
