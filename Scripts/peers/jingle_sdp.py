"""Jingle RTP/ICE-UDP/DTLS <content> <-> SDP, shared by Dialtone's Python call peers.

Only the standard library: the aiortc peers (Scripts/peers/jingle_media.py, the simulated
gateway) and the GStreamer webrtcbin peer (Tests/IntegrationTests/Peers/gst_jingle_peer.py)
each speak SDP to their media stack and Jingle to Dialtone, and this is the one translation
between them. It holds:

  parse_content, describe          a received Jingle <content> as plain data, and its summary
  usable_candidates, CandidateFilter
                                   which remote candidates a loopback-only peer may use, and
                                   the duplicates among them (libnice aborts on those)
  remote_sdp                       a Jingle content (offer or answer) as the SDP a stack takes
  local_from_sdp, candidate_from_sdp
                                   a stack's SDP (and its trickled candidate lines) as the
                                   data content_element() turns into Jingle
  content_element, reason_element, reason_of
  telephone_event, goertzel, strongest_probe
                                   RFC 4733 payloads and tone detection, media-stack free

Nothing here prints or talks XMPP; the callers do that.
"""
import ipaddress
import math
import random
import secrets
import struct
from xml.etree import ElementTree as ET  # what slixmpp's stanzas are made of

NS_JINGLE = "urn:xmpp:jingle:1"
NS_RTP = "urn:xmpp:jingle:apps:rtp:1"
NS_ICE = "urn:xmpp:jingle:transports:ice-udp:1"
NS_DTLS = "urn:xmpp:jingle:apps:dtls:0"
NS_JMI = "urn:xmpp:jingle-message:0"
NS_ERRORS = "urn:xmpp:jingle:errors:1"
FEATURES = [NS_JINGLE, NS_RTP, "urn:xmpp:jingle:apps:rtp:audio", NS_ICE, NS_DTLS, NS_JMI]
NO_TRICKLE = "urn:ietf:rfc:3264"
PROBES = [300, 440, 600, 660, 880, 1200]  # the frequencies the peers tell apart
DTMF_DIGITS = "0123456789*#ABCD"  # RFC 4733 event codes 0-15


def q(ns, name):
    return f"{{{ns}}}{name}"


def is_loopback(address):
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False  # a hostname, e.g. an mDNS .local name


# ---- RFC 4733 and tones ------------------------------------------------------------------------
def telephone_event(payload):
    """(digit, end, volume, duration) of an RFC 4733 payload, or None if it is too short."""
    if len(payload) < 4:
        return None
    code, flags, duration = struct.unpack("!BBH", payload[:4])
    digit = DTMF_DIGITS[code] if code < 16 else str(code)
    return digit, bool(flags & 0x80), flags & 0x3F, duration


def goertzel(samples, frequency, rate):
    coefficient = 2 * math.cos(2 * math.pi * frequency / rate)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + coefficient * s1 - s2, s1
    return s1 * s1 + s2 * s2 - coefficient * s1 * s2


def strongest_probe(samples, rate, probes=PROBES):
    """The strongest probe frequency in `samples` and its power over the runner-up's."""
    powers = sorted(((goertzel(samples, f, rate), f) for f in probes), reverse=True)
    return powers[0][1], round(powers[0][0] / max(powers[1][0], 1e-9), 1)


# ---- Jingle -> data ----------------------------------------------------------------------------
def parse_content(content):
    """The parts of a Jingle <content> we use, as plain data."""
    out = {"name": content.get("name", "0"), "senders": content.get("senders", "both"),
           "media": None, "payload_types": [], "rtcp_mux": False, "ufrag": None, "pwd": None,
           "fingerprint": None, "candidates": []}
    desc = content.find(q(NS_RTP, "description"))
    if desc is not None:
        out["media"] = desc.get("media")
        out["rtcp_mux"] = desc.find(q(NS_RTP, "rtcp-mux")) is not None
        for pt in desc.findall(q(NS_RTP, "payload-type")):
            params = {p.get("name"): p.get("value") for p in pt.findall(q(NS_RTP, "parameter"))}
            out["payload_types"].append({
                "id": int(pt.get("id")), "name": pt.get("name", ""),
                "clockrate": int(pt.get("clockrate") or 8000),
                "channels": int(pt.get("channels") or 1), "parameters": params})
    transport = content.find(q(NS_ICE, "transport"))
    if transport is not None:
        out["ufrag"], out["pwd"] = transport.get("ufrag"), transport.get("pwd")
        fp = transport.find(q(NS_DTLS, "fingerprint"))
        if fp is not None:
            out["fingerprint"] = (fp.get("hash", "sha-256"), (fp.text or "").strip(),
                                  fp.get("setup", "actpass"))
        out["candidates"] = [dict(c.attrib) for c in transport.findall(q(NS_ICE, "candidate"))]
    return out


def describe(content):
    pts = [f"{p['id']}:{p['name']}/{p['clockrate']}" + (f"/{p['channels']}"
           if p["channels"] > 1 else "") for p in content["payload_types"]]
    return {"candidates": len(content["candidates"]), "payload_types": pts,
            "types": sorted({c.get("type", "?") for c in content["candidates"]}),
            "setup": content["fingerprint"][2] if content["fingerprint"] else None,
            "rtcp_mux": content["rtcp_mux"]}


def usable_candidates(content):
    """Component 1 (rtcp-mux: we never use component 2), loopback addresses only."""
    wanted = [c for c in content["candidates"] if c.get("component", "1") == "1"
              or not content["rtcp_mux"]]
    return [c for c in wanted if is_loopback(c.get("ip", ""))]


class CandidateFilter:
    """Remote candidates of one call, each transport address once.

    libnice aborts the process on a second remote candidate with an address it already has
    (RFC 8445 5.1.3 says a peer never signals such a pair), so duplicates are kept from it
    here, and each one is reported so that a test notices a peer that sends them."""

    def __init__(self, on_duplicate=None):
        self.seen = {}
        self.on_duplicate = on_duplicate

    def fresh(self, candidates):
        out = []
        for c in candidates:
            key = (c.get("component", "1"), c.get("protocol", "udp").lower(), c.get("ip"),
                   str(c.get("port")))
            if key in self.seen:
                if self.on_duplicate is not None:
                    self.on_duplicate(c, self.seen[key])
                continue
            self.seen[key] = c
            out.append(c)
        return out


def candidate_sdp(c):
    line = (f"{c.get('foundation', '1')} {c.get('component', '1')} "
            f"{c.get('protocol', 'udp').lower()} {c.get('priority', '1')} {c.get('ip')} "
            f"{c.get('port')} typ {c.get('type', 'host')}")
    if c.get("rel-addr") and c.get("rel-port"):
        line += f" raddr {c['rel-addr']} rport {c['rel-port']}"
    return line


def remote_sdp(content, remote_is_initiator, candidates=None, payload_types=None):
    """Jingle content (offer or answer) -> SDP for a stack's setRemoteDescription.

    `candidates` defaults to usable_candidates(content); `payload_types` to the content's own,
    with telephone-event last (aiortc sends with the first codec it finds)."""
    pts = payload_types if payload_types is not None else content["payload_types"]
    pts = sorted(pts, key=lambda p: p["name"].lower() == "telephone-event")
    remote_role = "initiator" if remote_is_initiator else "responder"
    local_role = "responder" if remote_is_initiator else "initiator"
    senders = content["senders"]
    sends, receives = senders in ("both", remote_role), senders in ("both", local_role)
    direction = {(True, True): "sendrecv", (True, False): "sendonly",
                 (False, True): "recvonly"}.get((sends, receives), "inactive")
    mid = content["name"]
    lines = ["v=0", f"o=- {random.getrandbits(40)} 1 IN IP4 0.0.0.0", "s=-", "t=0 0",
             f"a=group:BUNDLE {mid}",
             f"m=audio 9 UDP/TLS/RTP/SAVPF {' '.join(str(p['id']) for p in pts)}",
             "c=IN IP4 0.0.0.0", f"a=mid:{mid}", f"a={direction}"]
    if content["rtcp_mux"]:
        lines.append("a=rtcp-mux")
    lines += [f"a=ice-ufrag:{content['ufrag']}", f"a=ice-pwd:{content['pwd']}"]
    if content["fingerprint"]:
        algorithm, value, setup = content["fingerprint"]
        lines += [f"a=fingerprint:{algorithm} {value}", f"a=setup:{setup}"]
    for p in pts:
        channels = f"/{p['channels']}" if p["channels"] > 1 else ""
        lines.append(f"a=rtpmap:{p['id']} {p['name']}/{p['clockrate']}{channels}")
        if p["parameters"]:
            fmtp = ";".join(f"{k}={v}" for k, v in p["parameters"].items())
            lines.append(f"a=fmtp:{p['id']} {fmtp}")
    if candidates is None:
        candidates = usable_candidates(content)
    lines += [f"a=candidate:{candidate_sdp(c)}" for c in candidates]
    return "\r\n".join(lines) + "\r\n"


# ---- SDP -> Jingle -----------------------------------------------------------------------------
def candidate_from_sdp(line):
    """An SDP candidate line ("candidate:…" or "a=candidate:…") as Jingle candidate
    attributes, or None for what ICE-UDP cannot carry (TCP candidates)."""
    value = line.strip()
    if value.startswith(("a=candidate:", "candidate:")):
        value = value.split(":", 1)[1]
    bits = value.split()
    if len(bits) < 8 or bits[6] != "typ" or bits[2].lower() != "udp":
        return None
    c = {"component": bits[1], "foundation": bits[0], "generation": "0",
         "id": secrets.token_hex(5), "ip": bits[4], "port": bits[5], "priority": bits[3],
         "protocol": "udp", "type": bits[7], "network": "0"}
    extras = dict(zip(bits[8::2], bits[9::2]))
    if "raddr" in extras and "rport" in extras:
        c["rel-addr"], c["rel-port"] = extras["raddr"], extras["rport"]
    return c


def local_from_sdp(sdp):
    """A stack's local SDP (its first audio section) -> what goes into our Jingle contents:
    name, payload_types, ufrag, pwd, fingerprint (sha-256), setup and candidates."""
    session, media, section = {}, None, None
    out = {"name": "0", "payload_types": [], "candidates": [], "setup": "actpass"}
    attributes = []
    for raw in sdp.replace("\r\n", "\n").split("\n"):
        if raw.startswith("m="):
            if media is not None:
                break  # only the first media section
            media = raw[2:].split()
            section = "media"
            continue
        if raw.startswith("a="):
            key, _, value = raw[2:].partition(":")
            (attributes if section == "media" else session.setdefault("a", [])).append((key, value))
    # Media-level attributes win over session-level ones (RFC 8866 5.13).
    merged = {}
    for key, value in session.get("a", []) + attributes:
        merged.setdefault(key, []).append(value)
    rtpmap, fmtp = {}, {}
    for value in merged.get("rtpmap", []):
        pt, _, encoding = value.partition(" ")
        rtpmap[int(pt)] = encoding.split("/")
    for value in merged.get("fmtp", []):
        pt, _, params = value.partition(" ")
        fmtp[int(pt)] = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
    for pt in (int(p) for p in (media or [])[3:]):
        encoding = rtpmap.get(pt, [])
        if not encoding:
            continue
        out["payload_types"].append({
            "id": pt, "name": encoding[0], "clockrate": int(encoding[1]),
            "channels": int(encoding[2]) if len(encoding) > 2 else 1,
            "parameters": fmtp.get(pt, {})})
    out["name"] = merged.get("mid", ["0"])[-1]
    out["ufrag"] = merged.get("ice-ufrag", [None])[-1]
    out["pwd"] = merged.get("ice-pwd", [None])[-1]
    out["setup"] = merged.get("setup", ["actpass"])[-1]
    fingerprints = [v.split(None, 1) for v in merged.get("fingerprint", [])]
    out["fingerprint"] = next((v for k, v in fingerprints if k.lower() == "sha-256"), None)
    out["candidates"] = [c for c in (candidate_from_sdp(v) for v in merged.get("candidate", []))
                         if c is not None]
    return out


def content_element(local, candidates, description=True):
    # The one content is always the initiator's, whoever sends it.
    content = ET.Element(q(NS_JINGLE, "content"), creator="initiator", name=local["name"])
    if description:
        content.set("senders", "both")
        desc = ET.SubElement(content, q(NS_RTP, "description"), media="audio")
        for p in local["payload_types"]:
            pt = ET.SubElement(desc, q(NS_RTP, "payload-type"), id=str(p["id"]),
                               name=p["name"], clockrate=str(p["clockrate"]))
            if p["channels"] > 1:
                pt.set("channels", str(p["channels"]))
            for key, value in p["parameters"].items():
                ET.SubElement(pt, q(NS_RTP, "parameter"), name=key, value=str(value))
        ET.SubElement(desc, q(NS_RTP, "rtcp-mux"))
    transport = ET.SubElement(content, q(NS_ICE, "transport"), ufrag=local["ufrag"],
                              pwd=local["pwd"])
    if description:
        fp = ET.SubElement(transport, q(NS_DTLS, "fingerprint"), hash="sha-256",
                           setup=local["setup"])
        fp.text = local["fingerprint"]
    for c in candidates:
        ET.SubElement(transport, q(NS_ICE, "candidate"), c)
    return content


def reason_element(condition, text=None):
    reason = ET.Element(q(NS_JINGLE, "reason"))
    ET.SubElement(reason, q(NS_JINGLE, condition))
    if text:
        ET.SubElement(reason, q(NS_JINGLE, "text")).text = text
    return reason


def reason_of(parent):
    reason = parent.find(q(NS_JINGLE, "reason")) if parent is not None else None
    if reason is None:
        return None
    names = [c.tag.split("}")[-1] for c in reason if c.tag.split("}")[-1] != "text"]
    return names[0] if names else None
