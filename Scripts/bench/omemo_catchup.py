#!/usr/bin/env python3
"""Catch-up of encrypted messages from the archive, beside plain ones (Scripts/bench-omemo).

A contact on python-omemo (Tests/IntegrationTests/Peers/omemo_peer.py) writes COUNT
encrypted messages to one Dialtone account and COUNT plain ones to another while both are
away; then `dialtone listen --json` is started for each and timed until it has printed them
all, its CPU read from /proc/PID/stat as it stops. Runs against the test Prosody whose
DIALTONE_TEST_* variables are in the environment (loopback only).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "Tests", "IntegrationTests", "Peers", "omemo_peer.py")
TICKS = os.sysconf("SC_CLK_TCK")


def adduser(name):
    subprocess.run(f"{os.environ['DIALTONE_TEST_ADDUSER']} {name} pw-{name}", shell=True, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return f"{name}@{os.environ['DIALTONE_TEST_DOMAIN']}"


def configuration(directory, jid):
    name = jid.split("@")[0]
    password = os.path.join(directory, f"{name}.password")
    with open(password, "w", encoding="utf-8") as file:
        file.write(f"pw-{name}\n")
    os.chmod(password, 0o600)
    path = os.path.join(directory, f"{name}.toml")
    with open(path, "w", encoding="utf-8") as file:
        file.write(f'[[account]]\njid = "{jid}"\npassword_file = "{password}"\nserver = "127.0.0.1"\n'
                   f'port = {os.environ["DIALTONE_TEST_PORT"]}\nca_file = "{os.environ["DIALTONE_TEST_CA"]}"\n')
    return path


def environment(directory, name):
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = os.path.join(directory, f"data-{name}")
    env["XDG_STATE_HOME"] = os.path.join(directory, f"state-{name}")
    return env


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as file:
        fields = file.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def catch_up(dialtone, config, env, count, prefix):
    """Seconds until `listen` printed `count` messages starting with `prefix`, and its CPU."""
    start = time.monotonic()
    # BENCH_PERF=1: the encrypted catch-up under `perf record` (perf.data in the bench's directory).
    wrapper = ["perf", "record", "-g", "-o", os.path.join(os.path.dirname(config), "perf.data"), "--"] \
        if os.environ.get("BENCH_PERF") and prefix.startswith("encrypted") else []
    listener = subprocess.Popen(wrapper + [dialtone, "listen", "--json", "--config", config], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL, text=True)
    seen = 0
    encrypted = 0
    failed = 0
    for line in listener.stdout:
        event = json.loads(line)
        if event.get("type") != "message":
            continue
        if (event.get("body") or "").startswith(prefix) or event.get("decryption_error"):
            seen += 1
            encrypted += 1 if event.get("encrypted") else 0
            failed += 1 if event.get("decryption_error") else 0
        if seen >= count:
            break
    elapsed = time.monotonic() - start
    cpu = cpu_seconds(listener.pid)
    listener.terminate()
    if wrapper:
        listener.wait(30)
        report = os.path.join(os.path.dirname(config), "perf.txt")
        with open(report, "w", encoding="utf-8") as out:
            subprocess.run(["perf", "report", "-i", os.path.join(os.path.dirname(config), "perf.data"), "--no-children",
                            "--stdio", "--percent-limit", "1.5", "-g", "none"], stdout=out, stderr=subprocess.DEVNULL)
        print(f"perf report: {report}")
    listener.wait(10)
    return elapsed, cpu, encrypted, failed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--dialtone", required=True)
    args = parser.parse_args()
    encrypted_account = adduser("bench-encrypted")
    plain_account = adduser("bench-plain")
    contact = adduser("bench-contact")
    results = {}
    for kind, account in (("encrypted", encrypted_account), ("plain", plain_account)):
        config = configuration(args.dir, account)
        env = environment(args.dir, kind)
        # The account's device is made and published; then it is away.
        subprocess.run([args.dialtone, "omemo", "fingerprints", "--config", config], env=env, check=True, stdout=subprocess.DEVNULL)
        mode = ["--send", account, f"{kind} message"] if kind == "encrypted" else ["--plain", account, f"{kind} message"]
        started = time.monotonic()
        subprocess.run([sys.executable, PEER, "--jid", contact, "--password", "pw-bench-contact",
                        "--port", os.environ["DIALTONE_TEST_PORT"], "--ca-file", os.environ["DIALTONE_TEST_CA"],
                        "--versions", "legacy", "--repeat", str(args.count), "--quit", "--timeout", "600"] + mode,
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"python-omemo wrote {args.count} {kind} messages in {time.monotonic() - started:.1f} s", flush=True)
        results[kind] = catch_up(args.dialtone, config, env, args.count, f"{kind} message")
    for kind, (elapsed, cpu, encrypted, failed) in results.items():
        print(f"{kind:9} catch-up of {args.count}: {elapsed:.2f} s, {cpu:.2f} s CPU ({cpu / args.count * 1000:.2f} ms a message); "
              f"{encrypted} marked encrypted, {failed} undecryptable")


if __name__ == "__main__":
    main()
