#!/usr/bin/env python3
"""A raw XMPP client for Scripts/bench-burst: just enough of RFC 6120 to log in and
blast chat messages as fast as the server reads them, or to count what arrives.

STARTTLS with Python's ssl module against the test CA, SASL PLAIN over TLS, resource
binding, then stanzas written in large batches. Everything goes to 127.0.0.1 only.

As a program:
  burst_sender.py send --port P --domain D --user alice-1 --password pw --cafile ca.pem \
      --to bob-1@D --count 10000
prints one JSON line: when the first stanza was written, when the last one was taken by
the kernel, the sender's own rate, and when the server had handled them all (its answer to a
ping written after the last message). The bench imports it for the same work.
"""

import argparse
import asyncio
import base64
import json
import random
import re
import ssl
import sys
import time

STREAM_NS = "http://etherx.jabber.org/streams"
LOOPBACK = "127.0.0.1"

# Body text for realistic messages: sentences of chat-like length. Each body starts with a
# marker and a sequence number, then is filled to a length between 100 and 200 characters.
WORDS = (
    "sure thing see you at the station around seven if the train is on time otherwise I will "
    "text you from the platform did you get the photos from saturday they came out better than "
    "I expected the one by the lake is my favourite can you send me the address again I lost it "
    "somewhere in this thread also bring the charger please mine died halfway through the day "
    "haha yes exactly that is what I said to her too anyway let me know when you are free"
).split()
MARKER = "burst#"
SEQ_RE = re.compile(rb"burst#(\d{6})")
SEQ_RE_STR = re.compile(r"burst#(\d{6})")


def body_text(seq, rng):
    """A 100–200 character body that carries its sequence number."""
    target = rng.randint(100, 200)
    text = f"{MARKER}{seq:06d} "
    while len(text) < target:
        text += rng.choice(WORDS) + " "
    return text[:target].rstrip() + "."


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&apos;")


def chat_stanzas(to, count, run_tag, seed=1):
    """`count` chat messages as Conversations or Dino send them: type chat, an id, xml:lang,
    a body, a receipt request (XEP-0184) and an origin-id (XEP-0359) equal to the id."""
    rng = random.Random(seed)
    out = []
    for seq in range(count):
        sid = f"{run_tag}-{seq:06d}-{rng.getrandbits(48):012x}"
        out.append(
            f"<message to='{to}' type='chat' id='{sid}' xml:lang='en'>"
            f"<body>{xml_escape(body_text(seq, rng))}</body>"
            f"<request xmlns='urn:xmpp:receipts'/>"
            f"<origin-id xmlns='urn:xmpp:sid:0' id='{sid}'/></message>".encode()
        )
    return out


def batches(stanzas, size=64 * 1024):
    """Joins stanzas into writes of about `size` bytes."""
    out, current, length = [], [], 0
    for s in stanzas:
        current.append(s)
        length += len(s)
        if length >= size:
            out.append(b"".join(current))
            current, length = [], 0
    if current:
        out.append(b"".join(current))
    return out


class XMPPError(Exception):
    pass


class RawClient:
    """One logged-in, bound c2s stream over asyncio streams."""

    def __init__(self, reader, writer, jid):
        self.reader, self.writer, self.jid = reader, writer, jid

    @staticmethod
    async def _read_until(reader, buffer, pattern, timeout=20.0):
        """Reads until `pattern` (bytes regex) matches; returns (match, rest of buffer)."""
        regex = re.compile(pattern, re.S)
        deadline = time.monotonic() + timeout
        while True:
            m = regex.search(buffer)
            if m:
                return m, buffer[m.end():]
            if re.search(rb"<(stream:)?error|<failure", buffer):
                raise XMPPError(f"server refused: {buffer[-600:]!r}")
            left = deadline - time.monotonic()
            if left <= 0:
                raise XMPPError(f"timed out waiting for {pattern!r}; have {buffer[-400:]!r}")
            chunk = await asyncio.wait_for(reader.read(65536), left)
            if not chunk:
                raise XMPPError(f"connection closed waiting for {pattern!r}; have {buffer[-400:]!r}")
            buffer += chunk

    @classmethod
    async def connect(cls, port, domain, user, password, cafile, resource="burst", host=LOOPBACK):
        if host != LOOPBACK:
            raise XMPPError("loopback only")
        reader, writer = await asyncio.open_connection(host, port)
        header = (
            f"<?xml version='1.0'?><stream:stream to='{domain}' xmlns='jabber:client' "
            f"xmlns:stream='{STREAM_NS}' version='1.0' xml:lang='en'>"
        ).encode()
        writer.write(header)
        m, buf = await cls._read_until(reader, b"", rb"</stream:features>")
        if b"urn:ietf:params:xml:ns:xmpp-tls" not in m.string:
            raise XMPPError("server offers no STARTTLS")
        writer.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        _, buf = await cls._read_until(reader, buf, rb"<proceed[^>]*/>")
        context = ssl.create_default_context(cafile=cafile)
        await writer.start_tls(context, server_hostname=domain)
        writer.write(header)
        m, buf = await cls._read_until(reader, b"", rb"</stream:features>")
        if b"<mechanism>PLAIN</mechanism>" not in m.string:
            raise XMPPError("server offers no SASL PLAIN over TLS")
        token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        writer.write(f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>{token}</auth>".encode())
        _, buf = await cls._read_until(reader, buf, rb"<success[^>]*(/>|</success>)")
        writer.write(header)
        _, buf = await cls._read_until(reader, b"", rb"</stream:features>")
        writer.write(
            f"<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'>"
            f"<resource>{resource}</resource></bind></iq>".encode()
        )
        m, buf = await cls._read_until(reader, buf, rb"<jid>([^<]+)</jid>.*?</iq>")
        return cls(reader, writer, m.group(1).decode())

    async def close(self):
        try:
            self.writer.write(b"</stream:stream>")
            await asyncio.wait_for(self.writer.drain(), 5)
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 5)
        except Exception:
            pass


async def drain_incoming(reader, stop, marks=None):
    """Reads and drops what the server sends us (receipts, errors) so its buffers never fill.
    `marks` maps a byte string to look for (an iq id) to an asyncio.Event, set with the
    wall time (event.t) when it shows up. Returns the number of bytes and error stanzas seen."""
    total, errors, tail = 0, 0, b""
    marks = marks or {}
    while not stop.is_set():
        try:
            chunk = await asyncio.wait_for(reader.read(262144), 0.2)
        except asyncio.TimeoutError:
            continue
        except Exception:
            break
        if not chunk:
            break
        now = time.time()
        total += len(chunk)
        data = tail + chunk
        errors += data.count(b"type='error'") + data.count(b'type="error"')
        for needle, event in marks.items():
            if not event.is_set() and needle in data:
                event.t = now
                event.set()
        tail = data[-64:]
    return total, errors


async def blast(client, payload):
    """Writes the prepared batches as fast as the socket takes them, then a ping: the server
    answers it only after it has handled every message before it. Returns the wall-clock
    (time.time()) of the first write and of the moment the last byte was taken by the kernel."""
    t_first = time.time()
    for chunk in payload:
        client.writer.write(chunk)
        await client.writer.drain()
    client.writer.write(b"<iq type='get' id='burst-end'><ping xmlns='urn:xmpp:ping'/></iq>")
    await client.writer.drain()
    t_written = time.time()
    return t_first, t_written


async def send_burst(port, domain, user, password, cafile, to, count, run_tag, on_ready=None):
    """Logs in as `user`, writes `count` chat messages to `to`, and returns timings.
    `on_ready` (a callable) runs after login, just before the first write: the bench takes
    the receiver's CPU reading there. The stream stays open (and drained) until
    finish_sender(): closing it early would make the server drop what it has not read yet.
    The returned `server_took` event is set (with .t, the wall time) when the server has
    answered the ping written after the last message, i.e. has routed all of them."""
    stanzas = chat_stanzas(to, count, run_tag)
    sizes = [len(s) for s in stanzas]
    payload = batches(stanzas)
    client = await RawClient.connect(port, domain, user, password, cafile)
    stop = asyncio.Event()
    server_took = asyncio.Event()
    drainer = asyncio.create_task(drain_incoming(client.reader, stop, {b"burst-end": server_took}))
    if on_ready:
        on_ready()
    t_first, t_written = await blast(client, payload)
    return client, stop, drainer, server_took, {
        "t_first": t_first, "t_written": t_written, "count": count,
        "bytes": sum(sizes), "mean_stanza_bytes": round(sum(sizes) / count, 1),
        "min_stanza_bytes": min(sizes), "max_stanza_bytes": max(sizes),
        "sender_rate": round(count / max(t_written - t_first, 1e-9)),
    }


async def finish_sender(client, stop, drainer):
    stop.set()
    received, errors = await drainer
    await client.close()
    return {"sender_received_bytes": received, "sender_error_stanzas": errors}


MESSAGE_RE = re.compile(rb"<message\b([^>]*)>(.*?)</message>", re.S)
ATTR_RE = {name: re.compile(rb"\b" + name + rb"=(['\"])(.*?)\1") for name in (b"from", b"id", b"type")}


def attribute(attrs, name):
    m = ATTR_RE[name].search(attrs)
    return m.group(2) if m else None


class RawCounter:
    """A receiver that only counts: after presence it scans the decrypted stream for the
    sequence numbers of message bodies. The floor under any client.

    With receipts=True it also answers each receipt request as XEP-0184 says a client must
    (and as Dialtone and Profanity do): a message back to the sender with <received/> and a
    <store/> hint, written in the same batch as the read that brought the requests. That is
    the floor for a client that honours receipts: the server then routes and archives twice
    as many messages."""

    def __init__(self, client, expected, receipts=False):
        self.client, self.expected, self.receipts = client, expected, receipts
        self.seqs = []
        self.done = asyncio.Event()
        self.t_done = None
        self.receipts_sent = 0

    async def run(self, stop):
        await self.client.writer.drain()
        tail = b""
        while not stop.is_set():
            try:
                chunk = await asyncio.wait_for(self.client.reader.read(262144), 0.2)
            except asyncio.TimeoutError:
                continue
            if not chunk:
                break
            data = tail + chunk
            if self.receipts:
                # Whole message stanzas only; keep an unfinished one for the next read.
                replies, last_end = [], 0
                for m in MESSAGE_RE.finditer(data):
                    last_end = m.end()
                    seq = SEQ_RE.search(m.group(2))
                    if not seq:
                        continue
                    self.seqs.append(int(seq.group(1)))
                    if b"urn:xmpp:receipts" in m.group(2) and b"<request" in m.group(2):
                        sender, sid = attribute(m.group(1), b"from"), attribute(m.group(1), b"id")
                        if sender and sid:
                            self.receipts_sent += 1
                            replies.append(
                                b"<message to='" + sender + b"' id='rcpt-" + str(self.receipts_sent).encode()
                                + b"' type='chat'><received xmlns='urn:xmpp:receipts' id='" + sid
                                + b"'/><store xmlns='urn:xmpp:hints'/></message>")
                if replies:
                    self.client.writer.write(b"".join(replies))
                tail = data[last_end:]
            else:
                # A marker may straddle two reads: keep the bytes after the last complete match.
                last_end = 0
                for m in SEQ_RE.finditer(data):
                    self.seqs.append(int(m.group(1)))
                    last_end = m.end()
                tail = data[max(last_end, len(data) - 16):]
            if len(self.seqs) >= self.expected and not self.done.is_set():
                self.t_done = time.time()
                self.done.set()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send", help="log in and send a burst; print timings as JSON")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--domain", required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--cafile", required=True)
    s.add_argument("--to", required=True)
    s.add_argument("--count", type=int, default=10000)
    s.add_argument("--tag", default="b")
    a = p.parse_args()

    async def go():
        client, stop, drainer, server_took, timing = await send_burst(
            a.port, a.domain, a.user, a.password, a.cafile, a.to, a.count, a.tag)
        try:
            await asyncio.wait_for(server_took.wait(), 600)
            timing["server_took_s"] = round(server_took.t - timing["t_first"], 3)
        except asyncio.TimeoutError:
            timing["server_took_s"] = None
        timing.update(await finish_sender(client, stop, drainer))
        print(json.dumps(timing))

    asyncio.run(go())


if __name__ == "__main__":
    sys.exit(main())
