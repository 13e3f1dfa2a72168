#!/usr/bin/env python3
"""Python's SimpleXMLRPCServer with `add` and `echo`: the reference point of
the load tests (benches/load/run.py).

    python3 simplexmlrpc_server.py PORT [--single-thread]

Stock SimpleXMLRPCServer speaks HTTP/1.0 (one request per connection) from
one thread. For a keep-alive comparison it needs two changes, both kept
small and explicit here:

- the handler speaks HTTP/1.1 (protocol_version), so connections stay open
  (it always sends Content-Length);
- the server is a ThreadingMixIn, a thread per connection: a single-threaded
  socketserver serves one keep-alive connection until it closes, and the 49
  others would wait (--single-thread keeps the stock model).

TCP_NODELAY is set on each connection (disable_nagle_algorithm): the handler
writes the headers and the body separately, and with Nagle's algorithm and
delayed ACKs each keep-alive response would wait ~40 ms. logRequests=False:
no per-request log line.
"""
import socketserver
import sys
from xmlrpc.server import SimpleXMLRPCRequestHandler, SimpleXMLRPCServer


class Handler(SimpleXMLRPCRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    rpc_paths = ("/RPC2", "/")


class ThreadingServer(socketserver.ThreadingMixIn, SimpleXMLRPCServer):
    daemon_threads = True
    request_queue_size = 1024


class SingleServer(SimpleXMLRPCServer):
    request_queue_size = 1024


def main():
    port = int(sys.argv[1])
    cls = SingleServer if "--single-thread" in sys.argv[2:] else ThreadingServer
    server = cls(("127.0.0.1", port), requestHandler=Handler, logRequests=False,
                 allow_none=True, bind_and_activate=True)
    server.register_function(lambda a, b: a + b, "add")
    server.register_function(lambda v: v, "echo")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
