#!/usr/bin/env python3
"""An independent XMPP contact for Dialtone's reply, reaction, correction and retraction tests:
slixmpp with its own XEP-0461 (replies), XEP-0444 (reactions), XEP-0308 (corrections) and
XEP-0424 (retractions) plugins. Run it with the venv's python:

  reply_peer.py --jid peer@dialtone.test --password pw --port 25222 --ca-file CA [options]

  --answer              to the first chat message received (not itself a reply or
                        reaction): reply to it ("re: BODY", quoting it with a nick line, as
                        slixmpp does) and react to it with 👍
  --edit                after --answer, send "See you at 7" and correct it to "See you at 8",
                        then send "oops" and take it back
  --react JID ID EMOJI  after login, send JID reactions to message ID (a stranger's forgery)
  --forge JID ID        after login, send JID a correction ("FORGED") and a retraction of
                        message ID (someone else's: a stranger's forgery)
  --timeout S           exit after S s (default 30)

Output: one JSON object per line on stdout, "event" plus fields:
  ready  message{from,id,body,text,reply_id,reply_to,replace_id,retract_id}  reactions{from,id,emojis}
  replied{to,id,reply_id,body}  reacted{to,id,emojis}  sent{to,id,body}  corrected{to,id,body}
  retracted{to,id}  forged{to,id}  error{message}
"text" is the body without the reply's fallback quote. Exit 0 at the timeout (1 on a failed login).

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio

import slixmpp

from peer_support import add_connection_arguments, emit, run



class ReplyPeer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.failed = False
        self.answered = False
        for plugin in ("xep_0030", "xep_0334", "xep_0359", "xep_0428", "xep_0444", "xep_0461", "xep_0308", "xep_0424"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("message", self.on_message)
        self.add_event_handler("reactions", self.on_reactions)

    def on_failed(self, _event):
        self.failed = True
        emit("error", message="authentication failed")

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=self.boundjid.bare)
        if self.args.forge:
            to, message_id = self.args.forge
            correction = self.plugin["xep_0308"].build_correction(message_id, slixmpp.JID(to), mbody="FORGED")
            correction["id"] = self.new_id()
            correction.send()
            self.plugin["xep_0424"].send_retraction(slixmpp.JID(to), message_id)
            emit("forged", to=to, id=message_id)
        if self.args.react:
            to, message_id, emoji = self.args.react
            self.plugin["xep_0444"].send_reactions(slixmpp.JID(to), message_id, [emoji])
            emit("reacted", to=to, id=message_id, emojis=[emoji])

    def on_reactions(self, message):
        emojis = [reaction["value"] for reaction in message["reactions"]]
        emit("reactions", **{"from": message["from"].full, "id": message["reactions"]["id"], "emojis": emojis})

    def on_message(self, message):
        if message["type"] not in ("chat", "normal") or not message["body"]:
            return
        has_reply = message.xml.find("{urn:xmpp:reply:0}reply") is not None
        text = message["reply"].strip_fallback_content() if has_reply else message["body"]
        replace = message.xml.find("{urn:xmpp:message-correct:0}replace")
        retract = message.xml.find("{urn:xmpp:message-retract:1}retract")
        emit("message", **{"from": message["from"].full, "id": message["id"], "body": message["body"], "text": text,
                           "reply_id": message["reply"]["id"] if has_reply else None,
                           "reply_to": message["reply"]["to"] if has_reply else None,
                           "replace_id": replace.get("id") if replace is not None else None,
                           "retract_id": retract.get("id") if retract is not None else None})
        if replace is not None or retract is not None:
            return
        if self.args.answer and not self.answered and not has_reply:
            self.answered = True
            body = "re: " + message["body"]
            reply = self.plugin["xep_0461"].make_reply(message["from"].full, message["id"], fallback=message["body"],
                                                       quoted_nick="They", mto=message["from"].bare, mbody=body, mtype="chat")
            reply["id"] = self.new_id()
            reply.send()
            emit("replied", to=message["from"].bare, id=message["id"], reply_id=reply["id"], body=body)
            self.plugin["xep_0444"].send_reactions(message["from"].bare, message["id"], ["👍"])
            emit("reacted", to=message["from"].bare, id=message["id"], emojis=["👍"])
            if self.args.edit:
                asyncio.ensure_future(self.edit(message["from"].bare))

    async def edit(self, to):
        """A message corrected, and another taken back, as a person on their phone would."""
        first = self.make_message(mto=to, mbody="See you at 7", mtype="chat")
        first["id"] = self.new_id()
        first.send()
        emit("sent", to=str(to), id=first["id"], body="See you at 7")
        await asyncio.sleep(0.3)
        correction = self.plugin["xep_0308"].build_correction(first["id"], to, mbody="See you at 8")
        correction["id"] = self.new_id()
        correction.send()
        emit("corrected", to=str(to), id=first["id"], body="See you at 8")
        oops = self.make_message(mto=to, mbody="oops", mtype="chat")
        oops["id"] = self.new_id()
        oops.send()
        emit("sent", to=str(to), id=oops["id"], body="oops")
        await asyncio.sleep(0.3)
        self.plugin["xep_0424"].send_retraction(to, oops["id"])
        emit("retracted", to=str(to), id=oops["id"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    parser.add_argument("--answer", action="store_true")
    parser.add_argument("--react", nargs=3, metavar=("JID", "ID", "EMOJI"))
    parser.add_argument("--edit", action="store_true")
    parser.add_argument("--forge", nargs=2, metavar=("JID", "ID"))
    args = parser.parse_args()
    peer = ReplyPeer(args)
    run(peer, args)


if __name__ == "__main__":
    main()
