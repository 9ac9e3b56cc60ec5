import Synchronization
import DialtoneJingle
import DialtoneStore
import DialtoneXMPP

/// What the core tells its front ends (TUI, CLI, tests). Everything here is already stored.
public enum CoreEvent: Sendable {
    case connection(ConnectionState)
    /// A message new to history (never a duplicate), with the conversation's peer.
    case message(peer: String, StoredMessage)
    /// A stored message's text was corrected by its sender (XEP-0308).
    case corrected(peer: String, StoredMessage)
    /// A stored message was taken back by its sender (XEP-0424): no text left.
    case retracted(peer: String, StoredMessage)
    /// Someone (`by`, a bare address: the peer, or the user from any device) set their
    /// reactions to a stored message (XEP-0444): all of theirs, none when they took them back.
    case reacted(peer: String, StoredMessage, by: String, [String])
    /// The user read a conversation on another device (XEP-0490): its unread count is now `unread`.
    case readElsewhere(peer: String, unread: Int)
    /// The other side is typing, paused, gone… (XEP-0085), for 1:1 chats; never stored.
    case chatState(peer: String, state: String)
    /// Our message went end-to-end encrypted (OMEMO): its row now says so.
    case sentEncrypted(peer: String, StoredMessage)
    /// An outgoing message's status changed (sent, delivered, read), by row id.
    case status(messageID: Int64, StoredMessage.Status)
    /// An outgoing message waits in the outbox until the user acts: `reason` says why and
    /// what to do (encryption wanted for a contact with no usable OMEMO device).
    case held(peer: String, messageID: Int64, reason: String)
    case contactsChanged
    /// Someone asks to see the user's presence (RFC 6121); kept until answered, shown once.
    case subscriptionRequest(from: String, nick: String?)
    /// A contact answered the user's request: accepted, or refused (or took it back).
    case subscriptionAnswered(from: String, accepted: Bool)
    case presence(PresenceUpdate)
    /// Something happened in a group chat: we joined or left, its subject, its occupants.
    case room(RoomEvent)
    /// A call was created or changed state (ended calls carry their outcome).
    case call(CallInfo)
    /// A DTMF digit (RFC 4733) arrived on a call.
    case callDigit(callID: String, Character)
    /// Something arrived that failed validation and was dropped.
    case rejected(reason: String)
}

/// Fans events out to any number of listeners, each with its own buffer.
final class EventBroadcaster: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<CoreEvent>.Continuation]>([:])
    private let counter = Mutex(0)

    func subscribe() -> AsyncStream<CoreEvent> {
        let (stream, continuation) = AsyncStream<CoreEvent>.makeStream(bufferingPolicy: .unbounded)
        let id = counter.withLock { value in
            value += 1
            return value
        }
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in self?.subscribers.withLock { _ = $0.removeValue(forKey: id) } }
        return stream
    }

    func publish(_ event: CoreEvent) {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(event) }
    }

    func finish() {
        for continuation in subscribers.withLock({ Array($0.values) }) { continuation.finish() }
    }
}
