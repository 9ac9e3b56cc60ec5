import DialtoneXML
import Foundation
import Logging

/// Incoming stanzas: validated, classified and turned into events. Every `from` is checked
/// against what the stanza claims to be — forged carbons, roster pushes and archive results
/// are how other clients were fooled before us.
extension XMPPClient {
    func route(_ stanza: XMLElement, into batch: inout InboundBatch) {
        if case .invalid(let raw) = stanza.fromAddress {
            batch.events.append(.rejected(reason: "unparsable sender \(raw)", stanza: stanza))
            return
        }
        switch stanza.stanzaKind {
        case .message: routeMessage(stanza, into: &batch)
        case .presence: routePresence(stanza, into: &batch)
        case .iq: routeIQ(stanza, into: &batch)
        case nil: batch.events.append(.rejected(reason: "unknown top-level element <\(stanza.name)>", stanza: stanza))
        }
    }

    /// True when `from` is absent (the server speaking for our account) or our bare JID.
    private func isFromOurAccount(_ stanza: XMLElement, allowAbsent: Bool) -> Bool {
        switch stanza.fromAddress {
        case .absent: allowAbsent
        case .valid(let jid): jid == configuration.jid.bare
        case .invalid: false
        }
    }

    private func routeMessage(_ stanza: XMLElement, into batch: inout InboundBatch) {
        let ours = configuration.jid.bare
        if let carbon = stanza.child("received", namespace: Namespace.carbons) ?? stanza.child("sent", namespace: Namespace.carbons) {
            guard isFromOurAccount(stanza, allowAbsent: false) else {
                batch.events.append(.rejected(reason: "carbon copy not from our own account", stanza: stanza))
                return
            }
            guard let inner = carbon.child("forwarded", namespace: Namespace.forward)?.child("message", namespace: Namespace.client) else {
                batch.events.append(.rejected(reason: "carbon without a forwarded message", stanza: stanza))
                return
            }
            let forwarded = Message(inner)
            let sent = carbon.name == "sent"
            // A sent carbon is from one of our resources, a received one to one of them.
            guard (sent ? forwarded.from?.bare : forwarded.to?.bare) == ours else {
                batch.events.append(.rejected(reason: "carbon of a message that is not ours", stanza: stanza))
                return
            }
            batch.events.append(.message(ReceivedMessage(
                message: forwarded, direction: sent ? .outgoing : .incoming, source: .carbon,
                archiveID: ourStanzaID(forwarded), timestamp: liveTimestamp(forwarded).time)))
            return
        }
        if let event = stanza.child("event", namespace: Namespace.pubsubEvent) {
            // A device list (OMEMO) is each account's own: from its bare address (ours may be
            // left out), about that account alone.
            if let (version, list) = Self.omemoDeviceList(in: event.child("items", namespace: Namespace.pubsubEvent)) {
                switch stanza.fromAddress {
                case .absent: batch.events.append(.omemoDevices(account: ours, version: version, list))
                case .valid(let owner) where owner.resource == nil: batch.events.append(.omemoDevices(account: owner, version: version, list))
                default: batch.events.append(.rejected(reason: "device list not from a bare address", stanza: stanza))
                }
                return
            }
            // Only our own PEP service speaks for the account's devices (read state, bookmarks); a contact's PEP
            // notifications (none are asked for) and anyone else's are not read state.
            guard isFromOurAccount(stanza, allowAbsent: false) else {
                batch.events.append(.rejected(reason: "PEP notification (read state, bookmarks) not from our own account", stanza: stanza))
                return
            }
            let items = event.child("items", namespace: Namespace.pubsubEvent)
            switch items?[attribute: "node"] {
            case Namespace.displayedSync:
                batch.events.append(.displayedElsewhere(Self.displayedMarks(in: items, namespace: Namespace.pubsubEvent)))
            case Namespace.bookmarks:
                batch.events.append(.bookmarks(Self.bookmarkChange(in: items)))
            default:
                break
            }
            return
        }
        if let result = stanza.child("result", namespace: Namespace.mam) {
            guard let queryID = result[attribute: "queryid"], let archive = activeArchiveQueries[queryID] else {
                batch.events.append(.rejected(reason: "archive result for a query we did not send", stanza: stanza))
                return
            }
            // Results come from the archive we asked: ours (our server may leave `from` out),
            // or a room's, from the room's own address.
            let room = archive == ours ? nil : archive
            guard room == nil ? isFromOurAccount(stanza, allowAbsent: true) : stanza.fromAddress.jid == room else {
                batch.events.append(.rejected(reason: "archive result not from the archive we asked", stanza: stanza))
                return
            }
            guard let forwarded = result.child("forwarded", namespace: Namespace.forward),
                  let inner = forwarded.child("message", namespace: Namespace.client) else {
                batch.events.append(.rejected(reason: "archive result without a message", stanza: stanza))
                return
            }
            let message = Message(inner)
            // A room's archive holds what was said in the room: from the room or its occupants.
            if let room, message.from?.bare != room {
                batch.events.append(.rejected(reason: "a room's archive result from outside the room", stanza: stanza))
                return
            }
            let stamp = forwarded.child("delay", namespace: Namespace.delay)?[attribute: "stamp"].flatMap(XMPPDateTime.parse)
            batch.events.append(.message(ReceivedMessage(
                message: message, direction: room == nil && message.from?.bare == ours ? .outgoing : .incoming, source: .archive,
                archiveID: result[attribute: "id"], timestamp: stamp ?? liveTimestamp(message).time, room: room)))
            return
        }
        let message = Message(stanza)
        if message.type == .groupchat {
            // Said in a room (which the layer above must have joined): no receipt, and no
            // archive id of ours (the room's own id it reads from the message).
            guard let room = message.from?.bare, room != ours else {
                batch.events.append(.rejected(reason: "group chat message without a room", stanza: stanza))
                return
            }
            batch.events.append(.message(ReceivedMessage(
                message: message, direction: .incoming, source: .live, archiveID: nil,
                timestamp: liveTimestamp(message).time, room: room)))
            return
        }
        let (time, held) = liveTimestamp(message)
        batch.events.append(.message(ReceivedMessage(
            message: message, direction: message.from?.bare == ours && message.to?.bare != ours ? .outgoing : .incoming,
            source: .live, archiveID: ourStanzaID(message), timestamp: time, heldByServer: held)))
        // XEP-0184: the receipt promises we have it, so it waits until the batch is stored.
        if let receipt = message.receiptReply { batch.replies.append(receipt) }
    }

    /// Our archive's id for a live or carbon-copied message: the stanza-id by our address,
    /// believed only when our server announces that it assigns them (and so strips what
    /// senders forge); otherwise anyone could name an id our archive holds, and have their
    /// message taken for a duplicate of it or move our archive cursor.
    func ourStanzaID(_ message: Message) -> String? {
        serverAssignsStanzaIDs ? message.stanzaIDs[configuration.jid.bare] : nil
    }

    /// When a message that did not come from our archive was sent. Its <delay> is whoever
    /// wrote it's claim: a sender's stamp of 2099 would keep a conversation on top for good.
    /// So a delay may make a message older than its arrival, never newer; the one our
    /// server stamped (offline storage, `from` our domain) is preferred to the sender's and
    /// marks the message as held back.
    func liveTimestamp(_ message: Message, arrival: Date = Date()) -> (time: Date, heldByServer: Bool) {
        let server = JID(verified: configuration.jid.domain)
        let byServer = message.delays.first { $0.from == server || $0.from == configuration.jid.bare }
        guard let delay = byServer ?? message.delays.first else { return (arrival, false) }
        return (min(delay.stamp, arrival), byServer != nil)
    }

    private func routePresence(_ stanza: XMLElement, into batch: inout InboundBatch) {
        guard let from = stanza.fromAddress.jid else {
            batch.events.append(.rejected(reason: "presence without a sender", stanza: stanza))
            return
        }
        let type = stanza[attribute: "type"]
        if let occupant = RoomPresence(stanza) {
            batch.events.append(.roomPresence(occupant))
            return
        }
        if let kind = type.flatMap(SubscriptionChange.Kind.init(rawValue:)) {
            // Subscriptions are between accounts: a resource on one is meaningless (RFC 6121
            // §3.1.3 has the server drop it), and our own account asks nothing of itself.
            guard from.bare != configuration.jid.bare else {
                batch.events.append(.rejected(reason: "subscription \(kind.rawValue) from our own account", stanza: stanza))
                return
            }
            let nick = stanza.childText("nick", namespace: Namespace.nick).flatMap { $0.isEmpty ? nil : $0 }
            batch.events.append(.subscription(SubscriptionChange(from: from.bare, kind: kind, nick: nick)))
            return
        }
        batch.events.append(.presence(PresenceUpdate(
            from: from, available: type == nil, show: stanza.childText("show", namespace: Namespace.client),
            status: stanza.childText("status", namespace: Namespace.client), element: stanza)))
    }

    private func routeIQ(_ stanza: XMLElement, into batch: inout InboundBatch) {
        let id = stanza[attribute: "id"] ?? ""
        switch stanza[attribute: "type"] {
        case "result", "error":
            guard let pending = pendingRequests[id] else {
                batch.events.append(.rejected(reason: "iq response to nothing we asked", stanza: stanza))
                return
            }
            // A response must come from whom we asked; our server may answer for our account.
            let from = stanza.fromAddress.jid
            let valid = from == pending.expectedFrom
                || (pending.expectedFrom == nil && (from == nil || from == configuration.jid.bare || from == boundJID))
                || (pending.expectedFrom == configuration.jid.bare && from == nil)
            guard valid else {
                batch.events.append(.rejected(reason: "iq response from \(from?.description ?? "nobody") to a request sent to \(pending.expectedFrom?.description ?? "our server")", stanza: stanza))
                return
            }
            batch.responses.append((id, stanza))
        case "get", "set":
            answerRequest(stanza, into: &batch)
        default:
            batch.events.append(.rejected(reason: "iq without a valid type", stanza: stanza))
        }
    }

    private func answerRequest(_ stanza: XMLElement, into batch: inout InboundBatch) {
        let isSet = stanza[attribute: "type"] == "set"
        guard let payload = stanza.elements.first else {
            batch.replies.append(stanza.iqError(.badRequest))
            return
        }
        switch (payload.namespace, payload.name, isSet) {
        case (Namespace.roster, "query", true):
            guard isFromOurAccount(stanza, allowAbsent: true) else {
                batch.events.append(.rejected(reason: "roster push not from our own account", stanza: stanza))
                batch.replies.append(stanza.iqError(.serviceUnavailable))
                return
            }
            let version = serverVersionsRoster ? payload[attribute: "ver"] : nil
            if let version { rosterVersion = version }
            for item in Self.rosterItems(payload) {
                batch.events.append(.roster(.push(item, version: version)))
                rosterPushesWhileFetching?.append(.push(item, version: version))
            }
            batch.replies.append(stanza.iqReply())
        case (Namespace.blocking, "block", true), (Namespace.blocking, "unblock", true):
            // Only our server speaks for our block list.
            guard isFromOurAccount(stanza, allowAbsent: true) else {
                batch.events.append(.rejected(reason: "block list push not from our own account", stanza: stanza))
                batch.replies.append(stanza.iqError(.serviceUnavailable))
                return
            }
            let items = Self.blockedItems(payload)
            batch.events.append(.blocking(payload.name == "block" ? .blocked(items) : .unblocked(items)))
            batch.replies.append(stanza.iqReply())
        case (Namespace.ping, "ping", false):
            batch.replies.append(stanza.iqReply())
        case (Namespace.version, "query", false) where configuration.softwareVersion != nil:
            batch.replies.append(stanza.iqReply(payload: Self.softwareVersion(name: configuration.softwareName,
                                                                               version: configuration.softwareVersion ?? "")))
        case (Namespace.time, "time", false):
            batch.replies.append(stanza.iqReply(payload: Self.entityTime(Date(), zone: TimeZone.current)))
        case (Namespace.discoInfo, "query", false):
            let node = payload[attribute: "node"]
            if node == nil || node == ServiceDiscovery.node(for: configuration.softwareName, extra: configuration.extraFeatures) {
                batch.replies.append(stanza.iqReply(payload: ServiceDiscovery.infoQuery(node: node, name: configuration.softwareName, extra: configuration.extraFeatures)))
            } else {
                batch.replies.append(stanza.iqError(.init(type: "cancel", condition: "item-not-found")))
            }
        default:
            if configuration.delegatedRequestNamespaces.contains(payload.namespace) {
                // The layer above answers these (Jingle); it must validate the sender itself.
                batch.events.append(.request(IQRequest(stanza)))
            } else {
                batch.replies.append(stanza.iqError(.serviceUnavailable))
            }
        }
    }

    /// XEP-0092's answer: name and version, no operating system (nobody needs to know it).
    static func softwareVersion(name: String, version: String) -> XMLElement {
        var query = XMLElement("query", namespace: Namespace.version)
        query.append(.textElement("name", namespace: Namespace.version, name))
        query.append(.textElement("version", namespace: Namespace.version, version))
        return query
    }

    /// XEP-0202's answer: the offset of our time zone and the time in UTC.
    static func entityTime(_ now: Date, zone: TimeZone) -> XMLElement {
        let offset = zone.secondsFromGMT(for: now)
        let minutes = abs(offset) / 60
        let tzo = (offset < 0 ? "-" : "+") + String(format: "%02d:%02d", minutes / 60, minutes % 60)
        var time = XMLElement("time", namespace: Namespace.time)
        time.append(.textElement("tzo", namespace: Namespace.time, tzo))
        time.append(.textElement("utc", namespace: Namespace.time, XMPPDateTime.format(now)))
        return time
    }

    static func rosterItems(_ query: XMLElement) -> [RosterItem] {
        query.children("item", namespace: Namespace.roster).compactMap { item in
            guard let jid = item[attribute: "jid"].flatMap({ try? JID($0) }) else { return nil }
            return RosterItem(jid: jid, name: item[attribute: "name"], subscription: item[attribute: "subscription"] ?? "none",
                              groups: item.children("group", namespace: Namespace.roster).map(\.text),
                              asked: item[attribute: "ask"] == "subscribe")
        }
    }

    func resolve(_ id: String, with response: XMLElement) {
        guard let pending = pendingRequests.removeValue(forKey: id) else { return }
        guard let continuation = pending.continuation else {
            if response[attribute: "type"] == "error" {
                logger.debug("request \(id) answered with an error: \(StanzaError(stanza: response)?.description ?? "unknown")")
            }
            return
        }
        if response[attribute: "type"] == "error" {
            continuation.resume(throwing: StanzaError(stanza: response) ?? StanzaError.serviceUnavailable)
        } else {
            continuation.resume(returning: response)
        }
    }
}
