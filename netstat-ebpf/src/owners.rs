//! The socket-owner map: who holds each Internet socket, learnt only in the process
//! context of that process (socket, connect, accept, send/recv), never from `current`
//! in a state change (that runs in softirq or as the peer).
use aya_ebpf::{
    helpers::bpf_ktime_get_boot_ns,
    macros::map,
    maps::{HashMap, LruHashMap},
};
use netstat_common::{
    CLOSED_MAX, LISTENERS_MAX, ListenKey, OWNERS_MAX, Owner, STAT_LISTENERS_FULL, STAT_OWNERS_FULL,
    SockKey, SockRecord, TcpState, flags, how,
};

use crate::{count, kernel};

/// Preallocating 256k records would pin ~40 MB whether used or not.
const BPF_F_NO_PREALLOC: u32 = 1;
/// `bpf_map_update_elem` flags.
const BPF_NOEXIST: u64 = 1;

#[map(name = "OWNERS")]
static OWNERS: HashMap<SockKey, SockRecord> =
    HashMap::with_max_entries(OWNERS_MAX, BPF_F_NO_PREALLOC);

#[map(name = "CLOSED")]
static CLOSED: LruHashMap<SockKey, SockRecord> = LruHashMap::with_max_entries(CLOSED_MAX, 0);

#[map(name = "LISTENERS")]
static LISTENERS: HashMap<ListenKey, Owner> =
    HashMap::with_max_entries(LISTENERS_MAX, BPF_F_NO_PREALLOC);

const TCP: u16 = 6;

#[inline(always)]
pub fn now() -> u64 {
    // SAFETY: no preconditions.
    unsafe { bpf_ktime_get_boot_ns() }
}

#[inline(always)]
pub fn key(cookie: u64, netns: u32) -> SockKey {
    SockKey {
        cookie,
        netns,
        _pad: 0,
    }
}

/// A record for a socket first seen now, owned by `owner`.
#[inline(always)]
pub fn new_record(owner: Owner, family: u16, protocol: u16, inode: u64) -> SockRecord {
    let t = now();
    SockRecord {
        owner,
        created_ns: t,
        changed_ns: t,
        family,
        protocol,
        inode,
        ..SockRecord::default()
    }
}

#[inline(always)]
fn insert(k: &SockKey, rec: &SockRecord, flags: u64) {
    // EEXIST with BPF_NOEXIST is not a loss: someone got there first.
    if let Err(e) = OWNERS.insert(k, rec, flags)
        && e != -17
    {
        count(STAT_OWNERS_FULL);
    }
}

/// The socket is gone: its record moves to the recently-closed map.
#[inline(always)]
fn forget(k: &SockKey, rec: &SockRecord) {
    let mut last = *rec;
    last.flags |= flags::CLOSED;
    last.state = TcpState::Close as u8;
    last.changed_ns = now();
    // Full or not, the LRU makes room by itself.
    let _ = CLOSED.insert(k, &last, 0);
    let _ = OWNERS.remove(k);
}

/// socket(): the creator owns it.
#[inline(always)]
pub fn created(k: &SockKey, family: u16, protocol: u16, state: u8, inode: u64) {
    let mut rec = new_record(kernel::current_owner(how::CREATE), family, protocol, inode);
    rec.state = state;
    insert(k, &rec, 0);
}

/// connect() by the current process: it holds the socket. Sockets made before the
/// agent get their first record here.
#[inline(always)]
pub fn connected(k: &SockKey, family: u16, protocol: u16, inode: u64) {
    if !take_over(k, how::CONNECT, inode) {
        insert(
            k,
            &new_record(kernel::current_owner(how::CONNECT), family, protocol, inode),
            BPF_NOEXIST,
        );
    }
}

/// accept() handed the socket to the current process. Only updates: sock_ops made the
/// record when the connection was established, and accept() also serves unix sockets,
/// which must not get records (no inet hook would ever remove them).
#[inline(always)]
pub fn accepted(k: &SockKey, inode: u64) {
    take_over(k, how::ACCEPT, inode);
}

/// Makes the current process the owner of an existing record; false if there is none.
#[inline(always)]
fn take_over(k: &SockKey, learnt: u8, inode: u64) -> bool {
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        return false;
    };
    // SAFETY: a live map value; concurrent writers only ever store whole owners.
    let rec = unsafe { &mut *rec };
    rec.owner = kernel::current_owner(learnt);
    rec.flags &= !flags::HOLDER_UNKNOWN;
    if rec.inode == 0 {
        rec.inode = inode;
    }
    true
}

/// A passively opened socket just became ESTABLISHED: until accepted, it belongs to the
/// owner of the listener on its local port.
#[inline(always)]
pub fn passive_established(k: &SockKey, rec: &mut SockRecord) {
    let lk = ListenKey {
        netns: k.netns,
        port: rec.sport,
        family: rec.family,
    };
    // SAFETY: a copy out of a live map value.
    if let Some(owner) = unsafe { LISTENERS.get(&lk) } {
        rec.owner = *owner;
        rec.owner.how = how::LISTENER;
    }
    insert(k, rec, BPF_NOEXIST);
}

/// Bytes moved by sendmsg/recvmsg, by a process that holds the socket.
#[inline(always)]
pub fn io(k: &SockKey, sent: bool, bytes: u64) {
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        return;
    };
    // SAFETY: a live map value; the counters are only ever added to atomically.
    let rec = unsafe { &mut *rec };
    let counter = if sent {
        &mut rec.tx_bytes
    } else {
        &mut rec.rx_bytes
    };
    // Two CPUs may move bytes on one socket at once: an atomic add (BPF_ATOMIC) keeps
    // every byte. core's AtomicU64 is not offered for the bpf target, the intrinsic is.
    // SAFETY: an aligned u64 inside a live map value.
    unsafe {
        core::intrinsics::atomic_xadd::<u64, u64, { core::intrinsics::AtomicOrdering::Relaxed }>(
            counter, bytes,
        )
    };
    let tgid = (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32;
    if rec.owner.tgid != tgid {
        rec.owner = kernel::current_owner(how::IO);
        rec.flags &= !flags::HOLDER_UNKNOWN;
    }
}

/// The last reference to the socket's file went away.
#[inline(always)]
pub fn released(k: &SockKey, protocol: u16, state: u8) {
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        return;
    };
    // SAFETY: a live map value.
    let rec = unsafe { &mut *rec };
    rec.flags |= flags::RELEASED;
    if protocol != TCP || state == TcpState::Close as u8 {
        // Nothing outlives it: UDP, raw, or a TCP socket that never left CLOSE.
        forget(k, rec);
    }
}

/// The current process closes a descriptor of this socket while others stay open.
#[inline(always)]
pub fn closed_shared(k: &SockKey) {
    if let Some(rec) = OWNERS.get_ptr_mut(k) {
        // SAFETY: a live map value.
        let rec = unsafe { &mut *rec };
        let tgid = (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32;
        if rec.owner.tgid == tgid {
            rec.flags |= flags::HOLDER_UNKNOWN;
        }
    }
}

/// What a TCP state change does to the map. `ev` carries the new state and 4-tuple.
#[inline(always)]
pub fn state_changed(
    k: &SockKey,
    old: u8,
    new: u8,
    sport: u16,
    dport: u16,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) {
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        return;
    };
    // SAFETY: a live map value.
    let rec = unsafe { &mut *rec };
    rec.state = new;
    rec.changed_ns = now();
    if sport != 0 {
        rec.sport = sport;
        rec.saddr = *saddr;
    }
    if dport != 0 {
        rec.dport = dport;
        rec.daddr = *daddr;
    }
    let lk = ListenKey {
        netns: k.netns,
        port: rec.sport,
        family: rec.family,
    };
    if new == TcpState::Listen as u8 {
        if LISTENERS.insert(&lk, &rec.owner, 0).is_err() {
            count(STAT_LISTENERS_FULL);
        }
        return;
    }
    if new != TcpState::Close as u8 {
        return;
    }
    if old == TcpState::Listen as u8 {
        // SAFETY: a copy out of a live map value.
        if unsafe { LISTENERS.get(&lk) }.is_some_and(|o| o.tgid == rec.owner.tgid) {
            let _ = LISTENERS.remove(&lk);
        }
    }
    if old == TcpState::FinWait2 as u8 || old == TcpState::Closing as u8 {
        // tcp_time_wait(): a timewait mini-socket with the same cookie takes over for up
        // to 60 s. The agent drops the record when it expires.
        rec.flags |= flags::TIMEWAIT;
        return;
    }
    forget(k, rec);
}
