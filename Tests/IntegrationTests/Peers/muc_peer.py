#!/usr/bin/env python3
"""An occupant of a group chat for Dialtone's room tests: slixmpp with its own XEP-0045 plugin,
joined before Dialtone (so it owns a room it creates) and driven through a command file the
test appends lines to. Run it with the venv's python:

  muc_peer.py --jid peer@dialtone.test --password pw --port 25222 --ca-file CA \\
              --room ROOM --nick NICK --commands FILE [--timeout S]

Commands, one a line, read as they are appended to FILE:
  say TEXT              a groupchat message to the room
  correct ID TEXT       correct our message ID (XEP-0308): TEXT replaces its body
  retract STANZA_ID     take back our message the room calls STANZA_ID (XEP-0424), with the
                        fallback text Conversations sends (so the room archives it)
  say-markable TEXT     the same, asking for read markers (XEP-0333), as Conversations does in
                        private rooms
  private-room          make the room members only, with everyone's address shown (as the
                        room's owner): a private room, where markers go
  subject TEXT          set the room's subject (as its owner)
  pm NICK TEXT          a private message to NICK through the room (XEP-0045 §7.5)
  pm-subject NICK TEXT  a private message to NICK carrying a subject TEXT (an occupant's
                        attempt at the room's subject)
  invite JID REASON     invite JID through the room (XEP-0045 mediated invitation)
  invite-direct JID REASON  invite JID directly (XEP-0249)
  react STANZA_ID EMOJI react in the room to the message the room calls STANZA_ID (XEP-0444)
  affiliate JID AFFIL   set JID's affiliation (admin, member, none…), as the room's owner
  kick NICK             remove NICK from the room (as a moderator)
  outcasts              ask the room who is banned: "outcasts{jids}"
  forge NICK TEXT       a groupchat message sent straight to NICK's real address (which the
                        room shows its owner), not through the room: a forged room message
  moderate STANZA_ID REASON  take down the message the room calls STANZA_ID (XEP-0425 version 0,
                        which Prosody 0.12's mod_muc_moderation speaks), as a moderator
  forge-moderation STANZA_ID  a groupchat message of our own that claims a moderator took
                        STANZA_ID down (XEP-0425 version 1): an occupant's forgery
  leave                 leave the room and exit

Output: one JSON object per line on stdout, "event" plus fields:
  ready  joined{nick}  message{nick,body,id,origin_id,stanza_id}  presence{nick,type,codes,jid}
  subject{nick,subject}  said{id,body}  forged{to,body}  private{nick,body}  error{message}
"private" is a private message an occupant sent us through the room; "invited{room,from,reason}"
a direct invitation (XEP-0249) someone sent us; "reactions{nick,id,emojis}" reactions said
in the room; "moderated{id,by,reason}" the room's notice that a moderator took a message down;
"moderated-ok{id}" our own moderation accepted; "displayed{nick,id}" an
occupant's read marker in the room; "configured" the room made private.
Exit 0 at the timeout or after "leave" (1 on a failed login or join).

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

from peer_support import add_connection_arguments, emit, follow_commands, run

SID = "{urn:xmpp:sid:0}"
FASTEN = "urn:xmpp:fasten:0"
MODERATE0 = "urn:xmpp:message-moderate:0"
RETRACT0 = "urn:xmpp:message-retract:0"


class Occupant(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.room = slixmpp.JID(args.room)
        self.failed = False
        self.done = asyncio.Event()
        self.real_jids = {}
        for plugin in ("xep_0004", "xep_0030", "xep_0045", "xep_0249", "xep_0333", "xep_0334", "xep_0359", "xep_0444"):
            self.register_plugin(plugin)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("groupchat_message", self.on_message)
        self.add_event_handler("groupchat_subject", self.on_subject)
        self.add_event_handler("message", self.on_private)
        self.add_event_handler("groupchat_direct_invite", self.on_direct_invite)
        self.add_event_handler("reactions", self.on_reactions)
        self.add_event_handler(f"muc::{self.room}::presence", self.on_presence)
        # The room's moderation notices and read markers have no body, which slixmpp's
        # message events want.
        self.register_handler(Callback("displayed", MatchXPath("{jabber:client}message/{urn:xmpp:chat-markers:0}displayed"),
                                       self.on_displayed))
        self.register_handler(Callback("moderation", MatchXPath(f"{{jabber:client}}message/{{{FASTEN}}}apply-to"),
                                       self.on_moderation))

    def on_failed(self, _event):
        self.failed = True
        emit("error", message="authentication failed")
        self.done.set()

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=self.boundjid.full)
        try:
            await self.plugin["xep_0045"].join_muc_wait(self.room, self.args.nick, maxstanzas=0, timeout=20)
        except Exception as error:
            self.failed = True
            emit("error", message=f"join: {error!r}")
            self.done.set()
            return
        emit("joined", nick=self.args.nick)
        asyncio.ensure_future(follow_commands(self.args.commands, self.command, self.done))

    async def command(self, line):
        verb, _, rest = line.partition(" ")
        if verb == "say":
            message = self.make_message(mto=self.room, mbody=rest, mtype="groupchat")
            message["id"] = self.new_id()
            message.send()
            emit("said", id=message["id"], body=rest)
        elif verb == "correct":
            original, _, text = rest.partition(" ")
            message = self.make_message(mto=self.room, mbody=text, mtype="groupchat")
            message["id"] = self.new_id()
            ET.SubElement(message.xml, "{urn:xmpp:message-correct:0}replace", id=original)
            message.send()
            emit("said", id=message["id"], body=text)
        elif verb == "retract":
            message = self.make_message(mto=self.room, mtype="groupchat",
                                        mbody="This person attempted to retract a previous message, but it's unsupported by your client.")
            message["id"] = self.new_id()
            ET.SubElement(message.xml, "{urn:xmpp:message-retract:1}retract", id=rest)
            ET.SubElement(message.xml, "{urn:xmpp:fallback:0}fallback", {"for": "urn:xmpp:message-retract:1"})
            message.send()
            emit("said", id=message["id"], body="")
        elif verb == "say-markable":
            message = self.make_message(mto=self.room, mbody=rest, mtype="groupchat")
            message["id"] = self.new_id()
            message.enable("markable")
            message.send()
            emit("said", id=message["id"], body=rest)
        elif verb == "private-room":
            form = self.plugin["xep_0004"].make_form(ftype="submit")
            form.add_field(var="FORM_TYPE", value="http://jabber.org/protocol/muc#roomconfig", ftype="hidden")
            form.add_field(var="muc#roomconfig_membersonly", value=True, ftype="boolean")
            form.add_field(var="muc#roomconfig_whois", value="anyone", ftype="list-single")
            try:
                await self.plugin["xep_0045"].set_room_config(self.room, form)
                emit("configured")
            except Exception as error:
                emit("error", message=f"private-room: {error!r}")
        elif verb == "subject":
            self.plugin["xep_0045"].set_subject(self.room, rest)
        elif verb == "pm":
            nick, _, text = rest.partition(" ")
            message = self.make_message(mto=slixmpp.JID(f"{self.room.bare}/{nick}"), mbody=text, mtype="chat")
            message.send()
            emit("sent-private", nick=nick, body=text)
        elif verb == "pm-subject":
            nick, _, text = rest.partition(" ")
            message = self.make_message(mto=slixmpp.JID(f"{self.room.bare}/{nick}"), mbody="see the subject",
                                        msubject=text, mtype="chat")
            message.send()
            emit("sent-private", nick=nick, body="see the subject")
        elif verb == "invite":
            jid, _, reason = rest.partition(" ")
            self.plugin["xep_0045"].invite(self.room, slixmpp.JID(jid), reason=reason)
            emit("sent-invite", to=jid)
        elif verb == "invite-direct":
            jid, _, reason = rest.partition(" ")
            self.plugin["xep_0249"].send_invitation(slixmpp.JID(jid), self.room, reason=reason)
            emit("sent-invite", to=jid)
        elif verb == "react":
            stanza_id, _, emoji = rest.partition(" ")
            message = self.make_message(mto=self.room, mtype="groupchat")
            self.plugin["xep_0444"].set_reactions(message, stanza_id, [emoji])
            message.send()
            emit("reacted", id=stanza_id, emojis=[emoji])
        elif verb == "affiliate":
            jid, _, affiliation = rest.partition(" ")
            try:
                await self.plugin["xep_0045"].set_affiliation(self.room, affiliation, jid=slixmpp.JID(jid))
                emit("affiliated", jid=jid, affiliation=affiliation)
            except Exception as error:
                emit("error", message=f"affiliate: {error!r}")
        elif verb == "kick":
            try:
                await self.plugin["xep_0045"].set_role(self.room, rest, "none")
                emit("kicked", nick=rest)
            except Exception as error:
                emit("error", message=f"kick: {error!r}")
        elif verb == "outcasts":
            try:
                jids = await self.plugin["xep_0045"].get_affiliation_list(self.room, "outcast")
                emit("outcasts", jids=[str(jid) for jid in jids])
            except Exception as error:
                emit("error", message=f"outcasts: {error!r}")
        elif verb == "forge":
            nick, _, text = rest.partition(" ")
            real = self.real_jids.get(nick)
            if real is None:
                emit("error", message=f"no real address for {nick}")
                return
            # From our own address, typed groupchat, naming the room's nick in the body.
            self.make_message(mto=real, mbody=text, mtype="groupchat").send()
            emit("forged", to=real, body=text)
        elif verb == "moderate":
            stanza_id, _, reason = rest.partition(" ")
            # Built by hand: slixmpp's XEP-0425 plugin speaks version 1 only.
            iq = self.make_iq_set(ito=self.room.bare)
            apply_to = ET.SubElement(iq.xml, f"{{{FASTEN}}}apply-to", id=stanza_id)
            moderate = ET.SubElement(apply_to, f"{{{MODERATE0}}}moderate")
            ET.SubElement(moderate, f"{{{RETRACT0}}}retract")
            ET.SubElement(moderate, f"{{{MODERATE0}}}reason").text = reason
            try:
                await iq.send(timeout=10)
                emit("moderated-ok", id=stanza_id)
            except Exception as error:
                emit("error", message=f"moderate: {error!r}")
        elif verb == "forge-moderation":
            message = self.make_message(mto=self.room, mtype="groupchat")
            retract = ET.SubElement(message.xml, "{urn:xmpp:message-retract:1}retract", id=rest)
            ET.SubElement(retract, "{urn:xmpp:message-moderate:1}moderated", by=f"{self.room.bare}/{self.args.nick}")
            message.send()
            emit("forged-moderation", id=rest)
        elif verb == "leave":
            self.plugin["xep_0045"].leave_muc(self.room, self.args.nick)
            await asyncio.sleep(0.5)
            self.done.set()
        else:
            emit("error", message=f"unknown command {line!r}")

    def on_message(self, message):
        if not message["body"]:
            return
        ids = [e.get("id") for e in message.xml.findall(f"{SID}stanza-id") if e.get("by") == self.room.bare]
        origin = message.xml.find(f"{SID}origin-id")
        emit("message", nick=message["mucnick"], body=message["body"], id=message["id"],
             origin_id=origin.get("id") if origin is not None else None, stanza_id=ids[0] if ids else None)

    def on_reactions(self, message):
        # slixmpp's own XEP-0444 event: its groupchat and message events want a body.
        if message["type"] == "groupchat":
            emit("reactions", nick=message["from"].resource, id=message["reactions"]["id"],
                 emojis=[reaction["value"] for reaction in message["reactions"]])

    def on_displayed(self, message):
        if message["type"] == "groupchat" and message["from"].bare == self.room.bare:
            marker = message.xml.find("{urn:xmpp:chat-markers:0}displayed")
            emit("displayed", nick=message["from"].resource, id=marker.get("id"))

    def on_moderation(self, message):
        apply_to = message.xml.find(f"{{{FASTEN}}}apply-to")
        moderated = apply_to.find(f"{{{MODERATE0}}}moderated")
        if message["type"] == "groupchat" and moderated is not None and message["from"] == self.room.bare:
            emit("moderated", id=apply_to.get("id"), by=moderated.get("by"), reason=moderated.findtext(f"{{{MODERATE0}}}reason"))

    def on_private(self, message):
        if message["type"] in ("chat", "normal") and message["from"].bare == self.room.bare and message["body"]:
            emit("private", nick=message["from"].resource, body=message["body"])

    def on_direct_invite(self, message):
        invite = message["groupchat_invite"]
        emit("invited", room=str(invite["jid"]), reason=invite["reason"], **{"from": message["from"].bare})

    def on_subject(self, message):
        emit("subject", nick=message["mucnick"], subject=message["subject"])

    def on_presence(self, presence):
        item = presence.xml.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}item")
        real = item.get("jid") if item is not None else None
        nick = presence["from"].resource
        if real:
            self.real_jids[nick] = real
        codes = [int(s.get("code")) for s in presence.xml.findall("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}status")]
        emit("presence", nick=nick, type=presence["type"], codes=codes, jid=real)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    parser.add_argument("--room", required=True)
    parser.add_argument("--nick", required=True)
    parser.add_argument("--commands", required=True)
    args = parser.parse_args()
    peer = Occupant(args)
    run(peer, args, done=peer.done)


if __name__ == "__main__":
    main()
