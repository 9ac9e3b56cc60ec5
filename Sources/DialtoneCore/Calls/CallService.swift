import DialtoneJingle
import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// Calls of one account: XEP-0353 messages and Jingle requests go through one ordered inbox to
/// the call manager, so that a propose is seen before its retract and a session-initiate
/// before its transport-info, and so that the manager's own requests never hold up the stream
/// that answers them. Every call state is stored in the call log before front ends hear of it.
final class CallService: AccountFeature {
    let calls: CallManager
    let store: Store
    let client: XMPPClient
    let broadcaster: EventBroadcaster
    let gateway: JID?
    let logger: Logger
    private let inbox: AsyncStream<Input>.Continuation
    private let inputs: AsyncStream<Input>
    private var workers: [Task<Void, Never>] = []
    /// Whether our phone gateway carries voice, asked once (XEP-0030 identity gateway/pstn).
    private var gatewayCarriesVoice: Bool?

    enum Input: Sendable {
        case initiation(MessageInitiation, ReceivedMessage)
        case request(IQRequest)
        case archiveCaughtUp
    }

    init(client: XMPPClient, store: Store, broadcaster: EventBroadcaster, gateway: JID?,
         configuration: CallManager.Configuration, sealing: FingerprintSealing? = nil, logger: Logger) {
        self.store = store
        self.client = client
        self.broadcaster = broadcaster
        self.gateway = gateway
        self.logger = logger
        let callers = CallerPolicy(store: store, gateway: gateway, anyone: configuration.callsFromAnyone)
        calls = CallManager(signalling: CallSignalling(client: client, mayCall: { callers.mayCall($0) }, sealing: sealing),
                            configuration: configuration, logger: logger)
        (inputs, inbox) = AsyncStream.makeStream(of: Input.self)
    }

    // MARK: Routing

    /// A received message, if it is a call's (XEP-0353 propose, retract, accept…).
    func offer(_ received: ReceivedMessage) {
        if let initiation = MessageInitiation(message: received.message) {
            inbox.yield(.initiation(initiation, received))
        }
    }

    /// A Jingle request (session-initiate, transport-info…) the client delegated to us.
    func offer(_ request: IQRequest) {
        inbox.yield(.request(request))
    }

    /// After the archive's catch-up: proposes found there are settled (missed or answered elsewhere).
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        if !resumed { inbox.yield(.archiveCaughtUp) }
    }

    // MARK: Commands

    /// Places a call. A number's gateway must say it carries voice (XEP-0030 identity
    /// gateway/pstn); a contact needs no presence: the propose rings whatever devices it has.
    nonisolated(nonsending) func place(to peer: JID) async throws -> String {
        if let gateway, peer.domain == gateway.domain, peer.local != nil {
            if gatewayCarriesVoice == nil {
                let identities = try await client.identities(of: gateway)
                gatewayCarriesVoice = identities.contains { $0.category == "gateway" && $0.type == "pstn" }
            }
            guard gatewayCarriesVoice == true else { throw CallPlacementError.noVoiceGateway(gateway.description) }
        }
        return try await calls.place(to: peer)
    }

    // MARK: Life

    func start() {
        guard workers.isEmpty else { return }
        let calls = self.calls
        let inputs = self.inputs
        let store = self.store
        let broadcaster = self.broadcaster
        let logger = self.logger
        workers.append(Task { await CallService.deliver(inputs, to: calls) })
        workers.append(Task { await CallService.record(calls, in: store, publishingTo: broadcaster, logger: logger) })
    }

    /// The inbox, in order, to the call manager.
    private static func deliver(_ inputs: AsyncStream<Input>, to calls: CallManager) async {
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
            case .request(let request):
                await calls.handle(request: request)
            case .archiveCaughtUp:
                await calls.archiveCaughtUp()
            }
        }
    }

    /// The manager's events: each call state stored first, as messages are (front ends may
    /// read the log at once), then published.
    private static func record(_ calls: CallManager, in store: Store, publishingTo broadcaster: EventBroadcaster,
                               logger: Logger) async {
        for await event in await calls.events() {
            switch event {
            case .updated(let info):
                do { try store.recordCall(record(of: info), peer: info.peer.description) } catch {
                    logger.error("cannot store call \(info.id): \(error)")
                }
                broadcaster.publish(.call(info))
            case .digit(let id, let digit): broadcaster.publish(.callDigit(callID: id, digit))
            }
        }
    }

    /// Calls end first, and their last states reach the store before the streams close.
    nonisolated(nonsending) func stop() async {
        await calls.hangUpAll()
        await calls.closeEvents()
        inbox.finish()
        for worker in workers { await worker.value }
    }

    static func record(of call: CallInfo) -> CallRecord {
        CallRecord(id: call.id, direction: call.direction.rawValue, outcome: call.outcome?.rawValue, reason: call.reason,
                   startedAt: call.startedAt, connectedAt: call.connectedAt, endedAt: call.endedAt)
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
