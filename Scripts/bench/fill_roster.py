#!/usr/bin/env python3
"""Gives an account a roster of COUNT contacts, for Scripts/bench-roster.

usage: fill_roster.py JID PASSWORD PORT CAFILE COUNT
Logs in on 127.0.0.1, sends COUNT roster sets (contact-00001@example.invalid … with names,
a quarter of them in groups) in flight together, waits for every answer, prints "done N"."""
import asyncio
import sys

import slixmpp
from slixmpp.xmlstream import ET


class Filler(slixmpp.ClientXMPP):
    def __init__(self, jid, password, count):
        super().__init__(jid, password)
        self.count = count
        self.add_event_handler("session_start", self.start)

    async def start(self, _event):
        pending = []
        for i in range(self.count):
            iq = self.make_iq_set()
            query = ET.SubElement(iq.xml, "{jabber:iq:roster}query")
            item = ET.SubElement(query, "{jabber:iq:roster}item",
                                 jid=f"contact-{i:05d}@example.invalid", name=f"Contact {i:05d}")
            if i % 4 == 0:
                ET.SubElement(item, "{jabber:iq:roster}group").text = f"Group {i % 40}"
            pending.append(iq.send(timeout=120))
            if len(pending) >= 500:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        print(f"done {self.count}", flush=True)
        self.disconnect()


def main():
    jid, password, port, cafile, count = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
    client = Filler(jid, password, count)
    client.ca_certs = cafile
    client.connect(host="127.0.0.1", port=port)
    asyncio.get_event_loop().run_until_complete(client.disconnected)


main()
