import DialtoneICE
import DialtoneJingle
import DialtoneStore
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging
import Synchronization

/// One account at work: its connection and its store, joined so that nothing received is
/// acknowledged before it is stored and nothing sent is forgotten before the server has it.
public actor AccountSession {
    public nonisolated let account: JID
    public nonisolated let store: Store
    private let client: XMPPClient
    private let relay = EventRelay()
    private let broadcaster = EventBroadcaster()
    private let logger: Logger

    // No mirror of which outbox rows are "in flight": the client alone knows what its session
    // still holds (see `transmit`). A set kept here went stale whenever a resumption failed or
    // a send raced a reconnect, and the rows it named were never sent again.
    /// While catching up on the archive, live messages must not move the cursor past the gap.
    /// A count, not a flag: catch-ups of two sessions may overlap, and the first to end must
    /// not let live messages move the cursor while the other is still paging.
    private var catchUpsRunning = 0
    private var catchingUp: Bool { catchUpsRunning > 0 }
    private var liveCursorDuringCatchUp: String?
    /// What this process has shown its front end, so that another process's messages show too.
    private var published: PublishedMessages
    private var otherProcesses: Task<Void, Never>?
    public private(set) var connectionState: ConnectionState = .offline(reason: nil)
    public private(set) var rejectedCount = 0

    /// How typed recipients become addresses: the account's gateway and country.
    public nonisolated let recipients: RecipientResolver
    /// HTTP for attachments, resolving and trusting as the XMPP connection does.
    let http: HTTPTransfer
    private let interpreter: MessageInterpreter
    private var gatewayAnswers: [String: JID] = [:]
    private var gatewayCarriesVoice: Bool?

    /// Calls: XEP-0353 messages and Jingle requests go through one ordered queue, so that a
    /// propose is seen before its retract and a session-initiate before its transport-info,
    /// and so that the manager's own requests never hold up the stream that answers them.
    public nonisolated let calls: CallManager
    /// Whether the user lets people see when they type (`chat_states`).
    public nonisolated let sendsChatStates: Bool
    /// Devices and ICE settings calls (and voicemail playback) use.
    public nonisolated let callConfiguration: CallManager.Configuration
    private let callInbox: AsyncStream<CallInput>.Continuation
    private let callInputs: AsyncStream<CallInput>
    private var callWorkers: [Task<Void, Never>] = []

    enum CallInput: Sendable {
        case initiation(MessageInitiation, ReceivedMessage)
        case request(XMLElement)
        case archiveCaughtUp
    }

    public init(configuration original: XMPPClientConfiguration, store: Store, recipients: RecipientResolver? = nil,
                calls callConfiguration: CallManager.Configuration = CallManager.Configuration(),
                chatStates: Bool = true, logger: Logger = Logger(label: "dialtone.core")) {
        self.sendsChatStates = chatStates
        var configuration = original
        configuration.extraFeatures += JingleNamespace.features
        configuration.delegatedRequestNamespaces.insert(JingleNamespace.jingle)
        self.account = configuration.jid
        self.store = store
        self.published = PublishedMessages(startingAfter: (try? store.newestMessageID()) ?? 0)
        self.recipients = recipients ?? RecipientResolver(gateway: nil, country: RecipientResolver.defaultCountry())
        self.interpreter = MessageInterpreter(account: configuration.jid, gateway: self.recipients.gateway)
        self.http = HTTPTransfer(nameserver: configuration.nameserver, caFile: configuration.caFile)
        self.logger = logger
        let relay = self.relay
        let client = XMPPClient(configuration: configuration, logger: logger) { events in try await relay.forward(events) }
        self.client = client
        let callers = CallerPolicy(store: store, gateway: self.recipients.gateway, anyone: callConfiguration.callsFromAnyone)
        calls = CallManager(signalling: CallSignalling(client: client, mayCall: { callers.mayCall($0) }),
                            configuration: callConfiguration, logger: logger)
        self.callConfiguration = callConfiguration
        (callInputs, callInbox) = AsyncStream.makeStream(of: CallInput.self)
        relay.connect { [weak self] events in try await self?.handle(events) }
    }

    /// Opens the account's own store and builds its client from a config entry.
    public static func open(_ account: AccountConfiguration, calls: CallManager.Configuration? = nil,
                            logger: Logger = Logger(label: "dialtone.core")) throws -> AccountSession {
        let configuration = try account.clientConfiguration()
        let store = try Store(path: Paths.database(for: configuration.jid.description))
        return AccountSession(configuration: configuration, store: store, recipients: try account.recipientResolver(),
                              calls: calls ?? account.callConfiguration(), chatStates: account.chatStates ?? true, logger: logger)
    }

    public func events() -> AsyncStream<CoreEvent> { broadcaster.subscribe() }

    public func start() async {
        if callWorkers.isEmpty { startCallWorkers() }
        // The roster we hold: a versioning server then sends it only when it changed.
        await client.setRosterVersion(try? store.rosterVersion)
        await client.start()
    }

    public func stop() async {
        otherProcesses?.cancel()
        // Calls end first, and their last states reach the store before the streams close.
        await calls.hangUpAll()
        await calls.closeEvents()
        callInbox.finish()
        for worker in callWorkers { await worker.value }
        await client.stop()
        broadcaster.finish()
    }

    private func startCallWorkers() {
        let calls = self.calls
        let inputs = callInputs
        callWorkers.append(Task {
            for await input in inputs {
                switch input {
                case .initiation(let initiation, let received):
                    // Offline storage delivers old proposes live, with our server's delay
                    // stamp: those are history (a missed call), not a phone ringing now.
                    let origin: CallManager.Origin = switch received.source {
                    case .live where received.heldByServer: .archive
                    case .live: .live
                    case .carbon: .carbon
                    case .archive: .archive
                    }
                    await calls.handle(initiation, from: received.message.from, to: received.message.to,
                                       outgoing: received.direction == .outgoing, origin: origin, at: received.timestamp)
                case .request(let iq):
                    await calls.handle(request: iq)
                case .archiveCaughtUp:
                    await calls.archiveCaughtUp()
                }
            }
        })
        let broadcaster = self.broadcaster
        let store = self.store
        let logger = self.logger
        callWorkers.append(Task {
            for await event in await calls.events() {
                switch event {
                case .updated(let info):
                    // Stored first, as messages are: the front ends may read the log at once.
                    do { try store.recordCall(Self.record(of: info), peer: info.peer.description) } catch {
                        logger.error("cannot store call \(info.id): \(error)")
                    }
                    broadcaster.publish(.call(info))
                case .digit(let id, let digit): broadcaster.publish(.callDigit(callID: id, digit))
                }
            }
        })
    }

    /// `/disconnect`: closes the stream politely and stops reconnecting until `connect()`.
    public func disconnect() async { await client.stop() }

    /// `/connect`: connects again after `disconnect()` (or a permanent failure).
    public func connect() async { await client.start() }

    /// Availability (nil, "away", "dnd", "xa", "chat") and a status text, kept across reconnects.
    public func setPresence(show: String?, status: String?) async throws {
        try await client.setPresence(show: show, status: status)
    }

    /// For tests and `/disconnect --drop`: cut the link as a network failure would.
    public func dropConnection() async { await client.dropConnection() }

    public nonisolated var xmppClient: XMPPClient { client }

    // MARK: Calls

    /// Places a call. A number's gateway must say it carries voice (XEP-0030 identity
    /// gateway/pstn); a contact needs no presence: the propose rings whatever devices it has.
    public func placeCall(to peer: JID) async throws -> String {
        if let gateway = recipients.gateway, peer.domain == gateway.domain, peer.local != nil {
            if gatewayCarriesVoice == nil {
                let identities = try await client.identities(of: gateway)
                gatewayCarriesVoice = identities.contains { $0.category == "gateway" && $0.type == "pstn" }
            }
            guard gatewayCarriesVoice == true else { throw CallPlacementError.noVoiceGateway(gateway.description) }
        }
        return try await calls.place(to: peer)
    }

    // MARK: Recipients

    /// Names for addresses, from the address book and roster as they are now.
    public nonisolated func displayNames() throws -> DisplayNames {
        DisplayNames(contacts: try store.contacts(), addressBook: try store.addressBook(), gateway: recipients.gateway,
                     country: recipients.country)
    }

    /// The address for what the user typed. Phone numbers go through the gateway's own
    /// XEP-0100 translation when we are online and it offers one, else the local E.164 form.
    public func resolveRecipient(_ text: String) async throws -> JID {
        let parsed = try recipients.parse(text, contacts: store.contacts(), addressBook: store.addressBook())
        let prompt: String
        switch parsed {
        case .address(let jid), .contact(let jid): return jid
        case .number(let number): prompt = number.e164
        case .shortCode(let digits): prompt = digits
        }
        guard let gateway = recipients.gateway else { return try recipients.localAddress(for: parsed) }
        if let known = gatewayAnswers[prompt] { return known }
        guard connectionState == .online else { return try recipients.localAddress(for: parsed) }
        do {
            let jid = try await client.gatewayAddress(for: prompt, gateway: gateway)
            gatewayAnswers[prompt] = jid
            return jid
        } catch let error as GatewayError {
            if case .notServed = error { throw error }
            logger.info("gateway \(gateway) does not translate numbers (\(error)); using the E.164 form")
            let jid = try recipients.localAddress(for: parsed)
            gatewayAnswers[prompt] = jid
            return jid
        }
    }

    /// The group-text address for several typed recipients (`/group alice, +1555…, bob`).
    public func resolveGroup(_ texts: [String]) async throws -> JID {
        var participants: [JID] = []
        for text in texts { participants.append(try await resolveRecipient(text)) }
        return try recipients.groupAddress(for: participants)
    }

    // MARK: Sending

    /// Puts a message in the outbox and sends it if we are online; it goes again after a
    /// reconnect until the server confirms it.
    @discardableResult
    public func sendMessage(to peer: JID, body: String) async throws -> StoredMessage {
        let message = Message.chat(to: peer, body: body)
        let stored = try store.enqueue(StoredMessage(
            direction: .outgoing, sender: account.description, body: body, stanzaID: message.id,
            dedupeKey: message.originID, timestamp: Date(), status: .pending,
            stanzaXML: message.element.serialized()), to: peer.bare.description)
        publishMessage(stored, peer: peer.bare.description)
        await transmit(message.element)
        return stored
    }

    /// Tells `peer` we are composing, paused or active (XEP-0085). Not to phone numbers at
    /// the gateway (a text message has no such thing) or group texts, and not when the user
    /// turned chat states off. Never stored by the server, never resent.
    public func sendChatState(_ state: String, to peer: JID) async {
        guard sendsChatStates, peer.domain != recipients.gateway?.domain, !(peer.local ?? "").contains(",") else { return }
        var message = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": peer.bare.description, "type": "chat", "id": newStanzaID()])
        message.append(XMLElement(state, namespace: Namespace.chatStates))
        message.append(XMLElement("no-store", namespace: Namespace.hints))
        try? await client.send(message)
    }

    // MARK: Attachments

    /// Uploads a file (XEP-0363) and sends its link with an optional caption in one message,
    /// with the link as out-of-band data too.
    @discardableResult
    public func sendAttachment(path: String, to peer: JID, caption: String? = nil,
                               progress: HTTPTransfer.Progress? = nil) async throws -> StoredMessage {
        let url = URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw AttachmentError.unreadable(url.path) }
        let name = url.lastPathComponent
        let type = MessageInterpreter.mediaType(forURL: "file:///" + name) ?? "application/octet-stream"
        guard let service = try await client.uploadService() else { throw UploadError.noService }
        let slot = try await client.requestUploadSlot(from: service, fileName: name, size: data.count, contentType: type)
        try await http.put(Array(data), to: slot.putURL, headers: slot.headers.map { ($0.key, $0.value) }, contentType: type, progress: progress)
        let link = slot.getURL.absoluteString
        let body = caption.map { "\($0)\n\(link)" } ?? link
        let message = Message.chat(to: peer, body: body, outOfBand: [OutOfBandData(url: link)])
        let attachment = Attachment(url: link, mediaType: type, name: name, size: data.count)
        let stored = try store.enqueue(StoredMessage(
            direction: .outgoing, sender: account.description, body: caption, stanzaID: message.id, dedupeKey: message.originID,
            timestamp: Date(), status: .pending, attachments: [attachment], stanzaXML: message.element.serialized()), to: peer.bare.description)
        publishMessage(stored, peer: peer.bare.description)
        await transmit(message.element)
        return stored
    }

    /// Replaces the text of one of our sent messages (XEP-0308); the old text stays in history.
    @discardableResult
    public func correctMessage(_ id: Int64, newBody: String) async throws -> StoredMessage {
        guard let original = try store.message(id: id), original.direction == .outgoing, let originalID = original.stanzaID,
              let peer = try store.conversations().first(where: { $0.id == original.conversationID })?.peer,
              let peerJID = try? JID(peer) else {
            throw CoreError.notCorrectable
        }
        var correction = Message.chat(to: peerJID, body: newBody).element
        correction.append(XMLElement("replace", namespace: Namespace.correction, attributes: [XMLAttribute("id", originalID)]))
        // Through the outbox like any message: offline, or dropped before the server has it,
        // it goes with the next connection instead of being lost while the edit shows here.
        guard let correctionID = correction[attribute: "id"],
              let corrected = try store.correct(stanzaID: originalID, sender: account.description, peer: peer, body: newBody,
                                                at: Date(), sending: (correctionID, correction.serialized())) else {
            throw CoreError.notCorrectable
        }
        broadcaster.publish(.corrected(peer: peer, corrected))
        await transmit(correction)
        return corrected
    }

    /// The user has read `peer`'s conversation: clear its unread count and tell the sender
    /// (XEP-0333 displayed) when their client asked for markers.
    public func markSeen(_ peer: JID) async throws {
        guard let newest = try store.markConversationSeen(peer: peer.bare.description), let id = newest.stanzaID,
              let xml = newest.stanzaXML, let stanza = try? XMLElement(parsing: xml),
              stanza.child("markable", namespace: Namespace.markers) != nil else { return }
        var marker = XMLElement("message", namespace: Namespace.client,
                                attributes: ["to": peer.bare.description, "id": newStanzaID(), "type": "chat"])
        marker.append(XMLElement("displayed", namespace: Namespace.markers, attributes: [XMLAttribute("id", id)]))
        marker.append(XMLElement("store", namespace: Namespace.hints))
        try? await client.send(marker)
    }

    /// Sends an outbox row unless the client's session already sent it (what it holds
    /// unconfirmed it resends itself after a resume). The check is the client's, made where
    /// the send is, so no state here can say "in flight" about a stanza a dead session threw away.
    private func transmit(_ stanza: XMLElement) async {
        guard let id = stanza[attribute: "id"] else { return }
        do {
            try await client.sendOncePerSession(stanza)
        } catch {
            logger.info("message \(id) waits in the outbox: \(error)")
        }
    }

    /// Sends every outbox row the current session has not sent. Safe to run at any time and
    /// concurrently with itself: the client skips what this session already sent, including
    /// rows the server confirms while the flush works from its snapshot of the outbox.
    private func flushOutbox() async {
        let pending: [(peer: String, message: StoredMessage)]
        do { pending = try store.outbox() } catch {
            logger.error("cannot read the outbox: \(error)")
            return
        }
        for (_, message) in pending {
            guard message.stanzaID != nil, let xml = message.stanzaXML,
                  let stanza = try? XMLElement(parsing: xml) else { continue }
            await transmit(stanza)
        }
        // Corrections after the messages, so none arrives before what it corrects.
        for xml in (try? store.queuedStanzas()) ?? [] {
            if let stanza = try? XMLElement(parsing: xml) { await transmit(stanza) }
        }
    }

    // MARK: Receiving

    private func handle(_ events: [XMPPEvent]) async throws {
        var records: [(peer: String, message: StoredMessage)] = []
        var sources: [ReceivedMessage] = []
        var cursor: String?
        for event in events {
            switch event {
            case .message(let received):
                if let initiation = MessageInitiation(message: received.message.element) {
                    callInbox.yield(.initiation(initiation, received))
                }
                try applyLifecycle(of: received)
                guard let record = interpreter.interpret(received) else { continue }
                if let original = received.message.element.child("replace", namespace: Namespace.correction)?[attribute: "id"] {
                    // Written before, to the store, not as a new message; only its own sender's
                    // corrections match (another's correction becomes a message of its own).
                    // Our own correction seen in the archive or a carbon has reached the server.
                    if received.direction == .outgoing, let id = received.message.id { try store.markSent(stanzaIDs: [id]) }
                    if let corrected = try store.correct(stanzaID: original, sender: record.message.sender, peer: record.peer,
                                                         body: record.message.body, at: record.message.timestamp) {
                        broadcaster.publish(.corrected(peer: record.peer, corrected))
                        continue
                    }
                }
                records.append(record)
                sources.append(received)
                if received.source == .live, let id = received.archiveID { cursor = id }
            case .acknowledged(let ids):
                try store.markSent(stanzaIDs: ids)
                publishStatusChanges(ids)
            case .roster(.full(let items, let version)):
                try store.replaceContacts(items.map(Self.contact), version: version)
                broadcaster.publish(.contactsChanged)
            case .roster(.push(let item, let version)):
                try store.apply(contact: Self.contact(item), version: version)
                broadcaster.publish(.contactsChanged)
            case .roster(.unchanged):
                // The stored roster is current; front ends waiting for it may show it now.
                broadcaster.publish(.contactsChanged)
            case .presence(let presence):
                broadcaster.publish(.presence(presence))
            case .connectionState(let state):
                connectionState = state
                broadcaster.publish(.connection(state))
            case .sessionStarted(_, let resumed):
                if resumed {
                    // The client resends what it had in flight; what was written while we
                    // were away never left the outbox.
                    Task { await self.flushOutbox() }
                } else {
                    let from = try store.archiveCursor
                    Task { await self.catchUp(from: from) }
                }
            case .request(let iq):
                callInbox.yield(.request(iq))
            case .rejected(let reason, let stanza):
                rejectedCount += 1
                logger.warning("rejected stanza: \(reason): \(stanza.serialized().prefix(300))")
                broadcaster.publish(.rejected(reason: reason))
            }
        }
        guard !records.isEmpty else { return }
        // Archive pages move the cursor in catchUp(); a live message moves it only when no
        // gap lies before it.
        if catchingUp, let cursor { liveCursorDuringCatchUp = cursor }
        let outcomes = try store.record(records, archiveCursor: catchingUp ? nil : cursor)
        for ((outcome, record), received) in zip(zip(outcomes, records), sources) {
            if case .duplicate(let id) = outcome, let stored = try? store.message(id: id) {
                // Another process of this account stored it first (whichever way it reached
                // us: live, as a carbon, from the archive); this one shows it all the same.
                // Rows this process published, or stored before it started, are not shown again.
                publishMessage(stored, peer: record.peer)
            }
            if case .inserted(let id) = outcome {
                var message = record.message
                message.id = id
                publishMessage(message, peer: record.peer)
                // Live messages got their receipt from the client; one we first see in the
                // archive (it arrived while we were away) gets it now that it is stored.
                if received.source == .archive, received.direction == .incoming, let receipt = received.message.receiptReply {
                    try? await client.send(receipt)
                }
            }
        }
    }

    /// Tells front ends of a stored message, once per process whatever path it came by.
    private func publishMessage(_ message: StoredMessage, peer: String) {
        guard let id = message.id, published.note(id) else { return }
        broadcaster.publish(.message(peer: peer, message))
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

    private func publishOthersMessages() {
        guard let rows = try? store.messages(after: published.scannedThrough) else { return }
        for (peer, message) in rows {
            guard let id = message.id else { continue }
            published.scannedThrough = max(published.scannedThrough, id)
            publishMessage(message, peer: peer)
        }
    }

    /// Receipts, chat markers and chat states: what the other side did with our messages.
    private func applyLifecycle(of received: ReceivedMessage) throws {
        guard received.direction == .incoming, let from = received.message.from else { return }
        let peer = from.bare.description
        if let receipt = received.message.receiptFor, let id = try store.markDelivered(stanzaID: receipt, peer: peer) {
            broadcaster.publish(.status(messageID: id, .delivered))
        }
        let element = received.message.element
        if let displayed = element.child("displayed", namespace: Namespace.markers)?[attribute: "id"] {
            for id in try store.markRead(upTo: displayed, peer: peer) { broadcaster.publish(.status(messageID: id, .read)) }
        } else if let marker = element.child("received", namespace: Namespace.markers)?[attribute: "id"],
                  let id = try store.markDelivered(stanzaID: marker, peer: peer) {
            broadcaster.publish(.status(messageID: id, .delivered))
        }
        if received.source == .live, let state = element.child(in: Namespace.chatStates)?.name {
            broadcaster.publish(.chatState(peer: peer, state: state))
        }
    }

    private func publishStatusChanges(_ stanzaIDs: [String]) {
        // Front ends re-read by row id; the outbox rows are few, so a scan is cheap.
        guard let rows = try? store.recentOutgoing(stanzaIDs: stanzaIDs) else { return }
        for row in rows { if let id = row.id { broadcaster.publish(.status(messageID: id, row.status)) } }
    }

    /// Catches up on what the archive holds since the last message we stored, then resends
    /// what the outbox still holds (the archive may have shown some of it already arrived).
    private func catchUp(from cursor: String?) async {
        if catchUpsRunning == 0 { liveCursorDuringCatchUp = nil }
        catchUpsRunning += 1
        defer { catchUpsRunning -= 1 }
        do {
            var after = cursor
            var total = 0
            while true {
                let page: XMPPClient.ArchivePage
                do {
                    page = try await client.fetchArchivePage(after: after, newestFirst: after == nil)
                } catch let error as StanzaError where error.condition == "item-not-found" && after != nil {
                    // The archive no longer knows our cursor (expired, or a new server):
                    // start again from its newest page rather than never catching up.
                    logger.warning("archive cursor \(after ?? "") unknown to the server; fetching the newest page")
                    after = nil
                    continue
                }
                total += page.count
                if let last = page.last {
                    try store.setArchiveCursor(last)
                }
                if page.complete || page.count == 0 || after == nil { break }
                after = page.last
            }
            // Only the last catch-up to end knows no gap remains before the live messages.
            if catchUpsRunning == 1, let live = liveCursorDuringCatchUp { try store.setArchiveCursor(live) }
            logger.info("archive catch-up: \(total) messages")
        } catch {
            logger.warning("archive catch-up failed: \(error)")
        }
        callInbox.yield(.archiveCaughtUp)
        await flushOutbox()
    }

    // MARK: Mapping

    static func record(of call: CallInfo) -> CallRecord {
        CallRecord(id: call.id, direction: call.direction.rawValue, outcome: call.outcome?.rawValue, reason: call.reason,
                   startedAt: call.startedAt, connectedAt: call.connectedAt, endedAt: call.endedAt)
    }

    static func contact(_ item: RosterItem) -> Contact {
        Contact(jid: item.jid.bare.description, name: item.name, subscription: item.subscription, groups: item.groups)
    }
}

extension AccountConfiguration {
    /// The phone-number settings: `gateway` and `country` (or the locale's).
    public func recipientResolver() throws -> RecipientResolver {
        var gatewayJID: JID?
        if let gateway {
            do { gatewayJID = try JID(gateway) } catch {
                throw ConfigurationError.invalid(path: "config", detail: "account \(jid): gateway \"\(gateway)\" is not an address")
            }
        }
        return RecipientResolver(gateway: gatewayJID, country: country?.uppercased() ?? RecipientResolver.defaultCountry())
    }

    /// The call settings: ICE servers, devices, loopback-only ICE for tests.
    public func callConfiguration() -> CallManager.Configuration {
        var calls = CallManager.Configuration()
        calls.media.ice.loopbackOnly = iceLoopbackOnly ?? false
        if calls.media.ice.loopbackOnly { calls.media.ice.useIPv6 = false }
        calls.media.ice.stunServer = stun.flatMap(TransportAddress.init(ipAndPort:))
        if let turn = turn.flatMap(TransportAddress.init(ipAndPort:)), let turnUsername, let turnPassword {
            let transport = turnTransport.flatMap(TURNTransport.init(rawValue:)) ?? .udp
            calls.media.ice.turnServer = TURNServerConfiguration(address: turn, username: turnUsername, password: turnPassword,
                                                                 transport: transport, caFile: caFile)
            // A server reached over UDP is tried over TCP on the same port where UDP is blocked
            // (coturn and most servers listen on both).
            if transport == .udp {
                calls.media.ice.turnFallbacks = [TURNServerConfiguration(address: turn, username: turnUsername, password: turnPassword,
                                                                         transport: .tcp, caFile: caFile)]
            }
        }
        if let capture { calls.media.captureDevice = capture }
        if let playback { calls.media.playbackDevice = playback }
        if let timeout = iceConsentTimeout?.value, timeout > 0 {
            calls.media.ice.consentTimeout = .milliseconds(Int(timeout * 1000))
            calls.media.ice.consentInterval = min(calls.media.ice.consentInterval, .milliseconds(Int(timeout * 250)))
        }
        calls.media.ice.relayOnly = iceRelayOnly ?? false
        if let iceAddresses { calls.media.ice.hostAddresses = iceAddresses.compactMap(IPAddress.init) }
        calls.ringDevice = ringDevice
        calls.callsFromAnyone = callsFrom == "anyone"
        if let echoCancellation { calls.media.voice.echoCancellation = echoCancellation }
        if let noiseSuppression { calls.media.voice.noiseSuppression = noiseSuppression }
        if let autoGain { calls.media.voice.automaticGain = autoGain }
        calls.media.realtimeAudio = realtimeAudio ?? true
        calls.useExternalServices = externalServices ?? true
        if let alsaConfig { calls.media.alsaConfiguration = try? String(contentsOfFile: alsaConfig, encoding: .utf8) }
        return calls
    }

    /// The connection settings, with the password read from its source.
    public func clientConfiguration() throws -> XMPPClientConfiguration {
        let address: JID
        do { address = try JID(jid) } catch { throw ConfigurationError.invalidAddress("The account address \(jid) is invalid: \(error)") }
        guard address.local != nil else { throw ConfigurationError.invalidAddress("The account address \(jid) has no user name.") }
        var configuration = XMPPClientConfiguration(
            jid: address, password: try PasswordSource.password(for: self), server: server, port: port,
            tls: tls.flatMap(XMPPClientConfiguration.TLSMode.init(rawValue:)) ?? .starttls, caFile: caFile,
            pinnedCertificateSHA256: nil, resource: resource)
        if let fingerprint {
            guard let bytes = parseFingerprint(fingerprint), bytes.count == 32 else {
                throw ConfigurationError.invalid(path: "config", detail: "account \(jid): fingerprint must be a SHA-256 in hex")
            }
            configuration.pinnedCertificateSHA256 = bytes
        }
        if let nameserver {
            let parts = nameserver.split(separator: ":")
            configuration.nameserver = .init(host: String(parts[0]), port: parts.count > 1 ? UInt16(parts[1]) ?? 53 : 53)
        }
        return configuration
    }
}

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

/// Who may ring us: contacts (roster and address book), numbers through our gateway, or
/// anyone when the account says so.
struct CallerPolicy: Sendable {
    let store: Store
    let gateway: JID?
    let anyone: Bool

    func mayCall(_ peer: JID) -> Bool {
        if anyone { return true }
        if let gateway, peer.domain == gateway.domain { return true }
        // One indexed lookup: strangers' proposes must not each cost a read of everything.
        return (try? store.isKnown(peer.bare.description)) == true
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

    public var description: String {
        switch self {
        case .notCorrectable: "Only a message you sent can be corrected."
        }
    }
}

/// Lets the client call back into the session that owns it without a reference cycle
/// and without touching the session before it is fully built.
private final class EventRelay: Sendable {
    private let target = Mutex<XMPPClient.EventHandler?>(nil)

    func connect(_ handler: @escaping XMPPClient.EventHandler) { target.withLock { $0 = handler } }

    func forward(_ events: [XMPPEvent]) async throws {
        guard let handler = target.withLock({ $0 }) else { return }
        try await handler(events)
    }
}
