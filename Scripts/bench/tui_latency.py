#!/usr/bin/env python3
"""The terminal interfaces beside each other, for Scripts/bench-tui: start-up to an
interactive screen, keystroke-to-screen latency with and without 100 incoming messages a
second, and resident memory. Each client runs in a pane of a private tmux server, 80x24 by
default, against the private Prosody on 127.0.0.1.

  tui_latency.py prepare KIND   give KIND's account its roster (and, for dialtone, its store
                                of stored messages); run by Scripts/bench-tui before the runs
  tui_latency.py run KIND       start-ups, then the keystroke phases; appends one JSON object
                                to $BENCH_RESULTS
  tui_latency.py summary        the Markdown tables, from $BENCH_RESULTS
  tui_latency.py send JID PASSWORD TO RATE TAG
                                a slixmpp client that sends RATE chat messages a second to TO
                                until its standard input closes, then prints one JSON line
  tui_latency.py echo           the floor: a raw-mode echo of the keys on the bottom row

KIND: floor | dialtone | profanity | profanity-tuned (Profanity with /inpblock timeout 1,
dynamic off: input polled every millisecond).

How it is driven. One tmux control-mode client (tmux -C) sends every command and reads
the answers on a pipe, so a poll costs no process start-up: `send-keys -l` types, and
`capture-pane -p -S ROW -E ROW` reads the input row back every BENCH_POLL_MS (2 ms).

  * Start-up: the pane runs `sh launch.sh`, which waits on a FIFO and then execs the client;
    t0 is the moment the FIFO is written. A marker key is typed at once (the terminal keeps
    it until the client reads), and again every 20 ms until one shows (in case a client
    discards what was typed while it started), and the start-up is over when a marker shows
    in the input row. After that: when the screen first shows the client connected, and when
    it has read all the server sent (both ends of its TCP connection with empty queues) and
    stayed idle (under 3 % of a core) for two seconds in a row; VmRSS is read then.
  * Keystrokes: one printable character at a time, BENCH_KEY_GAP_MS (50 ms, ±20 %) apart;
    latency is from just before the send-keys command is written until a capture of the input
    row shows exactly the text typed so far; the next key goes only once it has. A key not
    shown within BENCH_KEY_TIMEOUT (10 s) counts as slower than every other in the
    percentiles, and a phase stops typing after BENCH_PHASE_MAX (120 s). The line is cleared
    (Ctrl-U) every 30 characters, outside the timing. Phases: idle; while a slixmpp sender writes BENCH_RATE (100) chat
    messages a second from an account whose conversation is not in view; and from the account
    whose conversation is in view (opened with /msg before the first phase).
  * Memory: VmRSS when interactive and once settled (medians over the start-ups), VmHWM of
    the measured session after each phase and at its end.
  * After each load phase the sender stops and the client is given up to BENCH_DRAIN_TIMEOUT
    (180 s) to read and
    show its backlog (reported as "drained after"), then the messages it stored are counted.
"""

import json
import os
import random
import re
import select
import shlex
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from procstat import cpu_seconds, machine_cpu, status_kb, wait_quiet  # noqa: E402

ENV = os.environ
PORT = int(ENV.get("DIALTONE_TEST_PORT", "0"))
DOMAIN = ENV.get("DIALTONE_TEST_DOMAIN", "dialtone.test")
CA = ENV.get("DIALTONE_TEST_CA", "")

KEYS = int(ENV.get("BENCH_KEYS", "200"))
KEY_GAP = float(ENV.get("BENCH_KEY_GAP_MS", "50")) / 1000
POLL = float(ENV.get("BENCH_POLL_MS", "2")) / 1000
RATE = float(ENV.get("BENCH_RATE", "100"))
CONTACTS = int(ENV.get("BENCH_CONTACTS", "5000"))
MESSAGES = int(ENV.get("BENCH_MESSAGES", "100000"))
CONVERSATIONS = int(ENV.get("BENCH_CONVERSATIONS", "1000"))
STARTS = int(ENV.get("BENCH_STARTS", "3"))
COLS, ROWS = (int(x) for x in ENV.get("BENCH_SIZE", "80x24").split("x"))
SETTLE_TIMEOUT = float(ENV.get("BENCH_SETTLE_TIMEOUT", "420"))
KEY_TIMEOUT = float(ENV.get("BENCH_KEY_TIMEOUT", "10"))
PHASE_MAX = float(ENV.get("BENCH_PHASE_MAX", "120"))
DRAIN_TIMEOUT = float(ENV.get("BENCH_DRAIN_TIMEOUT", "180"))
WARMUP = float(ENV.get("BENCH_WARMUP", "2"))
LINE_CHARS = 30
# A client may discard keys typed while it starts (TCSAFLUSH): the marker is typed again
# every RETYPE seconds until one shows, and the count is reported.
RETYPE = 0.02
ALPHABET = "abcdefghijklmnopqrstuvwxyz"
MARKER = "Z"

# Accounts (registered by Scripts/bench-tui before Prosody starts; password pw-NAME).
ACCOUNT = {"dialtone": "tui-d", "profanity": "tui-p", "profanity-tuned": "tui-t", "floor": "tui-f"}
IN_VIEW, ELSEWHERE = "talk", "other"

LABEL = {
    "floor": "floor: raw-mode echo program (tmux + polling only)",
    "dialtone": "Dialtone (`dialtone tui`)",
    "profanity": "Profanity 0.13.1, defaults",
    "profanity-tuned": "Profanity 0.13.1, `/inpblock timeout 1`, dynamic off",
}


def log(*args):
    print("bench-tui:", *args, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


def next_tick(tick):
    """Sleeps until one POLL after `tick` and returns that time (now, when already past it)."""
    tick += POLL
    delay = tick - now()
    if delay > 0:
        time.sleep(delay)
        return tick
    return now()


# ---- /proc -------------------------------------------------------------------------------------

def socket_inodes(pid):
    out = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                out.add(target[8:-1])
    except OSError:
        pass
    return out


def connection_queues(pid):
    """The client's TCP connections to Prosody's c2s port: a list of (client receive queue,
    server send queue) in bytes, from /proc/net/tcp. Both empty means the client has read
    everything the server has handed to the kernel."""
    inodes = socket_inodes(pid)
    rows = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    rows.append((p[1], p[2], p[3], p[4], p[9]))
        except OSError:
            pass
    port_hex = f"{PORT:04X}"
    out = []
    for local, remote, state, queues, inode in rows:
        if inode in inodes and state == "01" and remote.endswith(":" + port_hex):
            rx = int(queues.split(":")[1], 16)
            server_tx = 0
            for l2, r2, s2, q2, _ in rows:
                if l2.endswith(":" + port_hex) and r2 == local and s2 == "01":
                    server_tx = int(q2.split(":")[0], 16)
            out.append((rx, server_tx))
    return out


# ---- tmux through one control-mode client -------------------------------------------------------

class Tmux:
    """A control-mode client of the private tmux server: each command is one line on its
    standard input, each answer the lines between %begin and %end (or %error)."""

    def __init__(self, socket):
        self.socket = socket
        self.proc = subprocess.Popen(
            ["tmux", "-L", socket, "-f", "/dev/null", "-C", "new-session", "-A", "-s", "ctl", "-x", "80", "-y", "24",
             "sleep", "2147483647"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0)
        self.out = self.proc.stdout
        # The answer to the new-session that started this client comes first: read up to our
        # own marker, so that each later command reads its own answer.
        token = f"sync-{os.getpid()}-{random.getrandbits(32):08x}"
        self.proc.stdin.write(f"display -p {token}\n".encode())
        while True:
            raw = self.out.readline()
            if not raw:
                raise RuntimeError("tmux control client ended before answering")
            if raw.decode("utf-8", "replace").strip() == token:
                break
        while not self.out.readline().startswith(b"%end"):
            pass
        # Options for the whole private server: a dead client's last screen stays readable, no
        # status line. (tmux 3.3a's server crashes on `window-size manual` or `refresh-client -f
        # no-output` from a control client; neither is needed: no client attaches to the
        # clients' sessions, so their panes keep the size they were made with, which Pane checks.)
        for command in (f"set -g default-size {COLS}x{ROWS}", "set -g status off", "set -g remain-on-exit on",
                        "set -sg escape-time 0", "set -g history-limit 100"):
            self.cmd(command, check=False)

    def cmd(self, command, check=True):
        self.proc.stdin.write(command.encode() + b"\n")
        number, lines = None, []
        while True:
            raw = self.out.readline()
            if not raw:
                raise RuntimeError(f"tmux control client ended (after {command!r})")
            line = raw.decode("utf-8", "replace").rstrip("\n")
            if number is None:
                # Only answers flagged 1 are to this client's commands: the answer to the
                # new-session -A that attached it may come late, with flags 0.
                if line.startswith("%begin "):
                    parts = line.split()
                    if len(parts) >= 4 and parts[3] == "1":
                        number = parts[2]
                continue
            parts = line.split()
            if len(parts) >= 3 and parts[0] in ("%end", "%error") and parts[2] == number:
                if parts[0] == "%error" and check:
                    raise RuntimeError(f"tmux: {command!r}: {' '.join(lines)}")
                return lines
            lines.append(line)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(5)
        except Exception:
            self.proc.kill()


# ---- the clients --------------------------------------------------------------------------------

class Client:
    """One client's files, command line and screen conventions."""
    prefix = ""           # what the input row shows before the typed text
    online_text = None    # a regular expression the screen matches once connected
    network = True

    def __init__(self, kind, rundir):
        self.kind, self.rundir = kind, rundir
        self.user = ACCOUNT[kind]
        self.jid = f"{self.user}@{DOMAIN}"
        self.env = {"HOME": rundir, "TERM": "tmux-256color", "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
                    "XDG_CONFIG_HOME": os.path.join(rundir, "config"), "XDG_DATA_HOME": os.path.join(rundir, "data"),
                    "XDG_STATE_HOME": os.path.join(rundir, "state"), "XDG_CACHE_HOME": os.path.join(rundir, "cache")}
        for d in ("config", "data", "state", "cache"):
            os.makedirs(os.path.join(rundir, d), exist_ok=True)

    def write_secret(self, path, text):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, text.encode())
        os.close(fd)

    def setup(self):
        pass

    def argv(self):
        raise NotImplementedError

    def open_command(self, peer):
        return f"/msg {peer}"

    def stored(self, peer):
        return None


class FloorClient(Client):
    prefix = "> "
    network = False

    def argv(self):
        return [sys.executable, "-S", os.path.abspath(__file__), "echo"]

    def open_command(self, peer):
        return None


class DialtoneClient(Client):
    prefix = "> "
    online_text = re.compile(r"\bonline\b")

    def setup(self):
        self.password = os.path.join(self.rundir, "password")
        self.write_secret(self.password, f"pw-{self.user}\n")
        self.config = os.path.join(self.rundir, "config.toml")
        with open(self.config, "w") as f:
            f.write(f'[[account]]\njid = "{self.jid}"\npassword_file = "{self.password}"\n'
                    f'server = "127.0.0.1"\nport = {PORT}\nca_file = "{CA}"\n')
        self.db = os.path.join(self.env["XDG_DATA_HOME"], "dialtone", "accounts", self.jid, "dialtone.sqlite")

    def argv(self):
        # BENCH_LOG_LEVEL=trace: every stanza in the run directory's log, with its time (costs CPU).
        level = ENV.get("BENCH_LOG_LEVEL")
        return [ENV["BENCH_DIALTONE"], "tui", "--config", self.config] + (["--log-level", level] if level else [])

    def stored(self, peer):
        try:
            db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            (n,) = db.execute("SELECT count(*) FROM message JOIN conversation ON conversation.id = message.conversationID "
                              "WHERE conversation.peer = ? AND message.body LIKE 'burst#%'", (peer,)).fetchone()
            db.close()
            return n
        except sqlite3.Error:
            return None


class ProfanityClient(Client):
    online_text = re.compile(r"logged in successfully")
    tuned = False

    def setup(self):
        for d in ("config/profanity", "data/profanity"):
            os.makedirs(os.path.join(self.rundir, d), exist_ok=True)
        # As Scripts/bench-burst: tls.policy=trust (libstrophe's XMPP_CONN_FLAG_TRUST_TLS;
        # Profanity 0.13 takes a CA only as a directory of hashed certificates), server 127.0.0.1.
        self.write_secret(os.path.join(self.rundir, "data", "profanity", "accounts"),
                          f"[{self.jid}]\nenabled=true\njid={self.jid}\nserver=127.0.0.1\nport={PORT}\n"
                          f"resource=profanity\npassword=pw-{self.user}\ntls.policy=trust\n"
                          f"presence.last=online\npresence.login=online\npriority.online=0\n")
        ui = "[ui]\nsplash=false\n"
        if self.tuned:
            ui += "inpblock=1\ninpblock.dynamic=false\n"
        with open(os.path.join(self.rundir, "config", "profanity", "profrc"), "w") as f:
            f.write(ui)

    def argv(self):
        return ["/usr/bin/profanity", "-a", self.jid, "-l", "INFO"]

    def stored(self, peer):
        for root, _dirs, files in os.walk(os.path.join(self.rundir, "data", "profanity", "database")):
            if "chatlog.db" in files:
                try:
                    db = sqlite3.connect(f"file:{os.path.join(root, 'chatlog.db')}?mode=ro&immutable=1", uri=True, timeout=1)
                    (n,) = db.execute("SELECT count(*) FROM ChatLogs WHERE from_jid = ? AND message LIKE 'burst#%'",
                                      (peer,)).fetchone()
                    db.close()
                    return n
                except sqlite3.Error:
                    return None
        return None


class ProfanityTunedClient(ProfanityClient):
    tuned = True


CLIENTS = {"floor": FloorClient, "dialtone": DialtoneClient, "profanity": ProfanityClient,
           "profanity-tuned": ProfanityTunedClient}


# ---- one session in a pane ---------------------------------------------------------------------------

class Pane:
    def __init__(self, tmux, client, name):
        self.tmux, self.client, self.name = tmux, client, name
        self.input_row = ROWS - 1
        rundir = client.rundir
        self.fifo = os.path.join(rundir, f"{name}.go")
        if os.path.exists(self.fifo):
            os.unlink(self.fifo)
        os.mkfifo(self.fifo)
        launch = os.path.join(rundir, f"{name}.sh")
        env = " ".join(shlex.quote(f"{k}={v}") for k, v in client.env.items())
        with open(launch, "w") as f:
            f.write(f"read _ < {shlex.quote(self.fifo)}\nexec env -i {env} {' '.join(shlex.quote(a) for a in client.argv())}\n")
        tmux.cmd(f"new-session -d -s {name} -x {COLS} -y {ROWS} /bin/sh {shlex.quote(launch)}")
        size = tmux.cmd(f"display -p -t {name} '#{{pane_width}}x#{{pane_height}}'")[0]
        if size != f"{COLS}x{ROWS}":
            raise RuntimeError(f"pane is {size}, not {COLS}x{ROWS}")
        self.pid = int(tmux.cmd(f"display -p -t {name} '#{{pane_pid}}'")[0])

    def go(self):
        """Lets the pane's shell exec the client; returns t0."""
        deadline = now() + 10
        while True:
            try:
                fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:  # ENXIO: the pane's shell has not opened it yet
                if now() > deadline:
                    raise RuntimeError(f"the pane's shell never opened {self.fifo}; screen:\n{self.screen()}")
                time.sleep(0.005)
        t0 = now()
        os.write(fd, b"go\n")
        os.close(fd)
        return t0

    def row(self, r=None):
        r = self.input_row if r is None else r
        lines = self.tmux.cmd(f"capture-pane -p -t {self.name} -S {r} -E {r}")
        return lines[0] if lines else ""

    def screen(self):
        return "\n".join(self.tmux.cmd(f"capture-pane -p -t {self.name}"))

    def watch_output(self):
        """From now on each write of the client to its terminal wakes `wait_output`: tmux pipes
        the pane's output into a fifo (pipe-pane), so a screen read can follow output at once
        instead of a timer's next tick."""
        path = os.path.join(self.client.rundir, f"{self.name}.out")
        if os.path.exists(path):
            os.unlink(path)
        os.mkfifo(path)
        # Opened for reading and writing: the fifo never reads as ended, whoever writes to it.
        self.out_fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        self.out_bytes = 0
        self.tmux.cmd(f"pipe-pane -O -t {self.name} {shlex.quote('cat > ' + shlex.quote(path))}")

    def wait_output(self, timeout):
        """Waits up to `timeout` s for the client's next output and drains what came; says
        whether some did."""
        ready, _, _ = select.select([self.out_fd], [], [], max(0.0, timeout))
        if not ready:
            return False
        try:
            while chunk := os.read(self.out_fd, 1 << 16):
                self.out_bytes += len(chunk)
        except BlockingIOError:
            pass
        return True

    def unwatch_output(self):
        """Stops watching; returns how many bytes the client wrote to its terminal meanwhile."""
        self.wait_output(0)
        self.tmux.cmd(f"pipe-pane -t {self.name}", check=False)
        os.close(self.out_fd)
        return self.out_bytes

    def keys(self, text):
        self.tmux.cmd(f"send-keys -t {self.name} -l {shlex.quote(text)}")

    def key(self, name):
        self.tmux.cmd(f"send-keys -t {self.name} {name}")

    def dead(self):
        out = self.tmux.cmd(f"display -p -t {self.name} '#{{pane_dead}}'", check=False)
        return not out or out[0] == "1" or not os.path.exists(f"/proc/{self.pid}")

    def save_screen(self, label):
        with open(os.path.join(self.client.rundir, f"screen-{self.name}-{label}.txt"), "w") as f:
            f.write(self.screen() + "\n")

    def wait_row(self, expected, timeout):
        """Polls the input row until it reads `expected` (trailing blanks ignored); returns
        the time it did, or None."""
        start = now()
        tick = start
        while True:
            if self.row().rstrip() == expected:
                return now()
            if now() - start > timeout:
                return None
            tick = next_tick(tick)

    def clear_line(self):
        self.key("C-u")
        if self.wait_row(self.client.prefix.rstrip(), 30) is None:
            raise RuntimeError(f"the input line did not clear; it reads {self.row()!r}")

    def quit(self):
        if not self.dead():
            try:
                self.key("C-u")
                self.keys("/quit")
                self.key("Enter")
            except RuntimeError:
                pass
            for _ in range(150):
                if self.dead():
                    break
                time.sleep(0.1)
            else:
                log(f"{self.client.kind} did not quit within 15 s; SIGTERM to {self.pid}")
                try:
                    os.kill(self.pid, signal.SIGTERM)
                    time.sleep(5)
                    if os.path.exists(f"/proc/{self.pid}"):
                        os.kill(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.tmux.cmd(f"kill-session -t {self.name}", check=False)


def start_up(pane):
    """Spawns the client and times it to the marker on the input row, to the connected screen,
    and to settled (all read, idle). Returns a dict."""
    client = pane.client
    result = {}
    t0 = pane.go()
    pane.keys(MARKER)
    resent, next_resend = 0, t0 + RETYPE
    t_marker = t_online = None
    tick, polls = t0, 0
    deadline = t0 + 120
    while t_marker is None:
        row = pane.row()
        t = now()
        if MARKER in row:
            t_marker = t
            break
        polls += 1
        if client.online_text and t_online is None and polls % 10 == 0 and client.online_text.search(pane.screen()):
            t_online = now()
        if t > deadline:
            pane.save_screen("start-timeout")
            raise RuntimeError(f"{client.kind}: no marker on the input row within 120 s (row {row!r})")
        if t > next_resend:  # the first key may have been flushed by the client's start-up
            pane.keys(MARKER)
            resent += 1
            next_resend = t + RETYPE
        tick = next_tick(tick)
    result["interactive_s"] = round(t_marker - t0, 4)
    result["marker_resent"] = resent
    result["rss_at_interactive_kb"] = status_kb(pane.pid, "VmRSS")
    pane.save_screen("interactive")
    if not client.network:
        pane.clear_line()
        result["rss_kb"] = status_kb(pane.pid, "VmRSS")
        return result
    # Connected on screen, then settled: both ends of the connection drained, and idle.
    quiet, last_cpu, last_check = 0, cpu_seconds(pane.pid), now()
    t_settled = None
    while now() - t0 < SETTLE_TIMEOUT:
        if t_online is None and client.online_text.search(pane.screen()):
            t_online = now()
        time.sleep(0.05 if t_online is None else 0.25)
        if now() - last_check >= 1.0:
            cpu = cpu_seconds(pane.pid)
            if cpu is None:
                pane.save_screen("died")
                raise RuntimeError(f"{client.kind} exited during start-up")
            span = now() - last_check
            queues = connection_queues(pane.pid)
            drained = bool(queues) and all(rx == 0 and tx == 0 for rx, tx in queues)
            idle = (cpu - last_cpu) / span < 0.03
            quiet = quiet + 1 if (drained and idle and t_online is not None) else 0
            last_cpu, last_check = cpu, now()
            if quiet >= 2:
                t_settled = now() - 2.0
                break
    result["online_s"] = round(t_online - t0, 3) if t_online else None
    result["settled_s"] = round(t_settled - t0, 2) if t_settled else None
    result["rss_kb"] = status_kb(pane.pid, "VmRSS")
    pane.save_screen("settled")
    pane.clear_line()
    return result


def keystrokes(pane, count, label, sender_started=None):
    """Types up to `count` characters one at a time, each once the previous one showed;
    returns the latencies in ms (None: not shown within KEY_TIMEOUT) and what the phase cost.
    A phase that goes on longer than PHASE_MAX stops typing early (a client that falls ever
    further behind would otherwise make it last KEYS x KEY_TIMEOUT)."""
    client = pane.client
    rng = random.Random(7)
    samples = []
    typed = ""
    notes = []
    cpu0, t_start = cpu_seconds(pane.pid), now()
    busy0, steal0 = machine_cpu()
    for i in range(count):
        if now() - t_start > PHASE_MAX:
            notes.append(f"stopped after {i} keys: the phase passed {PHASE_MAX:.0f} s")
            break
        if len(typed) >= LINE_CHARS:
            if not soft_clear(pane):
                notes.append(f"stopped after {i} keys: the input line did not clear")
                break
            typed = ""
            time.sleep(KEY_GAP)
        ch = ALPHABET[i % len(ALPHABET)]
        expected = client.prefix + typed + ch
        t_send = now()
        pane.keys(ch)
        t_seen = pane.wait_row(expected, KEY_TIMEOUT)
        typed += ch
        if t_seen is None:
            samples.append(None)
            if not any(n.startswith("first key not shown") for n in notes):
                notes.append(f"first key not shown within {KEY_TIMEOUT:.0f} s: key {i}")
                pane.save_screen(f"{label}-timeout")
            log(f"{client.kind} {label}: key {i} not on screen after {KEY_TIMEOUT} s; row {pane.row()!r}")
            if pane.dead():
                raise RuntimeError(f"{client.kind} exited")
            if not soft_clear(pane):
                notes.append(f"stopped after {i + 1} keys: the input line did not clear")
                break
            typed = ""
        else:
            samples.append(round((t_seen - t_send) * 1000, 3))
        if i == min(count // 2, 20):
            pane.save_screen(label)
        time.sleep(max(0.0, KEY_GAP * rng.uniform(0.8, 1.2) - (now() - t_send)))
    span = now() - t_start
    busy1, steal1 = machine_cpu()
    cpu1 = cpu_seconds(pane.pid)
    usage = {"span_s": round(span, 2),
             "client_cpu_pct": round(100 * (cpu1 - cpu0) / span, 1) if cpu1 is not None else None,
             "machine_busy_cores": round((busy1 - busy0) / span, 2),
             "steal_cores": round((steal1 - steal0) / span, 2), "notes": notes}
    if sender_started is not None:
        # How far the conversation on screen is behind what the sender has written by now.
        seqs = [int(m) for m in re.findall(r"burst#(\d{6})", pane.screen())]
        usage["screen_behind_msgs"] = (int((now() - sender_started) * RATE) - max(seqs) - 1) if seqs else None
    soft_clear(pane)
    return samples, usage


def soft_clear(pane):
    """Ctrl-U, and up to 3 x KEY_TIMEOUT for the input line to show empty."""
    pane.key("C-u")
    return pane.wait_row(pane.client.prefix.rstrip(), 3 * KEY_TIMEOUT) is not None


def stats(samples):
    """Median, p95 and max over every key; a key never shown counts as slower than all."""
    inf = float("inf")
    values = sorted(inf if s is None else s for s in samples)
    if not values:
        return {"keys": 0, "timeouts": 0}

    def pick(q):
        v = values[min(len(values) - 1, max(0, int(round(q * len(values))) - 1))]
        return None if v == inf else round(v, 2)
    median = statistics.median(values)
    return {"keys": len(values), "timeouts": sum(1 for s in samples if s is None),
            "median_ms": None if median == inf else round(median, 2), "p95_ms": pick(0.95),
            "max_ms": None if values[-1] == inf else round(values[-1], 2), "min_ms": None if values[0] == inf else round(values[0], 2)}


def start_sender(from_user, to_jid, tag):
    proc = subprocess.Popen(
        [ENV["DIALTONE_PYTHON"], os.path.abspath(__file__), "send", f"{from_user}@{DOMAIN}/bench", f"pw-{from_user}",
         to_jid, str(RATE), tag],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(ENV["BENCH_WORK"], f"sender-{tag}.stderr"), "wb"))
    line = proc.stdout.readline().decode().strip()
    if line != "ready":
        proc.kill()
        raise RuntimeError(f"sender {from_user} not ready ({line!r}); see sender-{tag}.stderr")
    return proc


def stop_sender(proc):
    proc.stdin.close()
    out = proc.stdout.readline().decode().strip()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    try:
        return json.loads(out)
    except ValueError:
        return {"error": out}


def settle(pane, timeout):
    """After a load phase: waits until the client has read everything and is idle again;
    returns the seconds that took, or None."""
    t0 = now()
    quiet, last_cpu, last = 0, cpu_seconds(pane.pid), now()
    while now() - t0 < timeout:
        time.sleep(0.5)
        cpu = cpu_seconds(pane.pid)
        if cpu is None:
            return None
        queues = connection_queues(pane.pid)
        drained = bool(queues) and all(rx == 0 and tx == 0 for rx, tx in queues)
        idle = (cpu - last_cpu) / (now() - last) < 0.03
        last_cpu, last = cpu, now()
        quiet = quiet + 1 if drained and idle else 0
        if quiet >= 2:
            return round(now() - t0 - 1.0, 1)
    return None


def run(kind):
    rundir = os.path.join(ENV["BENCH_WORK"], kind)
    os.makedirs(rundir, exist_ok=True)
    client = CLIENTS[kind](kind, rundir)
    client.setup()
    tmux = Tmux(ENV["BENCH_TMUX_SOCKET"])
    result = {"kind": kind, "size": f"{COLS}x{ROWS}", "starts": [], "phases": {}, "contacts": CONTACTS,
              "messages": MESSAGES if kind == "dialtone" else 0}
    waited, busy = wait_quiet(float(ENV.get("BENCH_QUIET_WAIT", "60")))
    result["quiet_wait_s"], result["busy_cores_before"] = waited, busy
    if busy is not None and busy >= 0.25:
        log(f"the machine is busy with other work ({busy:.2f} cores after {waited:.0f} s); measuring anyway")
    starts = 1 if kind == "floor" else STARTS
    pane = None
    try:
        for n in range(1, starts + 1):
            pane = Pane(tmux, client, f"{kind.replace('-', '')}{n}")
            s = start_up(pane)
            s["start"] = n
            result["starts"].append(s)
            log(f"{kind} start {n}: {json.dumps(s)}")
            if n < starts:
                pane.quit()
                pane = None
                time.sleep(1.0)
        # The measured session: the last start-up's.
        opener = client.open_command(f"{IN_VIEW}@{DOMAIN}")
        if opener:
            pane.keys(opener)
            pane.key("Enter")
            time.sleep(1.5)
            if pane.wait_row(client.prefix.rstrip(), 10) is None:
                raise RuntimeError(f"{opener!r} left the input row at {pane.row()!r}")
            settle(pane, 30)
        pane.save_screen("opened")
        phases = [("idle", None)]
        phases.append(("elsewhere", ELSEWHERE))
        if kind != "floor":
            phases.append(("in-view", IN_VIEW))
        for label, sender in phases:
            entry = {}
            proc = started = None
            if sender:
                proc = start_sender(sender, client.jid, f"{kind}-{label}")
                started = now()
                time.sleep(WARMUP)
            try:
                samples, usage = keystrokes(pane, KEYS, label, started if sender == IN_VIEW else None)
            finally:
                if proc:
                    entry["sender"] = stop_sender(proc)
            entry.update(stats(samples))
            entry.update(usage)
            entry["samples_ms"] = samples
            if proc:
                if client.network:
                    entry["drained_after_s"] = settle(pane, DRAIN_TIMEOUT)
                    if entry["drained_after_s"] is None:
                        entry["notes"].append(f"not caught up {DRAIN_TIMEOUT:.0f} s after the sender stopped: "
                                              "the next phase began with that backlog")
                    entry["stored_by_client"] = client.stored(f"{sender}@{DOMAIN}")
            entry["vmhwm_kb"] = status_kb(pane.pid, "VmHWM")
            result["phases"][label] = entry
            log(f"{kind} {label}: {json.dumps({k: v for k, v in entry.items() if k != 'samples_ms'})}")
        result["vmhwm_kb"] = status_kb(pane.pid, "VmHWM")
        result["vmrss_end_kb"] = status_kb(pane.pid, "VmRSS")
    except Exception as e:
        result["error"] = repr(e)
        if pane:
            try:
                pane.save_screen("error")
            except Exception:
                pass
        raise
    finally:
        if pane:
            try:
                pane.quit()
            except Exception as e:
                log(f"stopping {kind}: {e!r}")
        tmux.close()
        with open(ENV["BENCH_RESULTS"], "a") as f:
            f.write(json.dumps(result) + "\n")
    return result


# ---- preparing the accounts ------------------------------------------------------------------------

WORDS = None


def body(rng):
    global WORDS
    if WORDS is None:
        import burst_sender
        WORDS = burst_sender.WORDS
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 30))).capitalize() + "."


def grdb_date(dt):
    """A date as GRDB stores Foundation's Date: 'YYYY-MM-DD HH:MM:SS.SSS', UTC."""
    return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d}"


def fill_store(db_path, own_jid, count, conversations):
    """MESSAGES messages in `conversations` conversations (with the roster's contacts first, then
    with addresses of the same form that are not in the roster), plus the two bench senders'
    conversations; the in-view sender's is the newest (the interface opens it), and holds the
    last 200 messages. Written in Dialtone's schema, which `dialtone roster` created; the
    full-text index is kept by the store's own triggers."""
    rng = random.Random(1)
    peers = [f"contact-{i:05d}@example.invalid" for i in range(conversations)]
    elsewhere, in_view = f"{ELSEWHERE}@{DOMAIN}", f"{IN_VIEW}@{DOMAIN}"
    start = datetime.now(timezone.utc) - timedelta(minutes=count + 10)
    db = sqlite3.connect(db_path, timeout=30)
    db.execute("PRAGMA synchronous = NORMAL")
    ids = {}
    last = {}
    rows = []
    for i in range(count):
        if i >= count - min(200, count // 2):
            peer = in_view
        elif i % 500 == 250:
            peer = elsewhere
        else:
            peer = peers[rng.randrange(len(peers))]
        ts = start + timedelta(minutes=i, milliseconds=rng.randrange(60000))
        incoming = rng.random() < 0.6
        sender = f"{peer}/phone" if incoming else f"{own_jid}/dialtone-bench"
        rows.append((peer, "incoming" if incoming else "outgoing", sender, body(rng), f"fill-{i}", f"fill-{i}",
                     grdb_date(ts), "received" if incoming else "read"))
        last[peer] = ts
    with db:
        for peer, ts in last.items():
            cur = db.execute("INSERT INTO conversation (peer, lastActivity, unread) VALUES (?, ?, 0)", (peer, grdb_date(ts)))
            ids[peer] = cur.lastrowid
        db.executemany(
            "INSERT INTO message (conversationID, direction, sender, body, subject, stanzaID, dedupeKey, archiveID, "
            "timestamp, status, stanzaXML, attachments, editedAt) VALUES (?, ?, ?, ?, NULL, ?, ?, NULL, ?, ?, NULL, '[]', NULL)",
            ((ids[p], d, s, b, sid, key, ts, st) for (p, d, s, b, sid, key, ts, st) in rows))
    (n,) = db.execute("SELECT count(*) FROM message").fetchone()
    (c,) = db.execute("SELECT count(*) FROM conversation").fetchone()
    (k,) = db.execute("SELECT count(*) FROM contact").fetchone()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return n, c, k


def prepare(kind):
    if kind == "floor":
        return
    rundir = os.path.join(ENV["BENCH_WORK"], kind)
    os.makedirs(rundir, exist_ok=True)
    client = CLIENTS[kind](kind, rundir)
    client.setup()
    t = now()
    out = subprocess.run([ENV["DIALTONE_PYTHON"], os.path.join(HERE, "fill_roster.py"), client.jid, f"pw-{client.user}",
                          str(PORT), CA, str(CONTACTS)], capture_output=True, text=True, timeout=900)
    if out.returncode != 0 or f"done {CONTACTS}" not in out.stdout:
        raise RuntimeError(f"fill_roster for {client.jid} failed: {out.stderr[-800:]}")
    log(f"{kind}: {client.jid} has {CONTACTS} contacts ({now() - t:.1f} s)")
    if kind != "dialtone":
        return
    # The store as a user's would be: the roster from an earlier login (dialtone roster),
    # then the history.
    env = dict(ENV)
    env.update({k: v for k, v in client.env.items() if k.startswith("XDG_")})
    account_dir = os.path.dirname(client.db)
    cache = ENV.get("BENCH_STORE_CACHE")
    cached = os.path.join(cache, f"store-{CONTACTS}-contacts-{MESSAGES}-messages-{CONVERSATIONS}-conversations") if cache else None
    if cached and os.path.isdir(cached):
        # A store filled by an earlier run with the same sizes (and the same account and contact
        # names): copied, not filled again. A newer binary migrates it when it opens it (below,
        # in `dialtone history`, before any start-up is timed).
        t = now()
        shutil.copytree(cached, account_dir, dirs_exist_ok=True)
        log(f"dialtone: store copied from {cached} in {now() - t:.1f} s ({os.path.getsize(client.db) / 1e6:.1f} MB)")
    else:
        out = subprocess.run([ENV["BENCH_DIALTONE"], "roster", "--config", client.config], env=env, capture_output=True,
                             text=True, timeout=300)
        if out.returncode != 0 or len(out.stdout.splitlines()) != CONTACTS:
            raise RuntimeError(f"dialtone roster: exit {out.returncode}, {len(out.stdout.splitlines())} lines; {out.stderr[-600:]}")
        t = now()
        n, c, k = fill_store(client.db, client.jid, MESSAGES, max(1, CONVERSATIONS))
        log(f"dialtone: store filled in {now() - t:.1f} s: {n} messages, {c} conversations, {k} contacts "
            f"({os.path.getsize(client.db) / 1e6:.1f} MB)")
        if cached:
            os.makedirs(cache, exist_ok=True)
            partial = cached + f".partial-{os.getpid()}"
            shutil.copytree(account_dir, partial, ignore=shutil.ignore_patterns("*-wal", "*-shm"))
            os.rename(partial, cached)
            log(f"dialtone: store kept in {cached} for later runs")
    # Read back through the release binary: the rows must be what the store itself would read.
    out = subprocess.run([ENV["BENCH_DIALTONE"], "history", "--config", client.config, "--limit", "2", "--json",
                          f"{IN_VIEW}@{DOMAIN}"], env=env, capture_output=True, text=True, timeout=120)
    lines = out.stdout.splitlines()
    if out.returncode != 0 or len(lines) != 2 or '"timestamp":"' not in lines[0]:
        raise RuntimeError(f"dialtone history cannot read the filled store: {out.stdout[-400:]} {out.stderr[-400:]}")


# ---- the sender and the floor program ---------------------------------------------------------------

def send_main(jid, password, to, rate, tag):
    import asyncio
    import slixmpp
    from slixmpp.xmlstream import ET
    import burst_sender

    class Sender(slixmpp.ClientXMPP):
        def __init__(self):
            super().__init__(jid, password)
            self.add_event_handler("session_start", self.start)
            self.sent = 0
            self.stop = asyncio.Event()
            self.report = None

        async def start(self, _event):
            loop = asyncio.get_running_loop()
            loop.add_reader(sys.stdin.fileno(), self.on_stdin)
            rng = random.Random(tag)
            print("ready", flush=True)
            t0 = next_t = loop.time()
            interval = 1.0 / rate
            while not self.stop.is_set():
                t = loop.time()
                while next_t <= t and not self.stop.is_set():
                    sid = f"{tag}-{self.sent:06d}-{rng.getrandbits(32):08x}"
                    msg = self.make_message(mto=to, mbody=burst_sender.body_text(self.sent, rng), mtype="chat")
                    msg["id"] = sid
                    msg.xml.append(ET.Element("{urn:xmpp:receipts}request"))
                    ET.SubElement(msg.xml, "{urn:xmpp:sid:0}origin-id", id=sid)
                    msg.send()
                    self.sent += 1
                    next_t += interval
                try:
                    await asyncio.wait_for(self.stop.wait(), max(0.0, next_t - loop.time()))
                except asyncio.TimeoutError:
                    pass
            span = loop.time() - t0
            self.report = {"sent": self.sent, "seconds": round(span, 2), "rate": round(self.sent / span, 1) if span else None}
            print(json.dumps(self.report), flush=True)
            self.disconnect()

        def on_stdin(self):
            if not os.read(sys.stdin.fileno(), 4096):
                asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
                self.stop.set()

    client = Sender()
    client.ca_certs = CA
    client.connect(host="127.0.0.1", port=PORT)
    asyncio.get_event_loop().run_until_complete(client.disconnected)


def echo_main():
    """The floor: raw mode, a prompt on the bottom row, each key echoed at once; Ctrl-U
    clears the line; '/quit' and Enter (or Ctrl-C) leave."""
    import termios
    import tty
    old = termios.tcgetattr(0)
    tty.setraw(0, termios.TCSANOW)  # not TCSAFLUSH: keys typed before this stay
    rows = os.get_terminal_size(1).lines
    os.write(1, f"\x1b[2J\x1b[{rows};1H> ".encode())
    line = b""
    try:
        while True:
            data = os.read(0, 1024)
            if not data:
                break
            for b in data:
                if b in (3, 4):
                    return
                if b == 0x15:
                    line = b""
                    os.write(1, b"\r\x1b[K> ")
                elif b == 13:
                    if line == b"/quit":
                        return
                    line = b""
                    os.write(1, b"\r\x1b[K> ")
                else:
                    line += bytes([b])
                    os.write(1, bytes([b]))
    finally:
        termios.tcsetattr(0, termios.TCSADRAIN, old)


# ---- summary ------------------------------------------------------------------------------------------

def fmt(v, digits=1):
    return "–" if v is None else f"{v:,.{digits}f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def summary():
    runs = [json.loads(l) for l in open(ENV["BENCH_RESULTS"]) if l.strip()]
    order = ["dialtone", "profanity", "profanity-tuned", "floor"]
    runs.sort(key=lambda r: order.index(r["kind"]) if r["kind"] in order else 99)
    if not runs:
        print("no results")
        return
    size = runs[0].get("size")
    print(f"Start-up and memory ({size}; {CONTACTS:,} roster contacts; Dialtone's store holds {MESSAGES:,} messages in {CONVERSATIONS:,} conversations, "
          f"Profanity's history is empty: it gets only the roster):")
    print()
    print("| client | start-ups | spawn → typed key on screen, s: median (each) | → connected on screen, s | "
          "→ all read and idle, s | VmRSS when interactive → settled, MB | VmHWM at the end, MB |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in runs:
        ss = r.get("starts", [])
        each = ", ".join(fmt(s.get("interactive_s"), 3) for s in ss)
        rss_i = median([s.get("rss_at_interactive_kb") for s in ss])
        rss_s = median([s.get("rss_kb") for s in ss])
        settled = [s.get("settled_s") for s in ss]
        settled_txt = fmt(median(settled), 2) if r["kind"] != "floor" else "–"
        if any(s is None for s in settled) and r["kind"] != "floor":
            settled_txt += f" ({sum(1 for s in settled if s is None)} not within {SETTLE_TIMEOUT:.0f} s)"
        hwm = fmt(r.get("vmhwm_kb") and r["vmhwm_kb"] / 1024)
        before = (r.get("phases", {}).get("elsewhere") or {}).get("vmhwm_kb")
        if before and "in-view" in r.get("phases", {}):
            hwm += f" ({fmt(before / 1024)} before the in-view phase)"
        print(f"| {LABEL.get(r['kind'], r['kind'])} | {len(ss)} | {fmt(median([s.get('interactive_s') for s in ss]), 3)} ({each}) | "
              f"{fmt(median([s.get('online_s') for s in ss]), 2) if r['kind'] != 'floor' else '–'} | {settled_txt} | "
              f"{fmt(rss_i and rss_i / 1024)} → {fmt(rss_s and rss_s / 1024)} | {hwm} |")
    print()
    print(f"Keystroke → screen ({size}; one key every ~{KEY_GAP * 1000:.0f} ms, capture-pane polled every "
          f"{POLL * 1000:.0f} ms through a tmux control client):")
    print()
    print("| client | incoming messages | keys (not shown) | median, ms | p95, ms | max, ms | client CPU, % of a core | "
          "sent / achieved rate | drained after, s | stored by the client |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    setting = {"idle": "none", "elsewhere": f"{RATE:.0f}/s, conversation not in view",
               "in-view": f"{RATE:.0f}/s, conversation in view"}
    for r in runs:
        for label in ("idle", "elsewhere", "in-view"):
            p = r.get("phases", {}).get(label)
            if not p:
                continue
            snd = p.get("sender") or {}
            sent = f"{snd.get('sent', '–')} / {snd.get('rate', '–')}/s" if snd else "–"
            what = setting[label]
            if r["kind"] == "floor" and label == "elsewhere":
                what = f"{RATE:.0f}/s to an offline account (server load only)"
            def lat(key):
                if p.get(key) is None and p.get("timeouts"):
                    return f"> {KEY_TIMEOUT * 1000:,.0f}"
                return fmt(p.get(key), 2)
            print(f"| {LABEL.get(r['kind'], r['kind'])} | {what} | {p.get('keys')} ({p.get('timeouts')}) | "
                  f"{lat('median_ms')} | {lat('p95_ms')} | {lat('max_ms')} | "
                  f"{fmt(p.get('client_cpu_pct'))} | {sent} | {fmt(p.get('drained_after_s'))} | "
                  f"{p.get('stored_by_client') if p.get('stored_by_client') is not None else '–'} |")
    print()
    for r in runs:
        for label, p in r.get("phases", {}).items():
            if p.get("notes") or p.get("screen_behind_msgs"):
                behind = p.get("screen_behind_msgs")
                print(f"{r['kind']} {label}: {'; '.join(p.get('notes') or [])}"
                      f"{'; ' if p.get('notes') and behind else ''}"
                      f"{f'when typing ended the conversation on screen was {behind} messages behind the sender' if behind else ''}")
        if r.get("error"):
            print(f"{r['kind']}: FAILED: {r['error']}")
    for r in runs:
        loads = {k: v.get("machine_busy_cores") for k, v in r.get("phases", {}).items()}
        print(f"{r['kind']}: whole machine busy during the phases (cores): {loads}; "
              f"before the run: {r.get('busy_cores_before')} cores after waiting {r.get('quiet_wait_s')} s")


def main():
    a = sys.argv[1:]
    if a[:1] == ["run"] and len(a) == 2:
        run(a[1])
    elif a[:1] == ["prepare"] and len(a) == 2:
        prepare(a[1])
    elif a[:1] == ["summary"]:
        summary()
    elif a[:1] == ["send"] and len(a) == 6:
        send_main(a[1], a[2], a[3], float(a[4]), a[5])
    elif a[:1] == ["echo"]:
        echo_main()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
