"""The parts of gst_jingle_peer.py that sit on GStreamer's streaming threads: RFC 4733 events
sent in place of audio packets, and tone detection on the decoded audio received."""
import array
import struct
import threading
import time

from gi.repository import Gst, GstRtp

from jingle_sdp import DTMF_DIGITS, strongest_probe


class DtmfInserter:
    """Sends RFC 4733 events the way GStreamer's rtpdtmfmux does, at any clock rate.

    A probe on the Opus payloader's output replaces audio packets while an event is on:
    each replacement keeps the audio packet's sequence number and SSRC (so the stream stays
    one gapless sequence) and carries the event, timestamped where it began. Per digit: five
    packets of 20 ms (the first with the marker bit), the end packet three times (RFC 4733
    2.5.1.4), then five audio packets before the next digit.

    It also notes when the first audio packet after connecting left (the origin of the
    start/end times it reports, about when Dialtone's playback starts) and the timestamp
    steps of the encoder's first packets (GStreamer's Opus sender makes the first one 648
    rather than 960: the encoder's look-ahead)."""

    def __init__(self, pad, on_first_steps):
        self.peer = pad.get_peer
        self.on_first_steps = on_first_steps
        self.telephone = None  # (payload type, clock rate), set once negotiated
        self.lock = threading.Lock()
        self.queue = []  # (digit, callback)
        self.event = None
        self.gap = 0
        self.first = None
        self.connected = False
        self.stamps = []
        pad.add_probe(Gst.PadProbeType.BUFFER, self.probe)

    def connect(self):
        """The call is up: what is sent from now on reaches the peer."""
        with self.lock:
            self.connected, self.first = True, None

    def send(self, digit, loop):
        """Queues one digit; the future gives (start, end) in seconds since the first packet."""
        future = loop.create_future()

        def sent(times):
            loop.call_soon_threadsafe(lambda: future.done() or future.set_result(times))

        with self.lock:
            self.queue.append((digit, sent))
        return future

    def probe(self, pad, info):
        buffer = info.get_buffer()
        ok, rtp = GstRtp.RTPBuffer.map(buffer, Gst.MapFlags.READ)
        if not ok:
            return Gst.PadProbeReturn.OK
        seq, timestamp, ssrc = rtp.get_seq(), rtp.get_timestamp(), rtp.get_ssrc()
        rtp.unmap()
        now = time.monotonic()
        with self.lock:
            if self.first is None and self.connected:
                self.first = now
        if len(self.stamps) < 6:
            self.stamps.append(timestamp)
            if len(self.stamps) == 6:
                self.on_first_steps([(b - a) & 0xFFFFFFFF
                                     for a, b in zip(self.stamps, self.stamps[1:])])
        with self.lock:
            packet = self.next_event_packet(timestamp, now)
        if packet is None:
            return Gst.PadProbeReturn.OK
        marker, start, payload = packet
        pt = self.telephone[0]
        data = struct.pack("!BBHII", 0x80, (0x80 if marker else 0) | pt, seq, start, ssrc) + payload
        replacement = Gst.Buffer.new_wrapped(data)
        replacement.pts, replacement.dts = buffer.pts, buffer.dts
        # Straight into the peer's chain: pushing on this pad would run this probe again.
        self.peer().chain(replacement)
        return Gst.PadProbeReturn.DROP

    def next_event_packet(self, timestamp, now):
        if self.event is None:
            if self.gap > 0:
                self.gap -= 1
                return None
            if not self.queue or self.telephone is None or self.first is None:
                return None
            digit, sent = self.queue.pop(0)
            self.event = {"code": DTMF_DIGITS.index(digit.upper()), "start": timestamp,
                          "count": 0, "sent": sent, "began": now - self.first}
        event = self.event
        event["count"] += 1
        step = self.telephone[1] // 50
        end = event["count"] > 5
        payload = struct.pack("!BBH", event["code"], (0x80 if end else 0) | 10,
                              min(event["count"], 5) * step)
        if event["count"] == 8:
            self.event, self.gap = None, 5
            event["sent"]((round(event["began"], 3), round(now - self.first, 3)))
        return event["count"] == 1, event["start"], payload


class ToneListener:
    """Skips 0.5 s of start-up, analyses 2 s of what arrives, reports the strongest probe
    frequency once (as jingle_media.listen does for aiortc), and keeps draining."""

    def __init__(self, on_heard, rate=48000):
        self.on_heard = on_heard
        self.rate = rate
        self.samples = array.array("h")
        self.skipped = 0
        self.done = False

    def on_sample(self, sink):
        sample = sink.emit("pull-sample")
        if sample is None or self.done:
            return Gst.FlowReturn.OK
        buffer = sample.get_buffer()
        data = buffer.extract_dup(0, buffer.get_size())
        if self.skipped < self.rate // 2:
            self.skipped += len(data) // 2
            return Gst.FlowReturn.OK
        self.samples.frombytes(data[: len(data) // 2 * 2])
        if len(self.samples) >= 2 * self.rate:
            self.done = True
            frequency, ratio = strongest_probe(self.samples, self.rate)
            self.on_heard(frequency=frequency, ratio=ratio)
        return Gst.FlowReturn.OK
