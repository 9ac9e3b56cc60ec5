#!/usr/bin/env python3
"""One measured run of "joining a busy group chat" for Scripts/bench-room, and the summary.

  room_run.py run KIND ROUND    KIND: dialtone | profanity; appends one JSON object to
                                $BENCH_RESULTS
  room_run.py summary           the medians per client as Markdown

A run: the client starts in a pane of a private tmux server (BENCH_SIZE, 120x40: wide enough
for both clients' occupant lists) with a fresh account and settles; the room
(big_room.py, a component of the bench's Prosody) starts with OCCUPANTS occupants and
ARCHIVE archived messages. Then:
  * Join: `/join ROOM` is typed; t0 is just before Enter is sent, and the room is usable when
    the newest archived message ("history#<ARCHIVE-1>") shows on the screen (each client's
    own way of bringing history: Dialtone asks the room's archive for its newest page, with
    maxstanzas=0 on the join; Profanity 0.13 takes the discussion history the room sends with
    the join, 20 messages by default). The screen is read through tmux's control mode when the
    client has written to its terminal (tmux pipes the pane's output to the bench), at most
    once in 10 ms; screen_reads and slowest_read_ms say what the reading cost. CPU is the
    client's utime+stime over that span; memory is VmRSS before the join and
    after the client has settled again (idle, its socket drained), so the growth covers the
    occupants and the history shown.
  * Burst: the room sends BURST groupchat messages as fast as Prosody takes them; the run
    ends when the client's own store holds all of them (Dialtone's SQLite store; Profanity's
    chatlog.db, read without locks); CPU per message is the client's over that span.
Timeouts make a client that never gets there a failed run, reported as such.
"""

import json
import os
import re
import sqlite3
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
os.environ.setdefault("BENCH_SIZE", "120x40")
import tui_latency as tui  # noqa: E402
from procstat import cpu_seconds, status_kb  # noqa: E402

ENV = os.environ
DOMAIN = ENV.get("DIALTONE_TEST_DOMAIN", "dialtone.test")
ROOM_DOMAIN = f"fakerooms.{DOMAIN}"
ROOM = f"bench@{ROOM_DOMAIN}"
OCCUPANTS = int(ENV.get("BENCH_OCCUPANTS", "1000"))
ARCHIVE = int(ENV.get("BENCH_ARCHIVE", "5000"))
BURST = int(ENV.get("BENCH_BURST", "10000"))
LETTER = {"dialtone": "d", "profanity": "p"}
LABEL = {"dialtone": "Dialtone (`dialtone tui`)", "profanity": "Profanity 0.13.1 (Debian), defaults"}


def log(*args):
    print("bench-room:", *args, file=sys.stderr, flush=True)


def account(kind, round_no):
    return f"room-{LETTER[kind]}{round_no}"


def stored(kind, client):
    """How many of the burst's messages the client's own store holds (None: not readable now)."""
    try:
        if kind == "dialtone":
            db = sqlite3.connect(f"file:{client.db}?mode=ro", uri=True, timeout=1)
        else:
            path = next((os.path.join(r, "chatlog.db") for r, _d, files in
                         os.walk(os.path.join(client.rundir, "data", "profanity", "database")) if "chatlog.db" in files), None)
            if not path:
                return 0
            db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=1)
        table, column = ("message", "body") if kind == "dialtone" else ("ChatLogs", "message")
        (n,) = db.execute(f"SELECT count(*) FROM {table} WHERE {column} LIKE 'roomburst#%'").fetchone()
        db.close()
        return n
    except (sqlite3.Error, OSError):
        return None


class RoomProcess:
    def __init__(self, rundir):
        self.proc = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "big_room.py"), "--domain", ROOM_DOMAIN,
             "--secret", ENV["DIALTONE_TEST_COMPONENT_SECRET"], "--port", ENV["DIALTONE_TEST_COMPONENT_PORT"],
             "--occupants", str(OCCUPANTS), "--archive", str(ARCHIVE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(os.path.join(rundir, "room.stderr"), "wb"),
            bufsize=0)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.buffer, self.events = b"", []

    def poll(self):
        try:
            data = self.proc.stdout.read()
        except BlockingIOError:
            data = None
        if data:
            self.buffer += data
            *lines, self.buffer = self.buffer.split(b"\n")
            self.events += [json.loads(line) for line in lines if line.strip()]
        return self.events

    def wait(self, event, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.poll() if e["event"] == event]
            if found:
                return found[-1]
            if self.proc.poll() is not None:
                raise RuntimeError(f"the room exited (see room.stderr): {self.events}")
            time.sleep(0.01)
        return None

    def tell(self, line):
        self.proc.stdin.write((line + "\n").encode())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def profile(pid, rundir, label):
    """perf record of `pid` while a phase runs (BENCH_PERF=1), or of every process's reads and
    writes (BENCH_SYSCALLS=1): outside the figures' runs."""
    if ENV.get("BENCH_SYSCALLS"):
        # A timeline of every process's reads and writes (the client's terminal, socket and
        # store; Prosody; the room): where the wait goes, not what the CPU does. Read it with
        # `perf script -i syscalls-join.data`. Tracing the whole machine slows it: outside the
        # figures' runs, as BENCH_PERF is.
        proc = subprocess.Popen(["perf", "record", "-a", "-o", os.path.join(rundir, f"syscalls-{label}.data"),
                                 "-e", "syscalls:sys_enter_read,syscalls:sys_exit_read,syscalls:sys_enter_write,"
                                 "syscalls:sys_enter_pwrite64,syscalls:sys_enter_writev,syscalls:sys_enter_sendto,"
                                 "syscalls:sys_enter_recvfrom,syscalls:sys_enter_epoll_wait,syscalls:sys_exit_epoll_wait"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return proc
    if not ENV.get("BENCH_PERF"):
        return None
    proc = subprocess.Popen(["perf", "record", "-F", os.environ.get("BENCH_PERF_HZ", "999"), "-g", "-o", os.path.join(rundir, f"perf-{label}.data"),
                             "-p", str(pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return proc


def end_profile(proc):
    if proc:
        proc.send_signal(2)
        proc.wait(60)


def read_until(pane, text, t0, timeout=60):
    """Reads the pane's screen until it shows `text`: after each output of the client, but no
    sooner than 10 ms after the read before (as often as a 10 ms timer, and not a tick late).
    Returns when it showed (or None), the reads, and the slowest read in seconds."""
    reads, slowest = 0, 0.0
    while tui.now() - t0 < timeout:
        r0 = tui.now()
        screen = pane.screen()
        reads, slowest = reads + 1, max(slowest, tui.now() - r0)
        if text in screen:
            return tui.now(), reads, slowest
        time.sleep(max(0.0, 0.01 - (tui.now() - r0)))
        pane.wait_output(timeout - (tui.now() - t0))
    return None, reads, slowest


def run(kind, round_no):
    rundir = os.path.join(ENV["BENCH_WORK"], f"{kind}-{round_no}")
    os.makedirs(rundir, exist_ok=True)
    tui.ACCOUNT[kind] = account(kind, round_no)
    client = tui.CLIENTS[kind](kind, rundir)
    client.setup()
    result = {"kind": kind, "round": round_no, "occupants": OCCUPANTS, "archive": ARCHIVE, "burst": BURST,
              "size": f"{tui.COLS}x{tui.ROWS}"}
    tmux = tui.Tmux(ENV["BENCH_TMUX_SOCKET"])
    room = RoomProcess(rundir)
    pane = None
    try:
        if room.wait("ready", 20) is None:
            raise RuntimeError("the room component did not connect")
        pane = tui.Pane(tmux, client, f"{kind}{round_no}")
        result["start"] = tui.start_up(pane)
        waited, busy = tui.wait_quiet(float(ENV.get("BENCH_QUIET_WAIT", "60")))
        result["busy_cores_before"] = busy
        newest = f"history#{ARCHIVE - 1} "
        join = f"/join {ROOM}" + (" dt" if kind == "dialtone" else "")
        rss0, cpu0 = status_kb(pane.pid, "VmRSS"), cpu_seconds(pane.pid)
        pane.watch_output()
        perf = profile(pane.pid, rundir, "join")
        pane.keys(join)
        t0 = tui.now()
        pane.key("Enter")
        # The room stamps its events with the wall clock: what it took itself to answer.
        wall0 = time.time()
        try:
            t_usable, reads, slowest = read_until(pane, newest, t0)
            cpu1 = cpu_seconds(pane.pid)
        finally:
            # What the client wrote to its terminal until then (or until it gave up).
            written = pane.unwatch_output()
        end_profile(perf)
        pane.save_screen("joined")
        joined = room.wait("joined", 1)
        pages = [e for e in room.poll() if e["event"] == "archive"]
        result["join"] = {
            "terminal_kb": round(written / 1024, 1),
            "usable_s": round(t_usable - t0, 3) if t_usable else None,
            "screen_reads": reads,
            "slowest_read_ms": round(slowest * 1000, 1),
            "cpu_s": round(cpu1 - cpu0, 3) if t_usable else None,
            "history_asked": joined and joined.get("history"),
            "archive_pages": len(pages),
            # When the room had written its answer to the join (occupants, any history,
            # subject) and its first archive page: the rest of the wait is Prosody and the client.
            "room_answered_s": round(joined["t"] - wall0, 3) if joined else None,
            "archive_written_s": round(pages[0]["t"] - wall0, 3) if pages else None,
        }
        result["join"]["settled_after_s"] = tui.settle(pane, 120)
        rss1 = status_kb(pane.pid, "VmRSS")
        result["join"]["rss_before_mb"] = round(rss0 / 1024, 1)
        result["join"]["rss_growth_mb"] = round((rss1 - rss0) / 1024, 2)
        result["join"]["kb_per_occupant"] = round((rss1 - rss0) / OCCUPANTS, 2)
        if t_usable is None:
            log(f"{kind}: the newest history message never showed; see the screen in {rundir}")

        perf = profile(pane.pid, rundir, "burst")
        cpu2 = cpu_seconds(pane.pid)
        room.tell(f"burst {BURST}")
        t_done, count = None, 0
        deadline = time.time() + 600
        while time.time() < deadline:
            count = stored(kind, client) or count
            if count >= BURST:
                t_done = time.time()
                break
            if pane.dead():
                log(f"{kind} exited during the burst")
                break
            time.sleep(0.05)
        cpu3 = cpu_seconds(pane.pid)
        end_profile(perf)
        sent = room.wait("burst", 30) or {}
        result["burst_run"] = {
            "stored": count,
            "complete": t_done is not None,
            "wall_s": round(t_done - sent["t_first"], 3) if t_done and sent else None,
            "room_wrote_s": round(sent["t_written"] - sent["t_first"], 3) if sent else None,
            "cpu_s": round(cpu3 - cpu2, 3) if cpu3 is not None else None,
            "cpu_ms_per_msg": round(1000 * (cpu3 - cpu2) / BURST, 4) if cpu3 is not None and t_done else None,
            "peak_rss_mb": round((status_kb(pane.pid, "VmHWM") or 0) / 1024, 1),
        }
        pane.save_screen("burst")
    finally:
        if pane:
            pane.quit()
        room.stop()
        tmux.close()
        with open(ENV["BENCH_RESULTS"], "a") as f:
            f.write(json.dumps(result) + "\n")
    return result


median = tui.median


def fmt(v, digits=2):
    return tui.fmt(v, digits)


def summary():
    results = [json.loads(line) for line in open(ENV["BENCH_RESULTS"])]
    kinds = [k for k in LABEL if any(r["kind"] == k for r in results)]
    first = results[0]
    print(f"Room: {first['occupants']} occupants, {first['archive']} archived messages; burst of {first['burst']} "
          f"messages; terminal {first['size']}; medians of {max(r['round'] for r in results)} run(s).\n")
    print("| Client | join → newest history on screen | CPU for the join | RSS growth (per occupant) "
          "| burst: all stored | CPU per room message | peak RSS | runs complete |")
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        rs = [r for r in results if r["kind"] == kind]
        join = [r.get("join", {}) for r in rs]
        burst = [r.get("burst_run", {}) for r in rs]
        complete = sum(1 for j, b in zip(join, burst) if j.get("usable_s") is not None and b.get("complete"))
        print(f"| {LABEL[kind]} | {fmt(median(j.get('usable_s') for j in join), 3)} s "
              f"| {fmt(median(j.get('cpu_s') for j in join), 3)} s "
              f"| {fmt(median(j.get('rss_growth_mb') for j in join), 1)} MB ({fmt(median(j.get('kb_per_occupant') for j in join), 1)} kB) "
              f"| {fmt(median(b.get('wall_s') for b in burst))} s "
              f"| {fmt(median(b.get('cpu_ms_per_msg') for b in burst), 3)} ms "
              f"| {fmt(median(b.get('peak_rss_mb') for b in burst), 1)} MB | {complete}/{len(rs)} |")
    by = {k: [r for r in results if r["kind"] == k] for k in kinds}
    if "dialtone" in by and "profanity" in by:
        def ratio(getter):
            d = median(getter(r) for r in by["dialtone"])
            p = median(getter(r) for r in by["profanity"])
            return None if not d or not p else p / d
        print(f"\nProfanity ÷ Dialtone: join {fmt(ratio(lambda r: r.get('join', {}).get('usable_s')), 1)}×, "
              f"burst wall {fmt(ratio(lambda r: r.get('burst_run', {}).get('wall_s')), 1)}×, "
              f"burst CPU a message {fmt(ratio(lambda r: r.get('burst_run', {}).get('cpu_ms_per_msg')), 1)}×.")
    for r in results:
        j = r.get("join", {})
        print(f"\n{r['kind']} round {r['round']}: join {j.get('usable_s')} s (history asked: {j.get('history_asked')}, "
              f"archive pages served: {j.get('archive_pages')}, room answered the join at {j.get('room_answered_s')} s, "
              f"wrote its archive page at {j.get('archive_written_s')} s, settled {j.get('settled_after_s')} s later); "
              f"burst {json.dumps(r.get('burst_run'))}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "run" and sys.argv[2] in LABEL:
        run(sys.argv[2], int(sys.argv[3]))
    elif len(sys.argv) == 2 and sys.argv[1] == "summary":
        summary()
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
