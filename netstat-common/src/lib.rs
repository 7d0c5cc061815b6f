//! The kernel/user ABI of netstat-ebpf, and nothing else.
//!
//! Every type the eBPF programs write and the user side reads is declared here once:
//! `#[repr(C)]`, explicit padding, no `bool`, sizes checked at compile time. Map and
//! global names sit next to the types that use them. The `user` feature adds the
//! `aya::Pod` impls the user side needs; the eBPF side never enables it.
#![no_std]

/// Ring buffer carrying [`TcpStateEvent`]s (BPF_MAP_TYPE_RINGBUF).
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-CPU array of `u64` counters of events that never reached the user side, indexed
/// by [`LOST_RING_FULL`] and [`LOST_READ_FAILED`]. The user side sums the CPUs and
/// reports them.
pub const MAP_LOST: &str = "LOST";
/// [`MAP_EVENTS`] had no room for the event.
pub const LOST_RING_FULL: u32 = 0;
/// Reading the tracepoint record failed (should never happen; counted, not hidden).
pub const LOST_READ_FAILED: u32 = 1;
/// Number of slots in [`MAP_LOST`].
pub const LOST_SLOTS: u32 = 2;
/// Default size of [`MAP_EVENTS`] in bytes (a power of two, a multiple of the page size).
pub const EVENTS_RING_BYTES: u32 = 1 << 20;

/// Load-time global: offset of `skc_net` (a `possible_net_t`, whose first and only
/// member is `struct net *net`) inside `struct sock_common`, from the running
/// kernel's BTF. `u32::MAX` means unknown; events then carry `netns == 0`.
pub const GLOBAL_SKC_NET_OFFSET: &str = "SKC_NET_OFFSET";
/// Load-time global: offset of `ns.inum` inside `struct net`, from BTF.
pub const GLOBAL_NET_INUM_OFFSET: &str = "NET_INUM_OFFSET";
/// Value of an offset global the user side could not resolve.
pub const OFFSET_UNKNOWN: u32 = u32::MAX;

/// Name of the tracepoint program in the object file.
pub const PROG_INET_SOCK_SET_STATE: &str = "inet_sock_set_state";

/// Kernel TCP states (`include/net/tcp_states.h`), with the kernel's own numbers.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait1 = 4,
    FinWait2 = 5,
    TimeWait = 6,
    Close = 7,
    CloseWait = 8,
    LastAck = 9,
    Listen = 10,
    Closing = 11,
    NewSynRecv = 12,
    BoundInactive = 13,
}

impl TcpState {
    /// The kernel's name without `TCP_`, as ss, the bcc tools and net-tools print it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Established => "ESTABLISHED",
            Self::SynSent => "SYN_SENT",
            Self::SynRecv => "SYN_RECV",
            Self::FinWait1 => "FIN_WAIT1",
            Self::FinWait2 => "FIN_WAIT2",
            Self::TimeWait => "TIME_WAIT",
            Self::Close => "CLOSE",
            Self::CloseWait => "CLOSE_WAIT",
            Self::LastAck => "LAST_ACK",
            Self::Listen => "LISTEN",
            Self::Closing => "CLOSING",
            Self::NewSynRecv => "NEW_SYN_RECV",
            Self::BoundInactive => "BOUND_INACTIVE",
        }
    }

    pub const fn from_kernel(n: u8) -> Option<Self> {
        Some(match n {
            1 => Self::Established,
            2 => Self::SynSent,
            3 => Self::SynRecv,
            4 => Self::FinWait1,
            5 => Self::FinWait2,
            6 => Self::TimeWait,
            7 => Self::Close,
            8 => Self::CloseWait,
            9 => Self::LastAck,
            10 => Self::Listen,
            11 => Self::Closing,
            12 => Self::NewSynRecv,
            13 => Self::BoundInactive,
            _ => return None,
        })
    }
}

/// Layout of the `sock:inet_sock_set_state` tracepoint record (kernel 4.16+), as
/// `/sys/kernel/tracing/events/sock/inet_sock_set_state/format` describes it. The
/// user side checks the running kernel's format file against these offsets before it
/// attaches, and refuses (with the mismatch named) rather than read garbage.
pub mod inet_sock_set_state {
    /// `(field name, offset, size)` for every field the program reads.
    pub const FIELDS: [(&str, usize, usize); 11] = [
        ("skaddr", SKADDR, 8),
        ("oldstate", OLDSTATE, 4),
        ("newstate", NEWSTATE, 4),
        ("sport", SPORT, 2),
        ("dport", DPORT, 2),
        ("family", FAMILY, 2),
        ("protocol", PROTOCOL, 2),
        ("saddr", SADDR, 4),
        ("daddr", DADDR, 4),
        ("saddr_v6", SADDR_V6, 16),
        ("daddr_v6", DADDR_V6, 16),
    ];
    pub const SKADDR: usize = 8;
    pub const OLDSTATE: usize = 16;
    pub const NEWSTATE: usize = 20;
    pub const SPORT: usize = 24;
    pub const DPORT: usize = 26;
    pub const FAMILY: usize = 28;
    pub const PROTOCOL: usize = 30;
    pub const SADDR: usize = 32;
    pub const DADDR: usize = 36;
    pub const SADDR_V6: usize = 40;
    pub const DADDR_V6: usize = 56;
}

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;
pub const IPPROTO_TCP: u16 = 6;

/// One TCP (or SCTP/MPTCP) state change, as seen inside `tcp_set_state()`.
///
/// Addresses are in network byte order; an IPv4 address fills the first 4 bytes and
/// leaves the rest zero. Ports are in host byte order (the tracepoint converts them).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpStateEvent {
    /// `bpf_ktime_get_ns()`: CLOCK_MONOTONIC nanoseconds.
    pub ts_ns: u64,
    /// Kernel address of the `struct sock`: an identity only while the socket lives.
    pub skaddr: u64,
    /// Inode number of the socket's network namespace (`ls -l /proc/PID/ns/net`);
    /// 0 when the offsets could not be resolved.
    pub netns: u32,
    /// tgid of the task that was current when the change ran. This is **context, not
    /// the owner**: state changes often run in softirq or in another task.
    pub current_tgid: u32,
    pub family: u16,
    pub protocol: u16,
    pub sport: u16,
    pub dport: u16,
    pub oldstate: u8,
    pub newstate: u8,
    pub _pad: [u8; 6],
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<TcpStateEvent>() == 72);
const _: () = assert!(core::mem::align_of::<TcpStateEvent>() == 8);

#[cfg(feature = "user")]
mod user {
    // SAFETY: every type here is #[repr(C)], Copy, has explicit padding and no
    // invalid bit patterns, which is what `aya::Pod` requires.
    unsafe impl aya::Pod for super::TcpStateEvent {}
}
