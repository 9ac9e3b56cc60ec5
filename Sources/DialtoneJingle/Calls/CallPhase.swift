/// How far a call's Jingle negotiation has come, and so what it may do next: which stanza a
/// hang-up sends, whether candidates go out or wait, which of the peer's actions are expected.
///
/// It replaces three flags and an optional (`sessionSent`, `sessionReceived`, `acceptSent`,
/// `pendingOffer`) that allowed combinations no call can be in, such as an offer waiting for
/// the user in a session already answered.
///
/// What the user sees (ringing, connecting, connected, ended) is `CallInfo.State`; the phase
/// is not reset when a call ends, because the ending itself (`terminate`) must know what was
/// negotiated to choose between a session-terminate and a XEP-0353 retract or reject.
enum CallPhase: Equatable, Sendable {
    /// XEP-0353 only: a propose sent or received (and maybe proceeded); no Jingle session.
    /// Every call starts here except one that came as a bare session-initiate.
    case proposed
    /// Outgoing: our session-initiate is out (or on its way); the session-accept is awaited.
    case offered
    /// Incoming: the peer's session-initiate came without a propose and waits for the user,
    /// who answers it (session-accept) or declines it (session-terminate).
    case offerReceived(JingleAction)
    /// Incoming: we took the peer's offer and our session-accept is on its way.
    case answering
    /// The session is agreed: our session-accept was taken, or the peer's arrived.
    case accepted

    /// Whether the peer knows of a Jingle session, so that ending the call takes a
    /// session-terminate rather than a XEP-0353 retract (ours) or reject (theirs).
    var hasSession: Bool { self != .proposed }

    /// Whether our candidates are trickled as they come. The caller's go from its
    /// session-initiate on (the transport-info follows the initiate on the stream); the
    /// callee's wait for its session-accept to be taken, and those found meanwhile follow it.
    var tricklesCandidates: Bool { self == .offered || self == .accepted }

    /// Whether the peer's description (the offer we took, or the answer we got) is in, so
    /// that other ICE credentials from the peer would be a restart.
    var hasRemoteDescription: Bool { self == .answering || self == .accepted }

    /// The offer waiting for the user, if there is one.
    var pendingOffer: JingleAction? {
        if case .offerReceived(let offer) = self { offer } else { nil }
    }
}
