#!/usr/bin/env python3
"""A busy group chat for Scripts/bench-room: one room with OCCUPANTS occupants and an archive of
ARCHIVE messages, played by an XEP-0114 component of the bench's Prosody (fakerooms.DOMAIN),
so that its size costs the clients what a real one would and the room itself costs nothing.

  big_room.py --domain fakerooms.dialtone.test --secret S --port 26447 [--room bench]
              [--occupants 1000] [--archive 5000]

What it does as the room (XEP-0045, XEP-0313 on the room's address, XEP-0359 ids):
  * a join (presence to room/nick) gets every occupant's presence, then the joiner's own
    (status 110), then the discussion history the join asks for (the last 20 when it does not
    say, none with maxstanzas='0'), then the subject;
  * archive queries are answered by RSM page (max, before, after), oldest first in a page, or
    newest first when the query asks with flip-page (as Prosody's mod_muc_mam does; its room
    advertises urn:xmpp:mam:2#extended);
  * disco#info names it a conference with MAM; a self-ping (XEP-0410) of a joined nick is
    answered; a groupchat message from the joiner comes back with the room's stanza-id;
  * "burst N" on standard input sends N groupchat messages (about 200 bytes of body each,
    "roomburst#I …") from the occupants to everyone joined, as fast as the socket takes them.

Output: JSON lines on stdout: ready, joined{jid,nick,history,t}, archive{count,t}, burst{count,
t_first,t_written}, left{jid}. Network: 127.0.0.1 only.
"""

import argparse
import asyncio
import hashlib
import json
import sys
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from xml.sax.saxutils import escape, quoteattr

MUC = "http://jabber.org/protocol/muc"
MUC_USER = MUC + "#user"
MAM = "urn:xmpp:mam:2"
RSM = "http://jabber.org/protocol/rsm"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
PING = "urn:xmpp:ping"
WORDS = ("tea", "kettle", "biscuit", "saturday", "walk", "river", "book", "train", "garden", "rain", "music",
         "lunch", "coffee", "bread", "market", "bicycle", "letter", "window", "evening", "story")


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


def text(i, length):
    """A message body of about `length` characters that differs from message to message."""
    words, k = [], i
    while sum(len(w) + 1 for w in words) < length:
        words.append(WORDS[k % len(WORDS)])
        k = k * 7 + 3
    return " ".join(words)


class Room:
    def __init__(self, args):
        self.args = args
        self.jid = f"{args.room}@{args.domain}"
        self.nicks = [f"user{i:04d}" for i in range(args.occupants)]
        self.joined = {}  # full JID -> nick
        start = datetime.now(timezone.utc) - timedelta(seconds=args.archive * 30 + 3600)
        self.archive = [(f"a{i:06d}", self.nicks[i % len(self.nicks)], f"history#{i} {text(i, 120)}",
                         (start + timedelta(seconds=30 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"))
                        for i in range(args.archive)]
        self.index = {entry[0]: n for n, entry in enumerate(self.archive)}
        self.occupant_presences = "".join(
            f"<presence from='{self.jid}/{nick}' to='%(to)s'><x xmlns='{MUC_USER}'>"
            f"<item affiliation='none' role='participant'/></x></presence>" for nick in self.nicks)
        self.counter = 0

    async def run(self):
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.args.port)
        self.write(f"<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' "
                   f"xmlns:stream='http://etherx.jabber.org/streams' to='{self.args.domain}'>")
        parser = ET.XMLPullParser(events=("start", "end"))
        depth = 0
        asyncio.get_running_loop().create_task(self.commands())
        while True:
            data = await self.reader.read(65536)
            if not data:
                emit("closed")
                return
            parser.feed(data)
            for event, element in parser.read_events():
                if event == "start":
                    depth += 1
                    if depth == 1:
                        digest = hashlib.sha1((element.get("id") + self.args.secret).encode()).hexdigest()
                        self.write(f"<handshake>{digest}</handshake>")
                    continue
                depth -= 1
                if depth == 1:
                    self.stanza(element)
                    element.clear()
            await self.writer.drain()

    def write(self, data):
        self.writer.write(data.encode())

    def stanza(self, element):
        tag = element.tag.split("}")[-1]
        if tag == "handshake":
            emit("ready", room=self.jid)
        elif tag == "presence":
            self.presence(element)
        elif tag == "iq":
            self.iq(element)
        elif tag == "message":
            self.message(element)

    # ---- joining and leaving ----------------------------------------------------------------

    def presence(self, element):
        sender, to = element.get("from"), element.get("to", "")
        if not to.startswith(self.jid + "/") or not sender:
            return
        nick = to.split("/", 1)[1]
        if element.get("type") == "unavailable":
            self.joined.pop(sender, None)
            self.write(f"<presence from={quoteattr(to)} to={quoteattr(sender)} type='unavailable'>"
                       f"<x xmlns='{MUC_USER}'><item affiliation='none' role='none'/><status code='110'/></x></presence>")
            emit("left", jid=sender)
            return
        if element.get("type") or sender in self.joined:
            return
        x = element.find(f"{{{MUC}}}x")
        history = 20
        if x is not None and (h := x.find(f"{{{MUC}}}history")) is not None:
            if h.get("maxstanzas") is not None:
                history = int(h.get("maxstanzas"))
            elif h.get("maxchars") == "0":
                history = 0
        self.joined[sender] = nick
        out = [self.occupant_presences % {"to": escape(sender)}]
        out.append(f"<presence from={quoteattr(to)} to={quoteattr(sender)}><x xmlns='{MUC_USER}'>"
                   f"<item affiliation='none' role='participant' jid={quoteattr(sender)}/>"
                   f"<status code='110'/></x></presence>")
        for sid, who, body, stamp in self.archive[len(self.archive) - history:] if history else []:
            out.append(f"<message from='{self.jid}/{who}' to={quoteattr(sender)} type='groupchat' id='m{sid}'>"
                       f"<body>{escape(body)}</body><delay xmlns='urn:xmpp:delay' stamp='{stamp}' from='{self.jid}'/>"
                       f"</message>")
        out.append(f"<message from='{self.jid}' to={quoteattr(sender)} type='groupchat' id='subject'>"
                   f"<subject>A room of {len(self.nicks)}</subject></message>")
        self.write("".join(out))
        emit("joined", jid=sender, nick=nick, history=history, t=time.time())

    # ---- queries ------------------------------------------------------------------------------

    def iq(self, element):
        sender, to, kind, iq_id = element.get("from"), element.get("to", ""), element.get("type"), element.get("id", "")
        if kind not in ("get", "set") or not sender:
            return
        payload = element[0] if len(element) else None
        ns = payload.tag[1:].split("}")[0] if payload is not None and payload.tag.startswith("{") else ""
        if to == self.jid and ns == MAM and kind == "set":
            self.archive_query(sender, iq_id, payload)
        elif to in (self.jid, self.args.domain) and ns == DISCO_INFO and kind == "get":
            features = [MUC, MAM, MAM + "#extended", "urn:xmpp:sid:0", "muc_public", "muc_open", "muc_semianonymous", "muc_persistent",
                        "muc_unmoderated", "muc_unsecured"] if to == self.jid else [MUC, DISCO_INFO]
            identity = "<identity category='conference' type='text' name='Bench room'/>" if to == self.jid else \
                "<identity category='conference' type='text' name='Bench rooms'/>"
            self.write(f"<iq type='result' id={quoteattr(iq_id)} from={quoteattr(to)} to={quoteattr(sender)}>"
                       f"<query xmlns='{DISCO_INFO}'>{identity}"
                       + "".join(f"<feature var='{f}'/>" for f in features) + "</query></iq>")
        elif ns == PING and self.joined.get(sender) == to.partition("/")[2]:
            self.write(f"<iq type='result' id={quoteattr(iq_id)} from={quoteattr(to)} to={quoteattr(sender)}/>")
        else:
            self.write(f"<iq type='error' id={quoteattr(iq_id)} from={quoteattr(to)} to={quoteattr(sender)}>"
                       f"<error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
                       f"</error></iq>")

    def archive_query(self, sender, iq_id, query):
        query_id = query.get("queryid", "")
        rsm = query.find(f"{{{RSM}}}set")
        limit, after, before = 100, None, None
        if rsm is not None:
            if (m := rsm.find(f"{{{RSM}}}max")) is not None and m.text:
                limit = min(int(m.text), 1000)
            if (a := rsm.find(f"{{{RSM}}}after")) is not None:
                after = a.text or ""
            if (b := rsm.find(f"{{{RSM}}}before")) is not None:
                before = b.text or ""
        total = len(self.archive)
        if before is not None:
            end = self.index.get(before, total) if before else total
            start = max(0, end - limit)
            complete = start == 0
        else:
            start = self.index[after] + 1 if after in self.index else 0
            end = min(total, start + limit)
            complete = end == total
        page = self.archive[start:end]
        out = []
        # A flipped page keeps its first and last (the RSM set says the same) but comes newest first.
        flipped = query.find(f"{{{MAM}}}flip-page") is not None
        for sid, who, body, stamp in (reversed(page) if flipped else page):
            out.append(f"<message from='{self.jid}' to={quoteattr(sender)}><result xmlns='{MAM}' queryid={quoteattr(query_id)} "
                       f"id='{sid}'><forwarded xmlns='urn:xmpp:forward:0'><delay xmlns='urn:xmpp:delay' stamp='{stamp}'/>"
                       f"<message xmlns='jabber:client' from='{self.jid}/{who}' type='groupchat' id='m{sid}'>"
                       f"<body>{escape(body)}</body></message></forwarded></result></message>")
        rsm_out = (f"<first>{page[0][0]}</first><last>{page[-1][0]}</last>" if page else "") + f"<count>{total}</count>"
        out.append(f"<iq type='result' id={quoteattr(iq_id)} from='{self.jid}' to={quoteattr(sender)}>"
                   f"<fin xmlns='{MAM}' complete='{'true' if complete else 'false'}'><set xmlns='{RSM}'>{rsm_out}</set></fin></iq>")
        self.write("".join(out))
        emit("archive", count=len(page), t=time.time())

    # ---- messages -----------------------------------------------------------------------------

    def message(self, element):
        sender, to = element.get("from"), element.get("to", "")
        if element.get("type") != "groupchat" or to != self.jid or sender not in self.joined:
            return
        self.counter += 1
        body = element.find("{jabber:component:accept}body")
        origin = element.find("{urn:xmpp:sid:0}origin-id")
        extra = f"<origin-id xmlns='urn:xmpp:sid:0' id={quoteattr(origin.get('id'))}/>" if origin is not None else ""
        self.write(f"<message from='{self.jid}/{self.joined[sender]}' to={quoteattr(sender)} type='groupchat' "
                   f"id={quoteattr(element.get('id', ''))}><body>{escape(body.text or '') if body is not None else ''}</body>"
                   f"{extra}<stanza-id xmlns='urn:xmpp:sid:0' id='live{self.counter}' by='{self.jid}'/></message>")

    async def commands(self):
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        while line := await reader.readline():
            verb, _, rest = line.decode().strip().partition(" ")
            if verb == "burst":
                await self.burst(int(rest))

    async def burst(self, count):
        targets = list(self.joined)
        stanzas = [
            "".join(f"<message from='{self.jid}/{self.nicks[i % len(self.nicks)]}' to={quoteattr(to)} type='groupchat' "
                    f"id='b{i}'><body>roomburst#{i} {text(i, 180)}</body>"
                    f"<stanza-id xmlns='urn:xmpp:sid:0' id='burst{i}' by='{self.jid}'/></message>" for to in targets)
            for i in range(count)]
        t_first = time.time()
        for n in range(0, count, 200):
            self.write("".join(stanzas[n:n + 200]))
            await self.writer.drain()
        emit("burst", count=count, t_first=t_first, t_written=time.time())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--domain", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--room", default="bench")
    parser.add_argument("--occupants", type=int, default=1000)
    parser.add_argument("--archive", type=int, default=5000)
    asyncio.run(Room(parser.parse_args()).run())


if __name__ == "__main__":
    main()
