"""What the benchmarks read from /proc: a process's CPU time and memory, the whole machine's
busy time, and a wait for the machine to go quiet before a measured run. Shared by
burst_run.py, call_media.py and tui_latency.py."""

import os
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """utime + stime of `pid` in seconds, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK


def status_kb(pid, field):
    """A kB field of /proc/PID/status (VmRSS, VmHWM…), or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_cpu():
    """(busy, steal) CPU seconds of the whole machine so far, all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq) / TICK, steal / TICK


def prosody_pid():
    """The test server's Prosody, from the pids file of the environment Scripts/testenv/up made."""
    try:
        with open(os.path.join(os.environ["DIALTONE_TESTENV"], "pids")) as f:
            for line in f:
                name, pid = line.split()
                if name == "prosody":
                    return int(pid)
    except (OSError, KeyError, ValueError):
        pass
    return None


def wait_quiet(limit):
    """Waits at most `limit` s until other work leaves the machine nearly idle (under 0.25 of
    a core over three one-second samples in a row): builds on the same machine would otherwise
    share its cores with the run. Returns (seconds waited, last sample)."""
    t0, calm, busy = time.monotonic(), 0, None
    while time.monotonic() - t0 < limit:
        a, _ = machine_cpu()
        time.sleep(1.0)
        b, _ = machine_cpu()
        busy = b - a
        calm = calm + 1 if busy < 0.25 else 0
        if calm >= 3:
            break
    return round(time.monotonic() - t0, 1), None if busy is None else round(busy, 2)
