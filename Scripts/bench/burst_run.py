#!/usr/bin/env python3
"""One measured run of "10,000 chat messages arriving in a burst" for Scripts/bench-burst,
and the summary of several runs.

  burst_run.py run KIND ROUND   KIND: raw | receipts | slixmpp | dialtone | profanity
      with two fresh accounts (bob-<k><round>, alice-<k><round>, which `accounts RUNS KINDS…`
      lists for Scripts/bench-burst to register), brings the receiver online, sends the burst from alice with burst_sender.py's raw sender, and waits until
      the receiver holds every message. Appends one JSON object to $BENCH_RESULTS.
  burst_run.py summary
      prints the medians per receiver as Markdown, from $BENCH_RESULTS.

Environment (Scripts/bench-burst sets it): the DIALTONE_TEST_* variables of the test
environment, DIALTONE_PYTHON (the venv with slixmpp), BENCH_DIALTONE (the binary),
BENCH_WORK (a temp dir), BENCH_RESULTS, BENCH_COUNT (10000), BENCH_TMUX_SOCKET.

Timing: t0 is the wall-clock time just before the sender writes its first stanza; the run
ends when the receiver has stored the last of the COUNT messages:
  * dialtone: its `listen --json` prints a message line only after the batch holding it is
    committed to its SQLite store; the reader of that pipe stamps the COUNT-th line;
  * slixmpp: the counting peer prints "done <time>" when its handler saw the COUNT-th;
  * raw, receipts: the in-process counter, on decrypting the COUNT-th body (receipts also
    answers each receipt request, as a client must);
  * profanity: its history database (chat log files are off by default in 0.13), polled
    every 100 ms without taking any lock; the final count is read after it has quit.
CPU is utime+stime from /proc/PID/stat just before the first write and at that end; peak
memory is VmHWM from /proc/PID/status. Prosody's own CPU over the same span is recorded too.
"""

import asyncio
import json
import os
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import burst_sender  # noqa: E402
import procstat  # noqa: E402
from procstat import cpu_seconds, machine_cpu, prosody_pid, status_kb  # noqa: E402

ENV = os.environ
COUNT = int(ENV.get("BENCH_COUNT", "10000"))
PORT = int(ENV.get("DIALTONE_TEST_PORT", "0"))
DOMAIN = ENV.get("DIALTONE_TEST_DOMAIN", "dialtone.test")
CA = ENV.get("DIALTONE_TEST_CA", "")
TIMEOUTS = {"raw": 120, "receipts": 180, "slixmpp": 180, "dialtone": 240, "profanity": 420}
GRACE = 2.0  # seconds after the last message, to catch duplicates or late writes


def log(*args):
    print("bench-burst:", *args, file=sys.stderr, flush=True)


# ---- /proc -------------------------------------------------------------------------------------

def own_cpu():
    t = os.times()
    return t.user + t.system


def stack_sample(pid):
    """What a process that ignores SIGTERM is doing: its threads' states and kernel wait
    channels, and gdb's backtraces when gdb is installed."""
    out = []
    try:
        for tid in sorted(os.listdir(f"/proc/{pid}/task"), key=int):
            comm = open(f"/proc/{pid}/task/{tid}/comm").read().strip()
            state = [l for l in open(f"/proc/{pid}/task/{tid}/status") if l.startswith("State:")][0].split(None, 1)[1].strip()
            wchan = open(f"/proc/{pid}/task/{tid}/wchan").read().strip()
            out.append(f"{tid} {comm} {state} {wchan}")
    except OSError:
        pass
    if subprocess.run(["sh", "-c", "command -v gdb"], capture_output=True).returncode == 0:
        r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 12"],
                           capture_output=True, text=True, timeout=60)
        out.append(r.stdout[-6000:])
    return out


def account_names(kind, round_no):
    """The fresh receiving and sending accounts of one run; their password is pw-NAME."""
    return f"bob-{LETTER[kind]}{round_no}", f"alice-{LETTER[kind]}{round_no}"


def check_seqs(seqs):
    distinct = set(seqs)
    missing = [s for s in range(COUNT) if s not in distinct]
    return {
        "received": len(seqs), "distinct": len(distinct), "duplicates": len(seqs) - len(distinct),
        "missing": len(missing), "missing_sample": missing[:10],
        "out_of_order": sum(1 for a, b in zip(seqs, seqs[1:]) if b < a),
    }


# ---- receivers -----------------------------------------------------------------------------------

class Receiver:
    pid = None
    name = ""

    async def start(self, rundir, user):
        raise NotImplementedError

    async def wait_done(self, timeout):
        """Returns the wall time at which the last message was stored, or None."""
        raise NotImplementedError

    async def verify(self):
        return {}

    async def stop(self):
        pass


class RawReceiver(Receiver):
    name = "raw"
    receipts = False

    async def start(self, rundir, user):
        self.client = await burst_sender.RawClient.connect(PORT, DOMAIN, user, f"pw-{user}", CA, resource="count")
        self.client.writer.write(b"<presence/>")
        # An iq round trip: once answered, the server has handled the presence before it.
        self.client.writer.write(b"<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
        await burst_sender.RawClient._read_until(self.client.reader, b"", rb"id=['\"]ping1['\"]")
        self.counter = burst_sender.RawCounter(self.client, COUNT, receipts=self.receipts)
        self.stop_event = asyncio.Event()
        self.task = asyncio.create_task(self.counter.run(self.stop_event))

    async def wait_done(self, timeout):
        try:
            await asyncio.wait_for(self.counter.done.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        return self.counter.t_done

    async def verify(self):
        result = check_seqs(self.counter.seqs)
        if self.receipts:
            result["receipts_sent"] = self.counter.receipts_sent
        return result


class ReceiptsReceiver(RawReceiver):
    name = "receipts"
    receipts = True

    async def stop(self):
        self.stop_event.set()
        await self.task
        await self.client.close()


class PipeReceiver(Receiver):
    """A receiver process whose stdout we read line by line."""

    async def _spawn(self, argv, env=None, stdin=asyncio.subprocess.DEVNULL):
        self.proc = await asyncio.create_subprocess_exec(
            *argv, stdin=stdin, stdout=asyncio.subprocess.PIPE,
            stderr=open(os.path.join(self.rundir, f"{self.name}.stderr"), "wb"), env=env,
            limit=1 << 20)
        self.pid = self.proc.pid
        self.ready = asyncio.Event()
        self.done = asyncio.Event()
        self.t_done = None
        self.cpu_done = None
        self.seqs = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for line in self.proc.stdout:
            self.on_line(line)

    def mark_done(self, t):
        self.t_done = t
        self.cpu_done = cpu_seconds(self.pid)
        self.done.set()

    async def wait_done(self, timeout):
        try:
            await asyncio.wait_for(self.done.wait(), timeout)
        except asyncio.TimeoutError:
            return None
        return self.t_done

    async def _terminate(self, stdin_close=False):
        self.exit_s = None
        if self.proc.returncode is None:
            t = time.monotonic()
            if stdin_close and self.proc.stdin:
                self.proc.stdin.close()
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
                self.exit_s = round(time.monotonic() - t, 3)
            except asyncio.TimeoutError:
                log(f"{self.name} did not exit within 10 s of being asked; killing pid {self.pid}")
                self.stuck = stack_sample(self.pid)
                self.proc.kill()
                await self.proc.wait()
        try:
            await asyncio.wait_for(self.reader, 5)
        except (asyncio.TimeoutError, Exception):
            self.reader.cancel()


class DialtoneReceiver(PipeReceiver):
    name = "dialtone"

    async def start(self, rundir, user):
        self.rundir = rundir
        jid = f"{user}@{DOMAIN}"
        pwfile = os.path.join(rundir, "password")
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, f"pw-{user}\n".encode())
        os.close(fd)
        cfg = os.path.join(rundir, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'[[account]]\njid = "{jid}"\npassword_file = "{pwfile}"\n'
                    f'server = "127.0.0.1"\nport = {PORT}\nca_file = "{CA}"\n')
        env = dict(ENV)
        for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config")):
            env[var] = os.path.join(rundir, sub)
            os.makedirs(env[var], exist_ok=True)
        self.logfile = os.path.join(env["XDG_STATE_HOME"], "dialtone", "dialtone.log")
        self.db = os.path.join(env["XDG_DATA_HOME"], "dialtone", "accounts", jid, "dialtone.sqlite")
        self.states = []
        self.other_lines = 0
        await self._spawn([ENV["BENCH_DIALTONE"], "listen", "--json", "--config", cfg], env=env)
        deadline = time.monotonic() + 30
        while not self.ready.is_set():
            if self.proc.returncode is not None or time.monotonic() > deadline:
                raise RuntimeError(f"dialtone did not come online (states {self.states}); see {rundir}")
            await asyncio.sleep(0.05)
        # Then its archive catch-up (empty for a fresh account) must be over before the burst.
        while time.monotonic() < deadline:
            if os.path.exists(self.logfile) and "archive catch-up" in open(self.logfile, errors="replace").read():
                break
            await asyncio.sleep(0.05)
        else:
            log("dialtone logged no archive catch-up within 30 s; starting anyway")
        await asyncio.sleep(0.5)

    def on_line(self, line):
        if b'"type":"message"' not in line:
            try:
                obj = json.loads(line)
            except ValueError:
                self.other_lines += 1
                return
            if obj.get("type") == "connection":
                self.states.append(obj.get("state"))
                if obj.get("state") == "online":
                    self.ready.set()
            return
        obj = json.loads(line)
        if obj.get("direction") != "incoming":
            return
        m = burst_sender.SEQ_RE_STR.match(obj.get("body") or "")
        if not m:
            return
        self.seqs.append(int(m.group(1)))
        if len(self.seqs) == COUNT:
            self.mark_done(time.time())

    async def verify(self):
        result = check_seqs(self.seqs)
        result["states"] = self.states
        try:
            db = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
            rows, bodies, ids = db.execute(
                "SELECT count(*), count(DISTINCT body), count(DISTINCT stanzaID) FROM message "
                "WHERE direction = 'incoming'").fetchone()
            db.close()
            result["store_rows"], result["store_distinct_bodies"], result["store_distinct_ids"] = rows, bodies, ids
        except sqlite3.Error as e:
            result["store_error"] = str(e)
        return result

    async def stop(self):
        await self._terminate()
        lines = []
        if os.path.exists(self.logfile):
            with open(self.logfile, errors="replace") as f:
                lines = [l.rstrip("\n") for l in f]
        bad = [l for l in lines if re.search(r"^\S+ (warning|error|critical) ", l)]
        self.log_summary = {"log_lines": len(lines), "log_warnings_errors": len(bad), "log_sample": bad[:8],
                            "exit_status": self.proc.returncode, "exit_after_sigterm_s": self.exit_s}
        if getattr(self, "stuck", None):
            self.log_summary["stuck_threads"] = self.stuck
        stderr = open(os.path.join(self.rundir, "dialtone.stderr"), errors="replace").read().strip()
        if stderr:
            self.log_summary["stderr"] = stderr[-600:]


class SlixmppReceiver(PipeReceiver):
    name = "slixmpp"

    async def start(self, rundir, user):
        self.rundir = rundir
        here = os.path.dirname(os.path.abspath(__file__))
        await self._spawn([ENV["DIALTONE_PYTHON"], os.path.join(here, "slix_peer.py"), "receive",
                           f"{user}@{DOMAIN}/count", f"pw-{user}", str(PORT), CA, str(COUNT)],
                          stdin=asyncio.subprocess.PIPE)
        try:
            await asyncio.wait_for(self.ready.wait(), 30)
        except asyncio.TimeoutError:
            raise RuntimeError(f"slixmpp receiver not ready; see {rundir}/slixmpp.stderr")
        await asyncio.sleep(0.5)

    def on_line(self, line):
        words = line.split()
        if not words:
            return
        if words[0] == b"ready":
            self.ready.set()
        elif words[0] == b"done":
            self.cpu_done = cpu_seconds(self.pid)
            self.t_done = float(words[1])
            self.done.set()
        elif words[0] == b"count":
            self.final = (int(words[1]), int(words[2]))

    async def verify(self):
        self.final = None
        self.proc.stdin.write(b"report\n")
        await self.proc.stdin.drain()
        for _ in range(100):
            if self.final:
                break
            await asyncio.sleep(0.05)
        received, distinct = self.final or (None, None)
        return {"received": received, "distinct": distinct,
                "duplicates": None if received is None else received - distinct,
                "missing": None if distinct is None else COUNT - distinct}

    async def stop(self):
        await self._terminate(stdin_close=True)


class ProfanityReceiver(Receiver):
    """Profanity 0.13 in a detached tmux pane of a private tmux server, with its own XDG
    directories; it connects with -a, and we count its history database."""
    name = "profanity"
    session = ""

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-L", ENV["BENCH_TMUX_SOCKET"], "-f", "/dev/null", *args],
                              check=check, capture_output=True, text=True, timeout=20)

    async def start(self, rundir, user):
        self.rundir, self.user = rundir, user
        self.jid = f"{user}@{DOMAIN}"
        self.env = {"HOME": rundir, "TERM": "xterm-256color", "LANG": "C.UTF-8",
                    "PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": os.path.join(rundir, "config"),
                    "XDG_DATA_HOME": os.path.join(rundir, "data"), "XDG_CACHE_HOME": os.path.join(rundir, "cache")}
        for d in ("config/profanity", "data/profanity", "cache"):
            os.makedirs(os.path.join(rundir, d), exist_ok=True)
        accounts = os.path.join(rundir, "data", "profanity", "accounts")
        fd = os.open(accounts, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        # tls.policy=trust: libstrophe's XMPP_CONN_FLAG_TRUST_TLS. Profanity 0.13 takes a CA
        # only as a directory of hashed certificates (/tls certpath); trusting is the simpler
        # and equally fast choice on loopback.
        os.write(fd, (f"[{self.jid}]\nenabled=true\njid={self.jid}\nserver=127.0.0.1\nport={PORT}\n"
                      f"resource=profanity\npassword=pw-{user}\ntls.policy=trust\n"
                      f"presence.last=online\npresence.login=online\npriority.online=0\n").encode())
        os.close(fd)
        # Profanity's defaults otherwise; chat logging and history are on by default.
        with open(os.path.join(rundir, "config", "profanity", "profrc"), "w") as f:
            f.write("[ui]\nsplash=false\n")
        self.session = f"p{os.getpid()}-{user}"
        envargs = [f"{k}={v}" for k, v in self.env.items()]
        self.tmux("new-session", "-d", "-s", self.session, "-x", "160", "-y", "48",
                  "env", "-i", *envargs, "profanity", "-a", self.jid, "-l", "INFO")
        out = self.tmux("display-message", "-p", "-t", self.session, "#{pane_pid}").stdout.strip()
        self.pid = int(out)
        # The pane's process becomes profanity once env has exec'd it.
        for _ in range(100):
            comm = open(f"/proc/{self.pid}/comm").read().strip()
            if comm == "profanity":
                break
            await asyncio.sleep(0.05)
        else:
            raise RuntimeError(f"tmux pane runs {comm}, not profanity")
        self.logdir = os.path.join(rundir, "data", "profanity")
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            screen = self.tmux("capture-pane", "-p", "-t", self.session, check=False).stdout
            if "logged in successfully" in screen:
                break
            await asyncio.sleep(0.2)
        else:
            raise RuntimeError(f"profanity did not log in; screen:\n{screen}")
        await asyncio.sleep(1.0)

    def database(self):
        for root, _dirs, files in os.walk(os.path.join(self.logdir, "database")):
            for f in files:
                if f == "chatlog.db":
                    return os.path.join(root, f)
        return None

    def read_seqs(self, immutable=False):
        """Sequence numbers in Profanity's history database, in insertion order. While
        Profanity runs the file is opened immutable: SQLite then takes no lock at all, so we
        can never make Profanity's own writes fail (a reader holding a shared lock did, in an
        earlier measurement); a read that catches a half-written page just fails and is
        retried at the next poll."""
        path = self.database()
        if not path:
            return []
        flag = "&immutable=1" if immutable else ""
        db = sqlite3.connect(f"file:{path}?mode=ro{flag}", uri=True, timeout=1)
        try:
            rows = db.execute("SELECT message FROM ChatLogs WHERE message LIKE 'burst#%' ORDER BY id").fetchall()
        finally:
            db.close()
        return [int(m.group(1)) for (text,) in rows if (m := burst_sender.SEQ_RE_STR.match(text))]

    async def wait_done(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            path = self.database()
            if path:
                try:
                    db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=1)
                    (n,) = db.execute("SELECT count(*) FROM ChatLogs WHERE message LIKE 'burst#%'").fetchone()
                    db.close()
                except sqlite3.Error:
                    n = 0
                if n >= COUNT:
                    self.cpu_done = cpu_seconds(self.pid)
                    return time.time()
            if not os.path.exists(f"/proc/{self.pid}"):
                log("profanity exited during the burst")
                return None
            await asyncio.sleep(0.1)
        return None

    async def verify(self):
        # The final count is taken in stop(), after Profanity has closed its database.
        screen = self.tmux("capture-pane", "-p", "-t", self.session, check=False).stdout
        return {"disconnected": bool(re.search(r"[Ll]ost connection|[Dd]isconnected", screen))}

    async def stop(self):
        if not self.pid:
            self.tmux("kill-session", "-t", self.session, check=False)
            return
        if os.path.exists(f"/proc/{self.pid}"):
            self.tmux("send-keys", "-t", self.session, "/quit", "Enter", check=False)
            for _ in range(100):
                if not os.path.exists(f"/proc/{self.pid}"):
                    break
                await asyncio.sleep(0.1)
            else:
                log(f"profanity did not quit; killing pid {self.pid}")
                os.kill(self.pid, signal.SIGKILL)
        self.tmux("kill-session", "-t", self.session, check=False)
        summary = {}
        try:
            summary["history"] = check_seqs(self.read_seqs())
        except sqlite3.Error as e:
            summary["history_error"] = str(e)
        plog = os.path.join(self.logdir, "logs", "profanity.log")
        if os.path.exists(plog):
            lines = open(plog, errors="replace").read().splitlines()
            bad = [l for l in lines if re.search(r"\b(ERR|WRN)\b", l)]
            summary["log_warnings_errors"] = len(bad)
            summary["log_sample"] = bad[:6]
        self.log_summary = summary


RECEIVERS = {"raw": RawReceiver, "receipts": ReceiptsReceiver, "slixmpp": SlixmppReceiver,
             "dialtone": DialtoneReceiver, "profanity": ProfanityReceiver}
LETTER = {"raw": "r", "receipts": "e", "slixmpp": "s", "dialtone": "d", "profanity": "p"}


async def perf_report(rundir):
    """perf's view of where the receiver's CPU went: inclusive (children) and own time."""
    data = os.path.join(rundir, "perf.data")
    with open(os.path.join(rundir, "perf-report.txt"), "w") as out:
        for title, args in (("inclusive time (with callees)", ["--children"]),
                            ("own time", ["--no-children"])):
            out.write(f"==== {title} ====\n")
            r = await asyncio.create_subprocess_exec(
                "perf", "report", "-i", data, *args, "--sort", "symbol", "-g", "none", "--stdio",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
            text, _ = await r.communicate()
            lines = [l for l in text.decode(errors="replace").splitlines() if "%" in l]
            out.write("\n".join(lines[:150]) + "\n\n")
    log(f"profile written to {os.path.join(rundir, 'perf-report.txt')}")


async def wait_quiet(limit):
    """procstat.wait_quiet, off the event loop."""
    return await asyncio.to_thread(procstat.wait_quiet, limit)


async def run(kind, round_no):
    rundir = os.path.join(ENV["BENCH_WORK"], f"{kind}-{round_no}")
    os.makedirs(rundir, exist_ok=True)
    # Registered by Scripts/bench-burst before Prosody starts (see account_names): prosodyctl
    # cannot write Prosody's SQLite database while Prosody is busy storing a burst.
    user, sender = account_names(kind, round_no)
    receiver = RECEIVERS[kind]()
    result = {"kind": kind, "round": round_no, "count": COUNT}
    sp = prosody_pid()
    try:
        await receiver.start(rundir, user)
        waited, busy = await wait_quiet(float(ENV.get("BENCH_QUIET_WAIT", "60")))
        result["quiet_wait_s"], result["busy_cores_before"] = waited, busy
        if busy is not None and busy >= 0.25:
            log(f"the machine is busy with other work ({busy:.2f} cores after {waited:.0f} s); measuring anyway")
        perf = None
        if ENV.get("BENCH_PERF") and kind == "dialtone" and round_no == 0:
            perf = await asyncio.create_subprocess_exec(
                "perf", "record", "-F", "250", "--call-graph", "dwarf,16384", "-o",
                os.path.join(rundir, "perf.data"), "-p", str(receiver.pid),
                stdout=asyncio.subprocess.DEVNULL, stderr=open(os.path.join(rundir, "perf.stderr"), "wb"))
            await asyncio.sleep(1.0)
        before = {}

        def on_ready():
            before["cpu"] = cpu_seconds(receiver.pid) if receiver.pid else None
            before["prosody_cpu"] = cpu_seconds(sp) if sp else None
            before["machine"], before["steal"] = machine_cpu()
            before["own"] = own_cpu()
            before["load"] = os.getloadavg()[0]
            before["t"] = time.time()
            before["rss"] = status_kb(receiver.pid, "VmRSS") if receiver.pid else None

        client, stop, drainer, server_took, timing = await burst_sender.send_burst(
            PORT, DOMAIN, sender, f"pw-{sender}", CA, f"{user}@{DOMAIN}", COUNT, f"{LETTER[kind]}{round_no}",
            on_ready=on_ready)
        t_done = await receiver.wait_done(TIMEOUTS[kind])
        prosody_after = cpu_seconds(sp) if sp else None
        machine_after, steal_after = machine_cpu()
        own_after = own_cpu()
        span = time.time() - before["t"]
        if perf:
            perf.send_signal(signal.SIGINT)
            await asyncio.wait_for(perf.wait(), 120)
            await perf_report(rundir)
        t0 = timing["t_first"]
        try:  # normally answered already; a receiver that finished first does not wait long
            await asyncio.wait_for(server_took.wait(), 30)
        except asyncio.TimeoutError:
            pass
        result.update({
            "complete": t_done is not None,
            "wall_s": round(t_done - t0, 3) if t_done else None,
            "sender_write_s": round(timing["t_written"] - t0, 3),
            "sender_rate": timing["sender_rate"],
            "server_took_s": round(server_took.t - t0, 3) if server_took.is_set() else None,
            "mean_stanza_bytes": timing["mean_stanza_bytes"],
            "load_at_start": round(before["load"], 2),
            "machine_busy_s": round(machine_after - before["machine"], 2),
            "span_s": round(span, 3),
            "steal_s": round(steal_after - before["steal"], 2),
            "bench_own_cpu_s": round(own_after - before["own"], 2),
        })
        if receiver.pid and before.get("cpu") is not None:
            cpu_end = getattr(receiver, "cpu_done", None) or cpu_seconds(receiver.pid)
            if cpu_end is not None:
                result["cpu_s"] = round(cpu_end - before["cpu"], 3)
                result["cpu_ms_per_msg"] = round(1000 * result["cpu_s"] / COUNT, 4)
            result["peak_rss_mb"] = round((status_kb(receiver.pid, "VmHWM") or 0) / 1024, 1)
            if before.get("rss"):
                result["rss_before_burst_mb"] = round(before["rss"] / 1024, 1)
        if before.get("prosody_cpu") is not None and prosody_after is not None:
            result["prosody_cpu_s"] = round(prosody_after - before["prosody_cpu"], 3)
        # CPU that neither the receiver, nor Prosody, nor this script used: other work on the
        # machine, which the wall time then shares the two cores with.
        result["others_cpu_s"] = round(result["machine_busy_s"] - (result.get("cpu_s") or 0)
                                       - (result.get("prosody_cpu_s") or 0) - result["bench_own_cpu_s"], 2)
        await asyncio.sleep(GRACE)
        result["check"] = await receiver.verify()
        result.update(await burst_sender.finish_sender(client, stop, drainer))
    finally:
        try:
            await receiver.stop()
        except Exception as e:  # report, but never leave the run without a result line
            log(f"stopping {kind}: {e!r}")
        if hasattr(receiver, "log_summary"):
            result["log"] = receiver.log_summary
            if "history" in receiver.log_summary:
                result.setdefault("check", {}).update(receiver.log_summary.pop("history"))
        with open(ENV["BENCH_RESULTS"], "a") as f:
            f.write(json.dumps(result) + "\n")
    return result


# ---- summary -----------------------------------------------------------------------------------

def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=2):
    if v is None:
        return "–"
    return f"{v:,.{digits}f}"


def summary():
    runs = [json.loads(l) for l in open(ENV["BENCH_RESULTS"]) if l.strip()]
    order = ["dialtone", "profanity", "receipts", "raw", "slixmpp"]
    label = {"dialtone": "Dialtone (`dialtone listen --json`)", "slixmpp": "slixmpp 1.17, counting only",
             "raw": "raw TLS socket, counting only",
             "receipts": "raw TLS socket, counting and answering receipts",
             "profanity": "Profanity 0.13.1 (defaults, in tmux)"}
    print("| receiver | runs | all stored after, s: median (each run) | Prosody had routed all, s | "
          "receiver CPU a message, ms | RSS before the burst → peak, MB | Prosody CPU, s | other load, CPU s | "
          "stored / distinct / lost / duplicated (worst run) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for kind in order:
        rs = [r for r in runs if r["kind"] == kind]
        if not rs:
            continue
        walls = [r.get("wall_s") for r in rs]
        each = ", ".join(fmt(w, 1) if w is not None else "incomplete" for w in walls)
        checks = [r.get("check", {}) for r in rs]
        worst = max(checks, key=lambda c: ((c.get("missing") or 0) + (c.get("duplicates") or 0)), default={})
        integrity = (f"{worst.get('received', '–')} / {worst.get('distinct', '–')} / "
                     f"{worst.get('missing', '–')} / {worst.get('duplicates', '–')}")
        if kind == "dialtone":
            integrity += f"; store rows {max((c.get('store_rows') or 0) for c in checks)}"
        cpu = median([r.get("cpu_ms_per_msg") for r in rs])
        rss = median([r.get("peak_rss_mb") for r in rs])
        rss_before = median([r.get("rss_before_burst_mb") for r in rs])
        complete = sum(1 for w in walls if w is not None)
        wall_med = median(walls) if complete == len(rs) else None
        print(f"| {label[kind]} | {len(rs)} | {fmt(wall_med)} ({each}) | "
              f"{fmt(median([r.get('server_took_s') for r in rs]))} | {fmt(cpu, 3)} | "
              f"{fmt(rss_before, 1) + ' → ' if rss_before else ''}{fmt(rss, 1)} | "
              f"{fmt(median([r.get('prosody_cpu_s') for r in rs]), 1)} | "
              f"{fmt(median([r.get('others_cpu_s') for r in rs]), 1)} | {integrity} |")
    rates = [r.get("sender_rate") for r in runs]
    writes = [r.get("sender_write_s") for r in runs]
    size = median([r.get("mean_stanza_bytes") for r in runs])
    print()
    print(f"Raw sender: median {fmt(median(rates), 0)} stanzas/s written ({fmt(median(writes))} s for all "
          f"{COUNT:,}), mean stanza {fmt(size, 0)} bytes.")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "summary":
        summary()
    elif len(sys.argv) >= 3 and sys.argv[1] == "accounts":
        print(" ".join(n for r in range(1, int(sys.argv[2]) + 1) for k in sys.argv[3:] for n in account_names(k, r)))
    elif len(sys.argv) == 4 and sys.argv[1] == "run":
        r = asyncio.run(run(sys.argv[2], int(sys.argv[3])))
        brief = {k: r.get(k) for k in ("kind", "round", "wall_s", "server_took_s", "cpu_ms_per_msg", "peak_rss_mb",
                                       "prosody_cpu_s", "others_cpu_s", "steal_s", "load_at_start")}
        c = r.get("check", {})
        brief.update({k: c.get(k) for k in ("received", "distinct", "missing", "duplicates", "store_rows")})
        log(json.dumps(brief))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
