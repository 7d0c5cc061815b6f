#!/usr/bin/env python3
"""Benchmark helper: opens N loopback TCP connections (2N sockets) to its own listener,
prints "ready", and holds them until its stdin closes. Run one per process: the hard
limit here is 20000 open files per process (see shared/ENVIRONMENT.md).

usage: hold_connections.py N PORT [ADDR]
"""
import resource
import socket
import sys


def main() -> int:
    n, port = int(sys.argv[1]), int(sys.argv[2])
    addr = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if 2 * n + 16 > hard:
        print(f"need {2 * n + 16} files, hard limit is {hard}", file=sys.stderr)
        return 1
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4096)
    keep = []
    for _ in range(n):
        c = socket.create_connection((addr, port))
        s, _ = srv.accept()
        keep += (c, s)
    print("ready", flush=True)
    sys.stdin.read()
    return 0


if __name__ == "__main__":
    sys.exit(main())
