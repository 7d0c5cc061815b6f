#!/usr/bin/env python3
"""Benchmark helper: connection churn. Runs up to N loopback TCP connect/accept/close
cycles against its own listener, one at a time and as fast as it can, stopping after N
cycles or MAX_SECONDS, whichever comes first. Prints "CYCLES SECONDS" on stdout.

One process does both ends in turn (connect, accept, close the client, close the server
side): no accept backlog can overflow, so the rate is not blurred by SYN retransmits,
and the client closes first, leaving TIME_WAIT on the client side only.

usage: churn.py N MAX_SECONDS [PORT [ADDR]]
"""
import socket
import sys
import time


def main() -> int:
    n, max_seconds = int(sys.argv[1]), float(sys.argv[2])
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    addr = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(128)
    target = (addr, port)
    start = time.monotonic()
    deadline = start + max_seconds
    done = 0
    while done < n:
        c = socket.socket()
        c.connect(target)
        s, _ = srv.accept()
        c.close()
        s.close()
        done += 1
        if done % 256 == 0 and time.monotonic() >= deadline:
            break
    print(f"{done} {time.monotonic() - start:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
