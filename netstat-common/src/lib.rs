//! The kernel/user ABI of netstat-ebpf, and nothing else.
//!
//! Every type the eBPF programs write and the user side reads is declared here once:
//! `#[repr(C)]`, explicit padding, no `bool`, sizes checked at compile time. Map and
//! global names sit next to the types that use them. The `user` feature adds the
//! `aya::Pod` impls the user side needs; the eBPF side never enables it.
#![no_std]

/// Ring buffer (BPF_MAP_TYPE_RINGBUF) carrying [`TcpStateEvent`]s and [`ConnEvent`]s;
/// every record starts with its `kind` (an [`event_kind`] value).
pub const MAP_EVENTS: &str = "EVENTS";
/// Per-CPU array of `u64` counters of events that never reached the user side, indexed
/// by [`LOST_RING_FULL`] and [`LOST_CONN_RING_FULL`]. The user side sums the CPUs and
/// reports them.
pub const MAP_LOST: &str = "LOST";
/// [`MAP_EVENTS`] had no room for the event.
pub const LOST_RING_FULL: u32 = 0;
/// A connection record ([`ConnEvent`]) found the ring full: its socket's record is
/// parked in [`MAP_UNSENT`] and the user side reports it from there.
pub const LOST_CONN_RING_FULL: u32 = 1;
/// Number of slots in [`MAP_LOST`].
pub const LOST_SLOTS: u32 = 2;
/// Default size of [`MAP_EVENTS`] in bytes (a power of two, a multiple of the page size):
/// room for ~50 000 state changes, i.e. more than 0.25 s of a 20 000 connections/s churn
/// while the reader is descheduled.
pub const EVENTS_RING_BYTES: u32 = 8 << 20;
/// The programs wake the reader only when this many bytes wait in the ring (BPF's
/// default wakes it for every record while it keeps up, which costs an interrupt per
/// event under churn); the reader also polls on its own every [`EVENTS_POLL_MS`].
pub const EVENTS_WAKEUP_BYTES: u64 = 256 << 10;
/// How often the reader empties the ring without being woken.
pub const EVENTS_POLL_MS: u64 = 50;

/// Load-time global holding [`KernelOffsets`], filled from the running kernel's BTF.
pub const GLOBAL_OFFSETS: &str = "OFFSETS";
/// Load-time global (`u32`): [`emit`] bits saying what the programs queue on
/// [`MAP_EVENTS`] (0: nothing, only the owner map is kept — the agent).
pub const GLOBAL_EMIT_EVENTS: &str = "EMIT_EVENTS";
/// Load-time global [`EventFilter`]: what reaches the ring. Filtering in the kernel keeps
/// filtered-out events out of the ring entirely, so they can neither fill it nor count
/// as lost; the owner map still follows every socket.
pub const GLOBAL_FILTER: &str = "FILTER";

/// Load-time global (`u32`): [`kernel_has`] bits, what the running kernel's verifier
/// accepts that older ones refuse. The programs test them with constant loads of a
/// frozen map, so the verifier prunes the branch a kernel cannot take before it looks
/// at its instructions.
pub const GLOBAL_KERNEL_HAS: &str = "KERNEL_HAS";

/// [`GLOBAL_KERNEL_HAS`] bits.
pub mod kernel_has {
    /// `BPF_ATOMIC` or/and on memory (5.12+); before, only `BPF_XADD` (add) exists.
    pub const ATOMIC_BITOPS: u32 = 1;
}

/// [`GLOBAL_EMIT_EVENTS`] bits.
pub mod emit {
    /// Every TCP state change, as a [`super::TcpStateEvent`] (`--watch`).
    pub const STATES: u32 = 1;
    /// One [`super::ConnEvent`] per TCP connection that ends (`--audit`).
    pub const CONNECTIONS: u32 = 2;
    /// UDP flows are counted in [`super::MAP_FLOWS`] (`--audit`).
    pub const FLOWS: u32 = 4;
    /// A connection's record leaves the owner map when it hands over to timewait (the
    /// live modes follow timewait from their events; only the agent's listings need
    /// the record for the 60 s after).
    pub const FORGET_TIMEWAIT: u32 = 8;
    /// Benchmark only (`cargo xtask bench --only churn`): every program returns at once,
    /// so a run measures what attaching the hooks costs by itself. A load-time constant:
    /// one load and a branch per run when it is not set (the verifier may drop even
    /// that: the value is read-only and known at load).
    pub const HOOKS_ONLY: u32 = 1 << 31;
}

/// First field of every ring record.
pub mod event_kind {
    pub const STATE: u32 = 1;
    pub const CONN: u32 = 2;
}

/// What the programs queue (see [`GLOBAL_FILTER`]); a zero field matches everything.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventFilter {
    /// Network namespace inode.
    pub netns: u32,
    /// Owner's tgid (events without a known owner never match a pid).
    pub pid: u32,
    /// Bit `1 << state` for each kernel TCP state: a state change matches when its old
    /// or its new state is in the set (connection records: their last state).
    pub states: u32,
    /// `AF_INET` or `AF_INET6`.
    pub family: u16,
    /// Local port, remote port, either port (host byte order).
    pub sport: u16,
    pub dport: u16,
    pub port: u16,
    /// The owner's comm, NUL-padded (all zero: any).
    pub comm: [u8; 16],
}

const _: () = assert!(core::mem::size_of::<EventFilter>() == 36);
/// Value of an offset the user side could not resolve.
pub const OFFSET_UNKNOWN: u32 = u32::MAX;

/// Kernel struct member offsets the programs need, read from the running kernel's BTF at
/// load time (aya emits no CO-RE relocations for Rust programs). Every field is a byte
/// offset inside the struct named in its doc, or [`OFFSET_UNKNOWN`]; a program that needs
/// an unknown offset does without (and the user side says what is missing).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelOffsets {
    /// `sock_common.skc_net` (a `possible_net_t`: its first member is `struct net *`).
    pub skc_net: u32,
    /// `net.ns` + `ns_common.inum`.
    pub net_inum: u32,
    /// `sock_common.skc_cookie` (`atomic64_t`; 0 until something asks for the cookie).
    pub skc_cookie: u32,
    /// `sock.sk_socket`.
    pub sk_socket: u32,
    /// `socket.sk`.
    pub socket_sk: u32,
    /// `socket_alloc.vfs_inode` − `socket_alloc.socket`: from a `struct socket *` to its inode.
    pub socket_to_inode: u32,
    /// `inode.i_ino`.
    pub inode_ino: u32,
    /// `inode.i_mode`.
    pub inode_mode: u32,
    /// `task_struct.group_leader`.
    pub task_group_leader: u32,
    /// `task_struct.comm`.
    pub task_comm: u32,
    /// `task_struct.start_boottime` (what `/proc/PID/stat` field 22 is made from).
    pub task_start_boottime: u32,
    /// `task_struct.files`.
    pub task_files: u32,
    /// `task_struct.flags` (`PF_KTHREAD`).
    pub task_flags: u32,
    /// `files_struct.fdt`.
    pub files_fdt: u32,
    /// `fdtable.fd`.
    pub fdt_fd: u32,
    /// `fdtable.max_fds`.
    pub fdt_max_fds: u32,
    /// `file.private_data` (the `struct socket *` of a socket file).
    pub file_private_data: u32,
    /// `file.f_inode`.
    pub file_inode: u32,
    /// `file.f_ref` (6.13+, a `file_ref_t` counting from 0) or `file.f_count` (older).
    pub file_count: u32,
    /// 1 when [`Self::file_count`] is a `file_ref_t` (one reference reads 0), else 0.
    pub file_count_zero_based: u32,
    /// `sock.sk_err` (an `int`: why a connection ended — ECONNREFUSED, ECONNRESET…).
    pub sk_err: u32,
    /// `sock_common.skc_num` (local port, host order), `skc_dport` (remote, network order).
    pub skc_num: u32,
    pub skc_dport: u32,
    /// `sock_common.skc_rcv_saddr` / `skc_daddr` (IPv4) and `skc_v6_rcv_saddr` /
    /// `skc_v6_daddr` (IPv6).
    pub skc_rcv_saddr: u32,
    pub skc_daddr: u32,
    pub skc_v6_rcv_saddr: u32,
    pub skc_v6_daddr: u32,
    /// `tcp_sock.segs_out` / `segs_in` (`u32`).
    pub tcp_segs_out: u32,
    pub tcp_segs_in: u32,
    /// `sock_common.skc_family` and `sock.sk_protocol` (a `u16` since 5.6; a bitfield
    /// before, which reads as unknown): what the raw state-change tracepoint needs to
    /// tell TCP from SCTP/MPTCP and v4 from v6.
    pub skc_family: u32,
    pub sk_protocol: u32,
    /// `inet_sock.inet_sport` (network order) and `inet_saddr`: what the classic
    /// tracepoint reports as the local end. Not `skc_num`: a closing socket's port is
    /// released (`skc_num` = 0) before the change to CLOSE is traced.
    pub inet_sport: u32,
    pub inet_saddr: u32,
}

impl KernelOffsets {
    pub const UNKNOWN: Self = Self {
        skc_net: OFFSET_UNKNOWN,
        net_inum: OFFSET_UNKNOWN,
        skc_cookie: OFFSET_UNKNOWN,
        sk_socket: OFFSET_UNKNOWN,
        socket_sk: OFFSET_UNKNOWN,
        socket_to_inode: OFFSET_UNKNOWN,
        inode_ino: OFFSET_UNKNOWN,
        inode_mode: OFFSET_UNKNOWN,
        task_group_leader: OFFSET_UNKNOWN,
        task_comm: OFFSET_UNKNOWN,
        task_start_boottime: OFFSET_UNKNOWN,
        task_files: OFFSET_UNKNOWN,
        task_flags: OFFSET_UNKNOWN,
        files_fdt: OFFSET_UNKNOWN,
        fdt_fd: OFFSET_UNKNOWN,
        fdt_max_fds: OFFSET_UNKNOWN,
        file_private_data: OFFSET_UNKNOWN,
        file_inode: OFFSET_UNKNOWN,
        file_count: OFFSET_UNKNOWN,
        file_count_zero_based: 0,
        sk_err: OFFSET_UNKNOWN,
        skc_num: OFFSET_UNKNOWN,
        skc_dport: OFFSET_UNKNOWN,
        skc_rcv_saddr: OFFSET_UNKNOWN,
        skc_daddr: OFFSET_UNKNOWN,
        skc_v6_rcv_saddr: OFFSET_UNKNOWN,
        skc_v6_daddr: OFFSET_UNKNOWN,
        tcp_segs_out: OFFSET_UNKNOWN,
        tcp_segs_in: OFFSET_UNKNOWN,
        skc_family: OFFSET_UNKNOWN,
        sk_protocol: OFFSET_UNKNOWN,
        inet_sport: OFFSET_UNKNOWN,
        inet_saddr: OFFSET_UNKNOWN,
    };
}

const _: () = assert!(core::mem::size_of::<KernelOffsets>() == 132);

/// Name of the tracepoint program in the object file.
pub const PROG_INET_SOCK_SET_STATE: &str = "inet_sock_set_state";
/// The same program as a raw tracepoint (preferred: see netstat-ebpf's main.rs).
pub const PROG_INET_SOCK_SET_STATE_RAW: &str = "inet_sock_set_state_raw";

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
pub const IPPROTO_UDP: u16 = 17;

/// One TCP state change, as seen inside `tcp_set_state()`, with what the owner map knew
/// about the socket at that moment.
///
/// Addresses are in network byte order; an IPv4 address fills the first 4 bytes and
/// leaves the rest zero. Ports are in host byte order (the tracepoint converts them).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStateEvent {
    /// [`event_kind::STATE`].
    pub kind: u32,
    /// Inode number of the socket's network namespace (`ls -l /proc/PID/ns/net`);
    /// 0 when the offsets could not be resolved.
    pub netns: u32,
    /// `bpf_ktime_get_boot_ns()`: CLOCK_BOOTTIME nanoseconds (the clock of the records).
    pub ts_ns: u64,
    /// Kernel address of the `struct sock`: an identity only while the socket lives.
    pub skaddr: u64,
    /// tgid of the task that was current when the change ran. This is **context, not
    /// the owner**: state changes often run in softirq or in another task.
    pub current_tgid: u32,
    pub family: u16,
    pub protocol: u16,
    pub sport: u16,
    pub dport: u16,
    pub oldstate: u8,
    pub newstate: u8,
    /// [`event_flags`] bits.
    pub flags: u8,
    pub _pad: u8,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// Socket cookie (0: nobody assigned one yet, e.g. a child's first change).
    pub cookie: u64,
    /// CLOCK_BOOTTIME ns when the socket entered `oldstate` (0: unknown).
    pub prev_ns: u64,
    /// CLOCK_BOOTTIME ns when the programs first saw the socket (0: unknown).
    pub created_ns: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// The owner the map held ([`event_flags::OWNER`] set), learnt in process context.
    pub owner: Owner,
}

/// [`TcpStateEvent::flags`] bits.
pub mod event_flags {
    /// `owner`, `prev_ns`, `created_ns` and the byte counts come from the owner map.
    pub const OWNER: u8 = 1;
    /// This change to CLOSE hands the connection to a TIME_WAIT (or FIN_WAIT2) timewait
    /// socket that keeps the cookie: the connection is not over yet.
    pub const TIMEWAIT: u8 = 2;
}

const _: () = assert!(core::mem::size_of::<TcpStateEvent>() == 160);
const _: () = assert!(core::mem::align_of::<TcpStateEvent>() == 8);

/// A TCP connection that just ended (its change to CLOSE), with everything the owner
/// map and the kernel's `tcp_sock` knew about it: one `--audit` record.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnEvent {
    /// [`event_kind::CONN`].
    pub kind: u32,
    pub netns: u32,
    /// CLOCK_BOOTTIME ns: when the connection opened ([`SockRecord::opened_ns`]) and
    /// when it ended (now).
    pub start_ns: u64,
    pub end_ns: u64,
    pub cookie: u64,
    /// Bytes the owners' sendmsg/recvmsg moved on it; segments out and in as
    /// `tcp_sock.segs_out` / `segs_in` count them ([`conn_flags::KERNEL_COUNTS`]: read).
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub rx_packets: u64,
    /// The record's [`flags`] bits.
    pub record_flags: u64,
    pub family: u16,
    pub sport: u16,
    pub dport: u16,
    /// The state it left for CLOSE.
    pub oldstate: u8,
    /// [`SockRecord::opened`]: one of [`opened`], 0 if unknown.
    pub opened: u8,
    /// `sk_err` at the end: the errno the kernel gave the connection when it failed
    /// (ECONNREFUSED, ECONNRESET, EPIPE, ETIMEDOUT…), 0 for an orderly end or our own
    /// abort. The user side names the end from it and `oldstate`.
    pub sk_err: i32,
    /// [`conn_flags`] bits.
    pub flags: u32,
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    pub owner: Owner,
}

const _: () = assert!(core::mem::size_of::<ConnEvent>() == 168);

/// [`ConnEvent::flags`] bits.
pub mod conn_flags {
    /// The segment counts were read from `tcp_sock`.
    pub const KERNEL_COUNTS: u32 = 1;
    /// `owner` is known.
    pub const OWNER: u32 = 2;
}

// ---------------------------------------------------------------------------------
// The socket-owner map (kept by the agent's programs).
// ---------------------------------------------------------------------------------

/// Hash map [`SockKey`] → [`SockRecord`]: every Internet socket the programs have seen.
pub const MAP_OWNERS: &str = "OWNERS";
/// Hash map [`ListenKey`] → [`Owner`]: the owner of each listening port, which is
/// the owner of a passively opened socket until someone accepts it.
pub const MAP_LISTENERS: &str = "LISTENERS";
/// Per-CPU array of `u64` counters, indexed by the `STAT_*` constants.
pub const MAP_STATS: &str = "STATS";
/// Capacity of [`MAP_OWNERS`]: a socket that does not fit is counted in
/// [`STAT_OWNERS_FULL`] and shown without an owner, never with a wrong one.
pub const OWNERS_MAX: u32 = 262_144;
/// LRU hash map [`SockKey`] → [`SockRecord`]: sockets that closed lately, with their
/// last record. A listing that saw a socket alive can still name its owner after the
/// socket is gone (short connections close within milliseconds of the dump); the LRU
/// forgets the oldest by itself, and forgetting only costs a name, never a wrong one.
pub const MAP_CLOSED: &str = "CLOSED";
/// Capacity of [`MAP_CLOSED`].
pub const CLOSED_MAX: u32 = 16_384;
/// Hash map [`SockKey`] → [`SockRecord`]: the records of connections whose
/// [`ConnEvent`] found the ring full, parked until the user side reports and deletes
/// them. Not an LRU: other sockets' churn cannot evict them; when it is full too, the
/// record is lost (and counted: [`LOST_CONN_RING_FULL`] minus what the user side found).
pub const MAP_UNSENT: &str = "UNSENT";
pub const UNSENT_MAX: u32 = 16_384;
/// Capacity of [`MAP_LISTENERS`].
pub const LISTENERS_MAX: u32 = 16_384;
/// Hash map [`SockKey`] → [`SockRecord`], preallocated: the agent's records of
/// connections handed over to a TIME_WAIT (or FIN_WAIT2) timewait socket, kept apart from
/// [`MAP_OWNERS`] so that a churn of short connections (each leaves a timewait socket for
/// 60 s) cannot fill the live owner map. The agent sizes it at load time (its capacity
/// setting; the live modes, which keep no timewait records, shrink it to one entry) and
/// drops records whose timewait socket must have expired. Preallocated: an insert never
/// waits for memory (a non-preallocated map can refuse a burst with ENOMEM); one that
/// finds it full is counted in [`STAT_TIMEWAIT_FULL`] and that TIME_WAIT row shows no
/// owner.
pub const MAP_TIMEWAIT: &str = "TIMEWAIT";
/// Default capacity of [`MAP_TIMEWAIT`]: 60 s of a 1 000 connections/s churn
/// (~14 MiB preallocated).
pub const TIMEWAIT_MAX: u32 = 65_536;

/// [`MAP_OWNERS`] was full: a socket went untracked.
pub const STAT_OWNERS_FULL: u32 = 0;
/// [`MAP_LISTENERS`] was full.
pub const STAT_LISTENERS_FULL: u32 = 1;
/// A kernel read (probe_read of a struct member) failed.
pub const STAT_READ_FAILED: u32 = 2;
/// A state change of a socket without a cookie (made before the agent and never
/// seeded): not tracked.
pub const STAT_NO_COOKIE: u32 = 3;
/// Passively opened connections the `sock_ops` program saw established (compare with
/// `TcpPassiveOpens` in /proc/net/snmp).
pub const STAT_PASSIVE: u32 = 4;
/// [`MAP_FLOWS`] was full: a UDP flow went uncounted.
pub const STAT_FLOWS_FULL: u32 = 5;
/// A TCP connection ended that had a cookie but no record (the owner map was full, or
/// the socket predates the programs and was not seeded): no connection record for it.
pub const STAT_UNTRACKED_END: u32 = 6;
/// TCP state changes the state tracepoint program ran for (every one it saw, tracked
/// or not; the ones it never ran for are the kernel's recursion misses). The agent's
/// metrics turn it into transitions per second.
pub const STAT_TRANSITIONS: u32 = 7;
/// [`MAP_TIMEWAIT`] was full: a connection's record was dropped when it entered
/// TIME_WAIT (that row shows no owner).
pub const STAT_TIMEWAIT_FULL: u32 = 8;
/// An insert into [`MAP_OWNERS`] (not preallocated) found no memory (`ENOMEM`: its
/// per-CPU element cache is refilled asynchronously and a burst can empty it); the
/// socket went untracked as with [`STAT_OWNERS_FULL`].
pub const STAT_OWNERS_NOMEM: u32 = 9;
/// Number of slots in [`MAP_STATS`].
pub const STAT_SLOTS: u32 = 10;

/// How the owner in a record was learnt.
pub mod how {
    /// `socket()`: the creator (cgroup `sock_create`).
    pub const CREATE: u8 = 1;
    /// `connect()`: the connecting process (cgroup `connect4`/`connect6`).
    pub const CONNECT: u8 = 2;
    /// `accept()`/`accept4()` returned it to this process.
    pub const ACCEPT: u8 = 3;
    /// Not accepted yet: the owner of the listening socket.
    pub const LISTENER: u8 = 4;
    /// This process sent or received on it (it holds it now).
    pub const IO: u8 = 5;
    /// The agent's start-up scan of `/proc/PID/fd` (the socket predates the agent).
    pub const SEED: u8 = 6;
    /// A later `/proc/PID/fd` scan, after the recorded owner let go of a shared socket.
    pub const RESCAN: u8 = 7;
}

/// [`SockRecord::flags`] bits.
pub mod flags {
    // Values fit in a byte: the agent's answer carries them as one.
    /// The last file reference went away (`close()` or exit): the socket lives on
    /// without a process (FIN_WAIT*, LAST_ACK, TIME_WAIT); the owner is the last one.
    pub const RELEASED: u64 = 1;
    /// The socket became a TIME_WAIT (or FIN_WAIT2) mini-socket, which keeps the cookie.
    pub const TIMEWAIT: u64 = 2;
    /// The recorded owner closed its descriptor while another one stayed open (a
    /// fork or SCM_RIGHTS): the holder must be looked up again.
    pub const HOLDER_UNKNOWN: u64 = 4;
    /// Put there by the agent's start-up seed, not by a program.
    pub const SEEDED: u64 = 8;
    /// The socket is gone (a record of [`super::MAP_CLOSED`]).
    pub const CLOSED: u64 = 16;
}

/// Key of [`MAP_OWNERS`]: the socket cookie (`SO_COOKIE`, sock_diag's `idiag_cookie`,
/// never reused while the system runs) and the network namespace inode.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SockKey {
    pub cookie: u64,
    pub netns: u32,
    pub _pad: u32,
}

/// Key of [`MAP_LISTENERS`]: a listening address and port in a network namespace. Two
/// listeners of one family on one address and port (SO_REUSEPORT) share an entry: the
/// last one to listen wins until accept() names the real owner.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ListenKey {
    pub netns: u32,
    pub port: u16,
    /// A v6 listener's children are AF_INET6 even when the peer is IPv4 (mapped), so
    /// the child's family finds its listener.
    pub family: u16,
    /// The bound address (all zeros for a wildcard listener). A child looks for its own
    /// local address first, then for the wildcard: two daemons may listen on one port
    /// at two addresses.
    pub addr: [u8; 16],
}

/// A process as the programs saw it, in process context only.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Owner {
    /// `start_boottime` of the thread-group leader (CLOCK_BOOTTIME ns): with `tgid`, a
    /// process identity that a reused PID cannot fake.
    pub start_ns: u64,
    /// cgroup v2 id (`bpf_get_current_cgroup_id`).
    pub cgroup_id: u64,
    pub tgid: u32,
    pub tid: u32,
    /// Real uid.
    pub uid: u32,
    /// One of [`how`].
    pub how: u8,
    pub _pad: [u8; 3],
    /// `comm` of the thread-group leader (the process name, not the thread's).
    pub comm: [u8; 16],
}

/// Value of [`MAP_OWNERS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockRecord {
    pub owner: Owner,
    /// CLOCK_BOOTTIME ns when the programs first saw the socket.
    pub created_ns: u64,
    /// CLOCK_BOOTTIME ns of the last state change (or of creation).
    pub changed_ns: u64,
    /// Bytes returned by sendmsg / recvmsg on it (`sock:sock_{send,recv}_length`).
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    /// Socket inode (`socket:[N]`), 0 if unknown.
    pub inode: u64,
    pub family: u16,
    pub protocol: u16,
    /// Host byte order; 0 until known.
    pub sport: u16,
    pub dport: u16,
    /// Kernel TCP state number (TCP only; 0 otherwise).
    pub state: u8,
    /// One of [`opened`]: who opened the connection.
    pub opened: u8,
    /// In [`MAP_UNSENT`] only: `sk_err` when the connection ended (errnos fit a byte);
    /// `state` there holds the state it left for CLOSE.
    pub end_err: u8,
    pub _pad: [u8; 5],
    /// [`flags`] bits; a `u64` so the programs can set them atomically (BPF has no
    /// 32-bit atomic or).
    pub flags: u64,
    /// Network byte order, IPv4 in the first 4 bytes.
    pub saddr: [u8; 16],
    pub daddr: [u8; 16],
    /// CLOCK_BOOTTIME ns when the connection opened: `SYN_SENT` for an active open, the
    /// end of the handshake for a passive one (0: not a connection, or unknown).
    pub opened_ns: u64,
}

/// [`SockRecord::opened`] values.
pub mod opened {
    pub const ACTIVE: u8 = 1;
    pub const PASSIVE: u8 = 2;
}

const _: () = assert!(core::mem::size_of::<SockKey>() == 16);
const _: () = assert!(core::mem::size_of::<ListenKey>() == 24);
const _: () = assert!(core::mem::size_of::<Owner>() == 48);
const _: () = assert!(core::mem::size_of::<SockRecord>() == 152);

// ---------------------------------------------------------------------------------
// UDP flows (`--audit`).
// ---------------------------------------------------------------------------------

/// Hash map [`FlowKey`] → [`FlowValue`]: datagrams and bytes per (socket, peer). The
/// user side reads it, reports flows that went idle or whose socket closed, and deletes
/// them.
pub const MAP_FLOWS: &str = "FLOWS";
/// Capacity of [`MAP_FLOWS`]; a flow that does not fit is counted in [`STAT_FLOWS_FULL`].
pub const FLOWS_MAX: u32 = 65_536;
/// LRU hash map `pid_tgid` → [`FlowKey`]: the peer a thread's unconnected `sendmsg` /
/// `recvmsg` named (cgroup `sendmsg4/6`, `recvmsg4/6`), picked up by the
/// `sock_{send,recv}_length` tracepoint that follows in the same thread.
pub const MAP_PEERS: &str = "PEERS";
pub const PEERS_MAX: u32 = 16_384;

/// A UDP flow: the socket and the remote end (all zero when a `recv()` without an
/// address does not say who sent).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub cookie: u64,
    pub netns: u32,
    /// Host byte order.
    pub rport: u16,
    pub family: u16,
    pub raddr: [u8; 16],
}

#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowValue {
    /// CLOCK_BOOTTIME ns of the first and the latest datagram.
    pub first_ns: u64,
    pub last_ns: u64,
    pub tx_bytes: u64,
    pub rx_bytes: u64,
    pub tx_packets: u64,
    pub rx_packets: u64,
    /// Local port (host order) and bound address when the flow began.
    pub lport: u16,
    pub _pad: [u8; 6],
    pub laddr: [u8; 16],
    /// The process that sent or received the flow's first datagram.
    pub owner: Owner,
}

const _: () = assert!(core::mem::size_of::<FlowKey>() == 32);
const _: () = assert!(core::mem::size_of::<FlowValue>() == 120);

/// Names of the owner-map programs in the object file, with their attach points.
pub mod progs {
    pub const SOCK_CREATE: &str = "sock_create";
    pub const SOCK_RELEASE: &str = "sock_release";
    pub const CONNECT4: &str = "connect4";
    pub const CONNECT6: &str = "connect6";
    pub const SOCK_OPS: &str = "sock_ops";
    pub const ACCEPT_EXIT: &str = "sys_exit_accept";
    pub const ACCEPT4_EXIT: &str = "sys_exit_accept4";
    pub const SEND_LENGTH: &str = "sock_send_length";
    pub const SENDMSG4: &str = "sendmsg4";
    pub const SENDMSG6: &str = "sendmsg6";
    pub const RECVMSG4: &str = "recvmsg4";
    pub const RECVMSG6: &str = "recvmsg6";
    pub const RECV_LENGTH: &str = "sock_recv_length";
    pub const CLOSE_ENTER: &str = "sys_enter_close";
    /// fexit programs on the protocols' sendmsg/recvmsg, where the
    /// `sock:sock_{send,recv}_length` tracepoints (6.4+) are missing or fexit is
    /// preferred; one program per function (an fexit program is bound to one).
    pub const INET_SENDMSG_EXIT: &str = "inet_sendmsg_exit";
    pub const INET6_SENDMSG_EXIT: &str = "inet6_sendmsg_exit";
    pub const INET_RECVMSG_EXIT: &str = "inet_recvmsg_exit";
    pub const INET6_RECVMSG_EXIT: &str = "inet6_recvmsg_exit";
    /// kprobe/kretprobe pairs on the same functions, where neither the tracepoints nor
    /// fexit load (kernels without BPF trampolines, such as arm64 before 6.0).
    /// (A kprobe program attaches to several functions: one pair serves both families.)
    pub const SENDMSG_ENTRY: &str = "sendmsg_entry";
    pub const RECVMSG_ENTRY: &str = "recvmsg_entry";
    pub const SENDMSG_RETURN: &str = "sendmsg_return";
    pub const RECVMSG_RETURN: &str = "recvmsg_return";
}

/// Map of the kprobe send/receive path: the socket and flags of each thread's call in
/// progress, from the entry probe to the return probe (keyed by `pid_tgid`).
pub const MAP_IO_CALLS: &str = "IO_CALLS";
pub const IO_CALLS_MAX: u32 = 16_384;

/// A send/receive call in progress (kprobe path): what the return probe needs.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IoCall {
    /// The `struct sock *`.
    pub sk: u64,
    /// The recvmsg flags (MSG_*), 0 for sendmsg.
    pub flags: i32,
    pub _pad: u32,
}

/// Offsets inside the `syscalls:sys_{enter,exit}_*` and `sock:sock_*_length` records.
pub mod syscall_tp {
    /// `long ret` of a `sys_exit_*` record.
    pub const EXIT_RET: usize = 16;
    /// First argument of a `sys_enter_*` record (`unsigned int fd` of close, 8 bytes).
    pub const ENTER_ARG0: usize = 16;
    /// `sock:sock_{send,recv}_length`: `void *sk`, `__u16 family`, `__u16 protocol`, `int ret`.
    pub const LEN_SK: usize = 8;
    pub const LEN_FAMILY: usize = 16;
    pub const LEN_PROTOCOL: usize = 18;
    pub const LEN_RET: usize = 20;
    /// `int flags` of the call (MSG_*).
    pub const LEN_FLAGS: usize = 24;
}

#[cfg(feature = "user")]
mod user {
    // SAFETY: every type here is #[repr(C)], Copy, has explicit padding and no
    // invalid bit patterns, which is what `aya::Pod` requires.
    unsafe impl aya::Pod for super::TcpStateEvent {}
    unsafe impl aya::Pod for super::KernelOffsets {}
    unsafe impl aya::Pod for super::SockKey {}
    unsafe impl aya::Pod for super::ListenKey {}
    unsafe impl aya::Pod for super::Owner {}
    unsafe impl aya::Pod for super::SockRecord {}
    unsafe impl aya::Pod for super::ConnEvent {}
    unsafe impl aya::Pod for super::EventFilter {}
    unsafe impl aya::Pod for super::FlowKey {}
    unsafe impl aya::Pod for super::FlowValue {}
    unsafe impl aya::Pod for super::IoCall {}
}
