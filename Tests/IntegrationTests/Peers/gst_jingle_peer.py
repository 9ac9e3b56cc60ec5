#!/usr/bin/env python3
"""An independent Jingle audio call peer on GStreamer: webrtcbin with libnice (the ICE agent
Dino uses), its DTLS-SRTP (an RSA certificate by default), Opus from opusenc/rtpopuspay.

The XMPP side is jingle_call.py (shared with the aiortc peer, jingle_peer.py, whose options
and JSON events it takes and prints); the Jingle <-> SDP translation is
Scripts/peers/jingle_sdp.py. Run it with the venv's python:

  gst_jingle_peer.py --jid … --password … --port … --ca-file CA (call JID | answer) [options]
  --audio-before-connect            encode the tone from the start rather than from the
                                    moment the call connects (see GstPeer.build)
  gst_jingle_peer.py --check        exit 0 if GStreamer and every element used are there,
                                    else print {"event": "missing", "parts": […]} and exit 2

Besides jingle_peer.py's events it prints
  certificate{key,fingerprint_matches_sdp}   the DTLS certificate webrtcbin presents
  rtp-sent{steps}                            the RTP timestamp steps of the encoder's first packets
  dtmf{digit,volume}                         as rtpdtmfdepay reports them
  dtmf-sent{digit,start,end}                 start/end: seconds since our first Opus packet
and the usual duplicate-candidate, heard, connected, terminated.

What the glue does for webrtcbin (GStreamer 1.22), and why:
  - ICE on loopback only: libnice is given 127.0.0.1 as its one local address, no TCP
    candidates (XEP-0176 carries UDP), no STUN server; remote candidates that are not
    loopback addresses, or repeat an address, never reach libnice (it aborts on duplicates).
  - The fingerprint signalled is computed here from the certificate webrtcbin's DTLS element
    holds (DER, SHA-256), and compared with the one in its SDP: webrtcbin derives its own from
    the PEM it was given, which covers the key too when a certificate+key PEM is supplied.
  - telephone-event: webrtcbin puts in its SDP only what its sink pad's caps produce, and
    GStreamer's rtpdtmfmux mixes events into a stream only at that stream's clock rate
    (48 kHz for Opus) while Dialtone offers telephone-event/8000, as phone gateways expect.
    So the glue adds the negotiated telephone-event to webrtcbin's local description before
    setting it (webrtcbin then maps the payload type and hands received events to
    GStreamer's rtpdtmfdepay), and sends RFC 4733 the way rtpdtmfmux does (event packets take
    the place of audio packets, in the same SSRC and sequence) at the negotiated payload type
    and clock rate (gst_media.DtmfInserter).

Network: loopback only.
"""
import asyncio
import hashlib
import os
import re
import ssl
import sys

try:
    import gi
except ImportError:
    # Debian's python3-gi and python3-gst-1.0 live outside the venv (PyGObject from PyPI
    # would need a C build against GLib's headers); appended, so the venv's packages win.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        import gi
    except ImportError:
        gi = None

ELEMENTS = ["webrtcbin", "nicesrc", "nicesink", "dtlssrtpenc", "dtlssrtpdec", "srtpenc",
            "opusenc", "opusdec", "rtpopuspay", "rtpopusdepay", "rtpdtmfdepay", "audiotestsrc",
            "audioconvert", "audioresample", "appsink", "valve"]


def check():
    """The parts missing for this peer, by the Debian package that provides them."""
    if gi is None:
        version = ".".join(map(str, sys.version_info[:2]))
        return [f"python3-gi (Debian's gi module, importable by this Python {version})"]
    missing = []
    for name, version, package in [("Gst", "1.0", "gir1.2-gstreamer-1.0, python3-gst-1.0"),
                                   ("GstWebRTC", "1.0", "gir1.2-gst-plugins-bad-1.0"),
                                   ("GstSdp", "1.0", "gir1.2-gst-plugins-base-1.0"),
                                   ("GstRtp", "1.0", "gir1.2-gst-plugins-base-1.0"),
                                   ("Nice", "0.1", "gir1.2-nice-0.1")]:
        try:
            gi.require_version(name, version)
            __import__("gi.repository." + name)
        except (ValueError, ImportError):
            missing.append(f"{name} {version} ({package})")
    if missing:
        return missing
    from gi.repository import Gst
    Gst.init(None)
    return [f"GStreamer element {e} (gstreamer1.0-plugins-base/-good/-bad, gstreamer1.0-nice)"
            for e in ELEMENTS if Gst.ElementFactory.find(e) is None]


if __name__ == "__main__" and sys.argv[1:] == ["--check"]:
    parts = check()
    if parts:
        import json
        print(json.dumps({"event": "missing", "parts": parts}), flush=True)
    sys.exit(2 if parts else 0)

for _name, _version in [("Gst", "1.0"), ("GstWebRTC", "1.0"), ("GstSdp", "1.0"),
                        ("GstRtp", "1.0"), ("Nice", "0.1")]:
    gi.require_version(_name, _version)
from gi.repository import Gst, GstSdp, GstWebRTC, Nice  # noqa: E402

from jingle_call import CallPeer, argument_parser, emit, parse_arguments, run  # noqa: E402
from gst_media import DtmfInserter, ToneListener  # noqa: E402  (after jingle_call: its path)
from jingle_sdp import (DTMF_DIGITS, candidate_from_sdp, candidate_sdp, local_from_sdp,  # noqa: E402
                        remote_sdp)

Gst.init(None)

STATES = {GstWebRTC.WebRTCPeerConnectionState.CONNECTED: "connected",
          GstWebRTC.WebRTCPeerConnectionState.FAILED: "failed"}


class GstPeer(CallPeer):
    name = "gst_jingle_peer"

    def __init__(self, args):
        super().__init__(args)
        self.pipeline = self.webrtc = self.gate = None
        # PyGObject drops a reference it does not own on objects read from webrtcbin's
        # properties and signals (ice-agent, its NiceAgent, transceivers): held here until
        # the end, or webrtcbin uses freed memory.
        self.keep = []
        self.local_candidates = []
        self.gathered = asyncio.Event()
        self.telephone = None  # (payload type, clock rate) negotiated
        self.dtmf = None
        self.listener = ToneListener(lambda **heard: self.threadsafe(emit, "heard", **heard))
        self.bus_task = None

    def threadsafe(self, function, *args, **kwargs):
        """GStreamer calls back from its own threads; our state lives on the asyncio loop."""
        self.loop.call_soon_threadsafe(lambda: function(*args, **kwargs))

    # -- pipeline ---------------------------------------------------------------------------
    async def media_start(self):
        pass  # built once the payload types are known: ours, or the offer's

    def build(self, opus_pt):
        self.pipeline = Gst.Pipeline.new("call")
        webrtc = Gst.ElementFactory.make("webrtcbin", "webrtc")
        self.pipeline.add(webrtc)
        ice = webrtc.get_property("ice-agent")
        ice.set_property("ice-tcp", False)
        agent = ice.get_property("agent")
        loopback = Nice.Address.new()
        loopback.set_from_string("127.0.0.1")
        agent.add_local_address(loopback)
        self.keep += [ice, agent, loopback]
        # The valve holds the tone back until the call connects, so that the encoder's first
        # packets, the irregular timestamp step among them, are the first Dialtone receives
        # (sent before DTLS is up, webrtcbin would drop them). With --audio-before-connect
        # it is open from the start, as in an application that starts its pipeline with the
        # session: Dialtone then receives a stream that began before it could hear it.
        held = "false" if self.args.audio_before_connect else "true"
        source = Gst.parse_bin_from_description(
            f"audiotestsrc is-live=true wave=sine freq={self.args.tone} volume=0.25 ! "
            f"valve name=gate drop={held} ! audioconvert ! audioresample ! "
            "audio/x-raw,rate=48000,channels=1 ! "
            f"opusenc audio-type=voice ! rtpopuspay pt={opus_pt} name=pay", True)
        self.pipeline.add(source)
        self.gate = source.get_by_name("gate")
        sink = webrtc.request_pad_simple("sink_%u")
        source.get_static_pad("src").link(sink)
        transceiver = sink.get_property("transceiver")
        transceiver.set_property("codec-preferences", Gst.Caps.from_string(
            "application/x-rtp,media=audio,encoding-name=OPUS,clock-rate=48000,"
            f"encoding-params=(string)2,payload={opus_pt}"))
        self.keep += [sink, transceiver]
        self.dtmf = DtmfInserter(source.get_by_name("pay").get_static_pad("src"),
                                 on_first_steps=lambda steps: self.threadsafe(
                                     emit, "rtp-sent", steps=steps))
        webrtc.connect("on-ice-candidate", lambda _, _mline, line: self.threadsafe(
            self.on_local_candidate, line))
        webrtc.connect("notify::ice-gathering-state", lambda w, _: self.threadsafe(
            self.on_gathering, w.get_property("ice-gathering-state")))
        webrtc.connect("notify::ice-connection-state", lambda w, _: self.threadsafe(
            emit, "ice", state=w.get_property("ice-connection-state").value_nick))
        webrtc.connect("notify::connection-state", lambda w, _: self.threadsafe(
            self.on_connection, w.get_property("connection-state")))
        webrtc.connect("pad-added", self.on_pad)
        self.webrtc = webrtc
        self.pipeline.set_state(Gst.State.PLAYING)
        self.bus_task = asyncio.ensure_future(self.watch_bus())

    def on_local_candidate(self, line):
        candidate = candidate_from_sdp(line)
        if candidate is not None:
            self.local_candidates.append(candidate)

    def on_gathering(self, state):
        if state == GstWebRTC.WebRTCICEGatheringState.COMPLETE:
            self.gathered.set()

    def on_connection(self, state):
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            self.dtmf.connect()
            self.gate.set_property("drop", False)
        if state in STATES:
            self.media_state(STATES[state])

    def on_pad(self, _webrtc, pad):
        # Runs on a streaming thread: linking there is what GStreamer expects.
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        caps = pad.get_current_caps()
        encoding = caps.get_structure(0).get_string("encoding-name") if caps else None
        if encoding == "OPUS":
            branch = Gst.parse_bin_from_description(
                "queue ! rtpopusdepay ! opusdec ! audioconvert ! audioresample ! "
                "audio/x-raw,format=S16LE,rate=48000,channels=1 ! "
                "appsink name=ears emit-signals=true sync=false", True)
            branch.get_by_name("ears").connect("new-sample", self.listener.on_sample)
        elif encoding == "TELEPHONE-EVENT":
            branch = Gst.parse_bin_from_description("queue ! rtpdtmfdepay ! fakesink", True)
        else:
            branch = Gst.parse_bin_from_description("fakesink", True)
        self.pipeline.add(branch)
        branch.sync_state_with_parent()
        pad.link(branch.get_static_pad("sink"))

    async def watch_bus(self):
        bus = self.pipeline.get_bus()
        while True:
            message = bus.pop()
            if message is None:
                await asyncio.sleep(0.02)
                continue
            if message.type == Gst.MessageType.ERROR:
                error, debug = message.parse_error()
                emit("gst-error", message=error.message, debug=debug)
            elif message.type == Gst.MessageType.ELEMENT:
                s = message.get_structure()
                if s is not None and s.get_name() == "dtmf-event":
                    number = s.get_value("number")
                    digit = DTMF_DIGITS[number] if number < 16 else str(number)
                    emit("dtmf", digit=digit, volume=s.get_value("volume"))

    # -- offer / answer -----------------------------------------------------------------------
    async def promised(self, signal, *args, key=None):
        """Emits a webrtcbin action signal that takes a promise, and waits for its reply."""
        future = self.loop.create_future()

        def replied(promise, _data):
            reply = promise.get_reply()
            # A copy: the reply, and what get_value() points into, go with the promise.
            value = reply.get_value(key).copy() if key and reply is not None else None
            self.loop.call_soon_threadsafe(lambda: future.done() or future.set_result(value))

        promise = Gst.Promise.new_with_change_func(replied, None)
        self.webrtc.emit(signal, *args, promise)
        return await asyncio.wait_for(future, 10)

    async def set_remote(self, content, candidates, kind):
        sdp = remote_sdp(content, remote_is_initiator=(kind == "offer"), candidates=candidates)
        _, message = GstSdp.SDPMessage.new_from_text(sdp)
        sdp_type = GstWebRTC.WebRTCSDPType.OFFER if kind == "offer" else GstWebRTC.WebRTCSDPType.ANSWER
        await self.promised("set-remote-description",
                            GstWebRTC.WebRTCSessionDescription.new(sdp_type, message))

    async def set_local(self, key, telephone_events):
        created = await self.promised(f"create-{key}", None, key=key)
        sdp = with_payload_types(created.sdp.as_text(), telephone_events)
        _, message = GstSdp.SDPMessage.new_from_text(sdp)
        description = GstWebRTC.WebRTCSessionDescription.new(created.type, message)
        await self.promised("set-local-description", description)
        try:  # libnice on loopback gathers in milliseconds; bounded all the same
            await asyncio.wait_for(self.gathered.wait(), 5)
        except asyncio.TimeoutError:
            pass
        local = local_from_sdp(sdp)
        local["candidates"] = list(self.local_candidates)
        local["fingerprint"] = self.certificate_fingerprint(local["fingerprint"])
        return local

    def certificate_fingerprint(self, advertised):
        """SHA-256 of the DER certificate webrtcbin's DTLS element presents (see the top)."""
        iterator = self.webrtc.iterate_recurse()
        while True:
            result, element = iterator.next()
            if result != Gst.IteratorResult.OK:
                return advertised
            factory = element.get_factory()
            if factory is not None and factory.get_name() == "dtlssrtpdec":
                break
        pem = element.get_property("pem")
        block = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
        der = ssl.PEM_cert_to_DER_cert(block.group(0))
        fingerprint = ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())
        emit("certificate", key=key_kind(der),
             fingerprint_matches_sdp=(advertised or "").upper() == fingerprint)
        return fingerprint

    def negotiate_telephone_event(self, content):
        """telephone-event at 8 kHz if offered (Dialtone's and phone gateways' choice), else
        any rate: for the DTMF sender, and to add to our local description."""
        events = [p for p in content["payload_types"] if p["name"].lower() == "telephone-event"]
        chosen = next((p for p in events if p["clockrate"] == 8000), events[0] if events else None)
        if chosen is not None:
            self.telephone = (chosen["id"], chosen["clockrate"])
            self.dtmf.telephone = self.telephone
        return [dict(chosen, parameters={"events": "0-15"})] if chosen else []

    async def media_offer(self):
        self.build(111)
        event = {"id": 101, "name": "telephone-event", "clockrate": 8000, "channels": 1,
                 "parameters": {"events": "0-15"}}
        self.telephone = self.dtmf.telephone = (101, 8000)
        return await self.set_local("offer", [event])

    async def media_answer(self, offer, candidates):
        opus = next(p for p in offer["payload_types"] if p["name"].lower() == "opus")
        self.build(opus["id"])
        events = self.negotiate_telephone_event(offer)
        await self.set_remote(offer, candidates, "offer")
        return await self.set_local("answer", events)

    async def media_accept(self, answer, candidates):
        self.negotiate_telephone_event(answer)
        await self.set_remote(answer, candidates, "answer")

    async def media_candidates(self, content, candidates):
        for c in candidates:
            self.webrtc.emit("add-ice-candidate", 0, "candidate:" + candidate_sdp(c))

    async def media_dtmf(self, digits):
        if self.telephone is None:
            emit("error", message="no telephone-event negotiated")
            return
        for digit in digits:
            start, end = await self.dtmf.send(digit, self.loop)
            emit("dtmf-sent", digit=digit, start=start, end=end)

    async def media_close(self):
        if self.bus_task is not None:
            self.bus_task.cancel()
        if self.pipeline is not None:
            self.pipeline.set_state(Gst.State.NULL)


def with_payload_types(sdp, payload_types):
    """`sdp` with `payload_types` added to its audio section (the telephone-event webrtcbin
    leaves out: see the top). webrtcbin maps received payload types from its local
    description, so without this it would drop every telephone-event packet."""
    lines = sdp.replace("\r\n", "\n").rstrip("\n").split("\n")
    out = []
    for line in lines:
        if line.startswith("m=audio "):
            line += "".join(f" {p['id']}" for p in payload_types)
        out.append(line)
        if line.startswith("m=audio "):
            for p in payload_types:
                out.append(f"a=rtpmap:{p['id']} {p['name']}/{p['clockrate']}")
                if p["parameters"]:
                    out.append(f"a=fmtp:{p['id']} " + ";".join(
                        f"{k}={v}" if v else k for k, v in p["parameters"].items()))
    return "\r\n".join(out) + "\r\n"


def key_kind(der):
    """"RSA 2048", "EC secp256r1", … of a DER certificate, through the venv's cryptography."""
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
    except ImportError:
        return "unknown"
    key = x509.load_der_x509_certificate(der).public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}"
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC {key.curve.name}"
    return type(key).__name__


def main():
    parser = argument_parser("Jingle audio call peer (slixmpp + GStreamer webrtcbin/libnice)")
    parser.add_argument("--audio-before-connect", action="store_true",
                        help="encode from the start, not only once the call has connected")
    args = parse_arguments(parser)
    code = run(GstPeer(args))
    # Python's teardown would release the objects PyGObject mis-counts (see GstPeer.keep)
    # after GStreamer is gone and crash; everything is flushed and closed by now.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    main()
