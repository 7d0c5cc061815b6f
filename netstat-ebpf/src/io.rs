//! Send and receive: bytes per socket, and the owner learnt from who moves them. One
//! body ([`done`]) for every way the kernel lets us see a finished sendmsg/recvmsg:
//!
//! - the `sock:sock_{send,recv}_length` tracepoints (6.4+), in `sock_{send,recv}msg`;
//! - fexit on the protocols' `inet{,6}_{send,recv}msg` (BPF trampolines: x86-64 5.5+);
//! - a kprobe/kretprobe pair on the same functions (the entry keeps the socket and
//!   flags for the return, which has only the result).
//!
//! All three fire in the caller's context after the call, for every path into an
//! Internet socket's sendmsg/recvmsg (read/write, send*/recv*, io_uring), so the user
//! side sees the same bytes and owners whichever one loaded.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::{fexit, kprobe, kretprobe, map, tracepoint},
    maps::LruHashMap,
    programs::{FExitContext, ProbeContext, RetProbeContext, TracePointContext},
};
use netstat_common::{AF_INET, AF_INET6, IO_CALLS_MAX, IPPROTO_UDP, IoCall, emit, syscall_tp};

use crate::{events, field, flows, kernel, owners};

/// A peek leaves the data for the next read, and the error queue carries timestamps
/// and notifications, not data: neither counts.
const MSG_PEEK: i32 = 2;
const MSG_ERRQUEUE: i32 = 0x2000;

/// A finished sendmsg (`sent`) or recvmsg on `sk`: `ret` bytes or an error, `flags`
/// the recvmsg flags (0 for a send).
#[inline(always)]
fn done(sk: u64, family: u16, protocol: u16, sent: bool, ret: i32, flags: i32) {
    if family != AF_INET && family != AF_INET6 {
        return;
    }
    if ret < 0 || (!sent && flags & (MSG_PEEK | MSG_ERRQUEUE) != 0) {
        if protocol == IPPROTO_UDP && events::wanted(emit::FLOWS) {
            // The peer a failed (or skipped) call named must not stick to the next one.
            flows::drop_peer();
        }
        return;
    }
    let cookie = kernel::sock_cookie(sk);
    if cookie == 0 {
        return;
    }
    let netns = kernel::sock_netns(sk);
    owners::io(&owners::key(cookie, netns), sent, ret as u64);
    if protocol == IPPROTO_UDP && events::wanted(emit::FLOWS) {
        flows::datagram(sk, cookie, netns, family, sent, ret as u64);
    }
}

/// [`done`] for a socket known only by its `struct sock *`.
#[inline(always)]
fn done_on(sk: u64, sent: bool, ret: i32, flags: i32) {
    if sk != 0 {
        done(
            sk,
            kernel::sock_family(sk),
            kernel::sock_protocol(sk),
            sent,
            ret,
            flags,
        );
    }
}

// --- tracepoints (6.4+) -------------------------------------------------------------

#[inline(always)]
fn length(ctx: &TracePointContext, sent: bool) -> u32 {
    // SAFETY: offsets of the sock_{send,recv}_length record (netstat-common).
    let (sk, family, protocol, ret, flags): (u64, u16, u16, i32, i32) = unsafe {
        (
            field(ctx, syscall_tp::LEN_SK),
            field(ctx, syscall_tp::LEN_FAMILY),
            field(ctx, syscall_tp::LEN_PROTOCOL),
            field(ctx, syscall_tp::LEN_RET),
            field(ctx, syscall_tp::LEN_FLAGS),
        )
    };
    done(sk, family, protocol, sent, ret, flags);
    0
}

/// `sock:sock_send_length`: sendmsg on any socket, in the sender's context.
#[tracepoint(category = "sock", name = "sock_send_length")]
pub fn sock_send_length(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    length(&ctx, true)
}

#[tracepoint(category = "sock", name = "sock_recv_length")]
pub fn sock_recv_length(ctx: TracePointContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    length(&ctx, false)
}

// --- fexit ----------------------------------------------------------------------------
// `int inet{,6}_sendmsg(struct socket *, struct msghdr *, size_t)` and
// `int inet{,6}_recvmsg(struct socket *, struct msghdr *, size_t, int flags)`: the
// user side checks these prototypes in the kernel's BTF before loading. An fexit
// context holds the arguments, then the return value (read by index: the
// bpf_get_func_ret helper is 5.17+).

/// Index of the return value in a sendmsg/recvmsg fexit context.
const SEND_RET: usize = 3;
const RECV_RET: usize = 4;

#[inline(always)]
fn exited(ctx: &FExitContext, sent: bool) -> i32 {
    let sock: u64 = ctx.arg(0);
    let (ret, flags) = if sent {
        // The int result fills the low half of its 8-byte slot.
        (ctx.arg::<u64>(SEND_RET) as i32, 0)
    } else {
        (ctx.arg::<u64>(RECV_RET) as i32, ctx.arg::<u64>(3) as i32)
    };
    done_on(kernel::socket_sk(sock), sent, ret, flags);
    0
}

#[fexit]
pub fn inet_sendmsg_exit(ctx: FExitContext) -> i32 {
    if events::hooks_only() {
        return 0;
    }
    exited(&ctx, true)
}

#[fexit]
pub fn inet6_sendmsg_exit(ctx: FExitContext) -> i32 {
    if events::hooks_only() {
        return 0;
    }
    exited(&ctx, true)
}

#[fexit]
pub fn inet_recvmsg_exit(ctx: FExitContext) -> i32 {
    if events::hooks_only() {
        return 0;
    }
    exited(&ctx, false)
}

#[fexit]
pub fn inet6_recvmsg_exit(ctx: FExitContext) -> i32 {
    if events::hooks_only() {
        return 0;
    }
    exited(&ctx, false)
}

// --- kprobe + kretprobe ---------------------------------------------------------------

/// Each thread's call in progress. An LRU: a return probe the kernel skipped (its
/// instance pool ran dry) leaves an entry nobody removes; the LRU recycles it.
#[map(name = "IO_CALLS")]
static IO_CALLS: LruHashMap<u64, IoCall> = LruHashMap::with_max_entries(IO_CALLS_MAX, 0);

#[inline(always)]
fn entered(ctx: &ProbeContext, sent: bool) -> u32 {
    let Some(sock) = ctx.arg::<u64>(0) else {
        return 0;
    };
    let flags = if sent {
        0
    } else {
        ctx.arg::<u64>(3).unwrap_or(0) as i32
    };
    let call = IoCall {
        sk: kernel::socket_sk(sock),
        flags,
        _pad: 0,
    };
    if call.sk != 0 {
        let _ = IO_CALLS.insert(&bpf_get_current_pid_tgid(), &call, 0);
    }
    0
}

#[inline(always)]
fn returned(ctx: &RetProbeContext, sent: bool) -> u32 {
    let tid = bpf_get_current_pid_tgid();
    // SAFETY: a copy out of a live map value.
    let Some(call) = (unsafe { IO_CALLS.get(&tid) }).copied() else {
        return 0;
    };
    let _ = IO_CALLS.remove(&tid);
    done_on(call.sk, sent, ctx.ret::<u64>() as i32, call.flags);
    0
}

#[kprobe]
pub fn sendmsg_entry(ctx: ProbeContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    entered(&ctx, true)
}

#[kprobe]
pub fn recvmsg_entry(ctx: ProbeContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    entered(&ctx, false)
}

#[kretprobe]
pub fn sendmsg_return(ctx: RetProbeContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    returned(&ctx, true)
}

#[kretprobe]
pub fn recvmsg_return(ctx: RetProbeContext) -> u32 {
    if events::hooks_only() {
        return 0;
    }
    returned(&ctx, false)
}
