#!/usr/bin/env python3
"""Builds fuzz/corpus/<target>/ seeds from this machine: its /proc files, raw netlink
dump replies (sock_diag, ctnetlink) captured from the kernel, ring-buffer records laid out
as netstat-common's types, agent protocol messages, argv lists, plus odd synthetic cases.
Run as root from the repository top (ctnetlink and the NAT capture need it); re-running
overwrites the files it writes. Each seed starts with the target's selector byte."""
import os, socket, struct, subprocess, sys, hashlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
MAX = 8192  # keep seeds small: a big file is cut at a line boundary


def cut(b):
    if len(b) <= MAX:
        return b
    b = b[:MAX]
    return b[: b.rfind(b"\n") + 1] or b


def seed(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def read(path):
    try:
        with open(path, "rb") as f:
            return cut(f.read())
    except OSError:
        return None


# ---- /proc/net socket tables (selector: low nibble file, high nibble option set)
SOCK_FILES = ["tcp", "tcp6", "udp", "udp6", "udplite", "udplite6", "raw", "raw6", "unix"]
for i, name in enumerate(SOCK_FILES):
    text = read(f"/proc/net/{name}")
    if text is not None:
        for opt in (0, 1, 2, 4):
            seed("proc_net_sockets", f"{name}-{opt}", bytes([opt << 4 | i]) + text)
hdr = b"  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
for i, line in enumerate([
    b"   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n",
    b"   0: 0100007F:FFFFF 0:0 FF FFFFFFFFFFFFFFFF:FFFFFFFFFFFFFFFF 05:FFFFFFFF FFFFFFFF 4294967295 0 18446744073709551615\n",
    b"   0: 00000000000000000000FFFF0100007F:0016 00000000000000000000000000000000:0000 01 0:0 00:0 0 0 0 0\n",
    b"\xff\xfe:\t\t\n   1:\n",
]):
    seed("proc_net_sockets", f"odd-{i}", bytes([(i % 8) << 4 | (i % 2)]) + hdr + line)
seed("proc_net_sockets", "unix-odd", bytes([0x18]) + b"Num       RefCount Protocol Flags    Type St Inode Path\n"
     b"0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/a path with spaces\n"
     b"ffffffffffffffff: FFFFFFFF FFFFFFFF FFFFFFFF FFFF FF 99999999999999999999 @abstract\x01\n"
     b"0: 1\n")

# ---- /proc/PID files (selector: 0 link, 1 pid\0cmdline, 2 stat, 3 status, 4 status CapEff,
# 5 /proc/mounts, 6 link\0cmdline for a -p run)
me = os.getpid()
for pid in [1, me]:
    for sel, name in [(2, "stat"), (3, "status"), (4, "status")]:
        t = read(f"/proc/{pid}/{name}")
        if t:
            seed("proc_pid", f"{name}-{pid}-{sel}", bytes([sel]) + t)
    c = read(f"/proc/{pid}/cmdline")
    if c:
        seed("proc_pid", f"cmdline-{pid}", b"\x01" + str(pid).encode() + b"\0" + c)
for fd in os.listdir(f"/proc/{me}/fd")[:6]:
    try:
        link = os.readlink(f"/proc/{me}/fd/{fd}").encode()
    except OSError:
        continue
    seed("proc_pid", f"link-{fd}", b"\x00" + link)
seed("proc_pid", "link-socket", b"\x00socket:[12345]")
seed("proc_pid", "link-hex", b"\x00socket:[0x3039]")
seed("proc_pid", "link-anon", b"\x00[0000]:12345")
seed("proc_pid", "run-socket", b"\x06socket:[12345]\0/usr/bin/python3\0-m\0http.server\0")
seed("proc_pid", "run-long", b"\x06socket:[012345]\0" + b"/" * 40 + b"a" * 300)
seed("proc_pid", "stat-parens", b"\x02123 (a) b (c)) S 1 1 1 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 0 0\n")
m = read("/proc/mounts")
if m:
    seed("proc_pid", "mounts", b"\x05" + m)
seed("proc_pid", "mounts-escaped", b"\x05cgroup2 /sys/fs/cgroup/a\\040b\\134c cgroup2 rw 0 0\n")

# ---- route tables (selector: low nibble table, high nibble layout)
ROUTE = [("route",), ("rt_cache", "route"), ("ipv6_route",), ("ipv6_route", "ndisc"),
         ("ax25_route",), ("nr_nodes", "nr_neigh"), ("rose_nodes", "rose_neigh"),
         ("ipx/route",), ("atalk_route",), ("x25/route",)]
for i, files in enumerate(ROUTE):
    parts = [read(f"/proc/net/{f}") for f in files]
    if parts[0] is None:
        continue
    data = b"\0".join(p or b"" for p in parts)
    for lay in range(4):
        seed("route", f"{files[0].replace('/', '_')}-{lay}", bytes([lay << 4 | i]) + data)
seed("route", "ax25", b"\x04callsign  dev  mode digipeaters\nGB7DEF-1  ax0  *    GB7ABC\n")
seed("route", "netrom", b"\x05alias  mnemonic quality obs neighbour\nABC GB7ABC 1 192 6 0 1 1 0 1 1 1 2\0addr  callsign  dev  qual lock count failed digipeaters\n00001 GB7ABC ax0 192 0 1 0\n")
seed("route", "x25", b"\x09Address          Digits  Device\n123456789012345  15      x25tap0\n")
seed("route", "ddp", b"\x08Target        Router  Flags Dev\n0001.01       0002.02 0003  eth0\n")

# ---- interfaces (selector: low nibble file, high nibble layout)
IFACE = ["dev", "if_inet6"]
for i, f in enumerate(IFACE):
    t = read(f"/proc/net/{f}")
    if t:
        for lay in range(5):
            seed("iface", f"{f}-{lay}", bytes([lay << 4 | i]) + t)
for j, attr in enumerate(["flags", "mtu", "type", "address", "addr_len", "tx_queue_len", "operstate"]):
    t = read(f"/sys/class/net/lo/{attr}")
    if t is not None:
        seed("iface", f"sysfs-{attr}", bytes([(j % 5) << 4 | (j + 2)]) + t)
seed("iface", "dev-v1", b"\x00Inter-|Receive|Transmit\n face |packets errs drop fifo frame|packets errs drop fifo colls carrier\n  eth0:1 2 3 4 5 6 7 8 9 10 11\n")
seed("iface", "dev-longname", b"\x10Inter-|x\n face |bytes packets\n  abcdefghijklmnop:1 2\n eth0:1:99999999999999999999999 2\n")

# ---- multicast groups (igmp \0 igmp6)
g = (read("/proc/net/igmp") or b"") + b"\0" + (read("/proc/net/igmp6") or b"")
for lay in range(5):
    seed("groups", f"real-{lay}", bytes([lay]) + g)
seed("groups", "odd", b"\x00Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n1\tlo        :     1      V3\n\t\t\t\t010000E0     1 0:00000000\t\t0\n\t\t\t\tZZZZZZZZ\n\x001    lo              ff020000000000000000000000000001     1 0000000C 0\n")

# ---- statistics (selector: low 2 bits file, rest layout)
for i, f in enumerate(["snmp", "netstat", "snmp6", "sctp/snmp"]):
    t = read(f"/proc/net/{f}")
    if t:
        for lay in range(8):
            seed("stats", f"{f.replace('/', '_')}-{lay}", bytes([lay << 2 | i]) + t)
seed("stats", "odd", b"\x00Ip: Forwarding DefaultTTL\nIp: 1\nTcp: A B C\nTcp: -1 18446744073709551616 x\nIcmpMsg: InType3\nIcmpMsg: 5\n")

# ---- /proc/net/ip_masquerade (Linux 2.2)
seed("proc_masq", "ext", b"\x01Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)\n"
     b"TCP C0A80002:0401 0A000001:0050 F000 00000000 0 0 89999\n")
seed("proc_masq", "plain", b"\x00Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires\n"
     b"UDP C0A80002:1234 08080808:0035 F001 00000000 00000000 00000000 1234\n")
seed("proc_masq", "json", b"\x02Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires\nICMP C0A80002:1234 08080808:0035 F001 11 -2 -3 9\n")

# ---- /etc/services \0 /etc/protocols ; /etc/networks
s = (read("/etc/services") or b"") + b"\0" + (read("/etc/protocols") or b"")
seed("etc_names", "services", b"\x00" + cut(s))
seed("etc_names", "services-odd", b"\x00http 80/tcp www # c\nx 0x10/udp\ny 99999/tcp\n\0ip 0 IP\nzz 4294967296 Z\n")
seed("etc_names", "networks", b"\x01" + (read("/etc/networks") or b"default 0.0.0.0\nloopback 127.0.0.0\nlink-local 169.254.0.0\n"))
seed("etc_names", "networks-odd", b"\x01a 0x7f\nb 010.0377\nc 1.2.3.4.5\nd 256\n")

# ---- command lines (NUL-separated; selector bits: POSIXLY_CORRECT, SELinux, run it)
for i, argv in enumerate([
    ["-tulpn"], ["-an"], ["-r", "-n"], ["-i"], ["-s", "-t"], ["-g"], ["-M"], ["-A", "inet6", "-r"],
    ["--watch", "--state", "ESTABLISHED", "--port", "80"], ["--audit", "--json"], ["--agent", "--metrics", "127.0.0.1:9000"],
    ["-c", "2"], ["--tcp", "--numeric-hosts", "--extend", "--extend"], ["-Z"], ["-h"], ["-V"],
    ["--protocol=ax25,netrom"], ["-A"], ["--route", "--cache"], ["-W", "-o", "-e", "-x"], ["--json", "-s", "-6"],
    ["--tcpip"], ["-i", "eth0"], ["--netns", "4026531840", "--watch"], ["--pid", "1", "--comm", "sshd", "--audit"],
]):
    for sel in (4, 1 | 4):
        seed("cli", f"argv-{i}-{sel}", bytes([sel]) + b"\0".join(a.encode() for a in argv))

# ---- agent protocol (selector: 0 request, 1 answer, 2 single records, 3 metrics head)
LABEL = 19
def owner(pid, uid, alive, label):
    return struct.pack("<IIBB", pid, uid, alive, len(label)) + label + b"\0" * (LABEL - len(label))
def row(cookie, inode, fam, sport, dport, state, flags, how, proto, sa, da, own):
    return struct.pack("<QQHHHBBBB", cookie, inode, fam, sport, dport, state, flags, how, proto) + sa + da + struct.pack("<I", own)
v4 = lambda *a: bytes(a) + b"\0" * 12
rows = [row(1, 12345, 2, 80, 0, 10, 1, 0, 6, v4(127, 0, 0, 1), v4(0, 0, 0, 0), 0),
        row(2, 0, 10, 443, 5555, 6, 0, 1, 6, b"\0" * 15 + b"\1", b"\0" * 15 + b"\1", 0xFFFFFFFF),
        row(3, 99, 2, 53, 0, 7, 0, 0, 17, v4(0, 0, 0, 0), v4(0, 0, 0, 0), 1)]
owners = [owner(42, 0, 0, b"42/sshd"), owner(7, 1000, 1, b"7/" + b"x" * 17)]
answer = b"NSR2" + struct.pack("<III", 0, len(owners), len(rows)) + b"".join(owners) + b"".join(rows)
seed("agent_proto", "request", b"\x00NSQ1" + struct.pack("<I", 4026531840))
seed("agent_proto", "request-bad", b"\x00NSQ2\0\0\0\0")
seed("agent_proto", "answer", b"\x01" + answer)
seed("agent_proto", "answer-empty", b"\x01NSR2" + struct.pack("<III", 0, 0, 0))
seed("agent_proto", "refusal", b"\x01NSR2" + struct.pack("<II", 1, 12) + b"not allowed.")
seed("agent_proto", "answer-badindex", b"\x01NSR2" + struct.pack("<III", 0, 0, 1) + rows[0])
seed("agent_proto", "owner", b"\x02" + owners[1] + rows[1])
seed("agent_proto", "row", b"\x02" + rows[0])
seed("agent_proto", "http", b"\x03GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
seed("agent_proto", "http-head", b"\x03HEAD /metrics?x=1 HTTP/1.0\r\n\r\n")
seed("agent_proto", "http-bad", b"\x03POST / HTTP/2\r\n\r\n")

# ---- ring-buffer records (8-byte clock offset, then the record), netstat-common layout
def state_event(fam, old, new, flags, comm):
    owner = struct.pack("<IIIIQ16s", 4242, 4242, 1000, 0, 123456789, comm)  # tgid pid uid pad start comm
    owner = owner[:48].ljust(48, b"\0")
    ev = struct.pack("<IIQQIHHHHBBBB", 1, 4026531840, 5_000_000_000, 0xffff888012345678, 4242,
                     fam, 6, 40000, 80, old, new, flags, 0)
    addr = v4(10, 0, 0, 1) + v4(10, 0, 0, 2) if fam == 2 else b"\xfe\x80" + b"\0" * 13 + b"\1" + b"\0" * 15 + b"\1"
    ev += addr + struct.pack("<QQQQQ", 77, 4_000_000_000, 3_000_000_000, 1000, 2000)
    return ev + owner
clock = struct.pack("<q", 1_700_000_000_000_000_000)
seed("ring", "state-v4", clock + state_event(2, 1, 4, 1, b"curl"))
seed("ring", "state-v6", clock + state_event(10, 10, 3, 3, b"sshd"))
seed("ring", "state-short", clock + state_event(2, 1, 4, 1, b"curl")[:40])
seed("ring", "conn", clock + struct.pack("<II", 2, 4026531840) + bytes(range(200)))
seed("ring", "unknown-kind", clock + struct.pack("<I", 9) + b"\0" * 60)

# ---- netlink captures: inet_diag (sock_diag) dumps of real sockets, ctnetlink dumps
NLMSG_DONE = 3
SEQ = 0x6e737461
def nl_dump(proto, msg_type, flags, body, seq):
    s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, proto)
    s.bind((0, 0))
    hdr = struct.pack("=IHHII", 16 + len(body), msg_type, flags, seq, 0)
    s.send(hdr + body)
    grams = []
    while True:
        d = s.recv(32768)
        grams.append(d)
        off, done = 0, False
        while off + 16 <= len(d):
            ln, ty = struct.unpack_from("=IH", d, off)
            if ty in (NLMSG_DONE, 2):
                done = True
            off += (ln + 3) & ~3
            if ln == 0:
                break
        if done or not d:
            break
    s.close()
    return grams

# Real sockets so that the dumps hold listeners, established, udp and raw rows.
keep = []
for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    l = socket.socket(fam, socket.SOCK_STREAM); l.bind((addr, 0)); l.listen(); keep.append(l)
    c = socket.create_connection(l.getsockname()[:2]); keep.append(c); a, _ = l.accept(); keep.append(a)
    u = socket.socket(fam, socket.SOCK_DGRAM); u.bind((addr, 0)); keep.append(u)
    try:
        r = socket.socket(fam, socket.SOCK_RAW, 255); keep.append(r)
    except OSError:
        pass
PROTOS = [(6, 0), (17, 1), (136, 2), (255, 3)]
for family, fbit in ((2, 0), (10, 4)):
    for proto, pbit in PROTOS:
        for timers in (0, 8):
            ext = 1 << (2 - 1) if timers else 0  # INET_DIAG_INFO
            body = struct.pack("=BBBBI", family, proto, ext, 0, 0x1ffe) + b"\0" * 48
            if proto == 255:
                body = struct.pack("=BBBBI", family, proto, ext, 0, 0x1ffe) + b"\0" * 48
            try:
                grams = nl_dump(4, 20, 0x301, body, SEQ)
            except OSError as e:
                print(f"sock_diag {family}/{proto}: {e}", file=sys.stderr)
                continue
            data = b"".join(grams)
            seed("sock_diag", f"dump-{family}-{proto}-{timers}", bytes([pbit | fbit | timers | (0x10 if len(grams) > 1 else 0)]) + cut(data))
for s_ in keep:
    s_.close()

# ctnetlink: a NAT entry made in a namespace of our own (nft dnat on output).
NS = "nsfz_ct"
def sh(*a):
    return subprocess.run(a, capture_output=True)
try:
    sh("ip", "netns", "add", NS)
    sh("ip", "netns", "exec", NS, "ip", "link", "set", "lo", "up")
    sh("ip", "netns", "exec", NS, "nft", "add table ip nat; add chain ip nat out { type nat hook output priority -100; }; add rule ip nat out tcp dport 1234 dnat to 127.0.0.1:4321; add chain ip nat post { type nat hook postrouting priority 100; }; add rule ip nat post udp dport 5353 snat to 127.0.0.1:6000")
    script = ("import socket\n"
              "l=socket.socket(); l.bind(('127.0.0.1',4321)); l.listen()\n"
              "c=socket.create_connection(('127.0.0.1',1234)); a=l.accept()\n"
              "u=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.sendto(b'x', ('127.0.0.1',5353))\n"
              "import struct\n"
              "s=socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12); s.bind((0,0))\n"
              "s.send(struct.pack('=IHHII',20,(1<<8)|1,0x301,0x6d617371,0)+struct.pack('=BBH',2,0,0))\n"
              "import sys\n"
              "out=b''\n"
              "while True:\n"
              "  d=s.recv(32768); out+=d\n"
              "  if not d or struct.unpack_from('=H',d,len(d)-20 if len(d)>=20 else 0)[0] in (2,3) or b'' == d: break\n"
              "  if len(d)>=16 and struct.unpack_from('=H', d, 4)[0] in (2,3): break\n"
              "sys.stdout.buffer.write(out)\n")
    r = subprocess.run(["ip", "netns", "exec", NS, "timeout", "10", "python3", "-c", script], capture_output=True)
    if r.stdout:
        seed("conntrack", "dump-nat", b"\x00" + cut(r.stdout))
        seed("conntrack", "dump-nat-ext", b"\x02" + cut(r.stdout))
        # The first message's payload alone (selector bit 0: parse_conn).
        ln = struct.unpack_from("=I", r.stdout, 0)[0]
        seed("conntrack", "payload", b"\x01" + r.stdout[16:ln])
    else:
        print("conntrack capture: " + r.stderr.decode(errors="replace"), file=sys.stderr)
finally:
    sh("ip", "netns", "del", NS)
