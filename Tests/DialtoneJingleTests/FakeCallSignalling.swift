import DialtoneICE
@testable import DialtoneJingle
import DialtoneXML
import DialtoneXMPP
import Foundation
import Synchronization

/// A `CallSignalling` with no connection behind it, for driving a `CallManager` in unit tests:
/// it records every stanza the manager sends, answers every request with a result (a peer
/// that takes everything), and lets only `friend` ring us.
final class FakeCallSignalling: Sendable {
    static let me = JID(verified: "me@example.com/desk")
    static let friend = JID(verified: "friend@example.org/phone")

    /// Each stanza with the way it left: send, request or sendRequest.
    private let stanzas = Mutex<[(via: String, stanza: XMLElement)]>([])
    /// OMEMO for the fingerprints, if the test gives some (see `FakeSealing`).
    let sealing: FingerprintSealing?

    init(sealing: FingerprintSealing? = nil) {
        self.sealing = sealing
    }

    private func record(_ via: String, _ stanza: XMLElement) {
        stanzas.withLock { $0.append((via, stanza)) }
    }

    var signalling: CallSignalling {
        CallSignalling(
            ownAddress: { Self.me },
            send: { self.record("send", $0) },
            request: { self.record("request", $0); return $0.iqReply() },
            sendRequest: { self.record("sendRequest", $0) },
            features: { _ in [] },
            mayCall: { $0 == Self.friend.bare },
            sealing: sealing)
    }

    /// A manager on this signalling whose calls gather loopback candidates only: no network.
    func manager() -> CallManager {
        var configuration = CallManager.Configuration()
        configuration.media.ice.loopbackOnly = true
        configuration.media.ice.useIPv6 = false
        configuration.useExternalServices = false
        return CallManager(signalling: signalling, configuration: configuration)
    }

    // MARK: What was sent

    /// The XEP-0353 messages, in order: (to, action, id).
    var all: [(to: String, action: MessageInitiation.Action, id: String)] {
        stanzas.withLock { $0 }.compactMap { entry in
            MessageInitiation(message: entry.stanza).map { (entry.stanza[attribute: "to"] ?? "", $0.action, $0.id) }
        }
    }

    /// The XEP-0353 messages by name, a reason's text in brackets: "propose", "reject (tie-break)".
    func names() -> [String] {
        all.map { entry in
            switch entry.action {
            case .propose: "propose"
            case .ringing: "ringing"
            case .proceed: "proceed"
            case .accept: "accept"
            case .reject(let reason): "reject" + (reason?.text.map { " (\($0))" } ?? "")
            case .retract(let reason): "retract" + (reason?.text.map { " (\($0))" } ?? "")
            case .finish: "finish"
            }
        }
    }

    /// The Jingle actions we started (requests either way), a reason's condition after a
    /// space: "session-initiate", "session-terminate decline".
    func jingle() -> [String] {
        stanzas.withLock { $0 }.filter { $0.via != "send" }.compactMap { entry in
            guard let action = try? JingleAction(iq: entry.stanza) else { return nil }
            return action.kind.rawValue + (action.reason.map { " \($0.condition.rawValue)" } ?? "")
        }
    }

    /// The Jingle requests we sent of one kind, as they went (session-initiate, session-accept…).
    func sent(_ kind: JingleAction.Kind) -> [XMLElement] {
        stanzas.withLock { $0 }.filter { $0.via != "send" }.map(\.stanza).filter { (try? JingleAction(iq: $0))?.kind == kind }
    }

    /// The XEP-0353 messages as they went.
    var messages: [XMLElement] {
        stanzas.withLock { $0 }.map(\.stanza).filter { MessageInitiation(message: $0) != nil }
    }

    /// Our answers to the peer's Jingle iqs: "result", or the error's condition.
    func replies() -> [String] {
        stanzas.withLock { $0 }.filter { $0.via == "send" && $0.stanza.name == "iq" }.map { entry in
            entry.stanza[attribute: "type"] == "error" ? StanzaError(stanza: entry.stanza)?.condition ?? "error" : "result"
        }
    }
}

extension CallManager {
    /// A XEP-0353 message as it arrives live from `from` (a proceed may name an OMEMO device).
    func receive(_ action: MessageInitiation.Action, id: String, from: JID, device: UInt32? = nil) async {
        await handle(MessageInitiation(id: id, action: action, device: device), from: from, to: FakeCallSignalling.me.bare,
                     outgoing: false, origin: .live, at: Date())
    }

    /// A Jingle iq set as it arrives from `from`.
    func receive(_ action: JingleAction, from: JID) async {
        var iq = action.iq(to: FakeCallSignalling.me, id: "peer-\(action.kind.rawValue)")
        iq[attribute: "from"] = from.description
        await handle(request: IQRequest(iq))
    }

    /// Where a call's negotiation is, for tests to check that a refused stanza changed nothing.
    func phase(of id: String) -> CallPhase? { calls[id]?.phase }

    /// The ICE pairs a call has formed: one more for each remote candidate taken.
    func pairCount(of id: String) async -> Int? {
        guard let agent = calls[id]?.media?.agent else { return nil }
        return await agent.pairs.count
    }
}
