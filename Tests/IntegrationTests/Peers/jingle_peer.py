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
  --dtmf-delay S         … or S s after connecting
  --codec opus|pcmu|pcma the one audio codec offered and accepted (default opus)
  --timeout S            give up after S s (default 60; exit 1, retract or terminate first)
  --nomination-attribute when ICE-controlling (the caller), nominate as libwebrtc's
                         renomination does: checks carry STUN NOMINATION (0xC001, uint32 1)
                         instead of USE-CANDIDATE; when controlled, a check carrying it counts
                         as a nomination (an unpatched aioice ignores it)
  --verbose              slixmpp debug log, every stanza, on stderr

Output: one JSON object per line on stdout, "event" plus fields:
  ready{jid} proposed{to,sid} propose{from,sid} ringing proceed{from[,ignored]}
  accepted{sid} rejected{reason} reject{reason} retract[{reason}] missed
  session-initiate / session-accept{candidates,payload_types,types,setup,rtcp_mux}
  transport-info{candidates,components,types} ice{state} connected
  heard{frequency,ratio} dtmf{digit,duration,duration_ms,volume} dtmf-sent{digit}
  finish{reason} terminated{reason,by:us|peer} error{message}
  duplicate-candidate{ip,port,component,type,first_type}  (a remote candidate repeating a
                         transport address already signalled: dropped, and reported)
Exit 0 when the call flow ended normally (including reject, retract and missed).

The XMPP side (JMI, Jingle, the options above) lives in jingle_call.py, shared with the
GStreamer peer (gst_jingle_peer.py); the media side in Scripts/peers/jingle_media.py, shared
with the simulated gateway.

Network: loopback only. aioice is patched to offer only a 127.0.0.1 host candidate, there
are no STUN servers, mDNS is switched off, and remote candidates that are not loopback
addresses are dropped.
"""
import asyncio
import base64
import hashlib
import hmac
import os
import sys
import time

from aiortc import (RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription)
from aiortc.rtcconfiguration import RTCIceTransportPolicy
from aiortc.sdp import candidate_from_sdp

from jingle_call import CallPeer, argument_parser, emit, parse_arguments, run

# The media side (loopback-only ICE, RFC 4733, tones) is shared with the simulated phone
# gateway: Scripts/peers/jingle_media.py in this repository.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "Scripts", "peers"))
import jingle_media  # noqa: E402
from jingle_media import RtpStream, Tone, candidate_sdp, listen, local_media, remote_sdp  # noqa: E402

jingle_media.install()


class AiortcPeer(CallPeer):
    name = "jingle_peer"

    def __init__(self, args):
        super().__init__(args)
        self.pc = None
        self.rtp = RtpStream(on_dtmf=lambda **event: emit("dtmf", **event))

    async def media_start(self):
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
        self.rtp.attach(pc)
        pc.on("track", lambda track: asyncio.ensure_future(
            listen(track, lambda **heard: emit("heard", **heard))))
        pc.on("iceconnectionstatechange", lambda: emit("ice", state=pc.iceConnectionState))
        pc.on("connectionstatechange", lambda: self.media_state(pc.connectionState))
        self.pc = pc

    async def set_remote(self, content, candidates, kind):
        self.rtp.negotiated(content)
        sdp = remote_sdp(content, remote_is_initiator=(kind == "offer"), candidates=candidates)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type=kind))
        self.rtp.attach(self.pc)

    async def media_offer(self):
        await self.pc.setLocalDescription(await self.pc.createOffer())
        self.rtp.attach(self.pc)
        return local_media(self.pc)

    async def media_answer(self, offer, candidates):
        await self.set_remote(offer, candidates, "offer")
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self.rtp.attach(self.pc)
        return local_media(self.pc)

    async def media_accept(self, answer, candidates):
        await self.set_remote(answer, candidates, "answer")

    async def media_candidates(self, content, candidates):
        for c in candidates:
            candidate = candidate_from_sdp(candidate_sdp(c))
            candidate.sdpMid = content["name"]
            await self.pc.addIceCandidate(candidate)

    async def media_dtmf(self, digits):
        await self.rtp.send_dtmf(self.pc.getSenders()[0].transport, digits,
                                 lambda digit: emit("dtmf-sent", digit=digit))

    async def media_close(self):
        if self.pc is not None:
            await self.pc.close()


def main():
    parser = argument_parser("Jingle audio call peer (slixmpp + aiortc)")
    parser.add_argument("--turn", metavar="HOST:PORT")
    parser.add_argument("--turn-secret", default="turn-secret")
    parser.add_argument("--nomination-attribute", action="store_true",
                        help="nominate with STUN NOMINATION (0xC001) instead of USE-CANDIDATE")
    parser.add_argument("--codec", choices=["opus", "pcmu", "pcma"], default="opus",
                        help="the one audio codec offered and accepted (G.711 as a gateway without Opus)")
    args = parse_arguments(parser)
    jingle_media.set_codec(args.codec)
    if args.nomination_attribute:
        jingle_media.use_nomination_attribute(1)
    sys.exit(run(AiortcPeer(args)))


if __name__ == "__main__":
    main()
