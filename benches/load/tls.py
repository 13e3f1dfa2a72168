#!/usr/bin/env python3
"""HTTPS and Unix-domain sockets: medusad against nginx, interleaved, with
run.py's servers, wrk runs and CPU accounting (imported, not copied).

    python3 benches/load/tls.py --rounds 3 --secs 5 --out tls.md

Sections (--sections, all by default); every round runs each measurement of
each section once, the whole order reversed every other round:

  ka     keep-alive add(40, 2), 50 connections (wrk -t1 -c50 + the kit's
         post_add.lua) over HTTPS: `medusad --tls-cert --tls-key` against
         nginx with TLS (nginx_tls.conf.template: one worker, `return 200`
         of the exact bytes medusad answers); medusad and the kit's nginx
         over plain TCP in the same rounds, for reference
  hs     full handshakes: the same with `Connection: close`, a new TLS
         connection (and a full handshake) per request: handshakes/s and
         server CPU per connection, with the handshakes each server counted
  unix   medusad over its `--unix` socket against loopback TCP, the same
         process: N client processes (Python multiprocessing, one
         keep-alive connection each, pre-encoded add(40, 2) requests; wrk
         has no Unix sockets), server CPU per call

TLS, the same for both servers: TLS 1.3, TLS_AES_128_GCM_SHA256, X25519,
an ECDSA P-256 certificate (self-signed, made with `openssl req` in the
scratch folder at every run; never kept unless --keep). medusad has no
cipher options, so the pin is the client's: wrk runs with OPENSSL_CONF
pointing at a file whose system_default section offers only that suite and
group (nginx is pinned in its config as well). The check before the rounds
prints what `openssl s_client`, with the same file, negotiated with each.

Resumption: wrk reuses one SSL object per connection slot and SSL_clear()
keeps its session, so on reconnecting it offers the last one (the TLS 1.3
ticket) and a server that remembers it resumes. medusad's rustls config
keeps rustls' defaults (a 256-entry session cache, two tickets per
connection), so every TLS wrk run preloads wrk_fresh_sessions.c, which
drops the session in SSL_clear(): no session is ever offered. The probe
before the rounds shows it: nginx with session cache and tickets on, logging
$ssl_session_reused, under stock wrk and under the shim; and medusad's CPU
per connection under both.

Needs wrk, nginx (with the ssl and stub_status modules), openssl, cc and
python3. Every server it starts is stopped at the end.
"""
import argparse
import multiprocessing
import os
import re
import shlex
import socket
import ssl
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import REPO, Conn, Run, f1, f2, median, report_run, require_tools, stop, table, wrk  # noqa: E402

SECTIONS = ("ka", "hs", "unix")
TEMPLATE = os.path.join(HERE, "nginx_tls.conf.template")
SHIM = os.path.join(HERE, "wrk_fresh_sessions.c")
SUITE, GROUP = "TLS_AES_128_GCM_SHA256", "X25519"
OPENSSL_CNF = f"""# wrk's (and s_client's) OpenSSL settings: offer one suite and one group
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
MinProtocol = TLSv1.3
MaxProtocol = TLSv1.3
Ciphersuites = {SUITE}
Groups = {GROUP}
"""


def nginx_string(data):
    """bytes as the body of an nginx `return 200 "..."`."""
    text = data.decode()
    if "$" in text:
        raise SystemExit("the reply holds a '$', which nginx would read as a variable")
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class TlsConn(Conn):
    """run.Conn over TLS (verifying the test certificate)."""

    def __init__(self, port, ctx, timeout=30):
        super().__init__(port, timeout)
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")


class UnixConn(Conn):
    """run.Conn over a Unix-domain socket."""

    def __init__(self, path, timeout=30):
        self.port = 0
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = bytearray()


def get(conn, path):
    conn.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
    status, body = conn.read_response()
    conn.close()
    if status != 200:
        raise SystemExit(f"GET {path}: {status} {body[:200]!r}")
    return body.decode()


# ---------------------------------------------------------------- unix client

def _worker(addr, request, secs, barrier, out):
    """One client process: a keep-alive connection, calls in a loop for secs
    after the barrier; puts (calls, non-200) on out."""
    family = socket.AF_UNIX if isinstance(addr, str) else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.connect(addr)
    if family == socket.AF_INET:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""

    def call():
        nonlocal buf
        s.sendall(request)
        while True:
            h = buf.find(b"\r\n\r\n")
            if h >= 0:
                i = buf.find(b"Content-Length: ", 0, h)
                n = int(buf[i + 16:buf.index(b"\r", i)])
                if len(buf) >= h + 4 + n:
                    ok = buf.startswith(b"HTTP/1.1 200")
                    buf = buf[h + 4 + n:]
                    return ok
            chunk = s.recv(65536)
            if not chunk:
                raise ConnectionError("closed by the server")
            buf += chunk

    call()  # warm
    barrier.wait()
    calls = bad = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if not call():
            bad += 1
        calls += 1
    out.put((calls, bad))
    s.close()


def unix_load(server, addr, procs, secs, body):
    """procs client processes on addr (a path or (host, port)) for secs:
    completed calls, non-200, and the server's CPU µs per call."""
    ctx = multiprocessing.get_context("fork")
    request = (f"POST /RPC2 HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    barrier = ctx.Barrier(procs + 1)
    out = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(addr, request, secs, barrier, out)) for _ in range(procs)]
    for w in workers:
        w.start()
    try:
        barrier.wait(timeout=30)
        c0 = server.cpu()
        got = [out.get(timeout=secs + 60) for _ in workers]
        c1 = server.cpu()
    finally:
        for w in workers:
            w.join(10)
            if w.is_alive():
                w.kill()
    calls = sum(c for c, _ in got)
    return {"requests": calls, "non2xx": sum(b for _, b in got), "rps": calls / secs,
            "us": 1e6 * (c1 - c0) / calls if calls else float("inf")}


# ---------------------------------------------------------------- the run

class TlsRun(Run):
    def __init__(self, args):
        super().__init__(args)
        self.cert = os.path.join(self.tmp, "cert.pem")
        self.key = os.path.join(self.tmp, "key.pem")
        self.cnf = os.path.join(self.tmp, "openssl-client.cnf")
        self.shim = os.path.join(self.tmp, "wrk_fresh_sessions.so")
        self.sock = os.path.join(self.tmp, "medusad.sock")
        self.notes = []

    def build(self):
        cmd = ["cargo", "build", "--release", "--bin", "medusad"]
        self.commands.append(shlex.join(cmd))
        if not self.a.no_build:
            self.say(f"$ {shlex.join(cmd)}")
            subprocess.run(cmd, cwd=REPO, check=True)
        if not os.path.exists(self.medusad):
            raise SystemExit(f"{self.medusad} missing (build failed, or --no-build before any build)")
        steps = [
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", self.key, "-out", self.cert, "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
            ["cc", "-shared", "-fPIC", "-O2", "-o", self.shim, SHIM, "-ldl"],
        ]
        for cmd in steps:
            self.commands.append(shlex.join(cmd).replace(self.tmp, "$TMP"))
            subprocess.run(cmd, check=True, capture_output=True)
        with open(self.cnf, "w") as f:
            f.write(OPENSSL_CNF)
        self.ctx = ssl.create_default_context(cafile=self.cert)
        self.ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        # wrk over TLS: the pinned suite and group, never a resumed session
        self.wrk_env = dict(os.environ, OPENSSL_CONF=self.cnf, LD_PRELOAD=self.shim)

    def start_servers(self):
        s = {}
        s["medusad-tls"] = self.medusad_server("medusad-tls", ["--tls-cert", self.cert, "--tls-key", self.key])
        s["medusad"] = self.medusad_server("medusad", ["--unix", self.sock])
        conn = Conn(s["medusad"].port)
        status, reply = conn.call(self.add_body)
        conn.close()
        if status != 200 or b"<int>42</int>" not in reply:
            raise SystemExit(f"medusad answered {status} {reply[:200]!r}")
        self.reply = reply
        s["nginx-tls"] = self.nginx_server("nginx-tls", TEMPLATE, subs={
            "@CERT@": self.cert, "@KEY@": self.key, "@RESPONSE@": nginx_string(reply)})
        s["nginx"] = self.nginx_server("nginx", os.path.join(self.kit, "nginx.conf.template"))
        for name in ("medusad-tls", "nginx-tls"):
            conn = TlsConn(s[name].port, self.ctx)
            status, body = conn.call(self.add_body)
            conn.close()
            if status != 200 or body != reply:
                raise SystemExit(f"{name} over TLS answered {status} {body[:200]!r}, not medusad's {reply!r}")
        conn = UnixConn(self.sock)
        status, body = conn.call(self.add_body)
        conn.close()
        if status != 200 or body != reply:
            raise SystemExit(f"medusad over {self.sock} answered {status} {body[:200]!r}")
        status, body = Conn(s["nginx"].port).call(self.add_body)
        if status != 200 or b"<int>42</int>" not in body:
            raise SystemExit(f"nginx answered {status} {body[:200]!r}")
        for server in s.values():
            self.commands.append(f"{server.name}: {server.command()}".replace(self.tmp, "$TMP"))
        return s

    # ---------------- counters

    def handshakes(self, server):
        """Handshakes the server has counted (medusad's metrics, nginx's
        accepted connections); the connection asking is one of them."""
        conn = TlsConn(server.port, self.ctx)
        if server.name.startswith("medusad"):
            text = get(conn, "/status/metrics")
            return sum(int(n) for n in re.findall(r'^medusa_tls_handshakes_total\{[^}]*\} (\d+)', text, re.M))
        text = get(conn, "/nginx_status")
        return int(re.search(r"server accepts handled requests\s+(\d+)", text).group(1))

    def s_client(self, port, sess_in=None, sess_out=None):
        """What openssl s_client (with wrk's OpenSSL settings) negotiated."""
        cmd = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost", "-ign_eof"]
        if sess_in:
            cmd += ["-sess_in", sess_in]
        if sess_out:
            cmd += ["-sess_out", sess_out]
        run = subprocess.run(cmd, input=b"GET /nginx_status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                             capture_output=True, timeout=30, env=dict(os.environ, OPENSSL_CONF=self.cnf))
        out = run.stdout.decode(errors="replace") + run.stderr.decode(errors="replace")

        def find(pattern):
            m = re.search(pattern, out, re.M)
            return m.group(1).strip() if m else "?"
        return {"session": find(r"^(New|Reused), TLSv"), "version": find(r"^(?:New|Reused), (TLSv[\d.]+)"),
                "cipher": find(r"Cipher is (\S+)"), "kx": find(r"Server Temp Key: ([^,\n]+)"),
                "sig": find(r"Peer signature type: (\S+)"),
                "tickets": out.count("Post-Handshake New Session Ticket arrived")}

    # ---------------- before the rounds

    def check_tls(self, servers):
        rows = []
        for name in ("medusad-tls", "nginx-tls"):
            port = servers[name].port
            sess = os.path.join(self.tmp, f"{name}.sess")
            first = self.s_client(port, sess_out=sess)
            again = self.s_client(port, sess_in=sess)
            rows.append([name, first["version"], first["cipher"], first["kx"], first["sig"], first["tickets"],
                         again["session"]])
            if (first["cipher"], first["kx"]) != (SUITE, GROUP):
                raise SystemExit(f"{name}: negotiated {first}, not {SUITE} with {GROUP}")
        self.tls_rows = rows

    def probe(self, servers):
        """Does wrk resume? nginx with resumption on, logging
        $ssl_session_reused, under stock wrk and under the shim; medusad's
        CPU per connection under both."""
        secs = self.a.probe_secs
        ngx = self.nginx_server("nginx-probe", TEMPLATE, subs={
            "@CERT@": self.cert, "@KEY@": self.key, "@RESPONSE@": nginx_string(self.reply),
            "ssl_session_tickets off;": "ssl_session_tickets on;",
            "ssl_session_cache off;": "ssl_session_cache shared:probe:1m;",
            "access_log off;": f"access_log {self.tmp}/nginx-probe/tls.log tls;"})
        log = os.path.join(self.tmp, "nginx-probe", "tls.log")
        stock = dict(os.environ, OPENSSL_CONF=self.cnf)
        rows = []
        for label, env in (("stock wrk", stock), ("wrk + wrk_fresh_sessions.so", self.wrk_env)):
            open(log, "w").close()
            r = wrk(ngx, "/RPC2", secs, self.a.conns, self.lua, True, self.wrk_log, "https", env)
            time.sleep(0.5)  # the log is written at each request's end
            with open(log) as f:
                marks = [line.split()[-1] for line in f if line.strip()]
            m = wrk(servers["medusad-tls"], "/RPC2", secs, self.a.conns, self.lua, True, self.wrk_log, "https", env)
            rows.append([label, len(marks), marks.count("r"), marks.count("."), f"{r['rps']:.0f}",
                         f1(m["us"]), f"{m['rps']:.0f}"])
            time.sleep(self.a.pause)
        stop(ngx.proc)
        self.probe_rows = rows

    # ---------------- the rounds

    def measure(self, servers, section, name):
        if section == "unix":
            server = servers["medusad"]
            addr = self.sock if name == "unix" else ("127.0.0.1", server.port)
            return unix_load(server, addr, self.a.unix_procs, self.a.secs, self.add_body)
        server = servers[name]
        tls = name.endswith("-tls")
        before = self.handshakes(server) if section == "hs" else None
        r = wrk(server, "/RPC2", self.a.secs, self.a.conns, self.lua, section == "hs", self.wrk_log,
                "https" if tls else "http", self.wrk_env if tls else None)
        if before is not None:
            r["handshakes"] = self.handshakes(server) - before - 1
        return r

    def rounds(self, servers):
        jobs = []
        if "ka" in self.a.sections:
            jobs += [("ka", n) for n in ("medusad-tls", "nginx-tls", "medusad", "nginx")]
        if "hs" in self.a.sections:
            jobs += [("hs", n) for n in ("medusad-tls", "nginx-tls")]
        if "unix" in self.a.sections:
            jobs += [("unix", n) for n in ("unix", "tcp")]
        res = {job: [] for job in jobs}
        for r in range(self.a.rounds):
            for section, name in (jobs if r % 2 == 0 else jobs[::-1]):
                self.say(f"round {r + 1}/{self.a.rounds}: {section} {name}")
                res[(section, name)].append(self.measure(servers, section, name))
                time.sleep(self.a.pause)
        return res

    # ---------------- report

    def report_ka(self, res):
        rows = []
        base = {"tls": median(res[("ka", "nginx-tls")], "us"), "tcp": median(res[("ka", "nginx")], "us")}
        for name, label, transport in (("medusad-tls", "medusad", "tls"), ("nginx-tls", "nginx", "tls"),
                                       ("medusad", "medusad", "tcp"), ("nginx", "nginx (kit)", "tcp")):
            runs = res[("ka", name)]
            us = median(runs, "us")
            rows.append([label, "TLS 1.3" if transport == "tls" else "plain TCP", f1(us), f2(us / base[transport]),
                         f"{median(runs, 'rps'):.0f}", f2(median(runs, "p50")), f2(median(runs, "p99")),
                         ", ".join(f1(r["us"]) for r in runs), sum(r["non2xx"] for r in runs),
                         sum(sum(r["errors"]) for r in runs)])
        m_tls, n_tls = median(res[("ka", "medusad-tls")], "us"), base["tls"]
        m_tcp, n_tcp = median(res[("ka", "medusad")], "us"), base["tcp"]
        cmd = re.sub(r"127[.]0[.]0[.]1:[0-9]+", "127.0.0.1:PORT", res[("ka", "medusad-tls")][0]["cmd"])
        self.out.append("\n".join([
            "## TLS keep-alive `add(40, 2)`, 50 connections", "",
            f"wrk -t1 -c{self.a.conns}, {self.a.secs} s per run, {self.a.rounds} interleaved round(s); "
            f"`{cmd.replace(self.tmp, '$TMP')}`. \"vs nginx\" compares with nginx over the same transport.", "",
            table(["server", "transport", "µs/req (median)", "vs nginx", "req/s", "p50 ms", "p99 ms",
                   "µs/req per round", "non-2xx", "socket errors"], rows), "",
            f"medusad/nginx over TLS: **{m_tls / n_tls:.2f}×** (target ≤ 1.1×). What TLS adds per call: "
            f"medusad {m_tls - m_tcp:.1f} µs, nginx {n_tls - n_tcp:.1f} µs."]))

    def report_hs(self, res):
        rows = []
        n_rps = median(res[("hs", "nginx-tls")], "rps")
        n_us = median(res[("hs", "nginx-tls")], "us")
        for name in ("medusad-tls", "nginx-tls"):
            runs = res[("hs", name)]
            rows.append([name.replace("-tls", ""), f"{median(runs, 'rps'):.0f}", f2(median(runs, "rps") / n_rps),
                         f1(median(runs, "us")), f2(median(runs, "us") / n_us), f2(median(runs, "p99")),
                         ", ".join(f"{r['rps']:.0f}" for r in runs), ", ".join(f1(r["us"]) for r in runs),
                         ", ".join(f"{r['handshakes']}/{r['requests']}" for r in runs),
                         "/".join(str(sum(r["errors"][i] for r in runs)) for i in range(4))])
        cmd = re.sub(r"127[.]0[.]0[.]1:[0-9]+", "127.0.0.1:PORT", res[("hs", "medusad-tls")][0]["cmd"])
        m_rps = median(res[("hs", "medusad-tls")], "rps")
        self.out.append("\n".join([
            "## Full TLS handshakes: `Connection: close`, a new TLS 1.3 connection per request", "",
            f"`{cmd.replace(self.tmp, '$TMP')}`; {self.a.rounds} interleaved round(s) of {self.a.secs} s. "
            "µs/conn = server CPU ÷ requests (one request per connection). Handshakes: what the server "
            "counted over the run (medusad `medusa_tls_handshakes_total`, nginx's accepted connections from "
            "stub_status) / the requests wrk completed (a run ends with up to 50 connections in flight).", "",
            table(["server", "handshakes/s (median)", "vs nginx", "µs/conn (median)", "vs nginx", "p99 ms",
                   "handshakes/s per round", "µs/conn per round", "handshakes/requests", "socket errors c/r/w/t"],
                  rows), "",
            f"medusad/nginx handshakes per second: **{m_rps / n_rps:.2f}×** (target ≥ 0.9×)."]))

    def report_unix(self, res):
        tcp = median(res[("unix", "tcp")], "us")
        rows = []
        for name, label in (("unix", f"Unix socket ({self.sock.replace(self.tmp, '$TMP')})"),
                            ("tcp", "loopback TCP (127.0.0.1)")):
            runs = res[("unix", name)]
            rows.append([label, f1(median(runs, "us")), f2(median(runs, "us") / tcp), f"{median(runs, 'rps'):.0f}",
                         ", ".join(f1(r["us"]) for r in runs), sum(r["non2xx"] for r in runs)])
        self.out.append("\n".join([
            "## medusad over a Unix-domain socket and over loopback TCP", "",
            f"One medusad (`--port PORT --unix PATH`), {self.a.unix_procs} client processes (Python "
            "`multiprocessing`, benches/load/tls.py `unix_load`), each one keep-alive connection sending a "
            "pre-encoded `add(40, 2)` (the kit's body) and reading the answer, in a loop for "
            f"{self.a.secs} s; {self.a.rounds} interleaved round(s). The clients are slower than the server (and "
            "share its 2 cores): calls/s measures them; compare server CPU µs per call.", "",
            table(["transport", "server µs/call (median)", "vs TCP", "calls/s", "µs/call per round", "non-200"],
                  rows)]))

    def report_checks(self):
        text = ["## TLS settings and resumption", "",
                "What `openssl s_client` negotiated, with wrk's OpenSSL settings (OPENSSL_CONF offering only "
                f"{SUITE} and {GROUP}); tickets = NewSessionTicket messages the server sent on one connection; "
                "resumed = a second s_client offering the first one's session (`-sess_in`):", "",
                table(["server", "version", "cipher", "key exchange", "signature", "tickets", "offered session"],
                      self.tls_rows)]
        if getattr(self, "probe_rows", None):
            text += ["", f"Does wrk resume? `Connection: close` runs of {self.a.probe_secs} s against nginx with "
                     "`ssl_session_cache shared:probe:1m; ssl_session_tickets on;` logging `$ssl_session_reused` "
                     "(r = resumed), and against medusad:", "",
                     table(["client", "nginx connections logged", "resumed (r)", "full (.)", "nginx conn/s",
                            "medusad µs/conn", "medusad conn/s"], self.probe_rows)]
        self.out.append("\n".join(text))

    def run(self):
        self.build()
        servers = self.start_servers()
        self.check_tls(servers)
        if not self.a.no_probe:
            self.probe(servers)
        res = self.rounds(servers)
        self.report_checks()
        if "ka" in self.a.sections:
            self.report_ka(res)
        if "hs" in self.a.sections:
            self.report_hs(res)
        if "unix" in self.a.sections:
            self.report_unix(res)
        for s in servers.values():
            s.stop()
        return self.report()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kit", default=os.path.join(REPO, "..", "shared", "bench"),
                   help="the load-test kit (post_add.lua, add_body.xml, nginx.conf.template)")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported)")
    p.add_argument("--secs", type=int, default=5, help="seconds per run")
    p.add_argument("--probe-secs", type=int, default=2, help="seconds per run of the resumption probe")
    p.add_argument("--conns", type=int, default=50, help="wrk connections")
    p.add_argument("--unix-procs", type=int, default=8, help="client processes of the unix section")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    p.add_argument("--medusad-args", default="--access-log {access_log}",
                   help="medusad's options besides --port (default: %(default)s)")
    p.add_argument("--medusad", default=os.path.join(REPO, "target", "release", "medusad"))
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"of {','.join(SECTIONS)}")
    p.add_argument("--no-probe", action="store_true", help="skip the resumption probe")
    p.add_argument("--no-build", action="store_true", help="use the medusad already built")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, wrk output, cert)")
    p.add_argument("--out", help="also write the report to this file")
    a = p.parse_args()
    a.sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    bad = [s for s in a.sections if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {bad}; choose from {SECTIONS}")
    require_tools(p, ("wrk", "nginx", "openssl", "cc", "cargo"))
    report_run(TlsRun(a), a.out, keep=a.keep)

if __name__ == "__main__":
    main()
