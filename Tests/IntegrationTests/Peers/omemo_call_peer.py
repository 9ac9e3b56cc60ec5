#!/usr/bin/env python3
"""An independent OMEMO contact taking a call the way Conversations verifies it (its draft
http://gultsch.de/xmpp/drafts/omemo/dlts-srtp-verification): python-omemo's legacy backend
(oldmemo) through slixmpp-omemo, as in omemo_peer.py, with only the signalling of a call.
Run it with the venv's python:

  omemo_call_peer.py --jid peer@dialtone.test --password pw --port 25222 --ca-file CA

It answers a XEP-0353 propose with a proceed naming its OMEMO device; it decrypts the
OMEMO-encrypted DTLS fingerprint of the session-initiate that follows, answers with a
session-accept whose fingerprint (a made-up one: this peer has no media) is encrypted for the
caller's devices, and ends the session a second later.

Output: one JSON object per line on stdout, "event" plus fields:
  ready{jid,device}  proceed{to,id}  fingerprint{from,text,device,in_clear}
  accepted{to,sid}  error{message}
"in_clear" is whether the initiate also carried a fingerprint outside OMEMO.

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio
import inspect
import os
import xml.etree.ElementTree as ET

import oldmemo
import oldmemo.etree
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath

from omemo_peer import OmemoPeer, only_backends
from peer_support import add_connection_arguments, emit, run

JMI = "urn:xmpp:jingle-message:0"
JINGLE = "urn:xmpp:jingle:1"
RTP = "urn:xmpp:jingle:apps:rtp:1"
ICE = "urn:xmpp:jingle:transports:ice-udp:1"
DTLS = "urn:xmpp:jingle:apps:dtls:0"
VERIFY = "http://gultsch.de/xmpp/drafts/omemo/dlts-srtp-verification"
LEGACY = oldmemo.oldmemo.NAMESPACE


class OmemoCallPeer(OmemoPeer):
    def __init__(self, args):
        args.send = args.plain = args.commands = None
        args.echo = args.files = args.quit = False
        args.repeat = 1
        super().__init__(args)
        self.register_handler(CoroutineCallback(
            "propose", MatchXPath(f"{{jabber:client}}message/{{{JMI}}}propose"), self.on_propose))
        self.register_handler(CoroutineCallback(
            "jingle", MatchXPath(f"{{jabber:client}}iq/{{{JINGLE}}}jingle"), self.on_jingle))

    async def own_device(self):
        manager = await self.plugin["xep_0384"].get_session_manager()
        own, _ = await manager.get_own_device_information()
        return own.device_id

    async def on_propose(self, stanza):
        propose = stanza.xml.find(f"{{{JMI}}}propose")
        message = self.make_message(mto=stanza["from"], mtype="chat")
        proceed = ET.SubElement(message.xml, f"{{{JMI}}}proceed", {"id": propose.get("id")})
        ET.SubElement(proceed, f"{{{VERIFY}}}device", {"id": str(await self.own_device())})
        message.send()
        emit("proceed", to=stanza["from"].full, id=propose.get("id"))

    async def on_jingle(self, iq):
        if iq["type"] != "set":
            return
        iq.reply().send()
        jingle = iq.xml.find(f"{{{JINGLE}}}jingle")
        if jingle.get("action") != "session-initiate":
            return
        try:
            await self.accept(iq, jingle)
        except Exception as error:  # noqa: BLE001 - every failure is an event for the test
            emit("error", message=repr(error))

    async def accept(self, iq, jingle):
        sender = iq["from"]
        manager = await self.plugin["xep_0384"].get_session_manager()
        content = jingle.find(f"{{{JINGLE}}}content")
        transport = content.find(f"{{{ICE}}}transport")
        sealed = transport.find(f"{{{VERIFY}}}fingerprint")
        parsed = oldmemo.etree.parse_message(sealed.find(f"{{{LEGACY}}}encrypted"), sender.bare, self.boundjid.bare, manager)
        if inspect.isawaitable(parsed):
            parsed = await parsed
        plaintext, device, _ = await asyncio.wait_for(manager.decrypt(parsed), 10)
        emit("fingerprint", **{"from": sender.full, "text": plaintext.decode(), "device": device.device_id,
                               "in_clear": transport.find(f"{{{DTLS}}}fingerprint") is not None})

        # Our answer: a made-up fingerprint, encrypted for the caller's devices.
        await self.plugin["xep_0384"].refresh_device_lists({sender.bare})
        ours = ":".join(f"{byte:02X}" for byte in os.urandom(32))
        messages, errors = await manager.encrypt(frozenset({sender.bare}), {LEGACY: ours.encode()}, backend_priority_order=[LEGACY])
        if errors:
            emit("error", message=f"encryption errors: {errors!r}")
        encrypted = oldmemo.etree.serialize_message(next(iter(messages)))
        answer = self.make_iq_set(ito=sender)
        accept = ET.SubElement(answer.xml, f"{{{JINGLE}}}jingle",
                               {"action": "session-accept", "sid": jingle.get("sid"), "initiator": jingle.get("initiator"),
                                "responder": self.boundjid.full})
        ours_content = ET.SubElement(accept, f"{{{JINGLE}}}content",
                                     {"creator": content.get("creator", "initiator"), "name": content.get("name"), "senders": "both"})
        description = ET.SubElement(ours_content, f"{{{RTP}}}description", {"media": "audio"})
        ET.SubElement(description, f"{{{RTP}}}payload-type", {"id": "111", "name": "opus", "clockrate": "48000", "channels": "2"})
        ET.SubElement(description, f"{{{RTP}}}rtcp-mux")
        answer_transport = ET.SubElement(ours_content, f"{{{ICE}}}transport", {"ufrag": "peer", "pwd": "peerpasswordpeerpasswd"})
        fingerprint = ET.SubElement(answer_transport, f"{{{VERIFY}}}fingerprint", {"hash": "sha-256", "setup": "active"})
        fingerprint.append(encrypted)
        await answer.send()
        emit("accepted", to=sender.full, sid=jingle.get("sid"))

        # No media here: the session ends after a moment.
        await asyncio.sleep(1)
        terminate = self.make_iq_set(ito=sender)
        ending = ET.SubElement(terminate.xml, f"{{{JINGLE}}}jingle", {"action": "session-terminate", "sid": jingle.get("sid")})
        reason = ET.SubElement(ending, f"{{{JINGLE}}}reason")
        ET.SubElement(reason, f"{{{JINGLE}}}success")
        await terminate.send()
        self.done.set()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    args = parser.parse_args()
    args.versions = "legacy"
    only_backends(args.versions)
    peer = OmemoCallPeer(args)
    run(peer, args, done=peer.done)


if __name__ == "__main__":
    main()
