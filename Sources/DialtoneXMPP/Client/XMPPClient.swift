import DialtoneTLS
import DialtoneXML
import Foundation
import Logging
import NIOCore

/// One account's connection to its server: negotiates the stream, keeps it alive, resumes
/// or re-establishes it after a drop, and turns what arrives into validated `XMPPEvent`s.
///
/// Events are delivered in batches to `handler`; a batch's stanzas count as handled for
/// stream management (and are acknowledged to the server) only after `handler` returns,
/// so a layer that stores them before returning never loses one. If `handler` throws,
/// the connection is dropped unacknowledged and the server delivers them again.
public actor XMPPClient {
    public typealias EventHandler = @Sendable ([XMPPEvent]) async throws -> Void

    let configuration: XMPPClientConfiguration
    let handler: EventHandler
    let logger: Logger

    // The current connection.
    var transport: (any StreamTransport)?
    let connector: StreamConnector
    var inbound: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator?
    var tls: TLSSession?
    /// The address the current connection went to, for messages about it.
    var endpointHost: String?
    var parser = XMLStreamParser()
    var bufferedStreamEvents: [XMLStreamEvent] = []
    var isOnline = false
    var lastReceived = ContinuousClock.now

    // The session, which may outlive a connection through resumption.
    var streamManagement = StreamManagementState()
    var streamManagementEnabled = false
    var acknowledgementRequested = false
    /// When the oldest request for an ack still unanswered went out (nil: none outstanding).
    var acknowledgementAwaitedSince: ContinuousClock.Instant?
    public internal(set) var boundJID: JID?
    /// The version of the roster the layer above has stored (RFC 6121 2.6); sent with the
    /// roster request when the server keeps versions, and kept current from its answers.
    public internal(set) var rosterVersion: String?
    /// Roster pushes that came while the login's roster request was out (nil otherwise).
    var rosterPushesWhileFetching: [RosterUpdate]?
    /// Ids sent through `sendOncePerSession` since the session was bound.
    var sentInSession: Set<String> = []
    /// Ids of stanzas the server confirmed (stream management) since the session was bound.
    var confirmedInSession: Set<String> = []
    /// Whether this stream's server announced roster versioning, and pre-approval (RFC 6121).
    var serverVersionsRoster = false
    public internal(set) var serverTakesPreApprovals = false
    /// Whether our account announces urn:xmpp:sid:0 (asked after each new session): a live
    /// stanza-id by our address counts only then.
    public internal(set) var serverAssignsStanzaIDs = false
    var presenceShow: String?
    var presenceStatus: String?
    /// The SASL mechanism of the last login (SCRAM-SHA-1-PLUS, …), for diagnostics.
    public internal(set) var authenticationMechanism: String?

    var pendingRequests: [String: PendingRequest] = [:]
    /// Archive queries awaiting results, by query id: whose archive each asked (ours, or a room's).
    var activeArchiveQueries: [String: JID] = [:]
    var runTask: Task<Void, Never>?
    var keepaliveTask: Task<Void, Never>?
    var stopRequested = false
    /// Roster, carbons and presence done for the current session (a resume keeps them).
    var sessionSetUp = false
    var connectionGeneration = 0
    /// Changes only when a session ends without resumption.
    var sessionGeneration = 0

    struct PendingRequest {
        let expectedFrom: JID?
        /// Nil for a request nobody waits for (`sendRequest`): its answer is only expected.
        let continuation: CheckedContinuation<XMLElement, any Error>?
    }

    /// `connector` opens the byte stream (TCP unless a test scripts one).
    public init(configuration: XMPPClientConfiguration, logger: Logger = Logger(label: "dialtone.xmpp"),
                connector: @escaping StreamConnector = StreamConnectors.tcp, handler: @escaping EventHandler) {
        self.configuration = configuration
        self.connector = connector
        self.logger = logger
        self.handler = handler
    }

    public var account: JID { configuration.jid }

    /// Connects and keeps connecting (with back-off) until `stop()` or a permanent failure.
    public func start() {
        guard runTask == nil else { return }
        stopRequested = false
        runTask = Task { await self.run() }
    }

    /// Closes the stream politely and stops reconnecting.
    public func stop() async {
        stopRequested = true
        if isOnline, let transport {
            write(raw: XMLStream.footer)
            try? await transport.writeAndWait(tls?.takeOutgoing() ?? [])
        }
        transport?.close()
        // Also ends a back-off wait: quitting while offline must not wait for the next retry.
        runTask?.cancel()
        await runTask?.value
        runTask = nil
    }

    /// Cuts the TCP connection without a goodbye, as a network failure would (tests, `/disconnect --drop`).
    public func dropConnection() {
        transport?.close()
    }

    /// Waits until the run loop has ended (after `stop()` or a permanent failure).
    public func waitUntilFinished() async {
        await runTask?.value
    }

    // MARK: Run loop

    private func run() async {
        var failures = 0
        var attempt = 0
        while !stopRequested && !Task.isCancelled {
            attempt += 1
            await emit([.connectionState(.connecting(attempt: attempt))])
            var failure: XMPPConnectionError?
            do {
                try await connectAndNegotiate()
                failures = 0
                try await readLoop()
                failure = .closed
            } catch let error as XMPPConnectionError {
                failure = error
            } catch let error as XMLStreamError {
                failure = .xml(error)
            } catch let error as TLSError {
                failure = .tls(error)
            } catch {
                failure = .tcp(host: configuration.server ?? configuration.jid.domain, port: configuration.port ?? 0,
                               reason: String(describing: error))
            }
            tearDownConnection()
            if stopRequested { break }
            let reason = failure?.description ?? "The connection ended."
            logger.warning("connection ended: \(reason)")
            if let failure, failure.isPermanent || !configuration.reconnect.enabled {
                await emit([.connectionState(.offline(reason: reason))])
                runTask = nil
                return
            }
            failures += 1
            let delay = configuration.reconnect.delay(afterFailures: failures - 1)
            await emit([.connectionState(.waitingToReconnect(reason: reason, retryIn: delay))])
            try? await Task.sleep(for: delay)
        }
        await emit([.connectionState(.offline(reason: nil))])
    }

    private func tearDownConnection() {
        isOnline = false
        keepaliveTask?.cancel()
        keepaliveTask = nil
        transport?.close()
        transport = nil
        inbound = nil
        tls = nil
        bufferedStreamEvents = []
        acknowledgementRequested = false
        acknowledgementAwaitedSince = nil
        connectionGeneration += 1
        // A resumable session gets its answers after the resume: keep waiting for them.
        if streamManagement.resumptionID == nil || stopRequested { endSession() }
    }

    /// The session is over for good: nothing asked in it will be answered.
    func endSession() {
        sessionGeneration += 1
        activeArchiveQueries = [:]
        let pending = pendingRequests
        pendingRequests = [:]
        for request in pending.values { request.continuation?.resume(throwing: XMPPConnectionError.notConnected) }
    }

    func emit(_ events: [XMPPEvent]) async {
        do { try await handler(events) } catch { logger.error("event handler failed: \(error)") }
    }

    // MARK: Reading

    /// The next chunk of bytes from the socket, decrypted when TLS is on.
    func readChunk() async throws -> [UInt8] {
        guard var iterator = inbound else { throw XMPPConnectionError.notConnected }
        let next = try await iterator.next(isolation: self)
        inbound = iterator
        guard let buffer = next else { throw XMPPConnectionError.closed }
        lastReceived = .now
        let bytes = Array(buffer.readableBytesView)
        guard let tls else { return bytes }
        let plaintext = try tls.feed(network: bytes)
        flushTLS()
        if tls.peerClosed && plaintext.isEmpty { throw XMPPConnectionError.closed }
        return plaintext
    }

    /// The next parsed stream event, reading as much as it takes (during negotiation).
    func nextStreamEvent() async throws -> XMLStreamEvent {
        while bufferedStreamEvents.isEmpty {
            bufferedStreamEvents = try parse(try await readChunk())
        }
        return bufferedStreamEvents.removeFirst()
    }

    /// The next top-level element, failing on a stream error or the end of the stream.
    func nextElement() async throws -> XMLElement {
        while true {
            switch try await nextStreamEvent() {
            case .streamStart: continue
            case .streamEnd: throw XMPPConnectionError.closed
            case .stanza(let element):
                if element.namespace == Namespace.stream && element.name == "error" { throw streamError(element) }
                return element
            }
        }
    }

    /// A stream error, marked unverified when it came before TLS protected the stream (the
    /// clear loopback stream of tls = "none" is what the user chose, and counts as the server's).
    func streamError(_ element: XMLElement) -> XMPPConnectionError {
        let condition = element.elements.first { $0.namespace == Namespace.streamErrors && $0.name != "text" }?.name
        let unverified = tls == nil && configuration.tls != .none
        return .streamError(condition: condition ?? "undefined-condition",
                            text: element.childText("text", namespace: Namespace.streamErrors),
                            unverifiedHost: unverified ? (endpointHost ?? configuration.jid.domain) : nil)
    }

    private func readLoop() async throws {
        let generation = connectionGeneration
        // Events buffered while negotiating are processed first.
        var events = bufferedStreamEvents
        bufferedStreamEvents = []
        while generation == connectionGeneration {
            try await process(events)
            events = try parse(try await readChunk())
        }
    }

    /// Feeds the parser; on bad XML tells the server why we hang up (RFC 6120 4.9) before we do.
    func parse(_ chunk: [UInt8]) throws(XMLStreamError) -> [XMLStreamEvent] {
        do {
            return try parser.feed(chunk)
        } catch {
            closeStream(with: error.streamErrorCondition)
            throw error
        }
    }

    func closeStream(with condition: String) {
        var error = XMLElement("error", namespace: Namespace.stream)
        error.append(XMLElement(condition, namespace: Namespace.streamErrors))
        write(raw: error.serialized(parentNamespace: Namespace.client) + XMLStream.footer)
    }

    /// Handles what one read produced. Stanzas are handed up in one batch, and counted as
    /// handled only once the handler has taken them; an ack request flushes the batch first.
    private func process(_ events: [XMLStreamEvent]) async throws {
        var batch = InboundBatch()
        for event in events {
            switch event {
            case .streamStart: continue
            case .streamEnd: throw XMPPConnectionError.closed
            case .stanza(let element):
                if element.namespace == Namespace.streamManagement {
                    switch element.name {
                    case "r":
                        try await flush(&batch)
                        write(XMLElement("a", namespace: Namespace.streamManagement,
                                         attributes: [XMLAttribute("h", String(streamManagement.inboundHandled))]))
                    case "a":
                        acknowledgementAwaitedSince = nil
                        if let h = element[attribute: "h"].flatMap(UInt32.init) {
                            let acked = try acknowledgeOrGiveUpSession(h)
                            streamManagement.confirmedByServer()
                            let ids = acked.compactMap { $0[attribute: "id"] }
                            if !ids.isEmpty { batch.events.append(.acknowledged(ids: ids)) }
                        }
                    default:
                        logger.debug("ignoring stream management element \(element.name)")
                    }
                    continue
                }
                if element.namespace == Namespace.stream && element.name == "error" { throw streamError(element) }
                batch.stanzaCount += 1
                route(element, into: &batch)
            }
        }
        try await flush(&batch)
    }

    private func flush(_ batch: inout InboundBatch) async throws {
        guard batch.stanzaCount > 0 || !batch.events.isEmpty else { return }
        if !batch.events.isEmpty {
            try await handler(batch.events)
        }
        streamManagement.handled(batch.stanzaCount)
        for reply in batch.replies { write(reply) }
        for (id, result) in batch.responses { resolve(id, with: result) }
        batch = InboundBatch()
    }

    // MARK: Writing

    /// Writes an element; stanzas are counted for stream management, since the server
    /// counts every one it receives (replies and receipts included).
    func write(_ element: XMLElement) {
        if streamManagementEnabled && element.stanzaKind != nil { streamManagement.sent(element) }
        let text = element.serialized(parentNamespace: Namespace.client)
        // SASL carries the password (PLAIN) or a proof of it (SCRAM): no log level shows its payload.
        let secret = element.namespace == Namespace.sasl
        write(raw: text, logged: secret ? "<\(element.name) xmlns='\(Namespace.sasl)'>(not logged)</\(element.name)>" : nil)
    }

    /// Writes `text`; `logged` is what the trace log shows of it instead, when that must differ.
    func write(raw text: String, logged: String? = nil) {
        guard let transport else { return }
        logger.trace("send: \(logged ?? text)")
        if let tls {
            do {
                try tls.write(plaintext: Array(text.utf8))
                transport.write(tls.takeOutgoing())
            } catch {
                logger.error("TLS write failed: \(error)")
                transport.close()
            }
        } else {
            transport.write(Array(text.utf8))
        }
    }

    func flushTLS() {
        guard let tls, let transport else { return }
        transport.write(tls.takeOutgoing())
    }

    /// Sends a stanza, counting it for stream management so it is resent if the link drops
    /// before the server confirms it.
    public func send(_ stanza: XMLElement) throws(XMPPConnectionError) {
        guard isOnline else { throw .notConnected }
        write(stanza)
        requestAcknowledgement()
    }

    /// Sends a stanza unless one with the same id went in this session already (waiting for
    /// the server's confirmation or confirmed); returns whether it went now. The check and the send are
    /// one step on this actor, so the outbox can call this for every row it holds, at any
    /// time, from any number of tasks: what this session holds is resent by the client after
    /// a resume, and everything else (including what a refused resumption or a new session
    /// threw away) goes again here. Nothing above has to mirror the session's state.
    @discardableResult
    public func sendOncePerSession(_ stanza: XMLElement) throws(XMPPConnectionError) -> Bool {
        guard isOnline else { throw .notConnected }
        if let id = stanza[attribute: "id"] {
            guard !sessionAccountsFor(id: id) else { return false }
            sentInSession.insert(id)
        }
        try send(stanza)
        return true
    }

    /// Whether `sendOncePerSession` would send a stanza with this id now: lets the caller
    /// skip building it (and, later, encrypting it) when it would not go. The send checks again.
    public func wouldSendOncePerSession(id: String) -> Bool {
        isOnline && !sessionAccountsFor(id: id)
    }

    /// With stream management, a stanza is skipped only while the session accounts for it:
    /// held unconfirmed (resent after a resume) or confirmed by the server and on its way to
    /// the store. Anything else goes, even if this session wrote it before: a stanza the
    /// session no longer holds would otherwise wait in the outbox until the next new session.
    /// Without stream management nothing is ever held, and what this session wrote once is not
    /// written again. A new session sends it again.
    private func sessionAccountsFor(id: String) -> Bool {
        streamManagementEnabled
            ? streamManagement.isUnacknowledged(id: id) || confirmedInSession.contains(id)
            : sentInSession.contains(id)
    }

    /// The server's count `h` settles what it received. Out of step with what we sent, the
    /// session is given up: resuming it would carry the same error into every reconnect and
    /// we would never be online again; a new session (and the outbox) starts clean.
    func acknowledgeOrGiveUpSession(_ h: UInt32) throws(XMPPConnectionError) -> [XMLElement] {
        do {
            let confirmed = try streamManagement.acknowledge(h)
            for stanza in confirmed { if let id = stanza[attribute: "id"] { confirmedInSession.insert(id) } }
            return confirmed
        } catch {
            _ = streamManagement.reset()
            throw .protocolViolation(String(describing: error))
        }
    }

    /// What the store holds of the roster, before the next login asks for it.
    public func setRosterVersion(_ version: String?) {
        rosterVersion = version
    }

    /// Asks the server to confirm what we sent; one request covers a burst of sends.
    func requestAcknowledgement() {
        guard streamManagementEnabled, !acknowledgementRequested else { return }
        acknowledgementRequested = true
        let generation = connectionGeneration
        Task {
            await Task.yield()
            self.sendAcknowledgementRequest(generation: generation)
        }
    }

    private func sendAcknowledgementRequest(generation: Int) {
        acknowledgementRequested = false
        guard generation == connectionGeneration, isOnline else { return }
        write(XMLElement("r", namespace: Namespace.streamManagement))
        watchForAcknowledgement(generation: generation)
    }

    /// A link can swallow what we write without closing (a NAT that forgot us, a dead
    /// Wi-Fi): the server then never answers our request for an ack. Unanswered for
    /// `keepaliveTimeout`, the connection is dropped, so the next one resumes the session
    /// and resends what the server did not confirm, instead of everything waiting for the
    /// idle keepalive.
    private func watchForAcknowledgement(generation: Int) {
        guard acknowledgementAwaitedSince == nil else { return }
        let since = ContinuousClock.now
        acknowledgementAwaitedSince = since
        let timeout = configuration.keepaliveTimeout
        Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.dropIfUnacknowledged(since: since, generation: generation)
        }
    }

    private func dropIfUnacknowledged(since: ContinuousClock.Instant, generation: Int) {
        guard generation == connectionGeneration, isOnline, acknowledgementAwaitedSince == since else { return }
        logger.warning("no answer to a stream management request in \(configuration.keepaliveTimeout); dropping the connection")
        transport?.close()
    }

    public var online: Bool { isOnline }

    /// Sessions set up from scratch (bind) and streams resumed (XEP-0198), since the start:
    /// how a test tells a resumption from a new session that caught up from the archive.
    public internal(set) var sessionCounts = (new: 0, resumed: 0)

    // MARK: Keepalive

    func startKeepalive() {
        keepaliveTask?.cancel()
        let interval = configuration.keepaliveInterval
        let timeout = configuration.keepaliveTimeout
        keepaliveTask = Task { [weak self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard let self, !Task.isCancelled else { return }
                await self.checkLiveness(interval: interval, timeout: timeout)
            }
        }
    }

    private func checkLiveness(interval: Duration, timeout: Duration) async {
        guard isOnline, ContinuousClock.now - lastReceived >= interval else { return }
        if streamManagementEnabled {
            // The request's own watch drops the link when no <a/> comes within `timeout`.
            write(XMLElement("r", namespace: Namespace.streamManagement))
            watchForAcknowledgement(generation: connectionGeneration)
            return
        }
        let askedAt = ContinuousClock.now
        write(.iq(.get, id: newStanzaID(), to: JID(verified: configuration.jid.domain),
                  payload: XMLElement("ping", namespace: Namespace.ping)))
        try? await Task.sleep(for: timeout)
        if isOnline && lastReceived < askedAt {
            logger.warning("no answer to keepalive; dropping the connection")
            transport?.close()
        }
    }
}

/// What one read hands up, and what must wait until it has been handed up.
struct InboundBatch {
    var events: [XMPPEvent] = []
    var stanzaCount = 0
    /// Replies (receipts, iq results) that promise we have the stanza: sent after the handler.
    var replies: [XMLElement] = []
    /// Answers to our own requests, resolved after the handler so that results which
    /// arrived before them (archive pages) are stored first.
    var responses: [(String, XMLElement)] = []
}
