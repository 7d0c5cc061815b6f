//! `socket` records: the rows of the `-t -u -w` tables (Internet) and of `-x` (unix), the
//! same rows the table shows with the same options (the caller applies
//! [`inet_shown`](crate::render::sockets::inet_shown) and
//! [`unix_shown`](crate::render::sockets::unix_shown) as for the table).
use std::{borrow::Cow, io, io::Write};

use serde::Serialize;

use super::{Stamp, ip_text, text, write_record};
use crate::{
    model::{InetProto, InetSocket, UnixSocket},
    render::sockets::{SocketView, proto_label, tcp_state_name, timer_text},
};

/// One Internet socket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InetSocketRecord<'a> {
    /// Always `"socket"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    /// `tcp`, `tcp6`, `udp`, `udp6`, `udpl`, `udpl6`, `raw`, `raw6` (the table's Proto).
    pub proto: &'static str,
    pub netns: Option<u64>,
    pub recv_q: u64,
    pub send_q: u64,
    pub local_addr: String,
    pub local_port: u16,
    pub remote_addr: String,
    pub remote_port: u16,
    /// net-tools' TCP state name; for udp and raw `ESTABLISHED` when connected, else null.
    pub state: Option<&'static str>,
    pub uid: u32,
    /// 0 for sockets without a file (TIME_WAIT, orphans, not yet accepted).
    pub inode: u64,
    /// `-p` only: the owner's PID, null when unknown (the table's `-`).
    pub pid: Option<u32>,
    /// `-p` only: the owner's name as the table shows it after `PID/`.
    pub comm: Option<Cow<'a, str>>,
    /// `-o` only.
    pub timer: Option<TimerRecord>,
}

/// The `-o` timer: what the table shows as `name (secs/retrans/probes)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TimerRecord {
    /// `off`, `on`, `keepalive`, `timewait`, `probe` (tcp); `on1`, `on2` (udp, raw);
    /// `unkn-N` for a kind net-tools has no name for.
    pub name: String,
    /// Time left, in ms (0 when `off`).
    pub expires_ms: u64,
    pub retrans: u64,
    pub probes: u32,
}

/// One unix socket.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnixSocketRecord<'a> {
    /// Always `"socket"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    /// Always `"unix"`.
    pub proto: &'static str,
    pub netns: Option<u64>,
    pub refcnt: u64,
    /// `ACC`, `W`, `N`: the words between net-tools' brackets, in its order.
    pub flags: Vec<&'static str>,
    /// `STREAM`, `DGRAM`, `RAW`, `RDM`, `SEQPACKET` or `UNKNOWN`.
    pub sock_type: &'static str,
    /// `FREE`, `LISTENING`, `CONNECTING`, `CONNECTED`, `DISCONNECTING`, `UNKNOWN`; null
    /// where net-tools prints nothing (unconnected).
    pub state: Option<&'static str>,
    pub inode: u64,
    /// The whole name as the kernel prints it (abstract names start with `@`), not cut
    /// at the first blank as net-tools does; null when unbound.
    pub path: Option<Cow<'a, str>>,
    pub pid: Option<u32>,
    pub comm: Option<Cow<'a, str>>,
}

/// The PID and name of a `-p` label (`PID/name`, as the table shows it); `-` or anything
/// without a PID is unknown.
pub fn owner(label: Option<&[u8]>) -> (Option<u32>, Option<Cow<'_, str>>) {
    let Some((pid, name)) = label.and_then(|l| {
        let slash = l.iter().position(|&b| b == b'/')?;
        Some((&l[..slash], &l[slash + 1..]))
    }) else {
        return (None, None);
    };
    match std::str::from_utf8(pid).ok().and_then(|p| p.parse().ok()) {
        Some(pid) => (Some(pid), Some(text(name))),
        None => (None, None),
    }
}

/// The `state` of an Internet socket.
pub fn inet_state(s: &InetSocket) -> Option<&'static str> {
    match s.proto {
        InetProto::Tcp | InetProto::Sctp => Some(tcp_state_name(s.state)).filter(|n| !n.is_empty()),
        // udp_do_one(): 1 is ESTABLISHED, 7 (TCP_CLOSE) prints nothing. raw sockets hold
        // the same two values (net-tools prints the number).
        InetProto::Udp | InetProto::UdpLite | InetProto::Raw => match s.state {
            1 => Some("ESTABLISHED"),
            7 => None,
            _ => Some("UNKNOWN"),
        },
    }
}

/// The `timer` object of an Internet socket (the table's Timer column, as numbers).
pub fn timer(s: &InetSocket) -> TimerRecord {
    let shown = timer_text(s);
    let name = shown.split(" (").next().unwrap_or_default().to_string();
    let t = &s.timer;
    TimerRecord {
        name,
        // when_ticks is in USER_HZ (1/100 s).
        expires_ms: if t.kind == 0 {
            0
        } else {
            t.when_ticks.saturating_mul(10)
        },
        // udp_do_one() shows 0 whatever the file says.
        retrans: match s.proto {
            InetProto::Udp | InetProto::UdpLite => 0,
            _ => t.retransmits,
        },
        probes: t.probes,
    }
}

/// The record of one Internet row; `program` is the `-p` label, as for the table.
pub fn inet_record<'a>(
    stamp: &Stamp,
    view: &SocketView,
    s: &InetSocket,
    program: Option<&'a [u8]>,
) -> InetSocketRecord<'a> {
    let (pid, comm) = if view.programs {
        owner(program)
    } else {
        (None, None)
    };
    InetSocketRecord {
        kind: "socket",
        ts_ns: stamp.ts_ns,
        proto: proto_label(s.proto, s.family),
        netns: stamp.netns,
        recv_q: s.rx_queue,
        send_q: s.tx_queue,
        local_addr: ip_text(s.local),
        local_port: s.local_port,
        remote_addr: ip_text(s.remote),
        remote_port: s.remote_port,
        state: inet_state(s),
        uid: s.uid,
        inode: s.inode,
        pid,
        comm,
        timer: view.timers.then(|| timer(s)),
    }
}

/// Writes one Internet row (the caller checked `inet_shown`).
pub fn write_inet(
    out: &mut dyn Write,
    stamp: &Stamp,
    view: &SocketView,
    s: &InetSocket,
    program: Option<&[u8]>,
) -> io::Result<()> {
    write_record(out, &inet_record(stamp, view, s, program))
}

const SO_ACCEPTCON: u64 = 1 << 16;
const SO_WAITDATA: u64 = 1 << 17;
const SO_NOSPACE: u64 = 1 << 18;

/// The record of one unix row.
pub fn unix_record<'a>(
    stamp: &Stamp,
    view: &SocketView,
    s: &'a UnixSocket,
    program: Option<&'a [u8]>,
) -> UnixSocketRecord<'a> {
    let flags = [(SO_ACCEPTCON, "ACC"), (SO_WAITDATA, "W"), (SO_NOSPACE, "N")]
        .into_iter()
        .filter(|(bit, _)| s.flags & bit != 0)
        .map(|(_, word)| word)
        .collect();
    let sock_type = match s.sock_type {
        1 => "STREAM",
        2 => "DGRAM",
        3 => "RAW",
        4 => "RDM",
        5 => "SEQPACKET",
        _ => "UNKNOWN",
    };
    let state = match s.state {
        0 => Some("FREE"),
        1 if s.flags & SO_ACCEPTCON != 0 => Some("LISTENING"),
        1 => None,
        2 => Some("CONNECTING"),
        3 => Some("CONNECTED"),
        4 => Some("DISCONNECTING"),
        _ => Some("UNKNOWN"),
    };
    let (pid, comm) = if view.programs {
        owner(program)
    } else {
        (None, None)
    };
    UnixSocketRecord {
        kind: "socket",
        ts_ns: stamp.ts_ns,
        proto: "unix",
        netns: stamp.netns,
        refcnt: s.refcount,
        flags,
        sock_type,
        state,
        inode: s.inode,
        path: s.path.as_deref().map(text),
        pid,
        comm,
    }
}

/// Writes one unix row (the caller checked `unix_shown`).
pub fn write_unix(
    out: &mut dyn Write,
    stamp: &Stamp,
    view: &SocketView,
    s: &UnixSocket,
    program: Option<&[u8]>,
) -> io::Result<()> {
    write_record(out, &unix_record(stamp, view, s, program))
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;
    use crate::model::{Family, Timer};

    fn sock(
        proto: InetProto,
        local: &str,
        lp: u16,
        remote: &str,
        rp: u16,
        state: u8,
    ) -> InetSocket {
        let local: IpAddr = local.parse().expect("test address");
        InetSocket {
            proto,
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
            rx_queue: 3,
            tx_queue: 4,
            uid: 65534,
            inode: 1234,
            cookie: 99,
            timer: Timer::default(),
        }
    }

    fn render(view: &SocketView, s: &InetSocket, prog: Option<&[u8]>) -> serde_json::Value {
        let mut out = Vec::new();
        write_inet(&mut out, &STAMP, view, s, prog).expect("vec");
        let mut v = lines(&out);
        assert_eq!(v.len(), 1);
        v.remove(0)
    }

    #[test]
    fn tcp_v4_record_has_every_field() {
        let s = sock(InetProto::Tcp, "127.0.0.1", 22222, "127.0.0.1", 51356, 1);
        assert_eq!(
            render(&SocketView::default(), &s, Some(b"12/x")),
            json!({
                "type": "socket", "ts_ns": 1_700_000_000_123_456_789u64, "proto": "tcp",
                "netns": 4026531840u64, "recv_q": 3, "send_q": 4,
                "local_addr": "127.0.0.1", "local_port": 22222,
                "remote_addr": "127.0.0.1", "remote_port": 51356, "state": "ESTABLISHED",
                "uid": 65534, "inode": 1234, "pid": null, "comm": null, "timer": null
            })
        );
        // Field order is the documented one.
        let mut out = Vec::new();
        write_inet(&mut out, &STAMP, &SocketView::default(), &s, None).expect("vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.starts_with("{\"type\":\"socket\",\"ts_ns\":1700000000123456789,\"proto\":\"tcp\",\"netns\":4026531840,\"recv_q\":3,"),
            "{text}"
        );
    }

    #[test]
    fn v6_listener_has_no_brackets_and_port_zero() {
        let s = sock(InetProto::Tcp, "::", 8443, "::", 0, 10);
        let v = render(&SocketView::default(), &s, None);
        assert_eq!(v["proto"], "tcp6");
        assert_eq!(v["local_addr"], "::");
        assert_eq!(v["remote_addr"], "::");
        assert_eq!(v["remote_port"], 0);
        assert_eq!(v["state"], "LISTEN");
        let m = sock(InetProto::Tcp, "::ffff:127.0.0.1", 33333, "::1", 1, 1);
        let v = render(&SocketView::default(), &m, None);
        assert_eq!(v["local_addr"], "::ffff:127.0.0.1");
        assert_eq!(v["remote_addr"], "::1");
    }

    #[test]
    fn stateless_protocols_and_unknown_states() {
        let view = SocketView::default();
        let u = sock(InetProto::Udp, "0.0.0.0", 5353, "0.0.0.0", 0, 7);
        assert_eq!(render(&view, &u, None)["state"], serde_json::Value::Null);
        let c = sock(InetProto::UdpLite, "::1", 5, "::1", 6, 1);
        let v = render(&view, &c, None);
        assert_eq!(
            (v["proto"].as_str(), v["state"].as_str()),
            (Some("udpl6"), Some("ESTABLISHED"))
        );
        let r = sock(InetProto::Raw, "0.0.0.0", 253, "0.0.0.0", 0, 7);
        let v = render(&view, &r, None);
        assert_eq!(
            (v["proto"].as_str(), v["state"].as_str()),
            (Some("raw"), None)
        );
        let odd = sock(InetProto::Udp, "0.0.0.0", 1, "0.0.0.0", 0, 3);
        assert_eq!(render(&view, &odd, None)["state"], "UNKNOWN");
        let t0 = sock(InetProto::Tcp, "0.0.0.0", 1, "0.0.0.0", 0, 0);
        assert_eq!(render(&view, &t0, None)["state"], serde_json::Value::Null);
        let t99 = sock(InetProto::Tcp, "0.0.0.0", 1, "0.0.0.0", 0, 99);
        assert_eq!(render(&view, &t99, None)["state"], "UNKNOWN");
        let nl = sock(InetProto::Tcp, "0.0.0.0", 1, "0.0.0.0", 0, 12);
        assert_eq!(render(&view, &nl, None)["state"], "UNKNOWN");
    }

    #[test]
    fn programs_and_timers_only_with_their_options() {
        let view = SocketView {
            programs: true,
            timers: true,
            ..Default::default()
        };
        let mut s = sock(InetProto::Tcp, "127.0.0.1", 1, "127.0.0.1", 2, 1);
        s.timer = Timer {
            kind: 2,
            when_ticks: 712,
            retransmits: 0,
            probes: 1,
        };
        let v = render(&view, &s, Some(b"4625/a-very-long-pr"));
        assert_eq!(
            (v["pid"].as_u64(), v["comm"].as_str()),
            (Some(4625), Some("a-very-long-pr"))
        );
        assert_eq!(
            v["timer"],
            json!({"name": "keepalive", "expires_ms": 7120, "retrans": 0, "probes": 1})
        );
        // An exited owner (agent) keeps its `*`; `-` and no label are unknown.
        let v = render(&view, &s, Some(b"77/python3*"));
        assert_eq!(
            (v["pid"].as_u64(), v["comm"].as_str()),
            (Some(77), Some("python3*"))
        );
        for label in [Some(&b"-"[..]), None, Some(b"x/y"), Some(b"12")] {
            let v = render(&view, &s, label);
            assert!(v["pid"].is_null() && v["comm"].is_null(), "{label:?}");
        }
        s.timer.kind = 0;
        assert_eq!(
            render(&view, &s, None)["timer"],
            json!({"name": "off", "expires_ms": 0, "retrans": 0, "probes": 1})
        );
        let mut u = sock(InetProto::Udp, "0.0.0.0", 1, "0.0.0.0", 0, 7);
        u.timer = Timer {
            kind: 2,
            when_ticks: 5,
            retransmits: 9,
            probes: 0,
        };
        assert_eq!(
            render(&view, &u, None)["timer"],
            json!({"name": "on2", "expires_ms": 50, "retrans": 0, "probes": 0})
        );
        s.timer.kind = 7;
        assert_eq!(render(&view, &s, None)["timer"]["name"], "unkn-7");
    }

    fn unix(flags: u64, ty: u32, state: u32, path: Option<&[u8]>) -> UnixSocket {
        UnixSocket {
            refcount: 2,
            protocol: 0,
            flags,
            sock_type: ty,
            state,
            inode: 224395,
            path: path.map(<[u8]>::to_vec),
        }
    }

    fn render_unix(view: &SocketView, s: &UnixSocket, prog: Option<&[u8]>) -> serde_json::Value {
        let mut out = Vec::new();
        write_unix(&mut out, &STAMP, view, s, prog).expect("vec");
        lines(&out).remove(0)
    }

    #[test]
    fn unix_record_has_every_field() {
        let s = unix(
            SO_ACCEPTCON | SO_NOSPACE,
            1,
            1,
            Some(b"/tmp/nsgen/stream.sock"),
        );
        assert_eq!(
            render_unix(&SocketView::default(), &s, Some(b"1/init")),
            json!({
                "type": "socket", "ts_ns": 1_700_000_000_123_456_789u64, "proto": "unix",
                "netns": 4026531840u64, "refcnt": 2, "flags": ["ACC", "N"],
                "sock_type": "STREAM", "state": "LISTENING", "inode": 224395,
                "path": "/tmp/nsgen/stream.sock", "pid": null, "comm": null
            })
        );
        let view = SocketView {
            programs: true,
            ..Default::default()
        };
        let v = render_unix(&view, &unix(0, 2, 1, None), Some(b"1/init"));
        assert_eq!(v["flags"], json!([]));
        assert_eq!(v["sock_type"], "DGRAM");
        assert!(v["state"].is_null() && v["path"].is_null());
        assert_eq!(
            (v["pid"].as_u64(), v["comm"].as_str()),
            (Some(1), Some("init"))
        );
        for (ty, state, name, sname) in [
            (5, 3, "SEQPACKET", Some("CONNECTED")),
            (3, 0, "RAW", Some("FREE")),
            (4, 2, "RDM", Some("CONNECTING")),
            (9, 4, "UNKNOWN", Some("DISCONNECTING")),
            (1, 8, "STREAM", Some("UNKNOWN")),
        ] {
            let v = render_unix(&view, &unix(SO_WAITDATA, ty, state, None), None);
            assert_eq!(
                (v["sock_type"].as_str(), v["state"].as_str()),
                (Some(name), sname)
            );
            assert_eq!(v["flags"], json!(["W"]));
        }
    }

    #[test]
    fn unix_paths_keep_blanks_and_control_bytes_and_replace_non_utf8() {
        let view = SocketView::default();
        for (path, want) in [
            (&b"/tmp/with space.sock"[..], "/tmp/with space.sock"),
            (b" lead", " lead"),
            (b"vt\x0bx", "vt\u{b}x"),
            (b"nl\n", "nl\n"),
            (b"q\"b\\", "q\"b\\"),
            (b"bin\xff\xfe", "bin\u{fffd}\u{fffd}"),
            (b"@nst-abstract", "@nst-abstract"),
            ("é".as_bytes(), "é"),
        ] {
            let mut out = Vec::new();
            write_unix(&mut out, &STAMP, &view, &unix(0, 2, 1, Some(path)), None).expect("vec");
            // One line whatever the path holds.
            assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
            assert_eq!(lines(&out)[0]["path"], want);
        }
    }
}
