//! The socket-owner programs: loaded and attached by the agent, read through batch
//! lookups of the `OWNERS` map.
//!
//! What attaches where: cgroup `sock_create`/`sock_release`/`connect4`/`connect6` and
//! `sock_ops` on the cgroup v2 root (they then see every process, in every network
//! namespace, with the real caller as `current`), tracepoints for accept exits and
//! close, send/receive by the best method the kernel takes (`super::attach`: fexit,
//! tracepoints, kprobes), and a raw tracepoint for state changes (the classic one where
//! raw ones cannot attach: see `super::attach_state_program`).
use std::{
    io,
    os::fd::{AsFd, AsRawFd},
    path::{Path, PathBuf},
};

use aya::{
    Ebpf,
    maps::{HashMap, IterableMap, MapData, PerCpuArray},
    programs::{CgroupAttachMode, CgroupSock, CgroupSockAddr, SockOps, TracePoint},
};
use netstat_common::{
    FlowKey, FlowValue, ListenKey, MAP_CLOSED, MAP_FLOWS, MAP_LISTENERS, MAP_OWNERS, MAP_STATS,
    MAP_TIMEWAIT, MAP_UNSENT, OFFSET_UNKNOWN, Owner, STAT_SLOTS, SockKey, SockRecord, emit, progs,
};

use super::{LoadError, ensure_tracefs, load_object, require_privilege, resolve_offsets};

/// `bpf_map_update_elem` flag: insert only if absent.
const BPF_NOEXIST: u64 = 1;

/// The loaded and attached owner programs and their maps.
pub struct OwnerProbe {
    /// The state-change events, when loaded for a stream (`--watch`).
    pub events: Option<super::EventRing>,
    owners: HashMap<MapData, SockKey, SockRecord>,
    /// The agent's records of connections in TIME_WAIT (one entry in the live modes).
    timewait: HashMap<MapData, SockKey, SockRecord>,
    closed: HashMap<MapData, SockKey, SockRecord>,
    listeners: HashMap<MapData, ListenKey, Owner>,
    /// UDP flows, when loaded for `--audit`.
    flows: Option<HashMap<MapData, FlowKey, FlowValue>>,
    /// Connection records parked after a full ring (`--audit`).
    unsent: HashMap<MapData, SockKey, SockRecord>,
    stats: PerCpuArray<MapData, u64>,
    // Holds the programs and their links: dropping it detaches everything.
    _ebpf: Ebpf,
    /// Where each program is attached, for `-v` and the ready line.
    pub attached: Vec<String>,
    /// Offsets BTF did not give (the programs do without them).
    pub offsets_missing: Vec<String>,
    /// The state-change program's descriptor, for its skip counter.
    state_prog_fd: i32,
    /// How the state-change program is attached, and why not as a raw tracepoint.
    pub state_method: super::AttachMethod,
    pub raw_refused: Option<String>,
    /// How send/receive is attached, and what was refused before.
    pub io: super::attach::Chosen,
    /// How the programs were adapted to this kernel's verifier (empty on new kernels).
    pub adaptations: Vec<&'static str>,
}

/// Counters the programs keep (see netstat-common's `STAT_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeStats {
    pub owners_full: u64,
    pub listeners_full: u64,
    pub read_failed: u64,
    pub no_cookie: u64,
    pub passive: u64,
    pub flows_full: u64,
    pub untracked_end: u64,
    pub transitions: u64,
    /// TIME_WAIT records the timewait map had no room for.
    pub timewait_full: u64,
    /// Owner-map inserts that found no memory (a burst emptied its element cache).
    pub owners_nomem: u64,
}

/// Records in each owner map, and their capacities.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MapFill {
    pub owners: usize,
    pub owners_max: u32,
    pub timewait: usize,
    pub timewait_max: u32,
}

impl OwnerProbe {
    /// For the agent: the owner map only.
    pub fn load() -> Result<Self, LoadError> {
        Self::load_with(None)
    }

    /// With `Some`, the state tracepoint also queues events (see [`super::EventRing`]).
    pub fn load_with(events: Option<super::ProbeOptions>) -> Result<Self, LoadError> {
        let probed = super::features::Verifier::probe();
        match Self::load_for(events, probed) {
            // The probe missed what the verifier refuses (a kernel it cannot read):
            // once more, adapted to the oldest verifier.
            Err(e)
                if probed != super::features::Verifier::OLDEST
                    && super::features::refusal_of_old_verifier(&e.describe()) =>
            {
                Self::load_for(events, super::features::Verifier::OLDEST)
            }
            r => r,
        }
    }

    fn load_for(
        events: Option<super::ProbeOptions>,
        verifier: super::features::Verifier,
    ) -> Result<Self, LoadError> {
        require_privilege("loading the socket-owner programs", super::OWNER_PROBE_CAPS)?;
        // The accept, close and send/recv hooks are classic tracepoints.
        ensure_tracefs()?;
        let (offsets, offsets_missing) = resolve_offsets().map_err(LoadError::Btf)?;
        // Without these the map has no key, or its owners no identity.
        for (name, off) in [
            ("sock_common.skc_cookie", offsets.skc_cookie),
            ("sock_common.skc_net", offsets.skc_net),
            ("net.ns.inum", offsets.net_inum),
            // Without it every owner would read as exited (PID reuse cannot be told).
            ("task_struct.start_boottime", offsets.task_start_boottime),
        ] {
            if off == OFFSET_UNKNOWN {
                return Err(LoadError::Btf(format!("BTF has no offset for {name}")));
            }
        }
        let io_order = super::attach::io_order()?;
        let mut ebpf = load_object(&offsets, events, &verifier)?;
        let cgroup_path = cgroup2_mount(&std::fs::read("/proc/mounts").unwrap_or_default())
            .ok_or(LoadError::NoCgroup2)?;
        let cgroup = std::fs::File::open(&cgroup_path).map_err(|source| LoadError::Format {
            path: cgroup_path.display().to_string(),
            source,
        })?;
        let mut attached = Vec::new();
        let prog_err = |name: &'static str| move |source| LoadError::Program { name, source };

        // Tracepoints first: once sockets are created under watch, their state changes,
        // accepts and closes must already be seen.
        // close() only matters to the agent: it marks shared sockets for a fresh /proc
        // look-up when a listing asks. The live modes take the owner from the record as
        // it is, and every close() on the system would pay for the hook.
        let close_hook = events.is_none();
        let state = super::attach_state_program(&mut ebpf, &offsets)?;
        attached.push(state.method.to_string());
        for (name, category, event) in [
            (progs::ACCEPT_EXIT, "syscalls", "sys_exit_accept"),
            (progs::ACCEPT4_EXIT, "syscalls", "sys_exit_accept4"),
            (progs::CLOSE_ENTER, "syscalls", "sys_enter_close"),
        ]
        .into_iter()
        .filter(|(name, ..)| close_hook || *name != progs::CLOSE_ENTER)
        {
            let p: &mut TracePoint = super::program_mut(&mut ebpf, name)?;
            p.load().map_err(prog_err(name))?;
            p.attach(category, event).map_err(prog_err(name))?;
            attached.push(format!("tracepoint {category}:{event}"));
        }
        let io = super::attach::send_recv(&mut ebpf, &io_order)?;
        attached.extend(io.points.iter().cloned());
        // aya attaches through bpf_link where the kernel has it (5.7+), and cgroup links
        // always coexist with other programs: the kernel refuses the MULTI flag on them.
        let mode = CgroupAttachMode::Single;
        let at = cgroup_path.display();
        {
            let p: &mut SockOps = super::program_mut(&mut ebpf, progs::SOCK_OPS)?;
            p.load().map_err(prog_err(progs::SOCK_OPS))?;
            p.attach(cgroup.as_fd(), mode)
                .map_err(prog_err(progs::SOCK_OPS))?;
            attached.push(format!("sock_ops on {at}"));
        }
        let want_flows = events.is_some_and(|e| e.emit & emit::FLOWS != 0);
        let udp_hooks: &[&'static str] = if want_flows {
            &[
                progs::SENDMSG4,
                progs::SENDMSG6,
                progs::RECVMSG4,
                progs::RECVMSG6,
            ]
        } else {
            &[]
        };
        for &name in [progs::CONNECT4, progs::CONNECT6].iter().chain(udp_hooks) {
            let p: &mut CgroupSockAddr = super::program_mut(&mut ebpf, name)?;
            p.load().map_err(prog_err(name))?;
            p.attach(cgroup.as_fd(), mode).map_err(prog_err(name))?;
            attached.push(format!("cgroup/{name} on {at}"));
        }
        // sock_create last: from here on every new socket gets a record.
        for name in [progs::SOCK_RELEASE, progs::SOCK_CREATE] {
            let p: &mut CgroupSock = super::program_mut(&mut ebpf, name)?;
            p.load().map_err(prog_err(name))?;
            p.attach(cgroup.as_fd(), mode).map_err(prog_err(name))?;
            attached.push(format!("cgroup/{name} on {at}"));
        }

        let owners =
            HashMap::try_from(take_map(&mut ebpf, MAP_OWNERS)?).map_err(map_err(MAP_OWNERS))?;
        let timewait =
            HashMap::try_from(take_map(&mut ebpf, MAP_TIMEWAIT)?).map_err(map_err(MAP_TIMEWAIT))?;
        let closed =
            HashMap::try_from(take_map(&mut ebpf, MAP_CLOSED)?).map_err(map_err(MAP_CLOSED))?;
        let unsent =
            HashMap::try_from(take_map(&mut ebpf, MAP_UNSENT)?).map_err(map_err(MAP_UNSENT))?;
        let listeners = HashMap::try_from(take_map(&mut ebpf, MAP_LISTENERS)?)
            .map_err(map_err(MAP_LISTENERS))?;
        let stats =
            PerCpuArray::try_from(take_map(&mut ebpf, MAP_STATS)?).map_err(map_err(MAP_STATS))?;
        let flows = if want_flows {
            Some(HashMap::try_from(take_map(&mut ebpf, MAP_FLOWS)?).map_err(map_err(MAP_FLOWS))?)
        } else {
            None
        };
        let events = match events {
            Some(_) => Some(super::EventRing::take(&mut ebpf)?),
            None => None,
        };
        Ok(Self {
            events,
            owners,
            timewait,
            closed,
            unsent,
            listeners,
            flows,
            stats,
            _ebpf: ebpf,
            attached,
            offsets_missing,
            state_prog_fd: state.prog_fd,
            state_method: state.method,
            raw_refused: state.raw_refused,
            io,
            adaptations: verifier.adaptations(),
        })
    }

    /// What `-v` says about how the programs went in (`who`: `agent`, `--watch`…):
    /// where each is attached, the methods the kernel refused first and why, and how
    /// the programs were adapted to an older verifier. Without `-v`, only the
    /// adaptations (they change what the agent costs and guarantees).
    pub fn describe_attach(
        &self,
        who: &str,
        verbose: bool,
        err: &mut dyn io::Write,
    ) -> io::Result<()> {
        if verbose {
            writeln!(err, "netstat: {who}: attached {}", self.attached.join(", "))?;
            for (method, why) in &self.io.refused {
                writeln!(
                    err,
                    "netstat: {who}: send/receive: {method} not used: {why}"
                )?;
            }
        }
        for a in &self.adaptations {
            writeln!(err, "netstat: {who}: for this kernel: {a}")?;
        }
        Ok(())
    }

    /// How many times the kernel skipped the state-change program, and the change went
    /// unseen. A raw tracepoint program is skipped only when it would run inside itself
    /// on one CPU (a softirq state change interrupting a process-context one); a classic
    /// tracepoint program (the fallback) whenever any other tracing program runs on the
    /// CPU, ours included. Recent kernels count both in `bpf_prog_info.recursion_misses`
    /// (classic tracepoints since 6.7); older ones read 0.
    pub fn state_misses(&self) -> u64 {
        prog_recursion_misses(self.state_prog_fd).unwrap_or(0)
    }

    /// Every record, live sockets then TIME_WAIT ones, read with `BPF_MAP_LOOKUP_BATCH`
    /// (a few syscalls for 100k records, where aya's iterator makes two per record).
    pub fn dump(&self) -> io::Result<Vec<(SockKey, SockRecord)>> {
        let mut all = self.dump_live()?;
        all.extend(self.dump_timewait()?);
        Ok(all)
    }

    /// The records of live sockets only (`OWNERS`).
    pub fn dump_live(&self) -> io::Result<Vec<(SockKey, SockRecord)>> {
        lookup_batch(self.owners.map().fd().as_fd().as_raw_fd(), MAP_OWNERS)
    }

    /// The records of connections in TIME_WAIT (`TIMEWAIT`, the agent's only).
    pub fn dump_timewait(&self) -> io::Result<Vec<(SockKey, SockRecord)>> {
        lookup_batch(self.timewait.map().fd().as_fd().as_raw_fd(), MAP_TIMEWAIT)
    }

    /// How full the two owner maps are, from records already read.
    pub fn fill(&self, live: usize, timewait: usize) -> MapFill {
        let max = |m: &HashMap<MapData, SockKey, SockRecord>| {
            m.map().info().map(|i| i.max_entries()).unwrap_or(0)
        };
        MapFill {
            owners: live,
            owners_max: max(&self.owners),
            timewait,
            timewait_max: max(&self.timewait),
        }
    }

    /// The UDP flows counted so far (empty unless loaded for `--audit`).
    pub fn dump_flows(&self) -> io::Result<Vec<(FlowKey, FlowValue)>> {
        match &self.flows {
            Some(f) => lookup_batch(f.map().fd().as_fd().as_raw_fd(), MAP_FLOWS),
            None => Ok(Vec::new()),
        }
    }

    /// Forgets a reported flow (a datagram counted meanwhile starts a new one).
    pub fn remove_flow(&mut self, key: &FlowKey) {
        if let Some(f) = &mut self.flows {
            let _ = f.remove(key);
        }
    }

    /// Takes a flow out of the map, atomically (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`, hash
    /// maps since 5.14): counts added after this start a new flow instead of vanishing
    /// with a deleted entry. `None` if it is gone already.
    pub fn take_flow(&mut self, key: &FlowKey) -> io::Result<Option<FlowValue>> {
        let Some(f) = &self.flows else {
            return Ok(None);
        };
        #[repr(C)]
        struct ElemAttr {
            map_fd: u32,
            _pad: u32,
            key: u64,
            value: u64,
            flags: u64,
        }
        const BPF_MAP_LOOKUP_AND_DELETE_ELEM: libc::c_long = 21;
        let mut value = FlowValue::default();
        let mut attr = ElemAttr {
            map_fd: f.map().fd().as_fd().as_raw_fd() as u32,
            _pad: 0,
            key: key as *const FlowKey as u64,
            value: &mut value as *mut FlowValue as u64,
            flags: 0,
        };
        // SAFETY: attr points at a key and a value buffer of the map's sizes that outlive
        // the call; the size passed is the struct's.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_AND_DELETE_ELEM,
                &mut attr as *mut ElemAttr,
                std::mem::size_of::<ElemAttr>() as u32,
            )
        };
        if rc < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::ENOENT) => Ok(None),
                _ => Err(io::Error::other(format!(
                    "{MAP_FLOWS} lookup-and-delete: {e}"
                ))),
            };
        }
        Ok(Some(value))
    }

    /// The connection records parked after a full ring.
    pub fn dump_unsent(&self) -> io::Result<Vec<(SockKey, SockRecord)>> {
        lookup_batch(self.unsent.map().fd().as_fd().as_raw_fd(), MAP_UNSENT)
    }

    /// Forgets a parked record once reported.
    pub fn remove_unsent(&mut self, key: &SockKey) {
        let _ = self.unsent.remove(key);
    }

    /// The live (or TIME_WAIT) record of a socket, if the programs still track it.
    pub fn record(&self, key: &SockKey) -> Option<SockRecord> {
        self.owners
            .get(key, 0)
            .or_else(|_| self.timewait.get(key, 0))
            .ok()
    }

    /// The last record of a socket that closed lately, if the LRU still has it.
    pub fn closed_record(&self, key: &SockKey) -> Option<SockRecord> {
        self.closed.get(key, 0).ok()
    }

    /// The records of sockets that closed lately (an LRU of them).
    pub fn dump_closed(&self) -> io::Result<Vec<(SockKey, SockRecord)>> {
        lookup_batch(self.closed.map().fd().as_fd().as_raw_fd(), MAP_CLOSED)
    }

    /// Inserts a record unless the programs already have one for that socket (they saw
    /// it live, which beats the seed). Returns whether it was inserted.
    pub fn seed(&mut self, key: SockKey, rec: &SockRecord) -> io::Result<bool> {
        match self.owners.insert(key, rec, BPF_NOEXIST) {
            Ok(()) => Ok(true),
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::EEXIST) =>
            {
                Ok(false)
            }
            Err(e) => Err(io::Error::other(format!("{MAP_OWNERS}: {e}"))),
        }
    }

    pub fn seed_listener(&mut self, key: ListenKey, owner: &Owner) -> io::Result<()> {
        match self.listeners.insert(key, owner, BPF_NOEXIST) {
            Ok(()) => Ok(()),
            Err(aya::maps::MapError::SyscallError(e))
                if e.io_error.raw_os_error() == Some(libc::EEXIST) =>
            {
                Ok(())
            }
            Err(e) => Err(io::Error::other(format!("{MAP_LISTENERS}: {e}"))),
        }
    }

    /// Replaces the owner of an existing record (absent: the socket is gone, fine).
    pub fn set_owner(&mut self, key: &SockKey, owner: Owner) {
        const BPF_EXIST: u64 = 2;
        if let Ok(mut rec) = self.owners.get(key, 0) {
            rec.owner = owner;
            rec.flags &= !netstat_common::flags::HOLDER_UNKNOWN;
            let _ = self.owners.insert(key, rec, BPF_EXIST);
        }
    }

    /// Removes a record, live or TIME_WAIT (absent is fine: the programs may have
    /// removed it first).
    pub fn remove(&mut self, key: &SockKey) {
        if self.owners.remove(key).is_err() {
            let _ = self.timewait.remove(key);
        }
    }

    pub fn stats(&self) -> io::Result<ProbeStats> {
        let slot = |i: u32| -> io::Result<u64> {
            Ok(self
                .stats
                .get(&i, 0)
                .map_err(|e| io::Error::other(format!("{MAP_STATS}: {e}")))?
                .iter()
                .sum())
        };
        debug_assert_eq!(STAT_SLOTS, 10);
        Ok(ProbeStats {
            owners_full: slot(netstat_common::STAT_OWNERS_FULL)?,
            listeners_full: slot(netstat_common::STAT_LISTENERS_FULL)?,
            read_failed: slot(netstat_common::STAT_READ_FAILED)?,
            no_cookie: slot(netstat_common::STAT_NO_COOKIE)?,
            passive: slot(netstat_common::STAT_PASSIVE)?,
            flows_full: slot(netstat_common::STAT_FLOWS_FULL)?,
            untracked_end: slot(netstat_common::STAT_UNTRACKED_END)?,
            transitions: slot(netstat_common::STAT_TRANSITIONS)?,
            timewait_full: slot(netstat_common::STAT_TIMEWAIT_FULL)?,
            owners_nomem: slot(netstat_common::STAT_OWNERS_NOMEM)?,
        })
    }
}

fn take_map(ebpf: &mut Ebpf, name: &'static str) -> Result<aya::maps::Map, LoadError> {
    ebpf.take_map(name).ok_or(LoadError::Missing(name))
}

fn map_err(name: &'static str) -> impl Fn(aya::maps::MapError) -> LoadError {
    move |source| LoadError::Map { name, source }
}

/// `bpf_prog_info.recursion_misses` of a loaded program (`BPF_OBJ_GET_INFO_BY_FD`).
fn prog_recursion_misses(fd: i32) -> Option<u64> {
    if fd < 0 {
        return None;
    }
    /// Offset of `recursion_misses` in `struct bpf_prog_info` (uapi, append-only).
    const RECURSION_MISSES: usize = 208;
    #[repr(C)]
    struct InfoAttr {
        bpf_fd: u32,
        info_len: u32,
        info: u64,
    }
    const BPF_OBJ_GET_INFO_BY_FD: libc::c_long = 15;
    let mut info = [0u64; 32];
    let mut attr = InfoAttr {
        bpf_fd: fd as u32,
        info_len: std::mem::size_of_val(&info) as u32,
        info: info.as_mut_ptr() as u64,
    };
    // SAFETY: attr points at a zeroed buffer of info_len bytes that outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            BPF_OBJ_GET_INFO_BY_FD,
            &mut attr as *mut InfoAttr,
            std::mem::size_of::<InfoAttr>() as u32,
        )
    };
    (rc == 0 && attr.info_len as usize > RECURSION_MISSES).then(|| info[RECURSION_MISSES / 8])
}

/// The cgroup v2 mount point from `/proc/mounts` text (`/sys/fs/cgroup` on unified
/// systems, `/sys/fs/cgroup/unified` on hybrid ones like these machines).
pub fn cgroup2_mount(mounts: &[u8]) -> Option<PathBuf> {
    mounts.split(|&b| b == b'\n').find_map(|line| {
        let mut f = line.split(|&b| b == b' ');
        let (_dev, dir, fstype) = (f.next()?, f.next()?, f.next()?);
        (fstype == b"cgroup2").then(|| unescape_mount(dir))
    })
}

/// `/proc/mounts` writes space, tab, newline and backslash as `\NNN` octal. A byte is at
/// most `\377`: anything above (never written by the kernel) is kept as it stands.
fn unescape_mount(s: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        let oct = s.get(i + 1..i + 4).filter(|d| {
            s[i] == b'\\' && d[0] <= b'3' && d.iter().all(|c| (b'0'..=b'7').contains(c))
        });
        match oct {
            Some(d) => {
                out.push((d[0] - b'0') * 64 + (d[1] - b'0') * 8 + (d[2] - b'0'));
                i += 4;
            }
            None => {
                out.push(s[i]);
                i += 1;
            }
        }
    }
    Path::new(std::ffi::OsStr::from_bytes(&out)).to_path_buf()
}

/// `BPF_MAP_LOOKUP_BATCH` on a (LRU) hash map of `K` → `V`.
fn lookup_batch<K: aya::Pod + Default, V: aya::Pod + Default>(
    fd: i32,
    name: &str,
) -> io::Result<Vec<(K, V)>> {
    /// `union bpf_attr`'s `batch` member (kernel 5.6+).
    #[repr(C)]
    #[derive(Default)]
    struct BatchAttr {
        in_batch: u64,
        out_batch: u64,
        keys: u64,
        values: u64,
        count: u32,
        map_fd: u32,
        elem_flags: u64,
        flags: u64,
    }
    const BPF_MAP_LOOKUP_BATCH: libc::c_long = 24;
    const CHUNK: usize = 8192;
    let mut keys = vec![K::default(); CHUNK];
    let mut values = vec![V::default(); CHUNK];
    // A hash map's batch position is a bucket number (u32); 8 bytes leave room.
    let mut token_in = [0u8; 8];
    let mut token_out = [0u8; 8];
    let mut out = Vec::new();
    let mut first = true;
    loop {
        let mut attr = BatchAttr {
            in_batch: if first { 0 } else { token_in.as_ptr() as u64 },
            out_batch: token_out.as_mut_ptr() as u64,
            keys: keys.as_mut_ptr() as u64,
            values: values.as_mut_ptr() as u64,
            count: CHUNK as u32,
            map_fd: fd as u32,
            ..BatchAttr::default()
        };
        // SAFETY: attr points at buffers of `count` keys and values that outlive the call;
        // the size passed is the size of the struct.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_bpf,
                BPF_MAP_LOOKUP_BATCH,
                &mut attr as *mut BatchAttr,
                std::mem::size_of::<BatchAttr>() as u32,
            )
        };
        let err = (rc < 0).then(io::Error::last_os_error);
        let n = (attr.count as usize).min(CHUNK);
        out.extend(keys[..n].iter().copied().zip(values[..n].iter().copied()));
        match err {
            None => {}
            Some(e) if e.raw_os_error() == Some(libc::ENOENT) => return Ok(out),
            Some(e) => return Err(io::Error::other(format!("{name} batch lookup: {e}"))),
        }
        token_in = token_out;
        first = false;
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt as _;

    use super::*;

    #[test]
    fn cgroup2_mount_is_found_on_hybrid_and_unified_layouts() {
        let hybrid = b"sysfs /sys sysfs rw 0 0\ntmpfs /sys/fs/cgroup tmpfs ro 0 0\n\
cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid 0 0\ncgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n";
        assert_eq!(
            cgroup2_mount(hybrid),
            Some(PathBuf::from("/sys/fs/cgroup/unified"))
        );
        let unified = b"cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n";
        assert_eq!(
            cgroup2_mount(unified),
            Some(PathBuf::from("/sys/fs/cgroup"))
        );
        assert_eq!(cgroup2_mount(b"cgroup /x cgroup rw 0 0\n"), None);
        assert_eq!(cgroup2_mount(b""), None);
        let spaced = b"none /mnt/my\\040cg cgroup2 rw 0 0\n";
        assert_eq!(cgroup2_mount(spaced), Some(PathBuf::from("/mnt/my cg")));
        assert_eq!(
            cgroup2_mount(b"none /a\\0 cgroup2"),
            Some(PathBuf::from("/a\\0"))
        );
    }

    /// Found by the `proc_pid` fuzz target (issue 7): `\431` is no byte; computing it
    /// overflowed a u8 (a panic with overflow checks, a wrong byte without).
    #[test]
    fn issue_7_octal_escape_above_a_byte_is_kept_literally() {
        assert_eq!(
            cgroup2_mount(b"cgroup2 /x/a\\040b\\431c cgroup2 rw 0 0\n"),
            Some(PathBuf::from("/x/a b\\431c"))
        );
        assert_eq!(
            cgroup2_mount(b"none /\\377\\400 cgroup2 rw 0 0\n"),
            Some(PathBuf::from(std::ffi::OsStr::from_bytes(b"/\xff\\400")))
        );
    }
}
