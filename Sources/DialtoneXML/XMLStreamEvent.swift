/// What the stream parser reports, in document order.
public enum XMLStreamEvent: Sendable, Equatable {
    /// The stream root (`<stream:stream …>`) with its name, namespace and attributes, never children.
    case streamStart(XMLElement)
    /// One complete child of the root (depth 1), with its whole subtree.
    case stanza(XMLElement)
    /// `</stream:stream>`.
    case streamEnd
}

/// Bounds that keep a hostile peer from making us buffer or recurse without end.
public struct XMLStreamLimits: Sendable {
    /// Bytes from the end of the previous stanza to the end of this one, keepalive whitespace included.
    public var maxStanzaBytes: Int
    /// Element depth, counting a stanza (a child of the stream root) as 1.
    public var maxDepth: Int

    public init(maxStanzaBytes: Int = 1 << 20, maxDepth: Int = 64) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
    }
}

/// Why the parser gave up. Every case is final: the stream cannot be trusted after it.
public enum XMLStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not well-formed XML; carries libxml2's message, trimmed.
    case malformed(String)
    /// A `<!DOCTYPE>`, with or without an internal subset (RFC 6120 §11.1).
    case doctypeForbidden
    /// An entity declaration or a reference to anything but the five predefined entities and character references.
    case entityForbidden
    /// A processing instruction after the XML declaration.
    case processingInstructionForbidden
    case stanzaTooLarge(limit: Int)
    case tooDeep(limit: Int)

    public var description: String {
        switch self {
        case .malformed(let message):
            "The server sent XML that is not well-formed (\(message)); the connection was closed."
        case .doctypeForbidden:
            "The server sent a document type declaration, which XMPP forbids; the connection was closed."
        case .entityForbidden:
            "The server sent an entity declaration or reference, which XMPP forbids; the connection was closed."
        case .processingInstructionForbidden:
            "The server sent a processing instruction, which XMPP forbids; the connection was closed."
        case .stanzaTooLarge(let limit):
            "The server sent a stanza larger than \(limit) bytes; the connection was closed."
        case .tooDeep(let limit):
            "The server sent elements nested more than \(limit) levels deep; the connection was closed."
        }
    }
}
