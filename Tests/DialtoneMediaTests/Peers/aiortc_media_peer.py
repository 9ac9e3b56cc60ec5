"""An aiortc endpoint for DialtoneMedia's interop test: DTLS-SRTP, Opus over RTP/SRTP.

usage: aiortc_media_peer.py SWIFT_PORT SWIFT_SHA256_FINGERPRINT

Prints "READY <udp port> <sha-256 fingerprint>", then acts as the DTLS server (passive),
sends an 880 Hz tone as Opus, listens for 3 s of the peer's audio and prints
"HEARD <strongest of the probe frequencies> <its power over the runner-up>". There is no
ICE: a small stand-in gives aiortc's DTLS transport the UDP socket it would otherwise get
from aioice.
"""
import asyncio
import math
import struct
import sys

from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtcdtlstransport import (RTCCertificate, RTCDtlsFingerprint, RTCDtlsParameters,
                                     RTCDtlsTransport)
from aiortc.rtcrtpparameters import (RTCRtcpParameters, RTCRtpCodecParameters,
                                     RTCRtpReceiveParameters, RTCRtpSendParameters)
from aiortc.rtcrtpreceiver import RemoteStreamTrack, RTCRtpReceiver
from aiortc.rtcrtpsender import RTCRtpSender

PROBES = [300, 440, 660, 880, 1200]


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue):
        self.queue = queue

    def datagram_received(self, data, addr):
        self.queue.put_nowait(data)


class UdpInsteadOfIce:
    """What RTCDtlsTransport uses of an RTCIceTransport: role, _send and _recv."""

    role = "controlling"  # aiortc then takes the DTLS server role
    state = "completed"

    def __init__(self, transport, queue, peer):
        self.transport, self.queue, self.peer = transport, queue, peer

    async def _recv(self):
        return await self.queue.get()

    async def _send(self, data):
        self.transport.sendto(data, self.peer)


class Tone(AudioStreamTrack):
    async def recv(self):
        frame = await super().recv()  # silence, paced in real time
        start = frame.pts
        rate = frame.sample_rate  # aiortc's track runs at 8 kHz; its encoder resamples
        samples = [int(8000 * math.sin(2 * math.pi * 880 * (start + i) / rate)) for i in range(frame.samples)]
        frame.planes[0].update(struct.pack(f"<{len(samples)}h", *samples))
        return frame


def power(samples, frequency, rate=48000):
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


async def main():
    swift_port, swift_fingerprint = int(sys.argv[1]), sys.argv[2]
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()
    transport, _ = await loop.create_datagram_endpoint(lambda: Datagrams(queue), local_addr=("127.0.0.1", 0))
    ice = UdpInsteadOfIce(transport, queue, ("127.0.0.1", swift_port))
    certificate = RTCCertificate.generateCertificate()
    fingerprint = [f for f in certificate.getFingerprints() if f.algorithm == "sha-256"][0].value
    print(f"READY {transport.get_extra_info('sockname')[1]} {fingerprint}", flush=True)

    dtls = RTCDtlsTransport(ice, [certificate])
    await asyncio.wait_for(dtls.start(RTCDtlsParameters(fingerprints=[RTCDtlsFingerprint("sha-256", swift_fingerprint)])), 15)
    print(f"DTLS {dtls.state}", flush=True)

    opus = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
    receiver = RTCRtpReceiver("audio", dtls)
    receiver._track = RemoteStreamTrack(kind="audio")  # what RTCPeerConnection would attach
    await receiver.receive(RTCRtpReceiveParameters(codecs=[opus]))
    sender = RTCRtpSender(Tone(), dtls)
    await sender.send(RTCRtpSendParameters(codecs=[opus], rtcp=RTCRtcpParameters(cname="aiortc")))

    heard = []
    frames = 0
    while frames < 200:
        frame = await asyncio.wait_for(receiver.track.recv(), 10)
        frames += 1
        if frames <= 50:
            continue  # start-up
        data = bytes(frame.planes[0])[: frame.samples * 2 * len(frame.layout.channels)]
        values = struct.unpack(f"<{len(data) // 2}h", data)
        heard.extend(values[:: len(frame.layout.channels)])  # first channel
    powers = sorted(((power(heard, f), f) for f in PROBES), reverse=True)
    print(f"HEARD {powers[0][1]} {powers[0][0] / max(powers[1][0], 1e-9):.1f}", flush=True)
    await sender.stop()
    await receiver.stop()
    await dtls.stop()


asyncio.run(main())
