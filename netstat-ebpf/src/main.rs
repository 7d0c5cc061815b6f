//! Kernel side of netstat. Entry points stay thin: each wraps a `try_…` function.
#![no_std]
#![no_main]

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_kernel},
    macros::{map, tracepoint},
    maps::{PerCpuArray, RingBuf},
    programs::TracePointContext,
};
use netstat_common::{
    EVENTS_RING_BYTES, IPPROTO_TCP, LOST_READ_FAILED, LOST_RING_FULL, LOST_SLOTS, OFFSET_UNKNOWN,
    TcpStateEvent, inet_sock_set_state as tp,
};

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(LOST_SLOTS, 0);

/// Set at load time from the running kernel's BTF (see netstat-common).
#[unsafe(no_mangle)]
static SKC_NET_OFFSET: u32 = OFFSET_UNKNOWN;
#[unsafe(no_mangle)]
static NET_INUM_OFFSET: u32 = OFFSET_UNKNOWN;

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
    let Some(mut entry) = EVENTS.reserve::<TcpStateEvent>(0) else {
        count_lost(LOST_RING_FULL);
        return Ok(());
    };
    // SAFETY: offsets come from netstat-common's record layout, which the user side
    // checked against the running kernel's format file before attaching.
    let ev = unsafe { fill_event(ctx) };
    match ev {
        Ok(ev) => {
            entry.write(ev);
            entry.submit(0);
            Ok(())
        }
        Err(e) => {
            entry.discard(0);
            count_lost(LOST_READ_FAILED);
            Err(e)
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
    if family == netstat_common::AF_INET6 {
        saddr = unsafe { ctx.read_at(tp::SADDR_V6) }?;
        daddr = unsafe { ctx.read_at(tp::DADDR_V6) }?;
    } else {
        let s: [u8; 4] = unsafe { ctx.read_at(tp::SADDR) }?;
        let d: [u8; 4] = unsafe { ctx.read_at(tp::DADDR) }?;
        saddr[..4].copy_from_slice(&s);
        daddr[..4].copy_from_slice(&d);
    }
    Ok(TcpStateEvent {
        ts_ns: unsafe { bpf_ktime_get_ns() },
        skaddr,
        netns: unsafe { sock_netns(skaddr) },
        current_tgid: (bpf_get_current_pid_tgid() >> 32) as u32,
        family,
        protocol: IPPROTO_TCP,
        sport: unsafe { ctx.read_at(tp::SPORT) }?,
        dport: unsafe { ctx.read_at(tp::DPORT) }?,
        oldstate: oldstate as u8,
        newstate: newstate as u8,
        _pad: [0; 6],
        saddr,
        daddr,
    })
}

/// `sk->__sk_common.skc_net.net->ns.inum`, with both offsets from BTF; 0 if unknown.
unsafe fn sock_netns(skaddr: u64) -> u32 {
    // SAFETY: read_volatile keeps the compiler from folding the load-time globals.
    let net_off = unsafe { core::ptr::read_volatile(&SKC_NET_OFFSET) };
    let inum_off = unsafe { core::ptr::read_volatile(&NET_INUM_OFFSET) };
    if net_off == OFFSET_UNKNOWN || inum_off == OFFSET_UNKNOWN || skaddr == 0 {
        return 0;
    }
    let net: u64 = match unsafe { bpf_probe_read_kernel((skaddr + net_off as u64) as *const u64) } {
        Ok(p) if p != 0 => p,
        _ => return 0,
    };
    unsafe { bpf_probe_read_kernel((net + inum_off as u64) as *const u32) }.unwrap_or(0)
}

fn count_lost(slot: u32) {
    if let Some(n) = LOST.get_ptr_mut(slot) {
        // SAFETY: a per-CPU slot, only this CPU writes it while the program runs.
        unsafe { *n += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
