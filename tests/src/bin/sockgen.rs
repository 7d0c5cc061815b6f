//! Socket generator for the netstat comparison tests.
//!
//! Run inside a fresh network namespace (`ip netns exec NS sockgen ...`). It builds a known
//! set of sockets, waits until the kernel has settled them (no transient TCP states, stable
//! queues), prints `ready` on stdout and holds everything until its stdin closes.
//!
//! ```text
//! sockgen [--full --dir DIR] [--owned-by UID] [--listen ADDR]... [--connect ADDR]...
//! ```
//!
//! * `--full --dir DIR`: the full set (TCP, UDP, UDP-Lite, raw, unix); unix paths go under DIR.
//! * `--owned-by UID`: also a child process running as UID (and gid UID) with argv[0]
//!   `a-very-long-program-name-for-testing`, holding a TCP listener on 127.0.0.1:9999, a UDP
//!   socket on 127.0.0.1:9998 and an abstract unix listener `@nst-owned`.
//! * `--listen ADDR`: a TCP listener on ADDR that never accepts.
//! * `--connect ADDR`: a TCP connection to ADDR, held open.
//!
//! Only std and libc: this binary runs as a child of the tests, never as part of netstat.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::mem;
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram, UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// argv[0] of the `--owned-by` child: longer than the 19 characters netstat keeps for `-p`.
const OWNED_ARGV0: &str = "a-very-long-program-name-for-testing";
/// Hidden mode used by the `--owned-by` child.
const CHILD_FLAG: &str = "--child-owned";
/// IPPROTO_UDPLITE (not in every libc crate version as a constant).
const IPPROTO_UDPLITE: libc::c_int = 136;
/// Length of the long unix socket path: over 100 characters, under sun_path's 108.
const LONG_PATH_LEN: usize = 104;

type Result<T> = std::result::Result<T, String>;

/// Everything the generator keeps open until stdin closes.
#[derive(Default)]
struct Held {
    fds: Vec<OwnedFd>,
    tcp: Vec<TcpStream>,
    listeners: Vec<TcpListener>,
    udp: Vec<UdpSocket>,
    unix_streams: Vec<UnixStream>,
    unix_listeners: Vec<UnixListener>,
    unix_dgrams: Vec<UnixDatagram>,
    children: Vec<(Child, ChildStdin)>,
}

#[derive(Default)]
struct Options {
    full: bool,
    dir: Option<PathBuf>,
    owned_by: Option<u32>,
    listen: Vec<SocketAddr>,
    connect: Vec<SocketAddr>,
    child_owned: bool,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sockgen: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let opts = parse_args(std::env::args_os().skip(1))?;
    let mut held = Held::default();
    if opts.child_owned {
        build_owned(&mut held)?;
    } else {
        if opts.full {
            let dir = opts
                .dir
                .as_deref()
                .ok_or("--full needs --dir DIR for the unix socket paths")?;
            build_tcp(&mut held)?;
            build_udp(&mut held)?;
            build_raw(&mut held)?;
            build_unix(&mut held, dir)?;
        }
        for addr in &opts.listen {
            let l = tcp_listener(*addr, None, 16)?;
            held.listeners.push(l);
        }
        for addr in &opts.connect {
            let s = TcpStream::connect_timeout(addr, Duration::from_secs(5))
                .map_err(|e| format!("connect to {addr}: {e}"))?;
            held.tcp.push(s);
        }
        if let Some(uid) = opts.owned_by {
            let child = spawn_owned(uid)?;
            held.children.push(child);
        }
    }
    // The child's sockets share our namespace: the parent settles them all.
    if !opts.child_owned {
        settle()?;
    }
    println!("ready");
    io::stdout()
        .flush()
        .map_err(|e| format!("flush stdout: {e}"))?;
    // Hold everything until the test closes our stdin.
    let mut sink = Vec::new();
    let _ = io::stdin().read_to_end(&mut sink);
    for (mut child, stdin) in held.children.drain(..) {
        drop(stdin);
        let _ = child.wait();
    }
    drop(held);
    Ok(())
}

fn parse_args(args: impl Iterator<Item = OsString>) -> Result<Options> {
    let mut opts = Options::default();
    let mut args = args.map(|a| a.to_string_lossy().into_owned());
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--full" => opts.full = true,
            "--dir" => opts.dir = Some(PathBuf::from(value("--dir")?)),
            "--owned-by" => {
                let v = value("--owned-by")?;
                opts.owned_by = Some(v.parse().map_err(|e| format!("--owned-by {v}: {e}"))?);
            }
            "--listen" => opts.listen.push(parse_addr(&value("--listen")?)?),
            "--connect" => opts.connect.push(parse_addr(&value("--connect")?)?),
            CHILD_FLAG => opts.child_owned = true,
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(opts)
}

fn parse_addr(s: &str) -> Result<SocketAddr> {
    s.parse()
        .map_err(|e| format!("bad socket address {s:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// TCP

fn build_tcp(held: &mut Held) -> Result<()> {
    let lo4 = Ipv4Addr::LOCALHOST;
    let any4 = Ipv4Addr::UNSPECIFIED;
    let lo6 = Ipv6Addr::LOCALHOST;
    let any6 = Ipv6Addr::UNSPECIFIED;

    // Listeners. 8080 = http-alt, 5432 = postgresql, 8081 = tproxy in /etc/services.
    let l_http = tcp_listener(v4(any4, 8080), None, 16)?;
    let l_22222 = tcp_listener(v4(lo4, 22222), None, 16)?;
    let l_v6only = tcp_listener(v6(any6, 8443), Some(true), 16)?;
    let l_dual = tcp_listener(v6(any6, 33333), Some(false), 16)?;
    let l_pg = tcp_listener(v6(lo6, 5432), None, 16)?;
    let l_tproxy = tcp_listener(v4(lo4, 8081), None, 16)?;
    let l_pending = tcp_listener(v4(lo4, 11111), None, 4)?;

    // v4 pair: the client fills the server's receive window (server Recv-Q, client Send-Q).
    let (c1, s1) = tcp_pair(&l_22222, v4(lo4, 22222))?;
    fill(&c1)?;
    held.tcp.extend([c1, s1]);

    // v6 pair: the same over ::1.
    let (c2, s2) = tcp_pair(&l_pg, v6(lo6, 5432))?;
    fill(&c2)?;
    held.tcp.extend([c2, s2]);

    // v4-mapped: a v4 client on the dual-stack listener; keepalive on the client and
    // 1234 unread bytes on the server.
    let (c3, s3) = tcp_pair(&l_dual, v4(lo4, 33333))?;
    set_int(&c3, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1, "SO_KEEPALIVE")?;
    write_all(&c3, &[b'k'; 1234])?;
    held.tcp.extend([c3, s3]);

    // Plain idle pair on the 0.0.0.0 listener.
    let (c4, s4) = tcp_pair(&l_http, v4(lo4, 8080))?;
    held.tcp.extend([c4, s4]);

    // CLOSE_WAIT (client) + FIN_WAIT2 (server, closed while the client keeps its end open).
    let (c5, s5) = tcp_pair(&l_tproxy, v4(lo4, 8081))?;
    drop(s5);
    wait_peer_closed(&c5)?;
    held.tcp.push(c5);

    // TIME_WAIT: exchange a message, the client closes first, the server reads EOF and closes.
    let (mut c6, mut s6) = tcp_pair(&l_tproxy, v4(lo4, 8081))?;
    c6.write_all(b"ping")
        .map_err(|e| format!("TIME_WAIT ping: {e}"))?;
    read_exact(&mut s6, 4)?;
    s6.write_all(b"pong")
        .map_err(|e| format!("TIME_WAIT pong: {e}"))?;
    read_exact(&mut c6, 4)?;
    drop(c6);
    let mut rest = Vec::new();
    s6.read_to_end(&mut rest)
        .map_err(|e| format!("TIME_WAIT server read to EOF: {e}"))?;
    drop(s6);

    // A connection left in the listener's accept queue (listener Recv-Q 1, inode 0).
    let pending = TcpStream::connect_timeout(&v4(lo4, 11111), Duration::from_secs(5))
        .map_err(|e| format!("connect to pending listener: {e}"))?;
    held.tcp.push(pending);

    held.listeners
        .extend([l_http, l_22222, l_v6only, l_dual, l_pg, l_tproxy, l_pending]);
    Ok(())
}

fn tcp_listener(addr: SocketAddr, v6only: Option<bool>, backlog: i32) -> Result<TcpListener> {
    let fd = new_socket(domain_of(&addr), libc::SOCK_STREAM, 0, "TCP socket")?;
    set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1, "SO_REUSEADDR")?;
    if let Some(only) = v6only {
        set_int(
            &fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_V6ONLY,
            i32::from(only),
            "IPV6_V6ONLY",
        )?;
    }
    bind(&fd, &addr)?;
    // SAFETY: fd is a valid socket we own.
    check(
        unsafe { libc::listen(fd.as_raw_fd(), backlog) },
        &format!("listen on {addr}"),
    )?;
    Ok(TcpListener::from(fd))
}

/// Connects to `addr` (served by `listener`) and accepts: (client, server).
fn tcp_pair(listener: &TcpListener, addr: SocketAddr) -> Result<(TcpStream, TcpStream)> {
    let client = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    let (server, _) = listener
        .accept()
        .map_err(|e| format!("accept on {addr}: {e}"))?;
    Ok((client, server))
}

/// Writes without blocking until the peer's window and our send buffer are full.
fn fill(stream: &TcpStream) -> Result<()> {
    stream
        .set_nonblocking(true)
        .map_err(|e| format!("set_nonblocking: {e}"))?;
    let chunk = vec![b'f'; 65536];
    let mut idle_rounds = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    // Stop after several consecutive rounds in which nothing more could be written.
    while idle_rounds < 3 {
        if Instant::now() > deadline {
            return Err("filling a TCP connection did not finish within 10 s".into());
        }
        let mut wrote = false;
        loop {
            match (&*stream).write(&chunk) {
                Ok(0) => break,
                Ok(_) => wrote = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(format!("fill write: {e}")),
            }
        }
        idle_rounds = if wrote { 0 } else { idle_rounds + 1 };
        thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

fn write_all(stream: &TcpStream, data: &[u8]) -> Result<()> {
    (&*stream)
        .write_all(data)
        .map_err(|e| format!("write {} bytes: {e}", data.len()))
}

fn read_exact(stream: &mut TcpStream, n: usize) -> Result<()> {
    let mut buf = vec![0; n];
    stream
        .read_exact(&mut buf)
        .map_err(|e| format!("read {n} bytes: {e}"))
}

/// Waits until the peer's FIN has arrived, without consuming it (Recv-Q keeps counting it).
fn wait_peer_closed(stream: &TcpStream) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd: stream.as_raw_fd(),
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    check(n, "poll for peer close")?;
    if n == 0 {
        return Err("peer close not seen within 5 s".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// UDP and UDP-Lite

fn build_udp(held: &mut Held) -> Result<()> {
    let lo4 = Ipv4Addr::LOCALHOST;
    let any6 = Ipv6Addr::UNSPECIFIED;
    let lo6 = Ipv6Addr::LOCALHOST;

    // 0.0.0.0:53 (domain).
    held.udp.push(udp_bind(v4(Ipv4Addr::UNSPECIFIED, 53))?);
    // 127.0.0.1:123 (ntp) receives two datagrams that are never read.
    let ntp = udp_bind(v4(lo4, 123))?;
    let sender = udp_bind(v4(lo4, 40000))?;
    sender
        .connect(v4(lo4, 123))
        .map_err(|e| format!("UDP connect to 127.0.0.1:123: {e}"))?;
    for msg in [&b"hello"[..], &b"world!"[..]] {
        sender
            .send(msg)
            .map_err(|e| format!("UDP send to 127.0.0.1:123: {e}"))?;
    }
    wait_readable(ntp.as_raw_fd(), "datagrams on 127.0.0.1:123")?;
    held.udp.extend([ntp, sender]);
    // [::]:5353 (mdns) and a connected v6 socket from [::1]:40001.
    held.udp.push(udp_bind(v6(any6, 5353))?);
    let c6 = udp_bind(v6(lo6, 40001))?;
    c6.connect(v6(lo6, 5353))
        .map_err(|e| format!("UDP connect to [::1]:5353: {e}"))?;
    held.udp.push(c6);
    // A high unnamed port.
    held.udp.push(udp_bind(v4(lo4, 41234))?);

    // UDP-Lite v4 and v6.
    for addr in [v4(Ipv4Addr::UNSPECIFIED, 7777), v6(any6, 7778)] {
        let fd = new_socket(
            domain_of(&addr),
            libc::SOCK_DGRAM,
            IPPROTO_UDPLITE,
            "UDP-Lite",
        )?;
        bind(&fd, &addr)?;
        held.fds.push(fd);
    }
    Ok(())
}

fn udp_bind(addr: SocketAddr) -> Result<UdpSocket> {
    UdpSocket::bind(addr).map_err(|e| format!("UDP bind {addr}: {e}"))
}

fn wait_readable(fd: libc::c_int, what: &str) -> Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: pfd is a valid pollfd for the duration of the call.
    let n = unsafe { libc::poll(&mut pfd, 1, 5000) };
    check(n, &format!("poll for {what}"))?;
    if n == 0 {
        return Err(format!("{what}: nothing arrived within 5 s"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Raw

fn build_raw(held: &mut Held) -> Result<()> {
    held.fds.push(new_socket(
        libc::AF_INET,
        libc::SOCK_RAW,
        libc::IPPROTO_ICMP,
        "raw ICMP",
    )?);
    // 253: "use for experimentation and testing", no /etc/protocols name.
    held.fds
        .push(new_socket(libc::AF_INET, libc::SOCK_RAW, 253, "raw 253")?);
    held.fds.push(new_socket(
        libc::AF_INET6,
        libc::SOCK_RAW,
        libc::IPPROTO_ICMPV6,
        "raw ICMPv6",
    )?);
    // A connected raw socket (protocol 254, so no other traffic reaches it).
    let fd = new_socket(libc::AF_INET, libc::SOCK_RAW, 254, "raw 254")?;
    bind(&fd, &v4(Ipv4Addr::LOCALHOST, 0))?;
    connect(&fd, &v4(Ipv4Addr::LOCALHOST, 0))?;
    held.fds.push(fd);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Unix

fn build_unix(held: &mut Held, dir: &Path) -> Result<()> {
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;

    // Stream listener with a path, and a connected pair through it.
    let stream_path = dir.join("stream.sock");
    let listener = unix_listener(&stream_path)?;
    let client =
        UnixStream::connect(&stream_path).map_err(|e| format!("connect {stream_path:?}: {e}"))?;
    let (server, _) = listener
        .accept()
        .map_err(|e| format!("accept on {stream_path:?}: {e}"))?;
    held.unix_streams.extend([client, server]);
    held.unix_listeners.push(listener);

    // Datagram socket bound to a path, and an unbound datagram connected to it.
    let dgram_path = dir.join("dgram.sock");
    let dgram = UnixDatagram::bind(&dgram_path).map_err(|e| format!("bind {dgram_path:?}: {e}"))?;
    let dclient = UnixDatagram::unbound().map_err(|e| format!("unbound datagram: {e}"))?;
    dclient
        .connect(&dgram_path)
        .map_err(|e| format!("connect {dgram_path:?}: {e}"))?;
    held.unix_dgrams.extend([dgram, dclient]);

    // Seqpacket listener.
    let seq_path = dir.join("seq.sock");
    let seq = new_socket(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, "seqpacket socket")?;
    bind_unix_path(&seq, &seq_path)?;
    // SAFETY: seq is a valid socket we own.
    check(
        unsafe { libc::listen(seq.as_raw_fd(), 4) },
        "listen on seqpacket",
    )?;
    held.fds.push(seq);

    // Abstract name (leading NUL).
    let abstract_addr = UnixAddr::from_abstract_name(b"nst-abstract")
        .map_err(|e| format!("abstract address: {e}"))?;
    let abs = UnixListener::bind_addr(&abstract_addr)
        .map_err(|e| format!("bind abstract @nst-abstract: {e}"))?;
    held.unix_listeners.push(abs);

    // A path over 100 characters.
    let prefix = dir.join("long-");
    let prefix_len = prefix.as_os_str().len();
    if prefix_len + 6 > LONG_PATH_LEN {
        return Err(format!(
            "--dir {} is too long for the long-path socket",
            dir.display()
        ));
    }
    let mut long = prefix.into_os_string();
    long.push("x".repeat(LONG_PATH_LEN - prefix_len - 5));
    long.push(".sock");
    held.unix_listeners.push(unix_listener(Path::new(&long))?);

    // A path with a space (net-tools stops at the first whitespace).
    let space_path = dir.join("with space.sock");
    held.unix_dgrams
        .push(UnixDatagram::bind(&space_path).map_err(|e| format!("bind {space_path:?}: {e}"))?);

    // Names that test net-tools' sscanf("%s") reading of the path: bound relative to
    // `dir` so the name itself starts with whitespace; a vertical tab, bytes that are
    // not UTF-8, and a trailing newline (which leaves a blank line in /proc/net/unix,
    // reported as a bogus line).
    std::env::set_current_dir(dir).map_err(|e| format!("chdir {}: {e}", dir.display()))?;
    for name in [
        &b" lead"[..],
        b"\tlead2",
        b"vt\x0bx",
        b"bin\xff\xfe",
        b"nl\n",
    ] {
        let fd = new_socket(libc::AF_UNIX, libc::SOCK_DGRAM, 0, "odd-name datagram")?;
        bind_unix_path(&fd, Path::new(std::ffi::OsStr::from_bytes(name)))?;
        held.fds.push(fd);
    }

    // Unnamed pairs and an unbound datagram socket.
    let (a, b) = UnixStream::pair().map_err(|e| format!("stream socketpair: {e}"))?;
    held.unix_streams.extend([a, b]);
    let (a, b) = UnixDatagram::pair().map_err(|e| format!("datagram socketpair: {e}"))?;
    held.unix_dgrams.extend([a, b]);
    held.unix_dgrams
        .push(UnixDatagram::unbound().map_err(|e| format!("unbound datagram: {e}"))?);
    Ok(())
}

fn unix_listener(path: &Path) -> Result<UnixListener> {
    UnixListener::bind(path).map_err(|e| format!("bind {}: {e}", path.display()))
}

fn bind_unix_path(fd: &OwnedFd, path: &Path) -> Result<()> {
    // SAFETY: sockaddr_un is plain old data; all-zero is a valid value.
    let mut sun: libc::sockaddr_un = unsafe { mem::zeroed() };
    sun.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let bytes = path.as_os_str().as_encoded_bytes();
    if bytes.len() >= sun.sun_path.len() {
        return Err(format!("unix path too long: {}", path.display()));
    }
    for (dst, src) in sun.sun_path.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    let len = mem::size_of::<libc::sa_family_t>() + bytes.len() + 1;
    // SAFETY: sun is a valid sockaddr_un and len does not exceed its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&raw const sun).cast::<libc::sockaddr>(),
            len as libc::socklen_t,
        )
    };
    check(rc, &format!("bind {}", path.display())).map(drop)
}

// ---------------------------------------------------------------------------------------------
// Sockets owned by another user

fn spawn_owned(uid: u32) -> Result<(Child, ChildStdin)> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(&exe)
        .arg0(OWNED_ARGV0)
        .arg(CHILD_FLAG)
        .uid(uid)
        .gid(uid)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn {} as uid {uid}: {e}", exe.display()))?;
    let stdin = child.stdin.take().ok_or("child stdin missing")?;
    let stdout = child.stdout.take().ok_or("child stdout missing")?;
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .map_err(|e| format!("read child's ready line: {e}"))?;
    if line.trim() != "ready" {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("child running as uid {uid} failed (said {line:?})"));
    }
    Ok((child, stdin))
}

fn build_owned(held: &mut Held) -> Result<()> {
    held.listeners
        .push(tcp_listener(v4(Ipv4Addr::LOCALHOST, 9999), None, 4)?);
    held.udp.push(udp_bind(v4(Ipv4Addr::LOCALHOST, 9998))?);
    let addr =
        UnixAddr::from_abstract_name(b"nst-owned").map_err(|e| format!("abstract address: {e}"))?;
    held.unix_listeners.push(
        UnixListener::bind_addr(&addr).map_err(|e| format!("bind abstract @nst-owned: {e}"))?,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settling: wait until /proc/net/tcp{,6} shows no transient state and stable queues.

/// Kernel TCP states that only last a moment (SYN_SENT, SYN_RECV, FIN_WAIT1, LAST_ACK, CLOSING).
const TRANSIENT_STATES: [u8; 5] = [2, 3, 4, 9, 11];
/// How long the TCP tables must stay unchanged: longer than a loopback delayed ACK (40 ms).
const STABLE_FOR: Duration = Duration::from_millis(200);

fn settle() -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut last: Option<BTreeMap<String, (u8, String)>> = None;
    let mut stable_since = Instant::now();
    loop {
        let snap = tcp_snapshot()?;
        let transient = snap.values().any(|(st, _)| TRANSIENT_STATES.contains(st));
        if transient || last.as_ref() != Some(&snap) {
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= STABLE_FOR {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("TCP sockets did not settle within 15 s: {snap:?}"));
        }
        last = Some(snap);
        thread::sleep(Duration::from_millis(20));
    }
}

/// (local, remote) -> (state, "tx:rx") for every TCP socket of this namespace.
fn tcp_snapshot() -> Result<BTreeMap<String, (u8, String)>> {
    let mut out = BTreeMap::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = fs::read_to_string(file).map_err(|e| format!("read {file}: {e}"))?;
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 {
                continue;
            }
            let state = u8::from_str_radix(f[3], 16).unwrap_or(0);
            out.insert(format!("{} {}", f[1], f[2]), (state, f[4].to_string()));
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Thin libc wrappers

fn v4(ip: Ipv4Addr, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(ip, port))
}

fn v6(ip: Ipv6Addr, port: u16) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, 0))
}

fn domain_of(addr: &SocketAddr) -> libc::c_int {
    match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    }
}

fn check(rc: libc::c_int, what: &str) -> Result<libc::c_int> {
    if rc < 0 {
        Err(format!("{what}: {}", io::Error::last_os_error()))
    } else {
        Ok(rc)
    }
}

fn new_socket(
    domain: libc::c_int,
    ty: libc::c_int,
    proto: libc::c_int,
    what: &str,
) -> Result<OwnedFd> {
    // SAFETY: plain syscall; the result is checked before use.
    let fd = check(
        unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) },
        &format!("socket({what})"),
    )?;
    // SAFETY: fd was just returned by socket() and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_int(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
    what: &str,
) -> Result<()> {
    // SAFETY: value outlives the call and the length matches its type.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&raw const value).cast::<libc::c_void>(),
            mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    check(rc, &format!("setsockopt {what}")).map(drop)
}

fn sockaddr(addr: &SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from(*a.ip()).to_be(),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in>().write(sin) };
            mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_storage is large enough and suitably aligned for sockaddr_in6.
            unsafe { (&raw mut storage).cast::<libc::sockaddr_in6>().write(sin6) };
            mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

fn bind(fd: &OwnedFd, addr: &SocketAddr) -> Result<()> {
    let (sa, len) = sockaddr(addr);
    // SAFETY: sa is a valid socket address of length len.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const sa).cast(), len) };
    check(rc, &format!("bind {addr}")).map(drop)
}

fn connect(fd: &OwnedFd, addr: &SocketAddr) -> Result<()> {
    let (sa, len) = sockaddr(addr);
    // SAFETY: sa is a valid socket address of length len.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), (&raw const sa).cast(), len) };
    check(rc, &format!("connect {addr}")).map(drop)
}
