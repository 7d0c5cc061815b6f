#!/usr/bin/python3
"""Traffic makers for the live-stream audit tests (tests/tests/audit_stream.rs).

Run inside a test network namespace as
    ip netns exec NS /usr/bin/python3 -u audit_load.py ROLE [OPTIONS]

Protocol (stdout, one machine-readable line each, flushed at once):
    pid PID                 always first
    <role-specific lines>   each role's own truth: what it sent and received, per socket
    ready                   the role's sockets exist (roles that wait for the test)
Every line that names a socket gives its kernel cookie (SO_COOKIE): the records of
`netstat --audit/--watch --json` carry the same number. Every role exits when stdin reaches
EOF (the test dropped it) or after --lifetime seconds (SIGALRM), so nothing outlives a
crashed test; `client` exits on its own after its last connection. Errors go to stderr,
exit code 1. No role renames itself: the comm of every process is `python3`.

Roles:
  server   --listen ADDR:PORT
           one listener (`listen HOST PORT COOKIE`), then serves connections one at a time:
           reads a request (its first byte is its length), replies reply_size(length) bytes,
           reads until the client's EOF (the client closes first), closes, and prints
           `served COOKIE PEER_HOST PEER_PORT RX TX`.
  client   --connect ADDR:PORT --count N --first I
           N connections one after another, each: request of 1 + i % 97 bytes, the whole
           reply, close. `conn PID COOKIE LPORT TX RX` each, `done N`, then exits at once.
  driver   --connect ADDR:PORT --procs P --per-proc N --parallel K
           P `client` processes (K at a time), relaying their `conn` lines, `exit PID CODE`
           for each, and `done CONNECTIONS FAILED_PROCESSES`.
  burst    loopback client and server in one process. `listen HOST PORT COOKIE`, `ready`;
           each stdin line `go N` makes N connections (as client + server above) and prints
           `conn CLIENT_COOKIE CLIENT_PORT CTX CRX SERVER_COOKIE STX SRX` each, then `done N`.
  churn    --count N: N loopback connections (connect, accept, close both), as fast as it
           can: 2N closed sockets; `done N`, then waits for stdin EOF.
  ends     loopback connections that end badly; prints `refused`, `unread-rst` and
           `linger0` lines (see role_ends), `done`, and waits for stdin EOF.
  udp-echo --bind HOST --count N
           N UDP sockets on HOST (`port P COOKIE` each), `ready`; each socket answers the
           first datagram from each peer with 10 + 7*K bytes (K: its index) and prints
           `answered K HOST PORT BYTES`.
  udp-send --to HOST:PORT,... --then exit|stay|hold
           one unconnected UDP socket; to peer K it sends K+1 datagrams (sendto), then reads
           one answer per peer (recvfrom). Prints `local HOST PORT COOKIE`, `sent HOST PORT
           BYTES DATAGRAMS` and `recv HOST PORT BYTES DATAGRAMS` per peer, then
           exit: closes the socket, `closed`, exits;  stay: closes it, `closed`, waits for
           stdin EOF;  hold: `holding`, closes it at the stdin line `close` (-> `closed`).
ADDR:PORT is `1.2.3.4:80` or `[::1]:80`; port 0 lets the kernel choose.
"""

import argparse
import os
import selectors
import signal
import socket
import struct
import subprocess
import sys

SO_COOKIE = 57  # asm-generic/socket.h
IO_TIMEOUT = 10.0


def out(*fields):
    """One protocol line on stdout; exit quietly when the test is gone."""
    try:
        sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os._exit(0)


def fail(msg):
    sys.stderr.write(f"audit_load.py: {msg}\n")
    sys.stderr.flush()
    os._exit(1)


def parse_addr(text):
    """`1.2.3.4:80` or `[::1]:80` -> (family, (host, port))."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        fail(f"bad address {text!r}: expected HOST:PORT or [V6]:PORT")
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def cookie(sock):
    return struct.unpack("<Q", sock.getsockopt(socket.SOL_SOCKET, SO_COOKIE, 8))[0]


def request_size(i):
    return 1 + i % 97


def reply_size(n):
    """The server's reply to a request of n bytes (1..97): 1..1500 bytes."""
    return 1 + (n * 37) % 1500


def wait_stdin_eof():
    while sys.stdin.buffer.readline():
        pass


def listen(family, addr, backlog=4096):
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(addr)
    sock.listen(backlog)
    return sock


def recv_exact(sock, n):
    """n bytes; returns (data, bytes received by recv calls)."""
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            fail(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def serve_one(conn):
    """Request, reply, wait for the client's EOF, close. Returns (rx, tx)."""
    conn.settimeout(IO_TIMEOUT)
    n = recv_exact(conn, 1)[0]
    recv_exact(conn, n - 1)
    m = reply_size(n)
    conn.sendall(bytes(m))
    rx = n
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        rx += len(chunk)
    conn.close()
    return rx, m


def request(sock, i):
    """Sends request i and reads its whole reply. Returns (tx, rx)."""
    n = request_size(i)
    sock.sendall(bytes([n]) + bytes(n - 1))
    m = reply_size(n)
    return n, len(recv_exact(sock, m))


# --- roles ----------------------------------------------------------------------------------


def role_server(args):
    family, addr = parse_addr(args.listen)
    lst = listen(family, addr)
    name = lst.getsockname()
    out("listen", name[0], name[1], cookie(lst))
    lst.setblocking(False)
    sel = selectors.DefaultSelector()
    sel.register(lst, selectors.EVENT_READ, "listener")
    sel.register(0, selectors.EVENT_READ, "stdin")
    out("ready")
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "stdin":
                if not os.read(0, 4096):
                    return
                continue
            while True:
                try:
                    conn, peer = lst.accept()
                except (BlockingIOError, InterruptedError):
                    break
                c = cookie(conn)
                rx, tx = serve_one(conn)
                out("served", c, peer[0], peer[1], rx, tx)


def role_client(args):
    family, addr = parse_addr(args.connect)
    pid = os.getpid()
    for i in range(args.first, args.first + args.count):
        sock = socket.socket(family, socket.SOCK_STREAM)
        c = cookie(sock)
        sock.settimeout(IO_TIMEOUT)
        sock.connect(addr)
        lport = sock.getsockname()[1]
        tx, rx = request(sock, i)
        sock.close()
        out("conn", pid, c, lport, tx, rx)
    out("done", args.count)


def role_driver(args):
    total, failed = 0, 0
    script = os.path.abspath(__file__)
    for batch in range(0, args.procs, args.parallel):
        procs = []
        for p in range(batch, min(batch + args.parallel, args.procs)):
            cmd = [sys.executable, "-u", script, "client", "--connect", args.connect,
                   "--count", str(args.per_proc), "--first", str(p * args.per_proc)]
            procs.append(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.PIPE))
        for proc in procs:
            stdout, _ = proc.communicate()
            done = 0
            for line in stdout.decode().splitlines():
                if line.startswith("conn "):
                    out(line)
                    total += 1
                elif line.startswith("done "):
                    done = int(line.split()[1])
            out("exit", proc.pid, proc.returncode)
            if proc.returncode != 0 or done != args.per_proc:
                failed += 1
    out("done", total, failed)
    wait_stdin_eof()


def role_burst(args):
    lst = listen(socket.AF_INET, ("127.0.0.1", 0))
    lst.settimeout(IO_TIMEOUT)
    addr = lst.getsockname()
    out("listen", addr[0], addr[1], cookie(lst))
    out("ready")
    i = 0
    for line in sys.stdin:
        words = line.split()
        if len(words) != 2 or words[0] != "go":
            fail(f"unknown command {line!r}")
        n = int(words[1])
        for _ in range(n):
            cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            cc = cookie(cli)
            cli.settimeout(IO_TIMEOUT)
            cli.connect(addr)
            srv, _ = lst.accept()
            sc = cookie(srv)
            cport = cli.getsockname()[1]
            # The client's request and the server's reply, as in request()/serve_one(),
            # interleaved in one thread.
            q = request_size(i)
            cli.sendall(bytes([q]) + bytes(q - 1))
            srv.settimeout(IO_TIMEOUT)
            got = recv_exact(srv, q)
            r = reply_size(q)
            srv.sendall(bytes(r))
            recv_exact(cli, r)
            cli.close()
            srx = len(got)
            while True:
                chunk = srv.recv(4096)
                if not chunk:
                    break
                srx += len(chunk)
            srv.close()
            out("conn", cc, cport, q, r, sc, r, srx)
            i += 1
        out("done", n)


def role_churn(args):
    lst = listen(socket.AF_INET, ("127.0.0.1", 0))
    addr = lst.getsockname()
    for _ in range(args.count):
        cli = socket.create_connection(addr, timeout=IO_TIMEOUT)
        srv, _ = lst.accept()
        cli.close()
        srv.close()
    out("done", args.count)
    wait_stdin_eof()


def role_ends(_args):
    lo = ("127.0.0.1", 0)
    # 1. Refused: a port that is bound but not listening answers a SYN with a reset.
    closed = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    closed.bind(lo)
    dead_port = closed.getsockname()[1]
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cli.bind(lo)  # the local port stays known after the failed connect
    cport = cli.getsockname()[1]
    cc = cookie(cli)
    cli.settimeout(IO_TIMEOUT)
    try:
        cli.connect(("127.0.0.1", dead_port))
        fail("connect to a port without a listener succeeded")
    except ConnectionRefusedError:
        pass
    cli.close()
    out("refused", cc, cport, dead_port)

    lst = listen(socket.AF_INET, lo)
    lst.settimeout(IO_TIMEOUT)
    sport = lst.getsockname()[1]

    # 2. The server closes with unread data: it sends a reset instead of a FIN.
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cc = cookie(cli)
    cli.settimeout(IO_TIMEOUT)
    cli.connect(("127.0.0.1", sport))
    srv, _ = lst.accept()
    sc = cookie(srv)
    cport = cli.getsockname()[1]
    cli.sendall(bytes(10))
    sel = selectors.DefaultSelector()
    sel.register(srv, selectors.EVENT_READ)
    if not sel.select(timeout=IO_TIMEOUT):
        fail("the request never reached the server")
    sel.close()
    srv.close()
    try:
        data = cli.recv(100)
        fail(f"recv after the server's reset returned {data!r}")
    except ConnectionResetError:
        pass
    cli.close()
    out("unread-rst", cc, cport, sc, sport, 10, 0, 0, 0)

    # 3. SO_LINGER {on, 0}: the client's close aborts with a reset.
    cli = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    cc = cookie(cli)
    cli.settimeout(IO_TIMEOUT)
    cli.connect(("127.0.0.1", sport))
    srv, _ = lst.accept()
    srv.settimeout(IO_TIMEOUT)
    sc = cookie(srv)
    cport = cli.getsockname()[1]
    cli.sendall(bytes(5))
    recv_exact(srv, 5)
    srv.sendall(bytes(3))
    recv_exact(cli, 3)
    cli.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    cli.close()
    try:
        data = srv.recv(100)
        fail(f"recv after the client's reset returned {data!r}")
    except ConnectionResetError:
        pass
    srv.close()
    out("linger0", cc, cport, sc, sport, 5, 3, 3, 5)
    out("done")
    wait_stdin_eof()


def role_udp_echo(args):
    family = family_of(args.bind)
    socks = []
    for k in range(args.count):
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind((args.bind, 0))
        sock.setblocking(False)
        socks.append(sock)
        out("port", sock.getsockname()[1], cookie(sock))
    sel = selectors.DefaultSelector()
    for k, sock in enumerate(socks):
        sel.register(sock, selectors.EVENT_READ, k)
    sel.register(0, selectors.EVENT_READ, "stdin")
    answered = set()
    out("ready")
    while True:
        for key, _ in sel.select(timeout=1.0):
            if key.data == "stdin":
                if not os.read(0, 4096):
                    return
                continue
            k = key.data
            try:
                _, peer = key.fileobj.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                continue
            if (k, peer) not in answered:
                answered.add((k, peer))
                size = 10 + 7 * k
                key.fileobj.sendto(bytes(size), peer)
                out("answered", k, peer[0], peer[1], size)


def role_udp_send(args):
    peers = [parse_addr(spec)[1] for spec in args.to.split(",")]
    family = family_of(peers[0][0])
    sock = socket.socket(family, socket.SOCK_DGRAM)
    c = cookie(sock)
    sent = []
    for k, peer in enumerate(peers):
        nbytes = 0
        for j in range(k + 1):
            size = 1 + (k * 13 + j * 5) % 200
            nbytes += sock.sendto(bytes(size), peer)
        sent.append((nbytes, k + 1))
    name = sock.getsockname()
    out("local", name[0], name[1], c)
    for peer, (nbytes, count) in zip(peers, sent):
        out("sent", peer[0], peer[1], nbytes, count)
    got = {}
    sock.settimeout(IO_TIMEOUT)
    while len(got) < len(peers):
        try:
            data, src = sock.recvfrom(65535)
        except socket.timeout:
            fail(f"answers from {len(got)} of {len(peers)} peers only")
        b, n = got.get(src[:2], (0, 0))
        got[src[:2]] = (b + len(data), n + 1)
    for peer in peers:
        b, n = got.get(peer, (0, 0))
        out("recv", peer[0], peer[1], b, n)
    if args.then == "hold":
        out("holding")
        for line in sys.stdin:
            if line.strip() == "close":
                break
        else:
            return
    sock.close()
    out("closed")
    if args.then != "exit":
        wait_stdin_eof()


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("role", choices=["server", "client", "driver", "burst", "churn",
                                         "ends", "udp-echo", "udp-send"])
    parser.add_argument("--lifetime", type=int, default=600)
    parser.add_argument("--listen")
    parser.add_argument("--connect")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--per-proc", type=int, default=1)
    parser.add_argument("--parallel", type=int, default=1)
    parser.add_argument("--bind")
    parser.add_argument("--to")
    parser.add_argument("--then", choices=["exit", "stay", "hold"], default="exit")
    args = parser.parse_args()
    signal.alarm(args.lifetime)
    out("pid", os.getpid())
    roles = {
        "server": role_server,
        "client": role_client,
        "driver": role_driver,
        "burst": role_burst,
        "churn": role_churn,
        "ends": role_ends,
        "udp-echo": role_udp_echo,
        "udp-send": role_udp_send,
    }
    try:
        roles[args.role](args)
    except OSError as e:
        fail(f"{args.role}: {e}")


if __name__ == "__main__":
    main()
