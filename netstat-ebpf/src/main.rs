//! Kernel side of netstat. Entry points stay thin: each reads its context and hands
//! plain values to `owners` (the socket-owner map) or queues a state-change event.
#![no_std]
#![no_main]
// Atomic adds on map values (see owners::io); the crate is built with nightly anyway.
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod events;
mod flows;
mod io;
mod kernel;
mod owners;

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_get_socket_cookie},
    macros::{cgroup_sock, cgroup_sock_addr, map, raw_tracepoint, sock_ops, tracepoint},
    maps::PerCpuArray,
    programs::{
        RawTracePointContext, SockAddrContext, SockContext, SockOpsContext, TracePointContext,
    },
};
use netstat_common::{
    AF_INET, AF_INET6, IPPROTO_TCP, STAT_NO_COOKIE, STAT_SLOTS, STAT_TRANSITIONS, TcpState,
    TcpStateEvent, emit, event_flags, event_kind, inet_sock_set_state as tp, syscall_tp,
};

#[map(name = "STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_SLOTS, 0);

/// Programs of type cgroup_sock / cgroup_sock_addr / sock_ops must return 1 ("allow"):
/// they only watch.
const ALLOW: i32 = 1;

/// A field of a tracepoint record, read straight from the context: the verifier allows
/// aligned loads inside the record, and `read_at` would pay a probe_read helper call
/// for each (ten per state change).
///
/// # Safety
/// `off` must be the offset of a `T` in the record (netstat-common's checked layouts),
/// aligned to its size.
#[inline(always)]
pub(crate) unsafe fn field<T: Copy>(ctx: &TracePointContext, off: usize) -> T {
    // SAFETY: per the contract, an aligned in-record load.
    unsafe { core::ptr::read_volatile((ctx.as_ptr() as *const u8).add(off) as *const T) }
}

/// A 16-byte address field, as two aligned 8-byte loads.
///
/// # Safety
/// As [`field`], with `off` 8-aligned.
#[inline(always)]
unsafe fn field_addr(ctx: &TracePointContext, off: usize) -> [u8; 16] {
    // SAFETY: per the contract.
    let (a, b): (u64, u64) = unsafe { (field(ctx, off), field(ctx, off + 8)) };
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_ne_bytes());
    out[8..].copy_from_slice(&b.to_ne_bytes());
    out
}

fn count_in(map: &PerCpuArray<u64>, slot: u32) {
    if let Some(n) = map.get_ptr_mut(slot) {
        // Atomic even per CPU: process-context programs run preemptible, so two of them
        // may bump one CPU's slot at once.
        // SAFETY: an aligned u64 inside a live map value.
        unsafe {
            core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
                n, 1,
            )
        };
    }
}

pub(crate) fn count(slot: u32) {
    count_in(&STATS, slot);
}

// --- process context: who creates, connects, accepts, sends, closes -------------------

/// `cgroup/sock_create`: every socket() of AF_INET/AF_INET6, in the caller's context.
/// Asking for the cookie here assigns it, so every later event carries it.
#[cgroup_sock(sock_create)]
pub fn sock_create(ctx: SockContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    // SAFETY: the context is a valid bpf_sock for the program's run.
    let (family, protocol, state) = unsafe {
        let s = &*ctx.sock;
        (s.family as u16, s.protocol as u16, s.state as u8)
    };
    // SAFETY: the helper accepts this program's context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let sk = kernel::launder(ctx.sock);
    let k = owners::key(cookie, kernel::sock_netns(sk));
    owners::created(&k, family, protocol, state, kernel::sock_inode(sk));
    ALLOW
}

/// `cgroup/sock_release`: the last file reference is gone (close or exit).
#[cgroup_sock(sock_release)]
pub fn sock_release(ctx: SockContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    // SAFETY: as in sock_create.
    let (protocol, state) = unsafe {
        let s = &*ctx.sock;
        (s.protocol as u16, s.state as u8)
    };
    if !owners::release_matters(protocol, state) {
        return ALLOW;
    }
    // SAFETY: as in sock_create.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let sk = kernel::launder(ctx.sock);
    owners::released(
        &owners::key(cookie, kernel::sock_netns(sk)),
        protocol,
        state,
    );
    ALLOW
}

fn connected(ctx: &SockAddrContext) -> i32 {
    // SAFETY: the context is a valid bpf_sock_addr; `sk` is always set for connect.
    let (family, protocol, sk) = unsafe {
        let a = &*ctx.sock_addr;
        (a.family as u16, a.protocol as u16, a.__bindgen_anon_1.sk)
    };
    // SAFETY: the helper accepts this program's context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let sk = kernel::launder(sk);
    let k = owners::key(cookie, kernel::sock_netns(sk));
    owners::connected(&k, family, protocol, kernel::sock_inode(sk));
    ALLOW
}

/// `cgroup/connect4`: the connecting process holds the socket (also for sockets made
/// before the agent, which get their cookie here).
#[cgroup_sock_addr(connect4)]
pub fn connect4(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    connected(&ctx)
}

#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    connected(&ctx)
}

fn accepted(ctx: &TracePointContext) -> u32 {
    // SAFETY: offset of `ret` in every sys_exit_* record.
    let fd: i64 = unsafe { field(ctx, syscall_tp::EXIT_RET) };
    if fd < 0 {
        return 0;
    }
    let file = kernel::current_file(fd as u64);
    let Some((sk, inode)) = kernel::file_sock(file) else {
        return 0;
    };
    let cookie = kernel::sock_cookie(sk);
    if cookie == 0 {
        count(STAT_NO_COOKIE);
        return 0;
    }
    owners::accepted(&owners::key(cookie, kernel::sock_netns(sk)), inode);
    0
}

/// `syscalls:sys_exit_accept4`: the new descriptor's socket belongs to the caller.
#[tracepoint(category = "syscalls", name = "sys_exit_accept4")]
pub fn sys_exit_accept4(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    accepted(&ctx)
}

#[tracepoint(category = "syscalls", name = "sys_exit_accept")]
pub fn sys_exit_accept(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    accepted(&ctx)
}

/// `syscalls:sys_enter_close`: an owner closing one descriptor of a socket that stays
/// open elsewhere (fork, SCM_RIGHTS, dup) hands it to someone the agent must look up.
#[tracepoint(category = "syscalls", name = "sys_enter_close")]
pub fn sys_enter_close(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    // SAFETY: offset of close's `fd` argument.
    let fd: u64 = unsafe { field(&ctx, syscall_tp::ENTER_ARG0) };
    let file = kernel::current_file(fd as u32 as u64);
    if file == 0 || kernel::file_refs(file) <= 1 {
        return 0;
    }
    if let Some((sk, _)) = kernel::file_sock(file) {
        let cookie = kernel::sock_cookie(sk);
        if cookie != 0 {
            owners::closed_shared(&owners::key(cookie, kernel::sock_netns(sk)));
        }
    }
    0
}

/// An unconnected UDP `sendmsg` (destination) or `recvmsg` (source) names the peer the
/// `sock_{send,recv}_length` tracepoint that follows will count the datagram for.
/// `v6`: an IPv6 hook (the verifier allows only the hook's own address fields).
#[inline(always)]
fn peer(ctx: &SockAddrContext, v6: bool) -> i32 {
    if !events::wanted(emit::FLOWS) {
        return ALLOW;
    }
    let mut addr = [0u8; 16];
    // SAFETY: the context is a valid bpf_sock_addr; each field is read with its own
    // 4-byte load, as the verifier requires.
    let port = unsafe {
        let a = &*ctx.sock_addr;
        if v6 {
            for i in 0..4 {
                let w = core::ptr::read_volatile(&a.user_ip6[i]);
                addr[i * 4..i * 4 + 4].copy_from_slice(&w.to_ne_bytes());
            }
        } else {
            addr[..4].copy_from_slice(&core::ptr::read_volatile(&a.user_ip4).to_ne_bytes());
        }
        core::ptr::read_volatile(&a.user_port)
    };
    // SAFETY: as above (`family` is the socket's).
    let sock_family = unsafe { core::ptr::read_volatile(&(*ctx.sock_addr).family) } as u16;
    if !v6 && sock_family == AF_INET6 {
        // A dual-stack socket talking to an IPv4 peer goes through the v4 hook; the
        // socket (and its receive side) see the peer as ::ffff:a.b.c.d.
        addr.copy_within(0..4, 12);
        addr[..10].fill(0);
        addr[10] = 0xff;
        addr[11] = 0xff;
    }
    // SAFETY: the helper accepts this program's context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    let family = if v6 || sock_family == AF_INET6 {
        AF_INET6
    } else {
        AF_INET
    };
    // user_port holds the port in network byte order in its first two bytes.
    flows::peer_named(cookie, family, port as u16, addr);
    ALLOW
}

/// `cgroup/sendmsg4`: UDP sendmsg with a destination address (kernel 4.18+).
#[cgroup_sock_addr(sendmsg4)]
pub fn sendmsg4(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    peer(&ctx, false)
}

#[cgroup_sock_addr(sendmsg6)]
pub fn sendmsg6(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    peer(&ctx, true)
}

/// `cgroup/recvmsg4`: UDP recvmsg asking for the source address (kernel 5.2+).
#[cgroup_sock_addr(recvmsg4)]
pub fn recvmsg4(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    peer(&ctx, false)
}

#[cgroup_sock_addr(recvmsg6)]
pub fn recvmsg6(ctx: SockAddrContext) -> i32 {
    if events::hooks_only() {
        return ALLOW;
    }
    peer(&ctx, true)
}

// --- any context: cookies for accepted sockets, state changes -------------------------

const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: u32 = 5;

/// `sock_ops`: a passively opened connection is established. Assigns the child's cookie
/// (sock_create never runs for it) and records it under its listener's owner. `current`
/// here is whoever sent the last ACK: never used.
#[sock_ops]
pub fn sock_ops(ctx: SockOpsContext) -> u32 {
    if events::hooks_only() {
        return ALLOW as u32;
    }
    if ctx.op() != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB {
        return ALLOW as u32;
    }
    count(netstat_common::STAT_PASSIVE);
    // SAFETY: the helper accepts this program's context.
    let cookie = unsafe { bpf_get_socket_cookie(ctx.as_ptr()) };
    // SAFETY: `sk` is set for every established callback.
    let sk = kernel::launder(unsafe { (*ctx.ops).__bindgen_anon_2.sk });
    let family = ctx.family() as u16;
    let k = owners::key(cookie, kernel::sock_netns(sk));
    let mut rec = owners::new_record(Default::default(), family, IPPROTO_TCP, 0);
    rec.state = TcpState::Established as u8;
    rec.sport = ctx.local_port() as u16;
    // remote_port holds the big-endian port in its upper 16 bits (bpf.h).
    rec.dport = u16::from_be((ctx.remote_port() >> 16) as u16);
    if family == AF_INET6 {
        for i in 0..4 {
            // One 4-byte load each: the verifier refuses wider context reads, which the
            // compiler would otherwise merge these into.
            // SAFETY: in-bounds fields of the context.
            let (l, r) = unsafe {
                (
                    core::ptr::read_volatile(&(*ctx.ops).local_ip6[i]),
                    core::ptr::read_volatile(&(*ctx.ops).remote_ip6[i]),
                )
            };
            rec.saddr[i * 4..i * 4 + 4].copy_from_slice(&l.to_ne_bytes());
            rec.daddr[i * 4..i * 4 + 4].copy_from_slice(&r.to_ne_bytes());
        }
    } else {
        rec.saddr[..4].copy_from_slice(&ctx.local_ip4().to_ne_bytes());
        rec.daddr[..4].copy_from_slice(&ctx.remote_ip4().to_ne_bytes());
    }
    owners::passive_established(&k, &mut rec);
    ALLOW as u32
}

/// `sock:inet_sock_set_state` as a raw tracepoint (kernel 4.17+): the arguments of
/// `trace_inet_sock_set_state(sk, oldstate, newstate)`, the rest read from `sk`.
/// Preferred over the classic tracepoint below, for two reasons measured here: the kernel
/// builds no trace record for it, and it is only kept from running by itself — a classic
/// tracepoint program is skipped whenever any other tracing program runs on the CPU (a
/// softirq state change landing on one of our process-context programs), so it misses
/// changes that this one sees.
#[raw_tracepoint(tracepoint = "inet_sock_set_state")]
pub fn inet_sock_set_state_raw(ctx: RawTracePointContext) -> i32 {
    if events::hooks_only() {
        return 0;
    }
    let new = ctx.arg::<u64>(2) as u8;
    if audit_skips(new) {
        return 0;
    }
    let sk: u64 = ctx.arg(0);
    if kernel::sock_protocol(sk) != IPPROTO_TCP {
        return 0;
    }
    let (sport, dport) = kernel::sock_ports(sk);
    let change = Change {
        skaddr: sk,
        old: ctx.arg::<u64>(1) as u8,
        new,
        family: kernel::sock_family(sk),
        sport,
        dport,
    };
    state_changed(&change, || kernel::sock_addrs(sk, change.family));
    0
}

/// `sock:inet_sock_set_state` (kernel 4.16+), the classic tracepoint: where raw
/// tracepoints cannot attach, or the kernel's BTF lacks the fields the raw one reads.
/// Fires inside `tcp_set_state()` for every TCP, SCTP and MPTCP state change, in
/// whatever context the change runs.
#[tracepoint(category = "sock", name = "inet_sock_set_state")]
pub fn inet_sock_set_state(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    // The tracepoint also fires for SCTP and MPTCP; this stream is TCP's.
    // SAFETY: offsets from the checked record layout (below too): the user side checked
    // them against the running kernel's format file before attaching. Every offset is
    // aligned to its field's size.
    let (protocol, new): (u16, i32) =
        unsafe { (field(&ctx, tp::PROTOCOL), field(&ctx, tp::NEWSTATE)) };
    if protocol != IPPROTO_TCP || audit_skips(new as u8) {
        return 0;
    }
    // SAFETY: as above.
    let change = unsafe {
        Change {
            skaddr: field::<u64>(&ctx, tp::SKADDR),
            old: field::<i32>(&ctx, tp::OLDSTATE) as u8,
            new: new as u8,
            family: field::<u16>(&ctx, tp::FAMILY),
            sport: field::<u16>(&ctx, tp::SPORT),
            dport: field::<u16>(&ctx, tp::DPORT),
        }
    };
    state_changed(&change, || {
        let mut saddr = [0u8; 16];
        let mut daddr = [0u8; 16];
        // SAFETY: as above.
        unsafe {
            if change.family == AF_INET6 {
                saddr = field_addr(&ctx, tp::SADDR_V6);
                daddr = field_addr(&ctx, tp::DADDR_V6);
            } else {
                saddr[..4].copy_from_slice(&field::<[u8; 4]>(&ctx, tp::SADDR));
                daddr[..4].copy_from_slice(&field::<[u8; 4]>(&ctx, tp::DADDR));
            }
        }
        (saddr, daddr)
    });
    0
}

/// One TCP state change, as either tracepoint gives it (ports in host order).
#[derive(Clone, Copy)]
struct Change {
    skaddr: u64,
    old: u8,
    new: u8,
    family: u16,
    sport: u16,
    dport: u16,
}

/// `--audit` alone: the connection record needs only the opening, listeners (whose
/// owners name accepted children) and the end (whose tracepoint record carries the whole
/// tuple); the changes in between cost nothing then, not even a read of the socket.
/// (The agent's transition counter counts only where every change is looked at.)
#[inline(always)]
fn audit_skips(new: u8) -> bool {
    const SYN_SENT: u8 = TcpState::SynSent as u8;
    const LISTEN: u8 = TcpState::Listen as u8;
    const CLOSE: u8 = TcpState::Close as u8;
    !events::wanted(emit::STATES)
        && events::wanted(emit::CONNECTIONS)
        && !matches!(new, SYN_SENT | LISTEN | CLOSE)
}

/// The body both tracepoints share. `addrs` gives the local and remote address; it is
/// only called when the change is wanted.
#[inline(always)]
fn state_changed(c: &Change, addrs: impl FnOnce() -> ([u8; 16], [u8; 16])) {
    // One per-CPU add: the agent's only view of the churn (it queues no events).
    count(STAT_TRANSITIONS);
    let Change {
        skaddr,
        old,
        new,
        family,
        sport,
        dport,
    } = *c;
    let states = events::wanted(emit::STATES);
    let (saddr, daddr) = addrs();
    let netns = kernel::sock_netns(skaddr);
    let cookie = kernel::sock_cookie(skaddr);
    let key = owners::key(cookie, netns);
    let mut snap = None;
    let mut listener: Option<*const netstat_common::Owner> = None;
    if cookie == 0 {
        // A passively opened child's first change (LISTEN -> SYN_RECV) always comes before
        // sock_ops gives it a cookie: expected, not worth counting.
        // Until accept() it is its listener's, and the stream can say so already.
        if old != TcpState::Listen as u8 {
            count(STAT_NO_COOKIE);
        } else if states {
            listener = owners::listener_entry(netns, family, sport, &saddr);
        }
    } else {
        snap = owners::state_changed(
            &key,
            skaddr,
            old,
            new,
            &owners::Tuple {
                sport,
                dport,
                saddr: &saddr,
                daddr: &daddr,
            },
        );
        if snap.is_none()
            && new == TcpState::Close as u8
            && old != TcpState::Listen as u8
            && events::passes_without_owner(netns, family, sport, dport)
        {
            // A connection ends that the owner map never held (full, or older than the
            // programs and not seeded): no record of it can be made. Counted only where
            // the filter looks (its owner, and so pid/name, is unknown).
            count(netstat_common::STAT_UNTRACKED_END);
        }
    }
    if states {
        queue_state(
            &snap, listener, skaddr, netns, cookie, family, sport, dport, old, new, &saddr, &daddr,
        );
    }
    // Only now: the event above still read the record.
    if let Some(s) = &snap
        && s.forget
    {
        owners::forget(&key, s.rec, !events::wanted(emit::FORGET_TIMEWAIT));
    }
}

/// Queues the state-change event if the filter lets it through.
#[inline(always)]
#[allow(clippy::too_many_arguments)] // the tracepoint's fields, passed as they were read
fn queue_state(
    snap: &Option<owners::Snapshot>,
    listener: Option<*const netstat_common::Owner>,
    skaddr: u64,
    netns: u32,
    cookie: u64,
    family: u16,
    sport: u16,
    dport: u16,
    old: u8,
    new: u8,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) {
    let timewait = snap.as_ref().is_some_and(|s| s.timewait);
    let subject = events::Subject {
        netns,
        family,
        sport,
        dport,
        states: (1 << old)
            | (1 << if timewait {
                TcpState::TimeWait as u8
            } else {
                new
            }),
        // SAFETY: live map values (see owners::Snapshot).
        owner: match (snap, listener) {
            (Some(s), _) => Some(unsafe { &(*s.rec).owner }),
            (None, Some(o)) => Some(unsafe { &*o }),
            (None, None) => None,
        },
    };
    if !events::passes(&subject) {
        return;
    }
    events::queue(netstat_common::LOST_RING_FULL, |ev: &mut TcpStateEvent| {
        ev.kind = event_kind::STATE;
        ev.ts_ns = owners::now();
        ev.skaddr = skaddr;
        ev.netns = netns;
        ev.current_tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
        ev.family = family;
        ev.protocol = IPPROTO_TCP;
        ev.sport = sport;
        ev.dport = dport;
        ev.oldstate = old;
        ev.newstate = new;
        ev.saddr = *saddr;
        ev.daddr = *daddr;
        ev.cookie = cookie;
        // SAFETY: live map values (see owners::Snapshot).
        unsafe {
            if let Some(s) = snap {
                let rec = &*s.rec;
                ev.owner = rec.owner;
                ev.prev_ns = s.prev_ns;
                ev.created_ns = rec.created_ns;
                ev.tx_bytes = rec.tx_bytes;
                ev.rx_bytes = rec.rx_bytes;
                ev.flags = event_flags::OWNER | if timewait { event_flags::TIMEWAIT } else { 0 };
            } else if let Some(o) = listener {
                ev.owner = *o;
                ev.owner.how = netstat_common::how::LISTENER;
                ev.flags = event_flags::OWNER;
            }
        }
    });
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
