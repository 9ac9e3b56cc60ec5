import DialtoneXML
import Foundation
import Logging

/// Requests we make: iq round trips, the login sequence, and archive catch-up.
extension XMPPClient {
    /// Sends an iq get/set and waits for its answer from the addressee (or our server).
    /// Throws `StanzaError` for an error answer, `XMPPConnectionError` if the link drops.
    ///
    /// `followedBy` is written right behind the iq, in the same step, so that the addressee
    /// handles the two in that order (a room's archive page before our join, whose answer
    /// is a thousand presences): when this throws `.notConnected`, neither went.
    public func request(_ iq: XMLElement, timeout: Duration = .seconds(30), followedBy follower: XMLElement? = nil) async throws -> XMLElement {
        guard isOnline else { throw XMPPConnectionError.notConnected }
        var iq = iq
        let id = iq[attribute: "id"] ?? newStanzaID()
        iq[attribute: "id"] = id
        let expectedFrom = iq.toAddress.jid
        let generation = sessionGeneration
        Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.timeOut(id, generation: generation)
        }
        return try await withCheckedThrowingContinuation { continuation in
            pendingRequests[id] = PendingRequest(expectedFrom: expectedFrom, continuation: continuation)
            write(iq)
            if let follower {
                write(follower)
                requestAcknowledgement()
            }
        }
    }

    /// Sends an iq get/set whose answer nobody waits for (a hang-up, a ringing notice). The
    /// answer is still expected, from the addressee, so that it is taken as one rather than
    /// reported as a stanza we never asked for; it is forgotten after `timeout`.
    public func sendRequest(_ iq: XMLElement, timeout: Duration = .seconds(30)) throws(XMPPConnectionError) {
        guard isOnline else { throw .notConnected }
        var iq = iq
        let id = iq[attribute: "id"] ?? newStanzaID()
        iq[attribute: "id"] = id
        let generation = sessionGeneration
        Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.timeOut(id, generation: generation)
        }
        pendingRequests[id] = PendingRequest(expectedFrom: iq.toAddress.jid, continuation: nil)
        write(iq)
        requestAcknowledgement()
    }

    private func timeOut(_ id: String, generation: Int) {
        guard generation == sessionGeneration, let pending = pendingRequests.removeValue(forKey: id) else { return }
        pending.continuation?.resume(throwing: XMPPConnectionError.timeout("request \(id)"))
    }

    /// After a fresh bind: roster, carbons, then presence (RFC 6121 asks for the roster first),
    /// and only then `sessionStarted`, so that an archive query made in answer to it covers
    /// everything before our presence and live delivery everything after.
    func afterLogin() async {
        // Whether our server stamps what it archives (XEP-0359, announced on our account):
        // only then is a live <stanza-id by=us> its own, not one a sender wrote. Asked
        // beside the roster, so it costs the login no round trip.
        async let accountFeatures = try? features(of: configuration.jid.bare, timeout: .seconds(10))
        do {
            // With roster versioning the server answers "unchanged" with an empty result when
            // the stored roster is current: a 5,000-contact roster is not sent again each login.
            var query = XMLElement("query", namespace: Namespace.roster)
            if serverVersionsRoster { query[attribute: "ver"] = rosterVersion ?? "" }
            let asked = ContinuousClock.now
            rosterPushesWhileFetching = []
            defer { rosterPushesWhileFetching = nil }
            let roster = try await request(.iq(.get, id: newStanzaID(), payload: query))
            logger.debug("roster answered in \((ContinuousClock.now - asked).wholeMilliseconds) ms")
            if let answer = roster.child("query", namespace: Namespace.roster) {
                let items = Self.rosterItems(answer)
                // Prosody 0.12 gives a new account's empty roster the version its first change
                // will have: an empty roster's version is not kept (asking again costs nothing).
                let version = serverVersionsRoster && !items.isEmpty ? answer[attribute: "ver"] : nil
                rosterVersion = version
                // A push handled before this answer reached us (the same read, say) was stored
                // first and the full roster would undo it: it goes again, after.
                let later = rosterPushesWhileFetching ?? []
                if case .push(_, let pushed?) = later.last { rosterVersion = pushed }
                await emit([.roster(.full(items, version: version))] + later.map { .roster($0) })
            } else if serverVersionsRoster {
                await emit([.roster(.unchanged)])
            }
        } catch {
            guard !stopRequested else { return }
            logger.warning("roster fetch failed: \(error)")
        }
        do {
            _ = try await request(.iq(.set, id: newStanzaID(), payload: XMLElement("enable", namespace: Namespace.carbons)))
        } catch {
            logger.info("carbons not enabled: \(error)")
        }
        try? send(presenceStanza())
        serverAssignsStanzaIDs = await accountFeatures?.contains(Namespace.stanzaID) ?? false
        if !serverAssignsStanzaIDs { logger.info("our server does not announce stanza ids; live ones are ignored") }
        // A stop or a drop while we were asking: this session never really started.
        guard isOnline, !stopRequested, let boundJID else { return }
        sessionSetUp = true
        sessionCounts.new += 1
        await emit([.connectionState(.online), .sessionStarted(boundJID: boundJID, resumed: false)])
    }

    public struct ArchivePage: Sendable {
        public var count: Int
        /// The oldest result's id: where a page further back ends (`before`).
        public var first: String?
        public var last: String?
        public var complete: Bool
    }

    /// Fetches our archive (XEP-0313) after `after`, page by page, until it is complete.
    /// Results arrive as `.message` events with source `.archive` before this returns.
    /// Without a cursor (first login) only the newest page is fetched.
    @discardableResult
    public func catchUpArchive(after: String?, pageSize: Int = 250) async throws -> (count: Int, last: String?) {
        var cursor = after
        var total = 0
        var lastSeen = after
        while true {
            let page = try await fetchArchivePage(after: cursor, newestFirst: cursor == nil, pageSize: pageSize)
            total += page.count
            if let last = page.last { lastSeen = last }
            if page.complete || page.count == 0 || cursor == nil { break }
            cursor = page.last
        }
        return (total, lastSeen)
    }

    /// One page of an archive (ours, or with `room` that room's) after `after`, or the page
    /// just before `before`, or its newest page with `newestFirst`.
    /// `flipped` asks for the page's messages newest first (XEP-0313 flip-page: only where the
    /// archive advertises `Namespace.mamExtended`); which messages and the page's first and
    /// last stay the same. `followedBy` goes right behind the query (see `request`).
    public func fetchArchivePage(after: String?, before: String? = nil, newestFirst: Bool = false, flipped: Bool = false,
                                 pageSize: Int = 250, room: JID? = nil,
                                 followedBy follower: XMLElement? = nil) async throws -> ArchivePage {
        let queryID = newStanzaID()
        var query = XMLElement("query", namespace: Namespace.mam, attributes: [XMLAttribute("queryid", queryID)])
        var set = XMLElement("set", namespace: Namespace.rsm)
        set.append(.textElement("max", namespace: Namespace.rsm, String(pageSize)))
        if let after {
            set.append(.textElement("after", namespace: Namespace.rsm, after))
        } else if let before {
            set.append(.textElement("before", namespace: Namespace.rsm, before))
        } else if newestFirst {
            set.append(XMLElement("before", namespace: Namespace.rsm))
        }
        query.append(set)
        if flipped { query.append(XMLElement("flip-page", namespace: Namespace.mam)) }
        activeArchiveQueries[queryID] = room?.bare ?? configuration.jid.bare
        defer { activeArchiveQueries[queryID] = nil }
        let answer = try await request(.iq(.set, id: newStanzaID(), to: room?.bare, payload: query), timeout: .seconds(60),
                                       followedBy: follower)
        let fin = answer.child("fin", namespace: Namespace.mam)
        let rsm = fin?.child("set", namespace: Namespace.rsm)
        let count = rsm?.childText("count", namespace: Namespace.rsm).flatMap(Int.init)
        let first = rsm?.childText("first", namespace: Namespace.rsm)
        let last = rsm?.childText("last", namespace: Namespace.rsm)
        let complete = fin?[attribute: "complete"] == "true" || fin?[attribute: "complete"] == "1"
        // Page size comes from first/last presence; count is the total in the archive.
        let received = first == nil ? 0 : (count.map { min($0, pageSize) } ?? pageSize)
        return ArchivePage(count: received, first: first, last: last, complete: complete)
    }
}

extension XMPPClient {
    /// Our presence as it is set now: availability (`away`, `dnd`, `xa`, `chat`, or nil for
    /// plain available), a status text, and our capabilities.
    func presenceStanza() -> XMLElement {
        var presence = XMLElement("presence", namespace: Namespace.client)
        if let show = presenceShow { presence.append(.textElement("show", namespace: Namespace.client, show)) }
        if let status = presenceStatus { presence.append(.textElement("status", namespace: Namespace.client, status)) }
        presence.append(ServiceDiscovery.capsElement(name: configuration.softwareName, extra: configuration.extraFeatures))
        return presence
    }

    /// Sets and broadcasts our presence; it is sent again on every new session.
    public func setPresence(show: String?, status: String?) throws(XMPPConnectionError) {
        presenceShow = show
        presenceStatus = status.flatMap { $0.isEmpty ? nil : $0 }
        if isOnline { try send(presenceStanza()) }
    }

    public var presence: (show: String?, status: String?) { (presenceShow, presenceStatus) }
}
