//! net-tools 2.10 socket tables, byte for byte (`netstat.c`: `tcp_do_one()`,
//! `udp_do_one()`, `raw_do_one()`, `finish_this_one()`, `addr_do_one()`, `unix_do_one()`).
//!
//! Renderers only format: the caller hands rows from any source, the names to use
//! through [`Namer`], and a writer.
use std::{
    io::{self, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use netstat_common::TcpState;

use crate::{
    model::{Family, InetProto, InetSocket, UnixSocket},
    names::ntop6,
};

/// Display switches of the socket tables (a projection of the parsed options).
#[derive(Clone, Copy, Debug, Default)]
pub struct SocketView {
    pub all: bool,
    pub listening: bool,
    pub numeric_hosts: bool,
    pub numeric_ports: bool,
    pub numeric_users: bool,
    /// `-e` given (net-tools: `flag_exp > 1`): User and Inode columns.
    pub extend: bool,
    pub programs: bool,
    pub timers: bool,
    pub wide: bool,
}

/// Which service list a port is looked up in (net-tools keeps three).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceList {
    Tcp,
    Udp,
    Raw,
}

/// Name lookups the tables need. Numeric switches are applied by the renderer; a
/// `Namer` is only asked when a name is wanted.
pub trait Namer {
    /// Reverse lookup of a host address; `None` means "print it numerically".
    fn host(&mut self, addr: IpAddr) -> Option<String>;
    fn service(&self, port: u16, list: ServiceList) -> Option<&str>;
    fn user(&mut self, uid: u32) -> Option<String>;
}

/// A `Namer` that knows no names (numeric output, and tests).
pub struct NoNames;

impl Namer for NoNames {
    fn host(&mut self, _: IpAddr) -> Option<String> {
        None
    }
    fn service(&self, _: u16, _: ServiceList) -> Option<&str> {
        None
    }
    fn user(&mut self, _: u32) -> Option<String> {
        None
    }
}

fn title(view: &SocketView) -> &'static str {
    if view.all {
        "(servers and established)"
    } else if view.listening {
        "(only servers)"
    } else {
        "(w/o servers)"
    }
}

/// The header printed once before the tcp rows whenever an Internet protocol is selected.
pub fn write_inet_header(out: &mut dyn Write, view: &SocketView) -> io::Result<()> {
    let mut h = format!(
        "Active Internet connections {}\nProto Recv-Q Send-Q Local Address           Foreign Address         State      ",
        title(view)
    );
    if view.extend {
        h.push_str(" User       Inode     ");
    }
    if view.programs {
        h.push_str(&format!(" {:<20}", "PID/Program name"));
    }
    if view.timers {
        h.push_str(" Timer");
    }
    h.push('\n');
    out.write_all(h.as_bytes())
}

/// Whether net-tools would print this row under `-a`/`-l`/neither (reference §2.2).
pub fn inet_shown(view: &SocketView, s: &InetSocket) -> bool {
    if view.all {
        return true;
    }
    match s.proto {
        // tcp tests the remote *port*, not the state.
        InetProto::Tcp => (s.remote_port == 0) == view.listening,
        // udp, udplite and raw test the remote *address*.
        _ => s.remote.is_unspecified() == view.listening,
    }
}

/// The Proto column label.
pub fn proto_label(proto: InetProto, family: Family) -> &'static str {
    let six = family == Family::Inet6;
    match (proto, six) {
        (InetProto::Tcp, false) => "tcp",
        (InetProto::Tcp, true) => "tcp6",
        (InetProto::Udp, false) => "udp",
        (InetProto::Udp, true) => "udp6",
        (InetProto::UdpLite, false) => "udpl",
        (InetProto::UdpLite, true) => "udpl6",
        (InetProto::Raw, false) => "raw",
        (InetProto::Raw, true) => "raw6",
        (InetProto::Sctp, _) => "sctp",
    }
}

/// net-tools' name for a kernel TCP state (its `tcp_state[]`: "" for 0, then the
/// kernel names of 1 to 11). Out of range it reads past its array (C undefined
/// behaviour); we print `UNKNOWN` instead.
pub fn tcp_state_name(state: u8) -> &'static str {
    match state {
        0 => "",
        1..=11 => TcpState::from_kernel(state).map_or("UNKNOWN", TcpState::name),
        _ => "UNKNOWN",
    }
}

/// Renders one Internet row (the caller checked [`inet_shown`]). `program` is the
/// `PID/name` for `-p`, if known.
pub fn write_inet_row(
    out: &mut dyn Write,
    view: &SocketView,
    names: &mut dyn Namer,
    s: &InetSocket,
    program: Option<&[u8]>,
) -> io::Result<()> {
    let list = match s.proto {
        InetProto::Tcp | InetProto::Sctp => ServiceList::Tcp,
        InetProto::Udp | InetProto::UdpLite => ServiceList::Udp,
        InetProto::Raw => ServiceList::Raw,
    };
    let local = addr_port(view, names, s.local, s.local_port, list);
    let remote = addr_port(view, names, s.remote, s.remote_port, list);
    let prot = proto_label(s.proto, s.family);
    let mut line: Vec<u8> = Vec::with_capacity(160);
    // Recv-Q and Send-Q are `%6ld` of unsigned kernel values.
    let (rxq, txq) = (s.rx_queue as i64, s.tx_queue as i64);
    match s.proto {
        InetProto::Tcp | InetProto::Sctp => {
            let _ = write!(line, "{prot:<4}  {rxq:>6} {txq:>6} ");
            pad(&mut line, &local, 23);
            line.push(b' ');
            pad(&mut line, &remote, 23);
            let _ = write!(line, " {:<11}", tcp_state_name(s.state));
        }
        InetProto::Udp | InetProto::UdpLite => {
            let state = match s.state {
                1 => "ESTABLISHED",
                7 => "",
                _ => "UNKNOWN",
            };
            let _ = write!(line, "{prot:<5} {rxq:>6} {txq:>6} ");
            pad(&mut line, &local, 23);
            line.push(b' ');
            pad(&mut line, &remote, 23);
            let _ = write!(line, " {state:<11}");
        }
        InetProto::Raw => {
            let _ = write!(line, "{prot:<4}  {rxq:>6} {txq:>6} ");
            pad(&mut line, &local, 23);
            line.push(b' ');
            pad(&mut line, &remote, 23);
            let _ = write!(line, " {:<11}", s.state);
        }
    }
    finish_row(&mut line, view, names, s.uid, s.inode, program);
    if view.timers {
        line.push(b' ');
        line.extend_from_slice(timer_text(s).as_bytes());
    }
    line.push(b'\n');
    out.write_all(&line)
}

/// `finish_this_one()` up to the timer: User and Inode for `-e`, then `-p`.
fn finish_row(
    line: &mut Vec<u8>,
    view: &SocketView,
    names: &mut dyn Namer,
    uid: u32,
    inode: u64,
    program: Option<&[u8]>,
) {
    if view.extend {
        match (!view.numeric_users).then(|| names.user(uid)).flatten() {
            Some(name) => {
                // printf pads by bytes, not characters.
                line.push(b' ');
                pad(line, name.as_bytes(), 10);
                line.push(b' ');
            }
            // `%d` of an `int`: uids above i32::MAX print negative, as net-tools does.
            None => {
                let _ = write!(line, " {:<10} ", uid as i32);
            }
        }
        let _ = write!(line, "{inode:<10}");
    }
    if view.programs {
        line.push(b' ');
        pad(line, program.unwrap_or(b"-"), 20);
    }
}

/// The Timer column text (reference §2.7).
pub fn timer_text(s: &InetSocket) -> String {
    let t = &s.timer;
    let (retr, probes) = (t.retransmits as i64, t.probes as i32);
    let secs = t.when_ticks as f64 / 100.0;
    match s.proto {
        InetProto::Tcp | InetProto::Sctp => match t.kind {
            0 => format!("off (0.00/{retr}/{probes})"),
            1 => format!("on ({secs:.2}/{retr}/{probes})"),
            2 => format!("keepalive ({secs:.2}/{retr}/{probes})"),
            3 => format!("timewait ({secs:.2}/{retr}/{probes})"),
            4 => format!("probe ({secs:.2}/{retr}/{probes})"),
            k => format!("unkn-{k} ({secs:.2}/{retr}/{probes})"),
        },
        // udp_do_one() forces retr to 0; raw_do_one() keeps it. Both divide by 100.
        _ => {
            let retr = if matches!(s.proto, InetProto::Raw) {
                retr
            } else {
                0
            };
            match t.kind {
                0 => format!("off (0.00/{retr}/{probes})"),
                k @ (1 | 2) => format!("on{k} ({secs:.2}/{retr}/{probes})"),
                k => format!("unkn-{k} ({secs:.2}/{retr}/{probes})"),
            }
        }
    }
}

fn pad(line: &mut Vec<u8>, s: &[u8], width: usize) {
    line.extend_from_slice(s);
    line.resize(line.len() + width.saturating_sub(s.len()), b' ');
}

/// `addr_do_one()`: `host:port`, cut to 23 bytes without `-W` (reference §2.4).
pub fn addr_port(
    view: &SocketView,
    names: &mut dyn Namer,
    addr: IpAddr,
    port: u16,
    list: ServiceList,
) -> Vec<u8> {
    let host = host_text(view.numeric_hosts, names, addr);
    let port_text: String = if port == 0 {
        "*".into()
    } else if view.numeric_ports {
        port.to_string()
    } else {
        names
            .service(port, list)
            .map(str::to_owned)
            .unwrap_or_else(|| port.to_string())
    };
    join_cut(host.as_bytes(), port_text.as_bytes(), view.wide)
}

/// The truncation rule: if `host:port` is longer than 22 + 1 bytes, keep up to 18
/// bytes of the port or service and cut the host from the right.
pub fn join_cut(host: &[u8], port: &[u8], wide: bool) -> Vec<u8> {
    const SHORT: usize = 22;
    let mut buf = Vec::with_capacity(host.len() + port.len() + 1);
    if !wide && host.len() + port.len() > SHORT {
        let plen = port.len().min(SHORT - 4);
        let alen = (SHORT - plen).min(host.len());
        buf.extend_from_slice(&host[..alen]);
        buf.push(b':');
        buf.extend_from_slice(&port[..plen]);
    } else {
        // snprintf(buf, 128, "%s:%s"): even -W output stops at 127 bytes.
        buf.extend_from_slice(host);
        buf.push(b':');
        buf.extend_from_slice(port);
        buf.truncate(127);
    }
    buf
}

/// `INET_sprint()` / `INET6_sprint()` for socket addresses (reference §2.3).
pub fn host_text(numeric: bool, names: &mut dyn Namer, addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => {
            if numeric || a.is_unspecified() {
                return a.to_string();
            }
            names.host(IpAddr::V4(a)).unwrap_or_else(|| a.to_string())
        }
        IpAddr::V6(a) => {
            // fix_v4_address(): a v4-mapped address prints as its IPv4 part, never
            // resolved (captured in the reference, §2.3).
            if let Some(v4) = v4_mapped(&a) {
                return v4.to_string();
            }
            if numeric {
                return ntop6(a);
            }
            if a.is_unspecified() {
                return "[::]".into();
            }
            names.host(IpAddr::V6(a)).unwrap_or_else(|| ntop6(a))
        }
    }
}

fn v4_mapped(a: &Ipv6Addr) -> Option<Ipv4Addr> {
    match a.segments() {
        [0, 0, 0, 0, 0, 0xffff, hi, lo] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

/// `unix_info()` header.
pub fn write_unix_header(out: &mut dyn Write, view: &SocketView) -> io::Result<()> {
    let mut h = format!(
        "Active UNIX domain sockets {}\nProto RefCnt Flags       Type       State         I-Node  ",
        title(view)
    );
    if view.programs {
        h.push_str(&format!(" {:<20}", "PID/Program name"));
    }
    h.push_str(" Path\n");
    out.write_all(h.as_bytes())
}

const SO_ACCEPTCON: u64 = 1 << 16;
const SO_WAITDATA: u64 = 1 << 17;
const SO_NOSPACE: u64 = 1 << 18;

pub fn unix_shown(view: &SocketView, s: &UnixSocket) -> bool {
    if view.all {
        return true;
    }
    let server = s.state == 1 && s.flags & SO_ACCEPTCON != 0;
    server == view.listening
}

/// What `sscanf("%s")` takes from `bytes`: skip `isspace()` bytes, then up to the next.
fn scanf_word(bytes: &[u8]) -> &[u8] {
    let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r');
    let start = bytes
        .iter()
        .position(|b| !is_space(b))
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    let end = rest.iter().position(is_space).unwrap_or(rest.len());
    &rest[..end]
}

/// `unix_do_one()` row.
pub fn write_unix_row(
    out: &mut dyn Write,
    view: &SocketView,
    s: &UnixSocket,
    program: Option<&[u8]>,
) -> io::Result<()> {
    let proto = if s.protocol == 0 { "unix" } else { "??" };
    let mut flags = String::from("[ ");
    if s.flags & SO_ACCEPTCON != 0 {
        flags.push_str("ACC ");
    }
    if s.flags & SO_WAITDATA != 0 {
        flags.push_str("W ");
    }
    if s.flags & SO_NOSPACE != 0 {
        flags.push_str("N ");
    }
    flags.push(']');
    let ty = match s.sock_type {
        1 => "STREAM",
        2 => "DGRAM",
        3 => "RAW",
        4 => "RDM",
        5 => "SEQPACKET",
        _ => "UNKNOWN",
    };
    let state = match s.state {
        0 => "FREE",
        1 if s.flags & SO_ACCEPTCON != 0 => "LISTENING",
        1 => "",
        2 => "CONNECTING",
        3 => "CONNECTED",
        4 => "DISCONNECTING",
        _ => "UNKNOWN",
    };
    let mut line: Vec<u8> = Vec::with_capacity(128);
    let _ = write!(
        line,
        "{proto:<5} {:<6} {flags:<11} {ty:<10} {state:<13} {:<8}",
        s.refcount as i64, s.inode
    );
    if view.programs {
        line.push(b' ');
        pad(&mut line, program.unwrap_or(b"-"), 20);
    }
    line.push(b' ');
    // net-tools reads the path with sscanf("%s"): leading C whitespace is skipped and
    // the path stops at the next one.
    if let Some(path) = &s.path {
        line.extend_from_slice(scanf_word(path));
    }
    line.push(b'\n');
    out.write_all(&line)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Timer;

    fn tcp(local: &str, lp: u16, remote: &str, rp: u16, state: u8) -> InetSocket {
        let local: IpAddr = local.parse().expect("test address");
        InetSocket {
            proto: InetProto::Tcp,
            family: if local.is_ipv6() {
                Family::Inet6
            } else {
                Family::Inet
            },
            local,
            local_port: lp,
            remote: remote.parse().expect("test address"),
            remote_port: rp,
            state,
            rx_queue: 0,
            tx_queue: 0,
            uid: 0,
            inode: 0,
            cookie: 0,
            timer: Timer::default(),
        }
    }

    fn render(view: &SocketView, s: &InetSocket, prog: Option<&[u8]>) -> String {
        let mut v = Vec::new();
        write_inet_row(&mut v, view, &mut NoNames, s, prog).expect("vec write");
        String::from_utf8(v).expect("utf-8")
    }

    #[test]
    fn tcp_rows_match_captured_reference() {
        let view = SocketView {
            all: true,
            numeric_hosts: true,
            numeric_ports: true,
            ..Default::default()
        };
        let mut s = tcp("127.0.0.1", 22222, "127.0.0.1", 51356, 1);
        s.rx_queue = 1234;
        assert_eq!(
            render(&view, &s, None),
            "tcp     1234      0 127.0.0.1:22222         127.0.0.1:51356         ESTABLISHED\n"
        );
        let l = tcp("::", 8443, "::", 0, 10);
        assert_eq!(
            render(&view, &l, None),
            "tcp6       0      0 :::8443                 :::*                    LISTEN     \n"
        );
        let m = tcp("::ffff:127.0.0.1", 33333, "::ffff:127.0.0.1", 48250, 1);
        assert_eq!(
            render(&view, &m, None),
            "tcp6       0      0 127.0.0.1:33333         127.0.0.1:48250         ESTABLISHED\n"
        );
    }

    #[test]
    fn long_ipv6_is_cut_to_23_and_wide_keeps_it() {
        let view = SocketView {
            all: true,
            numeric_hosts: true,
            numeric_ports: true,
            ..Default::default()
        };
        let s = tcp("2001:db8:aaaa:bbbb:cccc:dddd:eeee:1", 44321, "::", 0, 10);
        assert_eq!(
            render(&view, &s, None),
            "tcp6       0      0 2001:db8:aaaa:bbb:44321 :::*                    LISTEN     \n"
        );
        let wide = SocketView { wide: true, ..view };
        assert_eq!(
            render(&wide, &s, None),
            "tcp6       0      0 2001:db8:aaaa:bbbb:cccc:dddd:eeee:1:44321 :::*                    LISTEN     \n"
        );
    }

    #[test]
    fn cut_keeps_service_up_to_18_bytes() {
        assert_eq!(
            join_cut(b"averyveryverylonghostname.example.com", b"http-alt", false),
            b"averyveryveryl:http-alt"
        );
        assert_eq!(
            join_cut(b"averyveryverylonghostname.example.com", b"47030", false),
            b"averyveryverylong:47030"
        );
        let long = [b'h'; 150];
        assert_eq!(join_cut(&long, b"80", true), &long[..127]);
    }

    #[test]
    fn non_numeric_unspecified_v6_is_bracketed() {
        let view = SocketView {
            all: true,
            ..Default::default()
        };
        let s = tcp("::", 8443, "::", 0, 10);
        assert_eq!(
            render(&view, &s, None),
            "tcp6       0      0 [::]:8443               [::]:*                  LISTEN     \n"
        );
    }

    #[test]
    fn extend_program_and_timer_columns() {
        let view = SocketView {
            all: true,
            numeric_hosts: true,
            numeric_ports: true,
            numeric_users: true,
            extend: true,
            programs: true,
            timers: true,
            ..Default::default()
        };
        let mut s = tcp("127.0.0.1", 9999, "0.0.0.0", 0, 10);
        s.uid = 65534;
        s.inode = 223575;
        assert_eq!(
            render(&view, &s, Some(b"11480/a-very-long-p")),
            "tcp        0      0 127.0.0.1:9999          0.0.0.0:*               LISTEN      65534      223575     11480/a-very-long-p  off (0.00/0/0)\n"
        );
    }

    #[test]
    fn udp_and_raw_state_columns() {
        let view = SocketView {
            all: true,
            numeric_hosts: true,
            numeric_ports: true,
            ..Default::default()
        };
        let mut u = tcp("127.0.0.1", 5353, "0.0.0.0", 0, 7);
        u.proto = InetProto::Udp;
        u.rx_queue = 832;
        assert_eq!(
            render(&view, &u, None),
            "udp      832      0 127.0.0.1:5353          0.0.0.0:*                          \n"
        );
        let mut r = tcp("0.0.0.0", 253, "0.0.0.0", 0, 7);
        r.proto = InetProto::Raw;
        assert_eq!(
            render(&view, &r, None),
            "raw        0      0 0.0.0.0:253             0.0.0.0:*               7          \n"
        );
    }

    #[test]
    fn listening_filter_differs_for_tcp_and_udp() {
        let l = SocketView {
            listening: true,
            ..Default::default()
        };
        let d = SocketView::default();
        let syn_sent = tcp("127.0.0.1", 1, "127.0.0.1", 2, 2);
        assert!(!inet_shown(&l, &syn_sent) && inet_shown(&d, &syn_sent));
        let mut udp_conn = tcp("127.0.0.1", 1, "127.0.0.1", 0, 1);
        udp_conn.proto = InetProto::Udp;
        // remote port 0 but a remote address: a udp "non-server".
        assert!(inet_shown(&d, &udp_conn) && !inet_shown(&l, &udp_conn));
    }

    #[test]
    fn unix_path_follows_scanf_word_rules() {
        assert_eq!(scanf_word(b" lead"), b"lead");
        assert_eq!(scanf_word(b"\tlead2"), b"lead2");
        assert_eq!(scanf_word(b"/x/vt\x0bx"), b"/x/vt");
        assert_eq!(scanf_word(b"/x/bin\xff\xfe"), b"/x/bin\xff\xfe");
        assert_eq!(scanf_word(b"   "), b"");
    }

    #[test]
    fn unix_rows_match_captured_reference() {
        let view = SocketView {
            all: true,
            ..Default::default()
        };
        let mk = |flags, ty, state, inode, path: Option<&str>| UnixSocket {
            refcount: 2,
            protocol: 0,
            flags,
            sock_type: ty,
            state,
            inode,
            path: path.map(|p| p.as_bytes().to_vec()),
        };
        let mut v = Vec::new();
        write_unix_row(
            &mut v,
            &view,
            &mk(SO_ACCEPTCON, 1, 1, 224395, Some("/tmp/nsgen/stream.sock")),
            None,
        )
        .expect("write");
        write_unix_row(&mut v, &view, &mk(0, 2, 1, 224403, None), None).expect("write");
        write_unix_row(
            &mut v,
            &view,
            &mk(0, 2, 1, 5, Some("/tmp/with space.sock")),
            Some(b"1/x"),
        )
        .expect("write");
        assert_eq!(
            String::from_utf8(v).expect("utf-8"),
            "unix  2      [ ACC ]     STREAM     LISTENING     224395   /tmp/nsgen/stream.sock\n\
             unix  2      [ ]         DGRAM                    224403   \n\
             unix  2      [ ]         DGRAM                    5        /tmp/with\n"
        );
    }
}
