#!/usr/bin/python3
"""Socket-holding helper processes for the socket-owner tests (tests/tests/owners.rs).

Run inside a test network namespace as
    ip netns exec NS /usr/bin/python3 -u owners.py ROLE [OPTIONS]

Protocol (stdout, one machine-readable line each, flushed at once):
    pid PID                 always first
    <role-specific lines>   e.g. `listen 127.0.0.1 40000`, `conn LPORT RHOST RPORT`
    ready                   every socket the role makes up front exists
Commands are lines on stdin (only the roles that document them read any). Every role exits
when stdin reaches EOF (the test dropped it) or after --lifetime seconds (SIGALRM, default
action: terminate), so nothing outlives a crashed test. Errors go to stderr, exit code 1.

Every role sets its kernel task name (comm) with prctl(PR_SET_NAME) to --comm before making
any socket, so the tests can tell the comm (`PID/comm*` for gone owners) from argv[0]'s
basename (`python3`, what net-tools prints for live owners).

Roles:
  server   --listen ADDR:PORT... [--no-accept ADDR:PORT...] [--mode hold|drain] [--quiet]
           listeners; `listen HOST PORT` / `listen-noaccept HOST PORT` each. Accepts in a loop:
           hold: keeps accepted sockets, prints `accepted LPORT RHOST RPORT`;
           drain: reads each accepted socket to EOF, then closes it.
           stdin commands: `close-accepted` (-> `closed-accepted N`), `exit` (-> `exiting`).
  client   --connect ADDR:PORT... [--count N]: N connections per target, `conn LPORT RHOST RPORT`
           each. stdin commands: `close` (-> `closed N`), `send` (1 byte on each, -> `sent N`),
           `exit` (-> `exiting`).
  load     --connect ADDR:PORT --src-port-base P --total N [--window W] [--delay-ms D]
           N short connections from source ports P..P+N-1, at most W open at once; the client
           closes first. Prints `ports P P+N-1` before `ready`, `progress K` every 100, then
           `done K FAILED`, and waits for stdin EOF.
  forker   --listen ADDR:PORT --connect ADDR:PORT --mode close|exit [--child-comm C]
           makes a listener and a connection, prints `listen HOST PORT` and `conn ...`, starts
           `forkchild` (fork+exec, pass_fds) holding both, prints `child PID`, then
           close: closes its copies, prints `parent-closed`, waits for stdin EOF;
           exit: prints `parent-exiting` and exits (the child keeps the sockets).
           hold: prints `ready`, closes its copies on the stdin command `close` (->
           `parent-closed`), then waits for stdin EOF.
  forkchild --fds A,B: holds inherited fds; prints `child-ready`; waits for stdin EOF.
  execer   --listen ADDR:PORT --connect ADDR:PORT: a listener and a connection (`listen`,
           `conn`), `ready`; on the stdin command `exec` prints `exec` and execs
           `/bin/sleep LIFETIME` (argv[0] `sleep`), which keeps both sockets.
  forkboth --listen ADDR:PORT --connect ADDR:PORT [--child-comm C]: a listener and a
           connection, then a plain fork(); parent and child both keep them. Prints
           `child PID`, then `ready`; both wait for stdin EOF.
  reuse    --pid P --then 'ROLE OPTIONS...': clone3() with set_tid = P (needs root); the
           child execs `owners.py ROLE OPTIONS...` (so it prints its own `pid P` line);
           `reused P` before.
           Exits with the child.
  receiver --unix PATH [--io-count K]: unix listener at PATH; receives sockets over SCM_RIGHTS
           from one `sender`, sends 1 byte on the first K, prints `received LPORT` each, acks.
  sender   --unix PATH --connect ADDR:PORT... : one connection per target (`conn ...`), sends
           them all to the receiver, waits for its ack, closes its copies, prints `sent-closed`,
           then stays alive until stdin EOF.
  udp      [--bind ADDR:PORT...] [--connect ADDR:PORT...] [--sendto ADDR:PORT...]
           bound, connected, and sendto-autobound UDP sockets: `udp KIND HOST LPORT` each.
ADDR:PORT is `1.2.3.4:80` or `[::1]:80`; port 0 lets the kernel choose.
"""

import argparse
import ctypes
import os
import selectors
import signal
import socket
import subprocess
import sys
import time

PR_SET_NAME = 15
CONNECT_TIMEOUT = 10.0


def out(*fields):
    """One protocol line on stdout; exit quietly when the test is gone."""
    try:
        sys.stdout.write(" ".join(str(f) for f in fields) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        os._exit(0)


def fail(msg):
    sys.stderr.write(f"owners.py: {msg}\n")
    sys.stderr.flush()
    os._exit(1)


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NAME, ctypes.c_char_p(name.encode()[:15]), 0, 0, 0) != 0:
        fail(f"prctl(PR_SET_NAME, {name}): errno {ctypes.get_errno()}")


def parse_addr(text):
    """`1.2.3.4:80` or `[::1]:80` -> (family, (host, port))."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        fail(f"bad address {text!r}: expected HOST:PORT or [V6]:PORT")
    if host.startswith("[") and host.endswith("]"):
        return socket.AF_INET6, (host[1:-1], int(port))
    return socket.AF_INET, (host, int(port))


def wait_stdin_eof():
    """Blocks until stdin closes, ignoring any line."""
    while sys.stdin.buffer.readline():
        pass


def local_port(sock):
    return sock.getsockname()[1]


def conn_line(sock):
    name, peer = sock.getsockname(), sock.getpeername()
    out("conn", name[1], peer[0], peer[1])


def connect(target):
    family, addr = parse_addr(target)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(CONNECT_TIMEOUT)
    sock.connect(addr)
    sock.settimeout(None)
    return sock


def listen(spec, backlog=1024):
    family, addr = parse_addr(spec)
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind(addr)
    sock.listen(backlog)
    return sock


# --- roles ----------------------------------------------------------------------------------


def role_server(args):
    listeners = []
    for spec in args.listen:
        sock = listen(spec)
        name = sock.getsockname()
        out("listen", name[0], name[1])
        listeners.append(sock)
    idle = []  # listeners that never accept: connections wait in their accept queue
    for spec in args.no_accept:
        sock = listen(spec)
        name = sock.getsockname()
        out("listen-noaccept", name[0], name[1])
        idle.append(sock)
    sel = selectors.DefaultSelector()
    for sock in listeners:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ, "listener")
    # stdin is read with os.read (not a buffered reader) so select() sees every line.
    sel.register(0, selectors.EVENT_READ, "stdin")
    pending = b""
    held = []
    out("ready")
    while True:
        for key, _ in sel.select(timeout=1.0):
            kind = key.data
            if kind == "listener":
                try:
                    conn, peer = key.fileobj.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                if args.mode == "hold":
                    held.append(conn)
                    if not args.quiet:
                        out("accepted", local_port(conn), peer[0], peer[1])
                else:
                    conn.setblocking(False)
                    sel.register(conn, selectors.EVENT_READ, "drain")
            elif kind == "drain":
                try:
                    data = key.fileobj.recv(4096)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    key.fileobj.close()
            else:
                chunk = os.read(0, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    cmd = line.decode(errors="replace").strip()
                    if cmd == "close-accepted":
                        for conn in held:
                            conn.close()
                        out("closed-accepted", len(held))
                        held.clear()
                    elif cmd == "exit":
                        out("exiting")
                        return
                    else:
                        out("unknown-command", cmd)


def role_client(args):
    conns = []
    for target in args.connect:
        for _ in range(args.count):
            sock = connect(target)
            conn_line(sock)
            conns.append(sock)
    out("ready")
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return
        cmd = line.decode(errors="replace").strip()
        if cmd == "close":
            for sock in conns:
                sock.close()
            out("closed", len(conns))
            conns.clear()
        elif cmd == "send":
            for sock in conns:
                sock.sendall(b"x")
            out("sent", len(conns))
        elif cmd == "exit":
            out("exiting")
            return
        else:
            out("unknown-command", cmd)


def role_load(args):
    family, addr = parse_addr(args.connect[0])
    wildcard = "::" if family == socket.AF_INET6 else "0.0.0.0"
    first, last = args.src_port_base, args.src_port_base + args.total - 1
    if args.total < 1 or last > 65535 or first < 1024:
        fail(f"source ports {first}..{last} out of range")
    out("ports", first, last)
    out("ready")
    window = []
    failed = 0
    for i in range(args.total):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(CONNECT_TIMEOUT)
        try:
            sock.bind((wildcard, first + i))
            sock.connect(addr)
            window.append(sock)
        except OSError as e:
            failed += 1
            sys.stderr.write(f"owners.py load: port {first + i}: {e}\n")
            sock.close()
        while len(window) > args.window:
            window.pop(0).close()
        if (i + 1) % 100 == 0:
            out("progress", i + 1)
        if args.delay_ms:
            time.sleep(args.delay_ms / 1000.0)
    for sock in window:
        sock.close()
    out("done", args.total - failed, failed)
    wait_stdin_eof()


def role_forker(args):
    lsock = listen(args.listen[0])
    name = lsock.getsockname()
    out("listen", name[0], name[1])
    csock = connect(args.connect[0])
    conn_line(csock)
    fds = [lsock.fileno(), csock.fileno()]
    child = subprocess.Popen(
        [
            sys.executable,
            "-u",
            os.path.abspath(__file__),
            "forkchild",
            "--fds",
            ",".join(str(fd) for fd in fds),
            "--comm",
            args.child_comm,
            "--lifetime",
            str(args.lifetime),
        ],
        pass_fds=fds,
    )
    out("child", child.pid)
    if args.mode == "hold":
        out("ready")
        while True:
            line = sys.stdin.buffer.readline()
            if not line:
                return
            if line.strip() == b"close":
                lsock.close()
                csock.close()
                out("parent-closed")
    if args.mode == "close":
        lsock.close()
        csock.close()
        out("parent-closed")
        out("ready")
        wait_stdin_eof()
    else:
        out("parent-exiting")
        out("ready")
        os._exit(0)


def role_forkchild(args):
    held = []
    for fd in args.fds.split(","):
        try:
            held.append(socket.socket(fileno=int(fd)))
        except (OSError, ValueError) as e:
            fail(f"inherited fd {fd}: {e}")
    out("child-ready")
    wait_stdin_eof()


def role_execer(args):
    lsock = listen(args.listen[0])
    name = lsock.getsockname()
    out("listen", name[0], name[1])
    csock = connect(args.connect[0])
    conn_line(csock)
    for sock in (lsock, csock):
        os.set_inheritable(sock.fileno(), True)
    out("ready")
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return
        if line.strip() == b"exec":
            out("exec")
            os.execv("/bin/sleep", ["sleep", str(args.lifetime)])


def role_forkboth(args):
    lsock = listen(args.listen[0])
    name = lsock.getsockname()
    out("listen", name[0], name[1])
    csock = connect(args.connect[0])
    conn_line(csock)
    pid = os.fork()
    if pid == 0:
        set_comm(args.child_comm)
        wait_stdin_eof()
        os._exit(0)
    out("child", pid)
    out("ready")
    wait_stdin_eof()
    os.waitpid(pid, 0)


class CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in (
        "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack",
        "stack_size", "tls", "set_tid", "set_tid_size", "cgroup")]


SYS_CLONE3 = 435  # x86_64 and the generic table alike


def role_reuse(args):
    tid = (ctypes.c_int * 1)(args.pid)
    cargs = CloneArgs(exit_signal=signal.SIGCHLD,
                      set_tid=ctypes.addressof(tid), set_tid_size=1)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    out("reused", args.pid)
    pid = libc.syscall(SYS_CLONE3, ctypes.byref(cargs), ctypes.c_size_t(ctypes.sizeof(cargs)))
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-u", os.path.abspath(__file__)] + args.then.split())
    if pid < 0:
        fail(f"clone3(set_tid={args.pid}): errno {ctypes.get_errno()}")
    os.waitpid(pid, 0)


def role_receiver(args):
    lsock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    lsock.bind(args.unix)
    lsock.listen(1)
    lsock.settimeout(args.lifetime)
    out("ready")
    conn, _ = lsock.accept()
    conn.settimeout(CONNECT_TIMEOUT)
    received = []
    while True:
        msg, fds, _flags, _addr = socket.recv_fds(conn, 16, 16)
        for fd in fds:
            received.append(socket.socket(fileno=fd))
        if not msg or msg.endswith(b"."):
            break
    for i, sock in enumerate(received):
        if i < args.io_count:
            sock.sendall(b"x")
        out("received", local_port(sock), "io" if i < args.io_count else "no-io")
    conn.sendall(b"ok")
    out("received-all", len(received))
    wait_stdin_eof()


def role_sender(args):
    conns = []
    for target in args.connect:
        sock = connect(target)
        conn_line(sock)
        conns.append(sock)
    usock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    usock.settimeout(CONNECT_TIMEOUT)
    usock.connect(args.unix)
    for i, sock in enumerate(conns):
        marker = b"." if i == len(conns) - 1 else b","
        socket.send_fds(usock, [marker], [sock.fileno()])
    if usock.recv(2) != b"ok":
        fail("the receiver did not acknowledge the sockets")
    for sock in conns:
        sock.close()
    out("sent-closed", len(conns))
    out("ready")
    wait_stdin_eof()


def role_udp(args):
    held = []
    for spec in args.bind:
        family, addr = parse_addr(spec)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.bind(addr)
        name = sock.getsockname()
        out("udp", "bound", name[0], name[1])
        held.append(sock)
    for spec in args.connect:
        family, addr = parse_addr(spec)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.connect(addr)
        name = sock.getsockname()
        out("udp", "connected", name[0], name[1])
        held.append(sock)
    for spec in args.sendto:
        family, addr = parse_addr(spec)
        sock = socket.socket(family, socket.SOCK_DGRAM)
        sock.sendto(b"x", addr)
        name = sock.getsockname()
        out("udp", "sendto", name[0], name[1])
        held.append(sock)
    out("ready")
    wait_stdin_eof()


def role_prefork(args):
    """A master holds a listener; --count workers (forked and exec'd, inheriting it)
    accept from it, each reporting `accepted LPORT RHOST RPORT WORKERPID`."""
    lsock = listen(args.listen[0])
    name = lsock.getsockname()
    out("listen", name[0], name[1])
    workers = []
    for _ in range(args.count):
        w = subprocess.Popen(
            [
                sys.executable,
                "-u",
                os.path.abspath(__file__),
                "preforkworker",
                "--fds",
                str(lsock.fileno()),
                "--comm",
                args.child_comm,
                "--lifetime",
                str(args.lifetime),
            ],
            pass_fds=[lsock.fileno()],
        )
        workers.append(w)
        out("worker", w.pid)
    out("ready")
    wait_stdin_eof()
    for w in workers:
        w.kill()
        w.wait()


def role_preforkworker(args):
    lsock = socket.socket(fileno=int(args.fds))
    lsock.settimeout(1.0)
    held = []
    me = os.getpid()
    while True:
        try:
            conn, peer = lsock.accept()
        except socket.timeout:
            continue
        held.append(conn)
        out("accepted", local_port(conn), peer[0], peer[1], me)


ROLES = {
    "prefork": role_prefork,
    "preforkworker": role_preforkworker,
    "server": role_server,
    "client": role_client,
    "load": role_load,
    "forker": role_forker,
    "forkchild": role_forkchild,
    "receiver": role_receiver,
    "sender": role_sender,
    "udp": role_udp,
    "execer": role_execer,
    "forkboth": role_forkboth,
    "reuse": role_reuse,
}


def main():
    parser = argparse.ArgumentParser(description="socket-owner test helper")
    parser.add_argument("role", choices=sorted(ROLES))
    parser.add_argument("--comm", default=None, help="kernel task name (default nst-ROLE)")
    parser.add_argument("--lifetime", type=int, default=300, help="seconds before SIGALRM")
    parser.add_argument("--listen", action="append", default=[])
    parser.add_argument("--no-accept", action="append", default=[])
    parser.add_argument("--connect", action="append", default=[])
    parser.add_argument("--bind", action="append", default=[])
    parser.add_argument("--sendto", action="append", default=[])
    parser.add_argument("--mode", default="hold")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--count", type=int, default=1)
    parser.add_argument("--src-port-base", type=int, default=20000)
    parser.add_argument("--total", type=int, default=100)
    parser.add_argument("--window", type=int, default=16)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--child-comm", default="nst-forkchild")
    parser.add_argument("--fds", default="")
    parser.add_argument("--unix", default="")
    parser.add_argument("--io-count", type=int, default=0)
    parser.add_argument("--pid", type=int, default=0)
    parser.add_argument("--then", default="", help="reuse: the role and options to exec")
    args = parser.parse_args()

    # Bounded lifetime, whatever happens to the test: SIGALRM's default action ends us.
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.alarm(max(1, args.lifetime))
    set_comm(args.comm or f"nst-{args.role}")
    out("pid", os.getpid())
    need = {
        "server": args.listen or args.no_accept,
        "client": args.connect,
        "load": args.connect,
        "forker": args.listen and args.connect and args.mode in ("close", "exit", "hold"),
        "execer": args.listen and args.connect,
        "forkboth": args.listen and args.connect,
        "reuse": args.pid and args.then,
        "forkchild": args.fds,
        "prefork": args.listen,
        "preforkworker": args.fds,
        "receiver": args.unix,
        "sender": args.unix and args.connect,
        "udp": args.bind or args.connect or args.sendto,
    }
    if not need[args.role]:
        fail(f"{args.role}: missing options (see the module docstring)")
    if args.role == "server" and args.mode not in ("hold", "drain"):
        fail(f"server: --mode must be hold or drain, not {args.mode}")
    try:
        ROLES[args.role](args)
    except OSError as e:
        fail(f"{args.role}: {e}")
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
