import DialtoneXMPP

// Apart from Protocol/, which the jingle fuzz target compiles without the client's Message.
extension MessageInitiation {
    /// The initiation a received message carries, if any.
    public init?(message: Message) {
        self.init(message: message.element)
    }
}
