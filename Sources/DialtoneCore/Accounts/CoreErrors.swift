// Errors of Core's commands, each a sentence a user can act on.

public enum AttachmentError: Error, Sendable, CustomStringConvertible {
    case unreadable(String)
    case unwritable(String)

    public var description: String {
        switch self {
        case .unreadable(let path): "Cannot read \(path)."
        case .unwritable(let path): "Cannot write \(path)."
        }
    }
}

public enum CallPlacementError: Error, Sendable, CustomStringConvertible {
    case noVoiceGateway(String)

    public var description: String {
        switch self {
        case .noVoiceGateway(let gateway): "The gateway \(gateway) does not carry voice calls (it has no gateway/pstn identity)."
        }
    }
}

public enum CoreError: Error, Sendable, CustomStringConvertible {
    case notCorrectable
    case notRetractable

    public var description: String {
        switch self {
        case .notCorrectable: "Only a message you sent can be corrected."
        case .notRetractable: "Only a message you sent, and have not taken back already, can be taken back."
        }
    }
}
