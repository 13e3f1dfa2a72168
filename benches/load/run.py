#!/usr/bin/env python3
"""Every load figure of docs/benchmarks.md, with one command.

    python3 benches/load/run.py --rounds 3 --secs 5 --out results.md

Builds medusad (release) and the kit's floor, starts medusad, the floor,
nginx and Python's SimpleXMLRPCServer side by side, and measures, as medians
of interleaved rounds:

  ka       keep-alive add(40, 2), 50 connections (wrk -s post_add.lua):
           server CPU µs per request, req/s, p50/p99
  close    the same with `Connection: close` (a connection per request),
           with wrk's socket errors
  latency  p50/p99 at 50 keep-alive connections (from `ka`), and a
           starvation check: 50 keep-alive connections calling in a loop,
           the fewest and most calls any one of them completed
  static   a 1 KiB and a 1 MiB file: `medusad --root` against nginx with
           sendfile, wrk GET, server CPU µs per request
  idle     10,000 idle keep-alive connections to medusad: RSS per
           connection, a fresh call's time while they are open, RSS after
           they close
  echo     `echo` round trips of a 1 KB … 100 MB string and a 10,000-int
           array over one keep-alive connection, a fresh medusad each: ms,
           MB/s, server CPU µs per KB, and the RSS peak of one call

Server CPU per request = the server's utime+stime (/proc/PID/stat, its
threads and children included) over the run ÷ requests wrk completed: the
fair figure on 2 cores, where wrk itself saturates one.

Prints a Markdown report and writes it to --out. Needs wrk, nginx and
python3 (stdlib only); see benches/load/README.md. Every server it starts is
stopped at the end, on error and on Ctrl-C too.
"""
import argparse
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from datetime import datetime, timezone

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TCK = os.sysconf("SC_CLK_TCK")
SERVERS = ("medusad", "floor", "nginx", "python")
SECTIONS = ("ka", "close", "latency", "static", "idle", "echo")
FLOOR_TARGET = "/tmp/floor"

# ---------------------------------------------------------------- processes

RUNNING = []  # every Popen started, stopped in stop_all()


def on_signal(signum, _frame):
    raise SystemExit(f"stopped by signal {signum}")


def stop(proc, grace=15):
    """SIGTERM (medusad finishes in-flight requests), then SIGKILL."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        except ProcessLookupError:
            pass
    if proc in RUNNING:
        RUNNING.remove(proc)


def stop_all():
    for proc in list(RUNNING):
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.time() + 15
    for proc in list(RUNNING):
        try:
            proc.wait(max(0.1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        RUNNING.remove(proc)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(proc, port, secs=20):
    """True once something listens on port; False if proc died first."""
    end = time.time() + secs
    while time.time() < end:
        if proc.poll() is not None:
            return False
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


class Server:
    """One measured server process."""

    def __init__(self, name, cmd, port, log, env=None, note=""):
        self.name, self.cmd, self.port, self.log, self.note = name, cmd, port, log, note
        self.env = env
        self.proc = None

    def start(self):
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                     env=self.env, cwd=REPO)
        out.close()
        RUNNING.append(self.proc)
        return wait_port(self.proc, self.port)

    def stop(self):
        if self.proc:
            stop(self.proc)

    def cpu(self):
        return cpu_seconds(family(self.proc.pid))

    def system_cpu(self):
        return cpu_seconds(family(self.proc.pid), system=True)

    def command(self):
        prefix = "".join(f"{k}={v} " for k, v in (self.env or {}).items() if k == "RUST_LOG")
        return prefix + shlex.join(self.cmd) + f" >{self.log} 2>&1"


def family(pid):
    """pid and its descendants (nginx workers, if any)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for t in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{t}/children") as f:
                    todo += [int(x) for x in f.read().split()]
        except (FileNotFoundError, ProcessLookupError):
            pass
    return out


def cpu_seconds(pids, children=False, system=False):
    """utime + stime of the processes (all their threads), in seconds; with
    children, also cutime + cstime (the children they reaped); with system,
    stime (and cstime) alone: the kernel's share."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            used = fields[11:15 if children else 13]
            total += sum(int(x) for x in (used[1::2] if system else used))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / TCK


def raise_nofile(want):
    """RLIMIT_NOFILE to at least want (or the hard limit, if that may not be
    raised), for this process and the servers and wrk runs it starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_status(pid):
    """VmRSS, RssAnon... from /proc/PID/status, in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmData", "VmHWM")):
                key, value = line.split(":", 1)
                out[key] = int(value.split()[0])
    return out


# ---------------------------------------------------------------- wrk

def to_ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        return float("nan")
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[m.group(2)]


def wrk(server, url_path, secs, conns, script=None, close=False, log=None, scheme="http", env=None):
    """One wrk run against server, with the server's CPU over it. scheme
    "https" for a TLS server; env, wrk's environment (the variables it adds
    to os.environ are quoted in the command)."""
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency"]
    if script:
        cmd += ["-s", script]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(f"{scheme}://127.0.0.1:{server.port}{url_path}")
    prefix = "".join(f"{k}={shlex.quote(v)} " for k, v in (env or {}).items() if os.environ.get(k) != v)
    # The kernel's share too, where the server says (run.py's Server does).
    system = getattr(server, "system_cpu", lambda: float("nan"))
    c0, k0 = server.cpu(), system()
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=secs + 60, env=env)
    c1, k1 = server.cpu(), system()
    out = run.stdout
    if log:
        with open(log, "a") as f:
            f.write(f"$ {prefix}{shlex.join(cmd)}\n{out}{run.stderr}\n")
    n = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    requests = int(n.group(1)) if n else 0
    return {
        "cmd": prefix + shlex.join(cmd),
        "requests": requests,
        "us": 1e6 * (c1 - c0) / requests if requests else float("inf"),
        "system_us": 1e6 * (k1 - k0) / requests if requests else float("inf"),
        "rps": float(rps.group(1)) if rps else 0.0,
        "p50": to_ms(p50.group(1)) if p50 else float("nan"),
        "p99": to_ms(p99.group(1)) if p99 else float("nan"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "errors": tuple(map(int, errs.groups())) if errs else (0, 0, 0, 0),
    }


def median(rows, key):
    values = [r[key] for r in rows]
    return statistics.median(values) if values else float("nan")


# ---------------------------------------------------------------- raw HTTP client

def rpc_body(method, params_xml):
    return (f'<?xml version="1.0"?>\n<methodCall><methodName>{method}</methodName><params>'
            + "".join(f"<param><value>{p}</value></param>" for p in params_xml)
            + "</params></methodCall>\n").encode()


def echo_text(size):
    """The string the echo workloads send: size ASCII bytes, nothing to escape."""
    return ("abcdefghijklmnopqrstuvwxyz0123456789" * (size // 36 + 1))[:size]


def post_head(port, length, path="/RPC2"):
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()


class Conn:
    """A blocking keep-alive HTTP/1.1 connection."""

    def __init__(self, port, timeout=30):
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()

    def call(self, body, path="/RPC2"):
        """(status, body) of one POST."""
        self.sock.sendall(post_head(self.port, len(body), path) + body)
        return self.read_response()

    def read_response(self):
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                break
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed before a response")
            self.buf += chunk
        head = bytes(self.buf[:end]).decode("latin-1")
        status = int(head.split(" ", 2)[1])
        m = re.search(r"^content-length:\s*(\d+)", head, re.I | re.M)
        if not m:
            raise ConnectionError(f"response without Content-Length: {head!r}")
        length = int(m.group(1))
        need = end + 4 + length
        while len(self.buf) < need:
            chunk = self.sock.recv(max(65536, min(need - len(self.buf), 1 << 22)))
            if not chunk:
                raise ConnectionError("connection closed inside a response")
            self.buf += chunk
        body = bytes(self.buf[end + 4:need])
        del self.buf[:need]
        return status, body

    def close(self):
        self.sock.close()


def check_add(port):
    """add(40, 2) through Python's own client: 42 or an exception."""
    got = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2").add(40, 2)
    if got != 42:
        raise RuntimeError(f"add(40, 2) on port {port} returned {got!r}")


# ---------------------------------------------------------------- starvation client

def starvation(port, conns, secs, body):
    """conns keep-alive connections, each calling add in a loop (one request in
    flight per connection) for secs, from one selector loop. Returns the
    per-connection counts of completed calls and the failures."""
    import selectors
    sel = selectors.DefaultSelector()
    request = post_head(port, len(body)) + body
    state = {}
    failures = 0
    reconnects = 0

    def open_conn(i):
        s = socket.socket()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        s.send(request)
        state[s] = [i, bytearray()]
        sel.register(s, selectors.EVENT_READ)

    counts = [0] * conns
    for i in range(conns):
        open_conn(i)
    end = time.time() + secs
    while time.time() < end:
        for key, _ in sel.select(timeout=0.2):
            s = key.fileobj
            i, buf = state[s]
            try:
                chunk = s.recv(65536)
            except (ConnectionError, BlockingIOError):
                chunk = b""
            if chunk:
                buf += chunk
                hend = buf.find(b"\r\n\r\n")
                if hend < 0:
                    continue
                m = re.search(rb"(?im)^content-length:\s*(\d+)", bytes(buf[:hend]))
                length = int(m.group(1)) if m else 0
                if len(buf) < hend + 4 + length:
                    continue
                head = bytes(buf[:hend])
                if head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                    counts[i] += 1
                else:
                    failures += 1
                del buf[:hend + 4 + length]
                closing = (re.search(rb"(?im)^connection:\s*close", head) is not None
                           or (head.startswith(b"HTTP/1.0")
                               and re.search(rb"(?im)^connection:\s*keep-alive", head) is None))
                if not closing:
                    try:
                        s.send(request)
                        continue
                    except OSError:
                        pass
            # closed by the server (HTTP/1.0 style) or failed: reconnect
            sel.unregister(s)
            s.close()
            del state[s]
            reconnects += 1
            open_conn(i)
    for s in list(state):
        sel.unregister(s)
        s.close()
    return counts, failures, reconnects


# ---------------------------------------------------------------- report helpers

def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def f1(x):
    return "–" if x != x else f"{x:.1f}"


def f2(x):
    return "–" if x != x else f"{x:.2f}"


def sh(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"({e})"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = sh(["git", "-C", REPO, "describe", "--always", "--dirty", "--abbrev=12"])
    return [
        ("date (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("nproc", sh(["nproc"])),
        ("CPU", model),
        ("kernel", sh(["uname", "-r"])),
        ("rustc", sh(["rustc", "--version"])),
        ("medusa commit", commit),
        ("wrk", sh(["wrk", "-v"]).split(" Copyright")[0].splitlines()[0]),
        ("nginx", sh(["nginx", "-v"])),
        ("python", sys.version.split()[0]),
    ]


# ---------------------------------------------------------------- the run

class Run:
    def __init__(self, args):
        self.a = args
        self.kit = os.path.abspath(args.kit)
        self.tmp = tempfile.mkdtemp(prefix="medusa-load-")
        self.wrk_log = os.path.join(self.tmp, "wrk.log")
        self.lua = os.path.join(self.kit, "post_add.lua")
        with open(os.path.join(self.kit, "add_body.xml"), "rb") as f:
            self.add_body = f.read()  # what post_add.lua posts, for the raw-socket clients
        self.medusad = os.path.abspath(args.medusad)
        self.floor = os.path.join(FLOOR_TARGET, "release", "mio_floor")
        self.out = []          # report sections
        self.commands = []     # commands worth quoting
        self.access_mode = "?"

    def say(self, text):
        print(text, file=sys.stderr, flush=True)

    # ---------------- building and starting

    def build(self):
        cmds = [["cargo", "build", "--release", "--bin", "medusad", "--examples"]]
        binaries = [self.medusad]
        # The floor runs only beside medusad in the wrk sections.
        if set(self.a.sections) & {"ka", "close", "latency"}:
            cmds.append(["cargo", "build", "--release", "--manifest-path",
                         os.path.join(self.kit, "floor", "Cargo.toml"), "--target-dir", FLOOR_TARGET])
            binaries.append(self.floor)
        for cmd in cmds:
            self.commands.append(shlex.join(cmd))
            if self.a.no_build:
                continue
            self.say(f"$ {shlex.join(cmd)}")
            subprocess.run(cmd, cwd=REPO, check=True)
        for binary in binaries:
            if not os.path.exists(binary):
                raise SystemExit(f"{binary} missing (build failed, or --no-build before any build)")

    def medusad_server(self, name, extra):
        """medusad with --medusad-args (the access log to a file) plus extra.
        If medusad refuses --access-log, falls back to RUST_LOG=info with
        stderr (where env_logger writes the access log) to the same file."""
        port = free_port()
        access = os.path.join(self.tmp, f"{name}-access.log")
        log = os.path.join(self.tmp, f"{name}.log")
        args = shlex.split(self.a.medusad_args.format(access_log=access))
        env = dict(os.environ, RUST_LOG="info")
        cmd = [self.medusad, "--port", str(port)] + args + extra
        server = Server(name, cmd, port, log, env)
        if server.start():
            server.access = access
            self.access_mode = f"`--access-log FILE` (medusad {shlex.join(args)})"
            return server
        stop(server.proc)
        with open(log, errors="replace") as f:
            complaint = f.read()
        if "--access-log" in args and "access-log" in complaint:
            rest, skip = [], False
            for tok in args:
                if skip:
                    skip = False
                elif tok == "--access-log":
                    skip = True
                elif not tok.startswith("--access-log="):
                    rest.append(tok)
            cmd = [self.medusad, "--port", str(port)] + rest + extra
            server = Server(name, cmd, port, access, env)
            if server.start():
                server.access = access
                self.access_mode = ("fallback: this medusad has no `--access-log`; RUST_LOG=info "
                                    "with stderr (env_logger, the access log included) to a file")
                return server
        raise SystemExit(f"{name} did not start: {shlex.join(cmd)}\n{complaint[-2000:]}")

    def nginx_server(self, name, template, root=None, subs=None):
        """nginx on a free port with template's @DIR@, @PORT@, @ROOT@ (root)
        and the other placeholders in subs ({"@CERT@": path, ...}) filled in."""
        port = free_port()
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        with open(template) as f:
            conf = f.read().replace("@DIR@", d).replace("@PORT@", str(port))
        if root:
            conf = conf.replace("@ROOT@", root)
        for key, value in (subs or {}).items():
            conf = conf.replace(key, value)
        with open(os.path.join(d, "nginx.conf"), "w") as f:
            f.write(conf)
        cmd = ["nginx", "-p", d, "-c", os.path.join(d, "nginx.conf"), "-e", os.path.join(d, "error.log")]
        server = Server(name, cmd, port, os.path.join(d, "stdout.log"))
        if not server.start():
            raise SystemExit(f"nginx did not start: {shlex.join(cmd)} (see {d}/error.log)")
        return server

    def start_rpc_servers(self):
        servers = {"medusad": self.medusad_server("medusad", [])}
        port = free_port()
        servers["floor"] = Server("floor", [self.floor, str(port), "xmlrs"], port,
                                  os.path.join(self.tmp, "floor.log"))
        servers["nginx"] = None
        port = free_port()
        servers["python"] = Server("python", [sys.executable, os.path.join(HERE, "simplexmlrpc_server.py"),
                                              str(port)], port, os.path.join(self.tmp, "python.log"))
        for name in ("floor", "python"):
            if not servers[name].start():
                raise SystemExit(f"{name} did not start: {servers[name].command()}")
        servers["nginx"] = self.nginx_server("nginx", os.path.join(self.kit, "nginx.conf.template"))
        for name in ("medusad", "floor", "python"):
            check_add(servers[name].port)
        # nginx answers a fixed 42 without reading the call
        status, body = Conn(servers["nginx"].port).call(self.add_body)
        if status != 200 or b"<int>42</int>" not in body:
            raise SystemExit(f"nginx baseline answered {status} {body[:200]!r}")
        for s in servers.values():
            self.commands.append(f"{s.name}: {s.command()}")
        return servers

    def secs_for(self, name):
        return self.a.python_secs if name == "python" else self.a.secs

    # ---------------- sections

    def rpc_rounds(self, servers, close):
        res = {name: [] for name in servers}
        for r in range(self.a.rounds):
            for name, server in servers.items():
                self.say(f"{'close' if close else 'ka'} round {r + 1}/{self.a.rounds}: {name}")
                res[name].append(wrk(server, "/RPC2", self.secs_for(name), self.a.conns, self.lua, close,
                                     self.wrk_log))
                time.sleep(self.a.pause)
        return res

    def report_rpc(self, title, res, close):
        floor = median(res["floor"], "us")
        nginx = median(res["nginx"], "us")
        rows = []
        for name, runs in res.items():
            us = median(runs, "us")
            errs = [sum(r["errors"][i] for r in runs) for i in range(4)]
            row = [name, f1(us), f2(us / floor), f2(us / nginx), f"{median(runs, 'rps'):.0f}",
                   f2(median(runs, "p50")), f2(median(runs, "p99")),
                   ", ".join(f1(r["us"]) for r in runs), sum(r["non2xx"] for r in runs)]
            if close:
                row.append("/".join(map(str, errs)))
            else:
                row.append(sum(errs))
            rows.append(row)
        header = ["server", "µs/req (median)", "vs floor", "vs nginx", "req/s", "p50 ms", "p99 ms",
                  "µs/req per round", "non-2xx", "socket errors c/r/w/t" if close else "socket errors"]
        secs = f"{self.a.secs} s" + (f" (python {self.a.python_secs} s)" if self.a.python_secs != self.a.secs else "")
        text = [f"## {title}", "",
                f"wrk -t1 -c{self.a.conns}, {secs} per run, {self.a.rounds} interleaved round(s); "
                f"`{re.sub(r'127[.]0[.]0[.]1:[0-9]+', '127.0.0.1:PORT', res['medusad'][0]['cmd'])}`.", "",
                table(header, rows)]
        if "medusad" in res and hasattr(self, "ka_medusad") and not close:
            text += ["", self.access_note()]
        self.out.append("\n".join(text))

    def access_note(self):
        server = self.ka_medusad
        try:
            with open(server.access, "rb") as f:
                lines = sum(1 for _ in f)
        except OSError:
            lines = 0
        total = sum(r["requests"] for r in self.ka_results["medusad"])
        return (f"medusad access log: {self.access_mode}; after these runs it held {lines} lines "
                f"(wrk counted {total} requests; it does not count those in flight when a run ends).")

    def latency(self, servers, ka):
        rows = []
        if ka:
            for name, runs in ka.items():
                rows.append([name, f2(median(runs, "p50")), f2(median(runs, "p99")),
                             ", ".join(f2(r["p99"]) for r in runs)])
        text = ["## 3. Latency and starvation at 50 keep-alive connections", ""]
        if rows:
            text += ["From the keep-alive runs above (wrk --latency):", "",
                     table(["server", "p50 ms (median)", "p99 ms (median)", "p99 per round"], rows), ""]
        srows = []
        for name, server in servers.items():
            secs = self.a.starve_secs if name != "python" else min(self.a.starve_secs, self.a.python_secs)
            self.say(f"starvation check: {name}")
            counts, failures, reconnects = starvation(server.port, self.a.conns, secs, self.add_body)
            srows.append([name, f"{secs} s", sum(counts), min(counts), max(counts),
                          f"{statistics.median(counts):.0f}", sum(1 for c in counts if c == 0),
                          failures, reconnects])
            time.sleep(self.a.pause)
        text += [f"Starvation check: {self.a.conns} keep-alive connections from one Python selector loop, "
                 "each calling `add` in a loop (one call in flight per connection); calls completed per "
                 "connection. The client is the bottleneck here, not the server: compare min with max, not "
                 "totals.", "",
                 table(["server", "time", "calls", "min/conn", "max/conn", "median/conn", "starved conns",
                        "non-200", "reconnects"], srows)]
        self.out.append("\n".join(text))

    def static(self):
        root = os.path.join(self.tmp, "www")
        os.makedirs(root, exist_ok=True)
        files = {"1 KiB": ("file-1k.bin", 1024), "1 MiB": ("file-1m.bin", 1 << 20)}
        for name, size in files.values():
            with open(os.path.join(root, name), "wb") as f:
                f.write(os.urandom(size))
        med = self.medusad_server("medusad-static", ["--root", root])
        ngx = self.nginx_server("nginx-static", os.path.join(HERE, "nginx_static.conf.template"), root)
        servers = {"medusad": med, "nginx": ngx}
        for s in servers.values():
            self.commands.append(f"{s.name}: {s.command()}")
            for name, size in files.values():
                c = Conn(s.port)
                c.sock.sendall(f"GET /{name} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                status, body = c.read_response()
                c.close()
                if status != 200 or len(body) != size:
                    raise SystemExit(f"{s.name} GET /{name}: {status}, {len(body)} bytes")
        res = {(label, n): [] for label in files for n in servers}
        for r in range(self.a.rounds):
            for label, (name, _) in files.items():
                for sname, s in servers.items():
                    self.say(f"static round {r + 1}/{self.a.rounds}: {sname} {label}")
                    res[(label, sname)].append(wrk(s, f"/{name}", self.a.secs, self.a.conns, log=self.wrk_log))
                    time.sleep(self.a.pause)
        rows = []
        for label in files:
            nginx = median(res[(label, "nginx")], "us")
            for sname in servers:
                runs = res[(label, sname)]
                us = median(runs, "us")
                rows.append([label, sname, f1(us), f2(us / nginx), f"{median(runs, 'rps'):.0f}",
                             f2(median(runs, "p99")), ", ".join(f1(r["us"]) for r in runs),
                             sum(r["non2xx"] for r in runs), sum(sum(r["errors"]) for r in runs)])
        med.stop()
        ngx.stop()
        self.out.append("\n".join([
            "## 4. Static files", "",
            f"wrk -t1 -c{self.a.conns} GET, {self.a.secs} s per run, {self.a.rounds} interleaved round(s); "
            "nginx with `sendfile on` (benches/load/nginx_static.conf.template) serving the same directory.", "",
            table(["file", "server", "µs/req (median)", "vs nginx", "req/s", "p99 ms", "µs/req per round",
                   "non-2xx", "socket errors"], rows)]))

    def idle(self):
        n = self.a.idle_conns
        raise_nofile(n + 1024)
        # The default idle timeout (30 s) stays on: the whole test takes a few seconds.
        server = self.medusad_server("medusad-idle", ["--max-connections", str(n + 100)])
        self.commands.append(f"{server.name}: {server.command()}")
        pid = server.proc.pid
        body = self.add_body

        def fresh_calls(k):
            times = []
            for _ in range(k):
                t = time.perf_counter()
                c = Conn(server.port)
                status, reply = c.call(body)
                times.append((time.perf_counter() - t) * 1e3)
                c.close()
                if status != 200 or b"<int>42</int>" not in reply:
                    raise SystemExit(f"fresh add call failed: {status} {reply[:200]!r}")
            return times

        fresh_calls(20)  # warm
        time.sleep(0.5)
        before = proc_status(pid)
        quiet = fresh_calls(self.a.fresh_calls)
        conns = []
        self.say(f"idle: opening {n} keep-alive connections")
        t0 = time.time()
        try:
            for _ in range(n):
                c = Conn(server.port)
                status, _ = c.call(body)
                if status != 200:
                    raise SystemExit(f"idle connection {len(conns)}: status {status}")
                conns.append(c)
        except OSError as e:
            raise SystemExit(f"idle: could not open connection {len(conns) + 1} of {n}: {e}")
        opened = time.time() - t0
        time.sleep(1.0)
        held = proc_status(pid)
        busy = fresh_calls(self.a.fresh_calls)
        reuse = []
        for c in conns[:: max(1, n // self.a.fresh_calls)][: self.a.fresh_calls]:
            t = time.perf_counter()
            try:
                c.call(body)
            except OSError as e:
                raise SystemExit(f"idle: medusad closed an idle connection ({e}): the test outlasted "
                                 "its idle timeout? (held for {:.0f} s)".format(time.time() - t0))
            reuse.append((time.perf_counter() - t) * 1e3)
        for c in conns:
            c.close()
        conns.clear()
        time.sleep(2.0)
        after = proc_status(pid)
        fresh_calls(5)
        server.stop()

        def per_conn(key):
            return (held[key] - before[key]) * 1024 / n

        def returned(key):
            grew = held[key] - before[key]
            return f"{round(100 * (held[key] - after[key]) / grew)} %" if grew > 0 else "–"

        rows = [[key, before[key], held[key], after[key], f"{per_conn(key):.0f}", returned(key)]
                for key in ("VmRSS", "RssAnon", "VmData") if key in before]
        ms = [["fresh connection, no idle connections open", f2(statistics.median(quiet)), f2(max(quiet))],
              [f"fresh connection, {n:,} idle connections open", f2(statistics.median(busy)), f2(max(busy))],
              ["on one of the idle connections", f2(statistics.median(reuse)), f2(max(reuse))]]
        self.out.append("\n".join([
            f"## 5. {n:,} idle keep-alive connections", "",
            f"Each connection made one `add` call and then stayed open (medusad with `--max-connections {n + 100}`, "
            f"its default 30 s idle timeout on); opened in {opened:.2f} s. Memory from /proc/PID/status (KiB) before, "
            "while they are open, and 2 s after they closed; per connection = (held − before) ÷ connections.", "",
            table(["field", "before KiB", f"{n:,} open KiB", "after close KiB", "bytes per connection",
                   "returned after close"], rows), "",
            f"Time of an `add` call ({self.a.fresh_calls} calls each, ms):", "",
            table(["call", "median ms", "max ms"], ms)]))

    def echo(self):
        """Per payload, a fresh medusad: after a small warm-up call, the RSS
        peak of the first big call (VmHWM reset through clear_refs), then
        batches of calls with the server's CPU around each batch."""
        cases = []
        for size in self.a.echo_sizes:
            text = echo_text(size)
            label = f"string {size / 1e6:g} MB" if size >= 1_000_000 else f"string {size / 1e3:g} KB"
            cases.append((label, size, rpc_body("echo", [f"<string>{text}</string>"]), text))
        arr = list(range(10_000))
        cases.append(("array of 10,000 ints", None,
                      rpc_body("echo", ["<array><data>" + "".join(f"<value><int>{i}</int></value>" for i in arr)
                                        + "</data></array>"]), arr))
        # Room for the largest call, with the decode limit following it.
        limit = max(64 << 20, 2 * max(len(body) for _, _, body, _ in cases))
        warm = rpc_body("echo", [f"<string>{echo_text(1000)}</string>"])
        rows = []
        base = None
        command = None
        for label, size, body, expect in cases:
            server = self.medusad_server("medusad-echo", ["--max-body-bytes", str(limit)])
            command = command or server.command()
            pid = server.proc.pid
            conn = Conn(server.port, timeout=600)
            status, _ = conn.call(warm)
            if status != 200:
                raise SystemExit(f"echo warm-up: status {status}")
            rss = proc_status(pid)["VmRSS"]
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")  # VmHWM := VmRSS
            status, reply = conn.call(body)  # also the check
            peak = proc_status(pid)["VmHWM"]
            if status != 200:
                raise SystemExit(f"echo {label}: status {status} {reply[:300]!r}")
            (got,), _ = xmlrpc.client.loads(reply)
            if got != expect:
                raise SystemExit(f"echo {label}: wrong answer")
            del got
            # Enough calls per batch that the CPU (in clock ticks) is
            # measured to a few per cent.
            per_batch = max(1, min(self.a.echo_max_calls, -(-self.a.echo_batch_bytes // len(body))))
            times, cpu = [], []
            for _ in range(self.a.echo_reps):
                c0 = server.cpu()
                for _ in range(per_batch):
                    t = time.perf_counter()
                    status, reply = conn.call(body)
                    times.append(time.perf_counter() - t)
                    if status != 200:
                        raise SystemExit(f"echo {label}: status {status}")
                cpu.append((server.cpu() - c0) / per_batch)
            conn.close()
            server.stop()
            ms = statistics.median(times) * 1e3
            mbs = len(body) / 1e6 / (ms / 1e3)
            cpu_per_kb = statistics.median(cpu) * 1e6 / (len(body) / 1e3)
            if size == 10_000:
                base = cpu_per_kb
            growth = (peak - rss) * 1024
            rows.append((size is not None, cpu_per_kb,
                         [label, len(body), len(reply), f"{self.a.echo_reps}×{per_batch}", f"{ms:.3f}",
                          f"{mbs:.1f}", f"{cpu_per_kb:.3f}",
                          ", ".join(f"{c * 1e6 / (len(body) / 1e3):.3f}" for c in cpu)],
                         [f"{rss:,}", f"{growth / 1024:,.0f}", f2(growth / len(body))]))
        # Against 10 KB: from there up, the per-request cost is small.
        rows = [head + [f2(per_kb / base) if base and string else "–"] + tail
                for string, per_kb, head, tail in rows]
        self.commands.append(f"medusad-echo (a fresh one per payload): {command}")
        self.out.append("\n".join([
            "## 6. echo round trips", "",
            "One keep-alive connection (Python client, raw socket) to a fresh medusad per payload "
            f"(`--max-body-bytes {limit}`; the decode limit follows it). Memory: after a 1 KB warm-up "
            "call, VmRSS, then `echo 5 > /proc/PID/clear_refs` (VmHWM := VmRSS), one checked call, and "
            "VmHWM: peak growth = VmHWM − VmRSS before, ÷ request bytes. Time: "
            f"{self.a.echo_reps} batches of calls, server CPU (utime+stime) around each batch ÷ its calls; "
            "CPU µs per KB of request = the median batch's; ms = median round trip, MB/s = request bytes ÷ "
            "round trip. Linear cost shows as a constant CPU µs per KB.", "",
            table(["payload", "request bytes", "response bytes", "batches×calls", "ms (median)", "MB/s",
                   "CPU µs per KB", "per batch", "CPU/KB vs 10 KB", "VmRSS before KiB", "peak growth KiB",
                   "peak ÷ request"], rows)]))

    # ---------------- all of it

    def run(self):
        self.build()
        wanted = set(self.a.sections)
        ka = None
        if wanted & {"ka", "close", "latency"}:
            servers = self.start_rpc_servers()
            self.ka_medusad = servers["medusad"]
            if "ka" in wanted:
                ka = self.rpc_rounds(servers, close=False)
                self.ka_results = ka
                self.report_rpc("1. Keep-alive `add(40, 2)`, 50 connections", ka, close=False)
            if "close" in wanted:
                close = self.rpc_rounds(servers, close=True)
                self.report_rpc("2. Connection per request (`Connection: close`)", close, close=True)
            if "latency" in wanted:
                self.latency(servers, ka)
            for s in servers.values():
                s.stop()
        if "static" in wanted:
            self.static()
        if "idle" in wanted:
            self.idle()
        if "echo" in wanted:
            self.echo()
        return self.report()

    def report(self):
        parts = ["# medusa load test results", "",
                 table(["", ""], machine()), "",
                 "Command: `" + shlex.join(["python3", os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:]) + "`", ""]
        parts += ["\n\n".join(self.out), "", "## Commands", "", "Builds and servers:", "", "```"]
        parts += self.commands
        parts += ["```", ""]
        if self.a.keep:
            parts.append(f"Every wrk command and its full output: {self.wrk_log}.")
        else:
            parts.append("(`--keep` keeps the scratch folder: every wrk command with its full output, "
                         "and the servers' logs.)")
        return "\n".join(parts) + "\n"


def require_tools(parser, tools):
    """Stops with a usage error naming the programs of `tools` not on PATH."""
    missing = [t for t in tools if not shutil.which(t)]
    if missing:
        parser.error(f"missing: {', '.join(missing)} (see benches/load/README.md)")


def write_report(text, out):
    """Prints the report, and writes it to `out` if given (--out)."""
    print(text)
    if out:
        with open(out, "w") as f:
            f.write(text)


def report_run(runner, out, keep=False):
    """Runs `runner.run()` (the report's text) with every server it started
    stopped at the end, on an error or a signal too, and its scratch folder
    `runner.tmp` removed (unless keep); prints the report and writes it to
    out. The main() of every script here."""
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    try:
        report = runner.run()
    except KeyboardInterrupt:
        raise SystemExit("interrupted") from None
    finally:
        # A second Ctrl-C (or timeout(1) signalling the whole process group)
        # must not cut the clean-up short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        stop_all()
        if keep:
            print(f"scratch folder kept: {runner.tmp}", file=sys.stderr)
        else:
            shutil.rmtree(runner.tmp, ignore_errors=True)
    write_report(report, out)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kit", default=os.path.join(REPO, "..", "shared", "bench"),
                   help="the load-test kit (compare.py, floor/, post_add.lua...); default ../shared/bench "
                        "beside the repository")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds per measurement (median reported)")
    p.add_argument("--secs", type=int, default=5, help="seconds per wrk run")
    p.add_argument("--python-secs", type=int, default=None,
                   help="seconds per wrk run against SimpleXMLRPCServer (default: min(secs, 3))")
    p.add_argument("--starve-secs", type=int, default=None, help="seconds of the starvation check (default: secs)")
    p.add_argument("--conns", type=int, default=50, help="wrk connections")
    p.add_argument("--pause", type=float, default=1.0, help="seconds between runs")
    p.add_argument("--medusad-args", default="--access-log {access_log}",
                   help="medusad's options besides --port, with {access_log} for the access log file "
                        "(default: %(default)s; falls back to RUST_LOG=info with stderr to that file if "
                        "medusad has no --access-log)")
    p.add_argument("--medusad", default=os.path.join(REPO, "target", "release", "medusad"),
                   help="the medusad binary to measure (default: the one the build step makes)")
    p.add_argument("--idle-conns", type=int, default=10_000, help="idle keep-alive connections")
    p.add_argument("--fresh-calls", type=int, default=20, help="calls timed in the idle test")
    p.add_argument("--echo-sizes", default="1000,10000,100000,1000000,10000000,100000000",
                   help="echo string sizes in bytes, comma-separated")
    p.add_argument("--echo-reps", type=int, default=5, help="timed batches of calls per echo size")
    p.add_argument("--echo-batch-bytes", type=int, default=128_000_000,
                   help="request bytes per echo batch (calls = this ÷ the request, at least 1)")
    p.add_argument("--echo-max-calls", type=int, default=20_000, help="most calls in one echo batch")
    p.add_argument("--sections", default=",".join(SECTIONS),
                   help=f"which measurements, comma-separated, of {','.join(SECTIONS)}")
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (logs, wrk output)")
    p.add_argument("--out", help="also write the report to this file")
    a = p.parse_args()
    a.python_secs = a.python_secs or min(a.secs, 3)
    a.starve_secs = a.starve_secs or a.secs
    a.sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    bad = [s for s in a.sections if s not in SECTIONS]
    if bad:
        p.error(f"unknown section(s) {bad}; choose from {SECTIONS}")
    a.echo_sizes = [int(x) for x in a.echo_sizes.split(",") if x]
    require_tools(p, ("wrk", "nginx", "cargo"))
    if not os.path.exists(os.path.join(a.kit, "post_add.lua")):
        p.error(f"no kit at {os.path.abspath(a.kit)} (--kit)")

    report_run(Run(a), a.out, keep=a.keep)

if __name__ == "__main__":
    main()
