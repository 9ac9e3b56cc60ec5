#!/usr/bin/env python3
"""A group-chat room that forgets its occupants without a word, as a room service that
restarted does (the case XEP-0410 self-ping is for), for Dialtone's self-ping test: an XEP-0114
component of the test server whose every address is a room. Run it with the venv's python:

  forgetful_room.py --jid fakerooms.dialtone.test --secret S --port COMPONENT_PORT --commands FILE

It lets anyone in (self-presence with status 110), answers a ping to an occupant's address as
XEP-0410 asks (result for an occupant, not-acceptable for anyone else), and refuses archive
queries. Commands, one a line, appended to FILE:
  forget        every occupant is forgotten, and nobody is told
Output: one JSON object per line: ready  joined{room,nick,from}  pinged{to,from,answer}  forgot

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio

from peer_support import emit, follow_commands
from slixmpp import ComponentXMPP
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

MUC = "http://jabber.org/protocol/muc"
MUC_USER = "http://jabber.org/protocol/muc#user"
PING = "urn:xmpp:ping"


class ForgetfulRoom(ComponentXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.secret, "127.0.0.1", args.port)
        self.args = args
        self.occupants = {}  # (room, nick) -> real full JID
        ns = self.default_ns
        self.add_event_handler("session_start", self.on_start)
        self.register_handler(Callback("join", MatchXPath(f"{{{ns}}}presence"), self.on_presence))
        self.register_handler(Callback("ping", MatchXPath(f"{{{ns}}}iq/{{{PING}}}ping"), self.on_ping))
        self.register_handler(Callback("mam", MatchXPath(f"{{{ns}}}iq/{{urn:xmpp:mam:2}}query"), self.on_refused))

    async def on_start(self, _event):
        emit("ready")
        asyncio.ensure_future(follow_commands(self.args.commands, self.command))

    async def command(self, line):
        if line == "forget":
            self.occupants.clear()
            emit("forgot")

    def on_presence(self, presence):
        occupant = presence["to"]
        if presence["type"] == "unavailable":
            self.occupants.pop((occupant.bare, occupant.resource), None)
            return
        if presence.xml.find(f"{{{MUC}}}x") is None or not occupant.resource:
            return
        self.occupants[(occupant.bare, occupant.resource)] = presence["from"].full
        emit("joined", room=occupant.bare, nick=occupant.resource, **{"from": presence["from"].full})
        reply = self.make_presence(pto=presence["from"], pfrom=occupant)
        x = ET.SubElement(reply.xml, f"{{{MUC_USER}}}x")
        ET.SubElement(x, f"{{{MUC_USER}}}item", {"affiliation": "none", "role": "participant"})
        ET.SubElement(x, f"{{{MUC_USER}}}status", {"code": "110"})
        reply.send()

    def on_ping(self, iq):
        to = iq["to"]
        known = self.occupants.get((to.bare, to.resource)) == iq["from"].full
        if known:
            iq.reply().send()
        else:
            error = iq.reply()
            error["type"] = "error"
            error["error"]["type"] = "modify"
            error["error"]["condition"] = "not-acceptable"
            error.send()
        emit("pinged", to=to.full, answer="result" if known else "not-acceptable", **{"from": iq["from"].full})

    def on_refused(self, iq):
        error = iq.reply()
        error["type"] = "error"
        error["error"]["type"] = "cancel"
        error["error"]["condition"] = "feature-not-implemented"
        error.send()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--commands", required=True)
    args = parser.parse_args()
    room = ForgetfulRoom(args)
    room.connect()
    room.loop.run_until_complete(room.disconnected)


if __name__ == "__main__":
    main()
