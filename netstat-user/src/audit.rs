//! `netstat --audit`: one record per finished TCP connection or UDP flow.
//!
//! TCP: the kernel queues a [`ConnEvent`] when a connection's socket changes to CLOSE
//! (including the hand-over to a timewait socket: the connection is over then, as for
//! tcplife), with the owner learnt in process context, when it opened, the payload the
//! owners' sendmsg/recvmsg moved and `tcp_sock`'s segment counts. A record the ring had no room for is parked by the kernel (with the
//! state it left and its error) and reported from there (`incomplete`: no segment counts).
//!
//! UDP: datagrams and bytes per (socket, remote end) accumulate in the kernel's flow
//! map; a flow is reported when its socket closes or after `--flow-idle` seconds
//! without a datagram, and flows still open when the audit stops are reported then,
//! without an end.
//!
//! Everything here is pure: records are built from the kernel's types, so they are
//! tested without a kernel.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use netstat_common::{
    AF_INET6, ConnEvent, FlowKey, FlowValue, Owner, SockKey, SockRecord, TcpState, conn_flags,
    flags, opened,
};

use crate::render::json::{
    events::{ConnectionRecord, End, Opened},
    ip_text,
};

/// errno values of `sk_err` (asm-generic/errno.h, the same on every Linux architecture
/// this builds for).
const EPIPE: i32 = 32;
const ENETUNREACH: i32 = 101;
const ECONNRESET: i32 = 104;
const ETIMEDOUT: i32 = 110;
const ECONNREFUSED: i32 = 111;
const EHOSTUNREACH: i32 = 113;

/// How a TCP connection ended, from the state it left for CLOSE and the error the
/// kernel gave it (`sk_err` is set before `tcp_done()` moves it to CLOSE).
pub fn end_reason(oldstate: u8, sk_err: i32) -> End {
    let opening = oldstate == TcpState::SynSent as u8;
    match sk_err {
        ECONNREFUSED => return End::Refused,
        // ICMP unreachables: they end an attempt; on an established connection they
        // only become its error when its retransmissions time out.
        ENETUNREACH | EHOSTUNREACH if opening => return End::Refused,
        ENETUNREACH | EHOSTUNREACH | ETIMEDOUT => return End::Timeout,
        ECONNRESET | EPIPE => return End::Reset,
        _ => {}
    }
    match TcpState::from_kernel(oldstate) {
        // The orderly ends: our FIN and theirs both done (LAST_ACK, FIN_WAIT2/CLOSING to
        // timewait), or an attempt the application gave up before it was answered.
        Some(
            TcpState::LastAck
            | TcpState::FinWait2
            | TcpState::Closing
            | TcpState::TimeWait
            | TcpState::SynSent,
        ) => End::Close,
        // ESTABLISHED, CLOSE_WAIT, FIN_WAIT1, SYN_RECV straight to CLOSE without an error:
        // this side aborted (a close with unread data, SO_LINGER 0): it sent a reset.
        _ => End::Reset,
    }
}

fn opened_by(o: u8) -> Option<Opened> {
    match o {
        opened::ACTIVE => Some(Opened::Active),
        opened::PASSIVE => Some(Opened::Passive),
        _ => None,
    }
}

pub fn addr(family: u16, a: &[u8; 16]) -> IpAddr {
    if family == AF_INET6 {
        IpAddr::V6(Ipv6Addr::from(*a))
    } else {
        IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3]))
    }
}

pub fn comm(c: &[u8; 16]) -> String {
    let end = c.iter().position(|&b| b == 0).unwrap_or(c.len());
    String::from_utf8_lossy(&c[..end]).into_owned()
}

/// Puts CLOCK_BOOTTIME instants on the wall clock (ns since the epoch).
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    /// CLOCK_REALTIME − CLOCK_BOOTTIME.
    pub boot_to_real: i128,
}

impl Clock {
    pub fn epoch_ns(&self, boot_ns: u64) -> u64 {
        (boot_ns as i128 + self.boot_to_real).clamp(0, u64::MAX as i128) as u64
    }
}

fn duration_ms(start: u64, end: u64) -> Option<f64> {
    (start != 0 && end >= start).then(|| (end - start) as f64 / 1e6)
}

/// The owner fields (pid, comm, uid) of a known owner.
fn owner_fields(o: &Owner, known: bool) -> (Option<u32>, Option<String>, Option<u32>) {
    if !known || o.tgid == 0 {
        return (None, None, None);
    }
    (Some(o.tgid), Some(comm(&o.comm)), Some(o.uid))
}

/// The record of a TCP connection the kernel reported ending.
pub fn connection(ev: &ConnEvent, clock: Clock) -> ConnectionRecord {
    let (pid, comm, uid) = owner_fields(&ev.owner, ev.flags & conn_flags::OWNER != 0);
    let kernel_counts = ev.flags & conn_flags::KERNEL_COUNTS != 0;
    // The kernel flags a hand-over to timewait only for a change without an error.
    let end = if ev.sk_err == 0 && ev.record_flags & flags::TIMEWAIT != 0 {
        End::Close
    } else {
        end_reason(ev.oldstate, ev.sk_err)
    };
    ConnectionRecord {
        kind: ConnectionRecord::CONNECTION,
        ts_ns: clock.epoch_ns(ev.end_ns),
        start_ns: (ev.start_ns != 0).then(|| clock.epoch_ns(ev.start_ns)),
        end_ns: Some(clock.epoch_ns(ev.end_ns)),
        duration_ms: duration_ms(ev.start_ns, ev.end_ns),
        netns: u64::from(ev.netns),
        pid,
        comm,
        uid,
        proto: if ev.family == AF_INET6 { "tcp6" } else { "tcp" },
        local_addr: ip_text(addr(ev.family, &ev.saddr)),
        local_port: ev.sport,
        remote_addr: ip_text(addr(ev.family, &ev.daddr)),
        remote_port: ev.dport,
        tx_bytes: ev.tx_bytes,
        rx_bytes: ev.rx_bytes,
        tx_packets: kernel_counts.then_some(ev.tx_packets),
        rx_packets: kernel_counts.then_some(ev.rx_packets),
        opened: opened_by(ev.opened),
        end: Some(end),
        incomplete: ev.start_ns == 0 || ev.record_flags & flags::SEEDED != 0 || !kernel_counts,
        cookie: ev.cookie,
    }
}

/// The record of a connection whose [`ConnEvent`] found the ring full, from the record
/// the kernel parked for it (with the state it left and its error): everything but the
/// segment counts.
pub fn recovered(key: &SockKey, rec: &SockRecord, clock: Clock) -> ConnectionRecord {
    let ev = ConnEvent {
        netns: key.netns,
        start_ns: rec.opened_ns,
        end_ns: rec.changed_ns,
        cookie: key.cookie,
        tx_bytes: rec.tx_bytes,
        rx_bytes: rec.rx_bytes,
        record_flags: rec.flags,
        family: rec.family,
        sport: rec.sport,
        dport: rec.dport,
        opened: rec.opened,
        oldstate: rec.state,
        sk_err: i32::from(rec.end_err),
        flags: conn_flags::OWNER,
        saddr: rec.saddr,
        daddr: rec.daddr,
        owner: rec.owner,
        ..ConnEvent::default()
    };
    let mut r = connection(&ev, clock);
    r.incomplete = true;
    r
}

/// How a flow's report came about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowEnd {
    /// Its socket closed at this CLOCK_BOOTTIME instant (its last datagram's time when
    /// the close time is no longer known).
    Closed(u64),
    /// No datagram for the idle timeout.
    Idle,
    /// Still going when the audit stopped.
    Open,
}

/// The record of a UDP flow. `seeded`: its socket predates the audit, so the flow may
/// have begun before the audit could see it.
pub fn flow(
    k: &FlowKey,
    v: &FlowValue,
    end: FlowEnd,
    seeded: bool,
    now_boot: u64,
    clock: Clock,
) -> ConnectionRecord {
    let (pid, comm, uid) = owner_fields(&v.owner, true);
    let (end_ns, end) = match end {
        FlowEnd::Closed(at) => (Some(at.max(v.last_ns)), Some(End::Close)),
        FlowEnd::Idle => (Some(v.last_ns), Some(End::Idle)),
        FlowEnd::Open => (None, None),
    };
    ConnectionRecord {
        kind: ConnectionRecord::FLOW,
        ts_ns: clock.epoch_ns(end_ns.unwrap_or(now_boot)),
        start_ns: Some(clock.epoch_ns(v.first_ns)),
        end_ns: end_ns.map(|t| clock.epoch_ns(t)),
        duration_ms: end_ns.and_then(|t| duration_ms(v.first_ns, t)),
        netns: u64::from(k.netns),
        pid,
        comm,
        uid,
        proto: if k.family == AF_INET6 { "udp6" } else { "udp" },
        local_addr: ip_text(addr(k.family, &v.laddr)),
        local_port: v.lport,
        remote_addr: ip_text(addr(k.family, &k.raddr)),
        remote_port: k.rport,
        tx_bytes: v.tx_bytes,
        rx_bytes: v.rx_bytes,
        tx_packets: Some(v.tx_packets),
        rx_packets: Some(v.rx_packets),
        opened: None,
        end,
        incomplete: seeded,
        cookie: k.cookie,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLOCK: Clock = Clock {
        boot_to_real: 1_700_000_000_000_000_000,
    };

    #[test]
    fn end_reasons_follow_the_kernel_error_then_the_state_left() {
        let s = |st: TcpState| st as u8;
        assert_eq!(end_reason(s(TcpState::SynSent), ECONNREFUSED), End::Refused);
        assert_eq!(end_reason(s(TcpState::SynSent), ETIMEDOUT), End::Timeout);
        assert_eq!(end_reason(s(TcpState::SynSent), EHOSTUNREACH), End::Refused);
        assert_eq!(
            end_reason(s(TcpState::Established), EHOSTUNREACH),
            End::Timeout
        );
        assert_eq!(end_reason(s(TcpState::FinWait2), ECONNRESET), End::Reset);
        assert_eq!(end_reason(s(TcpState::Established), ECONNRESET), End::Reset);
        assert_eq!(end_reason(s(TcpState::CloseWait), EPIPE), End::Reset);
        assert_eq!(
            end_reason(s(TcpState::Established), ETIMEDOUT),
            End::Timeout
        );
        assert_eq!(end_reason(s(TcpState::LastAck), 0), End::Close);
        assert_eq!(end_reason(s(TcpState::FinWait2), 0), End::Close);
        assert_eq!(end_reason(s(TcpState::SynSent), 0), End::Close);
        // Our own abort: close() with unread data sends a reset.
        assert_eq!(end_reason(s(TcpState::Established), 0), End::Reset);
        assert_eq!(end_reason(s(TcpState::FinWait1), 0), End::Reset);
    }

    fn owner(tgid: u32) -> Owner {
        let mut comm = [0u8; 16];
        comm[..6].copy_from_slice(b"client");
        Owner {
            tgid,
            uid: 1000,
            comm,
            ..Owner::default()
        }
    }

    #[test]
    fn connection_record_carries_owner_times_counts_and_end() {
        let mut saddr = [0u8; 16];
        saddr[..4].copy_from_slice(&[10, 0, 0, 2]);
        let mut daddr = [0u8; 16];
        daddr[..4].copy_from_slice(&[10, 0, 0, 1]);
        let ev = ConnEvent {
            netns: 7,
            start_ns: 1_000_000,
            end_ns: 1_250_000,
            cookie: 42,
            tx_bytes: 100,
            rx_bytes: 200,
            tx_packets: 5,
            rx_packets: 6,
            family: netstat_common::AF_INET,
            sport: 40000,
            dport: 80,
            oldstate: TcpState::FinWait2 as u8,
            opened: opened::ACTIVE,
            record_flags: flags::TIMEWAIT,
            flags: conn_flags::OWNER | conn_flags::KERNEL_COUNTS,
            saddr,
            daddr,
            owner: owner(1234),
            ..ConnEvent::default()
        };
        let r = connection(&ev, CLOCK);
        assert_eq!(r.kind, "connection");
        assert_eq!(
            (r.pid, r.comm.as_deref(), r.uid),
            (Some(1234), Some("client"), Some(1000))
        );
        assert_eq!(r.start_ns, Some(1_700_000_000_001_000_000));
        assert_eq!(r.end_ns, Some(1_700_000_000_001_250_000));
        assert_eq!(r.duration_ms, Some(0.25));
        assert_eq!((r.local_addr.as_str(), r.local_port), ("10.0.0.2", 40000));
        assert_eq!((r.remote_addr.as_str(), r.remote_port), ("10.0.0.1", 80));
        assert_eq!((r.tx_bytes, r.rx_bytes), (100, 200));
        assert_eq!((r.tx_packets, r.rx_packets), (Some(5), Some(6)));
        assert_eq!((r.opened, r.end), (Some(Opened::Active), Some(End::Close)));
        assert!(!r.incomplete);

        // Start unseen (socket seeded): incomplete, no start, no duration.
        let seeded = ConnEvent {
            start_ns: 0,
            record_flags: flags::SEEDED,
            ..ev
        };
        let r = connection(&seeded, CLOCK);
        assert!(r.incomplete);
        assert_eq!((r.start_ns, r.duration_ms), (None, None));
        // Owner unknown: nulls, never a made-up pid.
        let r = connection(&ConnEvent { flags: 0, ..ev }, CLOCK);
        assert_eq!((r.pid, r.comm, r.uid), (None, None, None));
        assert!(r.incomplete, "no kernel counts");
        assert_eq!(r.tx_packets, None);
    }

    #[test]
    fn recovered_records_are_incomplete_and_say_only_what_the_map_knew() {
        let rec = SockRecord {
            owner: owner(9),
            opened_ns: 10,
            changed_ns: 30,
            tx_bytes: 3,
            family: netstat_common::AF_INET6,
            opened: opened::PASSIVE,
            state: TcpState::Established as u8,
            end_err: ECONNRESET as u8,
            flags: flags::CLOSED,
            ..SockRecord::default()
        };
        let key = SockKey {
            cookie: 5,
            netns: 1,
            _pad: 0,
        };
        let r = recovered(&key, &rec, CLOCK);
        assert!(r.incomplete);
        assert_eq!(r.proto, "tcp6");
        assert_eq!(
            (r.end, r.tx_packets, r.pid),
            (Some(End::Reset), None, Some(9))
        );
        assert_eq!(r.opened, Some(Opened::Passive));
        assert_eq!(r.duration_ms, Some(0.00002));
    }

    #[test]
    fn flows_end_closed_idle_or_open() {
        let k = FlowKey {
            cookie: 3,
            netns: 2,
            rport: 53,
            family: netstat_common::AF_INET,
            raddr: [10, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let v = FlowValue {
            first_ns: 1_000,
            last_ns: 5_000,
            tx_bytes: 40,
            rx_bytes: 80,
            tx_packets: 1,
            rx_packets: 2,
            lport: 5353,
            owner: owner(77),
            ..FlowValue::default()
        };
        let closed = flow(&k, &v, FlowEnd::Closed(9_000), false, 10_000, CLOCK);
        assert_eq!((closed.kind, closed.proto), ("flow", "udp"));
        assert_eq!(closed.end, Some(End::Close));
        assert_eq!(closed.end_ns, Some(CLOCK.epoch_ns(9_000)));
        assert_eq!(
            (closed.remote_addr.as_str(), closed.remote_port),
            ("10.0.0.9", 53)
        );
        assert_eq!((closed.tx_packets, closed.rx_packets), (Some(1), Some(2)));
        let idle = flow(&k, &v, FlowEnd::Idle, true, 99_000, CLOCK);
        assert_eq!(
            (idle.end, idle.end_ns),
            (Some(End::Idle), Some(CLOCK.epoch_ns(5_000)))
        );
        assert!(idle.incomplete);
        let open = flow(&k, &v, FlowEnd::Open, false, 99_000, CLOCK);
        assert_eq!(
            (open.end, open.end_ns, open.duration_ms),
            (None, None, None)
        );
        assert_eq!(open.ts_ns, CLOCK.epoch_ns(99_000));
    }
}
