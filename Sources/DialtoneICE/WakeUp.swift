/// When a sans-I/O state machine (the ICE agent, a TURN allocation) next wants its clock:
/// its driver keeps one wake-up pending at a time, the earliest asked for, and feeds a tick
/// through its input queue when it comes.
struct WakeUp {
    private var pending: ICETime?

    /// A tick arrived at `now`: the wake-up it answers is no longer pending.
    mutating func ticked(at now: ICETime) {
        if let pending, now >= pending { self.pending = nil }
    }

    /// Asks for a tick at `deadline` (none when nil) unless an earlier one is pending.
    mutating func schedule(_ deadline: ICETime?, now: ICETime, into inputs: AgentInputs) {
        guard let deadline else { return }
        if let pending, pending <= deadline { return }
        pending = deadline
        let delay = deadline - now
        Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            inputs.tick()
        }
    }
}
