#!/usr/bin/env python3
"""A simulated phone gateway in the manner of JMP/Cheogram, for Dialtone's tests and demo.

An XEP-0114 component that owns phone-number JIDs (+15551234567@gateway) and group-text JIDs
(+1555…,+1666…@gateway). It advertises gateway/sms and gateway/pstn, answers XEP-0100 prompts
(like JMP, only North American numbers are served: others get not-acceptable), echoes 1:1 texts, answers into group
texts the way the real gateway does (a <xmpp:SENDER> body prefix marked as an XEP-0428
fallback, and an XEP-0033 ofrom address), and injects traffic on request.

Control: a chat message to control@GATEWAY from any local user, one JSON object per message:
  {"op": "sms", "to": "alice@dialtone.test", "from": "+15551234567", "body": "hi"}
  {"op": "group", "to": "alice@…", "participants": ["+1555…", "+1666…"], "from": "+1555…", "body": "…"}
  {"op": "voicemail", "to": "alice@…", "from": "+1555…", "url": "https://…/vm.ogg", "subject": "…", "body": "…"}
  {"op": "mms", "to": "alice@…", "from": "+1555…", "url": "https://…/cat.jpg", "body": "caption"}
  {"op": "missed-call", "to": "alice@…", "from": "+1555…"}
  {"op": "hangup", "number": "+1555…"}   the far end hangs up every call to that number
Everything the gateway receives for a phone JID is appended to the --log file as JSON lines
({"to": …, "from": …, "body": …, "delivered_to": [numbers]}), so tests can see what "reached" whom.

Voice calls, the way JMP's SIP bridge answers them: a XEP-0353 <propose> to a +1 phone JID gets
<ringing>, then --answer-delay s later <proceed> from NUMBER@GATEWAY/voice to the caller's full
JID; the caller's Jingle session-initiate to that JID is answered by a session-accept that
carries every candidate (setup active, no trickle: the phone JIDs advertise urn:ietf:rfc:3264
and the gateway never sends transport-info). The far end is a "voice menu": it plays a 600 Hz
prompt tone, logs each RFC 4733 digit it receives and the tone it hears. Numbers outside +1 get
<reject> with <failed-application/> "number not served", +15550000486 is busy (<busy/>). Media
is aiortc on loopback only (Scripts/peers/jingle_media.py). Call lines in the --log file
(each also carries "sid"):
  {"type": "call", "number": N, "caller": FULL_JID, "state": "proposed"}
  {"type": "call", …, "state": "rejected", "reason": "busy"|"failed-application"}
  {"type": "call", …, "state": "initiated", "candidates": n}   (candidates in session-initiate)
  {"type": "transport-info", "number": N, "caller": FULL_JID, "candidates": n}
  {"type": "call", …, "state": "connected"}
  {"type": "dtmf", "number": N, "caller": FULL_JID, "digit": "1"}
  {"type": "menu", "number": N, "caller": FULL_JID, "digit": "1", "tone": F}   the menu's answer:
      a tone of the digit's own (1 440 Hz, 2 660, 3 880, 0 300, others 1200) for 1.5 s, then the
      prompt again; with --menu-texts also a text from the number ("(voice menu) You pressed 1: …")
  {"type": "heard", "number": N, "frequency": F, "ratio": R}    (about 2.5 s after connecting)
  {"type": "call", …, "state": "ended", "reason": R, "by": "caller"|"gateway"}

Ad-hoc commands (XEP-0050), the way JMP's account bot offers them, on the gateway's own JID:
disco#items node http://jabber.org/protocol/commands lists "account" (Account settings) and
"balance" (Check balance). balance completes at once with an info note and a jabber:x:oob
link. account is a two-step session: a form with a field of every XEP-0004 type, then (after a
valid 4-digit PIN) a summary with prev/complete and a "confirm" boolean; complete with
confirm=1 ends in a result form (fields, and a reported/item table of the notify channels).
Every request in a session (each action after the first execute) is logged:
  {"type": "command", "node": "account", "action": A, "values": {var: [values]},
   "sessionid": S, "from": FULL_JID}     (values: the submitted form's, {} without one)
"""
import argparse
import asyncio
import json
import logging
import os
import re
import sys
import uuid

from slixmpp import JID, ComponentXMPP
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
try:  # calls need aiortc; without it the gateway still does everything else
    import jingle_media as media
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.sdp import candidate_from_sdp
    media.install()
except ImportError as error:  # pragma: no cover - the venv has aiortc
    media = None
    MEDIA_ERROR = str(error)

GATEWAY_NS = "jabber:iq:gateway"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
ADDRESS_NS = "http://jabber.org/protocol/address"
FALLBACK_NS = "urn:xmpp:fallback:0"
OOB_NS = "jabber:x:oob"
JMI_NS = "urn:xmpp:jingle-message:0"
JINGLE_NS = "urn:xmpp:jingle:1"
JINGLE_ERRORS_NS = "urn:xmpp:jingle:errors:1"
RTP_NS = "urn:xmpp:jingle:apps:rtp:1"
DISCO_ITEMS = "http://jabber.org/protocol/disco#items"
COMMANDS_NS = "http://jabber.org/protocol/commands"
DATA_NS = "jabber:x:data"
STANZAS_NS = "urn:ietf:params:xml:ns:xmpp-stanzas"
COMMANDS = [("account", "Account settings"), ("balance", "Check balance")]
ACCOUNT_NUMBER = "+15551234567"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")
NORTH_AMERICAN = re.compile(r"^\+1\d{10}$")
BUSY_NUMBER = "+15550000486"
VOICE_RESOURCE = "voice"
PROMPT_TONE = 600
# The voice menu's answer to a digit: this tone for MENU_ANSWER_SECONDS, then the prompt again.
MENU_TONES = {"1": 440, "2": 660, "3": 880, "0": 300}
MENU_OTHER_TONE = 1200
MENU_ANSWER_SECONDS = 1.5
MENU_CHOICES = {"1": "your balance is $4.20", "2": "voicemail has no new messages",
                "3": "you are being connected to an operator (there is none)", "0": "the main menu again"}
PHONE_FEATURES = ["urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
                  "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0",
                  "urn:xmpp:jingle-message:0", "urn:ietf:rfc:3264"]


class Gateway(ComponentXMPP):
    def __init__(self, jid, secret, host, port, log_path, ready_path=None, answer_delay=0.3,
                 call_limit=300, menu_texts=False):
        super().__init__(jid, secret, host, port)
        self.menu_texts = menu_texts
        self.log_path = log_path
        self.ready_path = ready_path
        self.answer_delay = answer_delay
        self.call_limit = call_limit
        self.calls = {}  # sid -> Call
        self.command_sessions = {}  # sessionid -> CommandSession
        self.add_event_handler("session_start", self.on_ready)
        ns = self.default_ns
        self.register_handler(Callback("gateway", MatchXPath(f"{{{ns}}}iq/{{{GATEWAY_NS}}}query"), self.on_gateway))
        self.register_handler(Callback("disco", MatchXPath(f"{{{ns}}}iq/{{{DISCO_INFO}}}query"), self.on_disco))
        self.register_handler(Callback("items", MatchXPath(f"{{{ns}}}iq/{{{DISCO_ITEMS}}}query"), self.on_items))
        self.register_handler(Callback("command", MatchXPath(f"{{{ns}}}iq/{{{COMMANDS_NS}}}command"), self.on_command))
        self.add_event_handler("message", self.on_message)
        # slixmpp's "message" event needs a <body>; XEP-0353 messages have none.
        self.register_handler(Callback("jmi", MatchXPath(f"{{{ns}}}message"), self.on_jmi))
        self.register_handler(Callback("jingle", MatchXPath(f"{{{ns}}}iq/{{{JINGLE_NS}}}jingle"), self.on_jingle))

    def on_ready(self, _event):
        if self.ready_path:
            with open(self.ready_path, "w", encoding="utf-8") as ready:
                ready.write("ready\n")

    # -- XEP-0030 and XEP-0100 ------------------------------------------------

    def on_disco(self, iq):
        if iq["type"] != "get":
            return
        reply = iq.reply(clear=True)
        query = ET.SubElement(reply.xml, f"{{{DISCO_INFO}}}query")
        node_to = iq["to"]
        node = iq.xml.find(f"{{{DISCO_INFO}}}query").get("node")
        names = dict(COMMANDS)
        if not node_to.user and node in names:
            # XEP-0050 2.3: a command node describes itself.
            query.set("node", node)
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="automation", type="command-node",
                          name=names[node])
            for feature in (COMMANDS_NS, DATA_NS):
                ET.SubElement(query, f"{{{DISCO_INFO}}}feature", var=feature)
            reply.send()
            return
        if node_to.user:
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="client", type="sms", name="Phone number")
        else:
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="gateway", type="sms", name="Simulated SMS gateway")
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="gateway", type="pstn", name="Simulated voice gateway")
        features = [DISCO_INFO, GATEWAY_NS, "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:audio"]
        if media is not None and E164.match(node_to.user or ""):
            # A phone number answers calls the way JMP's bridge does: Jingle RTP over
            # ICE-UDP/DTLS, no trickle (RFC 3264: every candidate in the offer/answer).
            features += [f for f in PHONE_FEATURES if f not in features]
        if not node_to.user:
            features.append(COMMANDS_NS)
        for feature in features:
            ET.SubElement(query, f"{{{DISCO_INFO}}}feature", var=feature)
        reply.send()

    def on_gateway(self, iq):
        reply = iq.reply(clear=True)
        query = ET.SubElement(reply.xml, f"{{{GATEWAY_NS}}}query")
        if iq["type"] == "get":
            ET.SubElement(query, f"{{{GATEWAY_NS}}}desc").text = "Enter a phone number to text"
            ET.SubElement(query, f"{{{GATEWAY_NS}}}prompt").text = "Phone number"
            reply.send()
            return
        prompt = iq.xml.find(f"{{{GATEWAY_NS}}}query/{{{GATEWAY_NS}}}prompt")
        number = normalise(prompt.text if prompt is not None else "")
        if number is None or not number.startswith("+1"):
            error = iq.reply(clear=True)
            error["type"] = "error"
            error["error"]["type"] = "modify"
            error["error"]["condition"] = "not-acceptable"
            error["error"]["text"] = "This gateway does not serve that number"
            error.send()
            return
        ET.SubElement(query, f"{{{GATEWAY_NS}}}jid").text = f"{number}@{self.boundjid.bare}"
        reply.send()

    # -- XEP-0050 ad-hoc commands, like JMP's account bot ------------------------

    def on_items(self, iq):
        if iq["type"] != "get":
            return
        node = iq.xml.find(f"{{{DISCO_ITEMS}}}query").get("node")
        reply = iq.reply(clear=True)
        query = ET.SubElement(reply.xml, f"{{{DISCO_ITEMS}}}query")
        if node:
            query.set("node", node)
        if node == COMMANDS_NS and not iq["to"].user:
            for command, name in COMMANDS:
                ET.SubElement(query, f"{{{DISCO_ITEMS}}}item", jid=self.boundjid.bare, node=command, name=name)
        reply.send()

    def on_command(self, iq):
        if iq["type"] != "set":
            return
        command = iq.xml.find(f"{{{COMMANDS_NS}}}command")
        node, sessionid = command.get("node"), command.get("sessionid")
        action = command.get("action") or "execute"
        if iq["to"].user or node not in dict(COMMANDS):
            self.command_error(iq, "cancel", "item-not-found")
            return
        if action not in ("execute", "next", "prev", "complete", "cancel"):
            self.command_error(iq, "modify", "bad-request", "malformed-action")
            return
        form = command.find(f"{{{DATA_NS}}}x")
        values = form_values(form) if form is not None and form.get("type", "submit") == "submit" else None
        if sessionid is None:
            if action != "execute":
                self.command_error(iq, "modify", "bad-request", "bad-action")
            elif node == "balance":
                self.command_balance(iq)
            else:
                session = CommandSession(uuid.uuid4().hex, node, iq["from"])
                self.command_sessions[session.sid] = session
                self.command_reply(iq, session, "executing", account_form(session.values), actions=("next",))
            return
        session = self.command_sessions.get(sessionid)
        if session is None or session.node != node or session.owner != iq["from"]:
            self.command_error(iq, "modify", "bad-request", "bad-sessionid")
            return
        self.record({"type": "command", "node": node, "action": action, "values": values or {},
                     "sessionid": sessionid, "from": str(iq["from"])})
        if action == "cancel":
            del self.command_sessions[sessionid]
            self.command_reply(iq, session, "canceled")
            return
        if action == "execute":
            action = "next" if session.step == 1 else "complete"
        if session.step == 1 and action == "next":
            if values:
                session.values.update(values)
            pin = session.values.get("pin", [])
            if len(pin) != 1 or not re.fullmatch(r"\d{4}", pin[0]):
                session.values["pin"] = []
                self.command_reply(iq, session, "executing", account_form(session.values), actions=("next",),
                                   notes=[("error", "PIN must be 4 digits")])
                return
            session.step = 2
            self.command_reply(iq, session, "executing", summary_form(session.values), actions=("prev", "complete"))
        elif session.step == 2 and action == "prev":
            session.step = 1
            self.command_reply(iq, session, "executing", account_form(session.values), actions=("next",))
        elif session.step == 2 and action == "complete":
            if not is_true((values or {}).get("confirm")):
                self.command_reply(iq, session, "executing", summary_form(session.values),
                                   actions=("prev", "complete"), notes=[("error", "Tick confirm to save, or cancel")])
                return
            del self.command_sessions[sessionid]
            self.command_reply(iq, session, "completed", result_form(session.values), notes=[("info", "Saved")])
        else:
            self.command_error(iq, "modify", "bad-request", "bad-action")

    def command_balance(self, iq):
        reply = iq.reply(clear=True)
        command = ET.SubElement(reply.xml, f"{{{COMMANDS_NS}}}command", node="balance",
                                sessionid=uuid.uuid4().hex, status="completed")
        ET.SubElement(command, f"{{{COMMANDS_NS}}}note", type="info").text = "Your balance is $4.20"
        oob = ET.SubElement(command, f"{{{OOB_NS}}}x")
        ET.SubElement(oob, f"{{{OOB_NS}}}url").text = "https://example.invalid/topup"
        ET.SubElement(oob, f"{{{OOB_NS}}}desc").text = "Top up"
        reply.send()

    def command_reply(self, iq, session, status, form=None, actions=(), notes=()):
        reply = iq.reply(clear=True)
        command = ET.SubElement(reply.xml, f"{{{COMMANDS_NS}}}command", node=session.node,
                                sessionid=session.sid, status=status)
        if actions:
            element = ET.SubElement(command, f"{{{COMMANDS_NS}}}actions", execute=actions[-1])
            for action in actions:
                ET.SubElement(element, f"{{{COMMANDS_NS}}}{action}")
        for kind, text in notes:
            ET.SubElement(command, f"{{{COMMANDS_NS}}}note", type=kind).text = text
        if form is not None:
            command.append(form)
        reply.send()

    def command_error(self, iq, kind, condition, specific=None):
        error = iq.reply(clear=True)
        error["type"] = "error"
        error["error"]["type"] = kind
        error["error"]["condition"] = condition
        if specific:
            error["error"].xml.append(ET.Element(f"{{{COMMANDS_NS}}}{specific}"))
        error.send()

    # -- Messages ---------------------------------------------------------------

    def on_message(self, msg):
        to = msg["to"]
        if to.user == "control":
            self.on_control(msg)
            return
        if msg["type"] == "error" or not msg["body"]:
            return
        if any(child.tag.startswith(f"{{{JMI_NS}}}") for child in msg.xml):
            return  # call signalling with a fallback body: on_jmi's
        numbers = to.user.split(",")
        self.record({"to": to.bare, "from": msg["from"].bare, "body": msg["body"], "delivered_to": numbers,
                     "id": msg["id"]})
        if len(numbers) == 1:
            self.send_text(msg["from"].bare, to.bare, f"Echo: {msg['body']}")
        else:
            # The first participant answers the group, as a person there would.
            self.send_group(msg["from"].bare, numbers, numbers[0], f"Got it: {msg['body']}")

    def on_control(self, msg):
        try:
            order = json.loads(msg["body"])
            op = order["op"]
            if op == "hangup":
                ended = [call for call in self.calls.values() if call.number == order["number"]]
                for call in ended:
                    asyncio.ensure_future(self.hang_up(call, "success"))
                msg.reply(f"ok: {len(ended)} call(s)").send()
                return
            to = order["to"]
            if op == "sms":
                self.send_text(to, self.phone(order["from"]), order["body"])
            elif op == "group":
                self.send_group(to, order["participants"], order["from"], order["body"])
            elif op in ("voicemail", "mms"):
                body = order.get("body") or order["url"]
                self.send_text(to, self.phone(order["from"]), body, subject=order.get("subject"),
                               url=order["url"], url_desc=order.get("desc"))
            elif op == "missed-call":
                self.missed_call(to, self.phone(order["from"]))
            else:
                raise ValueError(f"unknown op {op}")
            msg.reply("ok").send()
        except Exception as error:  # the control channel reports, never crashes the gateway
            msg.reply(f"error: {error}").send()

    def phone(self, number):
        return f"{number}@{self.boundjid.bare}"

    def send_text(self, to, sender, body, subject=None, url=None, url_desc=None):
        message = self.make_message(mto=to, mfrom=sender, mbody=body, mtype="chat")
        if subject:
            message["subject"] = subject
        if url:
            oob = ET.SubElement(message.xml, f"{{{OOB_NS}}}x")
            ET.SubElement(oob, f"{{{OOB_NS}}}url").text = url
            if url_desc:
                ET.SubElement(oob, f"{{{OOB_NS}}}desc").text = url_desc
        message["id"] = str(uuid.uuid4())
        message.send()

    def send_group(self, to, participants, sender, body):
        group = ",".join(sorted(participants))
        prefix = f"<xmpp:{sender}@{self.boundjid.bare}> "
        message = self.make_message(mto=to, mfrom=f"{group}@{self.boundjid.bare}", mbody=prefix + body, mtype="chat")
        fallback = ET.SubElement(message.xml, f"{{{FALLBACK_NS}}}fallback")
        ET.SubElement(fallback, f"{{{FALLBACK_NS}}}body", start="0", end=str(len(prefix)))
        addresses = ET.SubElement(message.xml, f"{{{ADDRESS_NS}}}addresses")
        ET.SubElement(addresses, f"{{{ADDRESS_NS}}}address", type="ofrom", jid=f"{sender}@{self.boundjid.bare}")
        for number in sorted(participants):
            ET.SubElement(addresses, f"{{{ADDRESS_NS}}}address", type="to", jid=f"{number}@{self.boundjid.bare}")
        message["id"] = str(uuid.uuid4())
        message.send()

    def missed_call(self, to, caller):
        session = uuid.uuid4().hex
        for kind in ("propose", "retract"):
            message = self.make_message(mto=to, mfrom=f"{caller}/phone", mtype="chat")
            element = ET.SubElement(message.xml, f"{{{JMI_NS}}}{kind}", id=session)
            if kind == "propose":
                ET.SubElement(element, "{urn:xmpp:jingle:apps:rtp:1}description", media="audio")
            ET.SubElement(message.xml, "{urn:xmpp:hints}store")
            message["id"] = f"jm-{kind}-{session}"
            message.send()

    # -- Voice calls (XEP-0353, then XEP-0166/0167/0176/0320) ----------------------------------

    def on_jmi(self, msg):
        if msg["type"] == "error" or msg.xml.find("{urn:xmpp:delay}delay") is not None:
            return  # bounces, and offline storage from an earlier call
        for element in msg.xml:
            if not element.tag.startswith(f"{{{JMI_NS}}}"):
                continue
            action, sid = element.tag.split("}")[1], element.get("id")
            if not sid:
                continue
            if action == "propose":
                self.on_propose(msg, sid)
                continue
            call = self.calls.get(sid)
            if call is None or call.caller != msg["from"]:
                continue
            if action in ("retract", "finish") and not call.initiated:
                # The caller gave up before its session-initiate arrived.
                self.end_call(call, media_reason(element) or "cancel", by="caller")

    def on_propose(self, msg, sid):
        caller, to = msg["from"], msg["to"]
        if sid in self.calls or not caller.resource:
            return  # a copy of a propose we already have, or nobody to ring back
        number = to.user
        if not number:
            return  # the gateway itself takes no calls
        if msg.xml.find("{urn:xmpp:receipts}request") is not None and msg["id"]:
            receipt = self.make_message(mto=caller, mfrom=to.bare)
            ET.SubElement(receipt.xml, "{urn:xmpp:receipts}received", id=msg["id"])
            receipt.send()
        phone = f"{number}@{self.boundjid.bare}/{VOICE_RESOURCE}"
        entry = {"type": "call", "number": number, "caller": str(caller)}
        self.record({**entry, "state": "proposed", "sid": sid})
        reason = None
        if media is None:
            reason = ("failed-application", f"voice is not available here ({MEDIA_ERROR})")
        elif not E164.match(number or ""):
            reason = ("failed-application", "not a phone number")
        elif not NORTH_AMERICAN.match(number):
            reason = ("failed-application", "number not served")
        elif number == BUSY_NUMBER:
            reason = ("busy", None)
        elif not any(d.get("media") == "audio" for d in element_children(msg, JMI_NS, "propose", RTP_NS, "description")):
            reason = ("failed-application", "this number takes voice calls only")
        if reason is not None:
            self.jmi_send(phone, caller, "reject", sid, *reason)
            self.record({**entry, "state": "rejected", "reason": reason[0], "sid": sid})
            return
        call = Call(self, sid, number, caller, phone)
        self.calls[sid] = call
        self.jmi_send(phone, caller, "ringing", sid)
        call.timer = self.loop.call_later(self.answer_delay, self.proceed, call)

    def proceed(self, call):
        if call.ended:
            return
        call.proceeded = True
        self.jmi_send(call.phone, call.caller, "proceed", call.sid)
        # The caller now sends its session-initiate; a caller that never does is forgotten.
        call.timer = self.loop.call_later(30, lambda: asyncio.ensure_future(self.hang_up(call, "timeout")))

    def jmi_send(self, sender, to, action, sid, condition=None, text=None):
        message = self.make_message(mto=to, mfrom=sender, mtype="chat")
        element = ET.SubElement(message.xml, f"{{{JMI_NS}}}{action}", id=sid)
        if condition:
            element.append(jingle_reason(condition, text))
        ET.SubElement(message.xml, "{urn:xmpp:hints}store")
        message["id"] = str(uuid.uuid4())
        message.send()

    def on_jingle(self, iq):
        if iq["type"] != "set":
            return  # results and errors of our own sets are slixmpp's
        jingle = iq.xml.find(f"{{{JINGLE_NS}}}jingle")
        action, sid = jingle.get("action"), jingle.get("sid")
        call = self.calls.get(sid)
        if call is None and action == "session-initiate" and media is not None:
            call = self.direct_call(iq, sid)  # Jingle without XEP-0353 first
            if call is None:
                return
        if call is None or call.caller != iq["from"] or iq["to"].bare != call.phone.bare:
            self.jingle_error(iq, "cancel", "item-not-found", "unknown-session")
            return
        if action == "session-initiate" and call.initiated:
            self.jingle_error(iq, "cancel", "bad-request", "out-of-order")
            return
        if action == "session-initiate":
            call.initiated = True
            call.phone = iq["to"]  # answer from the resource the caller chose
            if call.timer is not None:
                call.timer.cancel()
        iq.reply(clear=True).send()  # every Jingle set is acknowledged at once
        call.queue.put_nowait((action, jingle))

    def direct_call(self, iq, sid):
        number, caller = iq["to"].user, iq["from"]
        if not (number and NORTH_AMERICAN.match(number)) or number == BUSY_NUMBER or not caller.resource:
            iq.reply(clear=True).send()
            condition = "busy" if number == BUSY_NUMBER else "failed-application"
            terminate = self.make_iq_set(ito=caller, ifrom=iq["to"])
            ET.SubElement(terminate.xml, f"{{{JINGLE_NS}}}jingle", action="session-terminate", sid=sid).append(
                jingle_reason(condition, None if condition == "busy" else "number not served"))
            terminate.send()
            self.record({"type": "call", "number": number, "caller": str(caller), "state": "rejected",
                         "reason": condition, "sid": sid})
            return None
        call = Call(self, sid, number, caller, iq["to"])
        self.calls[sid] = call
        return call

    def jingle_error(self, iq, kind, condition, jingle_condition):
        error = iq.reply(clear=True)
        error["type"] = "error"
        error["error"]["type"] = kind
        error["error"]["condition"] = condition
        error["error"].xml.append(ET.Element(f"{{{JINGLE_ERRORS_NS}}}{jingle_condition}"))
        error.send()

    async def call_worker(self, call):
        # One Jingle action at a time, in arrival order: a transport-info must not overtake
        # the session-initiate whose remote description it needs.
        while not call.ended:
            action, jingle = await call.queue.get()
            try:
                await self.handle_jingle(call, action, jingle)
            except Exception as error:  # a broken call ends; the gateway keeps running
                logging.exception("call %s", call.sid)
                await self.hang_up(call, "failed-application", f"{type(error).__name__}: {error}")

    async def handle_jingle(self, call, action, jingle):
        contents = [media.parse_content(c) for c in jingle.findall(f"{{{JINGLE_NS}}}content")]
        if action == "session-initiate":
            await self.answer(call, contents)
        elif action == "transport-info":
            for content in contents:
                call.record("transport-info", candidates=len(content["candidates"]))
                await call.add_candidates(content)
        elif action == "session-terminate":
            self.end_call(call, media.reason_of(jingle) or "success", by="caller")

    async def answer(self, call, contents):
        audio = [c for c in contents if c["media"] == "audio"]
        call.record("call", state="initiated", candidates=sum(len(c["candidates"]) for c in contents))
        if not audio or not any(p["name"].lower() == "opus" for p in audio[0]["payload_types"]):
            await self.hang_up(call, "failed-application" if audio else "unsupported-applications",
                               "the bridge speaks Opus audio")
            return
        offer = audio[0]
        call.pc = pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTrack(call.tone)
        call.rtp.attach(pc)
        pc.on("track", lambda track: asyncio.ensure_future(media.listen(
            track, lambda frequency, ratio: call.record("heard", frequency=frequency, ratio=ratio))))
        pc.on("connectionstatechange", lambda: asyncio.ensure_future(self.on_media_state(call)))
        call.rtp.negotiated(offer)
        await pc.setRemoteDescription(RTCSessionDescription(media.remote_sdp(offer, remote_is_initiator=True), "offer"))
        call.rtp.attach(pc)
        call.remote_set = True
        pending, call.pending = call.pending, []
        for content in pending:
            await call.add_candidates(content)
        await pc.setLocalDescription(await pc.createAnswer())  # gathers every candidate first
        call.rtp.attach(pc)
        if call.ended:
            return
        local = media.local_media(pc)
        local["name"] = offer["name"]
        # Like JMP's bridge: setup active, every candidate inside the accept, no transport-info.
        await self.send_jingle(call, "session-accept", media.content_element(local, local["candidates"]))

    async def on_media_state(self, call):
        state = call.pc.connectionState if call.pc is not None else "closed"
        if state == "connected" and not call.connected:
            call.connected = True
            call.record("call", state="connected")
            call.limit = self.loop.call_later(self.call_limit, lambda: asyncio.ensure_future(
                self.hang_up(call, "success", "call limit reached")))
        elif state == "failed":
            await self.hang_up(call, "connectivity-error", "ICE/DTLS failed")

    async def send_jingle(self, call, action, *children):
        iq = self.make_iq_set(ito=call.caller, ifrom=call.phone)
        jingle = ET.SubElement(iq.xml, f"{{{JINGLE_NS}}}jingle", action=action, sid=call.sid)
        if action == "session-accept":
            jingle.set("responder", str(call.phone))
        for child in children:
            jingle.append(child)
        await iq.send(timeout=10)

    async def hang_up(self, call, condition, text=None):
        if call.ended:
            return
        if call.initiated:
            try:
                await self.send_jingle(call, "session-terminate", jingle_reason(condition, text))
            except Exception:  # the caller may be gone already
                pass
        else:
            self.jmi_send(call.phone, call.caller, "finish" if call.proceeded else "reject", call.sid, condition, text)
        self.end_call(call, condition, by="gateway")

    def end_call(self, call, reason, by):
        if call.ended:
            return
        call.ended = True
        for timer in (call.timer, call.limit):
            if timer is not None:
                timer.cancel()
        self.calls.pop(call.sid, None)
        call.record("call", state="ended", reason=reason, by=by)
        if call.worker is not None and call.worker is not asyncio.current_task():
            call.worker.cancel()
        if call.pc is not None:
            asyncio.ensure_future(call.pc.close())

    def record(self, entry):
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")


class Call:
    """One call to a phone number, from the propose (or a bare session-initiate) to the end."""

    def __init__(self, gateway, sid, number, caller, phone):
        self.gateway, self.sid, self.number, self.caller = gateway, sid, number, caller
        self.phone = JID(phone)
        self.pc = self.timer = self.limit = None
        self.proceeded = self.initiated = self.connected = self.ended = self.remote_set = False
        self.pending = []  # caller candidates that came before its session-initiate was applied
        self.queue = asyncio.Queue()
        self.tone = media.Tone(PROMPT_TONE)
        self.menu_timer = None
        self.rtp = media.RtpStream(on_dtmf=lambda digit, **_: self.on_digit(digit))
        self.worker = asyncio.ensure_future(gateway.call_worker(self))

    def record(self, kind, **fields):
        self.gateway.record({"type": kind, "number": self.number, "caller": str(self.caller), **fields,
                             "sid": self.sid})

    def on_digit(self, digit):
        """The voice menu reacts: a tone of the digit's own for a moment, then the prompt again;
        with --menu-texts (the demo, where there may be no sound card to hear it) also a text."""
        self.record("dtmf", digit=digit)
        frequency = MENU_TONES.get(digit, MENU_OTHER_TONE)
        self.tone.frequency = frequency
        self.record("menu", digit=digit, tone=frequency)
        if self.menu_timer is not None:
            self.menu_timer.cancel()
        self.menu_timer = self.gateway.loop.call_later(MENU_ANSWER_SECONDS, self.prompt_again)
        if self.gateway.menu_texts:
            choice = MENU_CHOICES.get(digit, "that is not on the menu; try 1, 2, 3 or 0")
            self.gateway.send_text(self.caller.bare, self.phone.bare,
                                   f"(voice menu) You pressed {digit}: {choice}.")

    def prompt_again(self):
        self.menu_timer = None
        self.tone.frequency = PROMPT_TONE

    async def add_candidates(self, content):
        if not self.remote_set:
            self.pending.append(content)
            return
        for c in media.usable_candidates(content):
            candidate = candidate_from_sdp(media.candidate_sdp(c))
            candidate.sdpMid = content["name"]
            await self.pc.addIceCandidate(candidate)


class CommandSession:
    """One run of the account command: whose it is, which step it is at, what it holds."""

    def __init__(self, sid, node, owner):
        self.sid, self.node, self.owner = sid, node, owner
        self.step = 1
        self.values = {var: list(values) for var, values in ACCOUNT_DEFAULTS.items()}


# var -> (type, label, options); None for fields without one.
ACCOUNT_FIELDS = [
    ("nickname", "text-single", "Display name", None),
    ("pin", "text-private", "Voicemail PIN", None),
    ("voicemail", "boolean", "Voicemail on", None),
    ("forward", "list-single", "Forward calls to",
     [("none", "Don't forward"), ("sip", "SIP address"), ("phone", "Another phone")]),
    ("notify", "list-multi", "Notify me by", [("sms", None), ("email", None), ("xmpp", None)]),
    ("greeting", "text-multi", "Greeting", None),
    ("sipjid", "jid-single", "SIP JID", None),
    ("allowed", "jid-multi", "Allowed callers", None),
]
ACCOUNT_LABELS = {var: label for var, _, label, _ in ACCOUNT_FIELDS}
ACCOUNT_DEFAULTS = {
    "nickname": ["Alice"], "pin": [], "voicemail": ["1"], "forward": ["none"], "notify": ["xmpp"],
    "greeting": ["Hi, this is Alice.", "Leave a message after the tone."], "sipjid": [], "allowed": [],
}


def data_form(kind, title=None, instructions=None):
    form = ET.Element(f"{{{DATA_NS}}}x", type=kind)
    if title:
        ET.SubElement(form, f"{{{DATA_NS}}}title").text = title
    if instructions:
        ET.SubElement(form, f"{{{DATA_NS}}}instructions").text = instructions
    return form


def data_field(parent, var=None, kind=None, label=None, values=(), options=None, required=False, desc=None):
    field = ET.SubElement(parent, f"{{{DATA_NS}}}field")
    for name, value in (("var", var), ("type", kind), ("label", label)):
        if value is not None:
            field.set(name, value)
    if desc:
        ET.SubElement(field, f"{{{DATA_NS}}}desc").text = desc
    if required:
        ET.SubElement(field, f"{{{DATA_NS}}}required")
    for value in values:
        ET.SubElement(field, f"{{{DATA_NS}}}value").text = value
    for value, option_label in options or []:
        option = ET.SubElement(field, f"{{{DATA_NS}}}option")
        if option_label:
            option.set("label", option_label)
        ET.SubElement(option, f"{{{DATA_NS}}}value").text = value
    return field


def account_form(values):
    """Step 1: a field of every XEP-0004 type, prefilled with `values`."""
    form = data_form("form", "Account settings", "Choose how calls reach you")
    data_field(form, kind="fixed", values=[f"Settings for {ACCOUNT_NUMBER}"])
    data_field(form, "step", "hidden", values=["1"])
    for var, kind, label, options in ACCOUNT_FIELDS:
        data_field(form, var, kind, label, values.get(var, []), options, required=(var == "pin"),
                   desc="Four digits" if var == "pin" else None)
    return form


def summary_form(values):
    """Step 2: what was submitted, as fixed lines, and a confirm box."""
    form = data_form("form", "Confirm account settings", "Check these, then complete to save")
    for var, kind, label, _ in ACCOUNT_FIELDS:
        shown = values.get(var, [])
        if kind == "text-private":
            shown = ["\u2022" * len(v) for v in shown]
        elif kind == "boolean":
            shown = ["yes" if is_true(shown) else "no"]
        text = " / ".join(shown) if kind == "text-multi" else ", ".join(shown)
        data_field(form, kind="fixed", values=[f"{label}: {text or '(none)'}"])
    data_field(form, "step", "hidden", values=["2"])
    data_field(form, "confirm", "boolean", "Save these settings", ["0"])
    return form


def result_form(values):
    """The end: the saved values, and the notify channels as a reported/item table."""
    form = data_form("result", "Account settings saved")
    for var, kind, label, _ in ACCOUNT_FIELDS:
        if var == "notify":
            continue
        shown = values.get(var, [])
        if kind == "boolean":
            shown = ["1" if is_true(shown) else "0"]
        data_field(form, var, kind, label, shown)
    reported = ET.SubElement(form, f"{{{DATA_NS}}}reported")
    data_field(reported, "channel", label="Channel")
    for channel in values.get("notify", []):
        item = ET.SubElement(form, f"{{{DATA_NS}}}item")
        data_field(item, "channel", values=[channel])
    return form


def form_values(form):
    """A submitted form's fields: var -> [values]."""
    return {field.get("var"): [value.text or "" for value in field.findall(f"{{{DATA_NS}}}value")]
            for field in form.findall(f"{{{DATA_NS}}}field") if field.get("var")}


def is_true(values):
    return bool(values) and values[0].strip().lower() in ("1", "true")


def jingle_reason(condition, text=None):
    reason = ET.Element(f"{{{JINGLE_NS}}}reason")
    ET.SubElement(reason, f"{{{JINGLE_NS}}}{condition}")
    if text:
        ET.SubElement(reason, f"{{{JINGLE_NS}}}text").text = text
    return reason


def media_reason(element):
    reason = element.find(f"{{{JINGLE_NS}}}reason")
    names = [c.tag.split("}")[-1] for c in (reason if reason is not None else [])]
    return next((n for n in names if n != "text"), None)


def element_children(msg, ns, name, child_ns, child_name):
    parent = msg.xml.find(f"{{{ns}}}{name}")
    return [] if parent is None else parent.findall(f"{{{child_ns}}}{child_name}")


def normalise(text):
    digits = re.sub(r"[^\d+]", "", text or "")
    if not digits:
        return None
    if not digits.startswith("+"):
        digits = digits.lstrip("0")
        if len(digits) == 10:
            digits = "+1" + digits
        elif len(digits) == 11 and digits.startswith("1"):
            digits = "+" + digits
        else:
            return None
    return digits if E164.match(digits) else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", default=None, help="JSON lines of what the gateway received")
    parser.add_argument("--ready", default=None, help="a file written once the server accepted the component")
    parser.add_argument("--answer-delay", type=float, default=0.3, help="s from <ringing> to <proceed>")
    parser.add_argument("--call-limit", type=float, default=300, help="the far end hangs up after S s connected")
    parser.add_argument("--menu-texts", action="store_true",
                        help="the voice menu also answers each digit with a text (for the demo)")
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    gateway = Gateway(args.jid, args.secret, args.host, args.port, args.log, args.ready,
                      answer_delay=args.answer_delay, call_limit=args.call_limit, menu_texts=args.menu_texts)
    gateway.connect()
    gateway.loop.run_until_complete(gateway.disconnected)


if __name__ == "__main__":
    main()
