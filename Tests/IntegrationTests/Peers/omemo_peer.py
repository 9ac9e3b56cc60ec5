#!/usr/bin/env python3
"""An independent OMEMO contact for Dialtone's encryption tests: python-omemo (its oldmemo and
twomemo backends) through slixmpp-omemo, with blind trust. Run it with the venv's python:

  omemo_peer.py --jid peer@dialtone.test --password pw --port 25222 --ca-file CA [options]

  --versions V       which OMEMO versions this device speaks and announces: both (default),
                     legacy (eu.siacs.conversations.axolotl) or current (urn:xmpp:omemo:2)
  --send JID TEXT    after login, send JID an encrypted TEXT (in the version --versions
                     allows; current when both, wrapped in an SCE envelope as XEP-0420 says)
  --plain JID TEXT   after login, send JID TEXT unencrypted
  --repeat N         send --send's and --plain's text N times, numbered " #1"… (benchmarks)
  --quit             disconnect once what --send and --plain asked for is sent
  --echo             answer each decrypted message with "echo: TEXT", encrypted the same way
  --files            fetch each aesgcm:// link received (XEP-0454), decrypt and check it
                     (event file{sha256,size}), and send the same bytes back as a new
                     encrypted upload (XEP-0363) of its own
  --https-port N     the test server's HTTPS port (uploads); its host names are reached on
                     127.0.0.1 without DNS
  --commands FILE    follow FILE: each line appended is "send JID TEXT", sent encrypted as
                     --send does
  --timeout S        exit after S s (default 30)

slixmpp-omemo leaves omemo:2's SCE envelope to its user; this glue writes and reads the
envelope's body itself and calls python-omemo's session manager for that version.

Output: one JSON object per line on stdout, "event" plus fields:
  ready{jid,device}  message{from,id,body,encrypted,device}  key_transport{from,device}
  carbon{from,id,body,encrypted,device,kind}: what another device of this account sent or got
  undecryptable{from,error}  sent{to,id,body,encrypted}  file{from,url,sha256,size}
  file_error{url,error}  error{message}
"encrypted" is the namespace a message was encrypted in, or null. Exit 0 at the timeout (1 on
a failed login).

Network: loopback only (127.0.0.1:PORT).
"""
import argparse
import asyncio
import hashlib
import http.client
import os
import socket
import ssl
import urllib.parse
import xml.etree.ElementTree as ET

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import oldmemo
import oldmemo.etree
import slixmpp
import slixmpp_omemo.xep_0384 as xep_0384_module
import twomemo
import twomemo.etree
from omemo.storage import Just, Nothing, Storage
from slixmpp.plugins import register_plugin
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import MatchXPath
from slixmpp_omemo import TrustLevel, XEP_0384

from peer_support import add_connection_arguments, emit, follow_commands, run


SCE = "urn:xmpp:sce:1"


class MemoryStorage(Storage):
    """python-omemo's key/value storage, in memory: the peer lives for one test."""

    def __init__(self):
        super().__init__()
        self.data = {}

    async def _load(self, key):
        return Just(self.data[key]) if key in self.data else Nothing()

    async def _store(self, key, value):
        self.data[key] = value

    async def _delete(self, key):
        self.data.pop(key, None)


class OmemoPlugin(XEP_0384):
    """slixmpp-omemo's plugin with in-memory storage and blind trust (as Conversations)."""

    name = "xep_0384"
    description = "OMEMO (test peer)"
    dependencies = {"xep_0004", "xep_0030", "xep_0060", "xep_0163", "xep_0280", "xep_0334"}
    default_config = {"fallback_message": "This message is OMEMO encrypted."}

    def plugin_init(self):
        self._memory = MemoryStorage()
        super().plugin_init()

    @property
    def storage(self):
        return self._memory

    @property
    def _btbv_enabled(self):
        return True

    async def _devices_blindly_trusted(self, blindly_trusted, identifier):
        pass

    async def _prompt_manual_trust(self, manually_trusted, identifier):
        manager = await self.get_session_manager()
        for device in manually_trusted:
            await manager.set_trust(device.bare_jid, device.identity_key, TrustLevel.TRUSTED.value)

    # slixmpp-omemo reads every version's device lists; a device of one version reads its own.
    namespaces = (twomemo.twomemo.NAMESPACE, oldmemo.oldmemo.NAMESPACE)

    async def refresh_device_lists(self, jids, force_download=False):
        manager = await self.get_session_manager()
        for jid in jids:
            for namespace in self.namespaces:
                try:
                    await manager.refresh_device_list(namespace, slixmpp.JID(jid).bare)
                except Exception as error:  # noqa: BLE001 - a missing list is no list
                    emit("info", message=f"no {namespace} device list for {jid}: {error!r}")

    async def _on_device_list_update(self, msg):
        try:
            await super()._on_device_list_update(msg)
        except Exception as error:  # noqa: BLE001 - a version this device does not speak
            emit("info", message=f"device list update ignored: {error!r}")


register_plugin(OmemoPlugin)


def only_backends(versions):
    """Replaces slixmpp-omemo's set-up with one that makes only the backends asked for, so
    that this device announces itself in those versions' device lists alone."""
    if versions == "both":
        return

    async def prepare(xmpp, plugin, storage, legacy_storage, **_ignored):
        backend = twomemo.Twomemo(storage, 1000, None) if versions == "current" else oldmemo.Oldmemo(storage, 1000, None)
        manager = await xep_0384_module._make_session_manager(xmpp, plugin).create(
            [backend], storage, xmpp.boundjid.bare, initial_own_label=None,
            undecided_trust_level_name=TrustLevel.UNDECIDED.value,
            signed_pre_key_rotation_period=7 * 24 * 60 * 60, pre_key_refill_threshold=99)
        await manager.ensure_data_consistency()
        await manager.after_history_sync()
        return manager

    xep_0384_module._prepare = prepare
    OmemoPlugin.namespaces = (twomemo.twomemo.NAMESPACE if versions == "current" else oldmemo.oldmemo.NAMESPACE,)


def envelope(text, sender):
    root = ET.Element(f"{{{SCE}}}envelope")
    content = ET.SubElement(root, f"{{{SCE}}}content")
    ET.SubElement(content, "{jabber:client}body").text = text
    ET.SubElement(root, f"{{{SCE}}}rpad").text = "ab" * 7
    ET.SubElement(root, f"{{{SCE}}}from", {"jid": sender})
    return ET.tostring(root)


def envelope_body(plaintext):
    root = ET.fromstring(plaintext)
    if root.tag != f"{{{SCE}}}envelope":
        raise ValueError(f"not an SCE envelope: {plaintext!r}")
    return root.findtext(f"{{{SCE}}}content/{{jabber:client}}body")


def https(method, url, ca_file, port, body=None, headers=None):
    """One HTTPS request to the test server: its host name only for TLS (SNI and the
    certificate), the connection to 127.0.0.1 (no DNS lookup)."""
    parts = urllib.parse.urlsplit(url)
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection(parts.hostname, parts.port or port, context=context, timeout=10)
    connection.sock = context.wrap_socket(socket.create_connection(("127.0.0.1", parts.port or port), timeout=10),
                                          server_hostname=parts.hostname)
    path = parts.path + (("?" + parts.query) if parts.query else "")
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    if response.status >= 300:
        raise RuntimeError(f"{method} {url}: HTTP {response.status}")
    return data


def open_aesgcm(link, ca_file, port):
    """XEP-0454: the file behind an aesgcm:// link, decrypted with the fragment's IV and key."""
    parts = urllib.parse.urlsplit(link)
    secret = bytes.fromhex(parts.fragment)
    iv, key = secret[:-32], secret[-32:]
    data = https("GET", urllib.parse.urlunsplit(("https", parts.netloc, parts.path, parts.query, "")), ca_file, port)
    return AESGCM(key).decrypt(iv, data, None)


class OmemoPeer(slixmpp.ClientXMPP):
    def __init__(self, args):
        super().__init__(args.jid, args.password)
        self.args = args
        self.failed = False
        self.done = asyncio.Event()
        self.use_message_ids = True
        for plugin in ("xep_0030", "xep_0060", "xep_0163", "xep_0280", "xep_0334", "xep_0359"):
            self.register_plugin(plugin)
        self.register_plugin("xep_0384")
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", self.on_failed)
        self.add_event_handler("message", self.on_message)
        # slixmpp's "message" event is for messages with a body; a key-transport message
        # (a heartbeat) has none.
        for namespace in (oldmemo.oldmemo.NAMESPACE, twomemo.twomemo.NAMESPACE):
            self.register_handler(CoroutineCallback(
                f"bodiless {namespace}", MatchXPath(f"{{jabber:client}}message/{{{namespace}}}encrypted"), self.on_bodiless))
        self.add_event_handler("carbon_received", self.on_carbon_received)
        self.add_event_handler("carbon_sent", self.on_carbon_sent)

    def on_failed(self, _event):
        self.failed = True
        emit("error", message="authentication failed")

    async def on_start(self, _event):
        self.send_presence()
        await self.get_roster()
        await self.plugin["xep_0280"].enable()
        manager = await self.plugin["xep_0384"].get_session_manager()
        own, _ = await manager.get_own_device_information()
        emit("ready", jid=self.boundjid.bare, device=own.device_id)
        repeat = self.args.repeat
        numbered = (lambda text, index: f"{text} #{index + 1}") if repeat > 1 else (lambda text, _index: text)
        if self.args.plain:
            to, text = self.args.plain
            for index in range(repeat):
                self.send_message(mto=to, mbody=numbered(text, index), mtype="chat")
            emit("sent", to=to, body=text, encrypted=None, count=repeat)
        if self.args.send:
            to, text = self.args.send
            for index in range(repeat):
                await self.send_encrypted(to, numbered(text, index), "current" if self.args.versions != "legacy" else "legacy")
        if self.args.quit:
            await asyncio.sleep(1)
            self.done.set()
        if self.args.commands:
            asyncio.ensure_future(follow_commands(self.args.commands, self.command))

    async def command(self, line):
        words = line.split(" ", 2)
        if len(words) == 3 and words[0] == "send":
            await self.send_encrypted(words[1], words[2], "current" if self.args.versions != "legacy" else "legacy")

    async def send_encrypted(self, to, text, version):
        plugin = self.plugin["xep_0384"]
        if version == "current":
            manager = await plugin.get_session_manager()
            await plugin.refresh_device_lists({slixmpp.JID(to)})
            messages, errors = await manager.encrypt(
                frozenset({slixmpp.JID(to).bare}), {twomemo.twomemo.NAMESPACE: envelope(text, self.boundjid.bare)},
                backend_priority_order=[twomemo.twomemo.NAMESPACE])
            stanza = self.make_message(mto=to, mtype="chat", mbody="This message is OMEMO encrypted.")
            stanza.enable("store")
            for message in messages:
                stanza.append(twomemo.etree.serialize_message(message))
            namespace = twomemo.twomemo.NAMESPACE
        else:
            plain = self.make_message(mto=to, mbody=text, mtype="chat")
            stanza, errors = await plugin.encrypt_message(plain, slixmpp.JID(to))
            namespace = oldmemo.oldmemo.NAMESPACE
        if errors:
            emit("error", message=f"encryption errors: {errors!r}")
        stanza.send()
        if self.args.repeat <= 1:
            emit("sent", to=to, id=stanza["id"], body=text, encrypted=namespace)

    async def on_bodiless(self, stanza):
        if not stanza["body"]:
            await self.on_message(stanza)

    async def on_carbon_received(self, carbon):
        """A copy of what another device of this account received (XEP-0280)."""
        await self.on_message(carbon["carbon_received"], carbon="received")

    async def on_carbon_sent(self, carbon):
        """A copy of what another device of this account sent."""
        await self.on_message(carbon["carbon_sent"], carbon="sent")

    async def on_message(self, stanza, carbon=None):
        if stanza["type"] not in ("chat", "normal"):
            return
        plugin = self.plugin["xep_0384"]
        namespaces = plugin.is_encrypted(stanza)
        sender = stanza["from"]
        if not namespaces:
            if stanza["body"]:
                emit("message", **{"from": sender.full, "id": stanza["id"], "body": stanza["body"], "encrypted": None})
            return
        try:
            if twomemo.twomemo.NAMESPACE in namespaces:
                manager = await plugin.get_session_manager()
                element = stanza.xml.find(f"{{{twomemo.twomemo.NAMESPACE}}}encrypted")
                message = twomemo.etree.parse_message(element, sender.bare)
                plaintext, device, _ = await asyncio.wait_for(manager.decrypt(message), 10)
                body = envelope_body(plaintext) if plaintext is not None else None
                namespace = twomemo.twomemo.NAMESPACE
            else:
                decrypted, device = await asyncio.wait_for(plugin.decrypt_message(stanza), 10)
                body = decrypted["body"] or None
                namespace = oldmemo.oldmemo.NAMESPACE
        except Exception as error:  # noqa: BLE001 - every failure is an event for the test
            emit("undecryptable", **{"from": sender.full, "error": repr(error)})
            return
        if body is None:
            emit("key_transport", **{"from": sender.full, "device": device.device_id})
            return
        if self.args.files and not carbon and body.startswith("aesgcm://"):
            await self.echo_file(sender.bare, body, namespace)
            return
        emit("carbon" if carbon else "message", **{"from": sender.full, "id": stanza["id"], "body": body, "encrypted": namespace,
                                                   "device": device.device_id, "kind": carbon})
        if self.args.echo and not carbon and not body.startswith("echo: "):
            version = "current" if namespace == twomemo.twomemo.NAMESPACE else "legacy"
            await self.send_encrypted(sender.bare, "echo: " + body, version)


    async def echo_file(self, to, link, namespace):
        loop = asyncio.get_running_loop()
        port = self.args.https_port
        try:
            data = await loop.run_in_executor(None, open_aesgcm, link, self.args.ca_file, port)
        except Exception as error:  # noqa: BLE001 - a file that does not decrypt is the event
            emit("file_error", url=link, error=repr(error))
            return
        emit("file", **{"from": to, "url": link, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
        # The same bytes back, encrypted anew, through our own upload slot.
        iv, key = os.urandom(12), os.urandom(32)
        sealed = AESGCM(key).encrypt(iv, data, None)
        domain = self.boundjid.domain
        iq = self.make_iq_get(ito=f"upload.{domain}")
        request = ET.SubElement(iq.xml, "{urn:xmpp:http:upload:0}request",
                                {"filename": "echo.bin", "size": str(len(sealed)), "content-type": "application/octet-stream"})
        del request
        answer = await iq.send()
        slot = answer.xml.find("{urn:xmpp:http:upload:0}slot")
        put = slot.find("{urn:xmpp:http:upload:0}put")
        get = slot.find("{urn:xmpp:http:upload:0}get").get("url")
        headers = {header.get("name"): header.text for header in put.findall("{urn:xmpp:http:upload:0}header")}
        headers["Content-Type"] = "application/octet-stream"
        await loop.run_in_executor(None, https, "PUT", put.get("url"), self.args.ca_file, port, sealed, headers)
        parts = urllib.parse.urlsplit(get)
        back = urllib.parse.urlunsplit(("aesgcm", parts.netloc, parts.path, parts.query, (iv + key).hex()))
        version = "current" if namespace == twomemo.twomemo.NAMESPACE else "legacy"
        await self.send_encrypted(to, back, version)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_connection_arguments(parser)
    parser.add_argument("--versions", choices=("both", "legacy", "current"), default="both")
    parser.add_argument("--send", nargs=2, metavar=("JID", "TEXT"))
    parser.add_argument("--plain", nargs=2, metavar=("JID", "TEXT"))
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--files", action="store_true")
    parser.add_argument("--commands")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--quit", action="store_true")
    parser.add_argument("--https-port", type=int, default=443)
    args = parser.parse_args()
    only_backends(args.versions)
    peer = OmemoPeer(args)
    run(peer, args, done=peer.done)


if __name__ == "__main__":
    main()
