import DialtoneXMPP

/// Chat states (XEP-0085) both ways. Incoming: the peer is typing, paused, gone, shown for
/// one-to-one chats and never stored. Outgoing, as Conversations and Profanity send them:
/// composing when a message is being typed in a one-to-one conversation, paused after five
/// seconds without a key, active when the line is sent or emptied, or the conversation left.
final class ChatStateTracker: AccountFeature {
    static let pauseAfter: Duration = .seconds(5)

    /// Whether the user lets people see when they type (`chat_states`).
    let sendsChatStates: Bool
    let gateway: JID?
    /// Group chats: no typing notices go to rooms (Conversations sends none either).
    let rooms: RoomDirectory
    /// Sends a stanza (the client's `send`; a recorder in unit tests).
    let send: @Sendable (Message) async -> Void
    let broadcaster: EventBroadcaster
    /// What we last told whom; kept even when nothing is sent, so the logic stays the same.
    private var said: (peer: JID, state: ChatState)?
    private var lastTypedAt: ContinuousClock.Instant?

    init(sendsChatStates: Bool, gateway: JID?, rooms: RoomDirectory = RoomDirectory(known: []), broadcaster: EventBroadcaster,
         send: @escaping @Sendable (Message) async -> Void) {
        self.sendsChatStates = sendsChatStates
        self.gateway = gateway
        self.rooms = rooms
        self.send = send
        self.broadcaster = broadcaster
    }

    /// A live message's chat state, for front ends; archived and carbon ones are history.
    func receive(_ received: ReceivedMessage) {
        guard received.direction == .incoming, received.source == .live, let from = received.message.from,
              let state = received.message.chatState else { return }
        broadcaster.publish(.chatState(peer: from.bare.description, state: state.rawValue))
    }

    /// The input line changed: `peer` is the conversation on screen (nil for none), `typing`
    /// whether the line holds a message being written. True when a pause check should follow
    /// (`pauseIfIdle` after `pauseAfter`).
    nonisolated(nonsending) func inputChanged(in peer: JID?, typing: Bool, at now: ContinuousClock.Instant) async -> Bool {
        if let said, said.peer != peer {
            // Left the conversation while typing there.
            if said.state != .active { await say(.active, to: said.peer) }
            self.said = nil
        }
        guard let peer else { return false }
        if typing {
            lastTypedAt = now
            if said?.state != .composing { await say(.composing, to: peer) }
            return true
        }
        if let said, said.state != .active { await say(.active, to: peer) }
        return false
    }

    /// Says "paused" when the user stopped typing `pauseAfter` ago; true to look again later.
    nonisolated(nonsending) func pauseIfIdle(at now: ContinuousClock.Instant) async -> Bool {
        guard let last = lastTypedAt, let said, said.state == .composing else { return false }
        guard now - last >= Self.pauseAfter else { return true }
        await say(.paused, to: said.peer)
        return false
    }

    /// Sends `state` to `peer`: not to phone numbers at the gateway (a text message has no
    /// such thing), group texts or group chats, and not when the user turned chat states off.
    private nonisolated(nonsending) func say(_ state: ChatState, to peer: JID) async {
        said = (peer, state)
        guard sendsChatStates, peer.domain != gateway?.domain, !(peer.local ?? "").contains(","), !rooms.isRoom(peer) else { return }
        await send(Message.chatState(state, to: peer))
    }
}
