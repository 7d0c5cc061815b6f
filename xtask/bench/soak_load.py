#!/usr/bin/env python3
"""Soak helper: TCP connection churn for `cargo xtask bench --only soak` and the soak test.

Roles:
  loop SECONDS PORT ADDR [RATE]    both ends in this process (one namespace): connect,
                                   accept, close the client, close the server side.
  server PORT ADDR                 accept, read to EOF, close; until stdin closes.
  client SECONDS PORT ADDR [RATE]  connect to a server elsewhere (across a veth), close.

The client closes first, so TIME_WAIT is on the client side. RATE (connections/s, 0: as
fast as it goes) paces the loop in steps of 64 connections. `loop` and `client` print
"ready" when they start and "done CYCLES FAILED ERRNO=COUNT..." when they stop: FAILED
are connect() calls that raised (EADDRNOTAVAIL when every port is in TIME_WAIT, for
instance), which the kernel's TcpActiveOpens may not count. The server prints "ready"
once listening and "accepted N" when stdin closes.
"""
import collections
import errno
import socket
import sys
import threading
import time


def paced(seconds, rate, step):
    """Yields until SECONDS have passed, sleeping to keep RATE per second."""
    start = time.monotonic()
    deadline = start + seconds
    done = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            return
        if rate > 0:
            ahead = done / rate - (now - start)
            if ahead > 0:
                time.sleep(ahead)
        yield
        done += step


def report(cycles, failed):
    errs = " ".join(f"{errno.errorcode.get(e, e)}={n}" for e, n in sorted(failed.items()))
    print(f"done {cycles} {sum(failed.values())} {errs}".rstrip(), flush=True)


def role_loop(seconds, port, addr, rate):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(1024)
    target = (addr, port)
    print("ready", flush=True)
    cycles, failed = 0, collections.Counter()
    for _ in paced(seconds, rate, 64):
        for _ in range(64):
            c = socket.socket()
            try:
                c.connect(target)
            except OSError as e:
                failed[e.errno] += 1
                c.close()
                continue
            s, _ = srv.accept()
            c.close()
            s.close()
            cycles += 1
    report(cycles, failed)


def role_server(port, addr):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(4096)
    accepted = [0]
    stop = threading.Event()

    def serve():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                s, _ = srv.accept()
            except socket.timeout:
                continue
            accepted[0] += 1
            s.settimeout(5)
            try:
                while s.recv(4096):
                    pass
            except OSError:
                pass
            s.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    print("ready", flush=True)
    sys.stdin.read()
    stop.set()
    t.join()
    print(f"accepted {accepted[0]}", flush=True)


def role_client(seconds, port, addr, rate):
    target = (addr, port)
    print("ready", flush=True)
    cycles, failed = 0, collections.Counter()
    for _ in paced(seconds, rate, 64):
        for _ in range(64):
            c = socket.socket()
            try:
                c.connect(target)
            except OSError as e:
                failed[e.errno] += 1
                c.close()
                if e.errno == errno.EADDRNOTAVAIL:
                    time.sleep(0.01)
                continue
            c.close()
            cycles += 1
    report(cycles, failed)


def main():
    role, args = sys.argv[1], sys.argv[2:]
    if role == "loop":
        role_loop(float(args[0]), int(args[1]), args[2], float(args[3]) if len(args) > 3 else 0)
    elif role == "server":
        role_server(int(args[0]), args[1])
    elif role == "client":
        role_client(float(args[0]), int(args[1]), args[2], float(args[3]) if len(args) > 3 else 0)
    else:
        sys.exit(f"unknown role {role}")


if __name__ == "__main__":
    main()
