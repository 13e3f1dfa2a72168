#!/usr/bin/env python3
"""Two medusad builds, interleaved, on the same keep-alive load: server CPU
microseconds per add(40, 2) call (utime+stime from /proc over the run,
divided by the requests wrk completed), medians and the ratio B/A.

    python3 benches/load/ab.py --a /path/to/old/medusad --b target/release/medusad

Each round runs A then B (the order alternates), each for --secs with
wrk -t1 -c50 and the kit's post_add.lua, every server with
--access-log FILE (the production setting). Needs wrk.
"""

import argparse
import os
import re
import shlex
import socket
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_listening(port, proc, limit=20.0):
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start listening")


def one_run(binary, args, secs, conns, script):
    port = free_port()
    log = tempfile.NamedTemporaryFile(prefix="ab-access-", delete=False).name
    command = [binary, "--port", str(port), "--access-log", log] + shlex.split(args)
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_listening(port, proc)
        before = cpu_ticks(proc.pid)
        out = subprocess.run(
            ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "-s", script,
             f"http://127.0.0.1:{port}/RPC2"],
            capture_output=True, text=True, check=True).stdout
        after = cpu_ticks(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        os.unlink(log)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    hz = os.sysconf("SC_CLK_TCK")
    return (after - before) / hz * 1e6 / max(requests, 1), requests / secs


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="baseline medusad binary")
    p.add_argument("--b", required=True, help="candidate medusad binary")
    p.add_argument("--args", default="", help="extra medusad arguments for both")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--secs", type=int, default=5)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--kit", default=os.path.join(HERE, "..", "..", "..", "shared", "bench"))
    o = p.parse_args()
    script = os.path.join(o.kit, "post_add.lua")
    results = {"A": [], "B": []}
    for r in range(o.rounds):
        order = [("A", o.a), ("B", o.b)] if r % 2 == 0 else [("B", o.b), ("A", o.a)]
        for name, binary in order:
            us, rps = one_run(binary, o.args, o.secs, o.conns, script)
            results[name].append((us, rps))
            print(f"round {r + 1} {name}: {us:.2f} µs/call, {rps:,.0f} req/s", flush=True)
    med = {k: statistics.median(u for u, _ in v) for k, v in results.items()}
    rps = {k: statistics.median(x for _, x in v) for k, v in results.items()}
    print(f"\nA {o.a}: median {med['A']:.2f} µs/call, {rps['A']:,.0f} req/s")
    print(f"B {o.b}: median {med['B']:.2f} µs/call, {rps['B']:,.0f} req/s")
    print(f"B/A = {med['B'] / med['A']:.3f}")


if __name__ == "__main__":
    main()
