#!/usr/bin/env python3
"""An independent Jingle audio call peer for Dialtone's call tests: slixmpp + aiortc.

It speaks what Conversations and Cheogram speak: XEP-0353 Jingle Message Initiation, then
XEP-0166/0167 RTP audio over XEP-0176 ICE-UDP with XEP-0320 DTLS-SRTP fingerprints; Opus
(111) and RFC 4733 telephone-event (101). Run it with the venv's python:

  jingle_peer.py --jid alice@dialtone.test --password pw-alice --port 25222 --ca-file CA \\
                 (call BOB_BARE_JID | answer) [options]

  --tone HZ              sine we send (default 880)
  --duration S           caller hangs up S s after media connected (default 4)
  --answer-delay S       callee waits S s before accept/proceed (default 0.2)
  --reject | --busy      callee rejects with <decline/> | <busy/>
  --ignore               callee never answers (prints "missed" on retract)
  --retract-after S      caller retracts the propose after S s and exits
  --candidates trickle|initiate
                         trickle (default): initiate/accept carry no candidates, each one
                         follows in its own transport-info; initiate: all inside
  --component2           also send a fake component 2 candidate per real one, trickled right
                         after session-initiate / before session-accept
  --no-trickle           advertise urn:ietf:rfc:3264 and behave as --candidates initiate
  --turn HOST:PORT [--turn-secret S]
                         relay-only ICE through coturn with REST credentials
                         (secret default turn-secret)
  --send-dtmf DIGITS     send RFC 4733 events (0-9 * # A-D) 1 s after connecting
  --timeout S            give up after S s (default 60; exit 1, retract or terminate first)
  --verbose              slixmpp debug log, every stanza, on stderr

Output: one JSON object per line on stdout, "event" plus fields:
  ready{jid} proposed{to,sid} propose{from,sid} ringing proceed{from[,ignored]}
  accepted{sid} rejected{reason} reject{reason} retract[{reason}] missed
  session-initiate / session-accept{candidates,payload_types,types,setup,rtcp_mux}
  transport-info{candidates,components,types} ice{state} connected
  heard{frequency,ratio} dtmf{digit,duration,duration_ms,volume} dtmf-sent{digit}
  finish{reason} terminated{reason,by:us|peer} error{message}
Exit 0 when the call flow ended normally (including reject, retract and missed).

Network: loopback only. aioice is patched to offer only a 127.0.0.1 host candidate, there
are no STUN servers, mDNS is switched off, and remote candidates that are not loopback
addresses are dropped.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import random
import secrets
import struct
import sys
import time

import aioice.ice
import aiortc.codecs
import slixmpp
from aiortc import (RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.mediastreams import AudioStreamTrack, MediaStreamError
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket, is_rtcp
from aiortc.sdp import SessionDescription, candidate_from_sdp
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

NS_JINGLE = "urn:xmpp:jingle:1"
NS_RTP = "urn:xmpp:jingle:apps:rtp:1"
NS_ICE = "urn:xmpp:jingle:transports:ice-udp:1"
NS_DTLS = "urn:xmpp:jingle:apps:dtls:0"
NS_JMI = "urn:xmpp:jingle-message:0"
NS_ERRORS = "urn:xmpp:jingle:errors:1"
FEATURES = [NS_JINGLE, NS_RTP, "urn:xmpp:jingle:apps:rtp:audio", NS_ICE, NS_DTLS, NS_JMI]
NO_TRICKLE = "urn:ietf:rfc:3264"
PROBES = [300, 440, 660, 880, 1200]
DTMF_DIGITS = "0123456789*#ABCD"  # RFC 4733 event codes 0-15


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


# ---- loopback-only ICE --------------------------------------------------------------------
# aioice gathers host candidates from every interface *except* loopback; the tests need the
# opposite, so its module-level helper (looked up at call time by gather_candidates) is
# replaced. With iceServers=[] aiortc configures no STUN server. aioice only uses mDNS to
# resolve remote ".local" candidates; we drop those anyway and make the lookup fail loudly.
aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]


async def _no_mdns(*_args, **_kwargs):
    raise ConnectionError("mDNS is disabled in jingle_peer")


aioice.ice.get_or_create_mdns_protocol = _no_mdns


def is_loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a hostname, e.g. an mDNS .local name


# ---- codecs -------------------------------------------------------------------------------
# aiortc offers Opus as 96 plus G.722/PCMU/PCMA; Conversations-style offers use 111 and 101.
# Listing telephone-event here makes aiortc negotiate it in its offers and answers; its
# packets never reach aiortc's decoder because the receive hook below takes them first.
# (aiortc sends with codecs[0], so remote SDP we build always lists telephone-event last.)
aiortc.codecs.CODECS["audio"][:] = [
    RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111,
                          parameters={"minptime": 10, "useinbandfec": 1}),
    RTCRtpCodecParameters(mimeType="audio/telephone-event", clockRate=8000, payloadType=101),
]


# ---- RFC 4733 telephone-event, hooked into aiortc's DTLS transport -------------------------
class Rtp:
    """State of this process's single call: the payload types that carry telephone-events,
    our outgoing stream (renumbered here so DTMF packets can share its SSRC and sequence)."""
    dtmf_rx = {101: 8000}  # payload type -> clock rate
    dtmf_tx = (101, 8000)
    seq = random.getrandbits(16)
    ssrc = None
    timestamp = None
    seen_events = set()


_original_handle_rtp = RTCDtlsTransport._handle_rtp_data
_original_send_rtp = RTCDtlsTransport._send_rtp


async def _handle_rtp_data(self, data, arrival_time_ms):
    # Called with decrypted SRTP. aiortc has no telephone-event decoder, so catch them here.
    if len(data) >= 12 and (data[1] & 0x7F) in Rtp.dtmf_rx:
        packet = RtpPacket.parse(data)
        if len(packet.payload) >= 4:
            code, flags, duration = struct.unpack("!BBH", packet.payload[:4])
            key = (packet.ssrc, packet.timestamp)
            # The end packet is sent three times; report each event once.
            if flags & 0x80 and key not in Rtp.seen_events:
                Rtp.seen_events.add(key)
                clock = Rtp.dtmf_rx[packet.payload_type]
                digit = DTMF_DIGITS[code] if code < 16 else str(code)
                emit("dtmf", digit=digit, duration=duration,
                     duration_ms=round(duration * 1000 / clock), volume=flags & 0x3F)
        return
    await _original_handle_rtp(self, data, arrival_time_ms)


async def _send_rtp(self, data):
    # Renumber every RTP packet we send so inserted DTMF packets keep one gapless sequence.
    if not is_rtcp(data) and len(data) >= 12:
        data = bytearray(data)
        struct.pack_into("!H", data, 2, Rtp.seq)
        Rtp.seq = (Rtp.seq + 1) & 0xFFFF
        if (data[1] & 0x7F) != Rtp.dtmf_tx[0]:
            Rtp.timestamp, Rtp.ssrc = struct.unpack_from("!II", data, 4)
        data = bytes(data)
    await _original_send_rtp(self, data)


RTCDtlsTransport._handle_rtp_data = _handle_rtp_data
RTCDtlsTransport._send_rtp = _send_rtp


async def send_dtmf(transport, digits):
    """Each digit: 100 ms of event packets every 20 ms, then the end packet three times.
    The timestamp is the audio stream's current one; durations count in the
    telephone-event clock that was negotiated."""
    pt, clock = Rtp.dtmf_tx
    step = clock // 50
    for digit in digits:
        code = DTMF_DIGITS.index(digit.upper())
        timestamp = Rtp.timestamp or 0
        for i in range(1, 9):
            end = i > 5
            payload = struct.pack("!BBH", code, (0x80 if end else 0) | 10, min(i, 5) * step)
            header = struct.pack("!BBHII", 0x80, (0x80 if i == 1 else 0) | pt, 0, timestamp,
                                 Rtp.ssrc or 0)
            await transport._send_rtp(header + payload)
            if i < 5:
                await asyncio.sleep(0.02)
        emit("dtmf-sent", digit=digit)
        await asyncio.sleep(0.1)


# ---- audio ----------------------------------------------------------------------------------
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


def goertzel(samples, frequency, rate):
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


async def listen(track):
    """Skip 0.5 s of start-up, analyse 2 s of the first channel, then keep draining."""
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
                powers = sorted(((goertzel(heard, f, rate), f) for f in PROBES), reverse=True)
                emit("heard", frequency=powers[0][1],
                     ratio=round(powers[0][0] / max(powers[1][0], 1e-9), 1))
                heard = None
    except MediaStreamError:
        pass


# ---- Jingle <-> SDP -------------------------------------------------------------------------
def q(ns, name):
    return f"{{{ns}}}{name}"


def parse_content(content):
    """The parts of a Jingle <content> we use, as plain data."""
    out = {"name": content.get("name", "0"), "senders": content.get("senders", "both"),
           "payload_types": [], "rtcp_mux": False, "ufrag": None, "pwd": None,
           "fingerprint": None, "candidates": []}
    desc = content.find(q(NS_RTP, "description"))
    if desc is not None:
        out["rtcp_mux"] = desc.find(q(NS_RTP, "rtcp-mux")) is not None
        for pt in desc.findall(q(NS_RTP, "payload-type")):
            params = {p.get("name"): p.get("value") for p in pt.findall(q(NS_RTP, "parameter"))}
            out["payload_types"].append({
                "id": int(pt.get("id")), "name": pt.get("name", ""),
                "clockrate": int(pt.get("clockrate") or 8000),
                "channels": int(pt.get("channels") or 1), "parameters": params})
    transport = content.find(q(NS_ICE, "transport"))
    if transport is not None:
        out["ufrag"], out["pwd"] = transport.get("ufrag"), transport.get("pwd")
        fp = transport.find(q(NS_DTLS, "fingerprint"))
        if fp is not None:
            out["fingerprint"] = (fp.get("hash", "sha-256"), (fp.text or "").strip(),
                                  fp.get("setup", "actpass"))
        out["candidates"] = [dict(c.attrib) for c in transport.findall(q(NS_ICE, "candidate"))]
    return out


def candidate_sdp(c):
    line = (f"{c.get('foundation', '1')} {c.get('component', '1')} "
            f"{c.get('protocol', 'udp').lower()} {c.get('priority', '1')} {c.get('ip')} "
            f"{c.get('port')} typ {c.get('type', 'host')}")
    if c.get("rel-addr") and c.get("rel-port"):
        line += f" raddr {c['rel-addr']} rport {c['rel-port']}"
    return line


def usable_candidates(content):
    """Component 1 (rtcp-mux: we never use component 2), loopback addresses only."""
    wanted = [c for c in content["candidates"] if c.get("component", "1") == "1"
              or not content["rtcp_mux"]]
    return [c for c in wanted if is_loopback(c.get("ip", ""))]


def remote_sdp(content, remote_is_initiator):
    """Jingle content (offer or answer) -> the SDP aiortc wants for setRemoteDescription."""
    pts = sorted(content["payload_types"], key=lambda p: p["name"].lower() == "telephone-event")
    remote_role = "initiator" if remote_is_initiator else "responder"
    senders = content["senders"]
    sends, receives = senders in ("both", remote_role), senders in ("both", "responder"
                                                                   if remote_is_initiator
                                                                   else "initiator")
    direction = {(True, True): "sendrecv", (True, False): "sendonly",
                 (False, True): "recvonly"}.get((sends, receives), "inactive")
    mid = content["name"]
    lines = ["v=0", f"o=- {random.getrandbits(40)} 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
             f"a=group:BUNDLE {mid}",
             f"m=audio 9 UDP/TLS/RTP/SAVPF {' '.join(str(p['id']) for p in pts)}",
             "c=IN IP4 0.0.0.0", f"a=mid:{mid}", f"a={direction}"]
    if content["rtcp_mux"]:
        lines.append("a=rtcp-mux")
    lines += [f"a=ice-ufrag:{content['ufrag']}", f"a=ice-pwd:{content['pwd']}"]
    if content["fingerprint"]:
        algorithm, value, setup = content["fingerprint"]
        lines += [f"a=fingerprint:{algorithm} {value}", f"a=setup:{setup}"]
    for p in pts:
        channels = f"/{p['channels']}" if p["channels"] > 1 else ""
        lines.append(f"a=rtpmap:{p['id']} {p['name']}/{p['clockrate']}{channels}")
        if p["parameters"]:
            fmtp = ";".join(f"{k}={v}" for k, v in p["parameters"].items())
            lines.append(f"a=fmtp:{p['id']} {fmtp}")
    lines += [f"a=candidate:{candidate_sdp(c)}" for c in usable_candidates(content)]
    return "\r\n".join(lines) + "\r\n"


def local_media(pc):
    """aiortc's local SDP -> what goes into our Jingle contents."""
    media = SessionDescription.parse(pc.localDescription.sdp).media[0]
    fingerprint = next(f for f in media.dtls.fingerprints if f.algorithm == "sha-256")
    candidates = [{"component": str(c.component), "foundation": c.foundation,
                   "generation": "0", "id": secrets.token_hex(5), "ip": c.ip,
                   "port": str(c.port), "priority": str(c.priority),
                   "protocol": c.protocol.lower(), "type": c.type, "network": "0",
                   **({"rel-addr": c.relatedAddress, "rel-port": str(c.relatedPort)}
                      if c.relatedAddress else {})}
                  for c in media.ice_candidates]
    setup = {"auto": "actpass", "client": "active", "server": "passive"}[media.dtls.role]
    return {"name": media.rtp.muxId or "0", "codecs": media.rtp.codecs,
            "ufrag": media.ice.usernameFragment, "pwd": media.ice.password,
            "fingerprint": fingerprint.value, "setup": setup, "candidates": candidates}


def content_element(local, candidates, description=True):
    # The one content is always the initiator's, whoever sends it.
    content = ET.Element(q(NS_JINGLE, "content"), creator="initiator", name=local["name"])
    if description:
        content.set("senders", "both")
        desc = ET.SubElement(content, q(NS_RTP, "description"), media="audio")
        for codec in local["codecs"]:
            name = codec.mimeType.split("/", 1)[1]
            pt = ET.SubElement(desc, q(NS_RTP, "payload-type"), id=str(codec.payloadType),
                               name=name, clockrate=str(codec.clockRate))
            if codec.channels:
                pt.set("channels", str(codec.channels))
            for key, value in (codec.parameters or {}).items():
                ET.SubElement(pt, q(NS_RTP, "parameter"), name=key, value=str(value))
        ET.SubElement(desc, q(NS_RTP, "rtcp-mux"))
    transport = ET.SubElement(content, q(NS_ICE, "transport"), ufrag=local["ufrag"],
                              pwd=local["pwd"])
    if description:
        fp = ET.SubElement(transport, q(NS_DTLS, "fingerprint"), hash="sha-256",
                           setup=local["setup"])
        fp.text = local["fingerprint"]
    for c in candidates:
        ET.SubElement(transport, q(NS_ICE, "candidate"), c)
    return content


def describe(content):
    pts = [f"{p['id']}:{p['name']}/{p['clockrate']}" + (f"/{p['channels']}"
           if p["channels"] > 1 else "") for p in content["payload_types"]]
    return {"candidates": len(content["candidates"]), "payload_types": pts,
            "types": sorted({c.get("type", "?") for c in content["candidates"]}),
            "setup": content["fingerprint"][2] if content["fingerprint"] else None,
            "rtcp_mux": content["rtcp_mux"]}


def reason_element(condition, text=None):
    reason = ET.Element(q(NS_JINGLE, "reason"))
    ET.SubElement(reason, q(NS_JINGLE, condition))
    if text:
        ET.SubElement(reason, q(NS_JINGLE, "text")).text = text
    return reason


def reason_of(parent):
    reason = parent.find(q(NS_JINGLE, "reason")) if parent is not None else None
    if reason is None:
        return None
    names = [c.tag.split("}")[-1] for c in reason if c.tag.split("}")[-1] != "text"]
    return names[0] if names else None


# ---- the peer -------------------------------------------------------------------------------
class Peer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.done = self.loop.create_future()
        self.sid = self.peer = self.pc = None
        self.answered = self.connected = False
        self.remote_set = False
        self.pending = []  # remote candidates that came before the remote description
        self.jingle_queue = asyncio.Queue()
        self.worker = None
        self.trickle = args.candidates == "trickle" and not args.no_trickle
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0115", {"caps_node": "https://dialtone.test/jingle_peer"})
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.finish(1, "authentication failed"))
        # slixmpp's "message" event needs a <body>; JMI messages have none.
        self.register_handler(Callback("jmi", MatchXPath(f"{{{self.default_ns}}}message"),
                                       self.on_message))
        self.register_handler(Callback("jingle", MatchXPath(
            f"{{{self.default_ns}}}iq/{{{NS_JINGLE}}}jingle"), self.on_jingle))

    def finish(self, code, error=None):
        if error:
            emit("error", message=error)
        if not self.done.done():
            self.done.set_result(code)

    async def on_start(self, _event):
        # Disco data is kept per JID, so it is added once the full JID is bound.
        disco = self.plugin["xep_0030"]
        await disco.add_identity("client", "phone", name="jingle_peer")
        for feature in FEATURES + ([NO_TRICKLE] if self.args.no_trickle else []):
            await disco.add_feature(feature)
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=str(self.boundjid))
        self.worker = asyncio.ensure_future(self.jingle_worker())
        if self.args.mode == "call":
            self.sid = secrets.token_hex(8)
            msg = self.jmi_message(self.args.to, "propose")
            ET.SubElement(msg.xml.find(q(NS_JMI, "propose")), q(NS_RTP, "description"),
                          media="audio")
            msg.append(ET.Element("{urn:xmpp:receipts}request"))
            msg.send()
            emit("proposed", to=self.args.to, sid=self.sid)
            if self.args.retract_after is not None:
                await asyncio.sleep(self.args.retract_after)
                self.jmi_message(self.args.to, "retract", "cancel").send()
                emit("retract")
                await asyncio.sleep(0.3)  # let the stanza leave before disconnecting
                self.finish(0)

    # -- XEP-0353 ---------------------------------------------------------------------------
    def jmi_message(self, to, action, reason=None):
        msg = self.make_message(mto=to, mtype="chat")
        msg["id"] = secrets.token_hex(6)
        element = ET.SubElement(msg.xml, q(NS_JMI, action), id=self.sid)
        if reason:
            element.append(reason_element(reason))
        ET.SubElement(msg.xml, "{urn:xmpp:hints}store")
        return msg

    def on_message(self, msg):
        sender = msg["from"]
        if sender.bare == self.boundjid.bare:
            return  # our own accept/reject copies
        if msg.xml.find("{urn:xmpp:delay}delay") is not None:
            return  # offline storage from an earlier call, not a live one
        for element in msg.xml:
            if not element.tag.startswith(f"{{{NS_JMI}}}"):
                continue
            action, sid = element.tag.split("}")[1], element.get("id")
            if action == "propose" and self.args.mode == "answer":
                self.on_propose(msg, sender, sid)
            elif sid != self.sid:
                continue
            elif action == "ringing":
                emit("ringing")
            elif action == "proceed" and self.args.mode == "call" and self.peer is None:
                if self.args.retract_after is not None:
                    emit("proceed", **{"from": str(sender), "ignored": True})
                    continue
                self.peer = sender
                emit("proceed", **{"from": str(sender)})
                asyncio.ensure_future(self.guard(self.start_call()))
            elif action == "reject":
                emit("reject", reason=reason_of(element))
                self.finish(0)
            elif action == "retract":
                emit("retract", reason=reason_of(element))
                if not self.answered:
                    emit("missed")
                self.finish(0)
            elif action == "finish":
                emit("finish", reason=reason_of(element))

    def on_propose(self, msg, sender, sid):
        if self.sid is not None:
            return  # one call per run
        self.sid, self.peer = sid, sender
        emit("propose", **{"from": str(sender), "sid": sid})
        if msg.xml.find("{urn:xmpp:receipts}request") is not None and msg["id"]:
            receipt = self.make_message(mto=sender)
            ET.SubElement(receipt.xml, "{urn:xmpp:receipts}received", id=msg["id"])
            receipt.send()
        self.jmi_message(sender, "ringing").send()
        if self.args.reject or self.args.busy:
            reason = "busy" if self.args.busy else "decline"
            self.jmi_message(self.boundjid.bare, "reject", reason).send()
            self.jmi_message(sender, "reject", reason).send()
            emit("rejected", reason=reason)
            self.loop.call_later(0.3, self.finish, 0)
        elif not self.args.ignore:
            self.loop.call_later(self.args.answer_delay, self.accept)

    def accept(self):
        if self.done.done():
            return
        self.answered = True
        self.jmi_message(self.boundjid.bare, "accept").send()
        self.jmi_message(self.peer, "proceed").send()
        emit("accepted", sid=self.sid)

    # -- XEP-0166 ---------------------------------------------------------------------------
    def on_jingle(self, iq):
        jingle = iq.xml.find(q(NS_JINGLE, "jingle"))
        if iq["type"] != "set":
            return
        action, sid = jingle.get("action"), jingle.get("sid")
        fresh = (action == "session-initiate" and self.args.mode == "answer"
                 and self.pc is None and sid == (self.sid or sid))
        if sid != self.sid and not fresh:
            error = iq.reply()
            error["type"] = "error"
            error["error"]["type"] = "cancel"
            error["error"]["condition"] = "item-not-found"
            error["error"].xml.append(ET.Element(q(NS_ERRORS, "unknown-session")))
            error.send()
            return
        iq.reply().send()  # every Jingle set is acknowledged at once
        self.jingle_queue.put_nowait((iq["from"], action, jingle))

    async def jingle_worker(self):
        # One at a time, in arrival order: a transport-info must not overtake the
        # session-initiate/accept whose remote description it needs.
        while True:
            sender, action, jingle = await self.jingle_queue.get()
            await self.guard(self.handle_jingle(sender, action, jingle))

    async def handle_jingle(self, sender, action, jingle):
        contents = [parse_content(c) for c in jingle.findall(q(NS_JINGLE, "content"))]
        if action == "session-initiate":
            self.sid, self.peer, self.answered = jingle.get("sid"), sender, True
            emit("session-initiate", **describe(contents[0]))
            await self.answer_call(contents[0])
        elif action == "session-accept":
            emit("session-accept", **describe(contents[0]))
            await self.apply_remote(contents[0], "answer")
        elif action == "transport-info":
            for content in contents:
                emit("transport-info", candidates=len(content["candidates"]),
                     components=sorted({int(c.get("component", 1))
                                        for c in content["candidates"]}),
                     types=sorted({c.get("type", "?") for c in content["candidates"]}))
                await self.add_candidates(content)
        elif action == "session-terminate":
            emit("terminated", reason=reason_of(jingle), by="peer")
            self.finish(0)

    async def apply_remote(self, content, kind):
        telephone = {p["id"]: p["clockrate"] for p in content["payload_types"]
                     if p["name"].lower() == "telephone-event"}
        if telephone:
            Rtp.dtmf_rx = telephone
            Rtp.dtmf_tx = next(iter(telephone.items()))
        if not any(p["name"].lower() == "opus" for p in content["payload_types"]):
            await self.hang_up("failed-application", "no Opus offered")
            return
        sdp = remote_sdp(content, remote_is_initiator=(kind == "offer"))
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        self.remote_set = True
        pending, self.pending = self.pending, []
        for content_ in pending:
            await self.add_candidates(content_)

    async def add_candidates(self, content):
        if not self.remote_set:
            self.pending.append(content)
            return
        for c in usable_candidates(content):
            candidate = candidate_from_sdp(candidate_sdp(c))
            candidate.sdpMid = content["name"]
            await self.pc.addIceCandidate(candidate)

    # -- media --------------------------------------------------------------------------------
    def make_pc(self):
        servers, policy = [], RTCIceTransportPolicy.ALL
        if self.args.turn:
            # TURN REST credentials: username "expiry:user", password HMAC-SHA1 of it.
            user = f"{int(time.time()) + 3600}:{self.boundjid.user}"
            password = base64.b64encode(hmac.new(self.args.turn_secret.encode(), user.encode(),
                                                 hashlib.sha1).digest()).decode()
            servers = [RTCIceServer(urls=f"turn:{self.args.turn}?transport=udp",
                                    username=user, credential=password)]
            policy = RTCIceTransportPolicy.RELAY
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers, iceTransportPolicy=policy))
        pc.addTrack(Tone(self.args.tone))
        pc.on("track", lambda track: asyncio.ensure_future(listen(track)))
        pc.on("iceconnectionstatechange", lambda: emit("ice", state=pc.iceConnectionState))
        pc.on("connectionstatechange", lambda: asyncio.ensure_future(
            self.guard(self.on_state(pc.connectionState))))
        return pc

    async def on_state(self, state):
        if state == "connected" and not self.connected:
            self.connected = True
            emit("connected")
            if self.args.send_dtmf:
                asyncio.ensure_future(self.guard(self.dtmf_soon()))
            if self.args.mode == "call":
                await asyncio.sleep(self.args.duration)
                await self.hang_up("success")
        elif state == "failed":
            await self.hang_up("connectivity-error", "ICE/DTLS failed")

    async def dtmf_soon(self):
        await asyncio.sleep(1)
        await send_dtmf(self.pc.getSenders()[0].transport, self.args.send_dtmf)

    async def start_call(self):
        self.pc = self.make_pc()
        await self.pc.setLocalDescription(await self.pc.createOffer())
        local = local_media(self.pc)
        await self.send_jingle("session-initiate", local,
                               [] if self.trickle else local["candidates"])
        if self.args.component2:
            await self.send_fake_component2(local)
        if self.trickle:
            await self.send_trickle(local)

    async def answer_call(self, offer):
        self.pc = self.make_pc()
        await self.apply_remote(offer, "offer")
        if self.done.done():
            return
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        local = local_media(self.pc)
        local["name"] = offer["name"]
        if self.args.component2:
            await self.send_fake_component2(local)
        await self.send_jingle("session-accept", local,
                               [] if self.trickle else local["candidates"])
        if self.trickle:
            await self.send_trickle(local)

    async def send_jingle(self, action, local=None, candidates=(), reason=None):
        iq = self.make_iq_set(ito=self.peer)
        jingle = ET.SubElement(iq.xml, q(NS_JINGLE, "jingle"), action=action, sid=self.sid)
        if action == "session-initiate":
            jingle.set("initiator", str(self.boundjid))
        elif action == "session-accept":
            jingle.set("responder", str(self.boundjid))
        if local is not None:
            jingle.append(content_element(local, candidates,
                                          description=action != "transport-info"))
        if reason:
            jingle.append(reason)
        await iq.send(timeout=10)

    async def send_trickle(self, local):
        for c in local["candidates"]:
            await self.send_jingle("transport-info", local, [c])

    async def send_fake_component2(self, local):
        # What a client without rtcp-mux would also send; the other side must ignore them.
        for c in local["candidates"]:
            fake = dict(c, component="2", id=secrets.token_hex(5), port=str(int(c["port"]) + 1),
                        priority=str(int(c["priority"]) - 1))
            await self.send_jingle("transport-info", local, [fake])

    async def hang_up(self, condition, error=None):
        if self.done.done():
            return
        await self.send_jingle("session-terminate", reason=reason_element(condition, error))
        if condition == "success":
            self.jmi_message(self.peer.bare, "finish", "success").send()
        emit("terminated", reason=condition, by="us")
        await asyncio.sleep(0.2)
        self.finish(0 if condition == "success" else 1, error)

    async def guard(self, coroutine):
        try:
            await coroutine
        except Exception as exc:  # report anything unexpected as an event, then stop
            self.finish(1, f"{type(exc).__name__}: {exc}")


def main():
    parser = argparse.ArgumentParser(description="Jingle audio call peer (slixmpp + aiortc)")
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, default=25222)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--tone", type=float, default=880)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--answer-delay", type=float, default=0.2)
    parser.add_argument("--reject", action="store_true")
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--ignore", action="store_true")
    parser.add_argument("--retract-after", type=float)
    parser.add_argument("--candidates", choices=["trickle", "initiate"], default="trickle")
    parser.add_argument("--component2", action="store_true")
    parser.add_argument("--no-trickle", action="store_true")
    parser.add_argument("--turn", metavar="HOST:PORT")
    parser.add_argument("--turn-secret", default="turn-secret")
    parser.add_argument("--send-dtmf", metavar="DIGITS", default="")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--verbose", action="store_true", help="log stanzas to stderr")
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("call").add_argument("to")
    sub.add_parser("answer")
    args = parser.parse_args()
    if any(d.upper() not in DTMF_DIGITS for d in args.send_dtmf):
        parser.error("--send-dtmf takes 0-9, *, #, A-D")

    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    peer = Peer(args)
    peer.ca_certs = args.ca_file
    peer.connect(host="127.0.0.1", port=args.port)  # loopback only

    async def run():
        try:
            code = await asyncio.wait_for(asyncio.shield(peer.done), args.timeout)
        except asyncio.TimeoutError:
            emit("error", message=f"timeout after {args.timeout} s")
            code = 1
            try:  # do not leave the other side ringing or in a call
                if peer.pc is not None and peer.peer is not None:
                    await peer.send_jingle("session-terminate", reason=reason_element("timeout"))
                elif args.mode == "call" and peer.sid is not None:
                    peer.jmi_message(args.to, "retract", "timeout").send()
            except Exception:
                pass
        if peer.worker is not None:
            peer.worker.cancel()
        if peer.pc is not None:
            await peer.pc.close()
        peer.disconnect()
        try:
            await asyncio.wait_for(peer.disconnected, 3)
        except asyncio.TimeoutError:
            pass
        # End what is still scheduled (slixmpp's filters, aiortc's senders) so nothing is
        # reported as "destroyed but pending" when the loop goes away.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=1) if tasks else None
        return code

    sys.exit(peer.loop.run_until_complete(run()))


if __name__ == "__main__":
    main()
