#!/usr/bin/env python3
"""Instruction profile of medusad: `valgrind --tool=callgrind` on the release
build while Python's http.client makes N keep-alive add(40, 2) calls, then
instructions per call and the top functions. Counts, not seconds: repeatable
whatever else the machine is doing.

    python3 benches/load/profile.py [--calls 3000] [--echo BYTES] [--out callgrind.out] [-- MEDUSAD ARGS]

With --echo BYTES the calls are echo('x' * BYTES) (medusad then gets
--max-body-bytes 67108864 as well), for instructions per byte of a large
call.

Default medusad arguments: --access-log <scratch file> (every feature on).
Needs valgrind (callgrind_annotate comes with it)."""
import argparse, http.client, os, signal, socket, subprocess, sys, tempfile, time, xmlrpc.client

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BODY = (b'<?xml version="1.0"?>\n<methodCall><methodName>add</methodName><params>'
        b'<param><value><int>40</int></value></param>'
        b'<param><value><int>2</int></value></param></params></methodCall>\n')


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000)
    ap.add_argument("--echo", type=int, default=None, help="call echo with a string this long instead of add")
    ap.add_argument("--out", default=None, help="callgrind output file (default: a scratch file)")
    ap.add_argument("medusad_args", nargs="*")
    args = ap.parse_args()
    scratch = tempfile.mkdtemp(prefix="medusa-profile-")
    out = args.out or os.path.join(scratch, "callgrind.out")
    extra = args.medusad_args or ["--access-log", os.path.join(scratch, "access.log")]
    body, expected = BODY, b"<int>42</int>"
    if args.echo is not None:
        extra = extra + ["--max-body-bytes", "67108864"]
        text = "x" * args.echo
        body = xmlrpc.client.dumps((text,), "echo").encode()
        expected = text.encode()
    subprocess.run(["cargo", "build", "--release", "--bin", "medusad"], cwd=ROOT, check=True)
    port = free_port()
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
         os.path.join(ROOT, "target/release/medusad"), "--port", str(port), *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port)
                conn.connect()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("medusad did not start under valgrind")
                time.sleep(0.2)
        for _ in range(args.calls):
            conn.request("POST", "/RPC2", body, {"Content-Type": "text/xml"})
            answer = conn.getresponse().read()
            assert expected in answer, answer[:200]
        conn.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait()
    report = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    total = next(int(l.split()[0].replace(",", "")) for l in report.splitlines() if "PROGRAM TOTALS" in l)
    what = f"echo({args.echo:,} bytes)" if args.echo is not None else "add"
    print(f"{args.calls} keep-alive {what} calls: {total:,} instructions in all, "
          f"{total / args.calls:,.0f} per call (start-up included)")
    if args.echo:
        print(f"{total / args.calls / args.echo:.1f} instructions per byte of the string")
    print(f"profile: {out} (callgrind_annotate --inclusive=yes {out})")
    print("\n".join(report.splitlines()[:45]))


if __name__ == "__main__":
    main()
