//! UDP flows for `--audit`: datagrams and bytes per (socket, remote end), counted in
//! the sending or receiving process's context. The user side reports and deletes a flow
//! when it goes idle or its socket closes.
use aya_ebpf::{
    helpers::bpf_get_current_pid_tgid,
    macros::map,
    maps::{HashMap, LruHashMap},
};
use core::intrinsics::{AtomicOrdering, atomic_xadd};
use netstat_common::{FLOWS_MAX, FlowKey, FlowValue, PEERS_MAX, STAT_FLOWS_FULL, how};

use crate::{count, events, kernel, owners};

/// Unused flows cost nothing (no preallocation of 65k entries).
const BPF_F_NO_PREALLOC: u32 = 1;
const BPF_NOEXIST: u64 = 1;
const EEXIST: i32 = -17;

#[map(name = "FLOWS")]
static FLOWS: HashMap<FlowKey, FlowValue> = HashMap::with_max_entries(FLOWS_MAX, BPF_F_NO_PREALLOC);

/// The peer named by the thread's current unconnected sendmsg/recvmsg, keyed by
/// `pid_tgid`: the cgroup hook runs first, `sock_{send,recv}_length` right after in the
/// same thread.
#[map(name = "PEERS")]
static PEERS: LruHashMap<u64, FlowKey> = LruHashMap::with_max_entries(PEERS_MAX, 0);

/// An unconnected `sendmsg` (destination) or `recvmsg` (source) named this peer.
/// `port_be` is the port in network byte order, `addr` in network byte order.
#[inline(always)]
pub fn peer_named(cookie: u64, family: u16, port_be: u16, addr: [u8; 16]) {
    let key = FlowKey {
        cookie,
        netns: 0,
        rport: u16::from_be(port_be),
        family,
        raddr: addr,
    };
    // The LRU makes room by itself; a lost stash only makes the flow's peer unknown.
    let _ = PEERS.insert(&bpf_get_current_pid_tgid(), &key, 0);
}

/// Forgets the peer the thread's last hook named (its call failed or did not count).
#[inline(always)]
pub fn drop_peer() {
    let _ = PEERS.remove(&bpf_get_current_pid_tgid());
}

/// `bytes` went out (`sent`) or came in on UDP socket `sk`. Flows of other namespaces,
/// families or ports than the filter names are not counted at all (they could fill the
/// map); pid and name are checked when flows are reported.
#[inline(always)]
pub fn datagram(sk: u64, cookie: u64, netns: u32, family: u16, sent: bool, bytes: u64) {
    let tid = bpf_get_current_pid_tgid();
    // SAFETY: a copy out of a live map value.
    let named = unsafe { PEERS.get(&tid) }.copied();
    let mut key = match named {
        Some(p) if p.cookie == cookie => {
            let _ = PEERS.remove(&tid);
            p
        }
        // A connected socket (no hook runs for it): its own remote end, or zeros when a
        // recv() without an address leaves the sender unknown.
        _ => {
            let (rport, raddr) = kernel::sock_remote(sk, family);
            FlowKey {
                rport,
                raddr,
                ..FlowKey::default()
            }
        }
    };
    key.cookie = cookie;
    key.netns = netns;
    key.family = family;
    if add(&key, sent, bytes) {
        return;
    }
    let (lport, laddr) = kernel::sock_local(sk, family);
    if !events::passes_without_owner(netns, family, lport, key.rport) {
        return;
    }
    let t = owners::now();
    let mut v = FlowValue {
        first_ns: t,
        last_ns: t,
        lport,
        laddr,
        owner: kernel::current_owner(how::IO),
        ..FlowValue::default()
    };
    if sent {
        v.tx_bytes = bytes;
        v.tx_packets = 1;
    } else {
        v.rx_bytes = bytes;
        v.rx_packets = 1;
    }
    match FLOWS.insert(&key, &v, BPF_NOEXIST) {
        Ok(()) => {}
        // Another CPU started the flow meanwhile.
        Err(e) if e == EEXIST => {
            add(&key, sent, bytes);
        }
        Err(_) => count(STAT_FLOWS_FULL),
    }
}

/// Counts a datagram on an existing flow; false if there is none.
#[inline(always)]
fn add(key: &FlowKey, sent: bool, bytes: u64) -> bool {
    let Some(v) = FLOWS.get_ptr_mut(key) else {
        return false;
    };
    // SAFETY: aligned u64 fields of a live map value; the counters are atomic because
    // two threads may send on one socket at once.
    unsafe {
        let (b, n) = if sent {
            (&raw mut (*v).tx_bytes, &raw mut (*v).tx_packets)
        } else {
            (&raw mut (*v).rx_bytes, &raw mut (*v).rx_packets)
        };
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(b, bytes);
        atomic_xadd::<u64, u64, { AtomicOrdering::Relaxed }>(n, 1);
        (*v).last_ns = owners::now();
    }
    true
}
