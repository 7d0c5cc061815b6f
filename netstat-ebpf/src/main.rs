//! Kernel side of netstat. Entry points stay thin: each reads its context and hands
//! plain values to `owners` (the socket-owner map) or queues a state-change event.
#![no_std]
#![no_main]
// Atomic adds on map values (see owners::io); the crate is built with nightly anyway.
#![feature(core_intrinsics)]
#![allow(internal_features)]

mod kernel;
mod owners;

use aya_ebpf::{
    EbpfContext,
    helpers::{bpf_get_current_pid_tgid, bpf_get_socket_cookie},
    macros::{cgroup_sock, cgroup_sock_addr, map, sock_ops, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::{SockAddrContext, SockContext, SockOpsContext, TracePointContext},
};
use netstat_common::{
    AF_INET, AF_INET6, EVENTS_RING_BYTES, IPPROTO_TCP, LOST_READ_FAILED, LOST_RING_FULL,
    LOST_SLOTS, STAT_NO_COOKIE, STAT_SLOTS, TcpState, TcpStateEvent, event_flags,
    inet_sock_set_state as tp, syscall_tp,
};

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(LOST_SLOTS, 0);

#[map(name = "STATS")]
static STATS: PerCpuArray<u64> = PerCpuArray::with_max_entries(STAT_SLOTS, 0);

/// Set at load time: 1 to queue state-change events (see netstat-common).
#[unsafe(no_mangle)]
static EMIT_EVENTS: u32 = 1;

/// Set at load time: queue only this network namespace's changes (0: all).
#[unsafe(no_mangle)]
static FILTER_NETNS: u32 = 0;

/// Programs of type cgroup_sock / cgroup_sock_addr / sock_ops must return 1 ("allow"):
/// they only watch.
const ALLOW: i32 = 1;

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

fn count_lost(slot: u32) {
    count_in(&LOST, slot);
}

// --- process context: who creates, connects, accepts, sends, closes -------------------

/// `cgroup/sock_create`: every socket() of AF_INET/AF_INET6, in the caller's context.
/// Asking for the cookie here assigns it, so every later event carries it.
#[cgroup_sock(sock_create)]
pub fn sock_create(ctx: SockContext) -> i32 {
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
    // SAFETY: as in sock_create.
    let (protocol, state) = unsafe {
        let s = &*ctx.sock;
        (s.protocol as u16, s.state as u8)
    };
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
    connected(&ctx)
}

#[cgroup_sock_addr(connect6)]
pub fn connect6(ctx: SockAddrContext) -> i32 {
    connected(&ctx)
}

fn accepted(ctx: &TracePointContext) -> u32 {
    // SAFETY: offset of `ret` in every sys_exit_* record.
    let Ok(fd) = (unsafe { ctx.read_at::<i64>(syscall_tp::EXIT_RET) }) else {
        return 0;
    };
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
    accepted(&ctx)
}

#[tracepoint(category = "syscalls", name = "sys_exit_accept")]
pub fn sys_exit_accept(ctx: TracePointContext) -> u32 {
    accepted(&ctx)
}

fn io(ctx: &TracePointContext, sent: bool) -> u32 {
    // SAFETY: offsets of the sock_{send,recv}_length record (netstat-common).
    let (Ok(sk), Ok(family), Ok(ret)) = (unsafe {
        (
            ctx.read_at::<u64>(syscall_tp::LEN_SK),
            ctx.read_at::<u16>(syscall_tp::LEN_FAMILY),
            ctx.read_at::<i32>(syscall_tp::LEN_RET),
        )
    }) else {
        return 0;
    };
    if (family != AF_INET && family != AF_INET6) || ret < 0 {
        return 0;
    }
    let cookie = kernel::sock_cookie(sk);
    if cookie != 0 {
        owners::io(
            &owners::key(cookie, kernel::sock_netns(sk)),
            sent,
            ret as u64,
        );
    }
    0
}

/// `sock:sock_send_length`: sendmsg on any socket, in the sender's context.
#[tracepoint(category = "sock", name = "sock_send_length")]
pub fn sock_send_length(ctx: TracePointContext) -> u32 {
    io(&ctx, true)
}

#[tracepoint(category = "sock", name = "sock_recv_length")]
pub fn sock_recv_length(ctx: TracePointContext) -> u32 {
    io(&ctx, false)
}

/// `syscalls:sys_enter_close`: an owner closing one descriptor of a socket that stays
/// open elsewhere (fork, SCM_RIGHTS, dup) hands it to someone the agent must look up.
#[tracepoint(category = "syscalls", name = "sys_enter_close")]
pub fn sys_enter_close(ctx: TracePointContext) -> u32 {
    // SAFETY: offset of close's `fd` argument.
    let Ok(fd) = (unsafe { ctx.read_at::<u64>(syscall_tp::ENTER_ARG0) }) else {
        return 0;
    };
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

// --- any context: cookies for accepted sockets, state changes -------------------------

const BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB: u32 = 5;

/// `sock_ops`: a passively opened connection is established. Assigns the child's cookie
/// (sock_create never runs for it) and records it under its listener's owner. `current`
/// here is whoever sent the last ACK: never used.
#[sock_ops]
pub fn sock_ops(ctx: SockOpsContext) -> u32 {
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

/// `sock:inet_sock_set_state` (kernel 4.16+): fires inside `tcp_set_state()` for every
/// TCP, SCTP and MPTCP state change, in whatever context the change runs.
#[tracepoint(category = "sock", name = "inet_sock_set_state")]
pub fn inet_sock_set_state(ctx: TracePointContext) -> u32 {
    match try_inet_sock_set_state(&ctx) {
        Ok(()) => 0,
        Err(_) => 1,
    }
}

fn try_inet_sock_set_state(ctx: &TracePointContext) -> Result<(), i64> {
    // The tracepoint also fires for SCTP and MPTCP; this stream is TCP's.
    // SAFETY: offset from the checked record layout.
    let protocol: u16 = unsafe { ctx.read_at(tp::PROTOCOL) }.map_err(|e| {
        count_lost(LOST_READ_FAILED);
        e
    })?;
    if protocol != IPPROTO_TCP {
        return Ok(());
    }
    // SAFETY: offsets come from netstat-common's record layout, which the user side
    // checked against the running kernel's format file before attaching.
    let mut ev = match unsafe { fill_event(ctx) } {
        Ok(ev) => ev,
        Err(e) => {
            count_lost(LOST_READ_FAILED);
            return Err(e);
        }
    };
    ev.cookie = kernel::sock_cookie(ev.skaddr);
    if ev.cookie == 0 {
        // A passively opened child's first change (LISTEN -> SYN_RECV) always comes before
        // sock_ops gives it a cookie: expected, not worth counting.
        // Until accept() it is its listener's, and the stream can say so already.
        if ev.oldstate != TcpState::Listen as u8 {
            count(STAT_NO_COOKIE);
        } else if let Some(mut owner) =
            owners::listener_owner(ev.netns, ev.family, ev.sport, &ev.saddr)
        {
            owner.how = netstat_common::how::LISTENER;
            ev.owner = owner;
            ev.flags = event_flags::OWNER;
        }
    } else if let Some(snap) = owners::state_changed(
        &owners::key(ev.cookie, ev.netns),
        ev.oldstate,
        ev.newstate,
        ev.sport,
        ev.dport,
        &ev.saddr,
        &ev.daddr,
    ) {
        ev.owner = snap.owner;
        ev.prev_ns = snap.prev_ns;
        ev.created_ns = snap.created_ns;
        ev.tx_bytes = snap.tx_bytes;
        ev.rx_bytes = snap.rx_bytes;
        ev.flags = event_flags::OWNER
            | if snap.timewait {
                event_flags::TIMEWAIT
            } else {
                0
            };
    }
    // SAFETY: plain reads of load-time globals.
    let (emit, only) = unsafe {
        (
            core::ptr::read_volatile(&EMIT_EVENTS),
            core::ptr::read_volatile(&FILTER_NETNS),
        )
    };
    if emit == 0 || (only != 0 && only != ev.netns) {
        return Ok(());
    }
    match EVENTS.output::<TcpStateEvent>(&ev, 0) {
        Ok(()) => Ok(()),
        Err(_) => {
            count_lost(LOST_RING_FULL);
            Ok(())
        }
    }
}

unsafe fn fill_event(ctx: &TracePointContext) -> Result<TcpStateEvent, i64> {
    let skaddr: u64 = unsafe { ctx.read_at(tp::SKADDR) }?;
    let oldstate: i32 = unsafe { ctx.read_at(tp::OLDSTATE) }?;
    let newstate: i32 = unsafe { ctx.read_at(tp::NEWSTATE) }?;
    let family: u16 = unsafe { ctx.read_at(tp::FAMILY) }?;
    let mut saddr = [0u8; 16];
    let mut daddr = [0u8; 16];
    if family == AF_INET6 {
        saddr = unsafe { ctx.read_at(tp::SADDR_V6) }?;
        daddr = unsafe { ctx.read_at(tp::DADDR_V6) }?;
    } else {
        let s: [u8; 4] = unsafe { ctx.read_at(tp::SADDR) }?;
        let d: [u8; 4] = unsafe { ctx.read_at(tp::DADDR) }?;
        saddr[..4].copy_from_slice(&s);
        daddr[..4].copy_from_slice(&d);
    }
    Ok(TcpStateEvent {
        ts_ns: owners::now(),
        skaddr,
        netns: kernel::sock_netns(skaddr),
        current_tgid: (bpf_get_current_pid_tgid() >> 32) as u32,
        family,
        protocol: IPPROTO_TCP,
        sport: unsafe { ctx.read_at(tp::SPORT) }?,
        dport: unsafe { ctx.read_at(tp::DPORT) }?,
        oldstate: oldstate as u8,
        newstate: newstate as u8,
        saddr,
        daddr,
        ..TcpStateEvent::default()
    })
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
