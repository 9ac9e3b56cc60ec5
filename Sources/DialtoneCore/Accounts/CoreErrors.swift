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
    /// A reply or reaction names a message that is not in that conversation (or was taken back).
    case noSuchMessage
    case notAReaction(String)

    public var description: String {
        switch self {
        case .noSuchMessage: "That message is not in this conversation, or has been taken back."
        case .notAReaction(let text): "\"\(text)\" is not a reaction: give one emoji (or a short text without spaces)."
        case .notCorrectable: "Only a message you sent can be corrected."
        case .notRetractable: "Only a message you sent, and have not taken back already, can be taken back."
        }
    }
}
