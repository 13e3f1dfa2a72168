#!/usr/bin/env python3
"""medusad against nginx and dxr (issue 17's comparison table), with one command.

    python3 benches/load/peers.py --rounds 3 --secs 5 --out peers.md

Builds medusad (release) and the dxr peer (benches/load/dxr_server: the dxr
crate's own axum server on a tokio current_thread runtime, its target in
/tmp/dxr-target), starts medusad (`--access-log FILE`), dxr and nginx, and
measures, as medians of interleaved rounds (the servers' order reversed every
other round), wrk -t1 keep-alive with --latency:

  add        add(40, 2) (the kit's post_add.lua), 50 connections; nginx: the
             kit's nginx.conf.template, `return 200` of medusad's exact reply
  add_c1000  the same from 1,000 connections
  echo10k    echo of a 10 KB string (ab.py's workload)
  structs    echo of 100 structs, a 53 KB document (ab.py's workload)
  base64_1m  echo of 1 MiB of bytes as <base64>, a 1.4 MB document

For the echo workloads nginx serves medusad's exact response body as a static
file (nginx_static.conf.template), fetched with GET: nginx answers a POST to a
file with 405, so it neither receives nor reads the request body.

Server CPU µs per request = the server's utime+stime (/proc, its threads and
children) over a run ÷ the requests wrk completed (run.py's accounting).
Each server's answer to each body is checked first: medusad and dxr echo what
was sent (compared after xmlrpc.client.loads), nginx sends medusad's bytes.
Writes a Markdown report to --out. Needs wrk, nginx, cargo and python3.
"""
import argparse
import base64
import os
import re
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ab import Workload, workloads  # noqa: E402
from run import (REPO, Conn, Run, Server, f1, f2, free_port, machine, median,  # noqa: E402
                 raise_nofile, report_run, require_tools, rpc_body, table, wrk)

DXR_DIR = os.path.join(HERE, "dxr_server")
DXR_TARGET = "/tmp/dxr-target"
DXR_BIN = os.path.join(DXR_TARGET, "release", "dxr_peer")
MANY = 1000
# row: (the workload it posts, wrk connections)
ROWS = {"add": ("add", 50), "add_c1000": ("add", MANY), "echo10k": ("echo10k", 50),
        "structs": ("structs", 50), "base64_1m": ("base64_1m", 50)}
PEERS = ("medusad", "dxr", "nginx")
PAUSE = 1.0  # seconds between runs


def fetch(port, workload, path=None):
    """(status, body) of workload's POST, or of a GET of path."""
    conn = Conn(port, timeout=60)
    try:
        if path:
            conn.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            return conn.read_response()
        return conn.call(workload.body)
    finally:
        conn.close()


class Peers(Run):
    """run.py's Run for its medusad and nginx starters and its scratch folder."""

    def __init__(self, a):
        a.medusad_args = "--access-log {access_log}"
        super().__init__(a)
        self.work = workloads(self.kit)
        blob = bytes(range(256)) * 4096  # 1 MiB
        self.work["base64_1m"] = Workload(
            "base64_1m", rpc_body("echo", [f"<base64>{base64.b64encode(blob).decode()}</base64>"]))
        self.notes = []
        self.dxr = True

    def build(self):
        med = ["cargo", "build", "--release", "--bin", "medusad"]
        dxr = ["cargo", "build", "--release", "--manifest-path", os.path.join(DXR_DIR, "Cargo.toml"),
               "--target-dir", DXR_TARGET]
        self.commands += [shlex.join(med), shlex.join(dxr)]
        if not self.a.no_build:
            self.say(f"$ {shlex.join(med)}")
            subprocess.run(med, cwd=REPO, check=True)
            self.say(f"$ {shlex.join(dxr)}")
            if subprocess.run(dxr, cwd=REPO).returncode:
                self.dxr_missing("the dxr peer did not build")
        if not os.path.exists(self.medusad):
            raise SystemExit(f"{self.medusad} missing (build failed, or --no-build before any build)")
        if self.dxr and not os.path.exists(DXR_BIN):
            self.dxr_missing(f"{DXR_BIN} missing (--no-build before any build)")

    def dxr_missing(self, why):
        if self.a.require_dxr:
            raise SystemExit(f"{why} (--require-dxr)")
        self.say(f"{why}: the dxr columns are skipped")
        self.notes.append(f"**dxr skipped: {why}** (`{self.commands[-1]}`).")
        self.dxr = False

    def start(self, rows):
        """medusad, dxr and the nginx each row needs, every answer checked.
        Returns (server, path to GET or None to POST) per row and server
        name, and the response bodies per (row, server name)."""
        med = self.medusad_server("medusad", [])
        rpc = {"medusad": med}
        if self.dxr:
            port = free_port()
            rpc["dxr"] = Server("dxr", [DXR_BIN, str(port)], port, os.path.join(self.tmp, "dxr.log"))
            if not rpc["dxr"].start():
                raise SystemExit(f"dxr did not start: {rpc['dxr'].command()}")
        bodies = {}
        for row in rows:
            work = self.work[ROWS[row][0]]
            for name, s in rpc.items():
                work.check(s.port)
                bodies[(row, name)] = fetch(s.port, work)[1]
        nginx = {}
        if any(ROWS[r][0] == "add" for r in rows):
            nginx["add"] = self.nginx_return(fetch(med.port, self.work["add"])[1])
        static = [r for r in rows if ROWS[r][0] != "add"]
        if static:
            root = os.path.join(self.tmp, "www")
            os.makedirs(root, exist_ok=True)
            for row in static:
                with open(os.path.join(root, f"{row}.xml"), "wb") as f:
                    f.write(bodies[(row, "medusad")])
            nginx["static"] = self.nginx_server("nginx-static", os.path.join(HERE, "nginx_static.conf.template"),
                                                root)
        servers = {}
        for row in rows:
            ngx, path = (nginx["add"], None) if ROWS[row][0] == "add" else (nginx["static"], f"/{row}.xml")
            status, body = fetch(ngx.port, self.work[ROWS[row][0]], path)
            if status != 200 or body != bodies[(row, "medusad")]:
                raise SystemExit(f"{ngx.name} {row}: {status}, not medusad's {len(bodies[(row, 'medusad')])} "
                                 f"bytes but {len(body)}: {body[:200]!r}")
            bodies[(row, "nginx")] = body
            servers[row] = {**{name: (s, None) for name, s in rpc.items()}, "nginx": (ngx, path)}
        for s in list(rpc.values()) + list(nginx.values()):
            self.commands.append(f"{s.name}: {s.command()}")
        return servers, bodies

    def nginx_return(self, reply):
        """The kit's nginx.conf.template, its `return 200` sending reply."""
        with open(os.path.join(self.kit, "nginx.conf.template")) as f:
            conf = f.read()
        if re.search(rb"['\\$]", reply):
            raise SystemExit(f"medusad's add reply needs escaping for nginx: {reply!r}")
        conf, n = re.subn(r'return 200 "(?:[^"\\]|\\.)*";', lambda _: f"return 200 '{reply.decode()}';", conf)
        if n != 1:
            raise SystemExit("the kit's nginx.conf.template has no `return 200 \"...\";`")
        template = os.path.join(self.tmp, "nginx_return.conf.template")
        with open(template, "w") as f:
            f.write(conf)
        self.commands.append(f"nginx config: the kit's nginx.conf.template with `return 200 '{reply.decode()}'`")
        return self.nginx_server("nginx", template)

    def run(self):
        raise_nofile(MANY + 1024)  # wrk and the servers it starts hold 1,000 connections
        self.build()
        rows = self.a.workloads
        servers, bodies = self.start(rows)
        names = list(servers[rows[0]])
        res = {(row, name): [] for row in rows for name in names}
        for row in rows:
            work, conns = self.work[ROWS[row][0]], ROWS[row][1]
            script = work.script(self.kit, self.tmp)
            for r in range(self.a.rounds):
                for name in names if r % 2 == 0 else names[::-1]:
                    self.say(f"{row} round {r + 1}/{self.a.rounds}: {name}")
                    s, path = servers[row][name]  # path: nginx's GET of the file
                    run = wrk(s, path or "/RPC2", self.a.secs, conns, None if path else script, log=self.wrk_log)
                    if not run["requests"]:
                        raise SystemExit(f"wrk completed no requests: {run['cmd']}")
                    res[(row, name)].append(run)
                    time.sleep(PAUSE)
        return self.report(rows, names, res, bodies)

    def report(self, rows, names, res, bodies):
        def med(row, name, key):  # nan for a server that did not run
            return median(res.get((row, name), []), key)

        def ratio(a, b):
            return a / b if b else float("nan")

        main, detail = [], []
        for row in rows:
            us = {n: med(row, n, "us") for n in PEERS}
            main.append([f"`{row}`", ROWS[row][1]] + [f1(us[n]) for n in PEERS]
                        + [f2(ratio(us["medusad"], us["nginx"])), f2(ratio(us["medusad"], us["dxr"]))]
                        + [f2(med(row, n, "p99")) for n in PEERS])
            for n in names:
                runs = res[(row, n)]
                get = n == "nginx" and ROWS[row][0] != "add"
                detail.append([f"`{row}`", n, "GET, no body" if get else f"{len(self.work[ROWS[row][0]].body):,}",
                               f"{len(bodies[(row, n)]):,}", f"{median(runs, 'rps'):,.0f}",
                               ", ".join(f1(r["us"]) for r in runs),
                               ", ".join(f1(r["system_us"]) for r in runs), ", ".join(f2(r["p99"]) for r in runs),
                               sum(r["non2xx"] for r in runs),
                               "/".join(str(sum(r["errors"][i] for r in runs)) for i in range(4))])
        with open(os.path.join(DXR_DIR, "Cargo.lock")) as f:
            dxr_version = re.search(r'name = "dxr"\nversion = "([^"]+)"', f.read())
        parts = [
            "# medusad, nginx and dxr", "",
            table(["", ""], machine() + [("dxr", dxr_version.group(1) if dxr_version else "?")]), "",
            "Command: `" + shlex.join(["python3", os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]) + "`", "",
            *[n + "\n" for n in self.notes],
            f"wrk -t1 keep-alive --latency, {self.a.secs} s per run, medians of {self.a.rounds} interleaved "
            "round(s), the servers' order reversed every other round. **µs/req** = the server's CPU "
            "(utime+stime of its process, threads and children, /proc) over a run ÷ requests wrk completed.", "",
            table(["workload", "conns", "medusad µs/req", "dxr µs/req", "nginx µs/req", "medusad/nginx",
                   "medusad/dxr", "medusad p99 ms", "dxr p99 ms", "nginx p99 ms"], main), "",
            "- **medusad**: `--access-log FILE` (the production setting), every other option at its default "
            "(`--max-body-bytes` 10 MiB covers the 1.4 MB `base64_1m` call).",
            "- **dxr**: `benches/load/dxr_server` (dxr_server's axum router, tokio current_thread runtime, "
            "`echo` returns dxr's `Value` as parsed), no access log.",
            "- **nginx**, `add`: the kit's `nginx.conf.template` (one worker, no access log) with its "
            "`return 200` body replaced by medusad's exact reply (the kit's own is Python's 122-byte "
            "format); it discards the POST body and does no XML work. Echo rows: "
            "`benches/load/nginx_static.conf.template` (`sendfile on`) serving medusad's exact response "
            "body as a file, fetched **with GET** (nginx answers POST to a file with 405), so nginx "
            "neither receives nor reads the request body: a floor for sending the same response bytes. "
            "Response heads differ by a few bytes (`Server`, nginx's `Connection: keep-alive`, "
            "`Content-Type: application/octet-stream` for the file).", "",
            "Per server (response = body bytes; µs/req, its system (kernel) part, and p99 per round; "
            "socket errors connect/read/write/timeout):", "",
            table(["workload", "server", "request body bytes", "response bytes", "req/s", "µs/req per round",
                   "of which system", "p99 ms per round", "non-2xx", "socket errors"], detail), "",
            "## Commands", "", "```text", *self.commands,
            *dict.fromkeys(re.sub(r"127[.]0[.]0[.]1:[0-9]+", "127.0.0.1:PORT", r["cmd"])
                           for runs in res.values() for r in runs[:1]),
            "```"]
        return "\n".join(parts) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per workload (median reported)")
    p.add_argument("--secs", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--workloads", default=",".join(ROWS), help="comma-separated, of %(default)s")
    p.add_argument("--medusad", default=os.path.join(REPO, "target", "release", "medusad"),
                   help="the medusad binary to measure (default: the one the build step makes)")
    p.add_argument("--kit", default=os.path.join(REPO, "..", "shared", "bench"),
                   help="the load-test kit (post_add.lua, add_body.xml, nginx.conf.template); default %(default)s")
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    p.add_argument("--require-dxr", action="store_true", help="fail, rather than skip dxr, if it does not build")
    p.add_argument("--out", help="also write the report to this file")
    a = p.parse_args()
    a.workloads = [w.strip() for w in a.workloads.split(",") if w.strip()]
    bad = [w for w in a.workloads if w not in ROWS]
    if bad or not a.workloads:
        p.error(f"unknown workload(s) {bad}; choose from {', '.join(ROWS)}")
    require_tools(p, ("wrk", "nginx", "cargo"))
    report_run(Peers(a), a.out)

if __name__ == "__main__":
    main()
