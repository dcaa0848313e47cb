#!/usr/bin/env python3
"""Memory soak: every query shape of corpus.sql and every file of queries/ under memory limits.

Each query runs in a fresh `ecomsql` process (release build) under GNU time, once per limit.
A run passes when it completes with a peak RSS of at most limit + 300 MiB, or fails with the
resources error ("Resources exhausted" / names the memory limit) within the same bound. A
watchdog kills a run whose RSS passes limit + 3 GiB (so a runaway cannot take the machine);
that, any other error, a crash or a timeout is a failure.

    cargo build --release
    target/release/ecomsql gen --users 200000 --days 120 --seed 11 --out /data/shop200k
    python3 benches/soak/soak.py --data /data/shop200k [--limits 1GiB,4GiB] [--only NAME,…]

Prints a Markdown table (the one in benches/compare/BENCHMARKS.md) and exits non-zero if any run
failed. Not part of CI: it needs ~50M events and most of an hour.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLACK = 300 << 20
RUNAWAY = 3 << 30


def parse_size(text):
    m = re.fullmatch(r"(\d+)\s*(GiB|MiB)", text.strip())
    if not m:
        sys.exit(f"limit {text!r}: write it as 512MiB or 4GiB")
    return int(m.group(1)) << (30 if m.group(2) == "GiB" else 20)


def corpus():
    """(name, kind, payload): kind 'sql' (text) or 'file' (a queries/ file)."""
    text = open(os.path.join(ROOT, "benches", "soak", "corpus.sql")).read()
    shapes = []
    for block in re.split(r"^-- name: ", text, flags=re.M)[1:]:
        name, _, sql = block.partition("\n")
        shapes.append((name.strip(), "sql", sql.strip()))
    qdir = os.path.join(ROOT, "queries")
    for f in sorted(os.listdir(qdir)):
        if f.endswith(".sql"):
            shapes.append(("queries/" + f, "file", os.path.join(qdir, f)))
    return shapes


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_one(binary, data, limit, kind, payload, timeout, at):
    state = tempfile.mkdtemp(prefix="ecomsql-soak-")
    try:
        common = ["--data", data, "--state-dir", state, "--memory-limit", f"{limit >> 20}MiB"]
        if kind == "sql":
            cmd = [binary, "sql", *common, "--format", "csv", "-c", payload]
        else:
            header = open(payload).read()
            if re.search(r"^-- output:", header, flags=re.M):
                cmd = [binary, "run", *common, "--at", at, payload]
            else:
                cmd = [binary, "sql", *common, "--format", "csv", "-f", payload]
        timing = os.path.join(state, "time.txt")
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M %e", "-o", timing, *cmd],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            # Scheduled files write their outputs relative to the working directory.
            cwd=state)
        killed = []

        def watch():
            while proc.poll() is None:
                children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                          text=True).stdout.split()
                for c in children:
                    if rss_kb(int(c)) * 1024 > limit + RUNAWAY:
                        killed.append("runaway")
                        subprocess.run(["kill", "-9", c])
                time.sleep(0.1)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-9", "-P", str(proc.pid)])
            _, stderr = proc.communicate()
            killed.append("timeout")
        watcher.join()
        peak_kb, secs = 0, 0.0
        try:
            fields = open(timing).read().split()
            peak_kb, secs = int(fields[-2]), float(fields[-1])
        except (OSError, ValueError, IndexError):
            pass
        peak = peak_kb * 1024
        if killed:
            outcome = killed[0]
        elif proc.returncode == 0:
            outcome = "ok"
        elif re.search(r"Resources exhausted|memory limit|memory_limit", stderr):
            outcome = "resources error"
        else:
            outcome = "error: " + stderr.strip().splitlines()[-1][:160] if stderr.strip() else f"exit {proc.returncode}"
        passed = outcome in ("ok", "resources error") and peak <= limit + SLACK
        return outcome, peak, secs, passed
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--bin", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "ecomsql"))
    ap.add_argument("--limits", default="1GiB,4GiB")
    ap.add_argument("--only", help="comma-separated shape names")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--at", default="2026-04-20", help="logical date for scheduled query files")
    args = ap.parse_args()
    limits = [parse_size(x) for x in args.limits.split(",")]
    # Runs start in a temporary folder each: paths must not depend on this one.
    args.data, args.bin = os.path.abspath(args.data), os.path.abspath(args.bin)
    shapes = corpus()
    if args.only:
        wanted = set(args.only.split(","))
        shapes = [s for s in shapes if s[0] in wanted]
    head = "| query | " + " | ".join(f"{l >> 20} MiB: outcome | peak RSS | s" for l in limits) + " |"
    print(head)
    print("|---|" + "---|---|---:|" * len(limits))
    failures = 0
    for name, kind, payload in shapes:
        cells = []
        for limit in limits:
            outcome, peak, secs, passed = run_one(args.bin, args.data, limit, kind, payload,
                                                  args.timeout, args.at)
            failures += not passed
            mark = "" if passed else " **FAIL**"
            cells.append(f"{outcome}{mark} | {peak / (1 << 20):.0f} MiB | {secs:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n{len(shapes)} shapes x {len(limits)} limits, {failures} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
