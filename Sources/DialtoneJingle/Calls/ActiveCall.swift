import DialtoneICE
import DialtoneMedia
import DialtoneXMPP
import Foundation

/// One call's mutable state, confined to the manager's actor.
final class ActiveCall {
    var info: CallInfo
    var media: CallMedia?
    var iceEvents: Task<Void, Never>?
    var timer: Task<Void, Never>?
    /// The Jingle session's initiator, as every action repeats it.
    var initiator: JID?
    var contentName = "0"
    var contentCreator = "initiator"
    /// Where the Jingle negotiation is; a call that came as a bare session-initiate starts
    /// with that offer waiting for the user.
    var phase: CallPhase = .proposed
    /// False for peers announcing `urn:ietf:rfc:3264`: they get every candidate at once.
    var trickle = true
    var pendingCandidates: [ICECandidate] = []
    var signalled = SignalledCandidates()
    var lastStatistics: CallStatistics?
    /// The peer's ICE ufrag as agreed: a different one later is a restart.
    var remoteUfrag: String?
    /// The peer's OMEMO device our fingerprint is encrypted for: named by its proceed (we
    /// call), or the one that encrypted its offer (we answer).
    var sealingDevice: UInt32?
    /// Our fingerprint went encrypted: the answer's must come so too.
    var sealedOurs = false
    /// The peer's fingerprint as it came encrypted.
    var openedTheirs: FingerprintSealing.Opened?

    init(info: CallInfo) {
        self.info = info
    }
}

/// The candidates a call has signalled, so that none goes out twice: libnice (Dino's ICE)
/// aborts on two remote candidates with one transport address.
struct SignalledCandidates {
    private var keys: Set<ICECandidate.Key> = []

    /// Those of `candidates` not signalled yet, one per transport address and component
    /// (the highest priority), now counted as signalled.
    mutating func take(_ candidates: [ICECandidate]) -> [ICECandidate] {
        let fresh = ICECandidate.withoutDuplicates(candidates).filter { !keys.contains($0.key) }
        keys.formUnion(fresh.map(\.key))
        return fresh
    }
}
