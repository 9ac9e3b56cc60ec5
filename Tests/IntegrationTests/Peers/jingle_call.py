"""The XMPP half of Dialtone's independent call peers: slixmpp, XEP-0353 Jingle Message
Initiation, XEP-0166/0167 RTP audio over XEP-0176 ICE-UDP with XEP-0320 DTLS fingerprints.

Two media stacks plug into it: aiortc (jingle_peer.py, as Conversations joins Jingle to
libwebrtc) and GStreamer's webrtcbin with libnice (gst_jingle_peer.py, Dino's stack). A stack
subclasses CallPeer and provides

  async media_start()                      build the peer connection, our tone on it
  async media_offer() -> local             our offer, candidates gathered (jingle_sdp data)
  async media_answer(offer, candidates) -> local
                                           take the remote offer, answer it
  async media_accept(answer, candidates)   take the remote answer
  async media_candidates(content, candidates)
                                           more remote candidates (trickled)
  async media_dtmf(digits)                 send RFC 4733 digits (emit "dtmf-sent" each)
  async media_close()

and calls self.media_state("connected" | "failed") and emits "heard" and "dtmf" itself.
Remote candidates reach it filtered (component 1 unless no rtcp-mux, loopback only) and each
transport address once: duplicates are dropped and reported as "duplicate-candidate" events,
since libnice aborts on them and a test must notice a peer (Dialtone) that sends them.

Output: one JSON object per line on stdout, "event" plus fields (see jingle_peer.py).
"""
import argparse
import asyncio
import json
import logging
import os
import secrets
import sys

import slixmpp
from slixmpp.xmlstream import ET
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "Scripts", "peers"))
from jingle_sdp import (DTMF_DIGITS, FEATURES, NO_TRICKLE, NS_ERRORS, NS_JINGLE,  # noqa: E402
                        NS_JMI, NS_RTP, CandidateFilter, content_element, describe,
                        parse_content, q, reason_element, reason_of, usable_candidates)


def emit(event, **fields):
    print(json.dumps({"event": event, **fields}), flush=True)


class CallPeer(slixmpp.ClientXMPP):
    name = "jingle_peer"

    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.done = self.loop.create_future()
        self.sid = self.peer = None
        self.media = False  # a peer connection exists
        self.answered = self.connected = False
        self.remote_set = False
        self.pending = []  # remote candidates that came before the remote description
        self.candidates = CandidateFilter(on_duplicate=lambda c, first: emit(
            "duplicate-candidate", ip=c.get("ip"), port=c.get("port"),
            component=c.get("component", "1"), type=c.get("type"), first_type=first.get("type")))
        self.jingle_queue = asyncio.Queue()
        self.worker = None
        self.trickle = args.candidates == "trickle" and not args.no_trickle
        self.register_plugin("xep_0030")
        self.register_plugin("xep_0115", {"caps_node": f"https://dialtone.test/{self.name}"})
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.finish(1, "authentication failed"))
        # slixmpp's "message" event needs a <body>; JMI messages have none.
        self.register_handler(Callback("jmi", MatchXPath(f"{{{self.default_ns}}}message"),
                                       self.on_message))
        self.register_handler(Callback("jingle", MatchXPath(
            f"{{{self.default_ns}}}iq/{{{NS_JINGLE}}}jingle"), self.on_jingle))

    # -- what a media stack provides ---------------------------------------------------------
    async def media_start(self):
        raise NotImplementedError

    async def media_offer(self):
        raise NotImplementedError

    async def media_answer(self, offer, candidates):
        raise NotImplementedError

    async def media_accept(self, answer, candidates):
        raise NotImplementedError

    async def media_candidates(self, content, candidates):
        raise NotImplementedError

    async def media_dtmf(self, digits):
        raise NotImplementedError

    async def media_close(self):
        pass

    def media_state(self, state):
        """Called by the stack, on the asyncio loop, when the connection is up or has failed."""
        asyncio.ensure_future(self.guard(self.on_state(state)))

    # -- session ----------------------------------------------------------------------------
    def finish(self, code, error=None):
        if error:
            emit("error", message=error)
        if not self.done.done():
            self.done.set_result(code)

    async def on_start(self, _event):
        # Disco data is kept per JID, so it is added once the full JID is bound.
        disco = self.plugin["xep_0030"]
        await disco.add_identity("client", "phone", name=self.name)
        for feature in FEATURES + ([NO_TRICKLE] if self.args.no_trickle else []):
            await disco.add_feature(feature)
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        self.send_presence()
        await self.get_roster()
        emit("ready", jid=str(self.boundjid))
        self.worker = asyncio.ensure_future(self.jingle_worker())
        if self.args.mode == "call":
            self.sid = secrets.token_hex(8)
            msg = self.jmi_message(self.args.to, "propose")
            ET.SubElement(msg.xml.find(q(NS_JMI, "propose")), q(NS_RTP, "description"),
                          media="audio")
            msg.append(ET.Element("{urn:xmpp:receipts}request"))
            msg.send()
            emit("proposed", to=self.args.to, sid=self.sid)
            if self.args.retract_after is not None:
                await asyncio.sleep(self.args.retract_after)
                self.jmi_message(self.args.to, "retract", "cancel").send()
                emit("retract")
                await asyncio.sleep(0.3)  # let the stanza leave before disconnecting
                self.finish(0)

    # -- XEP-0353 ---------------------------------------------------------------------------
    def jmi_message(self, to, action, reason=None):
        msg = self.make_message(mto=to, mtype="chat")
        msg["id"] = secrets.token_hex(6)
        element = ET.SubElement(msg.xml, q(NS_JMI, action), id=self.sid)
        if reason:
            element.append(reason_element(reason))
        ET.SubElement(msg.xml, "{urn:xmpp:hints}store")
        return msg

    def on_message(self, msg):
        sender = msg["from"]
        if sender.bare == self.boundjid.bare:
            return  # our own accept/reject copies
        if msg.xml.find("{urn:xmpp:delay}delay") is not None:
            return  # offline storage from an earlier call, not a live one
        for element in msg.xml:
            if not element.tag.startswith(f"{{{NS_JMI}}}"):
                continue
            action, sid = element.tag.split("}")[1], element.get("id")
            if action == "propose" and self.args.mode == "answer":
                self.on_propose(msg, sender, sid)
            elif sid != self.sid:
                continue
            elif action == "ringing":
                emit("ringing")
            elif action == "proceed" and self.args.mode == "call" and self.peer is None:
                if self.args.retract_after is not None:
                    emit("proceed", **{"from": str(sender), "ignored": True})
                    continue
                self.peer = sender
                emit("proceed", **{"from": str(sender)})
                asyncio.ensure_future(self.guard(self.start_call()))
            elif action == "reject":
                emit("reject", reason=reason_of(element))
                self.finish(0)
            elif action == "retract":
                emit("retract", reason=reason_of(element))
                if not self.answered:
                    emit("missed")
                self.finish(0)
            elif action == "finish":
                emit("finish", reason=reason_of(element))

    def on_propose(self, msg, sender, sid):
        if self.sid is not None:
            return  # one call per run
        self.sid, self.peer = sid, sender
        emit("propose", **{"from": str(sender), "sid": sid})
        if msg.xml.find("{urn:xmpp:receipts}request") is not None and msg["id"]:
            receipt = self.make_message(mto=sender)
            ET.SubElement(receipt.xml, "{urn:xmpp:receipts}received", id=msg["id"])
            receipt.send()
        self.jmi_message(sender, "ringing").send()
        if self.args.reject or self.args.busy:
            reason = "busy" if self.args.busy else "decline"
            self.jmi_message(self.boundjid.bare, "reject", reason).send()
            self.jmi_message(sender, "reject", reason).send()
            emit("rejected", reason=reason)
            self.loop.call_later(0.3, self.finish, 0)
        elif not self.args.ignore:
            self.loop.call_later(self.args.answer_delay, self.accept)

    def accept(self):
        if self.done.done():
            return
        self.answered = True
        self.jmi_message(self.boundjid.bare, "accept").send()
        self.jmi_message(self.peer, "proceed").send()
        emit("accepted", sid=self.sid)

    # -- XEP-0166 ---------------------------------------------------------------------------
    def on_jingle(self, iq):
        jingle = iq.xml.find(q(NS_JINGLE, "jingle"))
        if iq["type"] != "set":
            return
        action, sid = jingle.get("action"), jingle.get("sid")
        fresh = (action == "session-initiate" and self.args.mode == "answer"
                 and not self.media and sid == (self.sid or sid))
        if sid != self.sid and not fresh:
            error = iq.reply()
            error["type"] = "error"
            error["error"]["type"] = "cancel"
            error["error"]["condition"] = "item-not-found"
            error["error"].xml.append(ET.Element(q(NS_ERRORS, "unknown-session")))
            error.send()
            return
        iq.reply().send()  # every Jingle set is acknowledged at once
        self.jingle_queue.put_nowait((iq["from"], action, jingle))

    async def jingle_worker(self):
        # One at a time, in arrival order: a transport-info must not overtake the
        # session-initiate/accept whose remote description it needs.
        while True:
            sender, action, jingle = await self.jingle_queue.get()
            await self.guard(self.handle_jingle(sender, action, jingle))

    async def handle_jingle(self, sender, action, jingle):
        contents = [parse_content(c) for c in jingle.findall(q(NS_JINGLE, "content"))]
        if action == "session-initiate":
            self.sid, self.peer, self.answered = jingle.get("sid"), sender, True
            emit("session-initiate", **describe(contents[0]))
            await self.answer_call(contents[0])
        elif action == "session-accept":
            emit("session-accept", **describe(contents[0]))
            if await self.acceptable(contents[0]):
                await self.media_accept(contents[0], self.remote_candidates(contents[0]))
                await self.remote_description_set()
        elif action == "transport-info":
            for content in contents:
                emit("transport-info", candidates=len(content["candidates"]),
                     components=sorted({int(c.get("component", 1))
                                        for c in content["candidates"]}),
                     types=sorted({c.get("type", "?") for c in content["candidates"]}))
                await self.add_candidates(content)
        elif action == "session-terminate":
            emit("terminated", reason=reason_of(jingle), by="peer")
            self.finish(0)

    async def acceptable(self, content):
        if not any(p["name"].lower() == "opus" for p in content["payload_types"]):
            await self.hang_up("failed-application", "no Opus offered")
            return False
        return True

    def remote_candidates(self, content):
        return self.candidates.fresh(usable_candidates(content))

    async def remote_description_set(self):
        self.remote_set = True
        pending, self.pending = self.pending, []
        for content in pending:
            await self.add_candidates(content)

    async def add_candidates(self, content):
        if not self.remote_set:
            self.pending.append(content)
            return
        fresh = self.remote_candidates(content)
        if fresh:
            await self.media_candidates(content, fresh)

    # -- the call -----------------------------------------------------------------------------
    async def on_state(self, state):
        if state == "connected" and not self.connected:
            self.connected = True
            emit("connected")
            if self.args.send_dtmf:
                asyncio.ensure_future(self.guard(self.dtmf_soon()))
            if self.args.mode == "call":
                await asyncio.sleep(self.args.duration)
                await self.hang_up("success")
        elif state == "failed":
            await self.hang_up("connectivity-error", "ICE/DTLS failed")

    async def dtmf_soon(self):
        await asyncio.sleep(self.args.dtmf_delay)
        await self.media_dtmf(self.args.send_dtmf)

    async def start_call(self):
        self.media = True
        await self.media_start()
        local = await self.media_offer()
        await self.send_jingle("session-initiate", local,
                               [] if self.trickle else local["candidates"])
        if self.args.component2:
            await self.send_fake_component2(local)
        if self.trickle:
            await self.send_trickle(local)

    async def answer_call(self, offer):
        self.media = True
        await self.media_start()
        if not await self.acceptable(offer):
            return
        local = await self.media_answer(offer, self.remote_candidates(offer))
        await self.remote_description_set()
        if self.done.done():
            return
        local["name"] = offer["name"]
        if self.args.component2:
            await self.send_fake_component2(local)
        await self.send_jingle("session-accept", local,
                               [] if self.trickle else local["candidates"])
        if self.trickle:
            await self.send_trickle(local)

    async def send_jingle(self, action, local=None, candidates=(), reason=None):
        iq = self.make_iq_set(ito=self.peer)
        jingle = ET.SubElement(iq.xml, q(NS_JINGLE, "jingle"), action=action, sid=self.sid)
        if action == "session-initiate":
            jingle.set("initiator", str(self.boundjid))
        elif action == "session-accept":
            jingle.set("responder", str(self.boundjid))
        if local is not None:
            jingle.append(content_element(local, candidates,
                                          description=action != "transport-info"))
        if reason:
            jingle.append(reason)
        await iq.send(timeout=10)

    async def send_trickle(self, local):
        for c in local["candidates"]:
            await self.send_jingle("transport-info", local, [c])

    async def send_fake_component2(self, local):
        # What a client without rtcp-mux would also send; the other side must ignore them.
        for c in local["candidates"]:
            fake = dict(c, component="2", id=secrets.token_hex(5), port=str(int(c["port"]) + 1),
                        priority=str(int(c["priority"]) - 1))
            await self.send_jingle("transport-info", local, [fake])

    async def hang_up(self, condition, error=None):
        if self.done.done():
            return
        await self.send_jingle("session-terminate", reason=reason_element(condition, error))
        if condition == "success":
            self.jmi_message(self.peer.bare, "finish", "success").send()
        emit("terminated", reason=condition, by="us")
        await asyncio.sleep(0.2)
        self.finish(0 if condition == "success" else 1, error)

    async def guard(self, coroutine):
        try:
            await coroutine
        except Exception as exc:  # report anything unexpected as an event, then stop
            self.finish(1, f"{type(exc).__name__}: {exc}")


def argument_parser(description):
    """The options both peers take; each adds its own before parse_arguments()."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--jid", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--port", type=int, default=25222)
    parser.add_argument("--ca-file", required=True)
    parser.add_argument("--tone", type=float, default=880)
    parser.add_argument("--duration", type=float, default=4)
    parser.add_argument("--answer-delay", type=float, default=0.2)
    parser.add_argument("--reject", action="store_true")
    parser.add_argument("--busy", action="store_true")
    parser.add_argument("--ignore", action="store_true")
    parser.add_argument("--retract-after", type=float)
    parser.add_argument("--candidates", choices=["trickle", "initiate"], default="trickle")
    parser.add_argument("--component2", action="store_true")
    parser.add_argument("--no-trickle", action="store_true")
    parser.add_argument("--send-dtmf", metavar="DIGITS", default="")
    parser.add_argument("--dtmf-delay", type=float, default=1, metavar="S",
                        help="seconds from connecting to the first digit sent")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--verbose", action="store_true", help="log stanzas to stderr")
    return parser


def parse_arguments(parser):
    sub = parser.add_subparsers(dest="mode", required=True)
    sub.add_parser("call").add_argument("to")
    sub.add_parser("answer")
    args = parser.parse_args()
    if any(d.upper() not in DTMF_DIGITS for d in args.send_dtmf):
        parser.error("--send-dtmf takes 0-9, *, #, A-D")
    if args.verbose:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    return args


def run(peer):
    """Connects (loopback only), runs the call flow to its end or the timeout, and exits."""
    args = peer.args
    peer.ca_certs = args.ca_file
    peer.connect(host="127.0.0.1", port=args.port)

    async def main():
        try:
            code = await asyncio.wait_for(asyncio.shield(peer.done), args.timeout)
        except asyncio.TimeoutError:
            emit("error", message=f"timeout after {args.timeout} s")
            code = 1
            try:  # do not leave the other side ringing or in a call
                if peer.media and peer.peer is not None:
                    await peer.send_jingle("session-terminate", reason=reason_element("timeout"))
                elif args.mode == "call" and peer.sid is not None:
                    peer.jmi_message(args.to, "retract", "timeout").send()
            except Exception:
                pass
        if peer.worker is not None:
            peer.worker.cancel()
        if peer.media:
            await peer.media_close()
        peer.disconnect()
        try:
            await asyncio.wait_for(peer.disconnected, 3)
        except asyncio.TimeoutError:
            pass
        # End what is still scheduled (slixmpp's filters, the stacks' senders) so nothing is
        # reported as "destroyed but pending" when the loop goes away.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks, timeout=1) if tasks else None
        return code

    return peer.loop.run_until_complete(main())
