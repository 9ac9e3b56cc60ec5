#!/usr/bin/env python3
"""Another device of the same account, for Dialtone's read-state tests: slixmpp with its own
XEP-0490 (Message Displayed Synchronization) plugin, as a phone running Conversations would
publish and follow it. Run it with the venv's python:

  mds_peer.py --jid me@dialtone.test/phone --password pw --port 25222 --ca-file CA [options]

  --flag CHAT STANZA_ID  after login, publish that CHAT was read up to STANZA_ID (our
                         archive's id for the message), then exit once the server has it
  --timeout S            exit after S s (default 30)

Output: one JSON object per line on stdout, "event" plus fields:
  ready  flagged{chat,stanza_id}  displayed{chat,stanza_id,by}  message{from,body,stanza_id}  error{message}
"displayed" is each notification our PEP service sends this device (what Dialtone publishes).
Exit 0 at the timeout or after --flag (1 on a failed login or a refused publish).

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio

import slixmpp

from peer_support import add_connection_arguments, emit, run



class DisplayedPeer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.failed = False
        self.done = asyncio.Event()
        for plugin in ("xep_0030", "xep_0115", "xep_0060", "xep_0163", "xep_0223", "xep_0359", "xep_0490"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("message_displayed_synchronization_publish", self.on_displayed)
        self.add_event_handler("message", self.on_message)

    def on_failed(self, _event):
        self.failed = True
        emit("error", message="authentication failed")
        self.done.set()

    async def on_start(self, _event):
        # Our +notify interest goes in the caps hash, so that our server sends us the node's
        # notifications (XEP-0163); slixmpp adds caps only once they were computed.
        # (The interest the plugin registers at start is lost when the session binds.)
        self.plugin["xep_0030"].add_feature("urn:xmpp:mds:displayed:0+notify")
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=self.boundjid.full)
        if self.args.flag:
            chat, stanza_id = self.args.flag
            try:
                await self.plugin["xep_0490"].flag_chat(chat, stanza_id)
                emit("flagged", chat=chat, stanza_id=stanza_id)
            except Exception as error:  # a refused publish: reported, the test decides
                self.failed = True
                emit("error", message=f"publish: {error!r}")
            self.done.set()

    def on_message(self, message):
        if message.xml.find("{http://jabber.org/protocol/pubsub#event}event") is not None:
            emit("pubsub-event", xml=str(message))
        if not message["body"]:
            return
        ours = [e.get("id") for e in message.xml.findall("{urn:xmpp:sid:0}stanza-id") if e.get("by") == self.boundjid.bare]
        emit("message", **{"from": message["from"].bare, "body": message["body"], "stanza_id": ours[0] if ours else None})

    def on_displayed(self, message):
        for item in message.xml.iter("{http://jabber.org/protocol/pubsub#event}item"):
            stanza_id = item.find("{urn:xmpp:mds:displayed:0}displayed/{urn:xmpp:sid:0}stanza-id")
            emit("displayed", chat=item.get("id"), stanza_id=stanza_id.get("id") if stanza_id is not None else None,
                 by=stanza_id.get("by") if stanza_id is not None else None)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    parser.add_argument("--flag", nargs=2, metavar=("CHAT", "STANZA_ID"))
    args = parser.parse_args()
    peer = DisplayedPeer(args)
    run(peer, args, done=peer.done)


if __name__ == "__main__":
    main()
