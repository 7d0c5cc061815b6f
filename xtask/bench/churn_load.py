#!/usr/bin/env python3
"""Benchmark helper: request/response connection churn. As churn.py (one process, both
ends in turn, against its own listener, up to N cycles or MAX_SECONDS, prints
"CYCLES SECONDS"), but each connection carries one exchange before it closes: the client
sends SIZE bytes, the server reads them and replies SIZE bytes, the client reads the
reply, then the client closes and the server closes.

Every byte is read before the close, so both sides end with a normal FIN exchange (no
RST) and the state changes per connection are those of churn.py; the exchange adds the
send and receive paths (and their tracepoints) to each cycle.

usage: churn_load.py N MAX_SECONDS [PORT [ADDR [SIZE]]]
"""
import socket
import sys
import time


def recv_exactly(sock: socket.socket, n: int) -> None:
    while n > 0:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("peer closed before the whole message arrived")
        n -= len(chunk)


def main() -> int:
    n, max_seconds = int(sys.argv[1]), float(sys.argv[2])
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    addr = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.1"
    size = int(sys.argv[5]) if len(sys.argv) > 5 else 100
    request, response = b"q" * size, b"r" * size
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
        c.sendall(request)
        recv_exactly(s, size)
        s.sendall(response)
        recv_exactly(c, size)
        c.close()
        s.close()
        done += 1
        if done % 256 == 0 and time.monotonic() >= deadline:
            break
    print(f"{done} {time.monotonic() - start:.6f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
