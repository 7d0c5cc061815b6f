//! NETLINK_SOCK_DIAG (inet_diag) source for Internet sockets: tcp, udp, udp-lite and raw,
//! converted to the model exactly as `/proc/net/{tcp,udp,udplite,raw}{,6}` show them.
//!
//! Kernel facts this relies on (Linux 6.18: `net/ipv4/inet_diag.c`, `tcp_diag.c`,
//! `udp_diag.c`, `raw_diag.c`, and the `/proc` printers in `tcp_ipv4.c`, `udp.c`, `raw.c`):
//! - A dump walks the same hash tables in the same order as the seq_file behind `/proc/net/tcp`
//!   (listeners first, then the established hash bucket by bucket), so rows come in /proc order.
//! - Request sockets (`TCP_NEW_SYN_RECV` inside the kernel) come as `SYN_RECV` (3), as in /proc.
//!   inet_diag gives them uid 0, /proc the listener's uid: [`dump`] copies the uid of the
//!   listener that owns the port (exact local address first, then the wildcard one; with
//!   SO_REUSEPORT listeners of different owners on one address, the first one listed).
//!   Their retransmit count is `num_retrans` here but `num_timeout` in /proc, and inet_diag
//!   has no copy of the latter: the two differ when a SYN-ACK could not be resent, and for
//!   TCP_DEFER_ACCEPT requests already ACKed, whose timer runs without resending.
//! - For a listener, `idiag_wqueue` is the maximum backlog; /proc's Send-Q is 0.
//! - `idiag_retrans` holds `icsk_probes_out` for keepalive and zero-window-probe timers, while
//!   /proc prints `icsk_retransmits` and `icsk_probes_out` in two columns for every timer kind,
//!   so timers take both from `struct tcp_info` (`INET_DIAG_INFO`), requested only when the
//!   caller wants timers: it makes the kernel lock every socket.
//!
//! Why a hand parser for the responses: netlink-packet-sock-diag's `InetResponse` boxes every
//! message and collects its attributes into a `SmallVec`, the fields of its
//! `InetResponseBuffer` are private (no zero-copy accessors), and its `Timer` enum drops what
//! /proc prints (the TIME_WAIT expiry, `idiag_retrans` of keepalive and probe timers). So the
//! request is built with that crate and messages are framed with netlink-packet-core's
//! zero-copy `NetlinkBuffer`/`NlasIterator`, but the fixed 72-byte `struct inet_diag_msg` is
//! read by hand.
use std::{
    collections::HashMap,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use netlink_packet_core::{
    NLA_TYPE_MASK, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_DONE, NLMSG_ERROR, NLMSG_OVERRUN,
    NetlinkBuffer, NetlinkHeader, NetlinkMessage, NlasIterator,
};
use netlink_packet_sock_diag::{
    SOCK_DIAG_BY_FAMILY, SockDiagMessage,
    inet::{ExtensionFlags, InetRequest, SocketId, StateFlags},
};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_SOCK_DIAG};

use crate::model::{Family, InetProto, InetSocket, Timer};

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum NetlinkError {
    /// The kernel has no sock_diag module for this protocol/family (for raw sockets:
    /// `CONFIG_INET_RAW_DIAG` off). The caller falls back to `/proc/net`.
    #[error("sock_diag: the kernel cannot dump {proto:?} sockets of family {family:?}")]
    Unsupported { proto: InetProto, family: Family },
    #[error("sock_diag: {0}")]
    Io(#[from] io::Error),
    #[error("sock_diag: malformed reply: {0}")]
    Malformed(String),
}

/// What to dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpRequest {
    pub proto: InetProto,
    pub family: Family,
    /// Fill [`InetSocket::timer`] for tcp (asks the kernel for `struct tcp_info`, which costs a
    /// socket lock each). Without it every row has `Timer::default()`.
    pub want_timers: bool,
}

/// Dumps every socket of `proto`/`family` in the caller's network namespace, in kernel order
/// (the same hash order /proc/net/tcp prints), converted to the model exactly as
/// /proc/net/{tcp,udp,...} would show them.
///
/// SCTP is always [`NetlinkError::Unsupported`]: net-tools lists it from
/// `/proc/net/sctp/{eps,assocs}`, whose rows inet_diag messages do not map to.
pub fn dump(req: &DumpRequest) -> Result<Vec<InetSocket>, NetlinkError> {
    let mut rows = Vec::new();
    dump_each(req, |batch| {
        rows.extend(batch);
        true
    })?;
    Ok(rows)
}

/// Like [`dump`], but hands the rows to `sink` one received datagram (a few hundred rows)
/// at a time, so a caller can render while the kernel is still filling the next one.
/// `sink` returns false to stop early. An error after some batches were delivered means
/// the dump is incomplete: the caller must not read the same table again from /proc.
pub fn dump_each(
    req: &DumpRequest,
    mut sink: impl FnMut(Vec<InetSocket>) -> bool,
) -> Result<(), NetlinkError> {
    let protocol = ip_protocol(req.proto).ok_or(NetlinkError::Unsupported {
        proto: req.proto,
        family: req.family,
    })?;
    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    let request = encode_request(req, protocol, DUMP_SEQ);
    let kernel = SocketAddr::new(0, 0);
    loop {
        match socket.send_to(&request, &kernel, 0) {
            Ok(_) => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }

    let mut decoder = Decoder::new(*req, DUMP_SEQ);
    let mut buf = vec![0u8; RECV_BUF_BYTES];
    loop {
        // MSG_TRUNC makes recv return the datagram's real length, so truncation shows.
        let n = match socket.recv(&mut &mut buf[..], libc::MSG_TRUNC) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        if n > buf.len() {
            return Err(NetlinkError::Malformed(format!(
                "a {n}-byte datagram does not fit the {}-byte receive buffer",
                buf.len()
            )));
        }
        if n == 0 {
            return Err(NetlinkError::Malformed(
                "the dump ended without NLMSG_DONE".into(),
            ));
        }
        let progress = decoder.feed(&buf[..n])?;
        let batch = decoder.take_rows();
        if !batch.is_empty() && !sink(batch) {
            return Ok(());
        }
        if progress == Progress::Done {
            return Ok(());
        }
    }
}

/// The kernel builds each dump datagram up to the size of the largest recv() buffer seen,
/// capped at 32 KiB (`netlink_recvmsg`'s `max_recvmsg_len`): offering 32 KiB gets the fewest
/// syscalls; a bigger buffer or SO_RCVBUF gains nothing, as one datagram is built per recv().
const RECV_BUF_BYTES: usize = 32 * 1024;
/// The socket is private to one dump, so any constant works.
const DUMP_SEQ: u32 = 0x6e73_7461;

/// `sizeof(struct inet_diag_msg)`.
const MSG_LEN: usize = 72;
const INET_DIAG_INFO: u16 = 2;
const TCP_SYN_RECV: u8 = 3;
const TCP_LISTEN: u8 = 10;
const TCP_NEW_SYN_RECV: u8 = 12;
/// States 1 (`ESTABLISHED`) to 12 (`NEW_SYN_RECV`), what the /proc tables hold. Bit 13
/// (`TCP_BOUND_INACTIVE`, Linux 6.6+) would add bound-but-unused sockets, which /proc omits.
const STATE_MASK: u32 = 0x1ffe;
/// `jiffies_to_msecs` then `/ 10` equals `jiffies_to_clock_t` (USER_HZ = 100) for every HZ
/// Linux offers (100, 250, 300, 1000): both round down.
const MS_PER_CLOCK_TICK: u64 = 10;

fn ip_protocol(proto: InetProto) -> Option<u8> {
    match proto {
        InetProto::Tcp => Some(libc::IPPROTO_TCP as u8),
        InetProto::Udp => Some(libc::IPPROTO_UDP as u8),
        // udp_diag serves both.
        InetProto::UdpLite => Some(libc::IPPROTO_UDPLITE as u8),
        InetProto::Raw => Some(libc::IPPROTO_RAW as u8),
        InetProto::Sctp => None,
    }
}

fn encode_request(req: &DumpRequest, protocol: u8, seq: u32) -> Vec<u8> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let (family, socket_id) = match req.family {
        Family::Inet => (libc::AF_INET as u8, SocketId::new_v4()),
        Family::Inet6 => (libc::AF_INET6 as u8, SocketId::new_v6()),
    };
    let extensions = if req.want_timers && req.proto == InetProto::Tcp {
        ExtensionFlags::INFO
    } else {
        ExtensionFlags::empty()
    };
    let mut packet = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol,
            extensions,
            states: StateFlags::from_bits_retain(STATE_MASK),
            socket_id,
        })
        .into(),
    );
    packet.finalize();
    let mut buf = vec![0u8; packet.buffer_len()];
    packet.serialize(&mut buf);
    buf
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    More,
    Done,
}

/// Turns the datagrams of one dump into rows.
pub(crate) struct Decoder {
    req: DumpRequest,
    seq: u32,
    rows: Vec<InetSocket>,
    /// uid of each listener seen so far, by local address and port. /proc prints a
    /// request socket with its listener's uid; inet_diag gives 0. Listeners come first
    /// in a dump (the listening hash is walked before the established one), so the map
    /// is complete by the time request sockets arrive.
    listeners: HashMap<(IpAddr, u16), u32>,
}

impl Decoder {
    pub(crate) fn new(req: DumpRequest, seq: u32) -> Self {
        Self {
            req,
            seq,
            rows: Vec::new(),
            listeners: HashMap::new(),
        }
    }

    /// Decodes one datagram (one or more netlink messages).
    pub(crate) fn feed(&mut self, mut data: &[u8]) -> Result<Progress, NetlinkError> {
        while !data.is_empty() {
            let msg = NetlinkBuffer::new_checked(data)
                .map_err(|e| NetlinkError::Malformed(e.to_string()))?;
            let len = msg.length() as usize;
            if msg.sequence_number() == self.seq {
                match msg.message_type() {
                    SOCK_DIAG_BY_FAMILY => self.push(msg.payload())?,
                    // A dump's NLMSG_DONE carries the dump's return code.
                    NLMSG_DONE => {
                        return match read_errno(msg.payload()) {
                            Some(e) if e < 0 => Err(self.errno_error(e)),
                            _ => Ok(Progress::Done),
                        };
                    }
                    NLMSG_ERROR => match read_errno(msg.payload()) {
                        Some(0) => {} // an acknowledgement
                        Some(e) => return Err(self.errno_error(e)),
                        None => {
                            return Err(NetlinkError::Malformed("short NLMSG_ERROR".into()));
                        }
                    },
                    NLMSG_OVERRUN => {
                        return Err(NetlinkError::Malformed("NLMSG_OVERRUN".into()));
                    }
                    _ => {} // NLMSG_NOOP, or a type we do not know: skip it.
                }
            }
            // Messages are 4-byte aligned; the last one of a datagram may lack its padding.
            let next = len.next_multiple_of(4).min(data.len());
            data = &data[next..];
        }
        Ok(Progress::More)
    }

    fn push(&mut self, payload: &[u8]) -> Result<(), NetlinkError> {
        let (mut row, is_request_sock) = convert(&self.req, payload)?;
        if row.state == TCP_LISTEN {
            self.listeners
                .entry((row.local, row.local_port))
                .or_insert(row.uid);
        } else if is_request_sock {
            let any = match row.local {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            let uid = self
                .listeners
                .get(&(row.local, row.local_port))
                .or_else(|| self.listeners.get(&(any, row.local_port)));
            if let Some(&uid) = uid {
                row.uid = uid;
            }
        }
        self.rows.push(row);
        Ok(())
    }

    fn errno_error(&self, negative_errno: i32) -> NetlinkError {
        let errno = negative_errno.saturating_neg();
        match errno {
            libc::EINVAL | libc::ENOENT | libc::EOPNOTSUPP | libc::EPROTONOSUPPORT => {
                NetlinkError::Unsupported {
                    proto: self.req.proto,
                    family: self.req.family,
                }
            }
            _ => NetlinkError::Io(io::Error::from_raw_os_error(errno)),
        }
    }

    /// The rows decoded since the last call.
    pub(crate) fn take_rows(&mut self) -> Vec<InetSocket> {
        std::mem::take(&mut self.rows)
    }
}

/// The `int error` that starts NLMSG_ERROR and a dump's NLMSG_DONE.
fn read_errno(payload: &[u8]) -> Option<i32> {
    let bytes: [u8; 4] = payload.get(..4)?.try_into().ok()?;
    Some(i32::from_ne_bytes(bytes))
}

/// One `struct inet_diag_msg` (and its attributes) → a row, and whether it is a request sock.
fn convert(req: &DumpRequest, payload: &[u8]) -> Result<(InetSocket, bool), NetlinkError> {
    let h: &[u8; MSG_LEN] = payload
        .get(..MSG_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            NetlinkError::Malformed(format!(
                "inet_diag_msg of {} bytes, expected at least {MSG_LEN}",
                payload.len()
            ))
        })?;
    let want_family = match req.family {
        Family::Inet => libc::AF_INET,
        Family::Inet6 => libc::AF_INET6,
    };
    if i32::from(h[0]) != want_family {
        return Err(NetlinkError::Malformed(format!(
            "address family {} in a dump of {want_family}",
            h[0]
        )));
    }
    // struct inet_diag_msg: family, state, timer, retrans (u8 each), then inet_diag_sockid
    // (sport, dport big-endian u16; src[16], dst[16]; if u32; cookie 2×u32), then expires,
    // rqueue, wqueue, uid, inode (host-endian u32).
    let diag_state = h[1];
    let timer_kind = h[2];
    let diag_retrans = h[3];
    let local_port = u16::from_be_bytes([h[4], h[5]]);
    let remote_port = u16::from_be_bytes([h[6], h[7]]);
    let local = address(req.family, &h[8..24]);
    let remote = address(req.family, &h[24..40]);
    let expires_ms = ne_u32(h, 52);
    let rqueue = ne_u32(h, 56);
    let wqueue = ne_u32(h, 60);
    let uid = ne_u32(h, 64);
    let inode = ne_u32(h, 68);
    let cookie = u64::from(ne_u32(h, 44)) | u64::from(ne_u32(h, 48)) << 32;

    let is_tcp = req.proto == InetProto::Tcp;
    // inet_req_diag_fill() reports request socks as SYN_RECV already; map
    // TCP_NEW_SYN_RECV too in case a kernel passes the internal state through.
    let state = if is_tcp && diag_state == TCP_NEW_SYN_RECV {
        TCP_SYN_RECV
    } else {
        diag_state
    };
    // A request sock has uid 0 and inode 0 here. A full SYN_RECV socket (TCP Fast Open
    // child) has inode 0 too, but its uid is its listener's already, so the fix-up is a no-op.
    let is_request_sock = is_tcp && state == TCP_SYN_RECV && uid == 0 && inode == 0;
    // /proc/net/tcp prints write_seq - snd_una as a listener's tx_queue: 0.
    let tx_queue = if is_tcp && state == TCP_LISTEN {
        0
    } else {
        wqueue
    };
    let timer = if is_tcp && req.want_timers {
        let counters = tcp_info_counters(&payload[MSG_LEN..])?;
        tcp_timer(timer_kind, expires_ms, diag_retrans, counters)
    } else {
        // udp and raw: /proc always prints `00:00000000 00000000 ... 0`.
        Timer::default()
    };
    let row = InetSocket {
        proto: req.proto,
        family: req.family,
        local,
        local_port,
        remote,
        // /proc/net/raw prints 0 as the remote "port" even after connect().
        remote_port: if req.proto == InetProto::Raw {
            0
        } else {
            remote_port
        },
        state,
        rx_queue: u64::from(rqueue),
        tx_queue: u64::from(tx_queue),
        uid,
        inode: u64::from(inode),
        cookie,
        timer,
    };
    Ok((row, is_request_sock))
}

/// `tm->when`, `retrnsmt` and the probes column as `get_tcp4_sock()`/`get_tcp6_sock()`,
/// `get_openreq*()` and `get_timewait*_sock()` print them.
fn tcp_timer(kind: u8, expires_ms: u32, diag_retrans: u8, counters: Option<(u8, u8)>) -> Timer {
    let (retransmits, probes) = match counters {
        // icsk_retransmits, icsk_probes_out, whatever the timer.
        Some(counters) => counters,
        // No tcp_info: request and TIME_WAIT sockets (and listeners). idiag_retrans is
        // icsk_retransmits (or a request's num_retrans) for kind 1, icsk_probes_out for 2 and 4.
        None => match kind {
            1 => (diag_retrans, 0),
            2 | 4 => (0, diag_retrans),
            _ => (0, 0),
        },
    };
    Timer {
        kind,
        when_ticks: u64::from(expires_ms) / MS_PER_CLOCK_TICK,
        retransmits: u64::from(retransmits),
        probes: u32::from(probes),
    }
}

/// `tcpi_retransmits` and `tcpi_probes` from the `INET_DIAG_INFO` attribute, if present.
fn tcp_info_counters(attrs: &[u8]) -> Result<Option<(u8, u8)>, NetlinkError> {
    for nla in NlasIterator::new(attrs) {
        let nla = nla.map_err(|e| NetlinkError::Malformed(e.to_string()))?;
        if nla.kind() & NLA_TYPE_MASK == INET_DIAG_INFO {
            // struct tcp_info starts with tcpi_state, tcpi_ca_state, tcpi_retransmits,
            // tcpi_probes (u8 each).
            return match nla.value() {
                [_, _, retransmits, probes, ..] => Ok(Some((*retransmits, *probes))),
                _ => Err(NetlinkError::Malformed("short INET_DIAG_INFO".into())),
            };
        }
    }
    Ok(None)
}

fn ne_u32(h: &[u8; MSG_LEN], at: usize) -> u32 {
    u32::from_ne_bytes([h[at], h[at + 1], h[at + 2], h[at + 3]])
}

/// An `idiag_src`/`idiag_dst` field (16 bytes; IPv4 uses the first 4). v4-mapped IPv6
/// addresses stay IPv6, as /proc/net/tcp6 prints them.
fn address(family: Family, bytes: &[u8]) -> IpAddr {
    let mut octets = [0u8; 16];
    let n = bytes.len().min(16);
    octets[..n].copy_from_slice(&bytes[..n]);
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])),
        Family::Inet6 => IpAddr::V6(Ipv6Addr::from(octets)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V4: DumpRequest = DumpRequest {
        proto: InetProto::Tcp,
        family: Family::Inet,
        want_timers: true,
    };
    const V6: DumpRequest = DumpRequest {
        family: Family::Inet6,
        ..V4
    };

    /// A `struct inet_diag_msg` as the kernel lays it out.
    #[derive(Clone)]
    struct Msg {
        family: u8,
        state: u8,
        timer: u8,
        retrans: u8,
        sport: u16,
        dport: u16,
        src: [u8; 16],
        dst: [u8; 16],
        expires: u32,
        rqueue: u32,
        wqueue: u32,
        uid: u32,
        inode: u32,
        /// `(tcpi_retransmits, tcpi_probes)` as an INET_DIAG_INFO attribute.
        info: Option<(u8, u8)>,
    }

    impl Msg {
        fn v4(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, state: u8) -> Self {
            let mut s = [0; 16];
            s[..4].copy_from_slice(&src);
            let mut d = [0; 16];
            d[..4].copy_from_slice(&dst);
            Self {
                family: libc::AF_INET as u8,
                state,
                timer: 0,
                retrans: 0,
                sport,
                dport,
                src: s,
                dst: d,
                expires: 0,
                rqueue: 0,
                wqueue: 0,
                uid: 0,
                inode: 0,
                info: None,
            }
        }

        fn v6(src: Ipv6Addr, sport: u16, dst: Ipv6Addr, dport: u16, state: u8) -> Self {
            Self {
                family: libc::AF_INET6 as u8,
                src: src.octets(),
                dst: dst.octets(),
                ..Self::v4([0; 4], sport, [0; 4], dport, state)
            }
        }

        fn payload(&self) -> Vec<u8> {
            let mut b = vec![self.family, self.state, self.timer, self.retrans];
            b.extend(self.sport.to_be_bytes());
            b.extend(self.dport.to_be_bytes());
            b.extend(self.src);
            b.extend(self.dst);
            b.extend(0u32.to_ne_bytes()); // idiag_if
            b.extend(2u32.to_ne_bytes()); // idiag_cookie, low half
            b.extend(1u32.to_ne_bytes()); // high half
            for v in [self.expires, self.rqueue, self.wqueue, self.uid, self.inode] {
                b.extend(v.to_ne_bytes());
            }
            assert_eq!(b.len(), MSG_LEN);
            // INET_DIAG_SHUTDOWN (u8), as the kernel always adds it.
            b.extend(nla(8, &[0]));
            if let Some((retransmits, probes)) = self.info {
                let mut tcp_info = vec![1, 0, retransmits, probes];
                tcp_info.resize(232, 0);
                b.extend(nla(INET_DIAG_INFO, &tcp_info));
            }
            b
        }
    }

    fn nla(kind: u16, value: &[u8]) -> Vec<u8> {
        let len = 4 + value.len();
        let mut b = Vec::new();
        b.extend((len as u16).to_ne_bytes());
        b.extend(kind.to_ne_bytes());
        b.extend(value);
        b.resize(len.next_multiple_of(4), 0);
        b
    }

    fn nlmsg(kind: u16, seq: u32, payload: &[u8]) -> Vec<u8> {
        let len = 16 + payload.len();
        let mut b = Vec::new();
        b.extend((len as u32).to_ne_bytes());
        b.extend(kind.to_ne_bytes());
        b.extend(2u16.to_ne_bytes()); // NLM_F_MULTI
        b.extend(seq.to_ne_bytes());
        b.extend(1234u32.to_ne_bytes());
        b.extend(payload);
        b.resize(len.next_multiple_of(4), 0);
        b
    }

    fn diag(m: &Msg) -> Vec<u8> {
        nlmsg(SOCK_DIAG_BY_FAMILY, DUMP_SEQ, &m.payload())
    }

    fn done(errno: i32) -> Vec<u8> {
        nlmsg(NLMSG_DONE, DUMP_SEQ, &errno.to_ne_bytes())
    }

    /// Feeds `datagrams` to a decoder and returns the rows, or the first error.
    fn decode(req: DumpRequest, datagrams: &[Vec<u8>]) -> Result<Vec<InetSocket>, NetlinkError> {
        let mut d = Decoder::new(req, DUMP_SEQ);
        let mut rows = Vec::new();
        for dg in datagrams {
            let progress = d.feed(dg)?;
            rows.extend(d.take_rows());
            if progress == Progress::Done {
                return Ok(rows);
            }
        }
        panic!("no NLMSG_DONE");
    }

    fn one(req: DumpRequest, m: &Msg) -> InetSocket {
        let mut rows = decode(req, &[[diag(m), done(0)].concat()]).expect("decodes");
        assert_eq!(rows.len(), 1);
        rows.remove(0)
    }

    #[test]
    fn established_v4_fields() {
        let mut m = Msg::v4([127, 0, 0, 1], 8080, [10, 1, 2, 3], 47030, 1);
        m.rqueue = 1234;
        m.wqueue = 7;
        m.uid = 1000;
        m.inode = 0xdead_beef;
        m.info = Some((0, 0));
        let row = one(V4, &m);
        assert_eq!(
            row,
            InetSocket {
                proto: InetProto::Tcp,
                family: Family::Inet,
                local: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
                local_port: 8080,
                remote: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
                remote_port: 47030,
                state: 1,
                rx_queue: 1234,
                tx_queue: 7,
                uid: 1000,
                inode: 0xdead_beef,
                cookie: 0x1_0000_0002,
                timer: Timer::default(),
            }
        );
    }

    #[test]
    fn listener_send_q_is_zero_not_the_backlog() {
        let mut m = Msg::v4([0; 4], 80, [0; 4], 0, TCP_LISTEN);
        m.rqueue = 3; // accept queue
        m.wqueue = 4096; // sk_max_ack_backlog
        let row = one(V4, &m);
        assert_eq!((row.rx_queue, row.tx_queue), (3, 0));
    }

    #[test]
    fn v6_and_v4_mapped_stay_ipv6() {
        let mapped: Ipv6Addr = "::ffff:127.0.0.1".parse().unwrap();
        let long: Ipv6Addr = "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1".parse().unwrap();
        let row = one(V6, &Msg::v6(mapped, 33333, long, 48250, 1));
        assert_eq!(row.local, IpAddr::V6(mapped));
        assert_eq!(row.remote, IpAddr::V6(long));
        assert_eq!(row.family, Family::Inet6);
        assert_eq!((row.local_port, row.remote_port), (33333, 48250));
    }

    #[test]
    fn request_sock_is_syn_recv_with_the_listeners_uid() {
        let mut wild = Msg::v4([0; 4], 80, [0; 4], 0, TCP_LISTEN);
        wild.uid = 33;
        let mut exact = Msg::v4([127, 0, 0, 2], 81, [0; 4], 0, TCP_LISTEN);
        exact.uid = 44;
        let mut other = Msg::v4([0; 4], 81, [0; 4], 0, TCP_LISTEN);
        other.uid = 55;
        let mut req80 = Msg::v4([127, 0, 0, 1], 80, [127, 0, 0, 9], 5000, TCP_SYN_RECV);
        req80.timer = 1;
        req80.retrans = 2;
        req80.expires = 2999;
        let req81 = Msg::v4([127, 0, 0, 2], 81, [127, 0, 0, 9], 5001, TCP_NEW_SYN_RECV);
        let orphan = Msg::v4([127, 0, 0, 1], 82, [127, 0, 0, 9], 5002, TCP_SYN_RECV);
        let mut fast_open_child = Msg::v4([127, 0, 0, 1], 80, [127, 0, 0, 9], 5003, TCP_SYN_RECV);
        fast_open_child.uid = 66;
        let rows = decode(
            V4,
            &[
                [diag(&wild), diag(&exact), diag(&other)].concat(),
                [diag(&req80), diag(&req81), diag(&orphan)].concat(),
                [diag(&fast_open_child), done(0)].concat(),
            ],
        )
        .unwrap();
        let reqs: Vec<(u8, u32)> = rows[3..].iter().map(|r| (r.state, r.uid)).collect();
        assert_eq!(reqs, [(3, 33), (3, 44), (3, 0), (3, 66)]);
        assert_eq!(
            rows[3].timer,
            Timer {
                kind: 1,
                when_ticks: 299,
                retransmits: 2,
                probes: 0
            }
        );
    }

    #[test]
    fn time_wait_keeps_its_expiry() {
        let mut m = Msg::v4([127, 0, 0, 1], 43236, [127, 0, 0, 1], 8081, 6);
        m.timer = 3;
        m.expires = 59_996;
        let row = one(V4, &m);
        assert_eq!((row.state, row.inode, row.uid), (6, 0, 0));
        assert_eq!(
            row.timer,
            Timer {
                kind: 3,
                when_ticks: 5999,
                retransmits: 0,
                probes: 0
            }
        );
    }

    #[test]
    fn keepalive_and_probe_take_counters_from_tcp_info() {
        let mut m = Msg::v4([127, 0, 0, 1], 1, [127, 0, 0, 1], 2, 1);
        m.timer = 2;
        m.retrans = 4; // icsk_probes_out, for this timer kind
        m.expires = 7_209;
        m.info = Some((3, 4));
        let t = one(V4, &m).timer;
        assert_eq!(
            (t.kind, t.when_ticks, t.retransmits, t.probes),
            (2, 720, 3, 4)
        );

        m.timer = 4;
        m.info = None; // e.g. an older kernel: idiag_retrans is the probe count
        let t = one(V4, &m).timer;
        assert_eq!((t.kind, t.retransmits, t.probes), (4, 0, 4));

        m.timer = 0;
        m.expires = 0;
        m.info = Some((1, 0)); // no timer, yet /proc still prints icsk_retransmits
        let t = one(V4, &m).timer;
        assert_eq!(
            t,
            Timer {
                kind: 0,
                when_ticks: 0,
                retransmits: 1,
                probes: 0
            }
        );
    }

    #[test]
    fn expires_round_down_to_clock_ticks() {
        for (ms, ticks) in [
            (0, 0),
            (4, 0),
            (9, 0),
            (10, 1),
            (19, 1),
            (200, 20),
            (u32::MAX, 429_496_729),
        ] {
            assert_eq!(tcp_timer(1, ms, 0, None).when_ticks, ticks, "{ms} ms");
        }
    }

    #[test]
    fn no_timers_unless_asked() {
        let mut m = Msg::v4([127, 0, 0, 1], 1, [127, 0, 0, 1], 2, 1);
        m.timer = 1;
        m.expires = 200;
        m.retrans = 1;
        let req = DumpRequest {
            want_timers: false,
            ..V4
        };
        assert_eq!(one(req, &m).timer, Timer::default());
    }

    #[test]
    fn udp_and_udplite_rows_look_like_proc() {
        let mut m = Msg::v4([0; 4], 53, [0; 4], 0, 7);
        m.rqueue = 768;
        m.wqueue = 5;
        m.timer = 1; // never for udp, but /proc would print zeros anyway
        for proto in [InetProto::Udp, InetProto::UdpLite] {
            let req = DumpRequest { proto, ..V4 };
            let row = one(req, &m);
            assert_eq!(
                (row.proto, row.state, row.rx_queue, row.tx_queue),
                (proto, 7, 768, 5)
            );
            assert_eq!(row.timer, Timer::default());
        }
    }

    #[test]
    fn raw_remote_port_is_zero_like_proc() {
        let m = Msg::v4([0; 4], 1, [10, 0, 0, 1], 7, 1);
        let row = one(
            DumpRequest {
                proto: InetProto::Raw,
                ..V4
            },
            &m,
        );
        assert_eq!((row.local_port, row.remote_port), (1, 0));
    }

    #[test]
    fn one_datagram_may_hold_many_messages_and_the_done() {
        let msgs: Vec<Vec<u8>> = (0..100u16)
            .map(|p| diag(&Msg::v4([127, 0, 0, 1], p, [0; 4], 0, 7)))
            .collect();
        let rows = decode(
            V4,
            &[msgs[..60].concat(), [msgs[60..].concat(), done(0)].concat()],
        )
        .unwrap();
        let ports: Vec<u16> = rows.iter().map(|r| r.local_port).collect();
        assert_eq!(ports, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn messages_of_another_sequence_are_skipped() {
        let stray = nlmsg(
            SOCK_DIAG_BY_FAMILY,
            DUMP_SEQ + 1,
            &Msg::v4([0; 4], 9, [0; 4], 0, 7).payload(),
        );
        let rows = decode(
            V4,
            &[[stray, diag(&Msg::v4([0; 4], 1, [0; 4], 0, 7)), done(0)].concat()],
        );
        assert_eq!(rows.unwrap().len(), 1);
    }

    #[test]
    fn missing_diag_module_is_unsupported() {
        // raw_diag absent: the dump ends with NLMSG_DONE carrying -ENOENT (seen on Linux 6.18).
        for errno in [
            libc::ENOENT,
            libc::EINVAL,
            libc::EOPNOTSUPP,
            libc::EPROTONOSUPPORT,
        ] {
            let err = decode(V4, &[done(-errno)]).unwrap_err();
            assert!(
                matches!(
                    err,
                    NetlinkError::Unsupported {
                        proto: InetProto::Tcp,
                        family: Family::Inet
                    }
                ),
                "{err:?}"
            );
        }
        let err = decode(
            V4,
            &[nlmsg(NLMSG_ERROR, DUMP_SEQ, &(-libc::ENOENT).to_ne_bytes())],
        )
        .unwrap_err();
        assert!(matches!(err, NetlinkError::Unsupported { .. }));
    }

    #[test]
    fn other_errors_are_io() {
        let err = decode(
            V4,
            &[nlmsg(NLMSG_ERROR, DUMP_SEQ, &(-libc::EPERM).to_ne_bytes())],
        )
        .unwrap_err();
        match err {
            NetlinkError::Io(e) => assert_eq!(e.raw_os_error(), Some(libc::EPERM)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn truncated_input_is_malformed() {
        let msg = diag(&Msg::v4([0; 4], 1, [0; 4], 0, 7));
        let err = decode(V4, &[msg[..msg.len() - 8].to_vec()]).unwrap_err();
        assert!(matches!(err, NetlinkError::Malformed(_)), "{err:?}");
        let short = nlmsg(SOCK_DIAG_BY_FAMILY, DUMP_SEQ, &[2, 1, 0, 0]);
        assert!(matches!(
            decode(V4, &[short]),
            Err(NetlinkError::Malformed(_))
        ));
        let wrong_family = diag(&Msg::v4([0; 4], 1, [0; 4], 0, 7));
        assert!(matches!(
            decode(V6, &[wrong_family]),
            Err(NetlinkError::Malformed(_))
        ));
    }

    #[test]
    fn request_bytes() {
        let req = encode_request(&V6, libc::IPPROTO_TCP as u8, 7);
        assert_eq!(req.len(), 16 + 56);
        assert_eq!(&req[..4], &72u32.to_ne_bytes());
        assert_eq!(&req[4..6], &SOCK_DIAG_BY_FAMILY.to_ne_bytes());
        assert_eq!(&req[6..8], &(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
        assert_eq!(&req[8..12], &7u32.to_ne_bytes());
        // inet_diag_req_v2: family, protocol, idiag_ext (INFO bit), pad, idiag_states.
        assert_eq!(
            &req[16..20],
            &[libc::AF_INET6 as u8, 6, 1 << (INET_DIAG_INFO - 1), 0]
        );
        assert_eq!(&req[20..24], &STATE_MASK.to_ne_bytes());
        let udp = encode_request(
            &DumpRequest {
                proto: InetProto::Udp,
                ..V4
            },
            libc::IPPROTO_UDP as u8,
            7,
        );
        assert_eq!(&udp[16..20], &[libc::AF_INET as u8, 17, 0, 0]);
    }

    #[test]
    fn sctp_is_unsupported_without_asking_the_kernel() {
        let req = DumpRequest {
            proto: InetProto::Sctp,
            ..V4
        };
        assert!(matches!(dump(&req), Err(NetlinkError::Unsupported { .. })));
    }
}
