import DialtoneICE
import DialtoneMedia
import DialtoneTLS
import DialtoneXML
import DialtoneXMPP
import Foundation
import Logging

// XEP-0353 Jingle Message Initiation: proposes, ringing and their answers, live and from the
// archive (missed calls), and the ring timer.

extension CallManager {
    // MARK: Incoming stanzas

    /// Where a message with a XEP-0353 element came from, as the client validated it.
    public enum Origin: Sendable { case live, carbon, archive }

    /// A message carrying a XEP-0353 element. `outgoing` is true for our own messages (sent
    /// carbons, our archive): what one of our other devices did.
    public func handle(_ initiation: MessageInitiation, from: JID?, to: JID?, outgoing: Bool, origin: Origin, at timestamp: Date) async {
        guard let own = await signalling.ownAddress() else { return }
        if origin == .archive {
            // The caller check holds for every propose: the archive keeps strangers' proposes
            // too, and anyone can put a <delay> on a live one. A stranger makes no missed call.
            if case .propose = initiation.action, !outgoing, let from, !(await signalling.mayCall(from.bare)) {
                logger.info("ignored an archived call from \(from.bare), who is not a contact")
                return
            }
            noteArchived(initiation, from: from, to: to, outgoing: outgoing, at: timestamp)
            return
        }
        guard let from else { return }
        let fromOurOtherDevice = from.bare == own.bare && from != own
        if fromOurOtherDevice || outgoing {
            ourOtherDevice(did: initiation)
            return
        }
        guard from.bare != own.bare else { return } // our own echo
        switch initiation.action {
        case .propose(let media):
            // Audio only: answering a video call with audio alone would fail on the other side.
            guard calls[initiation.id] == nil, !recentlyEnded.contains(initiation.id), !media.isEmpty,
                  media.allSatisfy({ $0 == "audio" }), from.isFull else { return }
            // Strangers get nothing back, not even "ringing": that would tell them we are online.
            guard await signalling.mayCall(from.bare) else {
                logger.info("ignored a call from \(from.bare), who is not a contact")
                return
            }
            // Both sides called each other at once (XEP-0353 tie-break): the lower id wins.
            if let ours = calls.values.first(where: { $0.info.direction == .outgoing && $0.info.peer == from.bare
                && ($0.info.state == .proposing || $0.info.state == .ringing) }) {
                if initiation.id < ours.info.id {
                    end(ours, outcome: .cancelled, reason: "the other side called at the same time")
                    try? await signalling.send(MessageInitiation(id: ours.info.id, action: .retract(JingleReason(.expired, text: "tie-break")))
                        .message(to: ours.info.peer, stanzaID: newStanzaID()))
                    let call = ActiveCall(info: CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .incoming))
                    call.info.remote = from
                    calls[initiation.id] = call
                    publish(call)
                    try? await answer(initiation.id)
                } else {
                    try? await signalling.send(MessageInitiation(id: initiation.id, action: .reject(JingleReason(.expired, text: "tie-break")))
                        .message(to: from, stanzaID: newStanzaID()))
                }
                return
            }
            let call = ActiveCall(info: CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .incoming))
            call.info.remote = from
            calls[initiation.id] = call
            publish(call)
            armRingTimer(call)
            try? await signalling.send(MessageInitiation(id: initiation.id, action: .ringing).message(to: from, stanzaID: newStanzaID()))
        case .ringing:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing else { return }
            call.info.state = .ringing
            publish(call)
        case .proceed:
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state == .proposing || call.info.state == .ringing, from.isFull else { return }
            call.info.remote = from
            call.info.state = .connecting
            call.sealingDevice = initiation.device
            publish(call)
            armSetupTimer(call)
            await initiateSession(call)
        case .reject(let reason):
            // Only before our session-initiate: after it, the session's own terminate ends the call.
            guard let call = calls[initiation.id], call.info.direction == .outgoing, from.bare == call.info.peer,
                  call.info.state != .ended, call.phase == .proposed, call.info.remote == nil || call.info.remote == from else { return }
            let busy = reason?.condition == .busy
            end(call, outcome: busy ? .busy : .declined, reason: (reason ?? JingleReason(.decline)).description)
        case .retract(let reason):
            // While it rings here, or once answered until we took the caller's offer.
            guard let call = calls[initiation.id], call.info.direction == .incoming, from.bare == call.info.peer,
                  call.info.state == .incoming || (call.info.state == .connecting && !call.phase.hasRemoteDescription) else { return }
            end(call, outcome: .missed, reason: reason.map { "missed (\($0.description))" } ?? "missed")
        case .finish(let reason):
            guard let call = calls[initiation.id], from.bare == call.info.peer, call.info.state != .ended,
                  call.info.remote == nil || call.info.remote == from else { return }
            await terminate(call, reason: reason ?? JingleReason(.success), outcome: call.info.connectedAt == nil ? .failed : .completed, notify: false)
        case .accept:
            return
        }
    }

    /// An iq set with a `<jingle/>` from anyone: answered here (result or error), always.
    public func handle(request: IQRequest) async {
        let iq = request.element
        let action: JingleAction
        do {
            action = try JingleAction(iq: iq)
        } catch {
            logger.info("malformed Jingle: \(error)")
            try? await signalling.send(iq.jingleError(.badRequest))
            return
        }
        guard let from = iq.fromAddress.jid, from.isFull else {
            try? await signalling.send(iq.jingleError(.badRequest))
            return
        }
        if action.kind == .sessionInitiate {
            await received(initiate: action, iq: iq, from: from)
            return
        }
        guard let call = calls[action.sid], call.info.remote == from, call.info.state != .ended else {
            try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "item-not-found"), jingleCondition: "unknown-session"))
            return
        }
        switch action.kind {
        case .sessionAccept:
            // Only the answer to our session-initiate, and only once.
            guard call.phase == .offered else {
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "unexpected-request"), jingleCondition: "out-of-order"))
                return
            }
            try? await signalling.send(iq.iqReply())
            var answer = action
            do {
                try await openAnswer(&answer, for: call, from: from)
            } catch {
                call.phase = .accepted
                await terminate(call, reason: JingleReason(.securityError, text: "\(error)"), outcome: .failed)
                return
            }
            guard call.info.state != .ended else { return }
            await applyAnswer(answer, to: call)
        case .transportInfo:
            let restart = action.contents.contains { content in
                guard let ufrag = content.transport?.ufrag, let known = call.remoteUfrag else { return false }
                return ufrag != known && call.phase.hasRemoteDescription
            }
            if restart {
                // An ICE restart (new credentials) we cannot follow yet: refused, so the peer
                // keeps the credentials both sides use instead of half-switching.
                try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "feature-not-implemented")))
                return
            }
            try? await signalling.send(iq.iqReply())
            await addRemoteCandidates(action, to: call)
        case .sessionTerminate:
            try? await signalling.send(iq.iqReply())
            let reason = action.reason ?? JingleReason(.success)
            let outcome: CallInfo.Outcome = switch reason.condition {
            case .success: call.info.connectedAt == nil ? (call.info.direction == .incoming ? .missed : .failed) : .completed
            case .decline: .declined
            case .busy: .busy
            case .cancel, .gone, .timeout, .expired: call.info.connectedAt == nil ? (call.info.direction == .incoming ? .missed : .unanswered) : .completed
            default: .failed
            }
            // Ended first: the media stopping below must not look like a failure of ours.
            end(call, outcome: outcome, reason: reason.description)
        case .sessionInfo:
            if action.info.contains("ringing"), call.info.state == .proposing {
                call.info.state = .ringing
                publish(call)
            }
            try? await signalling.send(iq.iqReply())
        default:
            try? await signalling.send(iq.jingleError(StanzaError(type: "cancel", condition: "feature-not-implemented"), jingleCondition: "unsupported-info"))
        }
    }

    /// The archive catch-up is over: proposes nobody answered are missed calls.
    public func archiveCaughtUp() {
        for (id, info) in archivedProposals where !settledInArchive.contains(id) && calls[id] == nil {
            var missed = info
            missed.state = .ended
            missed.outcome = .missed
            missed.reason = "missed while offline"
            missed.endedAt = info.startedAt
            broadcast(.updated(missed))
        }
        archivedProposals = [:]
        settledInArchive = []
    }

    /// An incoming call rings here for a while, then counts as missed (nothing is sent: the
    /// caller may still be ringing our other devices).
    func armRingTimer(_ call: ActiveCall) {
        let id = call.info.id
        call.timer = Task { [weak self, ringTimeout = configuration.incomingRingTimeout] in
            try? await Task.sleep(for: ringTimeout)
            guard !Task.isCancelled else { return }
            await self?.incomingRingTimedOut(id)
        }
    }

    func incomingRingTimedOut(_ id: String) {
        guard let call = calls[id], call.info.state == .incoming else { return }
        end(call, outcome: .missed, reason: "missed")
    }

    func ourOtherDevice(did initiation: MessageInitiation) {
        guard let call = calls[initiation.id], call.info.direction == .incoming, call.info.state == .incoming else { return }
        switch initiation.action {
        case .accept, .proceed: end(call, outcome: .elsewhere, reason: "answered on another device")
        case .reject: end(call, outcome: .elsewhere, reason: "declined on another device")
        default: break
        }
    }

    func noteArchived(_ initiation: MessageInitiation, from: JID?, to: JID?, outgoing: Bool, at timestamp: Date) {
        // A live call that rang while the connection was down may have been settled meanwhile.
        if let call = calls[initiation.id], call.info.state == .incoming, let from {
            switch initiation.action {
            case .retract where from.bare == call.info.peer, .finish where from.bare == call.info.peer:
                end(call, outcome: .missed, reason: "missed")
            case .accept where outgoing, .proceed where outgoing, .reject where outgoing:
                end(call, outcome: .elsewhere, reason: "taken on another device")
            default:
                break
            }
        }
        switch initiation.action {
        case .propose(let media):
            guard !outgoing, let from, media.contains("audio") else { return }
            var info = CallInfo(id: initiation.id, peer: from.bare, direction: .incoming, state: .ended, startedAt: timestamp)
            info.remote = from
            archivedProposals[initiation.id] = info
            // Bounded: a flood of proposes keeps the newest, as a call log would show them.
            if archivedProposals.count > Self.archivedProposalLimit,
               let oldest = archivedProposals.min(by: { $0.value.startedAt < $1.value.startedAt })?.key {
                archivedProposals[oldest] = nil
            }
        case .retract:
            return // still missed
        default:
            settledInArchive.insert(initiation.id)
            // Only what settles a propose we hold needs keeping once the set grows.
            if settledInArchive.count > Self.archivedProposalLimit * 10 {
                settledInArchive = settledInArchive.filter { archivedProposals[$0] != nil }
            }
        }
    }
}
