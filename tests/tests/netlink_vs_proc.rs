//! Privileged: the sock_diag source (`netstat_user::source::netlink::dump`) against
//! `/proc/thread-self/net/*`, on real sockets in a fresh network namespace. Both are read from
//! the same thread, which alone has joined the namespace (unshare(CLONE_NEWNET) moves only
//! the calling thread), and /proc is parsed by the project's own `procnet::parse_inet`.
//!
//! Needs root: it creates a network namespace, brings its loopback up and makes a socket
//! owned by another uid. Run with the other privileged tests:
//! `cargo test -p netstat-tests -- --test-threads=1`.
use std::{
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    thread::sleep,
    time::Duration,
};

use netstat_common::TcpState;
use netstat_tests::require_root;
use netstat_user::{
    model::{Family, InetProto, InetSocket, Timer},
    source::{
        netlink::{DumpRequest, NetlinkError, dump},
        procnet::parse_inet,
    },
};

const ESTABLISHED: u8 = TcpState::Established as u8;
const SYN_RECV: u8 = TcpState::SynRecv as u8;
const FIN_WAIT2: u8 = TcpState::FinWait2 as u8;
const TIME_WAIT: u8 = TcpState::TimeWait as u8;
const CLOSE: u8 = TcpState::Close as u8;
const CLOSE_WAIT: u8 = TcpState::CloseWait as u8;
const LISTEN: u8 = TcpState::Listen as u8;

/// `/proc/net/tcp`'s `tr` column.
const TIMER_RETRANSMIT: u8 = 1;
const TIMER_KEEPALIVE: u8 = 2;
const TIMER_TIME_WAIT: u8 = 3;

/// Owner of the deferred-accept listener, and so (in /proc) of its request socket.
const LISTENER_UID: u32 = 4242;

/// Real sockets in a fresh network namespace, dumped and compared with
/// `/proc/thread-self/net/*` read from the same thread.
#[test]
fn matches_proc_net_in_a_fresh_netns() {
    require_root();
    // setns/unshare(CLONE_NEWNET) only affect the calling thread.
    std::thread::spawn(run)
        .join()
        .expect("the netns test thread panicked");
}

fn run() {
    // SAFETY: plain syscall on this thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        panic!("unshare(CLONE_NEWNET): {}", io::Error::last_os_error());
    }
    loopback_up();

    // --- tcp over IPv4 ---
    // A listener with one queued (unaccepted) connection and one accepted one
    // holding 1234 unread bytes; keepalive on the client.
    let l1 = TcpListener::bind("127.0.0.1:0").unwrap();
    let a1 = l1.local_addr().unwrap();
    let mut c1 = TcpStream::connect(a1).unwrap();
    let (s1, _) = l1.accept().unwrap();
    c1.write_all(&[7; 1234]).unwrap();
    setsockopt_int(c1.as_raw_fd(), libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1);
    let _queued = TcpStream::connect(a1).unwrap();
    // TIME_WAIT: the client closes first, then the server.
    let l2 = TcpListener::bind("127.0.0.2:0").unwrap();
    let c2 = TcpStream::connect(l2.local_addr().unwrap()).unwrap();
    let (s2, _) = l2.accept().unwrap();
    drop(c2);
    sleep(Duration::from_millis(50));
    drop(s2);
    // CLOSE_WAIT and an orphaned FIN_WAIT2 (a TIME_WAIT sock with substate FIN_WAIT2).
    let c3 = TcpStream::connect(l2.local_addr().unwrap()).unwrap();
    let (s3, _) = l2.accept().unwrap();
    drop(s3);
    // A request socket (SYN_RECV): with TCP_DEFER_ACCEPT the listener drops the bare
    // final ACK, so the request stays. The listener belongs to LISTENER_UID, which /proc
    // prints on the request row too.
    let l3 = as_fsuid(LISTENER_UID, || TcpListener::bind("127.0.0.3:0").unwrap());
    setsockopt_int(
        l3.as_raw_fd(),
        libc::IPPROTO_TCP,
        libc::TCP_DEFER_ACCEPT,
        30,
    );
    let _half = TcpStream::connect(l3.local_addr().unwrap()).unwrap();
    // A socket bound but neither listening nor connecting: not in /proc.
    let _bound = bound_only_tcp();

    // --- tcp over IPv6: [::1] and a v4-mapped peer on a dual-stack listener ---
    let l6 = TcpListener::bind("[::]:0").unwrap();
    let p6 = l6.local_addr().unwrap().port();
    let c6 = TcpStream::connect(("::1", p6)).unwrap();
    let c6m = TcpStream::connect(("127.0.0.1", p6)).unwrap();
    let (s6, _) = l6.accept().unwrap();
    let (s6m, _) = l6.accept().unwrap();

    // --- udp, udp-lite, raw ---
    let u1 = UdpSocket::bind("127.0.0.1:0").unwrap();
    let u2 = UdpSocket::bind("127.0.0.1:0").unwrap();
    u2.connect(u1.local_addr().unwrap()).unwrap();
    u2.send(&[1; 100]).unwrap();
    let u6 = UdpSocket::bind("[::1]:0").unwrap();
    let lite = dgram(libc::AF_INET, libc::IPPROTO_UDPLITE);
    let lite6 = dgram(libc::AF_INET6, libc::IPPROTO_UDPLITE);
    let raw = raw_socket();

    // Let delayed ACKs and FINs settle so timers stay put between the two reads.
    sleep(Duration::from_millis(300));

    let tcp4 = compare(InetProto::Tcp, Family::Inet, "tcp");
    let tcp6 = compare(InetProto::Tcp, Family::Inet6, "tcp6");
    let udp4 = compare(InetProto::Udp, Family::Inet, "udp");
    let udp6 = compare(InetProto::Udp, Family::Inet6, "udp6");
    if lite.is_some() {
        assert_eq!(
            compare(InetProto::UdpLite, Family::Inet, "udplite").len(),
            1
        );
    }
    if lite6.is_some() {
        assert_eq!(
            compare(InetProto::UdpLite, Family::Inet6, "udplite6").len(),
            1
        );
    }
    if raw.is_some() {
        // raw_diag is off on some kernels (CONFIG_INET_RAW_DIAG): then Unsupported.
        let req = DumpRequest {
            proto: InetProto::Raw,
            family: Family::Inet,
            want_timers: false,
        };
        match dump(&req) {
            Err(NetlinkError::Unsupported { .. }) => {}
            _ => assert_eq!(compare(InetProto::Raw, Family::Inet, "raw").len(), 1),
        }
    }

    // The test really covered what it means to.
    let has = |rows: &[InetSocket], f: &dyn Fn(&InetSocket) -> bool| rows.iter().any(f);
    assert!(has(&tcp4, &|r| r.state == LISTEN && r.rx_queue == 1));
    assert!(has(&tcp4, &|r| r.state == ESTABLISHED && r.rx_queue == 1234));
    assert!(has(&tcp4, &|r| r.state == TIME_WAIT
        && r.timer.kind == TIMER_TIME_WAIT
        && r.timer.when_ticks > 0));
    assert!(has(&tcp4, &|r| r.state == FIN_WAIT2
        && r.timer.kind == TIMER_TIME_WAIT));
    assert!(has(&tcp4, &|r| r.state == CLOSE_WAIT));
    assert!(has(&tcp4, &|r| r.state == LISTEN && r.uid == LISTENER_UID));
    assert!(has(&tcp4, &|r| r.state == SYN_RECV
        && r.uid == LISTENER_UID
        && r.timer.kind == TIMER_RETRANSMIT));
    assert!(has(&tcp4, &|r| r.timer.kind == TIMER_KEEPALIVE
        && r.timer.when_ticks > 0));
    assert!(
        !has(&tcp4, &|r| r.state == CLOSE),
        "bound-only socket listed"
    );
    let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
    assert!(has(&tcp6, &|r| r.local == mapped && r.state == ESTABLISHED));
    assert!(has(&tcp6, &|r| r.local == IpAddr::V6(Ipv6Addr::LOCALHOST)));
    assert!(
        has(&udp4, &|r| r.state == ESTABLISHED)
            && has(&udp4, &|r| r.state == CLOSE && r.rx_queue > 0)
    );
    assert_eq!(udp6.len(), 1);

    // Every socket lives up to here (locals drop at the end of scope).
    drop((c1, s1, c3, c6, c6m, s6, s6m, u1, u6, l1, l2, l3, l6));
}

/// Reads /proc first, then dumps twice (without and with timers): the rows must be equal,
/// timers included, except that time-left may have run down in between.
fn compare(proto: InetProto, family: Family, file: &str) -> Vec<InetSocket> {
    let path = format!("/proc/thread-self/net/{file}");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = String::from_utf8_lossy(&bytes);
    let parsed = parse_inet(&bytes, proto, family);
    assert!(
        parsed.bogus.is_empty(),
        "{path}: lines procnet::parse_inet could not use: {:?}\n{text}",
        parsed.bogus
    );
    let proc_rows = parsed.rows;
    let plain = dump(&DumpRequest {
        proto,
        family,
        want_timers: false,
    })
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    let untimed: Vec<InetSocket> = proc_rows
        .iter()
        .map(|r| InetSocket {
            timer: Timer::default(),
            ..r.clone()
        })
        .collect();
    // /proc has no cookie column.
    let plain: Vec<InetSocket> = plain
        .into_iter()
        .map(|r| InetSocket { cookie: 0, ..r })
        .collect();
    assert_eq!(plain, untimed, "{file} without timers\n{text}");

    let timed = dump(&DumpRequest {
        proto,
        family,
        want_timers: true,
    })
    .unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(timed.len(), proc_rows.len(), "{file}\n{text}");
    for (d, p) in timed.iter().zip(&proc_rows) {
        // Up to 2 s may pass between the two reads on a loaded machine.
        let when_ok = d.timer.when_ticks <= p.timer.when_ticks
            && p.timer.when_ticks - d.timer.when_ticks <= 200;
        assert!(
            when_ok,
            "{file}: timer {:?} vs /proc {:?}",
            d.timer, p.timer
        );
        // A deferred-accept request's timer may fire (at 1 s) without a resend:
        // /proc counts it (num_timeout), inet_diag does not (num_retrans). This is why
        // netstat reads /proc for `-o` on tcp.
        let request_sock = p.state == SYN_RECV && p.inode == 0;
        let retransmits = if request_sock && d.timer.retransmits <= p.timer.retransmits {
            p.timer.retransmits
        } else {
            d.timer.retransmits
        };
        let d = InetSocket {
            timer: Timer {
                when_ticks: p.timer.when_ticks,
                retransmits,
                ..d.timer
            },
            cookie: 0,
            ..d.clone()
        };
        assert_eq!(&d, p, "{file} with timers\n{text}");
    }
    proc_rows
}

fn loopback_up() {
    #[repr(C)]
    struct IfReq {
        name: [u8; 16],
        flags: libc::c_short,
        _pad: [u8; 22],
    }
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0).expect("AF_INET socket");
    let mut ifr = IfReq {
        name: *b"lo\0\0\0\0\0\0\0\0\0\0\0\0\0\0",
        flags: 0,
        _pad: [0; 22],
    };
    // SAFETY: ifr is a valid struct ifreq (40 bytes) for both ioctls.
    unsafe {
        assert_eq!(libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr), 0);
        ifr.flags |= libc::IFF_UP as libc::c_short;
        assert_eq!(libc::ioctl(fd.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr), 0);
    }
}

fn socket(domain: i32, ty: i32, proto: i32) -> Option<OwnedFd> {
    // SAFETY: plain syscall; a non-negative result is a fresh fd we own.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, proto) };
    // SAFETY: as above.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
}

fn bind(fd: &OwnedFd, addr: SocketAddr) {
    let (ptr, len, v4, v6);
    match addr {
        SocketAddr::V4(a) => {
            v4 = libc::sockaddr_in {
                sin_family: libc::AF_INET as u16,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            ptr = &v4 as *const _ as *const libc::sockaddr;
            len = size_of::<libc::sockaddr_in>();
        }
        SocketAddr::V6(a) => {
            // SAFETY: sockaddr_in6 is plain data; all-zero is valid.
            let mut s: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            s.sin6_family = libc::AF_INET6 as u16;
            s.sin6_addr.s6_addr = a.ip().octets();
            v6 = s;
            ptr = &v6 as *const _ as *const libc::sockaddr;
            len = size_of::<libc::sockaddr_in6>();
        }
    }
    // SAFETY: ptr/len describe a live sockaddr of the right family.
    let rc = unsafe { libc::bind(fd.as_raw_fd(), ptr, len as libc::socklen_t) };
    assert_eq!(rc, 0, "bind {addr}: {}", io::Error::last_os_error());
}

fn bound_only_tcp() -> OwnedFd {
    let fd = socket(libc::AF_INET, libc::SOCK_STREAM, 0).unwrap();
    bind(&fd, "127.0.0.1:0".parse().unwrap());
    fd
}

/// A bound datagram socket of `proto`, or None if this kernel refuses it (UDP-Lite
/// is on its way out of Linux).
fn dgram(domain: i32, proto: i32) -> Option<OwnedFd> {
    let fd = socket(domain, libc::SOCK_DGRAM, proto)?;
    let addr = if domain == libc::AF_INET {
        "127.0.0.1:0"
    } else {
        "[::1]:0"
    };
    bind(&fd, addr.parse().unwrap());
    Some(fd)
}

fn raw_socket() -> Option<OwnedFd> {
    socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP)
}

/// Runs `f` with this thread's fsuid set to `uid`: sockets it creates belong to `uid`.
fn as_fsuid<T>(uid: u32, f: impl FnOnce() -> T) -> T {
    // SAFETY: setfsuid(2) as a raw syscall changes this thread only (glibc's wrapper
    // would too, but the raw call makes it certain).
    unsafe { libc::syscall(libc::SYS_setfsuid, uid) };
    let out = f();
    // SAFETY: as above, back to root.
    unsafe { libc::syscall(libc::SYS_setfsuid, 0) };
    out
}

fn setsockopt_int(fd: i32, level: i32, name: i32, value: i32) {
    // SAFETY: value is a live c_int of the size passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            &value as *const i32 as *const libc::c_void,
            size_of::<i32>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", io::Error::last_os_error());
}
