//! The socket-owner map: who holds each Internet socket, learnt only in the process
//! context of that process (socket, connect, accept, send/recv), never from `current`
//! in a state change (that runs in softirq or as the peer).
//!
//! Writes to a shared record: an owner change replaces the whole record
//! (`BPF_EXIST` update, atomic for readers), so two CPUs never leave a half-written
//! owner; flags are set and cleared with atomic or/and; byte counters use atomic adds.
//! State and 4-tuple are written in place by the state tracepoint, which the kernel
//! serialises per socket (it runs under the socket lock or in its softirq).
use aya_ebpf::{
    helpers::bpf_ktime_get_boot_ns,
    macros::map,
    maps::{HashMap, LruHashMap},
};
use core::intrinsics::{AtomicOrdering, atomic_and, atomic_or, atomic_xadd};
use netstat_common::{
    CLOSED_MAX, ConnEvent, LISTENERS_MAX, ListenKey, OWNERS_MAX, Owner, STAT_LISTENERS_FULL,
    STAT_OWNERS_FULL, STAT_OWNERS_NOMEM, STAT_TIMEWAIT_FULL, SockKey, SockRecord, TIMEWAIT_MAX,
    TcpState, conn_flags, emit, event_kind, flags, how, opened,
};

use crate::{count, events, kernel};

/// Preallocating 256k records would pin ~55 MB whether used or not. Only live sockets
/// live here (timewait records go to `TIMEWAIT`), so it stays small under churn.
const BPF_F_NO_PREALLOC: u32 = 1;
/// `bpf_map_update_elem` flags.
const BPF_NOEXIST: u64 = 1;
const BPF_EXIST: u64 = 2;
const EEXIST: i32 = -17;
const ENOMEM: i32 = -12;

#[map(name = "OWNERS")]
static OWNERS: HashMap<SockKey, SockRecord> =
    HashMap::with_max_entries(OWNERS_MAX, BPF_F_NO_PREALLOC);

#[map(name = "CLOSED")]
static CLOSED: LruHashMap<SockKey, SockRecord> = LruHashMap::with_max_entries(CLOSED_MAX, 0);

/// Preallocated (~3 MiB): a map without preallocation takes its elements from a per-CPU
/// cache refilled asynchronously, and a burst of ends can find it empty (ENOMEM) —
/// exactly when records are being parked.
#[map(name = "UNSENT")]
static UNSENT: HashMap<SockKey, SockRecord> =
    HashMap::with_max_entries(netstat_common::UNSENT_MAX, 0);

/// The agent's records of connections in TIME_WAIT (see netstat-common's
/// `MAP_TIMEWAIT`): preallocated, sized by the agent at load time.
#[map(name = "TIMEWAIT")]
static TIMEWAIT: HashMap<SockKey, SockRecord> = HashMap::with_max_entries(TIMEWAIT_MAX, 0);

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

/// Sets `bits` in a live record's flags.
///
/// Kernels before 5.12 have no atomic or/and: there the flags are to be read, changed
/// and written back, and a flag that another CPU sets on the same record in that
/// instant can be lost. Not enough yet for 5.10: its verifier refuses any `BPF_ATOMIC`
/// or/and instruction in the program in a pass before it prunes dead branches, so
/// that kernel needs an object without them (see the README's "Kernels").
#[inline(always)]
fn set_flags(rec: *mut SockRecord, bits: u64) {
    // SAFETY: a field address inside a live map value; no reference is formed.
    let p = unsafe { &raw mut (*rec).flags };
    if kernel::atomic_bitops() {
        // SAFETY: an aligned u64 inside a live map value.
        unsafe { atomic_or::<u64, u64, { AtomicOrdering::Relaxed }>(p, bits) };
    } else {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(p, core::ptr::read_volatile(p) | bits) };
    }
}

/// Clears `bits` in a live record's flags (see [`set_flags`] for old kernels).
#[inline(always)]
fn clear_flags(rec: *mut SockRecord, bits: u64) {
    // SAFETY: a field address inside a live map value; no reference is formed.
    let p = unsafe { &raw mut (*rec).flags };
    if kernel::atomic_bitops() {
        // SAFETY: an aligned u64 inside a live map value.
        unsafe { atomic_and::<u64, u64, { AtomicOrdering::Relaxed }>(p, !bits) };
    } else {
        // SAFETY: as above.
        unsafe { core::ptr::write_volatile(p, core::ptr::read_volatile(p) & !bits) };
    }
}

/// Adds to a live record's counter.
#[inline(always)]
fn add(counter: *mut u64, n: u64) {
    // Two CPUs may move bytes on one socket at once. core's AtomicU64 is not offered
    // for the bpf target; the intrinsic compiles to BPF_ATOMIC add.
    // SAFETY: an aligned u64 inside a live map value.
    unsafe { atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(counter, n) };
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
    // EEXIST with BPF_NOEXIST is not a loss: someone got there first. E2BIG: full;
    // ENOMEM: the element cache ran dry in a burst. Either way the socket shows no owner.
    match OWNERS.insert(k, rec, flags) {
        Ok(()) => {}
        Err(EEXIST) => {}
        Err(ENOMEM) => count(STAT_OWNERS_NOMEM),
        Err(_) => count(STAT_OWNERS_FULL),
    }
}

/// The socket is gone: its record moves to the recently-closed map (copied map to
/// map, then marked there: a 152-byte copy on the stack would not fit beside the state
/// program's other locals).
///
/// The live modes keep no closed TCP records (their connection record is already out;
/// only the agent's listings and UDP flows' ends look there): pass `keep` false.
/// With `keep`, a connection handed over to timewait moves to `TIMEWAIT` instead (the
/// socket lives on there for 60 s).
#[inline(always)]
pub fn forget(k: &SockKey, rec: *const SockRecord, keep: bool) {
    if !keep {
        let _ = OWNERS.remove(k);
        return;
    }
    // SAFETY: a field of a live map value.
    if unsafe { (*rec).flags } & flags::TIMEWAIT != 0 {
        // Preallocated: only a full map refuses (E2BIG), counted; never a wrong owner.
        // SAFETY: `rec` is a live map value of OWNERS.
        if TIMEWAIT.insert(k, unsafe { &*rec }, 0).is_err() {
            count(STAT_TIMEWAIT_FULL);
        }
        let _ = OWNERS.remove(k);
        return;
    }
    // Full or not, the LRU makes room by itself.
    // SAFETY: `rec` is a live map value of OWNERS.
    let _ = CLOSED.insert(k, unsafe { &*rec }, 0);
    if let Some(last) = CLOSED.get_ptr_mut(k) {
        set_flags(last, flags::CLOSED);
        // SAFETY: fields of a live map value.
        unsafe {
            (*last).state = TcpState::Close as u8;
            (*last).changed_ns = now();
        }
    }
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
///
/// When the recorded owner already is this process, unchanged (the creator connecting,
/// the listener's process accepting: the common case), only `how`, the thread and the
/// inode are written in place; the owner's identity does not change, so a reader can
/// never see half of two owners. Otherwise (another process, or this one after an exec
/// or a setuid) the record is replaced whole.
#[inline(always)]
fn take_over(k: &SockKey, learnt: u8, inode: u64) -> bool {
    let Some(ptr) = OWNERS.get_ptr_mut(k) else {
        return false;
    };
    let pid_tgid = aya_ebpf::helpers::bpf_get_current_pid_tgid();
    // SAFETY: a field of a live map value, by reference for the comparison only.
    if kernel::current_is(unsafe { &(*ptr).owner }) {
        // SAFETY: aligned fields of a live map value, each written whole.
        unsafe {
            (*ptr).owner.how = learnt;
            (*ptr).owner.tid = pid_tgid as u32;
            if (*ptr).inode == 0 {
                (*ptr).inode = inode;
            }
        }
        clear_flags(ptr, flags::HOLDER_UNKNOWN);
        return true;
    }
    // SAFETY: a copy out of a live map value.
    let mut rec = unsafe { *ptr };
    rec.owner = kernel::current_owner(learnt);
    rec.flags &= !flags::HOLDER_UNKNOWN;
    if rec.inode == 0 {
        rec.inode = inode;
    }
    // Gone meanwhile (EEXIST/ENOENT): nothing to own any more.
    let _ = OWNERS.insert(k, &rec, BPF_EXIST);
    true
}

/// A passively opened socket just became ESTABLISHED: until accepted, it belongs to the
/// owner of the listener on its local address (or the wildcard) and port.
#[inline(always)]
pub fn passive_established(k: &SockKey, rec: &mut SockRecord) {
    if let Some(owner) = listener_owner(k.netns, rec.family, rec.sport, &rec.saddr) {
        rec.owner = owner;
    }
    // Even without a listener entry (full table, a sibling closed it): the agent's
    // answer then names the listener that holds the port now.
    rec.owner.how = how::LISTENER;
    rec.opened = opened::PASSIVE;
    rec.opened_ns = rec.created_ns;
    insert(k, rec, BPF_NOEXIST);
}

/// The owner of the listener on this address (or the wildcard) and port.
#[inline(always)]
pub fn listener_owner(netns: u32, family: u16, port: u16, addr: &[u8; 16]) -> Option<Owner> {
    // SAFETY: a copy out of a live map value.
    listener_entry(netns, family, port, addr).map(|o| unsafe { *o })
}

/// [`listener_owner`] without the copy: the map value itself.
#[inline(always)]
pub fn listener_entry(netns: u32, family: u16, port: u16, addr: &[u8; 16]) -> Option<*const Owner> {
    let mut lk = ListenKey {
        netns,
        port,
        family,
        addr: *addr,
    };
    LISTENERS.get_ptr(&lk).or_else(|| {
        lk.addr = [0; 16];
        LISTENERS.get_ptr(&lk)
    })
}

/// Bytes moved by sendmsg/recvmsg, by a process that holds the socket.
#[inline(always)]
pub fn io(k: &SockKey, sent: bool, bytes: u64) {
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        return;
    };
    // SAFETY: field addresses inside a live map value; no reference is formed.
    let (counter, tgid) = unsafe {
        (
            if sent {
                &raw mut (*rec).tx_bytes
            } else {
                &raw mut (*rec).rx_bytes
            },
            (*rec).owner.tgid,
        )
    };
    add(counter, bytes);
    let current = (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32;
    // A kernel thread moving data on a socket a process handed it (NBD, iSCSI, nfsd)
    // does not hold it.
    if tgid != current && !kernel::current_is_kthread() {
        take_over(k, how::IO, 0);
    }
}

/// Whether a release needs the record at all: the live modes do not show the released
/// mark, and a TCP socket's state changes will end its record.
#[inline(always)]
pub fn release_matters(protocol: u16, state: u8) -> bool {
    !(protocol == TCP && state != TcpState::Close as u8 && events::wanted(emit::FORGET_TIMEWAIT))
}

/// The last reference to the socket's file went away.
#[inline(always)]
pub fn released(k: &SockKey, protocol: u16, state: u8) {
    let live_mode = events::wanted(emit::FORGET_TIMEWAIT);
    let Some(rec) = OWNERS.get_ptr_mut(k) else {
        // Handed over to timewait before its last descriptor went (shutdown first).
        if let Some(tw) = TIMEWAIT.get_ptr_mut(k) {
            set_flags(tw, flags::RELEASED);
        }
        return;
    };
    set_flags(rec, flags::RELEASED);
    if protocol != TCP || state == TcpState::Close as u8 {
        // Nothing outlives it: UDP, raw, or a TCP socket that never left CLOSE.
        forget(k, rec, protocol != TCP || !live_mode);
    }
}

/// The current process closes a descriptor of this socket while others stay open.
#[inline(always)]
pub fn closed_shared(k: &SockKey) {
    if let Some(rec) = OWNERS.get_ptr_mut(k) {
        let tgid = (aya_ebpf::helpers::bpf_get_current_pid_tgid() >> 32) as u32;
        // SAFETY: a field of a live map value.
        if unsafe { (*rec).owner.tgid } == tgid {
            set_flags(rec, flags::HOLDER_UNKNOWN);
        }
    }
}

/// The record a state change updated, for the event stream.
pub struct Snapshot {
    /// The live record (or, once forgotten, the freed-after-RCU element: still readable
    /// for the rest of this program run). Owner and counters are unchanged by the state
    /// change.
    pub rec: *const SockRecord,
    /// When it entered the state it just left.
    pub prev_ns: u64,
    /// The change hands the connection to a timewait socket.
    pub timewait: bool,
    /// The record leaves the owner map (the socket is gone, or handed over to
    /// timewait): the caller calls [`forget`] once it has used `rec` (the element is
    /// freed for reuse by then).
    pub forget: bool,
}

/// The tuple a state change reports (host-order ports, network-order addresses).
pub struct Tuple<'a> {
    pub sport: u16,
    pub dport: u16,
    pub saddr: &'a [u8; 16],
    pub daddr: &'a [u8; 16],
}

/// What a TCP state change does to the map; returns what the record held before.
/// A change to CLOSE that ends a connection also queues its [`ConnEvent`] when
/// `--audit` asked for them (`sk` is the socket, for its final counters).
#[inline(always)]
pub fn state_changed(k: &SockKey, sk: u64, old: u8, new: u8, t: &Tuple<'_>) -> Option<Snapshot> {
    let ptr = OWNERS.get_ptr_mut(k)?;
    // SAFETY: a live map value; this socket's state changes are serialised.
    let rec = unsafe { &mut *ptr };
    let now = now();
    let mut snap = Snapshot {
        rec: ptr,
        prev_ns: rec.changed_ns,
        timewait: false,
        forget: false,
    };
    rec.state = new;
    rec.changed_ns = now;
    if t.sport != 0 {
        rec.sport = t.sport;
        rec.saddr = *t.saddr;
    }
    if t.dport != 0 {
        rec.dport = t.dport;
        rec.daddr = *t.daddr;
    }
    if new == TcpState::SynSent as u8 {
        rec.opened = opened::ACTIVE;
        rec.opened_ns = now;
        return Some(snap);
    }
    let lk = ListenKey {
        netns: k.netns,
        port: rec.sport,
        family: rec.family,
        addr: rec.saddr,
    };
    if new == TcpState::Listen as u8 {
        if LISTENERS.insert(&lk, &rec.owner, 0).is_err() {
            count(STAT_LISTENERS_FULL);
        }
        return Some(snap);
    }
    if new != TcpState::Close as u8 {
        return Some(snap);
    }
    // An error ends it on the spot (tcp_reset, tcp_write_err: `sk_err` is set before
    // tcp_done); otherwise FIN_WAIT2/CLOSING to CLOSE is tcp_time_wait() handing over to
    // a timewait mini-socket with the same cookie, for up to 60 s (the agent keeps its
    // record in TIMEWAIT and drops it when it must have expired). Orphans that time out in FIN_WAIT2 without an error also
    // pass here: without a kprobe they cannot be told apart.
    let sk_err = kernel::sock_err(sk);
    let timewait =
        sk_err == 0 && (old == TcpState::FinWait2 as u8 || old == TcpState::Closing as u8);
    if timewait {
        set_flags(ptr, flags::TIMEWAIT);
        snap.timewait = true;
    }
    if old == TcpState::Listen as u8 {
        // SAFETY: a copy out of a live map value.
        if unsafe { LISTENERS.get(&lk) }.is_some_and(|o| o.tgid == rec.owner.tgid) {
            let _ = LISTENERS.remove(&lk);
        }
    } else if events::wanted(emit::CONNECTIONS) && !conn_ended(k, sk, rec, old, sk_err) {
        park(k, ptr, old, sk_err);
    }
    snap.forget = true;
    Some(snap)
}

/// Parks the record of a connection whose [`ConnEvent`] found the ring full, with the
/// state it left and its error, for the user side to report. When the parking map is
/// full too, the record is lost: counted by the difference between the kernel's loss
/// counter and what the user side finds. The two fields are written into the live
/// record first, so the parked copy is whole the moment it can be read (the live record
/// is forgotten right after: only the live modes ask for connection records).
#[inline(always)]
fn park(k: &SockKey, rec: *mut SockRecord, old: u8, sk_err: i32) {
    // SAFETY: fields of a live map value, then the value itself as the insert's source.
    unsafe {
        (*rec).state = old;
        (*rec).end_err = sk_err.clamp(0, 255) as u8;
        let _ = UNSENT.insert(k, &*rec, 0);
    }
}

/// Queues the connection record of a connection that just ended; false when the ring
/// had no room (the caller marks the record so the user side reports it anyway).
/// Filtered-out connections count as delivered.
#[inline(always)]
fn conn_ended(k: &SockKey, sk: u64, rec: &SockRecord, old: u8, sk_err: i32) -> bool {
    let subject = events::Subject {
        netns: k.netns,
        family: rec.family,
        sport: rec.sport,
        dport: rec.dport,
        // `--state` is a --watch filter: every connection record passes it.
        states: u32::MAX,
        owner: Some(&rec.owner),
    };
    if !events::passes(&subject) {
        return true;
    }
    let segments = kernel::tcp_segments(sk);
    events::queue(netstat_common::LOST_CONN_RING_FULL, |ev: &mut ConnEvent| {
        ev.kind = event_kind::CONN;
        ev.netns = k.netns;
        ev.start_ns = rec.opened_ns;
        ev.end_ns = rec.changed_ns;
        ev.cookie = k.cookie;
        ev.record_flags = rec.flags;
        ev.family = rec.family;
        ev.sport = rec.sport;
        ev.dport = rec.dport;
        ev.oldstate = old;
        ev.opened = rec.opened;
        ev.sk_err = sk_err;
        ev.saddr = rec.saddr;
        ev.daddr = rec.daddr;
        ev.owner = rec.owner;
        ev.flags = conn_flags::OWNER;
        // Bytes: what the owners' sendmsg/recvmsg moved (tcp_sock's bytes_acked and
        // bytes_received also count the SYN and FIN, one each, depending on who opened
        // and how it closed). Segments: the kernel's own counts.
        ev.tx_bytes = rec.tx_bytes;
        ev.rx_bytes = rec.rx_bytes;
        if let Some([segs_out, segs_in]) = segments {
            ev.tx_packets = segs_out;
            ev.rx_packets = segs_in;
            ev.flags |= conn_flags::KERNEL_COUNTS;
        }
    })
}
