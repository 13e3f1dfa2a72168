#!/usr/bin/env python3
"""`medusad --workers 2`: one listening socket shared by the workers (the
default) against a socket per worker (`--reuseport`), with run.py's
servers, wrk runs and CPU accounting (imported, not copied).

    python3 benches/load/workers.py --rounds 3 --secs 5 --out workers.md

For each mode, interleaved (the order reversed every other round):
add(40, 2) with wrk -t1 -c50, keep-alive and `Connection: close`: CPU µs
per call of the master and its workers together, calls/s, p50/p99, and
the spread: the busiest worker's share of the workers' CPU over the run
(50 % is an even spread between two).
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import REPO, Server, cpu_seconds, family, f1, f2, free_port, median, stop_all, table, wrk, write_report  # noqa: E402

KIT = os.path.join(os.path.dirname(REPO), "shared", "bench")
MODES = {"shared socket (default)": [], "--reuseport": ["--reuseport"]}


def workers_of(server):
    return [p for p in family(server.proc.pid) if p != server.proc.pid]


def measure(server, secs, close, log):
    pids = workers_of(server)
    before = {p: cpu_seconds([p]) for p in pids}
    row = wrk(server, "/RPC2", secs, 50, script=os.path.join(KIT, "post_add.lua"), close=close, log=log)
    used = [cpu_seconds([p]) - before[p] for p in pids]
    total = sum(used)
    row["busiest"] = 100.0 * max(used) / total if total else float("nan")
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out")
    args = ap.parse_args()
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "medusad"], cwd=REPO, check=True)
    scratch = tempfile.mkdtemp(prefix="medusa-workers-")
    log = os.path.join(scratch, "wrk.log")
    try:
        servers = {}
        for name, extra in MODES.items():
            port = free_port()
            cmd = [os.path.join(REPO, "target/release/medusad"), "--port", str(port), "--workers", "2",
                   "--access-log", os.path.join(scratch, f"access-{port}.log")] + extra
            server = Server(name, cmd, port, os.path.join(scratch, f"{port}.log"),
                            env=dict(os.environ, RUST_LOG="info"))
            if not server.start():
                raise SystemExit(f"{name} did not start: see {server.log}")
            time.sleep(1)  # both workers up
            servers[name] = server
        results = {}
        for r in range(args.rounds):
            plan = [(name, close) for close in (False, True) for name in MODES]
            if r % 2:
                plan.reverse()
            for name, close in plan:
                results.setdefault((name, close), []).append(measure(servers[name], args.secs, close, log))
                time.sleep(0.5)
        rows = []
        for close in (False, True):
            for name in MODES:
                rs = results[(name, close)]
                rows.append([name, "close" if close else "keep-alive", f1(median(rs, "us")),
                             f"{median(rs, 'rps'):.0f}", f2(median(rs, "p50")), f2(median(rs, "p99")),
                             f"{median(rs, 'busiest'):.0f} %"])
        text = ("### `--workers 2`: a shared socket against `--reuseport`, add(40, 2), 50 connections\n\n"
                + table(["mode", "connections", "CPU µs/call", "calls/s", "p50 ms", "p99 ms",
                         "busiest worker's CPU share"], rows)
                + f"\n\nCommand: `python3 benches/load/workers.py {shlex.join(sys.argv[1:])}`\n")
        write_report(text, args.out)
    finally:
        stop_all()
        subprocess.run(["rm", "-rf", scratch])


if __name__ == "__main__":
    main()
