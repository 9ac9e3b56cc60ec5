import DialtoneICE
import DialtoneJingle
import DialtoneMedia

/// The settings calls use: devices, ICE servers, timeouts (from `AccountConfiguration`).
public typealias CallSettings = CallManager.Configuration

extension CallSettings {
    /// Host candidates on 127.0.0.1 only, no STUN or TURN (not even the server's): calls
    /// between processes on one machine (tests, `--ice-loopback`).
    public mutating func useLoopbackOnly() {
        media.ice.loopbackOnly = true
        media.ice.useIPv6 = false
        media.ice.stunServer = nil
        media.ice.turnServer = nil
        useExternalServices = false
    }
}

/// What front ends may do to an account's calls. Placing a call goes through
/// `AccountSession.placeCall`, which checks the gateway first; state changes arrive as
/// `CoreEvent.call`, already in the call log.
public struct CallControl: Sendable {
    let manager: CallManager

    /// Calls not yet ended.
    public var activeCalls: [CallInfo] { get async { await manager.activeCalls } }

    public func answer(_ id: String) async throws { try await manager.answer(id) }

    /// Refuses a ringing call; `busy` says why (another call is going on).
    public func decline(_ id: String, busy: Bool = false) async throws { try await manager.decline(id, busy: busy) }

    public func hangUp(_ id: String) async throws { try await manager.hangUp(id) }

    /// Sends digits as RFC 4733 events; returns those that were not sent (not DTMF, or no room).
    public func sendDTMF(_ id: String, digits: String) async throws -> [Character] {
        try await manager.sendDTMF(id, digits: digits)
    }

    public func setMuted(_ id: String, _ muted: Bool) async throws { try await manager.setMuted(id, muted) }

    /// Puts the call on hold (XEP-0167 hold: no audio either way) or takes it off.
    public func setHeld(_ id: String, _ held: Bool) async throws { try await manager.setHeld(id, held) }

    public func switchDevices(_ id: String, capture: String?, playback: String?) async throws {
        try await manager.switchDevices(id, capture: capture, playback: playback)
    }

    /// The connected call's figures (packets, loss, jitter, round trip, codec).
    public func statistics(_ id: String) async -> CallStatistics? { await manager.statistics(id) }

    /// Capture and playback levels, 0…1, for the call panel's meters.
    public func levels(_ id: String) async -> (capture: Double, playback: Double)? { await manager.levels(id) }
}
