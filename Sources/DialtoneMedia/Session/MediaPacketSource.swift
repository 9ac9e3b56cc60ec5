/// Where the playback thread reads the peer's packets itself, once a frame, instead of a
/// transport thread waking for every packet and pushing it to `MediaSession.receive`. Each
/// wake-up of a thread costs about as much as decoding the packet it carries; the playback
/// thread wakes once a frame anyway, and the jitter buffer is only read at that moment, so
/// reading the socket then delays nothing. In calls DialtoneICE's direct route is the source.
public protocol MediaPacketSource: Sendable {
    /// Hands the datagrams waiting now (up to a bound the source sets; the rest wait for the
    /// next frame) to `body` with their arrival time (CLOCK_MONOTONIC nanoseconds), without
    /// waiting. Packets the source cannot take yet keep arriving through
    /// `MediaSession.receive`.
    func readWaiting(_ body: (UnsafeRawBufferPointer, Int64) -> Void)
    /// The playback thread stopped: packets go back to arriving through `MediaSession.receive`.
    func stopReading()
}
