//! The eBPF source: loads the kernel programs built from `netstat-ebpf`, attaches them
//! with what the running kernel accepts, and decodes the ring buffer into events.
//!
//! Every failure says what was missing (privilege, tracefs, BTF, a layout mismatch), so
//! callers can carry on as a classic netstat and report exactly what they lack.
use std::{
    fmt, io,
    os::fd::{AsFd, AsRawFd},
    path::Path,
    time::Duration,
};

use crate::caps::{self, Cap, CapSet};
use aya::{
    Ebpf, EbpfLoader,
    maps::{MapData, PerCpuArray, RingBuf},
    programs::{RawTracePoint, TracePoint},
};
use netstat_common::{
    ConnEvent, EventFilter, GLOBAL_EMIT_EVENTS, GLOBAL_FILTER, GLOBAL_KERNEL_HAS, GLOBAL_OFFSETS,
    KernelOffsets, LOST_CONN_RING_FULL, LOST_RING_FULL, MAP_EVENTS, MAP_FLOWS, MAP_LISTENERS,
    MAP_LOST, MAP_OWNERS, MAP_TIMEWAIT, OFFSET_UNKNOWN, PROG_INET_SOCK_SET_STATE,
    PROG_INET_SOCK_SET_STATE_RAW, TcpStateEvent, emit, event_kind, inet_sock_set_state, kernel_has,
};

/// The object file built by `build.rs` (empty when built with `AYA_BUILD_SKIP=1`).
static OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/netstat-ebpf"));

const TRACEFS: &str = "/sys/kernel/tracing";
const BTF_PATH: &str = "/sys/kernel/btf/vmlinux";

/// Why the kernel side is not running.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("this binary was built without its eBPF object (AYA_BUILD_SKIP was set)")]
    NoObject,
    #[error("loading eBPF programs needs root (CAP_BPF and CAP_PERFMON); running as uid {euid}")]
    NotPrivileged { euid: u32 },
    /// Root, but without some capability the programs need (a capability-bounded service).
    #[error(
        "{what} needs {}; this process lacks {} (its effective set is {:#x})",
        caps::list(needed), caps::list(lacking), have.0
    )]
    MissingCapabilities {
        what: &'static str,
        needed: &'static [Cap],
        lacking: Vec<Cap>,
        have: CapSet,
    },
    #[error(
        "tracefs is not mounted at {TRACEFS} and mounting it failed: {source}{}",
        if source.raw_os_error() == Some(libc::EPERM) {
            " (mounting needs CAP_SYS_ADMIN: mount it before starting, as systemd's \
             sys-kernel-tracing.mount does, or `mount -t tracefs nodev /sys/kernel/tracing`)"
        } else {
            ""
        }
    )]
    NoTracefs {
        #[source]
        source: io::Error,
    },
    #[error("cannot read the tracepoint format {path}: {source}")]
    Format {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error(
        "the running kernel's sock:inet_sock_set_state record differs from the one netstat was built for: {0}"
    )]
    FormatMismatch(String),
    #[error("eBPF load failed: {0}")]
    Load(#[from] aya::EbpfError),
    #[error("eBPF program {name} failed: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("eBPF map {name} failed: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error("eBPF object has no {0}")]
    Missing(&'static str),
    #[error("eBPF object: {0}")]
    Object(String),
    /// No attach method of a hook worked on this kernel.
    #[error("no way to attach the {hook} hook on this kernel: {tried}")]
    NoMethod { hook: &'static str, tried: String },
    #[error("kernel BTF: {0}")]
    Btf(String),
    #[error("no cgroup v2 mount in /proc/mounts (the socket hooks attach to its root)")]
    NoCgroup2,
    #[error("{name}={value:?}: {why}")]
    Setting {
        name: &'static str,
        value: String,
        why: &'static str,
    },
}

/// The agent's setting: how many TIME_WAIT records it keeps (netstat-common's
/// `MAP_TIMEWAIT`, preallocated at about 232 bytes each; default
/// [`netstat_common::TIMEWAIT_MAX`]).
pub const TIMEWAIT_RECORDS_ENV: &str = "NETSTAT_AGENT_TIMEWAIT_RECORDS";
/// For tests only: the owner map's capacity instead of [`netstat_common::OWNERS_MAX`], so
/// a test can fill it with a few hundred real connections.
pub const TEST_OWNERS_MAX_ENV: &str = "NETSTAT_TEST_OWNERS_MAX";

/// A map capacity from the environment: `None` when unset.
fn capacity_setting(name: &'static str, max: u32) -> Result<Option<u32>, LoadError> {
    let Some(raw) = std::env::var_os(name) else {
        return Ok(None);
    };
    let value = raw.to_string_lossy().into_owned();
    match value.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ => Err(LoadError::Setting {
            name,
            value,
            why: "expected a number of entries from 1 to 16777216",
        }),
    }
}

impl LoadError {
    /// The message with every underlying cause not already in it: aya's errors keep the
    /// kernel's answer (`Operation not permitted`, the errno) in their source chain.
    pub fn describe(&self) -> String {
        with_causes(self)
    }
}

/// `err`'s message with every underlying cause not already in it.
pub(crate) fn with_causes(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// Struct offsets from the running kernel's BTF, so the programs never rely on a layout
/// frozen at build time (aya emits no CO-RE relocations for Rust programs). The second
/// value names every offset that could not be found; the programs do without those.
pub fn resolve_offsets() -> Result<(KernelOffsets, Vec<String>), String> {
    let btf = btf_rs::Btf::from_file(BTF_PATH).map_err(|e| format!("{BTF_PATH}: {e}"))?;
    let sk_protocol = match member_field(&btf, "sock", "sk_protocol") {
        Ok((off, None)) => Ok(off),
        // Before 5.6 a bitfield: no plain load reads it.
        Ok((_, Some(bits))) => Err(format!("BTF: sock.sk_protocol is a {bits}-bit bitfield")),
        Err(e) => Err(e),
    };
    let mut missing = Vec::new();
    let mut get = |st: &str, member: &str| match member_offset(&btf, st, member) {
        Ok(o) => o,
        Err(e) => {
            missing.push(e);
            OFFSET_UNKNOWN
        }
    };
    let add = |a: u32, b: u32| {
        if a == OFFSET_UNKNOWN || b == OFFSET_UNKNOWN {
            OFFSET_UNKNOWN
        } else {
            a + b
        }
    };
    let net_ns = get("net", "ns");
    let ns_inum = get("ns_common", "inum");
    let socket_in_alloc = get("socket_alloc", "socket");
    let inode_in_alloc = get("socket_alloc", "vfs_inode");
    let mut o = KernelOffsets {
        skc_net: get("sock_common", "skc_net"),
        net_inum: add(net_ns, ns_inum),
        skc_cookie: get("sock_common", "skc_cookie"),
        sk_socket: get("sock", "sk_socket"),
        socket_sk: get("socket", "sk"),
        socket_to_inode: match (socket_in_alloc, inode_in_alloc) {
            (s, i) if s != OFFSET_UNKNOWN && i != OFFSET_UNKNOWN && i >= s => i - s,
            _ => OFFSET_UNKNOWN,
        },
        inode_ino: get("inode", "i_ino"),
        inode_mode: get("inode", "i_mode"),
        task_group_leader: get("task_struct", "group_leader"),
        task_comm: get("task_struct", "comm"),
        task_start_boottime: get("task_struct", "start_boottime"),
        task_files: get("task_struct", "files"),
        task_flags: get("task_struct", "flags"),
        files_fdt: get("files_struct", "fdt"),
        fdt_fd: get("fdtable", "fd"),
        fdt_max_fds: get("fdtable", "max_fds"),
        file_private_data: get("file", "private_data"),
        file_inode: get("file", "f_inode"),
        file_count: OFFSET_UNKNOWN,
        file_count_zero_based: 0,
        sk_err: get("sock", "sk_err"),
        skc_num: get("sock_common", "skc_num"),
        skc_dport: get("sock_common", "skc_dport"),
        skc_rcv_saddr: get("sock_common", "skc_rcv_saddr"),
        skc_daddr: get("sock_common", "skc_daddr"),
        skc_v6_rcv_saddr: get("sock_common", "skc_v6_rcv_saddr"),
        skc_v6_daddr: get("sock_common", "skc_v6_daddr"),
        tcp_segs_out: get("tcp_sock", "segs_out"),
        tcp_segs_in: get("tcp_sock", "segs_in"),
        skc_family: get("sock_common", "skc_family"),
        sk_protocol: *sk_protocol.as_ref().unwrap_or(&OFFSET_UNKNOWN),
        // `struct inet_sock` starts with its `struct sock`: offsets from `sk` itself.
        inet_sport: get("inet_sock", "inet_sport"),
        inet_saddr: get("inet_sock", "inet_saddr"),
    };
    // 6.13 replaced `atomic_long_t f_count` with `file_ref_t f_ref`, which reads 0 for
    // one reference.
    match member_offset(&btf, "file", "f_ref") {
        Ok(off) => {
            o.file_count = off;
            o.file_count_zero_based = 1;
        }
        Err(_) => o.file_count = get("file", "f_count"),
    }
    if let Err(e) = sk_protocol {
        missing.push(e);
    }
    Ok((o, missing))
}

/// Byte offset of `member` in `struct name`, looking through anonymous structs and
/// unions as the C compiler does.
fn member_offset(btf: &btf_rs::Btf, name: &str, member: &str) -> Result<u32, String> {
    member_field(btf, name, member).map(|(off, _)| off)
}

/// [`member_offset`] and the member's bitfield size, if it is one.
fn member_field(btf: &btf_rs::Btf, name: &str, member: &str) -> Result<(u32, Option<u32>), String> {
    use btf_rs::Type;
    let types = btf
        .resolve_types_by_name(name)
        .map_err(|e| format!("BTF has no struct {name}: {e}"))?;
    let st = types
        .into_iter()
        .find_map(|t| match t {
            Type::Struct(s) => Some(s),
            _ => None,
        })
        .ok_or_else(|| format!("BTF has no struct {name}"))?;
    find_member(btf, &st, member, 0)
        .ok_or_else(|| format!("BTF struct {name} has no member {member}"))
}

fn find_member(
    btf: &btf_rs::Btf,
    st: &btf_rs::Struct,
    want: &str,
    base: u32,
) -> Option<(u32, Option<u32>)> {
    use btf_rs::Type;
    for m in &st.members {
        let off = base + m.bit_offset() / 8;
        let name = btf.resolve_name(m).unwrap_or_default();
        if name == want {
            return Some((off, m.bitfield_size().filter(|&bits| bits != 0)));
        }
        if name.is_empty() {
            // Anonymous struct/union: search inside it.
            let mut ty = btf.resolve_chained_type(m).ok()?;
            loop {
                match ty {
                    Type::Struct(ref s) | Type::Union(ref s) => {
                        if let Some(o) = find_member(btf, s, want, off) {
                            return Some(o);
                        }
                        break;
                    }
                    Type::Typedef(ref t) => ty = btf.resolve_chained_type(t).ok()?,
                    Type::Volatile(ref t) | Type::Const(ref t) => {
                        ty = btf.resolve_chained_type(t).ok()?;
                    }
                    _ => break,
                }
            }
        }
    }
    None
}

/// Checks the running kernel's tracepoint format against the layout in netstat-common.
pub fn check_format(format: &str) -> Result<(), String> {
    for (field, offset, size) in inet_sock_set_state::FIELDS {
        let line = format
            .lines()
            .find(|l| {
                l.split(';').next().is_some_and(|decl| {
                    let decl = decl.trim();
                    decl.ends_with(&format!(" {field}"))
                        || decl.contains(&format!(" {field}["))
                        || decl.ends_with(&format!("*{field}"))
                })
            })
            .ok_or_else(|| format!("field {field} is missing"))?;
        let get = |key: &str| -> Option<usize> {
            line.split(';')
                .find_map(|p| p.trim().strip_prefix(key))
                .and_then(|v| v.parse().ok())
        };
        if get("offset:") != Some(offset) || get("size:") != Some(size) {
            return Err(format!(
                "field {field}: expected offset {offset} size {size}, kernel has `{}`",
                line.trim()
            ));
        }
    }
    Ok(())
}

/// One ring-buffer record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// A TCP state change (`--watch`).
    State(TcpStateEvent),
    /// A TCP connection that ended (`--audit`).
    Conn(ConnEvent),
}

/// Decodes one ring-buffer record by its leading kind. Pure: tested with bytes built
/// from the shared types.
pub fn decode(bytes: &[u8]) -> Result<Event, DecodeError> {
    let kind = bytes
        .get(..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    match kind {
        Some(event_kind::STATE) => read_record(bytes, kind).map(Event::State),
        Some(event_kind::CONN) => read_record(bytes, kind).map(Event::Conn),
        _ => Err(DecodeError {
            len: bytes.len(),
            kind,
        }),
    }
}

/// A `T` from the front of `bytes`.
fn read_record<T: aya::Pod>(bytes: &[u8], kind: Option<u32>) -> Result<T, DecodeError> {
    if bytes.len() < std::mem::size_of::<T>() {
        return Err(DecodeError {
            len: bytes.len(),
            kind,
        });
    }
    // SAFETY: T is Pod (repr(C), Copy, valid for any bit pattern); the length is checked
    // above and read_unaligned copes with any alignment.
    Ok(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("undecodable eBPF event: {len} bytes, kind {kind:?}")]
pub struct DecodeError {
    pub len: usize,
    /// The leading kind (unknown, or known with the record too short); `None` when
    /// the record is shorter than the kind itself.
    pub kind: Option<u32>,
}

/// Events that never reached the user side, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// The ring buffer had no room for a state change.
    pub ring_full: u64,
    /// The ring buffer had no room for a connection record (reported later from the
    /// owner map, marked incomplete).
    pub conn_ring_full: u64,
}

/// How the state-change source is attached (shown with `-v`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachMethod {
    /// `raw_tracepoint/inet_sock_set_state` (preferred).
    RawTracepoint,
    /// The classic `sock:inet_sock_set_state` tracepoint (needs tracefs).
    Tracepoint,
}

impl fmt::Display for AttachMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RawTracepoint => f.write_str("raw tracepoint inet_sock_set_state"),
            Self::Tracepoint => f.write_str("tracepoint sock:inet_sock_set_state"),
        }
    }
}

/// The state-change program as attached.
pub(crate) struct StateAttach {
    pub method: AttachMethod,
    /// The program's fd (its `recursion_misses` are the changes it did not see).
    pub prog_fd: i32,
    /// Why the raw tracepoint was not used, when it was not.
    pub raw_refused: Option<String>,
}

/// Test-only: attach the classic tracepoint even where the raw one works, so the tests
/// run the fallback path on this kernel too.
const FORCE_TRACEPOINT_ENV: &str = "NETSTAT_TEST_STATE_TRACEPOINT";

/// Loads and attaches the state-change program: as a raw tracepoint where the kernel
/// takes one and its BTF names every `struct sock` field that program reads, else as the
/// classic tracepoint (whose record layout [`check_tracefs`] checks first).
pub(crate) fn attach_state_program(
    ebpf: &mut Ebpf,
    offsets: &KernelOffsets,
) -> Result<StateAttach, LoadError> {
    let prog_err = |name: &'static str| move |source| LoadError::Program { name, source };
    let raw_refused = if std::env::var_os(FORCE_TRACEPOINT_ENV).is_some() {
        format!("{FORCE_TRACEPOINT_ENV} is set")
    } else if let Some(field) = raw_state_fields(offsets)
        .into_iter()
        .find_map(|(name, off)| (off == OFFSET_UNKNOWN).then_some(name))
    {
        format!("the kernel's BTF has no usable {field}")
    } else {
        let name = PROG_INET_SOCK_SET_STATE_RAW;
        let attached = program_mut::<RawTracePoint>(ebpf, name).and_then(|p| {
            p.load().map_err(prog_err(name))?;
            p.attach("inet_sock_set_state").map_err(prog_err(name))?;
            Ok(p.fd().map_err(prog_err(name))?.as_fd().as_raw_fd())
        });
        match attached {
            Ok(prog_fd) => {
                return Ok(StateAttach {
                    method: AttachMethod::RawTracepoint,
                    prog_fd,
                    raw_refused: None,
                });
            }
            Err(e) => e.to_string(),
        }
    };
    check_tracefs()?;
    let name = PROG_INET_SOCK_SET_STATE;
    let p = program_mut::<TracePoint>(ebpf, name)?;
    p.load().map_err(prog_err(name))?;
    p.attach("sock", "inet_sock_set_state")
        .map_err(prog_err(name))?;
    Ok(StateAttach {
        method: AttachMethod::Tracepoint,
        prog_fd: p.fd().map_err(prog_err(name))?.as_fd().as_raw_fd(),
        raw_refused: Some(raw_refused),
    })
}

/// The `struct sock` fields the raw state-change program reads.
fn raw_state_fields(o: &KernelOffsets) -> [(&'static str, u32); 8] {
    [
        ("sock.sk_protocol", o.sk_protocol),
        ("sock_common.skc_family", o.skc_family),
        ("inet_sock.inet_sport", o.inet_sport),
        ("sock_common.skc_dport", o.skc_dport),
        ("inet_sock.inet_saddr", o.inet_saddr),
        ("sock_common.skc_daddr", o.skc_daddr),
        ("sock_common.skc_v6_rcv_saddr", o.skc_v6_rcv_saddr),
        ("sock_common.skc_v6_daddr", o.skc_v6_daddr),
    ]
}

/// A program of the object, as its type.
pub(crate) fn program_mut<'a, P>(
    ebpf: &'a mut Ebpf,
    name: &'static str,
) -> Result<&'a mut P, LoadError>
where
    &'a mut P: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    ebpf.program_mut(name)
        .ok_or(LoadError::Missing(name))?
        .try_into()
        .map_err(|source| LoadError::Program { name, source })
}

/// What the programs queue on the ring, and how big it is.
#[derive(Clone, Copy, Debug)]
pub struct ProbeOptions {
    /// Ring buffer size in bytes (power of two, page multiple); `None` for the default.
    pub ring_bytes: Option<u32>,
    /// netstat-common's `emit` bits.
    pub emit: u32,
    /// Applied in the kernel before anything is queued.
    pub filter: EventFilter,
}

impl Default for ProbeOptions {
    /// Every state change, unfiltered, in a ring of the default size.
    fn default() -> Self {
        Self {
            ring_bytes: None,
            emit: emit::STATES,
            filter: EventFilter::default(),
        }
    }
}

impl ProbeOptions {
    /// Only the state changes of one network namespace (its inode).
    pub fn netns(mut self, inode: u32) -> Self {
        self.filter.netns = inode;
        self
    }
}

/// The ring buffer of state-change events and the kernel's loss counters.
pub struct EventRing {
    ring: RingBuf<MapData>,
    lost: PerCpuArray<MapData, u64>,
}

impl EventRing {
    /// Takes the two maps out of a loaded object.
    pub(crate) fn take(ebpf: &mut Ebpf) -> Result<Self, LoadError> {
        let ring = RingBuf::try_from(
            ebpf.take_map(MAP_EVENTS)
                .ok_or(LoadError::Missing(MAP_EVENTS))?,
        )
        .map_err(|source| LoadError::Map {
            name: MAP_EVENTS,
            source,
        })?;
        let lost = PerCpuArray::try_from(
            ebpf.take_map(MAP_LOST)
                .ok_or(LoadError::Missing(MAP_LOST))?,
        )
        .map_err(|source| LoadError::Map {
            name: MAP_LOST,
            source,
        })?;
        Ok(Self { ring, lost })
    }

    /// Waits up to `timeout` for events and returns those queued. Records that do not
    /// decode are counted in the second value, never silently skipped.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<(Vec<Event>, u64)> {
        let mut pfd = libc::pollfd {
            fd: self.ring.as_fd().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e);
            }
        }
        let mut events = Vec::new();
        let mut undecodable = 0;
        while let Some(item) = self.ring.next() {
            match decode(&item) {
                Ok(ev) => events.push(ev),
                Err(_) => undecodable += 1,
            }
        }
        Ok((events, undecodable))
    }

    /// Events the kernel side dropped, summed over CPUs.
    pub fn lost(&self) -> io::Result<Lost> {
        let slot = |i: u32| -> io::Result<u64> {
            let v = self
                .lost
                .get(&i, 0)
                .map_err(|e| io::Error::other(format!("reading the {MAP_LOST} map: {e}")))?;
            Ok(v.iter().sum())
        };
        Ok(Lost {
            ring_full: slot(LOST_RING_FULL)?,
            conn_ring_full: slot(LOST_CONN_RING_FULL)?,
        })
    }
}

/// The state-change tracepoint alone (no owner map): every TCP transition, with the
/// network namespace but without owners.
pub struct StateProbe {
    events: EventRing,
    // Holds the attached program.
    _ebpf: Ebpf,
    pub method: AttachMethod,
    /// The offsets, when the ones the netns tag needs were found.
    pub offsets: Option<KernelOffsets>,
    /// Why `offsets` is None, if it is.
    pub offsets_error: Option<String>,
}

impl StateProbe {
    pub fn load(opts: ProbeOptions) -> Result<Self, LoadError> {
        require_privilege("loading the state-change tracepoint", STATE_PROBE_CAPS)?;
        let (all, offsets, offsets_error) = match resolve_offsets() {
            Ok((o, _)) if o.skc_net != OFFSET_UNKNOWN && o.net_inum != OFFSET_UNKNOWN => {
                (o, Some(o), None)
            }
            Ok((o, missing)) => (o, None, Some(missing.join("; "))),
            Err(e) => (KernelOffsets::UNKNOWN, None, Some(e)),
        };
        let mut ebpf = load_object(&all, Some(opts), &features::Verifier::probe())?;
        let state = attach_state_program(&mut ebpf, &all)?;
        Ok(Self {
            events: EventRing::take(&mut ebpf)?,
            _ebpf: ebpf,
            method: state.method,
            offsets,
            offsets_error,
        })
    }

    /// See [`EventRing::poll`] (this probe queues state changes only).
    pub fn poll(&mut self, timeout: Duration) -> io::Result<(Vec<TcpStateEvent>, u64)> {
        let (events, mut undecodable) = self.events.poll(timeout)?;
        let mut states = Vec::with_capacity(events.len());
        for e in events {
            match e {
                Event::State(s) => states.push(s),
                Event::Conn(_) => undecodable += 1,
            }
        }
        Ok((states, undecodable))
    }

    /// See [`EventRing::lost`].
    pub fn lost(&self) -> io::Result<Lost> {
        self.events.lost()
    }
}

/// Benchmark only: set, every program returns at once (see `emit::HOOKS_ONLY`).
pub const HOOKS_ONLY_ENV: &str = "NETSTAT_BENCH_HOOKS_ONLY";

/// Whether [`HOOKS_ONLY_ENV`] is set.
pub fn hooks_only() -> bool {
    std::env::var_os(HOOKS_ONLY_ENV).is_some()
}

/// Loads the object with its load-time globals set. Programs are loaded one by one by
/// the caller (a `--watch` needs one, the agent all of them).
pub(crate) fn load_object(
    offsets: &KernelOffsets,
    events: Option<ProbeOptions>,
    verifier: &features::Verifier,
) -> Result<Ebpf, LoadError> {
    let emit = events.map_or(0, |e| e.emit) | if hooks_only() { emit::HOOKS_ONLY } else { 0 };
    let filter = events.map(|e| e.filter).unwrap_or_default();
    let has = if verifier.atomic_bitops {
        kernel_has::ATOMIC_BITOPS
    } else {
        0
    };
    let mut loader = EbpfLoader::new();
    loader
        .override_global(GLOBAL_OFFSETS, offsets, true)
        .override_global(GLOBAL_EMIT_EVENTS, &emit, true)
        .override_global(GLOBAL_FILTER, &filter, true)
        .override_global(GLOBAL_KERNEL_HAS, &has, true);
    match events {
        Some(ProbeOptions {
            ring_bytes: Some(bytes),
            ..
        }) => {
            loader.map_max_entries(MAP_EVENTS, bytes);
        }
        Some(_) => {}
        // The agent queues nothing: one page instead of the stream's default.
        None => {
            loader.map_max_entries(MAP_EVENTS, 4096);
        }
    }
    const SETTING_MAX: u32 = 1 << 24;
    // The live modes keep no timewait records: one entry instead of megabytes
    // preallocated for nothing.
    let timewait = match events {
        Some(_) => Some(1),
        None => capacity_setting(TIMEWAIT_RECORDS_ENV, SETTING_MAX)?,
    };
    if let Some(n) = timewait {
        loader.map_max_entries(MAP_TIMEWAIT, n);
    }
    if let Some(n) = capacity_setting(TEST_OWNERS_MAX_ENV, SETTING_MAX)? {
        loader.map_max_entries(MAP_OWNERS, n);
    }
    if verifier.runtime_alloc_maps {
        return Ok(loader.load(OBJECT)?);
    }
    let object =
        object_file::preallocated(OBJECT, RUNTIME_ALLOC_MAPS).map_err(LoadError::Object)?;
    Ok(loader.load(&object)?)
}

/// The object's hash maps built with `BPF_F_NO_PREALLOC`, which kernels before 6.1
/// refuse in tracing programs: preallocated there (their memory is then taken at load,
/// whether used or not: see the README's "Kernels").
const RUNTIME_ALLOC_MAPS: &[&str] = &[MAP_OWNERS, MAP_LISTENERS, MAP_FLOWS];

/// What the state-change tracepoint alone needs (`--watch`): maps, a tracepoint program
/// and its kernel reads.
pub(crate) const STATE_PROBE_CAPS: &[Cap] = &[Cap::Bpf, Cap::Perfmon];
/// What the owner programs need besides: cgroup and sock_ops programs are "net admin"
/// program types to the kernel.
pub(crate) const OWNER_PROBE_CAPS: &[Cap] = &[Cap::Bpf, Cap::Perfmon, Cap::NetAdmin];

/// Root is needed to load programs; says so with the uid otherwise. Root without one of
/// `needed` (a service whose capability bounding set leaves it out) is told which one,
/// before the kernel answers a bare EPERM somewhere in the load.
pub(crate) fn require_privilege(
    what: &'static str,
    needed: &'static [Cap],
) -> Result<(), LoadError> {
    if OBJECT.is_empty() {
        return Err(LoadError::NoObject);
    }
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(LoadError::NotPrivileged { euid });
    }
    // Unknown (no /proc): let the kernel decide.
    if let Some(have) = CapSet::current() {
        let lacking = have.lacking(needed);
        if !lacking.is_empty() {
            return Err(LoadError::MissingCapabilities {
                what,
                needed,
                lacking,
                have,
            });
        }
    }
    Ok(())
}

/// Mounts tracefs if needed and checks the state tracepoint's record layout.
pub(crate) fn check_tracefs() -> Result<(), LoadError> {
    let format_path = format!("{TRACEFS}/events/sock/inet_sock_set_state/format");
    ensure_tracefs()?;
    let format = std::fs::read_to_string(&format_path).map_err(|source| LoadError::Format {
        path: format_path.clone(),
        source,
    })?;
    check_format(&format).map_err(LoadError::FormatMismatch)
}

/// Mounts tracefs if it is not (aya attaches classic tracepoints through it).
pub(crate) fn ensure_tracefs() -> Result<(), LoadError> {
    if !tracefs_mounted() {
        mount_tracefs().map_err(|source| LoadError::NoTracefs { source })?;
    }
    Ok(())
}

fn tracefs_mounted() -> bool {
    Path::new(TRACEFS).join("events").is_dir()
}

/// Mounts tracefs where aya looks for it (CAP_SYS_ADMIN; also what `cargo xtask setup`
/// does). Inside `ip netns exec`, which gives the command a fresh /sys, this mounts it in
/// that private mount namespace only.
fn mount_tracefs() -> io::Result<()> {
    // SAFETY: NUL-terminated literals; no data argument.
    let rc = unsafe {
        libc::mount(
            c"nodev".as_ptr(),
            c"/sys/kernel/tracing".as_ptr(),
            c"tracefs".as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if !tracefs_mounted() {
        return Err(io::Error::other(format!(
            "mounted, but {TRACEFS}/events is not there"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMAT: &str = "name: inet_sock_set_state
ID: 2287
format:
	field:unsigned short common_type;	offset:0;	size:2;	signed:0;
	field:const void * skaddr;	offset:8;	size:8;	signed:0;
	field:int oldstate;	offset:16;	size:4;	signed:1;
	field:int newstate;	offset:20;	size:4;	signed:1;
	field:__u16 sport;	offset:24;	size:2;	signed:0;
	field:__u16 dport;	offset:26;	size:2;	signed:0;
	field:__u16 family;	offset:28;	size:2;	signed:0;
	field:__u16 protocol;	offset:30;	size:2;	signed:0;
	field:__u8 saddr[4];	offset:32;	size:4;	signed:0;
	field:__u8 daddr[4];	offset:36;	size:4;	signed:0;
	field:__u8 saddr_v6[16];	offset:40;	size:16;	signed:0;
	field:__u8 daddr_v6[16];	offset:56;	size:16;	signed:0;
";

    #[test]
    fn described_load_errors_name_each_cause_once() {
        let e = LoadError::NoTracefs {
            source: io::Error::from_raw_os_error(libc::EPERM),
        };
        assert_eq!(e.describe(), e.to_string());
        let e = LoadError::Btf("x".into());
        assert_eq!(e.describe(), "kernel BTF: x");
    }

    #[test]
    fn format_of_kernel_4_16_and_later_is_accepted() {
        check_format(FORMAT).expect("layout matches");
    }

    #[test]
    fn moved_field_is_refused_with_its_name() {
        let moved = FORMAT.replace("sport;\toffset:24", "sport;\toffset:26");
        let err = check_format(&moved).unwrap_err();
        assert!(err.contains("sport"), "{err}");
        let missing = FORMAT.replace("daddr_v6[16]", "other[16]");
        assert!(check_format(&missing).unwrap_err().contains("daddr_v6"));
    }

    fn bytes_of<T>(v: &T) -> Vec<u8> {
        // SAFETY: viewing a repr(C) Copy value as its bytes.
        unsafe {
            std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>())
        }
        .to_vec()
    }

    #[test]
    fn ring_records_decode_from_shared_type_bytes() {
        let ev = TcpStateEvent {
            kind: event_kind::STATE,
            ts_ns: 42,
            skaddr: 0xffff_8880_0000_1000,
            netns: 4026531840,
            current_tgid: 7,
            family: netstat_common::AF_INET,
            protocol: netstat_common::IPPROTO_TCP,
            sport: 8080,
            dport: 40000,
            oldstate: 2,
            newstate: 1,
            saddr: [127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            daddr: [127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            cookie: 99,
            prev_ns: 5,
            ..TcpStateEvent::default()
        };
        let bytes = bytes_of(&ev);
        // Unaligned input decodes too.
        let mut shifted = vec![0u8; 1];
        shifted.extend_from_slice(&bytes);
        assert_eq!(decode(&shifted[1..]), Ok(Event::State(ev)));
        assert_eq!(
            decode(&bytes[..10]),
            Err(DecodeError {
                len: 10,
                kind: Some(event_kind::STATE)
            })
        );
        let conn = ConnEvent {
            kind: event_kind::CONN,
            cookie: 7,
            sk_err: 111,
            ..ConnEvent::default()
        };
        assert_eq!(decode(&bytes_of(&conn)), Ok(Event::Conn(conn)));
    }

    #[test]
    fn unknown_or_missing_kinds_are_errors_not_guesses() {
        let mut bytes = bytes_of(&TcpStateEvent::default());
        bytes[0] = 9;
        assert_eq!(
            decode(&bytes),
            Err(DecodeError {
                len: 160,
                kind: Some(9)
            })
        );
        assert_eq!(decode(&[]), Err(DecodeError { len: 0, kind: None }));
    }
}

pub mod attach;
pub mod features;
mod object_file;
pub mod owners;
