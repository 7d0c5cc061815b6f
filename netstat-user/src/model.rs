//! The one model every source fills and every renderer reads: plain std types. The
//! sockets' rows are here; other modes' rows are in a module each.
pub mod groups;
pub mod iface;
pub mod route;
pub mod stats;

use std::net::{IpAddr, Ipv4Addr};

/// Internet protocols netstat lists, in net-tools' section order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InetProto {
    Tcp,
    Sctp,
    Udp,
    UdpLite,
    Raw,
}

impl InetProto {
    /// The kernel's protocol number (raw sockets: IPPROTO_RAW, their usual one).
    pub fn ipproto(self) -> u16 {
        match self {
            InetProto::Tcp => 6,
            InetProto::Udp => 17,
            InetProto::UdpLite => 136,
            InetProto::Raw => 255,
            InetProto::Sctp => 132,
        }
    }
}

/// Address family of an Internet socket table (`/proc/net/tcp` vs `/proc/net/tcp6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    Inet,
    Inet6,
}

impl Family {
    /// `AF_INET` / `AF_INET6`.
    pub fn af(self) -> u16 {
        match self {
            Family::Inet => netstat_common::AF_INET,
            Family::Inet6 => netstat_common::AF_INET6,
        }
    }
}

/// An address as the kernel side stores it: 16 bytes, IPv4 in the first 4.
pub fn addr16(a: IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// The kernel's per-socket timer, as `/proc/net/tcp` prints it (`tr`, `tm->when`,
/// `retrnsmt`, and the probes column).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timer {
    /// 0 none, 1 retransmit, 2 keepalive, 3 timewait, 4 zero-window probe.
    pub kind: u8,
    /// Time left, in clock ticks (USER_HZ, 1/100 s), as `tm->when`.
    pub when_ticks: u64,
    pub retransmits: u64,
    pub probes: u32,
}

/// One row of an Internet socket table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetSocket {
    pub proto: InetProto,
    pub family: Family,
    pub local: IpAddr,
    pub local_port: u16,
    pub remote: IpAddr,
    pub remote_port: u16,
    /// Kernel state number (TCP states for tcp; 1/7 for udp and raw).
    pub state: u8,
    pub rx_queue: u64,
    pub tx_queue: u64,
    pub uid: u32,
    /// 0 for sockets with no `struct socket` (TIME_WAIT, orphans, unaccepted).
    pub inode: u64,
    /// Socket cookie (sock_diag's `idiag_cookie`, `SO_COOKIE`); 0 when read from /proc,
    /// which does not print it. The agent's owner map is keyed by it.
    pub cookie: u64,
    pub timer: Timer,
}

/// One row of `/proc/net/unix`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixSocket {
    pub refcount: u64,
    pub protocol: u64,
    pub flags: u64,
    /// SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3, SOCK_RDM 4, SOCK_SEQPACKET 5.
    pub sock_type: u32,
    /// SS_FREE 0, SS_UNCONNECTED 1, SS_CONNECTING 2, SS_CONNECTED 3, SS_DISCONNECTING 4.
    pub state: u32,
    pub inode: u64,
    /// The path bytes as the kernel prints them (abstract names start with `@`); None if unbound.
    pub path: Option<Vec<u8>>,
}

/// One masquerade entry (`-M`): net-tools' `struct masq`, filled from conntrack
/// (source/conntrack.rs) or from a recorded `/proc/net/ip_masquerade` (masq.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MasqEntry {
    /// net-tools' protocol name (`tcp`, `udp`, `icmp`, `gre`, `esp`, `ip`).
    pub proto: &'static str,
    /// Time left, in hundredths of a second (net-tools divides jiffies by 100).
    pub expires: u64,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    /// The masquerading port.
    pub mport: u16,
    /// `-e`: "Add delta from this seq. on".
    pub initseq: u64,
    /// `-e`: delta in sequence numbers (a C `short`).
    pub delta: i16,
    /// `-e`: the delta before the last one; `None` prints `-` (a file without `PDelta`).
    pub pdelta: Option<i16>,
}
