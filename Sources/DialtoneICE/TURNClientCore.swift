/// A TURN client (RFC 8656) over UDP as a state machine without sockets: Allocate with
/// long-term credentials (401 → REALM/NONCE → signed retry, 438 → new nonce), Refresh,
/// CreatePermission, ChannelBind, Send/Data indications and ChannelData.
public struct TURNClientCore: Sendable {
    public typealias Operation = Int

    public enum Event: Sendable, Equatable {
        case allocated(relayed: TransportAddress, mapped: TransportAddress?, lifetime: UInt32)
        case succeeded(Operation)
        case failed(Operation, reason: String)
        /// From a peer through the relay, by Data indication or ChannelData.
        case data(from: TransportAddress, bytes: [UInt8])
        case deallocated
    }

    enum Kind: Sendable, Equatable {
        case allocate
        case refresh(lifetime: UInt32)
        case permission([TransportAddress])
        case channelBind(UInt16, TransportAddress)
    }

    struct Pending: Sendable {
        var operation: Operation
        var kind: Kind
        var bytes: [UInt8]
        var timer: STUNRetransmissionTimer
        var authenticatedAttempts: Int
    }

    public let server: TransportAddress
    public let username: String
    private let password: String
    public var software: String? = "Dialtone"
    public var retransmission = STUNRetransmissionTimer.Parameters(rto: .milliseconds(500), rc: 5, rm: 4)
    public private(set) var relayedAddress: TransportAddress?
    public private(set) var rejected = STUNRejectionCounters()
    private var realm: String?
    private var nonce: String?
    private var key: STUNIntegrityKey?
    private var pending: [STUNTransactionID: Pending] = [:]
    private var channelByPeer: [TransportAddress: UInt16] = [:]
    private var peerByChannel: [UInt16: TransportAddress] = [:]
    private var nextChannel: UInt16 = 0x4000
    private var nextOperation = 0
    private var lifetime: UInt32 = 600
    private var refreshAt: ICETime?
    private var outgoing: [[UInt8]] = []
    private var events: [Event] = []

    public init(server: TransportAddress, username: String, password: String) {
        self.server = server
        self.username = username
        self.password = password
    }

    /// The coturn/REST-API convention (draft-uberti-behave-turn-rest): username "<expiry>:<name>",
    /// password base64(HMAC-SHA1(secret, username)).
    public static func restCredentials(secret: String, name: String, expiry: Int) -> (username: String, password: String) {
        let username = "\(expiry):\(name)"
        return (username, STUNCrypto.sha1HMACBase64(key: Array(secret.utf8), message: Array(username.utf8)))
    }

    /// Datagrams for the server, and what happened; the driver drains both after every call.
    public mutating func takeOutgoing() -> [[UInt8]] {
        defer { outgoing.removeAll() }
        return outgoing
    }

    public mutating func takeEvents() -> [Event] {
        defer { events.removeAll() }
        return events
    }

    @discardableResult
    public mutating func allocate(lifetime: UInt32 = 600, now: ICETime) -> Operation {
        self.lifetime = lifetime
        return request(.allocate, now: now)
    }

    /// Lifetime 0 deallocates.
    @discardableResult
    public mutating func refresh(lifetime: UInt32, now: ICETime) -> Operation {
        request(.refresh(lifetime: lifetime), now: now)
    }

    @discardableResult
    public mutating func createPermission(for peers: [TransportAddress], now: ICETime) -> Operation {
        request(.permission(peers), now: now)
    }

    /// Binds (or rebinds, to refresh) a channel to the peer; ChannelData is used once it succeeds.
    @discardableResult
    public mutating func bindChannel(to peer: TransportAddress, now: ICETime) -> Operation {
        let number: UInt16
        if let existing = channelByPeer[peer] {
            number = existing
        } else {
            number = nextChannel
            nextChannel = nextChannel == 0x4FFF ? 0x4000 : nextChannel + 1
        }
        return request(.channelBind(number, peer), now: now)
    }

    /// Whether data to `peer` goes as ChannelData (a channel is bound).
    public func hasChannel(to peer: TransportAddress) -> Bool {
        channelByPeer[peer].map { peerByChannel[$0] == peer } ?? false
    }

    /// Wraps application data for the server: ChannelData on a bound channel, else a Send indication.
    public func wrap(_ data: [UInt8], to peer: TransportAddress) -> [UInt8] {
        if let channel = channelByPeer[peer], peerByChannel[channel] == peer {
            var out: [UInt8] = []
            out.reserveCapacity(4 + data.count + 3)
            out.appendBE(channel)
            out.appendBE(UInt16(data.count))
            out += data
            // RFC 8656 12.5: padded to four bytes over TCP; UDP may omit it, and we do.
            return out
        }
        return STUNMessage(method: .send, class: .indication,
                           attributes: [.xorPeerAddress(peer), .data(data)]).encode(fingerprint: true)
    }

    private mutating func request(_ kind: Kind, now: ICETime) -> Operation {
        nextOperation += 1
        let operation = nextOperation
        send(kind, operation: operation, authenticatedAttempts: 0, now: now)
        return operation
    }

    private mutating func send(_ kind: Kind, operation: Operation, authenticatedAttempts: Int, now: ICETime) {
        var attributes: [STUNAttribute] = []
        let method: STUNMethod
        switch kind {
        case .allocate:
            method = .allocate
            attributes = [.requestedTransport(17), .lifetime(lifetime)]
        case .refresh(let lifetime):
            method = .refresh
            attributes = [.lifetime(lifetime)]
        case .permission(let peers):
            method = .createPermission
            attributes = peers.map { .xorPeerAddress($0) }
        case .channelBind(let number, let peer):
            method = .channelBind
            attributes = [.channelNumber(number), .xorPeerAddress(peer)]
        }
        if let software { attributes.append(.software(software)) }
        if let realm, let nonce, key != nil {
            attributes += [.username(username), .realm(realm), .nonce(nonce)]
        }
        let message = STUNMessage(method: method, class: .request, attributes: attributes)
        let bytes = message.encode(integrity: key, fingerprint: true)
        pending[message.transactionID] = Pending(
            operation: operation, kind: kind, bytes: bytes,
            timer: STUNRetransmissionTimer(sentAt: now, parameters: retransmission),
            authenticatedAttempts: authenticatedAttempts)
        outgoing.append(bytes)
    }

    public mutating func receive(_ bytes: [UInt8], now: ICETime) {
        guard let first = bytes.first else { return }
        if PacketKind(firstByte: first) == .turnChannelData {
            guard bytes.count >= 4 else { return rejected.count(.tooShort) }
            let channel = UInt16(bytes[0]) << 8 | UInt16(bytes[1])
            let length = Int(bytes[2]) << 8 | Int(bytes[3])
            guard bytes.count >= 4 + length, let peer = peerByChannel[channel] else { return rejected.count(.lengthMismatch) }
            events.append(.data(from: peer, bytes: Array(bytes[4..<(4 + length)])))
            return
        }
        let decoded: STUNDecoded
        do {
            decoded = try STUNMessage.decode(bytes)
        } catch {
            return rejected.count(error)
        }
        let message = decoded.message
        if message.messageClass == .indication, message.method == .data {
            // Unauthenticated by design (RFC 8656 11.6); the server only relays from permitted peers.
            if let peer = message.xorPeerAddress, let data = message.data {
                events.append(.data(from: peer, bytes: data))
            }
            return
        }
        guard message.messageClass == .success || message.messageClass == .error,
              let request = pending[message.transactionID] else { return }
        if message.messageClass == .success || decoded.hasIntegrity, let key {
            do {
                try decoded.verifyIntegrity(key)
            } catch {
                // A forged answer must not settle the real transaction.
                return rejected.count(error)
            }
        }
        pending[message.transactionID] = nil

        if message.messageClass == .error {
            let code = message.errorCode?.code ?? 0
            // 401 on the first try brings REALM and NONCE; 438 a fresh NONCE. Retry once each.
            if (code == 401 || code == 438), request.authenticatedAttempts < 2, let nonce = message.nonce {
                if let realm = message.realm { self.realm = realm }
                self.nonce = nonce
                if let realm = self.realm {
                    key = .longTerm(username: username, realm: realm, password: password)
                    send(request.kind, operation: request.operation, authenticatedAttempts: request.authenticatedAttempts + 1, now: now)
                    return
                }
            }
            events.append(.failed(request.operation, reason: "\(code) \(message.errorCode?.reason ?? "")"))
            return
        }

        switch request.kind {
        case .allocate:
            guard let relayed = message.xorRelayedAddress else {
                events.append(.failed(request.operation, reason: "no XOR-RELAYED-ADDRESS"))
                return
            }
            relayedAddress = relayed
            let granted = message.lifetime ?? lifetime
            lifetime = granted
            refreshAt = now + .seconds(Int(granted) / 2)
            events.append(.allocated(relayed: relayed, mapped: message.xorMappedAddress, lifetime: granted))
        case .refresh(let requested):
            if requested == 0 {
                relayedAddress = nil
                refreshAt = nil
                events.append(.deallocated)
            } else {
                lifetime = message.lifetime ?? requested
                refreshAt = now + .seconds(Int(lifetime) / 2)
            }
        case .permission:
            break
        case .channelBind(let number, let peer):
            channelByPeer[peer] = number
            peerByChannel[number] = peer
        }
        events.append(.succeeded(request.operation))
    }

    public var nextDeadline: ICETime? {
        var deadline = refreshAt
        for request in pending.values { deadline = min(deadline ?? request.timer.deadline, request.timer.deadline) }
        return deadline
    }

    public mutating func tick(now: ICETime) {
        for (id, var request) in pending {
            switch request.timer.fire(now: now) {
            case .retransmit:
                pending[id] = request
                outgoing.append(request.bytes)
            case .timedOut:
                pending[id] = nil
                events.append(.failed(request.operation, reason: "no answer from \(server)"))
            case nil:
                break
            }
        }
        if let refreshAt, now >= refreshAt, relayedAddress != nil {
            self.refreshAt = now + .seconds(Int(lifetime) / 2)
            _ = request(.refresh(lifetime: lifetime), now: now)
        }
    }
}
