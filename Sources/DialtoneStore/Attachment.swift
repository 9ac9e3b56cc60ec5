/// A file that came with a message (MMS media, a voicemail's audio), as its link and what we know of it.
public struct Attachment: Codable, Sendable, Equatable {
    public var url: String
    public var description: String?
    /// The MIME type when the sender said (SIMS) or the file name shows it.
    public var mediaType: String?
    public var name: String?
    public var size: Int?

    public init(url: String, description: String? = nil, mediaType: String? = nil, name: String? = nil, size: Int? = nil) {
        self.url = url
        self.description = description
        self.mediaType = mediaType
        self.name = name
        self.size = size
    }

    /// Audio is playable through the call audio stack (voicemails).
    public var isAudio: Bool { mediaType?.hasPrefix("audio/") ?? false }
}
