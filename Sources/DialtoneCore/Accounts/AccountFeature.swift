import DialtoneXMPP

/// One feature of an account (messaging, archive sync, calls, the roster, chat states): it
/// owns its state, handles the client events `AccountSession` routes to it, and publishes
/// what front ends see through the session's broadcaster.
///
/// Features are classes owned by their session and run on its actor (their async methods are
/// `nonisolated(nonsending)`), so one account's state changes in one order: a message is
/// stored, and the archive cursor moved, before the next event is looked at, as the
/// acknowledgement to the server requires. A feature is therefore not `Sendable`; it is reached
/// only through its session.
protocol AccountFeature: AnyObject {
    /// A stream was bound: `resumed` when stream management resumed the previous session
    /// (nothing was lost), false for a fresh session (what came meanwhile is in the archive).
    /// Called as the event is handled, before any later stanza: take what must be read now.
    func sessionBound(resumed: Bool) throws
    /// Then, in the order of the session's features and without holding up the stream (the
    /// work may wait for the server's answers): what a new session needs done.
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async
    /// The session is stopping: end the feature's own work before the connection closes.
    nonisolated(nonsending) func stop() async
}

extension AccountFeature {
    func sessionBound(resumed: Bool) throws {}
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {}
    nonisolated(nonsending) func stop() async {}
}
