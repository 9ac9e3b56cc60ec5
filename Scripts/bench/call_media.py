#!/usr/bin/env python3
"""Runs and summarises Scripts/bench-call-media: a two-way call's CPU, peak memory and
mouth-to-ear latency, Dialtone against baresip, on loopback through file-backed ALSA devices.

  call_media.py signals                 write the capture inputs (caller.in.raw, callee.in.raw)
  call_media.py run IMPL VARIANT RUN    one call; appends one JSON object to $BENCH_RESULTS
       IMPL dialtone: VARIANT vp-off (echo_cancellation and noise_suppression false on both
                      ends) or vp-on (the defaults: echo cancellation + noise suppression)
       IMPL baresip:  VARIANT rtp (plain RTP, baresip's Opus defaults: complexity 10, "audio"
                      application), dtls (DTLS-SRTP, same codec), dtls-c5 (DTLS-SRTP with
                      Dialtone's Opus settings: complexity 5, "voip", in-band FEC for 10 % loss)
  call_media.py summary                 the table, from $BENCH_RESULTS

Both clients run with the same audio devices: ALSA's `file` plugin over a `null` slave,
reading the capture input with `infile` and writing what is played to a raw file (s16le, mono,
48 kHz). Dialtone paces those devices itself (FramePacer, one frame every 20 ms on
CLOCK_MONOTONIC) and logs when its first frame came off capture and went to playback.
baresip 1.0's ALSA module relies on the device to block, so it runs with alsa_pace.so
preloaded, which applies the same schedule to snd_pcm_readi/writei and logs the same two
instants (see alsa_pace.c).

CPU: utime+stime of each process (/proc/PID/stat, 10 ms ticks) over a window that opens
BENCH_SETTLE s after both ends reported the call connected (Dialtone's "connected" state line,
baresip's CALL_ESTABLISHED event: baresip's DTLS and audio start come a second or so after
it) and closes 1 s before the caller hangs up. % of a core = CPU seconds / wall seconds of the
window; CPU s per minute = that × 60. Peak memory: VmHWM (/proc/PID/status), sampled every
0.5 s and the maximum kept.

Latency: the capture inputs are a quiet tone (caller 440 Hz, callee 660 Hz, amplitude 1000)
(or, with BENCH_INPUT=speech, espeak-ng speech peaking at 3000) with a click every 2 s (5 ms of 2 kHz at amplitude 16000; caller from 5 s, callee from 6 s).
Each click is found in the capture input and in the far side's playback output (onset: the
first sample at half the click's own peak, after a quiet stretch), and
    latency = (playback first frame + output index / 48 kHz)
              - (capture first frame + input index / 48 kHz)
over both directions. That counts a captured sample as taken when its frame was handed on,
so it leaves out the 20 ms a real device needs to fill a frame and any device buffering: add
20 ms to compare with a mouth-to-ear floor (the "+frame" column).

Environment (from Scripts/bench-call-media): BENCH_WORK, BENCH_RESULTS, BENCH_SECONDS, BENCH_INPUT,
BENCH_SETTLE, BENCH_DIALTONE, BENCH_PACE_SO, BENCH_NICE, BENCH_QUIET_WAIT, BENCH_BARESIP_PORT
and the DIALTONE_TEST_* variables of the test environment.
"""

import array
import json
import math
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from procstat import cpu_seconds, machine_cpu, status_kb, wait_quiet  # noqa: E402

ENV = os.environ
RATE = 48_000
WORK = ENV.get("BENCH_WORK", "/tmp")
SECONDS = float(ENV.get("BENCH_SECONDS", "60"))
SETTLE = float(ENV.get("BENCH_SETTLE", "2"))
END_MARGIN = 1.0
# Signal design.
TONE_AMPLITUDE = 1000
# BENCH_INPUT=speech: speech instead of the tone, under the same clicks, peaking below the
# click detector's threshold.
INPUT = ENV.get("BENCH_INPUT", "tone")
SPEECH_PEAK = 3000
CLICK_AMPLITUDE = 16000
CLICK_HZ = 2000
CLICK_SAMPLES = RATE * 5 // 1000
CLICK_EVERY = 2.0
SIGNALS = {"caller": (440, 5.0), "callee": (660, 6.0)}  # tone Hz, first click s
# Click detection.
COARSE_THRESHOLD = 5000      # |sample| far above the tone, below a decoded click
QUIET_BEFORE = RATE // 2     # a click is the first loud sample after 0.5 s without one
BLOCK = 48                   # 1 ms blocks for the coarse scan


def log(*args):
    print("bench-call-media:", *args, file=sys.stderr, flush=True)


# ---- /proc ---------------------------------------------------------------------------------

def thread_times(pid):
    """{tid: (name, ns on CPU)} of a process's live threads, from /proc/PID/task/*/schedstat."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                out[tid] = (name, int(f.read().split()[0]))
        except (OSError, ValueError, IndexError):
            pass
    return out


class Endpoint:
    """A started client process: its pid, peak memory and CPU samples."""

    def __init__(self, name, argv, env, stdout_path, cwd=None):
        self.name = name
        self.stdout_path = stdout_path
        self.out = open(stdout_path, "wb")
        nice = int(ENV.get("BENCH_NICE", "0") or 0)
        prefix = ["nice", "-n", str(nice)] if nice else []
        self.proc = subprocess.Popen(prefix + argv, env=env, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=cwd)
        self.pid = self.proc.pid  # `nice` execs the client: same pid
        with open(os.path.join(WORK, "pids"), "a") as f:
            f.write(f"{self.pid}\n")
        self.hwm_kb = 0
        self.samples = {}
        self.threads = {}

    def alive(self):
        return self.proc.poll() is None

    def poll_memory(self):
        kb = status_kb(self.pid, "VmHWM") if self.alive() else None
        if kb:
            self.hwm_kb = max(self.hwm_kb, kb)

    def sample(self, label):
        self.poll_memory()
        self.samples[label] = cpu_seconds(self.pid) if self.alive() else None
        self.threads[label] = thread_times(self.pid) if self.alive() else {}

    def stop(self, grace=10.0):
        """Waits up to `grace` s for the process to exit, then SIGTERM, then SIGKILL."""
        deadline = time.monotonic() + grace
        while self.alive() and time.monotonic() < deadline:
            self.poll_memory()
            time.sleep(0.1)
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 2.0)):
            if not self.alive():
                break
            log(f"{self.name} (pid {self.pid}) still running: {sig.name}")
            self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                pass
        self.out.close()
        return self.proc.poll()

    def result(self, t_start, t_end):
        a, b = self.samples.get("start"), self.samples.get("end")
        r = {"peak_rss_kb": self.hwm_kb or None, "exit_status": self.proc.poll()}
        if a is not None and b is not None and t_end > t_start:
            r["cpu_s"] = round(b - a, 3)
            r["core_pct"] = round(100 * (b - a) / (t_end - t_start), 3)
            # Where it went: each thread alive at both ends of the window, % of a core.
            before, after = self.threads.get("start", {}), self.threads.get("end", {})
            per = [(after[t][0], t, (after[t][1] - before[t][1]) / 1e9) for t in after if t in before]
            r["threads_pct"] = [[name, int(tid), round(100 * cpu / (t_end - t_start), 3)]
                                for name, tid, cpu in sorted(per, key=lambda x: -x[2]) if cpu > 0]
        return r


# ---- signals and latency -------------------------------------------------------------------

def click_times(first):
    t, out = first, []
    while t < SECONDS + 30:
        out.append(t)
        t += CLICK_EVERY
    return out


def speech():
    """BENCH_INPUT=speech: the two espeak-ng samples of Scripts/bench-opus, one after the other,
    scaled to peak at SPEECH_PEAK, so that the clicks stand out as they do over the tone."""
    from opus_settings import SAMPLES, make_speech
    make_speech(WORK)
    samples = array.array("h")
    for name in SAMPLES:
        samples.extend(read_raw(os.path.join(WORK, f"{name}.48k.raw")))
    peak = max(max(samples), -min(samples)) or 1
    return array.array("h", (v * SPEECH_PEAK // peak for v in samples))


def write_signals():
    total = int((SECONDS + 30) * RATE)
    voice = speech() if INPUT == "speech" else None
    for index, (name, (hz, first)) in enumerate(SIGNALS.items()):
        if voice:
            # Looped; the callee half-way through, so that the two do not speak in step.
            offset = index * len(voice) // 2
            samples = array.array("h", (voice[(offset + i) % len(voice)] for i in range(total)))
        else:
            step = 2 * math.pi * hz / RATE
            samples = array.array("h", (int(TONE_AMPLITUDE * math.sin(step * i)) for i in range(total)))
        burst = [int(CLICK_AMPLITUDE * math.sin(2 * math.pi * CLICK_HZ * i / RATE)) for i in range(CLICK_SAMPLES)]
        for t in click_times(first):
            start = int(t * RATE)
            for i, v in enumerate(burst):
                if start + i < total:
                    samples[start + i] = max(-32767, min(32767, samples[start + i] + v))
        if sys.byteorder != "little":
            samples.byteswap()
        with open(os.path.join(WORK, f"{name}.in.raw"), "wb") as f:
            samples.tofile(f)


def read_raw(path):
    samples = array.array("h")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return samples
    samples.frombytes(data[: len(data) // 2 * 2])
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def find_clicks(samples):
    """Sample indices of click onsets: a 1 ms block scan for the first block louder than
    COARSE_THRESHOLD after QUIET_BEFORE samples without one, then, within -5…+15 ms of it, the
    first sample reaching half of the click's own peak (the same rule for input and output,
    so codec gain and smearing move both ends alike)."""
    found, last_loud = [], -QUIET_BEFORE - 1
    n = len(samples)
    for b in range(0, n, BLOCK):
        block = samples[b:b + BLOCK]
        loud = max(max(block), -min(block)) >= COARSE_THRESHOLD
        if not loud:
            continue
        if b - last_loud > QUIET_BEFORE:
            lo, hi = max(0, b - RATE * 5 // 1000), min(n, b + RATE * 15 // 1000)
            region = samples[lo:hi]
            peak = max(max(region), -min(region))
            half = peak / 2
            onset = next(lo + i for i, v in enumerate(region) if abs(v) >= half)
            found.append(onset)
        last_loud = b
    return found


def latency_direction(input_path, captured_path, capture_first_ns, output_path, playback_first_ns):
    """Per-click latencies (ms) of one direction, and how many clicks were expected: those
    the capture read (its copy file's length) while the far side was playing."""
    if capture_first_ns is None or playback_first_ns is None:
        return {"error": "no first-frame timestamps"}
    played = read_raw(output_path)
    if not played:
        return {"error": f"nothing played into {os.path.basename(output_path)}"}
    try:
        captured = os.path.getsize(captured_path) // 2
    except OSError:
        captured = None
    sent = [i for i in find_clicks(read_raw(input_path)) if captured is None or i + CLICK_SAMPLES <= captured]
    heard = find_clicks(played)
    t_in = [capture_first_ns / 1e9 + i / RATE for i in sent]
    t_out = [playback_first_ns / 1e9 + i / RATE for i in heard]
    out_start, out_end = playback_first_ns / 1e9, playback_first_ns / 1e9 + len(played) / RATE
    expected = sum(1 for t in t_in if out_start < t < out_end - 0.5)
    latencies, used = [], set()
    for t in t_out:
        # The click it is: the latest sent before it, at most one click interval earlier.
        candidates = [(t - s, k) for k, s in enumerate(t_in) if 0 <= t - s < CLICK_EVERY * 0.75]
        if not candidates:
            continue
        delay, k = min(candidates)
        if k in used:
            continue
        used.add(k)
        latencies.append(round(delay * 1000, 2))
    return {"latencies_ms": latencies, "expected": expected, "found": len(latencies)}


FIRST_FRAME = re.compile(r"(capture|playback): first frame at (\d+) ns")


def dialtone_first_frames(log_path):
    """The last "capture/playback: first frame at N ns" lines of a Dialtone log."""
    found = {}
    try:
        with open(log_path, errors="replace") as f:
            for line in f:
                m = FIRST_FRAME.search(line)
                if m:
                    found[m.group(1)] = int(m.group(2))
    except OSError:
        pass
    return found


def pace_first_frames(log_path):
    """First-frame instants from alsa_pace.so's log, for the PCMs named cap and play."""
    found, closes = {}, []
    try:
        with open(log_path) as f:
            for line in f:
                parts = line.split()
                if parts[:1] == ["first"] and parts[2] in ("cap", "play"):
                    found["capture" if parts[2] == "cap" else "playback"] = int(parts[3])
                elif parts[:1] == ["close"]:
                    closes.append(line.strip())
    except OSError:
        pass
    found["closes"] = closes
    return found


# ---- one call --------------------------------------------------------------------------------

def asoundrc(rundir, role):
    return (f'pcm.cap {{ type file; slave.pcm {{ type null }}; file "{rundir}/{role}.copy.raw"; '
            f'infile "{WORK}/{role}.in.raw"; format "raw" }}\n'
            f'pcm.play {{ type file; slave.pcm {{ type null }}; file "{rundir}/{role}.out.raw"; format "raw" }}\n')


def measure(endpoints, connected, stop_call, rundir):
    """Shared by both clients: waits for `connected()` (a callable that also drives the
    clients), samples CPU over the window, calls `stop_call()`, returns the timing dict."""
    timing = {}
    deadline = time.monotonic() + 60
    while not connected():
        if time.monotonic() > deadline or not all(e.alive() for e in endpoints):
            raise RuntimeError("the call did not connect")
        for e in endpoints:
            e.poll_memory()
        time.sleep(0.05)
    t_connected = time.monotonic()
    timing["connected_monotonic"] = t_connected
    # The window: SETTLE s after both ends are connected, to 1 s before the hang-up.
    start_at, end_at = t_connected + SETTLE, t_connected + SECONDS - END_MARGIN
    if end_at - start_at < 3:
        raise RuntimeError(f"BENCH_SECONDS={SECONDS} leaves no measuring window")
    while time.monotonic() < start_at:
        for e in endpoints:
            e.poll_memory()
        time.sleep(0.05)
    m0, s0 = machine_cpu()
    t_start = time.monotonic()
    for e in endpoints:
        e.sample("start")
    next_memory = t_start
    while time.monotonic() < end_at:
        if not all(e.alive() for e in endpoints):
            raise RuntimeError("a client exited during the call")
        if time.monotonic() >= next_memory:
            for e in endpoints:
                e.poll_memory()
            next_memory += 0.5
        time.sleep(0.05)
    t_end = time.monotonic()
    for e in endpoints:
        e.sample("end")
    m1, s1 = machine_cpu()
    ours = sum((e.samples["end"] or 0) - (e.samples["start"] or 0) for e in endpoints)
    timing.update(window_s=round(t_end - t_start, 3), t_start=t_start, t_end=t_end,
                  others_cores=round(max(0.0, (m1 - m0) - ours) / (t_end - t_start), 3),
                  steal_cores=round((s1 - s0) / (t_end - t_start), 3))
    stop_call()
    return timing


def json_lines(path):
    out = []
    try:
        with open(path, errors="replace") as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    try:
                        out.append(json.loads(line))
                    except ValueError:
                        pass
    except OSError:
        pass
    return out


def call_states(path):
    return [o for o in json_lines(path) if o.get("type") == "call"]


def run_dialtone(variant, run_no, rundir):
    binary = ENV["BENCH_DIALTONE"]
    domain, port, ca = ENV["DIALTONE_TEST_DOMAIN"], ENV["DIALTONE_TEST_PORT"], ENV["DIALTONE_TEST_CA"]
    voice = "echo_cancellation = false\nnoise_suppression = false\n" if variant == "vp-off" else ""
    endpoints, result = [], {}
    argv = {}
    for role in ("callee", "caller"):
        with open(os.path.join(rundir, f"{role}.toml"), "w") as f:
            f.write(f'[[account]]\njid = "{role}@{domain}"\npassword_file = "{WORK}/{role}.pw"\n'
                    f'server = "127.0.0.1"\nport = {port}\nca_file = "{ca}"\n'
                    + ('calls_from = "anyone"\n' if role == "callee" else "") + voice)
        with open(os.path.join(rundir, f"{role}.asoundrc"), "w") as f:
            f.write(asoundrc(rundir, role))
        argv[role] = ["--config", f"{rundir}/{role}.toml", "--log-file", f"{rundir}/{role}.log",
                      "--log-level", "info", "--json", "--ice-loopback", "--capture", "cap",
                      "--playback", "play", "--alsa-config", f"{rundir}/{role}.asoundrc"]

    def env(role):
        e = dict(ENV)
        e.update(XDG_DATA_HOME=f"{WORK}/data-{role}", XDG_STATE_HOME=f"{WORK}/state-{role}",
                 XDG_CONFIG_HOME=f"{WORK}/config-{role}")
        return e

    try:
        callee = Endpoint("callee", [binary, "answer", "--auto", "--timeout", str(int(SECONDS + 120))] + argv["callee"],
                          env("callee"), f"{rundir}/callee.jsonl")
        endpoints.append(callee)
        deadline = time.monotonic() + 30
        while not any(o.get("type") == "connection" and o.get("state") == "online"
                      for o in json_lines(callee.stdout_path)):
            if time.monotonic() > deadline or not callee.alive():
                raise RuntimeError("the callee did not come online")
            time.sleep(0.05)
        caller = Endpoint("caller", [binary, "call", "--duration", str(SECONDS), "--timeout", "60"] + argv["caller"]
                          + [f"callee@{domain}"], env("caller"), f"{rundir}/caller.jsonl")
        endpoints.append(caller)

        def connected():
            return all(any(o.get("state") == "connected" for o in call_states(e.stdout_path)) for e in endpoints)

        # The caller hangs up by itself (--duration) SECONDS after its own "connected".
        result["timing"] = measure(endpoints, connected, lambda: None, rundir)
    except BaseException as error:
        result["error"] = str(error) or type(error).__name__
        log(f"dialtone {variant} run {run_no}: {result['error']}")
        if not isinstance(error, Exception):
            raise
    finally:
        for e in reversed(endpoints):
            e.stop(grace=SECONDS + 30 if not result.get("error") else 2)

    timing = result.get("timing") or {}
    by_role = {e.name: e for e in endpoints}
    for role, e in by_role.items():
        result[role] = e.result(timing.get("t_start", 0), timing.get("t_end", 0))
        states = call_states(e.stdout_path)
        connected_at = next((o.get("at") for o in states if o.get("state") == "connected"), None)
        ended = next((o for o in states if o.get("state") == "ended"), None)
        stats = next((o for o in json_lines(e.stdout_path) if o.get("type") == "statistics"), None)
        result[role].update(connected_at=connected_at, outcome=(ended or {}).get("outcome"),
                            statistics=stats)
    frames = {role: dialtone_first_frames(f"{rundir}/{role}.log") for role in ("caller", "callee")}
    result["first_frames_ns"] = frames
    result["latency"] = latency_both(rundir, frames)
    return result


def latency_both(rundir, frames):
    return {
        "caller_to_callee": latency_direction(f"{WORK}/caller.in.raw", f"{rundir}/caller.copy.raw",
                                              frames["caller"].get("capture"),
                                              f"{rundir}/callee.out.raw", frames["callee"].get("playback")),
        "callee_to_caller": latency_direction(f"{WORK}/callee.in.raw", f"{rundir}/callee.copy.raw",
                                              frames["callee"].get("capture"),
                                              f"{rundir}/caller.out.raw", frames["caller"].get("playback")),
    }


# ---- baresip -----------------------------------------------------------------------------------

class Control:
    """baresip's ctrl_tcp: netstring-framed JSON commands, responses and events."""

    def __init__(self, port, deadline):
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"baresip's ctrl_tcp on 127.0.0.1:{port} did not answer")
                time.sleep(0.1)
        self.sock.setblocking(False)
        self.buffer = b""
        self.events = []

    def send(self, command, params=None):
        obj = {"command": command, "token": command}
        if params:
            obj["params"] = params
        data = json.dumps(obj).encode()
        self.sock.setblocking(True)
        self.sock.sendall(b"%d:%s," % (len(data), data))
        self.sock.setblocking(False)

    def pump(self):
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buffer += chunk
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            pass
        while b":" in self.buffer:
            head, _, rest = self.buffer.partition(b":")
            if not head.isdigit() or len(rest) < int(head) + 1:
                break
            n = int(head)
            try:
                self.events.append(json.loads(rest[:n]))
            except ValueError:
                pass
            self.buffer = rest[n + 1:]

    def has_event(self, kind):
        self.pump()
        return any(e.get("event") and e.get("type") == kind for e in self.events)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


BARESIP_OPUS = {
    "rtp": "",
    "dtls": "",
    "dtls-c5": "opus_complexity\t5\nopus_application\tvoip\nopus_inbandfec\tyes\nopus_packet_loss\t10\n",
}


def run_baresip(variant, run_no, rundir):
    base = int(ENV.get("BENCH_BARESIP_PORT", "26460"))
    ports = {"caller": (base, base + 5, f"{base + 40}-{base + 89}"),
             "callee": (base + 10, base + 15, f"{base + 90}-{base + 139}")}
    names = {"caller": "a", "callee": "b"}
    encryption = ";mediaenc=dtls_srtp" if variant.startswith("dtls") else ""
    endpoints, controls, result = [], {}, {}
    for role in ("caller", "callee"):
        sip, ctrl, rtp = ports[role]
        cfgdir = os.path.join(rundir, f"{role}-baresip")
        os.makedirs(os.path.join(cfgdir, "sounds"), exist_ok=True)
        with open(os.path.join(cfgdir, "config"), "w") as f:
            f.write(
                "poll_method\tepoll\n"
                f"sip_listen\t127.0.0.1:{sip}\n"
                "call_local_timeout\t120\ncall_max_calls\t4\n"
                # An empty sound directory: no ring or ringback tone files to play.
                f"audio_path\t{cfgdir}/sounds\n"
                "audio_player\talsa,play\naudio_source\talsa,cap\naudio_alert\talsa,play\n"
                "audio_level\tno\nausrc_format\ts16\nauplay_format\ts16\nauenc_format\ts16\naudec_format\ts16\n"
                f"rtp_ports\t{rtp}\nrtcp_mux\tno\nrtp_stats\tno\n"
                # Nothing leaves 127.0.0.1, not even a DNS query (no name is ever looked up here).
                f"dns_server\t127.0.0.1:{base + 3}\nnet_interface\t127.0.0.1\n"
                "module_path\t/usr/lib/baresip/modules\n"
                "module\topus.so\nmodule\talsa.so\n"
                + ("module\tdtls_srtp.so\n" if encryption else "")
                + "module_app\taccount.so\nmodule_app\tmenu.so\nmodule_app\tctrl_tcp.so\n"
                f"ctrl_tcp_listen\t127.0.0.1:{ctrl}\n"
                "opus_bitrate\t28000\nopus_stereo\tno\nopus_sprop_stereo\tno\n"
                + BARESIP_OPUS[variant])
        with open(os.path.join(cfgdir, "accounts"), "w") as f:
            f.write(f"<sip:{names[role]}@127.0.0.1:{sip}>;regint=0;answermode=auto;audio_codecs=opus/48000/1{encryption}\n")
        with open(os.path.join(cfgdir, "asoundrc"), "w") as f:
            f.write(asoundrc(rundir, role))

    def env(role):
        e = dict(ENV)
        e.update(ALSA_CONFIG_PATH=f"{rundir}/{role}-baresip/asoundrc", LD_PRELOAD=ENV["BENCH_PACE_SO"],
                 BENCH_PACE_LOG=f"{rundir}/{role}.pace", HOME=f"{rundir}/{role}-baresip")
        return e

    try:
        deadline = time.monotonic() + 20
        for role in ("callee", "caller"):
            e = Endpoint(role, ["baresip", "-4", "-f", f"{rundir}/{role}-baresip"], env(role), f"{rundir}/{role}.out")
            endpoints.append(e)
            controls[role] = Control(ports[role][1], deadline)
            # The status line (call time and bit rates, redrawn every 100 ms) off, as Dialtone
            # prints nothing while a call runs.
            controls[role].send("statmode")
        callee_sip = ports["callee"][0]
        controls["caller"].send("dial", f"sip:b@127.0.0.1:{callee_sip}")

        def connected():
            return all(c.has_event("CALL_ESTABLISHED") for c in controls.values())

        def hang_up():
            controls["caller"].send("hangup")

        result["timing"] = measure(endpoints, connected, hang_up, rundir)
        deadline = time.monotonic() + 10
        while not all(c.has_event("CALL_CLOSED") for c in controls.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
    except BaseException as error:
        result["error"] = str(error) or type(error).__name__
        log(f"baresip {variant} run {run_no}: {result['error']}")
        if not isinstance(error, Exception):
            raise
    finally:
        for role, c in controls.items():
            try:
                c.send("quit")
            except OSError:
                pass
        for e in reversed(endpoints):
            e.stop(grace=10 if not result.get("error") else 2)
        for c in controls.values():
            c.pump()
            c.close()

    timing = result.get("timing") or {}
    for e in endpoints:
        result[e.name] = e.result(timing.get("t_start", 0), timing.get("t_end", 0))
        c = controls.get(e.name)
        if c:
            result[e.name]["events"] = [ev.get("type") for ev in c.events if ev.get("event")]
    frames = {role: pace_first_frames(f"{rundir}/{role}.pace") for role in ("caller", "callee")}
    result["first_frames_ns"] = frames
    result["latency"] = latency_both(rundir, frames)
    return result


def run(impl, variant, run_no):
    rundir = os.path.join(WORK, f"{impl}-{variant}-{run_no}")
    os.makedirs(rundir, exist_ok=True)
    waited, busy = wait_quiet(float(ENV.get("BENCH_QUIET_WAIT", "30")))
    if busy is not None and busy >= 0.25:
        log(f"the machine is busy with other work ({busy:.2f} cores after {waited:.0f} s); measuring anyway")
    t0 = time.time()
    result = (run_dialtone if impl == "dialtone" else run_baresip)(variant, run_no, rundir)
    result.update(impl=impl, variant=variant, run=run_no, seconds=SECONDS, settle=SETTLE,
                  quiet_wait_s=waited, busy_cores_before=busy,
                  started=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t0)),
                  loadavg=open("/proc/loadavg").read().split()[:3])
    with open(ENV["BENCH_RESULTS"], "a") as f:
        f.write(json.dumps(result) + "\n")
    brief = {role: (result.get(role) or {}).get("core_pct") for role in ("caller", "callee")}
    lat = [x for d in result["latency"].values() for x in d.get("latencies_ms", [])]
    log(f"{impl} {variant} run {run_no}: % of a core {brief}, "
        f"latency median {statistics.median(lat) if lat else None} ms over {len(lat)} clicks"
        + (f", error: {result['error']}" if result.get("error") else ""))
    return 0 if not result.get("error") else 1


# ---- summary -----------------------------------------------------------------------------------

def summary():
    rows = {}
    with open(ENV["BENCH_RESULTS"]) as f:
        for line in f:
            r = json.loads(line)
            rows.setdefault((r["impl"], r["variant"]), []).append(r)

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else None

    def fmt(v, digits=2):
        return "–" if v is None else f"{v:.{digits}f}"

    labels = {
        ("dialtone", "vp-off"): "Dialtone, voice processing off (no AEC, no NS)",
        ("dialtone", "vp-on"): "Dialtone, voice processing on (AEC + NS, defaults)",
        ("baresip", "rtp"): "baresip 1.0.0, plain RTP, its Opus defaults (complexity 10)",
        ("baresip", "dtls"): "baresip 1.0.0, DTLS-SRTP, its Opus defaults (complexity 10)",
        ("baresip", "dtls-c5"): "baresip 1.0.0, DTLS-SRTP, Dialtone's Opus settings (complexity 5, voip, FEC)",
    }
    print("| client and setting | runs ok | caller % of a core | callee % of a core | CPU s per minute of call (per endpoint) "
          "| peak RSS MB caller / callee | latency ms median (min–max), clicks | same +20 ms capture frame | others' load, cores |")
    print("|---|---|---|---|---|---|---|---|---|")
    for key in [k for k in labels if k in rows] + [k for k in rows if k not in labels]:
        runs = rows[key]
        ok = [r for r in runs if not r.get("error")]
        caller = med([(r.get("caller") or {}).get("core_pct") for r in ok])
        callee = med([(r.get("callee") or {}).get("core_pct") for r in ok])
        per_endpoint = med([((r["caller"].get("core_pct") or 0) + (r["callee"].get("core_pct") or 0)) / 2 for r in ok
                            if (r.get("caller") or {}).get("core_pct") is not None
                            and (r.get("callee") or {}).get("core_pct") is not None])
        rss_a = med([(r.get("caller") or {}).get("peak_rss_kb") for r in runs])
        rss_b = med([(r.get("callee") or {}).get("peak_rss_kb") for r in runs])
        lat = [x for r in ok for d in (r.get("latency") or {}).values() for x in d.get("latencies_ms", [])]
        expected = sum(d.get("expected", 0) for r in ok for d in (r.get("latency") or {}).values())
        if lat:
            lat_text = f"{statistics.median(lat):.1f} ({min(lat):.1f}–{max(lat):.1f}), {len(lat)}/{expected}"
            frame_text = f"{statistics.median(lat) + 20:.1f}"
        else:
            lat_text, frame_text = f"– (0/{expected})", "–"
        others = med([(r.get("timing") or {}).get("others_cores") for r in ok])
        print(f"| {labels.get(key, ' '.join(key))} | {len(ok)}/{len(runs)} | {fmt(caller)} | {fmt(callee)} "
              f"| {fmt(None if per_endpoint is None else per_endpoint * 0.6, 3)} "
              f"| {fmt(None if rss_a is None else rss_a / 1024, 1)} / {fmt(None if rss_b is None else rss_b / 1024, 1)} "
              f"| {lat_text} | {frame_text} | {fmt(others)} |")
    print()
    print("Threads (% of a core each, median run of each client and setting; schedstat):")
    for key, runs in rows.items():
        ok = sorted([r for r in runs if not r.get("error") and (r.get("caller") or {}).get("core_pct") is not None],
                    key=lambda r: r["caller"]["core_pct"])
        if not ok:
            continue
        r = ok[len(ok) // 2]
        for role in ("caller", "callee"):
            threads = (r.get(role) or {}).get("threads_pct") or []
            print(f"  {key[0]} {key[1]} run {r['run']} {role}: "
                  + ", ".join(f"{name}[{tid}] {pct:.2f}" for name, tid, pct in threads[:8]))
    print()
    print("Per run (% of a core caller/callee; latency median per direction caller→callee, callee→caller):")
    for key, runs in rows.items():
        for r in runs:
            lat = r.get("latency") or {}
            dirs = []
            for name in ("caller_to_callee", "callee_to_caller"):
                d = lat.get(name) or {}
                v = d.get("latencies_ms") or []
                dirs.append(f"{statistics.median(v):.1f} ms ({len(v)}/{d.get('expected', 0)})" if v
                            else d.get("error", "none found"))
            c, e = r.get("caller") or {}, r.get("callee") or {}
            print(f"  {key[0]} {key[1]} run {r['run']} ({r['started']}, load {' '.join(r.get('loadavg', []))}): "
                  f"{fmt(c.get('core_pct'))}/{fmt(e.get('core_pct'))} %, window {fmt((r.get('timing') or {}).get('window_s'), 1)} s, "
                  f"others {fmt((r.get('timing') or {}).get('others_cores'))} cores; latency {dirs[0]}, {dirs[1]}"
                  + (f"; ERROR {r['error']}" if r.get("error") else ""))


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "signals":
        write_signals()
        return 0
    if len(sys.argv) == 5 and sys.argv[1] == "run":
        def terminate(*_):
            raise SystemExit(143)
        signal.signal(signal.SIGTERM, terminate)
        return run(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    if len(sys.argv) == 2 and sys.argv[1] == "summary":
        summary()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
