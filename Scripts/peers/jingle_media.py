"""Jingle audio media on aiortc, shared by Dialtone's aiortc call peers.

Used by Tests/IntegrationTests/Peers/jingle_peer.py (a Conversations-like call peer) and
Scripts/gateway/simulated_gateway.py (a JMP-like phone gateway that answers calls). It holds:

  install()                  the process-wide patches every user needs: loopback-only ICE
                             (no STUN servers, no mDNS, only a 127.0.0.1 host candidate),
                             Opus 111 + telephone-event 101 as aiortc's codecs, and the RFC 4733
                             hooks in aiortc's DTLS transport
  use_nomination_attribute() ICE nomination with libwebrtc's NOMINATION attribute (0xC001)
                             instead of USE-CANDIDATE
  RtpStream                  per-call RFC 4733 state: telephone-events received (a callback per
                             digit) and sent (send_dtmf) inside the call's own RTP stream
  Tone, listen               a sine track to send, tone detection on the track received
  local_media                aiortc's local description as Jingle data

The Jingle <-> SDP translation (parse_content, remote_sdp, content_element, …) is in
jingle_sdp.py, shared with the GStreamer peer; its names are re-exported here for the gateway.
Nothing here prints or talks XMPP; the callers do that.
"""
import asyncio
import math
import os
import random
import struct
import sys

import aioice.ice
import aioice.stun
import aiortc.codecs
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket, is_rtcp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# Used here, and re-exported for the simulated gateway (which imports this module only).
from jingle_sdp import (DTMF_DIGITS, PROBES, candidate_sdp, content_element,  # noqa: E402,F401
                        local_from_sdp, parse_content, reason_of, remote_sdp, strongest_probe,
                        telephone_event, usable_candidates)

NOMINATION = 0xC001  # libwebrtc's STUN attribute for (re)nomination, a uint32


# ---- process-wide patches ---------------------------------------------------------------------
_installed = False


async def _no_mdns(*_args, **_kwargs):
    raise ConnectionError("mDNS is disabled for Dialtone's test peers")


def install():
    """Apply the patches below once per process (calling it again does nothing).

    Loopback-only ICE: aioice gathers host candidates from every interface *except* loopback;
    the tests need the opposite, so its module-level helper (looked up at call time by
    gather_candidates) is replaced. With iceServers=[] aiortc configures no STUN server.
    aioice only uses mDNS to resolve remote ".local" candidates; usable_candidates() drops
    those anyway and the lookup fails loudly.

    Codecs: aiortc offers Opus as 96 plus G.722/PCMU/PCMA; Conversations-style offers use
    111 and 101. Listing telephone-event makes aiortc negotiate it in its offers and answers;
    its packets never reach aiortc's decoder because the receive hook takes them first.
    (aiortc sends with codecs[0], so remote_sdp() always lists telephone-event last.)

    RFC 4733: see RtpStream."""
    global _installed
    if _installed:
        return
    _installed = True
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]
    aioice.ice.get_or_create_mdns_protocol = _no_mdns
    set_codec("opus")
    original_handle_rtp = RTCDtlsTransport._handle_rtp_data
    original_send_rtp = RTCDtlsTransport._send_rtp

    async def handle_rtp_data(self, data, arrival_time_ms):
        # Called with decrypted SRTP. aiortc has no telephone-event decoder: catch them here.
        stream = getattr(self, "_dialtone_rtp", None)
        if stream is not None and len(data) >= 12 and (data[1] & 0x7F) in stream.dtmf_rx:
            stream.received_event(RtpPacket.parse(data))
            return
        await original_handle_rtp(self, data, arrival_time_ms)

    async def send_rtp(self, data):
        stream = getattr(self, "_dialtone_rtp", None)
        if stream is not None:
            data = stream.renumber(data)
        await original_send_rtp(self, data)

    RTCDtlsTransport._handle_rtp_data = handle_rtp_data
    RTCDtlsTransport._send_rtp = send_rtp


def set_codec(codec):
    """The one audio codec this peer takes, plus telephone-event: "opus" (111, as Conversations
    offers it), or "pcmu" (0) / "pcma" (8), as a telephone gateway without Opus would."""
    audio = {
        "opus": RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2,
                                      payloadType=111, parameters={"minptime": 10, "useinbandfec": 1}),
        "pcmu": RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, channels=1, payloadType=0),
        "pcma": RTCRtpCodecParameters(mimeType="audio/PCMA", clockRate=8000, channels=1, payloadType=8),
    }[codec]
    aiortc.codecs.CODECS["audio"][:] = [
        audio,
        RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=8000, payloadType=101),
    ]


def use_nomination_attribute(value=1):
    """Nominate the way libwebrtc's renomination does: the controlling agent's checks carry
    NOMINATION (0xC001, uint32 `value`) instead of USE-CANDIDATE. aioice nominates
    aggressively (every check of the controlling agent nominates), so every check that would
    have carried USE-CANDIDATE carries NOMINATION instead. As the controlled agent, a check
    carrying NOMINATION is taken as a nomination too (as libwebrtc does), so two peers that
    both use this still connect; an unpatched aioice ignores the attribute."""
    if "NOMINATION" not in aioice.stun.ATTRIBUTES_BY_NAME:
        entry = (NOMINATION, "NOMINATION", aioice.stun.pack_unsigned, aioice.stun.unpack_unsigned)
        aioice.stun.ATTRIBUTES.append(entry)
        aioice.stun.ATTRIBUTES_BY_TYPE[NOMINATION] = entry
        aioice.stun.ATTRIBUTES_BY_NAME["NOMINATION"] = entry
    connection = aioice.ice.Connection
    if getattr(connection, "_dialtone_nomination", None) is not None:
        connection._dialtone_nomination = value
        return
    connection._dialtone_nomination = value
    original_build = connection.build_request
    original_incoming = connection.check_incoming

    def build_request(self, pair, nominate):
        request = original_build(self, pair, nominate)
        if "USE-CANDIDATE" in request.attributes:
            del request.attributes["USE-CANDIDATE"]
            request.attributes["NOMINATION"] = connection._dialtone_nomination
        return request

    def check_incoming(self, message, addr, protocol):
        if "NOMINATION" in message.attributes and not self.ice_controlling:
            message.attributes["USE-CANDIDATE"] = None
        return original_incoming(self, message, addr, protocol)

    connection.build_request = build_request
    connection.check_incoming = check_incoming


# ---- RFC 4733 telephone-event ------------------------------------------------------------------
class RtpStream:
    """One call's RTP as the telephone-event hooks see it: the payload types that carry
    telephone-events each way, and our outgoing stream, renumbered here so that inserted DTMF
    packets share its SSRC and one gapless sequence.

    on_dtmf(digit=, duration=, duration_ms=, volume=) is called once per received event."""

    def __init__(self, on_dtmf=None):
        self.on_dtmf = on_dtmf
        self.dtmf_rx = {101: 8000}  # payload type -> clock rate
        self.dtmf_tx = (101, 8000)
        self.seq = random.getrandbits(16)
        self.ssrc = None
        self.timestamp = None
        self.seen_events = set()

    def attach(self, pc):
        """Hook this stream into the DTLS transports of an RTCPeerConnection. Call it after
        addTrack and again after each set*Description (aiortc may swap transports then)."""
        for transceiver in pc.getTransceivers():
            for transport in (transceiver.sender.transport, transceiver.receiver.transport):
                if transport is not None:
                    transport._dialtone_rtp = self

    def negotiated(self, content):
        """Take the telephone-event payload types from the remote Jingle content."""
        telephone = {p["id"]: p["clockrate"] for p in content["payload_types"]
                     if p["name"].lower() == "telephone-event"}
        if telephone:
            self.dtmf_rx = telephone
            self.dtmf_tx = next(iter(telephone.items()))

    def received_event(self, packet):
        event = telephone_event(packet.payload)
        if event is None:
            return
        digit, end, volume, duration = event
        key = (packet.ssrc, packet.timestamp)
        # The end packet is sent three times; report each event once.
        if end and key not in self.seen_events:
            self.seen_events.add(key)
            clock = self.dtmf_rx[packet.payload_type]
            if self.on_dtmf is not None:
                self.on_dtmf(digit=digit, duration=duration,
                             duration_ms=round(duration * 1000 / clock), volume=volume)

    def renumber(self, data):
        if is_rtcp(data) or len(data) < 12:
            return data
        data = bytearray(data)
        struct.pack_into("!H", data, 2, self.seq)
        self.seq = (self.seq + 1) & 0xFFFF
        if (data[1] & 0x7F) != self.dtmf_tx[0]:
            self.timestamp, self.ssrc = struct.unpack_from("!II", data, 4)
        return bytes(data)

    async def send_dtmf(self, transport, digits, on_sent=None):
        """Each digit: 100 ms of event packets every 20 ms, then the end packet three times.
        The timestamp is the audio stream's current one; durations count in the
        telephone-event clock that was negotiated. on_sent(digit) after each digit."""
        pt, clock = self.dtmf_tx
        step = clock // 50
        for digit in digits:
            code = DTMF_DIGITS.index(digit.upper())
            timestamp = self.timestamp or 0
            for i in range(1, 9):
                end = i > 5
                payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, min(i, 5) * step)
                header = struct.pack("!BBHII", 0x80, (0x80 if i == 1 else 0) | pt, 0, timestamp,
                                     self.ssrc or 0)
                await transport._send_rtp(header + payload)
                if i < 5:
                    await asyncio.sleep(0.02)
            if on_sent is not None:
                on_sent(digit)
            await asyncio.sleep(0.1)


# ---- audio ---------------------------------------------------------------------------------------
class Tone(AudioStreamTrack):
    """aiortc's silence track (8 kHz mono, paced in real time) with a sine written in."""

    def __init__(self, frequency):
        super().__init__()
        self.frequency = frequency

    async def recv(self):
        frame = await super().recv()
        rate, start = frame.sample_rate, frame.pts
        samples = [int(8000 * math.sin(2 * math.pi * self.frequency * (start + i) / rate))
                   for i in range(frame.samples)]
        frame.planes[0].update(struct.pack(f"<{len(samples)}h", *samples))
        return frame


async def listen(track, on_heard, probes=PROBES):
    """Skip 0.5 s of start-up, analyse 2 s of the first channel, call
    on_heard(frequency=, ratio=) with the strongest probe and its power over the runner-up's,
    then keep draining the track until it ends."""
    heard, rate, frames = [], 48000, 0
    try:
        while True:
            frame = await track.recv()
            frames += 1
            if frames <= 25 or heard is None:
                continue
            channels = len(frame.layout.channels)
            rate = frame.sample_rate
            data = bytes(frame.planes[0])[: frame.samples * 2 * channels]
            heard.extend(struct.unpack(f"<{len(data) // 2}h", data)[::channels])
            if len(heard) >= 2 * rate:
                frequency, ratio = strongest_probe(heard, rate, probes)
                heard = None
                on_heard(frequency=frequency, ratio=ratio)
    except MediaStreamError:
        pass


# ---- aiortc -> Jingle ---------------------------------------------------------------------------
def local_media(pc):
    """aiortc's local description (candidates included: aiortc gathers before it answers)
    -> what goes into our Jingle contents."""
    return local_from_sdp(pc.localDescription.sdp)
