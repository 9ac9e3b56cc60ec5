import DialtoneICE
import DialtoneMedia
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging

// How calls end (hang-up, time-outs, the peer's terminate), and the manager's plumbing.

extension CallManager {
    // MARK: Endings

    func ringTimedOut(_ id: String) async {
        guard let call = calls[id], call.info.direction == .outgoing,
              call.info.state == .proposing || call.info.state == .ringing else { return }
        end(call, outcome: .unanswered, reason: "no answer")
        let reason = JingleReason(.timeout)
        try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
    }

    func setupTimedOut(_ id: String) async {
        guard let call = calls[id], call.info.state == .connecting else { return }
        await terminate(call, reason: JingleReason(.timeout, text: "the session was not set up in time"), outcome: .failed)
    }

    /// Ends a session we are in: session-terminate to the device, JMI finish to the peer.
    func terminate(_ call: ActiveCall, reason: JingleReason, outcome: CallInfo.Outcome, notify: Bool = true) async {
        guard call.info.state != .ended else { return }
        // Marked first: nothing below may end it twice.
        let id = call.info.id
        end(call, outcome: outcome, reason: reason.description)
        if notify, let remote = call.info.remote {
            let terminate = JingleAction(.sessionTerminate, sid: id, initiator: call.initiator, reason: reason)
            if call.phase.hasSession {
                // Its answer is expected but not awaited: the peer may be gone.
                try? await signalling.sendRequest(terminate.iq(to: remote, id: newStanzaID()))
                try? await signalling.send(MessageInitiation(id: id, action: .finish(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
            } else if call.info.direction == .outgoing {
                try? await signalling.send(MessageInitiation(id: id, action: .retract(reason)).message(to: call.info.peer, stanzaID: newStanzaID()))
            } else {
                try? await signalling.send(MessageInitiation(id: id, action: .reject(reason)).message(to: remote, stanzaID: newStanzaID()))
            }
        }
    }

    func stopMedia(_ call: ActiveCall) async {
        call.iceEvents?.cancel()
        call.timer?.cancel()
        let media = call.media
        call.media = nil
        if let media, let statistics = await media.statistics { call.lastStatistics = statistics }
        // A remote learnt as peer-reflexive may have been signalled since: name it as it is now.
        if let media, let pair = await media.agent.selectedPair {
            call.info.path = "\(pair.local.type.rawValue) → \(pair.remote.type.rawValue)"
        }
        await media?.stop()
    }

    func end(_ call: ActiveCall, outcome: CallInfo.Outcome, reason: String) {
        guard call.info.state != .ended else { return }
        call.timer?.cancel()
        call.info.state = .ended
        call.info.outcome = outcome
        call.info.reason = reason
        call.info.endedAt = Date()
        let id = call.info.id
        if call.media != nil {
            // Statistics are kept before the media goes, and the ended state goes out after.
            settling[id] = Task { await self.stopMediaAndPublish(id) }
        } else {
            publish(call)
            forgetEnded()
        }
    }

    func stopMediaAndPublish(_ id: String) async {
        defer { settling[id] = nil }
        guard let call = calls[id] else { return }
        await stopMedia(call)
        publish(call)
        forgetEnded()
    }

    /// Ended calls stay a while for their statistics; beyond a few, the oldest go, their ids
    /// remembered so that a late or repeated propose with one of them rings nothing.
    func forgetEnded() {
        let ended = calls.values.filter { $0.info.state == .ended && $0.media == nil && settling[$0.info.id] == nil }
        guard ended.count > 16 else { return }
        for call in ended.sorted(by: { ($0.info.endedAt ?? .distantPast) < ($1.info.endedAt ?? .distantPast) }).prefix(ended.count - 16) {
            calls[call.info.id] = nil
            recentlyEnded.insert(call.info.id)
        }
        if recentlyEnded.count > 1_000 { recentlyEnded.removeAll() }
    }

    // MARK: Plumbing

    func existing(_ id: String) throws -> ActiveCall {
        guard let call = calls[id] else { throw CallError.unknownCall(id) }
        return call
    }

    func publish(_ call: ActiveCall) {
        broadcast(.updated(call.info))
    }

    func broadcast(_ event: CallEvent) {
        for continuation in subscribers.values { continuation.yield(event) }
    }

    static func newSessionID() -> String {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<20).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] })
    }
}

extension TURNTransport {
    /// The order in which a server's ways are tried: plain UDP first.
    var preference: Int {
        switch self {
        case .udp: 0
        case .tcp: 1
        case .tls: 2
        }
    }
}
