#!/usr/bin/env python3
"""An aioice peer for DialtoneICETests, on 127.0.0.1 (or --host, a test network's address).

Talks JSON lines. Out (stdout): {"ufrag","pwd"}, then {"candidate": sdp} one at a time,
{"end": true}, later {"connected": true}, {"received": hex} for each datagram and {"done": true}.
In (stdin): {"ufrag","pwd"}, {"candidate": sdp} one at a time, {"end": true}.
After connecting it sends --count datagrams that start with 0x80 (RTP's range, so that the
other side's RFC 7983 demultiplexer hands them to media) and waits for as many back.
"""
import argparse
import asyncio
import json
import sys

import aioice
import aioice.ice


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--role", choices=["controlling", "controlled"], required=True)
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--host", default="127.0.0.1",
                        help="the one host address (a test network's, inside its namespace)")
    parser.add_argument("--stun", metavar="HOST:PORT", help="a STUN server for a server-reflexive candidate")
    parser.add_argument("--turn", metavar="HOST:PORT", help="a TURN server; with it, relayed candidates only")
    parser.add_argument("--turn-username")
    parser.add_argument("--turn-password")
    args = parser.parse_args()

    # aioice leaves loopback out of its host candidates and would take every interface's;
    # the tests must use nothing but the address they give.
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [args.host]

    stun = None
    if args.stun:
        host, port = args.stun.rsplit(":", 1)
        stun = (host, int(port))
    turn = None
    if args.turn:
        host, port = args.turn.rsplit(":", 1)
        turn = (host, int(port))
    conn = aioice.Connection(ice_controlling=args.role == "controlling", components=1,
                             use_ipv4=True, use_ipv6=False, stun_server=stun, turn_server=turn,
                             turn_username=args.turn_username, turn_password=args.turn_password,
                             transport_policy=aioice.ice.TransportPolicy.RELAY if turn else aioice.ice.TransportPolicy.ALL)
    await conn.gather_candidates()
    emit({"ufrag": conn.local_username, "pwd": conn.local_password})
    for candidate in conn.local_candidates:
        emit({"candidate": "candidate:" + candidate.to_sdp()})
        await asyncio.sleep(0.05)
    emit({"end": True})

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    connect_task = None
    while True:
        line = await reader.readline()
        if not line:
            break
        message = json.loads(line)
        if "ufrag" in message:
            conn.remote_username = message["ufrag"]
            conn.remote_password = message["pwd"]
            connect_task = asyncio.ensure_future(conn.connect())
        elif "candidate" in message:
            sdp = message["candidate"]
            if sdp.startswith("candidate:"):
                sdp = sdp[len("candidate:"):]
            await conn.add_remote_candidate(aioice.Candidate.from_sdp(sdp))
        elif message.get("end"):
            await conn.add_remote_candidate(None)
            break

    await asyncio.wait_for(connect_task, 20)
    emit({"connected": True})
    for i in range(args.count):
        await conn.send(bytes([0x80, i]) + b"from-aioice")
    for _ in range(args.count):
        data = await asyncio.wait_for(conn.recv(), 20)
        emit({"received": data.hex()})
    await asyncio.sleep(0.2)
    await conn.close()
    emit({"done": True})


if __name__ == "__main__":
    asyncio.run(main())
