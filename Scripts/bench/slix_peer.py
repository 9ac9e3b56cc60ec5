#!/usr/bin/env python3
"""slixmpp peers for Scripts/bench-burst (run with the venv's python, $DIALTONE_PYTHON).

  slix_peer.py receive JID PASSWORD PORT CAFILE COUNT
      logs in, sends presence, prints "ready" and then counts chat messages whose body carries
      a burst sequence number; when COUNT have arrived prints
      "done <wall time> <messages> <distinct>", and stays until stdin closes or 600 s pass.
      No plugins: it sends no receipts, it only counts.

  slix_peer.py send JID PASSWORD PORT CAFILE TO COUNT
      sends COUNT chat messages like burst_sender.py's, built as slixmpp stanza objects and sent
      through its send queue, and prints the sender's rate as JSON (is slixmpp fast enough to
      be the sender?).

Loopback only: the address is fixed to 127.0.0.1.
"""

import asyncio
import json
import os
import random
import re
import sys
import time

import slixmpp
from slixmpp.xmlstream import ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import burst_sender  # noqa: E402

SEQ = re.compile(r"burst#(\d{6})")


def connect(client, port, cafile):
    client.ca_certs = cafile
    client.connect(host="127.0.0.1", port=port)


class Counter(slixmpp.ClientXMPP):
    def __init__(self, jid, password, expected):
        super().__init__(jid, password)
        self.expected = expected
        self.seqs = []
        self.reported = False
        self.add_event_handler("session_start", self.start)
        self.add_event_handler("message", self.on_message)

    async def start(self, _event):
        self.send_presence()
        # The roster is not needed; one round trip makes sure presence reached the server.
        await self.get_roster()
        print("ready", flush=True)

    def on_message(self, msg):
        if msg["type"] not in ("chat", "normal"):
            return
        m = SEQ.match(msg["body"])
        if not m:
            return
        self.seqs.append(int(m.group(1)))
        if len(self.seqs) >= self.expected and not self.reported:
            self.reported = True
            print(f"done {time.time():.6f} {len(self.seqs)} {len(set(self.seqs))}", flush=True)


class Sender(slixmpp.ClientXMPP):
    def __init__(self, jid, password, to, count):
        super().__init__(jid, password)
        self.to, self.count = to, count
        self.result = None
        self.add_event_handler("session_start", self.start)

    async def start(self, _event):
        # slixmpp's ordinary path: stanza objects, the send queue, its filters.
        rng = random.Random(1)
        t0 = time.time()
        for seq in range(self.count):
            sid = f"s-{seq:06d}-{rng.getrandbits(48):012x}"
            msg = self.make_message(mto=self.to, mbody=burst_sender.body_text(seq, rng), mtype="chat")
            msg["id"] = sid
            msg["lang"] = "en"
            msg.append(ET.fromstring("<request xmlns='urn:xmpp:receipts'/>"))
            msg.append(ET.fromstring(f"<origin-id xmlns='urn:xmpp:sid:0' id='{sid}'/>"))
            msg.send()
        t_queued = time.time()
        # Wait until the send queue has gone through the filters to the socket.
        await asyncio.wait_for(self.waiting_queue.join(), 300)
        deadline = time.monotonic() + 60
        while self.transport and self.transport.get_write_buffer_size() > 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        t_written = time.time()
        self.result = {
            "slixmpp_build_s": round(t_queued - t0, 3), "slixmpp_send_s": round(t_written - t0, 3),
            "slixmpp_sender_rate": round(self.count / max(t_written - t0, 1e-9)),
        }
        print(json.dumps(self.result), flush=True)
        self.disconnect()


def main():
    mode = sys.argv[1]
    if mode == "receive":
        jid, password, port, cafile, count = sys.argv[2:7]
        client = Counter(jid, password, int(count))
        connect(client, int(port), cafile)

        async def until_stdin_closes():
            loop = asyncio.get_running_loop()
            deadline = time.monotonic() + 600
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
            while time.monotonic() < deadline:
                try:
                    line = await asyncio.wait_for(reader.readline(), 1)
                except asyncio.TimeoutError:
                    continue
                if not line:
                    break
                if line.strip() == b"report":
                    print(f"count {len(client.seqs)} {len(set(client.seqs))}", flush=True)

        client.loop.run_until_complete(until_stdin_closes())
        client.disconnect()
    elif mode == "send":
        jid, password, port, cafile, to, count = sys.argv[2:8]
        client = Sender(jid, password, to, int(count))
        connect(client, int(port), cafile)
        client.loop.run_until_complete(client.disconnected)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
