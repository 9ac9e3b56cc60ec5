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
Everything the gateway receives for a phone JID is appended to the --log file as JSON lines
({"to": …, "from": …, "body": …, "delivered_to": [numbers]}), so tests can see what "reached" whom.
"""
import argparse
import json
import logging
import re
import uuid

from slixmpp import ComponentXMPP
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

GATEWAY_NS = "jabber:iq:gateway"
DISCO_INFO = "http://jabber.org/protocol/disco#info"
ADDRESS_NS = "http://jabber.org/protocol/address"
FALLBACK_NS = "urn:xmpp:fallback:0"
OOB_NS = "jabber:x:oob"
JMI_NS = "urn:xmpp:jingle-message:0"
E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class Gateway(ComponentXMPP):
    def __init__(self, jid, secret, host, port, log_path, ready_path=None):
        super().__init__(jid, secret, host, port)
        self.log_path = log_path
        self.ready_path = ready_path
        self.add_event_handler("session_start", self.on_ready)
        ns = self.default_ns
        self.register_handler(Callback("gateway", MatchXPath(f"{{{ns}}}iq/{{{GATEWAY_NS}}}query"), self.on_gateway))
        self.register_handler(Callback("disco", MatchXPath(f"{{{ns}}}iq/{{{DISCO_INFO}}}query"), self.on_disco))
        self.add_event_handler("message", self.on_message)

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
        if node_to.user:
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="client", type="sms", name="Phone number")
        else:
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="gateway", type="sms", name="Simulated SMS gateway")
            ET.SubElement(query, f"{{{DISCO_INFO}}}identity", category="gateway", type="pstn", name="Simulated voice gateway")
        for feature in (DISCO_INFO, GATEWAY_NS, "urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:audio"):
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

    # -- Messages ---------------------------------------------------------------

    def on_message(self, msg):
        to = msg["to"]
        if to.user == "control":
            self.on_control(msg)
            return
        if msg["type"] == "error" or not msg["body"]:
            return
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

    def record(self, entry):
        if self.log_path:
            with open(self.log_path, "a", encoding="utf-8") as log:
                log.write(json.dumps(entry) + "\n")


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
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    gateway = Gateway(args.jid, args.secret, args.host, args.port, args.log, args.ready)
    gateway.connect()
    gateway.loop.run_until_complete(gateway.disconnected)


if __name__ == "__main__":
    main()
