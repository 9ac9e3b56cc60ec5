#!/usr/bin/env python3
"""An independent XMPP contact for Dialtone's subscription tests: slixmpp, answering and asking
for presence subscriptions (RFC 6121 §3) as the options say. Run it with the venv's python:

  roster_peer.py --jid peer@dialtone.test --password pw --port 25222 --ca-file CA [options]

  --subscribe JID         after login, ask JID to see its presence
  --nick NAME             the nickname sent with requests and chat messages (XEP-0172)
  --times N               ask N times, 0.3 s apart (default 1)
  --again-on-unsubscribed when refused, ask once more (a stranger who does not give up)
  --ask-back              when someone asks to see ours, ask to see theirs (not answering theirs)
  --authorize             when someone asks to see ours, let them
  --disco                 when a contact's client comes online, ask it what it supports
                          (XEP-0030, as Conversations does before using a feature), its
                          software version (XEP-0092) and its time (XEP-0202)
  --chat JID              send JID a chat message every 0.5 s ("hello 1", "hello 2", …)
  --timeout S             exit after S s (default 30)

Output: one JSON object per line on stdout, "event" plus fields:
  ready  chat-sent{to,body}  subscribe-sent{to}  subscribe{from,nick}  subscribed{from}  unsubscribed{from}
  unsubscribe{from}  disco{from,features,identities}  version{from,name,version,os}
  time{from,tzo,utc}  error{message}
Exit 0 at the timeout (or 1 on a failed login).

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio

import slixmpp

from peer_support import add_connection_arguments, emit, run

NS_NICK = "http://jabber.org/protocol/nick"



class RosterPeer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.failed = False
        # Every request and answer is ours to decide, not slixmpp's automatic replies.
        self.roster.auto_authorize = None
        self.roster.auto_subscribe = False
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("presence_subscribe", self.on_subscribe)
        self.add_event_handler("presence_available", self.on_available)
        self.asked_disco = set()
        for kind in ("subscribed", "unsubscribed", "unsubscribe"):
            self.add_event_handler(f"presence_{kind}", lambda p, kind=kind: self.on_answer(kind, p))

    def on_failed(self, _event):
        self.failed = True
        emit("error", message="authentication failed")

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=self.boundjid.bare)
        if self.args.chat:
            asyncio.ensure_future(self.chat(self.args.chat))
        if self.args.subscribe:
            for i in range(self.args.times):
                if i:
                    await asyncio.sleep(0.3)
                self.ask(self.args.subscribe)

    async def chat(self, jid):
        count = 0
        while True:
            count += 1
            body = f"hello {count}"
            message = self.make_message(mto=jid, mbody=body, mtype="chat")
            if self.args.nick:
                nick = slixmpp.xmlstream.ET.Element(f"{{{NS_NICK}}}nick")
                nick.text = self.args.nick
                message.append(nick)
            message.send()
            emit("chat-sent", to=jid, body=body)
            await asyncio.sleep(0.5)

    def ask(self, jid):
        presence = self.make_presence(pto=jid, ptype="subscribe")
        if self.args.nick:
            nick = slixmpp.xmlstream.ET.Element(f"{{{NS_NICK}}}nick")
            nick.text = self.args.nick
            presence.append(nick)
        presence.send()
        emit("subscribe-sent", to=jid)

    def on_available(self, presence):
        sender = presence["from"]
        if not self.args.disco or sender.bare == self.boundjid.bare or sender.full in self.asked_disco:
            return
        self.asked_disco.add(sender.full)
        asyncio.ensure_future(self.ask_about(sender))

    async def ask_about(self, jid):
        try:
            iq = self.make_iq_get(queryxmlns="http://jabber.org/protocol/disco#info", ito=jid)
            answer = await iq.send(timeout=10)
            query = answer.xml.find("{http://jabber.org/protocol/disco#info}query")
            features = sorted(f.get("var") for f in query.findall("{http://jabber.org/protocol/disco#info}feature"))
            identities = [{"category": i.get("category"), "type": i.get("type")}
                          for i in query.findall("{http://jabber.org/protocol/disco#info}identity")]
            emit("disco", **{"from": jid.full, "features": features, "identities": identities})
            iq = self.make_iq_get(queryxmlns="jabber:iq:version", ito=jid)
            answer = await iq.send(timeout=10)
            query = answer.xml.find("{jabber:iq:version}query")
            text = lambda name: (query.find("{jabber:iq:version}" + name).text
                                 if query.find("{jabber:iq:version}" + name) is not None else None)
            emit("version", **{"from": jid.full, "name": text("name"), "version": text("version"), "os": text("os")})
            iq = self.make_iq_get(ito=jid)
            iq.append(slixmpp.xmlstream.ET.Element("{urn:xmpp:time}time"))
            answer = await iq.send(timeout=10)
            time = answer.xml.find("{urn:xmpp:time}time")
            emit("time", **{"from": jid.full, "tzo": time.find("{urn:xmpp:time}tzo").text,
                            "utc": time.find("{urn:xmpp:time}utc").text})
        except Exception as error:  # an error answer or a timeout: reported, the test decides
            emit("error", message=f"asking {jid}: {error!r}")

    def on_subscribe(self, presence):
        nick = presence.xml.find(f"{{{NS_NICK}}}nick")
        sender = presence["from"].bare
        emit("subscribe", **{"from": sender, "nick": nick.text if nick is not None else None})
        if self.args.authorize:
            self.send_presence(pto=sender, ptype="subscribed")
        if self.args.ask_back:
            self.ask(sender)

    def on_answer(self, kind, presence):
        sender = presence["from"].bare
        emit(kind, **{"from": sender})
        if kind == "unsubscribed" and self.args.again_on_unsubscribed and sender == self.args.subscribe:
            self.args.again_on_unsubscribed = False
            self.ask(sender)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    parser.add_argument("--subscribe")
    parser.add_argument("--nick")
    parser.add_argument("--times", type=int, default=1)
    parser.add_argument("--again-on-unsubscribed", action="store_true")
    parser.add_argument("--ask-back", action="store_true")
    parser.add_argument("--authorize", action="store_true")
    parser.add_argument("--disco", action="store_true")
    parser.add_argument("--chat")
    args = parser.parse_args()
    peer = RosterPeer(args)
    run(peer, args)


if __name__ == "__main__":
    main()
