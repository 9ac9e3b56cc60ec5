import DialtoneJingle
import DialtoneStore
import Foundation

/// Calls in words, the same in the TUI, the call log and `dialtone listen`.
public enum CallText {
    /// "Outgoing call to Alice · ringing", "Call with Alice · 1:05", "Missed call from Bob".
    public static func line(_ call: CallInfo, name: String, now: Date = Date()) -> String {
        let outgoing = call.direction == .outgoing
        switch call.state {
        case .proposing: return "Calling \(name)…"
        case .ringing: return "Calling \(name) · ringing"
        case .incoming: return "Incoming call from \(name)"
        case .connecting: return "Call with \(name) · connecting"
        case .connected: return "Call with \(name) · \(duration(call.duration(now: now) ?? 0))"
        case .ended:
            switch call.outcome {
            case .missed?: return "Missed call from \(name)"
            case .completed?:
                return "\(outgoing ? "Outgoing" : "Incoming") call \(outgoing ? "to" : "from") \(name) · \(duration(call.duration(now: now) ?? 0))"
            default:
                return "\(outgoing ? "Outgoing" : "Incoming") call \(outgoing ? "to" : "from") \(name) · \(call.reason ?? call.outcome?.rawValue ?? "ended")"
            }
        }
    }

    /// How the call's DTLS fingerprints were exchanged, when OMEMO carried them: "🔒✓ verified"
    /// (the user verified the peer's device), "🔒 OMEMO, device not verified"; nil when they
    /// went in clear (the call is encrypted all the same, but not verified).
    public static func protection(_ call: CallInfo) -> String? {
        guard let protection = call.protection else { return nil }
        return protection.verified ? "🔒✓ verified" : "🔒 OMEMO, device not verified"
    }

    /// The same as a mark for a narrow line (the call panel): "🔒✓", "🔒", or nil.
    public static func protectionMark(_ call: CallInfo) -> String? {
        guard let protection = call.protection else { return nil }
        return protection.verified ? "🔒✓" : "🔒"
    }

    /// A stored call: "Outgoing call to Alice · 3:21", "Missed call from Bob".
    public static func logLine(_ call: CallRecord, name: String) -> String {
        let outgoing = call.direction == "outgoing"
        if call.outcome == "missed" { return "Missed call from \(name)" }
        let head = "\(outgoing ? "Outgoing" : "Incoming") call \(outgoing ? "to" : "from") \(name)"
        if call.outcome == "completed", let connected = call.connectedAt, let ended = call.endedAt {
            return head + " · " + duration(ended.timeIntervalSince(connected))
        }
        return head + " · " + (call.reason ?? call.outcome ?? "in progress")
    }

    /// "0:07", "3:21", "1:02:03".
    public static func duration(_ seconds: TimeInterval) -> String {
        let total = max(0, Int(seconds))
        let (hours, minutes, rest) = (total / 3600, total / 60 % 60, total % 60)
        return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
    }
}
