//! What the programs queue for the user side: the ring buffer, its loss counters and
//! the load-time switches and filters that decide what goes in.
use aya_ebpf::{
    bindings::{BPF_RB_AVAIL_DATA, BPF_RB_FORCE_WAKEUP, BPF_RB_NO_WAKEUP},
    macros::map,
    maps::{PerCpuArray, RingBuf},
};
use netstat_common::{EVENTS_RING_BYTES, EVENTS_WAKEUP_BYTES, EventFilter, LOST_SLOTS, Owner};

#[map(name = "EVENTS")]
static EVENTS: RingBuf = RingBuf::with_byte_size(EVENTS_RING_BYTES, 0);

#[map(name = "LOST")]
static LOST: PerCpuArray<u64> = PerCpuArray::with_max_entries(LOST_SLOTS, 0);

/// Set at load time: [`netstat_common::emit`] bits.
#[unsafe(no_mangle)]
static EMIT_EVENTS: u32 = 0;

/// Set at load time: see netstat-common's `EventFilter`.
#[unsafe(no_mangle)]
static FILTER: EventFilter = EventFilter {
    netns: 0,
    pid: 0,
    states: 0,
    family: 0,
    sport: 0,
    dport: 0,
    port: 0,
    comm: [0; 16],
};

/// Whether the load-time switches ask for `what` (an `emit` bit).
#[inline(always)]
pub fn wanted(what: u32) -> bool {
    // SAFETY: a plain read of a load-time global.
    (unsafe { core::ptr::read_volatile(&EMIT_EVENTS) }) & what != 0
}

/// See `emit::HOOKS_ONLY`.
#[inline(always)]
pub fn hooks_only() -> bool {
    wanted(netstat_common::emit::HOOKS_ONLY)
}

#[inline(always)]
pub fn count_lost(slot: u32) {
    crate::count_in(&LOST, slot);
}

/// What an event is about, for the filter.
pub struct Subject<'a> {
    pub netns: u32,
    pub family: u16,
    pub sport: u16,
    pub dport: u16,
    /// `1 << state` of the states involved.
    pub states: u32,
    pub owner: Option<&'a Owner>,
}

/// Whether the load-time filter lets `s` through.
#[inline(always)]
pub fn passes(s: &Subject<'_>) -> bool {
    let f = crate::kernel::load_time(&FILTER);
    if (f.netns != 0 && f.netns != s.netns)
        || (f.family != 0 && f.family != s.family)
        || (f.sport != 0 && f.sport != s.sport)
        || (f.dport != 0 && f.dport != s.dport)
        || (f.port != 0 && f.port != s.sport && f.port != s.dport)
        || (f.states != 0 && f.states & s.states == 0)
    {
        return false;
    }
    if f.pid == 0 && f.comm[0] == 0 {
        return true;
    }
    let Some(owner) = s.owner else {
        return false;
    };
    (f.pid == 0 || f.pid == owner.tgid) && (f.comm[0] == 0 || f.comm == owner.comm)
}

/// [`passes`] for what is known before an owner: namespace, family and ports (the
/// pid and name parts of the filter are left to the caller).
#[inline(always)]
pub fn passes_without_owner(netns: u32, family: u16, sport: u16, dport: u16) -> bool {
    let f = crate::kernel::load_time(&FILTER);
    !((f.netns != 0 && f.netns != netns)
        || (f.family != 0 && f.family != family)
        || (f.sport != 0 && f.sport != sport)
        || (f.dport != 0 && f.dport != dport)
        || (f.port != 0 && f.port != sport && f.port != dport))
}

/// Queues a `T` that `fill` writes straight into the ring (no copy on the 512-byte
/// stack), counting it in LOST slot `lost_slot` when the ring is full; true when queued.
///
/// The reader is woken only once a batch waits (see netstat-common's
/// `EVENTS_WAKEUP_BYTES`): it polls on its own as well, so nothing waits long.
#[inline(always)]
pub fn queue<T: 'static>(lost_slot: u32, fill: impl FnOnce(&mut T)) -> bool {
    let Some(mut entry) = EVENTS.reserve::<T>(0) else {
        count_lost(lost_slot);
        return false;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` is the reserved record, valid for one `T`; zeroing first makes every
    // byte (padding included) defined before `fill` sees it as a `T` (all the ring's
    // types are plain integers and arrays, for which zero is valid).
    unsafe {
        core::ptr::write_bytes(p, 0, 1);
        fill(&mut *p);
    }
    let waiting = EVENTS.query(BPF_RB_AVAIL_DATA as u64);
    entry.submit(if waiting >= EVENTS_WAKEUP_BYTES {
        BPF_RB_FORCE_WAKEUP as u64
    } else {
        BPF_RB_NO_WAKEUP as u64
    });
    true
}
