import DialtoneJingle
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging
import Synchronization

/// One account at work: its connection, its store and its features, joined so that nothing
/// received is acknowledged before it is stored and nothing sent is forgotten before the
/// server has it.
///
/// The session wires the features (`AccountFeature`) together and routes each client event to
/// the one that handles it; the features own their state and run on this actor.
public actor AccountSession {
    public nonisolated let account: JID
    /// Internal: front ends read through `records` and act through the session's commands.
    nonisolated let store: Store
    private let client: XMPPClient
    private let link = SessionLink()
    private let broadcaster = EventBroadcaster()
    private let logger: Logger
    /// HTTP for attachments, resolving and trusting as the XMPP connection does.
    let http: HTTPTransfer

    public private(set) var connectionState: ConnectionState = .offline(reason: nil)
    public private(set) var rejectedCount = 0

    /// How typed recipients become addresses: the account's gateway and country.
    public nonisolated let recipients: RecipientResolver
    /// Internal: front ends drive calls through `callControl`.
    nonisolated let calls: CallManager
    /// Whether the user lets people see when they type (`chat_states`).
    public nonisolated let sendsChatStates: Bool
    /// Devices and ICE settings calls (and voicemail playback) use.
    public nonisolated let callConfiguration: CallSettings

    // The features, in the order a new session is started for them: the archive catches up
    // before calls settle what it showed and before the outbox goes again.
    private let archive: ArchiveSync
    private let callService: CallService
    private let messaging: MessagingService
    private let roster: RosterService
    let subscriptions: SubscriptionService
    let blocking: BlockingService
    private let readState: ReadStateSync
    private let lookup: RecipientLookup
    private let chatStates: ChatStateTracker
    let groupChats: GroupChatService
    let encryption: EncryptionService
    private var features: [any AccountFeature] {
        // Our OMEMO device is published before the outbox goes (it may be encrypted for our own other devices).
        [blocking, archive, readState, callService, encryption, messaging, roster, subscriptions, lookup, chatStates, groupChats]
    }

    private var otherProcesses: Task<Void, Never>?
    var roomPings: Task<Void, Never>?
    /// The work after each room let us in (`roomJoined`), for a command to wait on.
    var roomsSettling: [JID: Task<Void, Never>] = [:]
    var roomPingInterval: Duration = .seconds(300)
    private let typing: AsyncStream<TypingInput>.Continuation
    private let typingInputs: AsyncStream<TypingInput>
    private var typingWorker: Task<Void, Never>?
    private var pauseCheck: Task<Void, Never>?

    private struct TypingInput: Sendable {
        var peer: JID?
        var typing: Bool
        var at: ContinuousClock.Instant
    }

    public init(configuration original: XMPPClientConfiguration, store: Store, recipients: RecipientResolver? = nil,
                calls callConfiguration: CallSettings = CallSettings(),
                chatStates: Bool = true, joinsRooms: Bool = true, encryptsByDefault: Bool = true,
                logger: Logger = Logger(label: "dialtone.core")) {
        var configuration = original
        // What Core implements, announced so that clients which look first (Conversations)
        // use it with us: read markers, corrections, retractions, replies, reactions, links as out-of-band data, typing
        // notices when we send them, and answering software-version queries when we do.
        configuration.extraFeatures += JingleNamespace.features + [Namespace.markers, Namespace.correction, Namespace.oob,
                                                                   Namespace.retraction, Namespace.retraction0, Namespace.reply,
                                                                   Namespace.reactions, Namespace.displayedSync + "+notify",
                                                                   Namespace.bookmarks + "+notify"]
            + OMEMOVersion.allCases.map { $0.deviceListNode + "+notify" }
        if chatStates { configuration.extraFeatures.append(Namespace.chatStates) }
        if configuration.softwareVersion != nil { configuration.extraFeatures.append(Namespace.version) }
        configuration.delegatedRequestNamespaces.insert(JingleNamespace.jingle)
        account = configuration.jid
        self.store = store
        self.logger = logger
        sendsChatStates = chatStates
        self.callConfiguration = callConfiguration
        let recipients = recipients ?? RecipientResolver(gateway: nil, country: RecipientResolver.defaultCountry())
        self.recipients = recipients
        http = HTTPTransfer(nameserver: configuration.nameserver, caFile: configuration.caFile)
        let link = self.link
        let client = XMPPClient(configuration: configuration, logger: logger) { events in try await link.session?.handle(events) }
        self.client = client

        archive = ArchiveSync(store: store, client: client, logger: logger)
        groupChats = GroupChatService(account: configuration.jid, store: store, client: client, broadcaster: broadcaster,
                                      joinsAtStart: joinsRooms, logger: logger)
        callService = CallService(client: client, store: store, broadcaster: broadcaster, gateway: recipients.gateway,
                                  configuration: callConfiguration, sealing: Self.fingerprintSealing(through: link), logger: logger)
        calls = callService.calls
        messaging = MessagingService(account: configuration.jid, store: store, client: client, broadcaster: broadcaster, http: http,
                                     interpreter: MessageInterpreter(account: configuration.jid, gateway: recipients.gateway),
                                     archive: archive, rooms: groupChats.directory, logger: logger)
        encryption = EncryptionService(account: configuration.jid, store: store, client: client, broadcaster: broadcaster,
                                       gateway: recipients.gateway, onByDefault: encryptsByDefault, logger: logger)
        messaging.pipeline = MessagePipeline(outgoing: [encryption], incoming: [encryption])
        groupChats.storeHeld = { [messaging] in try await messaging.receive($0) }
        roster = RosterService(store: store, broadcaster: broadcaster)
        subscriptions = SubscriptionService(store: store, client: client, broadcaster: broadcaster, logger: logger)
        blocking = BlockingService(client: client, logger: logger)
        readState = ReadStateSync(account: configuration.jid, store: store, client: client, broadcaster: broadcaster,
                                  rooms: groupChats.directory, logger: logger)
        lookup = RecipientLookup(recipients: recipients, store: store, client: client, logger: logger)
        self.chatStates = ChatStateTracker(sendsChatStates: chatStates, gateway: recipients.gateway, rooms: groupChats.directory,
                                           broadcaster: broadcaster) {
            try? await client.send($0.element)
        }
        (typingInputs, typing) = AsyncStream.makeStream(of: TypingInput.self)
        link.connect(self)
    }

    /// Opens the account's own store and builds its client from a config entry.
    /// `joinsRooms`: whether this session joins the bookmarked rooms at start (an interface
    /// that stays does; a one-shot command does not).
    public static func open(_ account: AccountConfiguration, calls: CallSettings? = nil, joinsRooms: Bool = true,
                            logger: Logger = Logger(label: "dialtone.core")) throws -> AccountSession {
        let configuration = try account.clientConfiguration()
        let store = try Store(path: Paths.database(for: configuration.jid.description))
        return AccountSession(configuration: configuration, store: store, recipients: try account.recipientResolver(),
                              calls: calls ?? account.callConfiguration(), chatStates: account.chatStates ?? true,
                              joinsRooms: joinsRooms, encryptsByDefault: account.omemo ?? true, logger: logger)
    }

    public func events() -> AsyncStream<CoreEvent> { broadcaster.subscribe() }

    public func start() async {
        callService.start()
        startTypingWorker()
        if roomPings == nil { startRoomPings() }
        // The roster we hold: a versioning server then sends it only when it changed.
        await client.setRosterVersion(try? store.rosterVersion)
        await client.start()
    }

    public func stop() async {
        otherProcesses?.cancel()
        roomPings?.cancel()
        typing.finish()
        pauseCheck?.cancel()
        for feature in features { await feature.stop() }
        await client.stop()
        broadcaster.finish()
    }

    /// `/disconnect`: closes the stream politely and stops reconnecting until `connect()`.
    public func disconnect() async { await client.stop() }

    /// `/connect`: connects again after `disconnect()` (or a permanent failure).
    public func connect() async { await client.start() }

    /// Waits until the server has answered a ping sent now: everything sent before has reached
    /// it, and what it sent before (requests it keeps for us, say) has been stored here.
    public func settle() async throws { try await client.roundTrip() }

    /// Availability (nil, "away", "dnd", "xa", "chat") and a status text, kept across reconnects.
    public func setPresence(show: String?, status: String?) async throws {
        try await client.setPresence(show: show, status: status)
    }

    /// For tests and `/disconnect --drop`: cut the link as a network failure would.
    public func dropConnection() async { await client.dropConnection() }

    nonisolated var xmppClient: XMPPClient { client }

    // MARK: Queries

    /// What the account has stored: conversations, history, call log, contacts, search.
    public nonisolated var records: AccountRecords { AccountRecords(store: store) }

    /// The user's address book, to import into, edit and export.
    public nonisolated var addressBook: AddressBook { AddressBook(store: store, country: recipients.country) }

    /// Answer, decline, hang up and send digits on this account's calls.
    public nonisolated var callControl: CallControl { CallControl(manager: calls) }

    // MARK: Ad-hoc commands (XEP-0050)

    /// The commands `entity` offers (a gateway's "Register", "Voicemail greeting"…).
    public func commands(of entity: JID) async throws -> [AdHocCommand] {
        try await client.commands(of: entity)
    }

    /// Runs one step of a command: start it (no session id), or go on with `action` and the
    /// filled-in form.
    public func execute(_ node: String, on entity: JID, sessionID: String?, action: String, form: DataForm?) async throws -> AdHocResponse {
        try await client.execute(node, on: entity, sessionID: sessionID, action: action, form: form)
    }

    // MARK: Routing

    /// One batch of the client's events, in order. Messages are stored together at the end of
    /// the batch (one transaction); the client acknowledges the batch when this returns.
    private func handle(_ events: [XMPPEvent]) async throws {
        var received: [ReceivedMessage] = []
        for event in events {
            switch event {
            case .message(let message) where message.direction == .incoming && message.peer.map(blocking.isBlocked) == true:
                // The server should have dropped it; whatever a blocked address sends is not shown.
                logger.info("dropped a message from a blocked address")
            case .message(let message) where message.room != nil:
                // Said in a room: no calls, typing notices or receipts come that way.
                if let accepted = groupChats.accept(message) { received.append(accepted) }
            case .message(let message) where groupChats.refusal(message) || groupChats.invitation(message):
                break
            case .message(let original):
                let message = groupChats.markPrivate(original)
                callService.offer(message)
                chatStates.receive(message)
                try messaging.applyLifecycle(of: message)
                received.append(message)
            case .acknowledged(let ids):
                try messaging.acknowledged(ids)
            case .roster(let change):
                try roster.apply(change)
            case .presence(let presence):
                broadcaster.publish(.presence(presence))
            case .roomPresence(let presence):
                if let room = await groupChats.receive(presence) {
                    // In: what we missed there, then what waits to be said there.
                    roomsSettling[room] = Task { await self.roomJoined(room) }
                }
            case .omemoDevices(let owner, let version, let list):
                encryption.devicesAnnounced(by: owner, version: version, list)
            case .bookmarks(let change):
                Task { await self.bookmarksChanged(change) }
            case .subscription(let change):
                guard !blocking.isBlocked(change.from) else { break }
                try await subscriptions.receive(change)
            case .blocking(let change):
                blocking.apply(change)
            case .displayedElsewhere(let marks):
                // Stored marks first: a mark may name a message of this very batch.
                if !received.isEmpty { try await messaging.receive(received) }
                received = []
                try readState.apply(marks)
            case .connectionState(let state):
                connectionState = state
                broadcaster.publish(.connection(state))
            case .sessionStarted(_, let resumed):
                for feature in features { try feature.sessionBound(resumed: resumed) }
                // Not awaited here: catching up waits for answers this very stream brings.
                Task { for feature in self.features { await feature.sessionStarted(resumed: resumed) } }
            case .request(let request):
                callService.offer(request)
            case .rejected(let reason, let stanza):
                rejectedCount += 1
                logger.warning("rejected stanza: \(reason): \(stanza.excerptForLog())")
                broadcaster.publish(.rejected(reason: reason))
            }
        }
        if !received.isEmpty {
            try await messaging.receive(received)
            groupChats.batchStored()
            try readState.retryUnmatched()
        }
        // What decrypting left to do (new pre-keys, heartbeats) needs the network: not here.
        if encryption.hasPendingWork { Task { await self.encryptionWork() } }
    }

    func encryptionWork() async { await encryption.doPendingWork() }

    // MARK: Messages

    /// Puts a message in the outbox and sends it if we are online; it goes again after a
    /// reconnect until the server confirms it.
    @discardableResult
    public func sendMessage(to peer: JID, body: String) async throws -> StoredMessage {
        try await joinIfRoom(peer)
        return try await messaging.send(to: peer, body: body)
    }

    /// A room we know but are not in is joined before anything is said there.
    private func joinIfRoom(_ peer: JID) async throws {
        if groupChats.directory.isRoom(peer), !groupChats.directory.isJoined(peer) { try await joinRoom(peer) }
    }

    func messagingFlush() async { await messaging.flushOutbox() }

    /// A message answering row `original` of the same conversation (XEP-0461); clients without
    /// replies see its first line quoted above the text.
    @discardableResult
    public func sendReply(to peer: JID, body: String, replyingTo original: Int64) async throws -> StoredMessage {
        try await messaging.send(to: peer, body: body, replyingTo: original)
    }

    /// Adds a reaction (XEP-0444) to a stored message of any sender, or takes ours away.
    @discardableResult
    public func react(to message: Int64, with reaction: String, adding: Bool = true) async throws -> StoredMessage {
        try await messaging.react(to: message, with: reaction, adding: adding)
    }

    /// Uploads a file (XEP-0363) and sends its link with an optional caption in one message,
    /// with the link as out-of-band data too.
    @discardableResult
    public func sendAttachment(path: String, to peer: JID, caption: String? = nil,
                               progress: HTTPTransfer.Progress? = nil) async throws -> StoredMessage {
        try await joinIfRoom(peer)
        return try await messaging.sendAttachment(path: path, to: peer, caption: caption, progress: progress)
    }

    /// Replaces the text of one of our sent messages (XEP-0308); the old text stays in history.
    @discardableResult
    public func correctMessage(_ id: Int64, newBody: String) async throws -> StoredMessage {
        try await messaging.correct(id, newBody: newBody)
    }

    /// Takes back one of our sent messages (XEP-0424): the recipient's client removes it, and
    /// its text leaves our history too.
    @discardableResult
    public func retractMessage(_ id: Int64) async throws -> StoredMessage {
        try await messaging.retract(id)
    }

    /// The user has read `peer`'s conversation: clear its unread count and tell the sender
    /// (XEP-0333 displayed) when their client asked for markers.
    public func markSeen(_ peer: JID) async throws {
        let newest = try await messaging.markSeen(peer)
        // The account's other devices learn it too (XEP-0490).
        await readState.displayed(newest, in: peer)
    }

    /// Shows what other processes of this account store (a `send` from a script, a message a
    /// `listen` beside us stored first): one cheap check a second of whether anyone else wrote,
    /// and only then a read of the new rows. For front ends that keep a view of the history.
    public func followOtherProcesses(every interval: Duration = .seconds(1)) {
        guard otherProcesses == nil else { return }
        let store = self.store
        otherProcesses = Task { [weak self] in
            var version = (try? store.changesByOthers()) ?? 0
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let now = try? store.changesByOthers(), now != version else { continue }
                version = now
                await self?.publishOthersMessages()
            }
        }
    }

    private func publishOthersMessages() { messaging.publishOthersMessages() }

    // MARK: Chat states

    /// After every change of the input line: the conversation on screen (nil when none, or
    /// when leaving this account) and whether the line holds a message being written. Core
    /// sends composing, paused and active from these; in the order they were given.
    public nonisolated func inputChanged(in peer: JID?, typing: Bool) {
        self.typing.yield(TypingInput(peer: peer, typing: typing, at: .now))
    }

    private func startTypingWorker() {
        guard typingWorker == nil else { return }
        let inputs = typingInputs
        typingWorker = Task {
            for await input in inputs {
                if await self.chatStates.inputChanged(in: input.peer, typing: input.typing, at: input.at) {
                    self.schedulePauseCheck()
                }
            }
        }
    }

    private func schedulePauseCheck() {
        guard pauseCheck == nil else { return }
        pauseCheck = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: ChatStateTracker.pauseAfter)
                if !(await self.chatStates.pauseIfIdle(at: .now)) { break }
            }
            self.pauseCheck = nil
        }
    }

    // MARK: Calls

    /// Places a call. A number's gateway must say it carries voice (XEP-0030 identity
    /// gateway/pstn); a contact needs no presence: the propose rings whatever devices it has.
    public func placeCall(to peer: JID) async throws -> String {
        try await callService.place(to: peer)
    }

    // MARK: Recipients

    /// Names for addresses, from the address book and roster as they are now.
    public nonisolated func displayNames() throws -> DisplayNames {
        DisplayNames(contacts: try store.contacts(), addressBook: try store.addressBook(), gateway: recipients.gateway,
                     country: recipients.country, nicknames: try store.nicknames(), rooms: try store.rooms())
    }

    /// The address for what the user typed. Phone numbers go through the gateway's own
    /// XEP-0100 translation when we are online and it offers one, else the local E.164 form.
    public func resolveRecipient(_ text: String) async throws -> JID {
        try await lookup.resolve(text, online: connectionState == .online)
    }

    /// The group-text address for several typed recipients (`/group alice, +1555…, bob`).
    public func resolveGroup(_ texts: [String]) async throws -> JID {
        try await lookup.resolveGroup(texts, online: connectionState == .online)
    }
}

/// A weak way back to the session for what is built before it and calls into it: the client
/// (its events) and the call manager (its fingerprints). Nil until the session is fully built,
/// and again once it is gone: no reference cycle.
final class SessionLink: Sendable {
    private struct Target: @unchecked Sendable { weak var session: AccountSession? }
    private let target = Mutex(Target())

    var session: AccountSession? { target.withLock { $0.session } }

    func connect(_ session: AccountSession) { target.withLock { $0.session = session } }
}
