#!/usr/bin/env python3
"""Scripts/bench-opus: Opus encoder settings by CPU and speech quality together.

  opus_settings.py MEDIABENCH WORKDIR [--passes N] [--rounds N] [--set NAME] [--seeds 1,2,3]

Speech: two samples spoken by espeak-ng (a male and a female voice, five Harvard sentences
each, IEEE 1969), resampled by sox to 48 kHz mono s16 for the encoder. Each setting goes
through `MEDIABENCH opus …` (Benchmarks/MediaBench/OpusSettings.swift): Dialtone's OpusEncoder,
packets dropped at random (0 % and 5 %, the same seeded patterns for every setting), then
Dialtone's receive path (JitterBuffer; decode, in-band FEC or concealment as the playback
thread does), and what would be played is written out.

Quality: PESQ (ITU-T P.862.2 wideband, the `pesq` package), MOS-LQO, between the input and
the played audio, both resampled by sox to 16 kHz (without dither, so a run repeats exactly); the mean over the two samples (and, at 5 %
loss, over the loss patterns). PESQ wideband stops at 8 kHz: what a setting does above it
(super-wideband, fullband) does not count here.

CPU: CPU time (CLOCK_PROCESS_CPUTIME_ID) per 20 ms frame of encoding, and of the receive path
at 0 % loss, each the median of rounds × passes passes over the whole speech; the passes run
the settings in turn, so a change of load on the machine falls on all settings alike. % of a
core = (encode + receive) / 20 ms.

Prints a Markdown table; writes WORKDIR/results.json with every figure.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys


SAMPLES = {
    # name: (espeak-ng voice, text)
    "male": ("en-us", "The birch canoe slid on the smooth planks. Glue the sheet to the dark blue background. "
             "It's easy to tell the depth of a well. These days a chicken leg is a rare dish. "
             "Rice is often served in round bowls."),
    "female": ("en-us+f3", "The juice of lemons makes fine punch. The box was thrown beside the parked truck. "
               "The hogs were fed chopped corn and garbage. Four hours of steady work faced us. "
               "A large size in stockings is hard to sell."),
}

DEFAULTS = dict(complexity=5, application="voip", fec=1, dtx=0, signal="voice", lossperc=10)


def settings_sets(name):
    """The settings to measure, as dicts over DEFAULTS; `name` picks a set."""
    out = []

    def add(**kw):
        s = dict(DEFAULTS, **kw)
        if s["application"] == "restricted-lowdelay":
            s["fec"] = 0  # CELT only: nothing to carry FEC in
        if s not in out:
            out.append(s)

    if name in ("all", "complexity"):
        for c in range(11):
            add(complexity=c)
    if name in ("all", "grid"):
        for c in (0, 3, 5, 7, 10):
            for app in ("voip", "audio", "restricted-lowdelay"):
                for fec in (1, 0):
                    for dtx in (0, 1):
                        add(complexity=c, application=app, fec=fec, dtx=dtx)
    if name in ("all", "signal"):
        # Letting the encoder classify the input itself (baresip sets no signal type).
        for c in (0, 3, 5, 10):
            for app in ("voip", "audio"):
                add(complexity=c, application=app, fec=0, signal="auto")
                add(complexity=c, application=app, fec=1, signal="auto")
    if name in ("all", "fec"):
        # The loss rate FEC is tuned for (OPUS_SET_PACKET_LOSS_PERC): how much of the bit rate
        # goes to the redundant copy, and whether libopus keeps FEC on at all.
        for c in (1, 3, 4, 5, 7, 10):
            for loss in (1, 3, 5, 10, 20):
                add(complexity=c, lossperc=loss)
    if name == "quick":
        for c in (0, 5, 10):
            add(complexity=c)
            add(complexity=c, fec=0)
    return out


def label(s):
    parts = [f"c{s['complexity']}", s["application"], "FEC" if s["fec"] else "no FEC", "DTX" if s["dtx"] else "no DTX"]
    if s["fec"] and s["lossperc"] != DEFAULTS["lossperc"]:
        parts[2] = f"FEC for {s['lossperc']} %"
    if s["signal"] != "voice":
        parts.append(f"signal {s['signal']}")
    return ", ".join(parts)


def key(s):
    return (s["complexity"], s["application"], s["fec"], s["dtx"], s["signal"], s["lossperc"])


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def make_speech(work):
    """WORKDIR/NAME.48k.raw (encoder input) and NAME.16k.raw (PESQ reference) per sample."""
    for name, (voice, text) in SAMPLES.items():
        wav = os.path.join(work, f"{name}.espeak.wav")
        raw48 = os.path.join(work, f"{name}.48k.raw")
        if not os.path.exists(raw48):
            run(["espeak-ng", "-v", voice, "-s", "150", "-w", wav, text])
            # Half a second of silence either side: the codec and the buffer settle before speech.
            run(["sox", "-D", wav, "-r", "48000", "-c", "1", "-b", "16", "-e", "signed", "-t", "raw", raw48, "pad", "0.5", "0.5"])
        to16k(raw48, os.path.join(work, f"{name}.16k.raw"))


def to16k(raw48, raw16):
    # -V1: a decoded peak a little over full scale clips a handful of samples; not worth a warning.
    run(["sox", "-D", "-V1", "-t", "raw", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed", raw48,
         "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", raw16])


def read16k(path):
    import numpy as np  # here, so that make_speech serves Scripts/bench/call_media.py without them
    return np.fromfile(path, dtype="<i2").astype(np.float32) / 32768


def main():
    from pesq import pesq

    ap = argparse.ArgumentParser()
    ap.add_argument("mediabench")
    ap.add_argument("work")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--set", default="all", choices=["all", "complexity", "grid", "signal", "fec", "quick"])
    ap.add_argument("--seeds", default="1,2,3")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    make_speech(args.work)
    sets = settings_sets(args.set)
    results = {key(s): dict(setting=s, encode=[], decode=[], kbps=[], runs={}) for s in sets}

    def bench(s, sample, output):
        cmd = [args.mediabench, "opus", f"input={os.path.join(args.work, sample + '.48k.raw')}",
               f"rounds={args.rounds}", f"seeds={args.seeds}"] + [f"{k}={v}" for k, v in s.items()]
        cmd += [f"output={output}"] if output else ["losses=0"]
        line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        return json.loads(line)

    for p in range(args.passes):
        # Alternate the order, so that a slow spell of the machine does not fall on one end.
        order = sets if p % 2 == 0 else list(reversed(sets))
        for i, s in enumerate(order):
            print(f"opus-settings: pass {p + 1}/{args.passes}, {i + 1}/{len(sets)}: {label(s)}", file=sys.stderr, flush=True)
            r = results[key(s)]
            for sample in SAMPLES:
                prefix = os.path.join(args.work, "out", f"{sample}-" + "-".join(str(v) for v in key(s))) if p == 0 else None
                if prefix:
                    os.makedirs(os.path.dirname(prefix), exist_ok=True)
                out = bench(s, sample, prefix)
                # Per-frame figures, so the two samples (of different lengths) weigh alike.
                r["encode"] += [float(x) for x in out["encode_us_all"]]
                r["decode"].append(out["decode_us"])
                r["kbps"].append(out["kbps"])
                if prefix:
                    r["runs"][sample] = out["runs"]
                    r["lookahead"] = out["lookahead"]
                    r.setdefault("frames", {})[sample] = out["frames"]

    # Quality, once per setting (the codec is deterministic).
    for r in results.values():
        s = r["setting"]
        scores = {}
        for sample in SAMPLES:
            ref = read16k(os.path.join(args.work, f"{sample}.16k.raw"))
            for run_ in r["runs"][sample]:
                stem = os.path.join(args.work, "out", f"{sample}-" + "-".join(str(v) for v in key(s)))
                raw48 = f"{stem}-loss{run_['loss']}-seed{run_['seed']}.raw"
                raw16 = raw48.replace(".raw", ".16k.raw")
                to16k(raw48, raw16)
                deg = read16k(raw16)
                n = min(len(ref), len(deg))
                score = pesq(16000, ref[:n], deg[:n], "wb")
                run_["pesq_wb"] = score
                scores.setdefault(run_["loss"], []).append(score)
        r["pesq"] = {loss: statistics.mean(v) for loss, v in scores.items()}
        r["encode_us"] = statistics.median(r["encode"])
        r["decode_us"] = statistics.median(r["decode"])
        r["kbps_mean"] = statistics.mean(r["kbps"])
        r["fec_recovered"] = sum(x["fec"] for runs in r["runs"].values() for x in runs if x["loss"] > 0)
        r["lost"] = sum(x["lost"] for runs in r["runs"].values() for x in runs if x["loss"] > 0)

    with open(os.path.join(args.work, "results.json"), "w") as f:
        json.dump([dict(r, setting=r["setting"], pesq={str(k): v for k, v in r["pesq"].items()}) for r in results.values()], f, indent=1)

    losses = sorted({loss for r in results.values() for loss in r["pesq"]})
    print(f"| setting | encode µs/frame | receive µs/frame | % of a core | kbit/s sent | "
          + " | ".join(f"PESQ-WB {loss} % loss" for loss in losses) + " |")
    print("|---|---|---|---|---|" + "---|" * len(losses))
    for r in sorted(results.values(), key=lambda r: (r["setting"]["application"], r["setting"]["signal"], r["setting"]["fec"] == 0,
                                                        r["setting"]["lossperc"], r["setting"]["dtx"], r["setting"]["complexity"])):
        pct = (r["encode_us"] + r["decode_us"]) / 20000 * 100
        mark = " (the default)" if r["setting"] == DEFAULTS else ""
        print(f"| {label(r['setting'])}{mark} | {r['encode_us']:.1f} | {r['decode_us']:.1f} | {pct:.2f} | {r['kbps_mean']:.1f} | "
              + " | ".join(f"{r['pesq'][loss]:.2f}" for loss in losses) + " |")
    first = next(iter(results.values()))
    lost = first["lost"]
    frames = sum(first["frames"].values()) * len(args.seeds.split(","))
    print(f"\nSpeech: {len(SAMPLES)} espeak-ng samples ({', '.join(SAMPLES)}); loss patterns: seeds {args.seeds} "
          f"at 5 %: {lost} of {frames} frames lost); "
          f"CPU: medians of {args.rounds} rounds × {args.passes} passes; load average at the end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
