//! `-p`: which process holds each socket inode, from `/proc/[pid]/fd`, exactly as net-tools
//! 2.10's `prg_cache_load()` (netstat.c:398) decides it, but without its cost.
//!
//! net-tools semantics kept here:
//! * `/proc` is walked once, in readdir order; only all-digit names are processes.
//! * each fd entry whose name starts with a digit is `readlink`ed into a 30-byte buffer (at most
//!   29 bytes read) and accepted if it reads `socket:[N]` or the old `[0000]:N`, with net-tools'
//!   quirks (see [`parse_link`]);
//! * `/proc/PID/cmdline` is read (one `read` of at most 511 bytes) for each process that holds
//!   a socket; argv[0] is cut at its NUL and reduced to its basename only when it starts with
//!   `/`; the label is `snprintf("%s/%s", pid, argv0)` into 20 bytes, so at most 19 bytes, cut
//!   byte-wise even inside a multi-byte character (see [`format_label`]);
//! * the first process to hold an inode keeps it (`prg_cache_add()` ignores duplicates);
//! * the two stderr notes are decided by [`ScanNote::decide`].
//!
//! One difference in timing only: net-tools reads cmdline when it meets a process's first
//! socket fd (and retries at the next one if that read fails); here it is read after that
//! process's fds were walked. A process whose cmdline cannot be read is skipped in both.
//!
//! Speed: net-tools and ss build a path, `readlink` it and format a name for every fd. Here the
//! walk is all kernel time, so it only does what must be done: each `/proc/PID/fd` is listed
//! with `getdents64` into a reused buffer, every entry is `readlinkat`-ed relative to the
//! directory fd straight from its NUL-terminated name into a stack buffer, and the inode is
//! parsed in place (no allocation per fd). Listing and readlinking run on a few threads, the
//! fds of a big process split in chunks so that one process with 20k sockets keeps every core
//! busy; the results are merged in /proc order afterwards. The label is built once per
//! process and each inode only stores a `u32` index to it.

use std::collections::HashMap;
use std::ffi::{CStr, CString};
use std::hash::{BuildHasherDefault, Hasher};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// `PROGNAME_WIDTH` in netstat.c: the label buffer, NUL included.
const PROGNAME_WIDTH: usize = 20;
/// `cmdlbuf[512]`, read with `sizeof(cmdlbuf) - 1`.
const CMDLINE_READ: usize = 511;
/// `lname[30]`, read with `sizeof(lname) - 1`.
const LINK_READ: usize = 29;
/// `"socket:["`, `PRG_SOCKET_PFX`.
const SOCKET_PFX: &[u8] = b"socket:[";
/// `"[0000]:"`, `PRG_SOCKET_PFX2`.
const SOCKET_PFX2: &[u8] = b"[0000]:";
/// getdents64 buffer; one `/proc/PID/fd` record takes 24 to 32 bytes.
const DENTS_BUF: usize = 64 * 1024;

/// Socket inode → the process that holds it, as netstat's `-p` column shows it.
#[derive(Debug, Default)]
pub struct ProgramMap {
    owners: Vec<Owner>,
    by_inode: HashMap<u64, u32, BuildHasherDefault<InodeHasher>>,
}

/// One process that holds at least one socket.
#[derive(Debug)]
struct Owner {
    pid: u32,
    /// `"PID/name"` exactly as net-tools prints it (at most 19 bytes, maybe not UTF-8).
    label: Box<[u8]>,
}

/// The note net-tools prints on stderr after the scan (§2.5 and §3 of the reference).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanNote {
    /// Nothing to say: no `/proc/PID/fd` was refused.
    None,
    /// Some `/proc/PID/fd` was refused (EACCES) but at least one socket was identified.
    NotAllIdentified,
    /// `/proc` could not be opened, or some fd directory was refused and no socket was found.
    NoInfo { euid: u32 },
}

impl ScanNote {
    /// net-tools' decision at the end of `prg_cache_load()`:
    /// `/proc` unreadable → `NoInfo`; no EACCES → nothing; EACCES and nothing added → `NoInfo`;
    /// EACCES and something added → `NotAllIdentified`.
    pub fn decide(proc_opened: bool, eacces: bool, found_any: bool, euid: u32) -> ScanNote {
        if !proc_opened {
            ScanNote::NoInfo { euid }
        } else if !eacces {
            ScanNote::None
        } else if found_any {
            ScanNote::NotAllIdentified
        } else {
            ScanNote::NoInfo { euid }
        }
    }

    /// The exact stderr text, trailing newline included; `None` when there is nothing to print.
    pub fn message(&self) -> Option<String> {
        match self {
            ScanNote::None => None,
            ScanNote::NotAllIdentified => Some(
                "(Not all processes could be identified, non-owned process info\n \
                 will not be shown, you would have to be root to see it all.)\n"
                    .to_string(),
            ),
            // `geteuid()` goes through `%d`, so a uid above i32::MAX prints negative.
            ScanNote::NoInfo { euid } => Some(format!(
                "(No info could be read for \"-p\": geteuid()={} but you should be root.)\n",
                *euid as i32
            )),
        }
    }
}

impl ProgramMap {
    /// Walks `<proc_root>/[0-9]*/fd/*` (`proc_root` is normally `/proc`; tests pass a fake tree).
    pub fn scan(proc_root: &Path) -> (ProgramMap, ScanNote) {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get().min(MAX_WORKERS));
        Self::scan_with(proc_root, workers)
    }

    /// [`ProgramMap::scan`] with an explicit number of threads (1 = no thread is started).
    pub fn scan_with(proc_root: &Path, workers: usize) -> (ProgramMap, ScanNote) {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        let mut map = ProgramMap::default();
        let Ok(root_dir) = open_dir(None, proc_root.as_os_str().as_bytes()) else {
            return (map, ScanNote::decide(false, false, false, euid));
        };
        let root = root_dir.as_raw_fd();
        let pids = list_pids(root);

        // Phase 1: the names in every /proc/PID/fd (one getdents64 walk per process).
        let eacces = AtomicBool::new(false);
        let listings = parallel_map(
            pids.len(),
            workers,
            || vec![0u8; DENTS_BUF],
            |buf, i| match list_fds(root, &pids[i], buf) {
                Ok(names) => names,
                Err(e) => {
                    if e.raw_os_error() == Some(libc::EACCES) {
                        eacces.store(true, Ordering::Relaxed);
                    }
                    FdNames::default()
                }
            },
        );

        // Phase 2: readlinkat every fd, in chunks so that one big process keeps every thread busy.
        let chunks = split_chunks(&listings);
        let found = parallel_map(
            chunks.len(),
            workers,
            || (),
            |(), c| {
                let chunk = &chunks[c];
                socket_inodes(root, &pids[chunk.pid], &listings[chunk.pid], chunk)
            },
        );

        // Phase 3, in /proc order: the first process holding an inode keeps it.
        let mut next = 0;
        for group in chunks.chunk_by(|a, b| a.pid == b.pid) {
            let inodes = &found[next..next + group.len()];
            next += group.len();
            if inodes.iter().all(Vec::is_empty) {
                continue;
            }
            // net-tools reads cmdline at the process's first socket fd and skips the fd when
            // that fails: a process whose cmdline cannot be read contributes nothing.
            let pid_name = &pids[group[0].pid];
            let Some(cmdline) = read_cmdline(root, pid_name) else {
                continue;
            };
            let Ok(idx) = u32::try_from(map.owners.len()) else {
                break;
            };
            map.owners.push(Owner::new(pid_name, &cmdline));
            for &inode in inodes.iter().flatten() {
                map.add(inode, idx);
            }
        }
        let note = ScanNote::decide(
            true,
            eacces.load(Ordering::Relaxed),
            !map.by_inode.is_empty(),
            euid,
        );
        (map, note)
    }

    /// The exact bytes net-tools prints (`printf("%-20s")` pads by bytes, not characters).
    pub fn get_bytes(&self, inode: u64) -> Option<&[u8]> {
        self.owner(inode).map(|o| &*o.label)
    }

    /// The PID of the first process holding `inode`.
    pub fn pid(&self, inode: u64) -> Option<u32> {
        self.owner(inode).map(|o| o.pid)
    }

    /// Number of socket inodes identified.
    pub fn len(&self) -> usize {
        self.by_inode.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_inode.is_empty()
    }

    /// The label as text, for tests (lossy where the cut split a character).
    #[cfg(test)]
    fn get(&self, inode: u64) -> Option<String> {
        self.get_bytes(inode)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }

    fn owner(&self, inode: u64) -> Option<&Owner> {
        let idx = *self.by_inode.get(&inode)?;
        self.owners.get(idx as usize)
    }

    /// Records `inode` for owner `idx` unless an earlier process already holds it.
    fn add(&mut self, inode: u64, idx: u32) {
        self.by_inode.entry(inode).or_insert(idx);
    }
}

/// The fd names of one process: NUL-terminated names back to back.
#[derive(Default)]
struct FdNames {
    names: Vec<u8>,
}

/// A run of fd names of one process, readlinked by one thread.
struct Chunk {
    pid: usize,
    start: usize,
    end: usize,
}

/// Fds per chunk: big enough that opening the fd directory again is noise.
const CHUNK_FDS: usize = 2048;
/// Thread cap. The walk is all kernel time and scales on the 2 cores it was measured on;
/// more cores were not tried.
const MAX_WORKERS: usize = 4;

/// The all-digit names in `root`, in readdir order.
fn list_pids(root: RawFd) -> Vec<Vec<u8>> {
    let mut buf = vec![0u8; DENTS_BUF];
    let mut pids = Vec::new();
    while let Ok(n) = getdents(root, &mut buf) {
        if n == 0 {
            break;
        }
        for name in dirent_names(&buf[..n]) {
            let name = name.to_bytes();
            if !name.is_empty() && name.iter().all(u8::is_ascii_digit) {
                pids.push(name.to_vec());
            }
        }
    }
    pids
}

/// The entries of `<root>/<pid>/fd` whose name starts with a digit (net-tools skips the rest).
fn list_fds(root: RawFd, pid_name: &[u8], buf: &mut [u8]) -> std::io::Result<FdNames> {
    let mut path = Vec::with_capacity(pid_name.len() + 3);
    path.extend_from_slice(pid_name);
    path.extend_from_slice(b"/fd");
    let dir = open_dir(Some(root), &path)?;
    let mut out = FdNames::default();
    while let Ok(n) = getdents(dir.as_raw_fd(), buf) {
        if n == 0 {
            break;
        }
        for name in dirent_names(&buf[..n]) {
            if name.to_bytes().first().is_some_and(u8::is_ascii_digit) {
                out.names.extend_from_slice(name.to_bytes_with_nul());
            }
        }
    }
    Ok(out)
}

/// Splits every process's names into runs of at most [`CHUNK_FDS`], in /proc order.
fn split_chunks(listings: &[FdNames]) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    for (pid, listing) in listings.iter().enumerate() {
        let names = &listing.names;
        let mut start = 0;
        let mut count = 0;
        for (i, _) in names.iter().enumerate().filter(|&(_, &b)| b == 0) {
            count += 1;
            if count == CHUNK_FDS {
                chunks.push(Chunk {
                    pid,
                    start,
                    end: i + 1,
                });
                start = i + 1;
                count = 0;
            }
        }
        if start < names.len() {
            chunks.push(Chunk {
                pid,
                start,
                end: names.len(),
            });
        }
    }
    chunks
}

/// The socket inodes behind the fds of one chunk, in fd order.
fn socket_inodes(root: RawFd, pid_name: &[u8], listing: &FdNames, chunk: &Chunk) -> Vec<u64> {
    let mut path = Vec::with_capacity(pid_name.len() + 3);
    path.extend_from_slice(pid_name);
    path.extend_from_slice(b"/fd");
    let Ok(dir) = open_dir(Some(root), &path) else {
        return Vec::new();
    };
    let names = listing
        .names
        .get(chunk.start..chunk.end)
        .unwrap_or_default();
    let mut inodes = Vec::new();
    let mut rest = names;
    while let Ok(name) = CStr::from_bytes_until_nul(rest) {
        rest = &rest[name.to_bytes_with_nul().len()..];
        let mut link = [0u8; LINK_READ];
        let Some(len) = readlinkat(dir.as_raw_fd(), name, &mut link) else {
            continue;
        };
        if let Some(inode) = parse_link(&link[..len]) {
            inodes.push(inode);
        }
    }
    inodes
}

/// `f(state, i)` for every `i < n`, on `workers` threads (none started when 1) that take the
/// next index in turn; the results come back in index order.
fn parallel_map<S, T: Send>(
    n: usize,
    workers: usize,
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, usize) -> T + Sync,
) -> Vec<T> {
    if workers <= 1 || n <= 1 {
        let mut state = init();
        return (0..n).map(|i| f(&mut state, i)).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut state = init();
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= n {
                break done;
            }
            done.push((i, f(&mut state, i)));
        }
    };
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = (1..workers).map(|_| s.spawn(work)).collect();
        let mut all = vec![work()];
        for h in handles {
            // A worker only panics if `f` does: pass the panic on, as the serial walk would.
            all.push(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        for (i, t) in all.into_iter().flatten() {
            slots[i] = Some(t);
        }
    });
    slots.into_iter().flatten().collect()
}

impl Owner {
    fn new(pid_name: &[u8], cmdline: &[u8]) -> Owner {
        let label = format_label(pid_name, cmdline);
        let pid = std::str::from_utf8(pid_name)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        Owner {
            pid,
            label: label.into_boxed_slice(),
        }
    }
}

/// net-tools' label: `snprintf(finbuf, 20, "%s/%s", pid, cmdlp)` where `cmdlp` is argv[0] of
/// `cmdline` (what one `read` returned), reduced to its basename when it starts with `/`.
pub fn format_label(pid_name: &[u8], cmdline: &[u8]) -> Vec<u8> {
    let argv0 = match cmdline.iter().position(|&b| b == 0) {
        Some(nul) => &cmdline[..nul],
        None => cmdline,
    };
    let argv0 = if argv0.first() == Some(&b'/') {
        match argv0.iter().rposition(|&b| b == b'/') {
            Some(slash) => &argv0[slash + 1..],
            None => argv0,
        }
    } else {
        argv0
    };
    let mut label = Vec::with_capacity(PROGNAME_WIDTH - 1);
    label.extend_from_slice(pid_name);
    label.push(b'/');
    label.extend_from_slice(argv0);
    label.truncate(PROGNAME_WIDTH - 1);
    label
}

/// The socket inode in an fd's link text, as net-tools' `extract_type_1_socket_inode()` and
/// `extract_type_2_socket_inode()` accept it. Note their quirks: `socket:[N]` must be at least
/// 11 bytes long (so a one-digit inode is refused), N goes through `strtoul(…, 0)` (so `0x1f`
/// and octal `017` parse, and `-0` is 0), and `ULONG_MAX` is refused.
pub fn parse_link(link: &[u8]) -> Option<u64> {
    // The link text is a C string for net-tools; a NUL (never produced by readlink) ends it.
    let link = match link.iter().position(|&b| b == 0) {
        Some(nul) => &link[..nul],
        None => link,
    };
    if link.len() >= SOCKET_PFX.len() + 3 && link.starts_with(SOCKET_PFX) {
        return match link.split_last() {
            Some((b']', rest)) => strtoul_whole(&rest[SOCKET_PFX.len()..]),
            _ => None,
        };
    }
    if link.len() > SOCKET_PFX2.len() && link.starts_with(SOCKET_PFX2) {
        return strtoul_whole(&link[SOCKET_PFX2.len()..]);
    }
    None
}

/// C `strtoul(s, &end, 0)` that must consume all of `s` and must not return `ULONG_MAX`.
fn strtoul_whole(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        // strtoul("") is 0 with *end == '\0'.
        return Some(0);
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let mut base = 10u64;
    if s.get(i) == Some(&b'0') {
        if matches!(s.get(i + 1), Some(b'x' | b'X'))
            && s.get(i + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            base = 16;
            i += 2;
        } else {
            base = 8;
        }
    }
    let digits_start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while let Some(&c) = s.get(i) {
        let d = match c {
            b'0'..=b'9' => u64::from(c - b'0'),
            b'a'..=b'z' => u64::from(c - b'a') + 10,
            b'A'..=b'Z' => u64::from(c - b'A') + 10,
            _ => break,
        };
        if d >= base {
            break;
        }
        match value.checked_mul(base).and_then(|v| v.checked_add(d)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == digits_start || i != s.len() {
        // No digits: end is s itself, which is not empty; or trailing garbage.
        return None;
    }
    let value = if overflow {
        u64::MAX
    } else if negative {
        value.wrapping_neg()
    } else {
        value
    };
    (value != u64::MAX).then_some(value)
}

/// Reads `<root>/<pid>/cmdline` with one `read` of at most 511 bytes, as net-tools does.
fn read_cmdline(root: RawFd, pid_name: &[u8]) -> Option<Vec<u8>> {
    let mut path = Vec::with_capacity(pid_name.len() + 9);
    path.extend_from_slice(pid_name);
    path.extend_from_slice(b"/cmdline");
    let path = CString::new(path).ok()?;
    // SAFETY: `path` is a valid NUL-terminated string; the returned fd is owned below.
    let fd = unsafe { libc::openat(root, path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return None;
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut buf = vec![0u8; CMDLINE_READ];
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// Opens a directory for `getdents64`, relative to `at` (or the cwd for relative `path`).
fn open_dir(at: Option<RawFd>, path: &[u8]) -> std::io::Result<OwnedFd> {
    let path = CString::new(path).map_err(|_| std::io::Error::from_raw_os_error(libc::ENOENT))?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;
    // SAFETY: `path` is NUL-terminated; the fd returned is owned below.
    let fd = unsafe { libc::openat(at.unwrap_or(libc::AT_FDCWD), path.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just opened and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One `getdents64` call; returns the number of bytes filled (0 at the end).
fn getdents(fd: RawFd, buf: &mut [u8]) -> std::io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes; the kernel writes whole records.
    let n = unsafe { libc::syscall(libc::SYS_getdents64, fd, buf.as_mut_ptr(), buf.len()) };
    usize::try_from(n).map_err(|_| std::io::Error::last_os_error())
}

/// `readlinkat` into `buf`; returns how many bytes were read (the text is cut at `buf.len()`).
fn readlinkat(dir: RawFd, name: &CStr, buf: &mut [u8]) -> Option<usize> {
    // SAFETY: `name` is NUL-terminated and `buf` is valid for writes of `buf.len()` bytes.
    let n = unsafe { libc::readlinkat(dir, name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    usize::try_from(n).ok()
}

/// The names in a buffer filled by `getdents64` (`struct linux_dirent64`: u64 ino, i64 off,
/// u16 reclen, u8 type, then the NUL-terminated name).
fn dirent_names(buf: &[u8]) -> impl Iterator<Item = &CStr> {
    DirentRecords { buf }.filter_map(|rec| {
        let name = rec.get(DIRENT_NAME_OFFSET..)?;
        CStr::from_bytes_until_nul(name).ok()
    })
}

const DIRENT_NAME_OFFSET: usize = 19;

struct DirentRecords<'a> {
    buf: &'a [u8],
}

impl<'a> Iterator for DirentRecords<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let reclen = self.buf.get(16..18)?;
        let reclen = usize::from(u16::from_ne_bytes([reclen[0], reclen[1]]));
        if reclen <= DIRENT_NAME_OFFSET || reclen > self.buf.len() {
            self.buf = &[];
            return None;
        }
        let (rec, rest) = self.buf.split_at(reclen);
        self.buf = rest;
        Some(rec)
    }
}

/// A cheap hash for integer keys no attacker chooses (inodes, socket cookies): SipHash is
/// needlessly slow for 100k of them.
#[derive(Default)]
pub struct InodeHasher(u64);

/// A map keyed by inodes or cookies.
pub type IntMap<V> = HashMap<u64, V, BuildHasherDefault<InodeHasher>>;

impl Hasher for InodeHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, n: u64) {
        let h = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::symlink;
    use std::path::PathBuf;

    /// A fake `/proc` in a fresh temporary directory, removed on drop.
    struct FakeProc(PathBuf);

    impl FakeProc {
        fn new(tag: &str) -> FakeProc {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let dir = std::env::temp_dir().join(format!(
                "netstat-procfd-{tag}-{}-{nanos}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).expect("create fake proc");
            FakeProc(dir)
        }

        /// A process with `cmdline` and fds `(name, link target)`.
        fn process(&self, pid: &str, cmdline: &[u8], fds: &[(&str, &str)]) {
            let fd_dir = self.0.join(pid).join("fd");
            fs::create_dir_all(&fd_dir).expect("create fd dir");
            fs::write(self.0.join(pid).join("cmdline"), cmdline).expect("write cmdline");
            for (name, target) in fds {
                symlink(target, fd_dir.join(name)).expect("symlink");
            }
        }

        /// Process directory names in readdir order, as the scan sees them.
        fn readdir_order(&self) -> Vec<String> {
            fs::read_dir(&self.0)
                .expect("read fake proc")
                .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        }
    }

    impl Drop for FakeProc {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn names_follow_net_tools_rules() {
        let p = FakeProc::new("names");
        p.process(
            "100",
            b"/usr/bin/python3\0/tmp/gen.py\0",
            &[
                ("0", "/dev/null"),
                ("3", "socket:[1001]"),
                ("4", "pipe:[77]"),
            ],
        );
        p.process(
            "11480",
            b"a-very-long-program-name-for-testing\0",
            &[("5", "socket:[1002]")],
        );
        p.process("17073", b"./rel/dir/prog\0arg\0", &[("7", "socket:[1003]")]);
        p.process("42", b"", &[("1", "socket:[1004]")]);
        p.process("43", b"/usr/bin/\0", &[("1", "socket:[1005]")]);
        p.process("44", b"sshd: root@pts/0\0", &[("1", "socket:[1006]")]);
        p.process("45", b"/no/nul/at/end", &[("1", "[0000]:1007")]);
        let (map, note) = ProgramMap::scan_with(&p.0, 1);
        assert_eq!(note, ScanNote::None);
        assert_eq!(map.get(1001).as_deref(), Some("100/python3"));
        assert_eq!(map.get(1002).as_deref(), Some("11480/a-very-long-p"));
        assert_eq!(map.get(1003).as_deref(), Some("17073/./rel/dir/pro"));
        assert_eq!(map.get(1004).as_deref(), Some("42/"));
        assert_eq!(map.get(1005).as_deref(), Some("43/"));
        assert_eq!(map.get(1006).as_deref(), Some("44/sshd: root@pts/0"));
        assert_eq!(map.get(1007).as_deref(), Some("45/end"));
        assert_eq!(map.pid(1003), Some(17073));
        assert_eq!(map.get(77).as_deref(), None);
        assert_eq!(map.len(), 7);
    }

    #[test]
    fn label_is_cut_bytewise_inside_a_multibyte_character() {
        let p = FakeProc::new("utf8");
        // "12345/" is 6 bytes; 6 two-byte characters make 18 bytes, the 7th is cut in half.
        p.process(
            "12345",
            "/bin/éééééééé\0".as_bytes(),
            &[("3", "socket:[55]")],
        );
        let (map, _) = ProgramMap::scan_with(&p.0, 1);
        let bytes = map.get_bytes(55).expect("found");
        assert_eq!(bytes.len(), 19);
        assert_eq!(&bytes[..18], "12345/éééééé".as_bytes());
        assert_eq!(bytes[18], 0xc3);
        assert_eq!(map.get(55).as_deref(), Some("12345/éééééé\u{fffd}"));
    }

    #[test]
    fn first_process_in_readdir_order_keeps_a_shared_inode() {
        let p = FakeProc::new("shared");
        p.process(
            "200",
            b"/bin/first\0",
            &[("3", "socket:[900]"), ("4", "socket:[901]")],
        );
        p.process(
            "300",
            b"/bin/second\0",
            &[("5", "socket:[900]"), ("6", "socket:[902]")],
        );
        let order = p.readdir_order();
        let (map, _) = ProgramMap::scan_with(&p.0, 2);
        let winner = if order[0] == "200" {
            "200/first"
        } else {
            "300/second"
        };
        assert_eq!(map.get(900).as_deref(), Some(winner));
        assert_eq!(map.get(901).as_deref(), Some("200/first"));
        assert_eq!(map.get(902).as_deref(), Some("300/second"));
        assert_eq!(map.len(), 3);
    }

    #[test]
    fn ignores_what_net_tools_ignores() {
        let p = FakeProc::new("ignore");
        p.process("self", b"/bin/x\0", &[("3", "socket:[10]")]);
        p.process("12a", b"/bin/x\0", &[("3", "socket:[11]")]);
        p.process(
            "7",
            b"/bin/ok\0",
            &[
                ("x3", "socket:[12]"),
                ("3", "socket:[5]"),
                ("4", "socket:[123456789012345678901]"),
                ("5", "socket:[12a]"),
                ("6", "anon_inode:[eventfd]"),
                ("7", "socket:[13]"),
            ],
        );
        // No fd directory at all (a kernel thread we may not read, or a stray file).
        fs::create_dir_all(p.0.join("8")).expect("mkdir");
        fs::write(p.0.join("9"), b"").expect("file");
        // No cmdline: its sockets are skipped, as net-tools does when the open fails.
        p.process("10", b"", &[("3", "socket:[14]")]);
        fs::remove_file(p.0.join("10").join("cmdline")).expect("rm cmdline");
        let (map, note) = ProgramMap::scan_with(&p.0, 1);
        assert_eq!(note, ScanNote::None);
        assert_eq!(map.get(13).as_deref(), Some("7/ok"));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn parallel_scan_equals_serial_scan() {
        let p = FakeProc::new("parallel");
        let mut inode = 5000u64;
        for (pid, n) in [("501", 5000usize), ("502", 30), ("503", 2049), ("504", 0)] {
            let links: Vec<(String, String)> = (0..n)
                .map(|fd| {
                    inode += 1;
                    // Every 10th fd shares the inode of the previous process's range.
                    let ino = if fd % 10 == 0 { inode - 2000 } else { inode };
                    (fd.to_string(), format!("socket:[{ino}]"))
                })
                .collect();
            let refs: Vec<(&str, &str)> = links
                .iter()
                .map(|(a, b)| (a.as_str(), b.as_str()))
                .collect();
            p.process(pid, format!("/bin/p{pid}\0").as_bytes(), &refs);
        }
        let (serial, _) = ProgramMap::scan_with(&p.0, 1);
        let (parallel, _) = ProgramMap::scan_with(&p.0, 3);
        assert!(serial.len() > 6000);
        assert_eq!(serial.len(), parallel.len());
        for ino in 0..inode + 10 {
            assert_eq!(serial.get(ino), parallel.get(ino), "inode {ino}");
        }
    }

    #[test]
    fn unreadable_proc_gives_no_info() {
        let p = FakeProc::new("missing");
        let (map, note) = ProgramMap::scan(&p.0.join("absent"));
        assert!(map.is_empty());
        assert!(matches!(note, ScanNote::NoInfo { .. }));
    }

    #[test]
    fn note_decision() {
        assert_eq!(ScanNote::decide(true, false, false, 0), ScanNote::None);
        assert_eq!(ScanNote::decide(true, false, true, 1000), ScanNote::None);
        assert_eq!(
            ScanNote::decide(true, true, true, 65534),
            ScanNote::NotAllIdentified
        );
        assert_eq!(
            ScanNote::decide(true, true, false, 12345),
            ScanNote::NoInfo { euid: 12345 }
        );
        assert_eq!(
            ScanNote::decide(false, false, false, 0),
            ScanNote::NoInfo { euid: 0 }
        );
    }

    #[test]
    fn note_texts() {
        assert_eq!(ScanNote::None.message(), None);
        assert_eq!(
            ScanNote::NotAllIdentified.message().as_deref(),
            Some(
                "(Not all processes could be identified, non-owned process info\n will not be shown, you would have to be root to see it all.)\n"
            )
        );
        assert_eq!(
            ScanNote::NoInfo { euid: 12345 }.message().as_deref(),
            Some("(No info could be read for \"-p\": geteuid()=12345 but you should be root.)\n")
        );
        assert_eq!(
            ScanNote::NoInfo { euid: u32::MAX }.message().as_deref(),
            Some("(No info could be read for \"-p\": geteuid()=-1 but you should be root.)\n")
        );
    }

    #[test]
    fn link_parsing_quirks() {
        assert_eq!(parse_link(b"socket:[12345]"), Some(12345));
        assert_eq!(parse_link(b"socket:[42]"), Some(42));
        // strlen < strlen("socket:[") + 3: one-digit inodes are refused.
        assert_eq!(parse_link(b"socket:[5]"), None);
        assert_eq!(parse_link(b"socket:[]"), None);
        assert_eq!(parse_link(b"socket:[12"), None);
        assert_eq!(parse_link(b"socket:[12a]"), None);
        assert_eq!(parse_link(b"socket:[0x1f]"), Some(31));
        assert_eq!(parse_link(b"socket:[017]"), Some(15));
        assert_eq!(parse_link(b"socket:[019]"), None);
        assert_eq!(parse_link(b"socket:[ 42]"), Some(42));
        assert_eq!(parse_link(b"socket:[-0]"), Some(0));
        assert_eq!(parse_link(b"socket:[-1]"), None);
        assert_eq!(parse_link(b"socket:[18446744073709551615]"), None);
        assert_eq!(parse_link(b"socket:[99999999999999999999]"), None);
        assert_eq!(
            parse_link(b"socket:[18446744073709551614]"),
            Some(u64::MAX - 1)
        );
        assert_eq!(parse_link(b"[0000]:4567"), Some(4567));
        assert_eq!(parse_link(b"[0000]:7"), Some(7));
        assert_eq!(parse_link(b"[0000]:"), None);
        assert_eq!(parse_link(b"[0000]:x"), None);
        assert_eq!(parse_link(b"pipe:[12345]"), None);
        assert_eq!(parse_link(b"/dev/pts/0"), None);
        assert_eq!(parse_link(b"socket:[123]\0junk"), Some(123));
    }

    #[test]
    fn label_formatting() {
        assert_eq!(format_label(b"1", b"/a/b/c\0d"), b"1/c");
        assert_eq!(format_label(b"1", b"rel/c\0"), b"1/rel/c");
        assert_eq!(format_label(b"1", b"\0/x"), b"1/");
        assert_eq!(
            format_label(b"123456789012345678", b"x"),
            b"123456789012345678/"
        );
        assert_eq!(
            format_label(b"1234567890123456789", b"x"),
            b"1234567890123456789"
        );
    }
}
