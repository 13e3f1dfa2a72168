#!/usr/bin/env python3
"""Two medusad builds, interleaved, on the same wrk load: server CPU
microseconds per call (utime+stime from /proc over the run, divided by the
requests wrk completed), p99 latency, medians and the ratio B/A.

    python3 benches/load/ab.py --a /path/to/old/medusad --b target/release/medusad
    python3 benches/load/ab.py --a OLD --b NEW --workload add,echo10k,structs,connclose

Workloads (--workload, comma-separated for several; each gets its own rounds):

  add        keep-alive add(40, 2): the kit's post_add.lua (the default)
  echo10k    keep-alive echo of a 10 KB string (run.py's echo string)
  structs    keep-alive echo of an array of 100 structs, a 53 KB document
  connclose  add(40, 2) with `Connection: close`: a connection per call

They are medusad's rows in the load tables (docs/benchmarks.md and the kit's
README): a small call, a large string, many small elements and connection
set-up stress different parts of the HTTP layer and the codec, so a change
can be free on one and cost on another.

Each round runs A then B (the order alternates), each for --secs with
wrk -t1 -c50 --latency, every server with --access-log FILE (the
production setting). Before each run the server's answer to the workload's
body is checked (200, and echo returns what was sent). The wrk run, the
body builders and the CPU accounting are run.py's. Needs wrk.
"""

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import Conn, Server, echo_text, free_port, rpc_body, stop_all, wrk  # noqa: E402

STRUCTS = 100


def member(name, value):
    return f"<member><name>{name}</name><value>{value}</value></member>"


def record(i):
    """One element of the structs workload: every scalar type and an array,
    about 510 bytes."""
    return "<struct>" + "".join([
        member("id", f"<int>{i}</int>"),
        member("name", f"<string>user {i:03d}</string>"),
        member("active", f"<boolean>{i % 2}</boolean>"),
        member("score", f"<double>{i * 1.25}</double>"),
        member("created", "<dateTime.iso8601>20261201T12:00:00</dateTime.iso8601>"),
        member("tags", f"<array><data><value><string>t{i % 7}</string></value></data></array>"),
    ]) + "</struct>"


class Workload:
    """What wrk posts (the kit's script, or a script posting body), and
    whether it asks for Connection: close."""

    def __init__(self, name, body, close=False, kit_script=None):
        self.name, self.body, self.close, self.kit_script = name, body, close, kit_script

    def script(self, kit, tmp):
        if self.kit_script:
            return os.path.join(kit, self.kit_script)
        body = os.path.join(tmp, f"{self.name}.xml")
        with open(body, "wb") as f:
            f.write(self.body)
        lua = os.path.join(tmp, f"{self.name}.lua")
        with open(lua, "w") as f:
            f.write('wrk.method = "POST"\nwrk.path = "/RPC2"\n'
                    'wrk.headers["Content-Type"] = "text/xml"\n'
                    f'local f = assert(io.open([[{body}]], "rb"))\nwrk.body = f:read("*a")\nf:close()\n')
        return lua

    def check(self, port):
        """The server answers this body as it should, or SystemExit."""
        conn = Conn(port)
        try:
            status, reply = conn.call(self.body)
        finally:
            conn.close()
        try:
            got = xmlrpc.client.loads(reply)[0]
        except Exception as e:  # a Fault, or a reply that does not parse
            raise SystemExit(f"{self.name}: {status}, {e!r}: {reply[:300]!r}")
        want = (42,) if self.kit_script else xmlrpc.client.loads(self.body)[0]
        if status != 200 or got != want:
            raise SystemExit(f"{self.name}: {status}, wrong answer: {reply[:300]!r}")


def workloads(kit):
    with open(os.path.join(kit, "add_body.xml"), "rb") as f:
        add = f.read()  # what post_add.lua posts
    structs = "<array><data>" + "".join(f"<value>{record(i)}</value>" for i in range(STRUCTS)) + "</data></array>"
    return {
        "add": Workload("add", add, kit_script="post_add.lua"),
        "echo10k": Workload("echo10k", rpc_body("echo", [f"<string>{echo_text(10_000)}</string>"])),
        "structs": Workload("structs", rpc_body("echo", [structs])),
        "connclose": Workload("connclose", add, close=True, kit_script="post_add.lua"),
    }


def one_run(binary, o, workload, script, tmp):
    port = free_port()
    access = os.path.join(tmp, "access.log")
    cmd = [binary, "--port", str(port), "--access-log", access] + shlex.split(o.args)
    server = Server(os.path.basename(binary), cmd, port, os.path.join(tmp, "server.log"))
    try:
        if not server.start():
            raise SystemExit(f"server did not start: {shlex.join(cmd)} (see {server.log})")
        workload.check(port)
        run = wrk(server, "/RPC2", o.secs, o.conns, script, workload.close)
    finally:
        server.stop()
        if os.path.exists(access):
            os.unlink(access)
    if not run["requests"]:
        raise SystemExit(f"wrk completed no requests: {run['cmd']}")
    return run


def measure(o, workload, tmp):
    script = workload.script(o.kit, tmp)
    print(f"== {workload.name}: {len(workload.body):,}-byte body, "
          f"{'Connection: close' if workload.close else 'keep-alive'}, {script}", flush=True)
    results = {"A": [], "B": []}
    for r in range(o.rounds):
        order = [("A", o.a), ("B", o.b)] if r % 2 == 0 else [("B", o.b), ("A", o.a)]
        for name, binary in order:
            run = one_run(binary, o, workload, script, tmp)
            results[name].append(run)
            print(f"round {r + 1} {name}: {run['us']:.2f} µs/call, {run['rps']:,.0f} req/s, "
                  f"p99 {run['p99']:.2f} ms", flush=True)
    med = {k: {key: statistics.median(run[key] for run in v) for key in ("us", "rps", "p99")}
           for k, v in results.items()}
    print()
    for k, binary in (("A", o.a), ("B", o.b)):
        m = med[k]
        bad = sum(run["non2xx"] for run in results[k])
        errors = [sum(run["errors"][i] for run in results[k]) for i in range(4)]
        rounds = ", ".join(f"{run['us']:.2f}" for run in results[k])
        print(f"{k} {binary}: median {m['us']:.2f} µs/call, {m['rps']:,.0f} req/s, p99 {m['p99']:.2f} ms"
              f" (rounds {rounds};"
              f" non-2xx {bad}, socket errors c/r/w/t {'/'.join(map(str, errors))})")
    ratio = med["B"]["us"] / med["A"]["us"]
    print(f"B/A = {ratio:.3f} (µs/call), {med['B']['p99'] / med['A']['p99']:.3f} (p99)\n", flush=True)
    return med, ratio


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--a", required=True, help="baseline medusad binary")
    p.add_argument("--b", required=True, help="candidate medusad binary")
    p.add_argument("--workload", default="add",
                   help="add, echo10k, structs or connclose; comma-separated for several (default: add)")
    p.add_argument("--args", default="", help="extra medusad arguments for both")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--secs", type=int, default=5)
    p.add_argument("--conns", type=int, default=50)
    p.add_argument("--kit", default=os.path.join(HERE, "..", "..", "..", "shared", "bench"))
    o = p.parse_args()
    o.a, o.b, o.kit = os.path.abspath(o.a), os.path.abspath(o.b), os.path.abspath(o.kit)
    known = workloads(o.kit)
    chosen = [w.strip() for w in o.workload.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in known]
    if unknown or not chosen:
        p.error(f"unknown workload(s) {unknown}; choose from {', '.join(known)}")
    summary = []
    with tempfile.TemporaryDirectory(prefix="medusa-ab-") as tmp:
        try:
            for name in chosen:
                med, ratio = measure(o, known[name], tmp)
                summary.append((name, med, ratio))
        finally:
            stop_all()
    if len(summary) > 1:
        print("| workload | A µs/call | B µs/call | B/A | A p99 ms | B p99 ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        for name, med, ratio in summary:
            print(f"| {name} | {med['A']['us']:.2f} | {med['B']['us']:.2f} | {ratio:.3f} "
                  f"| {med['A']['p99']:.2f} | {med['B']['p99']:.2f} |")


if __name__ == "__main__":
    main()
