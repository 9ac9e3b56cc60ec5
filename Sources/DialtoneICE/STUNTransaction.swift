/// Time as the agent sees it: a duration since an origin the driver picks. The core never reads
/// a clock, so tests drive it with exact values and the actor maps `ContinuousClock` onto it.
public typealias ICETime = Duration

/// Retransmission of one request over UDP (RFC 8489 6.2.1): sent at 0, RTO, 3 RTO, 7 RTO, …
/// doubling each time, Rc sends in all; after the last send it waits Rm × RTO, then gives up.
public struct STUNRetransmissionTimer: Sendable, Equatable {
    public struct Parameters: Sendable, Equatable {
        public var rto: Duration
        public var rc: Int
        public var rm: Int
        public init(rto: Duration = .milliseconds(500), rc: Int = 7, rm: Int = 16) {
            self.rto = rto
            self.rc = max(1, rc)
            self.rm = rm
        }
    }

    public enum Event: Sendable, Equatable { case retransmit, timedOut }

    public let parameters: Parameters
    public private(set) var sends = 1
    public private(set) var deadline: ICETime
    private var interval: Duration

    /// Starts the timer for a request sent at `now`.
    public init(sentAt now: ICETime, parameters: Parameters = Parameters()) {
        self.parameters = parameters
        interval = parameters.rto
        deadline = parameters.rc == 1 ? now + parameters.rto * parameters.rm : now + parameters.rto
    }

    /// Call when `now` may have reached `deadline`; says whether to send again or give up.
    public mutating func fire(now: ICETime) -> Event? {
        guard now >= deadline else { return nil }
        if sends >= parameters.rc { return .timedOut }
        sends += 1
        interval = interval * 2
        deadline = sends == parameters.rc ? now + parameters.rto * parameters.rm : now + interval
        return .retransmit
    }
}
