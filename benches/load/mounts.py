#!/usr/bin/env python3
"""What medusad's hosting features cost: remote servers mounted behind a
prefix, and methods backed by programs; with run.py's servers, wrk runs
and CPU accounting (imported, not copied).

    python3 benches/load/mounts.py --rounds 3 --secs 5 --out mounts.md

Sections (--sections, all by default); every round runs each measurement
of each section once, the order reversed every other round:

  remote   add(40, 2), 50 keep-alive connections (wrk -t1 -c50):
           - a medusad called directly, and through a front medusad that
             mounts it as `back.` (the front's [[endpoint.remote]]: its
             own pool of kept-alive connections to the back);
           - Python's stock SimpleXMLRPCServer (one thread, HTTP/1.0, a
             connection per call) called directly, and through a front
             medusad that mounts it as `py.` (wrk keeps its 50 connections
             to the front; the front opens one to Python per call).
           CPU µs per call of each process, and of the front and the back
           together; calls/s.
  program  a method backed by a program that prints `0` (/bin/echo 0):
           wrk -c8 (the method's max-concurrent, so no call is refused),
           calls/s and CPU µs per call, the children's CPU included (each
           run's process is reaped by medusad, so its CPU is in medusad's
           cutime/cstime); against a bare run of the same program with
           its three pipes, in C (8 at a time, as many as medusad runs),
           with fork + exec and with posix_spawn, the same accounting.

CPU per call = utime+stime (+cutime+cstime for programs) from
/proc/PID/stat over the run / calls wrk completed. On 2 cores wrk takes
one, so calls/s mostly measures the machine; compare CPU per call, and
only within one run.
"""
import argparse
import functools
import os
import shlex
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import REPO, Server, cpu_seconds, f1, family, free_port, median, stop_all, table, wrk, write_report  # noqa: E402

SECTIONS = ("remote", "program")
# The bare runs of the program, in C, 8 at a time: with fork() + execv(),
# and with posix_spawn() (what Rust's Command uses where it can: a
# vfork-like clone that does not copy the parent's page tables).
BARE = {
    "bare fork + exec + wait, C, 8 at a time": "fork",
    "bare posix_spawn + wait, C, 8 at a time": "spawn",
}

WRK_LUA = """wrk.method = "POST"
wrk.path   = "/RPC2"
wrk.headers["Content-Type"] = "text/xml"
wrk.body   = '<?xml version="1.0"?>\\n' ..
  "<methodCall><methodName>METHOD</methodName><params>PARAMS</params></methodCall>\\n"
"""

ADD_PARAMS = "<param><value><int>40</int></value></param><param><value><int>2</int></value></param>"

# Stock SimpleXMLRPCServer: one thread, HTTP/1.0 (a connection per call).
PY_STOCK = """
import sys
from xmlrpc.server import SimpleXMLRPCServer
class Server(SimpleXMLRPCServer):
    request_queue_size = 1024
server = Server(("127.0.0.1", int(sys.argv[1])), logRequests=False)
server.register_introspection_functions()
server.register_function(lambda a, b: a + b, "add")
server.serve_forever()
"""

# fork/exec/wait of ARGV with stdin, stdout and stderr piped, CONCURRENT at
# a time, N in all: what each program-backed call must do at least.
FORK_EXEC_C = r"""
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
static int use_spawn;
static void run(char **argv) {
    int in[2], out[2], err[2];
    if (pipe(in) || pipe(out) || pipe(err)) { perror("pipe"); exit(1); }
    pid_t pid;
    if (use_spawn) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        int fds[6] = {in[0], in[1], out[0], out[1], err[0], err[1]};
        for (int i = 0; i < 6; i++) posix_spawn_file_actions_addclose(&fa, fds[i]);
        if (posix_spawn(&pid, argv[0], &fa, NULL, argv, environ)) { perror("spawn"); exit(1); }
        posix_spawn_file_actions_destroy(&fa);
    } else {
        pid = fork();
        if (pid < 0) { perror("fork"); exit(1); }
        if (pid == 0) {
            dup2(in[0], 0); dup2(out[1], 1); dup2(err[1], 2);
            close(in[0]); close(in[1]); close(out[0]); close(out[1]); close(err[0]); close(err[1]);
            execv(argv[0], argv);
            _exit(127);
        }
    }
    close(in[0]); close(out[1]); close(err[1]);
    /* The program may exit without reading its stdin: EPIPE is fine. */
    if (write(in[1], "[]\n", 3) != 3) {}
    close(in[1]);
    char buf[4096];
    while (read(out[0], buf, sizeof buf) > 0) {}
    while (read(err[0], buf, sizeof buf) > 0) {}
    close(out[0]); close(err[0]);
    int status;
    waitpid(pid, &status, 0);
}
/* N CONCURRENT fork|spawn PROGRAM ARGS... */
int main(int argc, char **argv) {
    int n = atoi(argv[1]), concurrent = atoi(argv[2]);
    /* As medusad does: a program that exits before reading its stdin must
       not kill the runner with SIGPIPE (which would end the loop early
       and make the runs look free). */
    signal(SIGPIPE, SIG_IGN);
    use_spawn = strcmp(argv[3], "spawn") == 0;
    for (int c = 0; c < concurrent; c++) {
        if (fork() == 0) {
            for (int i = 0; i < n / concurrent; i++) run(argv + 4);
            _exit(0);
        }
    }
    int status, failed = 0;
    while (wait(&status) > 0)
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failed = 1;
    return failed;
}
"""


class ProgramServer(Server):
    """A medusad whose CPU includes its reaped children's."""

    def cpu(self):
        return cpu_seconds(family(self.proc.pid), children=True)


def lua(scratch, name, method, params):
    path = os.path.join(scratch, f"{name}.lua")
    with open(path, "w") as f:
        f.write(WRK_LUA.replace("METHOD", method).replace("PARAMS", params))
    return path


def medusad(scratch, name, config=None, cls=Server):
    port = free_port()
    cmd = [os.path.join(REPO, "target/release/medusad"), "--port", str(port),
           "--access-log", os.path.join(scratch, f"{name}.access.log")]
    if config:
        path = os.path.join(scratch, f"{name}.toml")
        with open(path, "w") as f:
            f.write(config)
        cmd += ["--config", path]
    env = dict(os.environ, RUST_LOG="info")
    return cls(name, cmd, port, os.path.join(scratch, f"{name}.log"), env=env)


def check(port, method, params, expected):
    proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/RPC2")
    got = functools.reduce(getattr, method.split("."), proxy)(*params)
    if got != expected:
        raise SystemExit(f"{method} on {port}: {got!r}, expected {expected!r}")


def measure_pair(front, back, script, secs, conns, log):
    """wrk against front; the CPU of front and back over that run."""
    b0 = back.cpu() if back else 0.0
    row = wrk(front, "/RPC2", secs, conns, script=script, log=log)
    b1 = back.cpu() if back else 0.0
    row["back_us"] = 1e6 * (b1 - b0) / row["requests"] if row["requests"] else float("inf")
    row["total_us"] = row["us"] + (row["back_us"] if back else 0.0)
    return row


def fork_exec(binary, n, concurrent, how, program):
    """CPU µs per run and runs/s of the C loop (how: fork or spawn)."""
    start = time.time()
    r0 = os.times()
    # check: a runner killed by a signal would make the runs look free.
    subprocess.run([binary, str(n), str(concurrent), how] + program, check=True)
    r1 = os.times()
    wall = time.time() - start
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    return {"us": 1e6 * cpu / n, "rps": n / wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--secs", type=int, default=5)
    ap.add_argument("--sections", default=",".join(SECTIONS))
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = ap.parse_args()
    sections = args.sections.split(",")
    if not args.no_build:
        subprocess.run(["cargo", "build", "--release", "--bin", "medusad"], cwd=REPO, check=True)
    scratch = tempfile.mkdtemp(prefix="medusa-mounts-")
    log = os.path.join(scratch, "wrk.log")
    servers, report = [], []
    try:
        add = lua(scratch, "add", "add", ADD_PARAMS)
        rows = {}
        if "remote" in sections:
            back = medusad(scratch, "back")
            py_port = free_port()
            py = Server("python", [sys.executable, "-c", PY_STOCK, str(py_port)], py_port,
                        os.path.join(scratch, "python.log"))
            for s in (back, py):
                servers.append(s)
                if not s.start():
                    raise SystemExit(f"{s.name} did not start: see {s.log}")
            front = medusad(scratch, "front", f"""
[[endpoint]]
path = "/RPC2"
[[endpoint.remote]]
prefix = "back."
url = "http://127.0.0.1:{back.port}/RPC2"
max-concurrent = 50
max-waiting = 1000
[[endpoint.remote]]
prefix = "py."
url = "http://127.0.0.1:{py.port}/RPC2"
max-concurrent = 50
max-waiting = 1000
""")
            servers.append(front)
            if not front.start():
                raise SystemExit(f"front did not start: see {front.log}")
            check(back.port, "add", (40, 2), 42)
            check(py.port, "add", (40, 2), 42)
            check(front.port, "back.add", (40, 2), 42)
            check(front.port, "py.add", (40, 2), 42)
            rows["remote"] = {
                "medusad, direct": (back, None, add),
                "medusad behind medusad (`back.add`)": (front, back, lua(scratch, "back", "back.add", ADD_PARAMS)),
                "Python stock, direct": (py, None, add),
                "Python stock behind medusad (`py.add`)": (front, py, lua(scratch, "py", "py.add", ADD_PARAMS)),
            }
        if "program" in sections:
            prog = medusad(scratch, "programs", """
[[endpoint]]
path = "/RPC2"
[[endpoint.method]]
name = "zero"
command = ["/bin/echo", "0"]
max-concurrent = 8
""", cls=ProgramServer)
            servers.append(prog)
            if not prog.start():
                raise SystemExit(f"programs did not start: see {prog.log}")
            check(prog.port, "zero", (), 0)
            c_src = os.path.join(scratch, "fork_exec.c")
            c_bin = os.path.join(scratch, "fork_exec")
            with open(c_src, "w") as f:
                f.write(FORK_EXEC_C)
            subprocess.run(["cc", "-O2", "-o", c_bin, c_src], check=True)
            rows["program"] = {"medusad `zero` (/bin/echo 0)": (prog, None, lua(scratch, "zero", "zero", ""))}
        results = {}
        for r in range(args.rounds):
            plan = [(sec, name, spec) for sec, named in rows.items() for name, spec in named.items()]
            if "program" in rows:
                plan += [("program", name, None) for name in BARE]
            if r % 2:
                plan.reverse()
            for sec, name, spec in plan:
                if spec is None:
                    row = fork_exec(c_bin, 2000, 8, BARE[name], ["/bin/echo", "0"])
                else:
                    front, back, script = spec
                    conns = 8 if sec == "program" else 50
                    row = measure_pair(front, back, script, args.secs, conns, log)
                    if row["non2xx"] or any(row["errors"]):
                        print(f"warning: {name}: non-2xx {row['non2xx']}, errors {row['errors']}", file=sys.stderr)
                results.setdefault((sec, name), []).append(row)
                time.sleep(0.5)
        if "remote" in rows:
            out = []
            for name in rows["remote"]:
                rs = results[("remote", name)]
                behind = rows["remote"][name][1] is not None
                out.append([name, f"{median(rs, 'rps'):.0f}", f1(median(rs, "us")),
                            f1(median(rs, "back_us")) if behind else "–", f1(median(rs, "total_us")),
                            f"{median(rs, 'p99'):.2f}"])
            report.append("### Remote servers behind a prefix, add(40, 2), 50 keep-alive connections\n")
            report.append(table(["path", "calls/s", "CPU µs/call (wrk's server)", "CPU µs/call (the remote)",
                                 "CPU µs/call, both", "p99 ms"], out))
        if "program" in rows:
            out = []
            for name in list(rows["program"]) + list(BARE):
                rs = results[("program", name)]
                out.append([name, f"{median(rs, 'rps'):.0f}", f1(median(rs, "us"))])
            report.append("\n### Program-backed methods, 8 connections\n")
            report.append(table(["what", "calls/s", "CPU µs/call, children included"], out))
        text = "\n".join(report) + f"\n\nCommand: `python3 benches/load/mounts.py {shlex.join(sys.argv[1:])}`\n"
        write_report(text, args.out)
    finally:
        stop_all()
        if not args.keep:
            subprocess.run(["rm", "-rf", scratch])
        else:
            print(f"scratch: {scratch}", file=sys.stderr)


if __name__ == "__main__":
    main()
