import DialtoneXML

/// Why a session ended or was refused (XEP-0166 7.4), as sent beside every terminate,
/// reject, retract and finish.
public struct JingleReason: Sendable, Equatable, CustomStringConvertible {
    public enum Condition: String, Sendable, CaseIterable {
        case alternativeSession = "alternative-session"
        case busy, cancel
        case connectivityError = "connectivity-error"
        case decline, expired
        case failedApplication = "failed-application"
        case failedTransport = "failed-transport"
        case generalError = "general-error"
        case gone
        case incompatibleParameters = "incompatible-parameters"
        case mediaError = "media-error"
        case securityError = "security-error"
        case success, timeout
        case unsupportedApplications = "unsupported-applications"
        case unsupportedTransports = "unsupported-transports"
    }

    public var condition: Condition
    public var text: String?

    public init(_ condition: Condition, text: String? = nil) {
        self.condition = condition
        self.text = text
    }

    /// Reads a `<reason/>`; an unknown condition reads as general-error rather than failing.
    public init?(_ element: XMLElement?) {
        guard let element, element.name == "reason" else { return nil }
        let known = element.elements.lazy.compactMap { Condition(rawValue: $0.name) }.first
        self.init(known ?? .generalError, text: element.childText("text").flatMap { $0.isEmpty ? nil : $0 })
    }

    public var element: XMLElement {
        var reason = XMLElement("reason", namespace: JingleNamespace.jingle)
        reason.append(XMLElement(condition.rawValue, namespace: JingleNamespace.jingle))
        if let text { reason.append(.textElement("text", namespace: JingleNamespace.jingle, text)) }
        return reason
    }

    /// For people: "declined", "busy", "connection failed: …".
    public var description: String {
        let words: String = switch condition {
        case .success: "hung up"
        case .decline: "declined"
        case .busy: "busy"
        case .cancel: "cancelled"
        case .gone: "gone"
        case .timeout, .expired: "no answer"
        case .connectivityError, .failedTransport: "connection failed"
        case .securityError: "security check failed"
        case .incompatibleParameters, .unsupportedApplications, .unsupportedTransports, .failedApplication:
            "no common audio format"
        case .mediaError: "audio failed"
        case .alternativeSession: "replaced by another session"
        case .generalError: "error"
        }
        return text.map { "\(words): \($0)" } ?? words
    }
}
