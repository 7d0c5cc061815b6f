//! Building blocks for seeding the agent's socket-owner map with the sockets that existed
//! before it started (the eBPF programs only see sockets created or changed afterwards).
//!
//! The owner map is keyed by (network-namespace inode, socket cookie). Cookies come only from
//! sock_diag, and a sock_diag socket lists only the namespace it was created in, so every
//! network namespace on the host is dumped from a thread that first `setns`-es into it
//! ([`dump_netns`], [`dump_all`]). The caller joins those rows by inode with
//! [`ProgramMap`](crate::source::procfd::ProgramMap) (who holds the socket) and fills the
//! owner from [`proc_facts`].
//!
//! Only threads this module starts ever change namespace: the caller's thread never does, and
//! a thread that did is never handed back to anyone (it ends when its dump ends).
use std::collections::HashMap;
use std::ffi::CStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::model::{Family, InetProto, InetSocket};
use crate::source::netlink::{DumpRequest, NetlinkError, dump};

/// One network namespace, by its inode number and a file that refers to it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NetnsHandle {
    /// The namespace's inode number (`net:[N]` in `readlink /proc/PID/ns/net`, the kernel's
    /// `net->ns.inum`): the first half of the owner map's key.
    pub inum: u32,
    /// A file that refers to it: a bind mount under `run/netns` when there is one (it outlives
    /// any process), else some `proc/PID/ns/net`.
    pub path: PathBuf,
}

impl fmt::Display for NetnsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net:[{}] ({})", self.inum, self.path.display())
    }
}

/// Why one namespace could not be dumped. Every variant names the namespace.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("netns {ns}: cannot open it: {source}")]
    Open { ns: NetnsHandle, source: io::Error },
    /// The file now refers to another namespace: the process it was found through exited
    /// (and its PID may have been reused) between [`network_namespaces`] and the dump.
    #[error("netns {ns}: the file now refers to namespace inode {found}")]
    Replaced { ns: NetnsHandle, found: u64 },
    #[error("netns {ns}: setns(CLONE_NEWNET) failed: {source}{}",
        if source.raw_os_error() == Some(libc::EPERM) { " (it needs CAP_SYS_ADMIN)" } else { "" })]
    Setns { ns: NetnsHandle, source: io::Error },
    #[error("netns {ns}: dumping {proto:?}/{family:?} sockets failed: {source}")]
    Dump {
        ns: NetnsHandle,
        proto: InetProto,
        family: Family,
        source: NetlinkError,
    },
    /// The dump thread could not be started, or panicked.
    #[error("netns {ns}: dump thread: {what}")]
    Thread { ns: NetnsHandle, what: String },
}

impl SeedError {
    /// The namespace this error is about.
    pub fn ns(&self) -> &NetnsHandle {
        match self {
            SeedError::Open { ns, .. }
            | SeedError::Replaced { ns, .. }
            | SeedError::Setns { ns, .. }
            | SeedError::Dump { ns, .. }
            | SeedError::Thread { ns, .. } => ns,
        }
    }

    /// True when setns was refused for want of CAP_SYS_ADMIN (the agent runs with a
    /// bounded capability set): every other namespace fails the same way.
    pub fn is_not_permitted(&self) -> bool {
        matches!(self, SeedError::Setns { source, .. } if source.raw_os_error() == Some(libc::EPERM))
    }

    /// True when the namespace was only reachable through a process that exited since it
    /// was found (its `/proc/PID` is gone or now belongs to another namespace). Normal churn:
    /// a namespace with no process and no bind mount left has no sockets left to seed either,
    /// and one that is still alive through another process is missed only for this seed.
    pub fn is_vanished(&self) -> bool {
        match self {
            SeedError::Replaced { .. } => true,
            SeedError::Open { source, .. } => {
                matches!(source.raw_os_error(), Some(libc::ENOENT | libc::ESRCH))
            }
            _ => false,
        }
    }
}

/// Every distinct network namespace reachable from `<root>/proc/[0-9]*/ns/net` and from the
/// bind mounts in `<root>/run/netns/*` and `<root>/var/run/netns/*` (`ip netns add` makes
/// namespaces that no process is in). `root` is normally `/`.
///
/// Only `stat` per entry (it follows the magic link, and `st_ino` of an nsfs file is the
/// namespace's inode number), so thousands of processes cost a few milliseconds. Entries that
/// vanish or cannot be read are skipped. A namespace found both ways is reported with its bind
/// mount path, which outlives processes. Sorted by inode number.
///
/// A file under `run/netns` that is not on the same filesystem (device) as the `proc` entries,
/// e.g. one left behind by a crashed `ip netns add`, is not a namespace and is skipped.
///
/// Not found: namespaces kept alive only by an open fd or a bind mount elsewhere, and those
/// that only a non-leader thread is in (`/proc/PID/ns/net` shows the thread-group leader's).
pub fn network_namespaces(root: &Path) -> Vec<NetnsHandle> {
    let mut found: HashMap<u32, PathBuf> = HashMap::new();
    let mut nsfs_dev: Option<u64> = None;

    let proc_dir = root.join("proc");
    if let Ok(entries) = std::fs::read_dir(&proc_dir) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            if !is_pid_name(name.as_encoded_bytes()) {
                continue;
            }
            let path = proc_dir.join(&name).join("ns/net");
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            let Ok(inum) = u32::try_from(meta.ino()) else {
                continue;
            };
            nsfs_dev.get_or_insert(meta.dev());
            found.entry(inum).or_insert(path);
        }
    }

    for dir in ["run/netns", "var/run/netns"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue;
            };
            if nsfs_dev.is_some_and(|dev| dev != meta.dev()) {
                continue;
            }
            let Ok(inum) = u32::try_from(meta.ino()) else {
                continue;
            };
            // /var/run is usually a symlink to /run: keep the first bind mount seen.
            if !bind_mount_known(&found, inum, root) {
                found.insert(inum, path);
            }
        }
    }

    let mut out: Vec<NetnsHandle> = found
        .into_iter()
        .map(|(inum, path)| NetnsHandle { inum, path })
        .collect();
    out.sort_by_key(|h| h.inum);
    out
}

/// Whether `inum` already has a path under `<root>/run/netns` or `<root>/var/run/netns`.
fn bind_mount_known(found: &HashMap<u32, PathBuf>, inum: u32, root: &Path) -> bool {
    found.get(&inum).is_some_and(|p| {
        p.starts_with(root.join("run/netns")) || p.starts_with(root.join("var/run/netns"))
    })
}

/// `/proc` entries that are processes: all-digit names.
fn is_pid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(u8::is_ascii_digit)
}

/// The tables sock_diag serves here (raw_diag is not built on this project's kernels, and the
/// owner map is about tcp/udp anyway).
pub const SEED_TABLES: [(InetProto, Family); 6] = [
    (InetProto::Tcp, Family::Inet),
    (InetProto::Tcp, Family::Inet6),
    (InetProto::Udp, Family::Inet),
    (InetProto::Udp, Family::Inet6),
    (InetProto::UdpLite, Family::Inet),
    (InetProto::UdpLite, Family::Inet6),
];

/// Dumps tcp, udp and udp-lite sockets, IPv4 and IPv6, of namespace `ns`, from a new thread
/// that enters it (the calling thread's namespace never changes). Rows come table by table
/// in [`SEED_TABLES`] order, each in kernel order; rows with inode 0 (TIME_WAIT, orphans)
/// are included, the caller skips them. A table whose diag module is missing is skipped.
pub fn dump_netns(ns: &NetnsHandle) -> Result<Vec<InetSocket>, SeedError> {
    let owned = ns.clone();
    let spawned = std::thread::Builder::new()
        .name("netns-seed".into())
        .spawn(move || dump_here(&owned));
    match spawned {
        Ok(handle) => handle.join().unwrap_or_else(|_| {
            Err(SeedError::Thread {
                ns: ns.clone(),
                what: "panicked".into(),
            })
        }),
        Err(e) => Err(SeedError::Thread {
            ns: ns.clone(),
            what: format!("cannot start: {e}"),
        }),
    }
}

/// Enters `ns` on the CURRENT thread and dumps it. Only for threads that are thrown away
/// afterwards: the thread stays in `ns` (or in whatever namespace it was in if setns failed).
fn dump_here(ns: &NetnsHandle) -> Result<Vec<InetSocket>, SeedError> {
    let file = File::open(&ns.path).map_err(|source| SeedError::Open {
        ns: ns.clone(),
        source,
    })?;
    // The path may be a /proc/PID entry whose process exited and whose PID was reused since
    // the namespace was found: check the open file is still that namespace.
    let found = file
        .metadata()
        .map_err(|source| SeedError::Open {
            ns: ns.clone(),
            source,
        })?
        .ino();
    if found != u64::from(ns.inum) {
        return Err(SeedError::Replaced {
            ns: ns.clone(),
            found,
        });
    }
    // The namespace this thread is already in needs no setns, which would need
    // CAP_SYS_ADMIN even there: a capability-bounded agent still seeds its own.
    let already_there =
        std::fs::metadata("/proc/thread-self/ns/net").is_ok_and(|m| m.ino() == found);
    // SAFETY: setns only reads the fd, which `file` keeps open for the call.
    if !already_there && unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(SeedError::Setns {
            ns: ns.clone(),
            source: io::Error::last_os_error(),
        });
    }
    let mut rows = Vec::new();
    for (proto, family) in SEED_TABLES {
        let req = DumpRequest {
            proto,
            family,
            want_timers: false,
        };
        match dump(&req) {
            Ok(batch) => rows.extend(batch),
            Err(NetlinkError::Unsupported { .. }) => {}
            Err(source) => {
                return Err(SeedError::Dump {
                    ns: ns.clone(),
                    proto,
                    family,
                    source,
                });
            }
        }
    }
    Ok(rows)
}

type NsResult = Result<Vec<InetSocket>, SeedError>;

/// Most threads [`dump_all`] uses. Dumps are kernel time; a few threads hide the latency of
/// small namespaces without hogging a host with many.
const MAX_DUMP_THREADS: usize = 4;

/// Dumps every namespace [`network_namespaces`] finds under `root` with [`dump_netns`]'s
/// rules, 2 to 4 namespaces at a time. Returns `(inum, rows)` for each namespace dumped, in
/// inode order, and one error per namespace that failed (see [`SeedError::is_vanished`]).
pub fn dump_all(root: &Path) -> (Vec<(u32, Vec<InetSocket>)>, Vec<SeedError>) {
    let namespaces = network_namespaces(root);
    if namespaces.is_empty() {
        return (Vec::new(), Vec::new());
    }
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .clamp(2, MAX_DUMP_THREADS)
        .min(namespaces.len());

    let next = AtomicUsize::new(0);
    // One slot per namespace, filled by whichever worker dumped it.
    let slots: Vec<Mutex<Option<NsResult>>> = namespaces.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            // Each worker enters namespace after namespace and ends with the scope, so no
            // thread that changed namespace outlives this call. A worker that cannot be
            // started only leaves more work for the others.
            let _ = std::thread::Builder::new()
                .name("netns-seed".into())
                .spawn_scoped(scope, || {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(ns) = namespaces.get(i) else { break };
                        let result = dump_here(ns);
                        if let Ok(mut slot) = slots[i].lock() {
                            *slot = Some(result);
                        }
                    }
                });
        }
    });

    let mut dumped = Vec::new();
    let mut errors = Vec::new();
    for (ns, slot) in namespaces.iter().zip(slots) {
        let result = slot.into_inner().ok().flatten();
        match result {
            Some(Ok(rows)) => dumped.push((ns.inum, rows)),
            Some(Err(e)) => errors.push(e),
            None => errors.push(SeedError::Thread {
                ns: ns.clone(),
                what: "not dumped: no worker thread could be started, or it panicked".into(),
            }),
        }
    }
    (dumped, errors)
}

/// What identifies a process that owns a socket, read from `/proc`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcFacts {
    pub pid: u32,
    /// Real uid (first field of `Uid:` in `/proc/PID/status`).
    pub uid: u32,
    /// Field 22 of `/proc/PID/stat`: start time since boot in clock ticks (see [`ns_to_ticks`]).
    pub start_ticks: u64,
    /// The thread-group leader's `comm`, at most 15 bytes, NUL padded like `task->comm`.
    pub comm: [u8; 16],
}

/// Biggest `/proc/PID/stat` or `status` read; both are a few hundred bytes to 2 KiB.
const PROC_FILE_MAX: u64 = 64 * 1024;

/// Reads [`ProcFacts`] of `pid` from `<proc_root>/<pid>/{stat,status}` (`proc_root` is
/// normally `/proc`). Both files are opened relative to one open `/proc/PID` directory, which
/// pins that process: if it exits and the PID is reused in between, the second read fails
/// instead of mixing two processes. `None` if the process is gone or a file does not parse.
pub fn proc_facts(proc_root: &Path, pid: u32) -> Option<ProcFacts> {
    let dir = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(proc_root.join(pid.to_string()))
        .ok()?;
    let stat = read_at(&dir, c"stat").ok()?;
    let (comm, start_ticks) = parse_stat(&stat)?;
    let status = read_at(&dir, c"status").ok()?;
    let uid = parse_status_uid(&status)?;
    Some(ProcFacts {
        pid,
        uid,
        start_ticks,
        comm,
    })
}

/// Reads the file `name` inside the open directory `dir` (at most [`PROC_FILE_MAX`] bytes).
fn read_at(dir: &File, name: &CStr) -> io::Result<Vec<u8>> {
    // SAFETY: `dir` is an open directory fd and `name` a NUL-terminated string; the returned
    // fd, if any, is owned by nobody else and handed to `File`.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened above and is not used anywhere else.
    let file = unsafe { File::from_raw_fd(fd) };
    let mut bytes = Vec::with_capacity(2048);
    file.take(PROC_FILE_MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// `(comm, start_ticks)` from the text of `/proc/PID/stat`: comm is the bytes between the
/// first `(` and the LAST `)` (a comm may itself hold spaces and parentheses, e.g. `a) b (c`),
/// cut to 15 bytes and NUL padded; start_ticks is field 22, counted after that last `)`
/// (the rest of the line holds no `)`). `None` for truncated or garbled input.
pub fn parse_stat(stat: &[u8]) -> Option<([u8; 16], u64)> {
    let open = stat.iter().position(|&b| b == b'(')?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    if close < open {
        return None;
    }
    let name = &stat[open + 1..close];
    let mut comm = [0u8; 16];
    let n = name.len().min(15);
    comm[..n].copy_from_slice(&name[..n]);
    // Fields 3.. follow the last ')': field 22 is the 20th of them.
    let start = stat[close + 1..]
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty())
        .nth(22 - 3)?;
    Some((comm, parse_decimal(start)?))
}

/// The real uid (first number of the `Uid:` line) from the text of `/proc/PID/status`.
/// A newline in the task name is printed escaped there, so `Uid:` can only start its own line.
pub fn parse_status_uid(status: &[u8]) -> Option<u32> {
    let line = status
        .split(|&b| b == b'\n')
        .find_map(|line| line.strip_prefix(b"Uid:"))?;
    let real = line
        .split(|b| b.is_ascii_whitespace())
        .find(|f| !f.is_empty())?;
    u32::try_from(parse_decimal(real)?).ok()
}

/// Plain decimal digits only (no sign, no spaces), as the kernel prints unsigned fields.
fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &b| {
        if b.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// The kernel's `USER_HZ` on every mainstream architecture, used when sysconf cannot say.
const DEFAULT_USER_HZ: u64 = 100;
const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Clock ticks per second of `/proc` times (`sysconf(_SC_CLK_TCK)`, the kernel's USER_HZ),
/// 100 if sysconf fails.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    u64::try_from(hz)
        .ok()
        .filter(|&hz| hz > 0)
        .unwrap_or(DEFAULT_USER_HZ)
}

/// Converts nanoseconds to clock ticks exactly as the kernel's `nsec_to_clock_t()` does (with
/// `hz` as USER_HZ): `ns / (1e9 / hz)` in integer division when `hz` divides 1e9 (100 does),
/// and the kernel's other two formulas otherwise. `hz` 0 counts as 100.
///
/// Why: the eBPF side records an owner's start time as `task->start_boottime` in ns (it must
/// be the thread-group leader's, `task->group_leader->start_boottime`, as that is what
/// `/proc/PID/stat` shows), and field 22 of `/proc/PID/stat` is
/// `nsec_to_clock_t(start_boottime)` (plus the reader's time-namespace boottime offset, which
/// is zero in the initial time namespace the agent runs in). So the agent tells a live owner
/// from a process that merely reuses its PID with
/// `ns_to_ticks(recorded_ns, clock_ticks()) == proc_facts(..)?.start_ticks`.
pub fn ns_to_ticks(ns: u64, hz: u64) -> u64 {
    let hz = if hz == 0 { DEFAULT_USER_HZ } else { hz };
    if NSEC_PER_SEC.is_multiple_of(hz) {
        ns / (NSEC_PER_SEC / hz)
    } else if hz.is_multiple_of(512) {
        // The kernel multiplies in u64 and so wraps the same way.
        ns.wrapping_mul(hz) / 512 / (NSEC_PER_SEC / 512)
    } else {
        ns.wrapping_mul(9) / ((9 * NSEC_PER_SEC + hz / 2) / hz)
    }
}

/// Clock ticks to nanoseconds: `ticks * 1e9 / hz`, saturating. The start of the tick, so
/// `ns_to_ticks(ticks_to_ns(t, hz), hz) == t` when `hz` divides 1e9 and the result did not
/// saturate. `hz` 0 counts as 100.
pub fn ticks_to_ns(ticks: u64, hz: u64) -> u64 {
    let hz = if hz == 0 { DEFAULT_USER_HZ } else { hz };
    let ns = u128::from(ticks) * u128::from(NSEC_PER_SEC) / u128::from(hz);
    u64::try_from(ns).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::{IpAddr, Ipv4Addr};
    use std::process::{Child, Command, Stdio};

    /// A real line (from `cat /proc/self/stat`): start time 829846.
    const STAT: &[u8] = b"1464 (cat) R 1460 1460 32586 0 -1 4194304 100 0 0 0 0 0 0 0 20 0 1 0 \
829846 3133440 380 18446744073709551615 94711837442048 94711837461929 140728469235520 0 0 0 0 \
0 0 0 0 0 17 1 0 0 0 0 0 94711837477936 94711837479552 94712848596992 140728469240340 \
140728469240360 140728469240360 140728469241835 0\n";

    fn comm(s: &[u8]) -> [u8; 16] {
        let mut c = [0u8; 16];
        c[..s.len()].copy_from_slice(s);
        c
    }

    fn with_comm(name: &[u8]) -> Vec<u8> {
        let s = String::from_utf8_lossy(STAT).into_owned();
        let (_, rest) = s.split_once(')').unwrap();
        let mut out = b"1464 (".to_vec();
        out.extend_from_slice(name);
        out.push(b')');
        out.extend_from_slice(rest.as_bytes());
        out
    }

    #[test]
    fn stat_plain() {
        assert_eq!(parse_stat(STAT), Some((comm(b"cat"), 829846)));
    }

    #[test]
    fn stat_comm_with_parens_and_spaces() {
        assert_eq!(
            parse_stat(&with_comm(b"a) b (c")),
            Some((comm(b"a) b (c"), 829846))
        );
        assert_eq!(parse_stat(&with_comm(b")")), Some((comm(b")"), 829846)));
        assert_eq!(parse_stat(&with_comm(b"")), Some((comm(b""), 829846)));
        // A comm made to look like the following fields.
        assert_eq!(
            parse_stat(&with_comm(b"x) R 1 1 1 0")),
            Some((comm(b"x) R 1 1 1 0"), 829846))
        );
    }

    #[test]
    fn stat_comm_cut_to_15_bytes() {
        // Kernel workers show up to 63 bytes in stat; task->comm holds 15.
        let (c, start) = parse_stat(&with_comm(b"kworker/u8:1-events_unbound")).unwrap();
        assert_eq!(&c, b"kworker/u8:1-ev\0");
        assert_eq!(start, 829846);
        let (c, _) = parse_stat(&with_comm(b"\xff\xfe\nz")).unwrap();
        assert_eq!(c, comm(b"\xff\xfe\nz"));
    }

    #[test]
    fn stat_garbage() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"1 (a"), None);
        assert_eq!(parse_stat(b"1 )a( R 1 2 3"), None);
        // Cut before field 22.
        assert_eq!(parse_stat(&STAT[..60]), None);
        // Field 22 not a number.
        let bad = String::from_utf8_lossy(STAT).replace(" 829846 ", " 82x846 ");
        assert_eq!(parse_stat(bad.as_bytes()), None);
        let neg = String::from_utf8_lossy(STAT).replace(" 829846 ", " -829846 ");
        assert_eq!(parse_stat(neg.as_bytes()), None);
        let huge = String::from_utf8_lossy(STAT).replace(" 829846 ", " 99999999999999999999 ");
        assert_eq!(parse_stat(huge.as_bytes()), None);
        // Field 22 is the last thing, no newline.
        assert_eq!(
            parse_stat(b"7 (x) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 424242"),
            Some((comm(b"x"), 424242))
        );
    }

    #[test]
    fn status_uid() {
        let status = b"Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t12\nUid:\t1000\t0\t0\t0\nGid:\t5\t5\t5\t5\n";
        assert_eq!(parse_status_uid(status), Some(1000));
        // A name that holds "Uid:" is escaped and sits on the Name line.
        let tricky = b"Name:\tx\\nUid:\t7\nUid:\t42\t1\t1\t1\n";
        assert_eq!(parse_status_uid(tricky), Some(42));
        assert_eq!(
            parse_status_uid(b"Uid:\t4294967295\t0\t0\t0"),
            Some(u32::MAX)
        );
    }

    #[test]
    fn status_garbage() {
        assert_eq!(parse_status_uid(b""), None);
        assert_eq!(parse_status_uid(b"Name:\tbash\nGid:\t0\t0\t0\t0\n"), None);
        assert_eq!(parse_status_uid(b"Uid:\n"), None);
        assert_eq!(parse_status_uid(b"Uid:\tabc\t0\n"), None);
        assert_eq!(parse_status_uid(b"Uid:\t4294967296\t0\t0\t0\n"), None);
        assert_eq!(parse_status_uid(b"Uid:\t-1\t0\n"), None);
        assert_eq!(parse_status_uid(b" Uid:\t5\n"), None);
    }

    #[test]
    fn tick_conversions() {
        // USER_HZ 100: 10 ms per tick, truncating like the kernel.
        assert_eq!(ns_to_ticks(0, 100), 0);
        assert_eq!(ns_to_ticks(9_999_999, 100), 0);
        assert_eq!(ns_to_ticks(10_000_000, 100), 1);
        assert_eq!(ns_to_ticks(8_298_469_999_999, 100), 829_846);
        assert_eq!(ticks_to_ns(829_846, 100), 8_298_460_000_000);
        assert_eq!(ns_to_ticks(u64::MAX, 100), u64::MAX / 10_000_000);
        for hz in [100, 250, 1000, 1] {
            for t in [0, 1, 99, 829_846, 1 << 33] {
                assert_eq!(ns_to_ticks(ticks_to_ns(t, hz), hz), t, "hz {hz} t {t}");
            }
        }
        // The kernel's other branches: USER_HZ 1024 (alpha) and one that divides neither.
        assert_eq!(ns_to_ticks(NSEC_PER_SEC, 1024), 1024);
        assert_eq!(ns_to_ticks(NSEC_PER_SEC, 300), 300);
        assert_eq!(ns_to_ticks(NSEC_PER_SEC - 1, 300), 299);
        // hz 0 is USER_HZ 100, never a division by zero.
        assert_eq!(ns_to_ticks(10_000_000, 0), 1);
        assert_eq!(ticks_to_ns(1, 0), 10_000_000);
        assert_eq!(ticks_to_ns(u64::MAX, 1), u64::MAX);
    }

    #[test]
    fn clock_ticks_is_sane() {
        let hz = clock_ticks();
        assert!((1..=10_000).contains(&hz), "{hz}");
    }

    #[test]
    fn own_proc_facts() {
        let pid = std::process::id();
        let facts = proc_facts(Path::new("/proc"), pid).expect("own /proc entry");
        assert_eq!(facts.pid, pid);
        // SAFETY: getuid has no preconditions.
        assert_eq!(facts.uid, unsafe { libc::getuid() });
        assert!(facts.start_ticks > 0);
        assert_eq!(facts.comm[15], 0);
        let stat = std::fs::read("/proc/self/stat").unwrap();
        assert_eq!(parse_stat(&stat).map(|(_, t)| t), Some(facts.start_ticks));
        assert_eq!(proc_facts(Path::new("/nonexistent"), pid), None);
        assert_eq!(proc_facts(Path::new("/proc"), u32::MAX), None);
    }

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("seed-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn namespaces_of_a_fake_tree() {
        let s = Scratch::new("tree");
        let r = &s.0;
        let mk = |p: &str| {
            let p = r.join(p);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, b"").unwrap();
        };
        let link = |from: &str, to: &str| {
            let to = r.join(to);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::hard_link(r.join(from), to).unwrap();
        };
        mk("proc/1/ns/net");
        link("proc/1/ns/net", "proc/22/ns/net"); // same namespace, second process
        mk("proc/333/ns/mnt"); // no net entry: skipped
        mk("proc/self/ns/net"); // not a PID: skipped
        mk("proc/abc/ns/net"); // not a PID: skipped
        mk("proc/4/ns/net");
        mk("run/netns/a"); // a namespace with no process
        link("proc/1/ns/net", "run/netns/b"); // same as PID 1's: the bind mount path wins
        link("run/netns/a", "var/run/netns/a2"); // same as run/netns/a: first one kept
        let ino = |p: &str| u32::try_from(std::fs::metadata(r.join(p)).unwrap().ino()).unwrap();

        let mut want = vec![
            NetnsHandle {
                inum: ino("proc/1/ns/net"),
                path: r.join("run/netns/b"),
            },
            NetnsHandle {
                inum: ino("proc/4/ns/net"),
                path: r.join("proc/4/ns/net"),
            },
            NetnsHandle {
                inum: ino("run/netns/a"),
                path: r.join("run/netns/a"),
            },
        ];
        want.sort_by_key(|h| h.inum);
        assert_eq!(network_namespaces(r), want);
        assert_eq!(network_namespaces(&r.join("missing")), vec![]);
    }

    #[test]
    fn dump_errors_name_the_namespace() {
        let s = Scratch::new("errs");
        let missing = NetnsHandle {
            inum: 1,
            path: s.0.join("gone"),
        };
        let err = dump_netns(&missing).unwrap_err();
        assert!(matches!(err, SeedError::Open { .. }), "{err:?}");
        assert!(err.is_vanished());
        assert!(err.to_string().contains("gone"), "{err}");
        assert_eq!(err.ns(), &missing);

        let file = s.0.join("not-a-netns");
        std::fs::write(&file, b"").unwrap();
        let ino = std::fs::metadata(&file).unwrap().ino();
        let replaced = NetnsHandle {
            inum: u32::try_from(ino).unwrap().wrapping_add(1),
            path: file.clone(),
        };
        let err = dump_netns(&replaced).unwrap_err();
        assert!(
            matches!(err, SeedError::Replaced { found, .. } if found == ino),
            "{err:?}"
        );
        assert!(err.is_vanished());

        // Right inode, but not an nsfs file: setns refuses it (EINVAL).
        let not_ns = NetnsHandle {
            inum: u32::try_from(ino).unwrap(),
            path: file,
        };
        let err = dump_netns(&not_ns).unwrap_err();
        assert!(matches!(err, SeedError::Setns { .. }), "{err:?}");
        assert!(!err.is_vanished());
        assert!(err.to_string().contains("not-a-netns"), "{err}");
    }

    /// `ip netns add NAME`, deleted on drop even when the test fails.
    struct NetnsGuard(String);

    impl Drop for NetnsGuard {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.0])
                .stderr(Stdio::null())
                .status();
        }
    }

    /// A child process killed and reaped on drop (plus the PID it reported, if different).
    struct ChildGuard {
        child: Child,
        reported_pid: Option<u32>,
    }

    impl Drop for ChildGuard {
        fn drop(&mut self) {
            if let Some(pid) = self.reported_pid.filter(|&p| p != self.child.id()) {
                // SAFETY: kill has no memory preconditions; the pid is the python process
                // this test started (it printed its own pid), and it is alive until we reap.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn socket_inode_of(pid: u32, fd: u32) -> u64 {
        let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).unwrap();
        let link = link.to_string_lossy().into_owned();
        link.strip_prefix("socket:[")
            .and_then(|s| s.strip_suffix(']'))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("/proc/{pid}/fd/{fd} is {link:?}, not a socket"))
    }

    fn ns_ino(path: &str) -> u64 {
        std::fs::metadata(path).unwrap().ino()
    }

    const HOLDER: &str = r#"
import os, socket, sys
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(("127.0.0.1", 0))
t.listen(8)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
print(os.getpid(), t.fileno(), t.getsockname()[1], u.fileno(), u.getsockname()[1], flush=True)
sys.stdin.read()
"#;

    /// Needs root (ip netns add, setns). Creates `nst-seed-<pid>` with a python process holding
    /// a tcp listener and a udp socket on 127.0.0.1, and checks the whole seed path on it.
    #[test]
    fn seed_a_real_namespace() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            panic!("seed_a_real_namespace needs root (ip netns add, setns): run the tests as root");
        }
        let name = format!("nst-seed-{}", std::process::id());
        let _netns = NetnsGuard(name.clone());
        let ok = |args: &[&str]| {
            let st = Command::new("ip").args(args).status().unwrap();
            assert!(st.success(), "ip {args:?}: {st}");
        };
        ok(&["netns", "add", &name]);
        ok(&["-n", &name, "link", "set", "lo", "up"]);

        let child = Command::new("ip")
            .args(["netns", "exec", &name, "python3", "-c", HOLDER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start ip netns exec python3");
        let mut holder = ChildGuard {
            child,
            reported_pid: None,
        };
        let mut line = String::new();
        let stdout = holder.child.stdout.take().unwrap();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let nums: Vec<u32> = line
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let [py, tfd, tport, ufd, uport] = nums[..] else {
            panic!("python holder printed {line:?}");
        };
        holder.reported_pid = Some(py);
        let tcp_inode = socket_inode_of(py, tfd);
        let udp_inode = socket_inode_of(py, ufd);

        let target = ns_ino(&format!("/run/netns/{name}"));
        assert_eq!(ns_ino(&format!("/proc/{py}/ns/net")), target);
        let own_before = (
            ns_ino("/proc/self/ns/net"),
            ns_ino("/proc/thread-self/ns/net"),
        );

        let all = network_namespaces(Path::new("/"));
        let handle = all
            .iter()
            .find(|h| u64::from(h.inum) == target)
            .unwrap_or_else(|| panic!("net:[{target}] not in {all:?}"))
            .clone();
        assert!(all.iter().any(|h| u64::from(h.inum) == own_before.0));
        let mut inums: Vec<u32> = all.iter().map(|h| h.inum).collect();
        inums.dedup();
        assert_eq!(inums.len(), all.len(), "duplicates in {all:?}");

        let rows = dump_netns(&handle).unwrap();
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let listener = rows
            .iter()
            .find(|r| r.proto == InetProto::Tcp && r.local == lo && r.local_port == tport as u16)
            .unwrap_or_else(|| panic!("no tcp 127.0.0.1:{tport} in {rows:#?}"));
        assert_eq!(listener.state, 10, "{listener:?}");
        assert_ne!(listener.cookie, 0);
        assert_eq!(listener.inode, tcp_inode);
        let udp = rows
            .iter()
            .find(|r| r.proto == InetProto::Udp && r.local == lo && r.local_port == uport as u16)
            .unwrap_or_else(|| panic!("no udp 127.0.0.1:{uport} in {rows:#?}"));
        assert_ne!(udp.cookie, 0);
        assert_ne!(udp.cookie, listener.cookie);
        assert_eq!(udp.inode, udp_inode);
        // Nothing else lives in that namespace.
        assert_eq!(rows.len(), 2, "{rows:#?}");

        let own_after = (
            ns_ino("/proc/self/ns/net"),
            ns_ino("/proc/thread-self/ns/net"),
        );
        assert_eq!(own_before, own_after, "the caller's netns changed");

        // The whole seed: every namespace, then the join by inode and the owner's facts.
        let (dumped, errors) = dump_all(Path::new("/"));
        assert_eq!(
            ns_ino("/proc/thread-self/ns/net"),
            own_before.1,
            "dump_all changed the caller's netns"
        );
        for e in &errors {
            assert_ne!(u64::from(e.ns().inum), target, "{e}");
            assert!(e.is_vanished(), "{e}");
        }
        let (_, ns_rows) = dumped
            .iter()
            .find(|(inum, _)| u64::from(*inum) == target)
            .unwrap_or_else(|| panic!("net:[{target}] not dumped; errors {errors:?}"));
        assert!(
            ns_rows
                .iter()
                .any(|r| r.cookie == listener.cookie && r.inode == tcp_inode)
        );
        assert!(
            dumped
                .iter()
                .any(|(inum, _)| u64::from(*inum) == own_before.0)
        );

        let (programs, _) = crate::source::procfd::ProgramMap::scan(Path::new("/proc"));
        assert_eq!(programs.pid(tcp_inode), Some(py));
        let facts = proc_facts(Path::new("/proc"), py).expect("python's /proc facts");
        assert_eq!(facts.pid, py);
        assert_eq!(facts.uid, 0);
        assert!(facts.comm.starts_with(b"python"), "{:?}", facts.comm);
        assert!(facts.start_ticks > 0);
        let own = proc_facts(Path::new("/proc"), std::process::id()).unwrap();
        assert!(facts.start_ticks >= own.start_ticks);

        // EOF on its stdin ends python; the guards then kill and reap it if it has not
        // ended yet, and delete the namespace.
        drop(holder.child.stdin.take());
    }
}
