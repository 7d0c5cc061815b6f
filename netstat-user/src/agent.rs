//! `netstat --agent`: keeps the kernel's socket-owner map and answers one-shot queries.
//!
//! Start-up: load and attach the owner programs (from then on every new socket, connect,
//! accept, send and close is seen), then seed the sockets that existed before: a
//! sock_diag dump of every network namespace joined by inode with a `/proc/PID/fd` walk.
//! Seeded records never overwrite what the programs learnt meanwhile (insert-if-absent),
//! and a second dump drops seeded records of sockets that closed during the seed, so a
//! racing close leaves no stale owner. Then `ready` on stderr (and `READY=1` to systemd).
//!
//! Queries arrive on a unix socket on the root filesystem ([`socket_path`]): one-shot
//! `netstat -p` finds it from any network namespace, including under `ip netns exec`,
//! which hides bpffs. The socket is mode 0600 and the agent also checks the caller's
//! uid (SO_PEERCRED): owners of other users' processes are for root only. An answer is
//! the map's records of the caller's namespace with labels made here, where /proc is
//! fully readable: net-tools' `PID/argv0` for a live owner (same PID *and* start time),
//! `PID/comm*` for one that has exited.
//!
//! Std threads and blocking calls rather than tokio: the agent serves one query at a
//! time from one thread, and a query is a batch map read plus a write.
pub mod answer;
pub mod metrics;
pub mod proto;
pub mod seed;

use std::{
    collections::{HashMap, HashSet},
    io::{self, Read, Write},
    os::{
        fd::AsRawFd,
        unix::{
            fs::{DirBuilderExt, PermissionsExt},
            net::{UnixListener, UnixStream},
        },
    },
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use netstat_common::{ListenKey, Owner, SockKey, SockRecord, TcpState, flags, how};

use crate::{
    caps::{self, Cap, CapSet},
    cli::Options,
    ebpf::owners::OwnerProbe,
    model::{InetProto, InetSocket, addr16},
    source::procfd::ProgramMap,
};

/// Where the agent listens unless `NETSTAT_AGENT_SOCKET` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/netstat-ebpf/agent.sock";
/// Environment variable overriding [`DEFAULT_SOCKET`] (tests, several agents).
pub const SOCKET_ENV: &str = "NETSTAT_AGENT_SOCKET";
/// A TIME_WAIT socket lives 60 s (`TCP_TIMEWAIT_LEN`, fixed in Linux); its record is
/// dropped a little after.
const TIMEWAIT_KEEP: Duration = Duration::from_secs(65);
pub(crate) const GC_EVERY: Duration = Duration::from_secs(5);
/// How often seeded records are checked against fresh dumps (until none is left).
pub(crate) const SWEEP_EVERY: Duration = Duration::from_secs(60);
/// How often the agent and the live modes look for records whose socket is gone without
/// its change to CLOSE reaching the programs (a recursion miss): one dump of every
/// namespace, once the kernel has reported a miss.
pub(crate) const LIVE_SWEEP_EVERY: Duration = Duration::from_secs(10);

pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(DEFAULT_SOCKET),
    }
}

/// CLOCK_BOOTTIME in ns: the clock of the records' times and of process start times.
pub fn boottime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn run(o: &Options, err: &mut dyn Write) -> io::Result<i32> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        writeln!(err, "netstat: --agent must run as root")?;
        return Ok(1);
    }
    let path = socket_path();
    if let Err(e) = check_socket_path(&path) {
        writeln!(err, "netstat: --agent: {}: {e}", path.display())?;
        return Ok(1);
    }
    // Bound first: a taken port or a bad path fails before the slow start.
    let mut endpoints = Vec::new();
    for addr in &o.metrics {
        match metrics::bind(addr, o.metrics_owners) {
            Ok(e) => endpoints.push(e),
            Err(e) => {
                writeln!(err, "netstat: --agent: --metrics {addr}: {e}")?;
                return Ok(1);
            }
        }
    }
    crate::stop::install();
    let mut probe = match OwnerProbe::load() {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "netstat: --agent: {}", e.describe())?;
            return Ok(1);
        }
    };
    probe.describe_attach("agent", o.verbose > 0, err)?;
    // Said without -v: each one makes some owners unknowable.
    for m in &probe.offsets_missing {
        writeln!(err, "netstat: agent: not in this kernel's BTF: {m}")?;
    }
    if let Some(why) = &probe.raw_refused {
        writeln!(
            err,
            "netstat: agent: state changes from the classic tracepoint: no raw tracepoint ({why})"
        )?;
    }
    if crate::ebpf::hooks_only() {
        writeln!(
            err,
            "netstat: agent: {} is set (benchmarks only): every program returns at once; \
             no owner will be learnt",
            crate::ebpf::HOOKS_ONLY_ENV
        )?;
    }
    if let Some(note) = CapSet::current().and_then(proc_capability_note) {
        writeln!(err, "netstat: agent: {note}")?;
    }
    let root = Path::new("/");
    let seeded = seed(&mut probe, root, err)?;
    // Bound only now: until the seed is done a query could not be answered well, and a
    // client must not wait behind a full backlog meanwhile (it would fall back at once).
    let listener = match bind(&path) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "netstat: --agent: {}: {e}", path.display())?;
            return Ok(1);
        }
    };
    let _remove = RemoveOnDrop(path.clone());
    let records = probe.dump().unwrap_or_default();
    let tracked = records.len();
    let server = if endpoints.is_empty() {
        None
    } else {
        let m = metrics::Metrics::new(&probe.attached);
        m.set_sockets(&records);
        if let Ok(st) = probe.stats() {
            m.set_counters(&st, probe.state_misses());
        }
        for e in &endpoints {
            writeln!(err, "netstat: agent: metrics on {}", e.description)?;
        }
        match metrics::Server::start(m, endpoints) {
            Ok(s) => Some(s),
            Err(e) => {
                writeln!(err, "netstat: --agent: metrics thread: {e}")?;
                return Ok(1);
            }
        }
    };
    drop(records);
    writeln!(
        err,
        "netstat: agent ready: {tracked} sockets tracked ({} seeded from {} network namespaces{}), \
         state changes from {}, send/receive from {}, queries on {}",
        seeded.inserted,
        seeded.namespaces,
        if seeded.not_stored > 0 {
            format!("; {} could not be stored", seeded.not_stored)
        } else {
            String::new()
        },
        probe.state_method,
        probe.io.summary(),
        path.display()
    )?;
    notify_systemd(&format!("READY=1\nSTATUS=tracking {tracked} sockets"));

    let mut last_gc = Instant::now();
    let mut last_sweep = Instant::now();
    let mut last_counters = Instant::now();
    let mut last_live_sweep = Instant::now();
    let mut missed_ends = MissedEnds::default();
    let mut reported = probe.stats().unwrap_or_default();
    // From here on a closed stderr must not stop the agent: its messages are best effort.
    while !crate::stop::requested() {
        if wait_readable(listener.as_raw_fd(), Duration::from_millis(500)) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let result = serve(&mut probe, stream).unwrap_or_else(|e| {
                        if o.verbose > 0 {
                            let _ = writeln!(err, "netstat: agent: query failed: {e}");
                        }
                        metrics::QueryResult::Failed
                    });
                    if let Some(s) = &server {
                        s.with(|m| m.query(result));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = writeln!(err, "netstat: agent: accept: {e}");
                }
            }
        }
        if last_gc.elapsed() >= GC_EVERY {
            last_gc = Instant::now();
            let live = gc(&mut probe);
            // The dump the collection made anyway: socket gauges cost no extra read.
            if let (Some(s), Some((live, fill))) = (&server, &live) {
                s.with(|m| {
                    m.set_sockets(live);
                    m.set_fill(fill);
                });
            }
            if o.verbose > 1
                && let Some((_, f)) = &live
            {
                let _ = writeln!(
                    err,
                    "netstat: agent: records: {} of {} live, {} of {} TIME_WAIT",
                    f.owners, f.owners_max, f.timewait, f.timewait_max
                );
            }
            // Losses are said when they happen, not only at the end.
            if let Ok(now) = probe.stats() {
                report_losses(&reported, &now, err);
                reported = now;
            }
        }
        if last_sweep.elapsed() >= SWEEP_EVERY {
            last_sweep = Instant::now();
            sweep_seeded(&mut probe, root);
        }
        // The agent's state program misses changes as the live modes' does: a socket
        // whose CLOSE went unseen would keep its record until the map is full.
        if last_live_sweep.elapsed() >= LIVE_SWEEP_EVERY && probe.state_misses() > 0 {
            last_live_sweep = Instant::now();
            missed_ends.start(&probe, root);
        }
        missed_ends.poll(&mut probe);
        if let Some(s) = &server
            && last_counters.elapsed() >= metrics::COUNTERS_EVERY
        {
            last_counters = Instant::now();
            if let Ok(st) = probe.stats() {
                let misses = probe.state_misses();
                s.with(|m| m.set_counters(&st, misses));
            }
        }
    }
    if let Some(s) = server {
        s.stop();
    }
    let _ = match probe.stats() {
        Ok(st) => writeln!(
            err,
            "netstat: agent stopped (sockets not tracked for want of room: {} (map full) + {} \
             (no memory), TIME_WAIT records dropped for want of room: {}, listeners: {}, \
             failed kernel reads: {}, state changes of sockets without a cookie: {}, passive opens: {}, \
             state changes skipped by the kernel: {}, records of sockets gone unseen swept: {})",
            st.owners_full,
            st.owners_nomem,
            st.timewait_full,
            st.listeners_full,
            st.read_failed,
            st.no_cookie,
            st.passive,
            probe.state_misses(),
            missed_ends.swept
        ),
        Err(e) => writeln!(err, "netstat: agent stopped (counters unreadable: {e})"),
    };
    Ok(0)
}

/// Says each kind of loss that grew since `before` (without -v: each one leaves rows
/// without an owner).
fn report_losses(
    before: &crate::ebpf::owners::ProbeStats,
    now: &crate::ebpf::owners::ProbeStats,
    err: &mut dyn Write,
) {
    if now.owners_full + now.owners_nomem > before.owners_full + before.owners_nomem {
        let _ = writeln!(
            err,
            "netstat: agent: owner map full: {} sockets not tracked so far ({} with the map \
             at capacity, {} when its element cache had no memory)",
            now.owners_full + now.owners_nomem,
            now.owners_full,
            now.owners_nomem
        );
    }
    if now.timewait_full > before.timewait_full {
        let _ = writeln!(
            err,
            "netstat: agent: TIME_WAIT map full: {} TIME_WAIT sockets without an owner so far \
             (raise {})",
            now.timewait_full,
            crate::ebpf::TIMEWAIT_RECORDS_ENV
        );
    }
}

/// What the agent cannot see in `/proc/PID/fd` with the capabilities `have` (the seed, and
/// the look-up of a socket's new holder after fork or SCM_RIGHTS, read those links).
/// `None` when nothing is hidden from it.
pub fn proc_capability_note(have: CapSet) -> Option<String> {
    let lacking = have.lacking(&[Cap::SysPtrace, Cap::DacReadSearch]);
    let whose = match lacking.as_slice() {
        [] => return None,
        // ptrace_may_access: another uid, or more capabilities than ours.
        [Cap::SysPtrace, ..] => {
            "other users' processes and of root processes holding \
                                 capabilities the agent lacks"
        }
        // The directory is mode 0500 and belongs to the process's user.
        _ => "other users' processes",
    };
    Some(format!(
        "without {}, the /proc/PID/fd of {whose} cannot be read: the agent cannot tell \
         which of those processes hold sockets made before it started (netstat -p looks \
         those up in /proc) or passed on by fork or SCM_RIGHTS",
        caps::list(&lacking)
    ))
}

pub(crate) struct RemoveOnDrop(pub(crate) PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Refuses a socket path that another agent answers on, that is not a socket, or whose
/// directory others could write to without the sticky bit (they could swap the socket
/// under a client).
fn check_socket_path(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)?;
    let d = std::fs::metadata(dir)?;
    // Writable by others is fine only when sticky (/tmp): then nobody else can remove
    // or rename root's socket.
    const STICKY: u32 = 0o1000;
    if d.uid() != 0 || (d.mode() & 0o022 != 0 && d.mode() & STICKY == 0) {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "{} must belong to root and be writable by others only if sticky (mode {:o}, uid {})",
                dir.display(),
                d.mode() & 0o7777,
                d.uid()
            ),
        ));
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_socket() => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "exists and is not a socket",
        )),
        Ok(_) if UnixStream::connect(path).is_ok() => Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "another agent answers there",
        )),
        _ => Ok(()),
    }
}

/// Binds the query socket, replacing a stale one but never a live agent's.
pub(crate) fn bind(path: &Path) -> io::Result<UnixListener> {
    check_socket_path(path)?;
    if std::fs::symlink_metadata(path).is_ok() {
        std::fs::remove_file(path)?;
    }
    // Created with the process umask, then narrowed. Between the two a non-root process
    // could connect; the peer-uid check in `serve` is what refuses it.
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

fn wait_readable(fd: i32, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
    rc > 0 && pfd.revents & libc::POLLIN != 0
}

/// `sd_notify(3)` without libsystemd: one datagram to `$NOTIFY_SOCKET`.
fn notify_systemd(state: &str) {
    use std::os::linux::net::SocketAddrExt;
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let Ok(sock) = std::os::unix::net::UnixDatagram::unbound() else {
        return;
    };
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str());
    let addr = match bytes.strip_prefix(b"@") {
        Some(name) => std::os::unix::net::SocketAddr::from_abstract_name(name),
        None => std::os::unix::net::SocketAddr::from_pathname(Path::new(&target)),
    };
    if let Ok(addr) = addr {
        let _ = sock.send_to_addr(state.as_bytes(), &addr);
    }
}

pub(crate) struct Seeded {
    pub inserted: usize,
    pub namespaces: usize,
    /// Records the map refused (full): those sockets show no owner.
    pub not_stored: usize,
}

/// The record the seed writes for a socket found in a dump and held by `owner`.
pub fn seed_record(s: &InetSocket, owner: Owner, now: u64) -> SockRecord {
    let tcp_in = |state: TcpState| s.proto == InetProto::Tcp && s.state == state as u8;
    SockRecord {
        owner,
        created_ns: now,
        changed_ns: now,
        inode: s.inode,
        family: s.family.af(),
        protocol: s.proto.ipproto(),
        sport: s.local_port,
        dport: s.remote_port,
        state: s.state,
        // A TIME_WAIT socket gets no more events: the age rule drops its record.
        flags: flags::SEEDED
            | if tcp_in(TcpState::TimeWait) {
                flags::TIMEWAIT
            } else {
                0
            },
        saddr: addr16(s.local),
        daddr: addr16(s.remote),
        ..SockRecord::default()
    }
}

/// Seeds owners of the sockets that existed before the programs were attached.
pub(crate) fn seed(probe: &mut OwnerProbe, root: &Path, err: &mut dyn Write) -> io::Result<Seeded> {
    let (namespaces, errors) = seed::dump_all(root);
    let (refused, failed): (Vec<_>, Vec<_>) = errors
        .iter()
        .filter(|e| !e.is_vanished())
        .partition(|e| e.is_not_permitted());
    for e in failed {
        writeln!(err, "netstat: agent: seed: {e}")?;
    }
    // One line, however many containers: they all fail for the same reason.
    if !refused.is_empty() {
        const SHOWN: usize = 4;
        let mut names: Vec<String> = refused
            .iter()
            .take(SHOWN)
            .map(|e| e.ns().to_string())
            .collect();
        if refused.len() > SHOWN {
            names.push(format!("{} more", refused.len() - SHOWN));
        }
        writeln!(
            err,
            "netstat: agent: seed: {} other network namespace{} not entered (setns needs \
             CAP_SYS_ADMIN, which this agent lacks): it does not know their sockets made \
             before it started (netstat -p looks those up in /proc), later ones are tracked: {}",
            refused.len(),
            if refused.len() == 1 { "" } else { "s" },
            names.join(", ")
        )?;
    }
    let proc_root = root.join("proc");
    let (programs, _) = ProgramMap::scan(&proc_root);
    let hz = seed::clock_ticks();
    let now = boottime_ns();
    let mut facts: HashMap<u32, Option<Owner>> = HashMap::new();
    let mut owner_of = |inode: u64| -> Option<Owner> {
        let pid = programs.pid(inode)?;
        *facts.entry(pid).or_insert_with(|| {
            seed::proc_facts(&proc_root, pid).map(|f| Owner {
                start_ns: seed::ticks_to_ns(f.start_ticks, hz),
                tgid: pid,
                tid: pid,
                uid: f.uid,
                how: how::SEED,
                comm: f.comm,
                ..Owner::default()
            })
        })
    };
    let is_tcp_in =
        |s: &InetSocket, state: TcpState| s.proto == InetProto::Tcp && s.state == state as u8;
    let (mut inserted, mut not_stored) = (0, 0);
    for (netns, rows) in &namespaces {
        // Connections waiting in an accept queue have no file yet (inode 0): until
        // accept() they are their listener's (its address first, then the wildcard).
        let mut listeners = HashMap::new();
        for s in rows.iter().filter(|s| is_tcp_in(s, TcpState::Listen)) {
            if let Some(owner) = owner_of(s.inode) {
                listeners.insert((s.family, s.local_port, addr16(s.local)), owner);
            }
        }
        for s in rows {
            if s.cookie == 0 {
                continue;
            }
            let owner = if s.inode != 0 {
                owner_of(s.inode)
            } else if is_tcp_in(s, TcpState::Established) || is_tcp_in(s, TcpState::CloseWait) {
                // ESTABLISHED or CLOSE_WAIT without a file is an unaccepted child (an
                // orphan would have left those states at close()). SYN_RECV rows are
                // request socks, whose cookie the child does not keep: not seeded.
                listeners
                    .get(&(s.family, s.local_port, addr16(s.local)))
                    .or_else(|| listeners.get(&(s.family, s.local_port, [0; 16])))
                    .map(|o| Owner {
                        how: how::LISTENER,
                        ..*o
                    })
            } else {
                // TIME_WAIT or orphaned before the agent: the owner is unknowable now.
                None
            };
            let Some(owner) = owner else { continue };
            let rec = seed_record(s, owner, now);
            let key = SockKey {
                cookie: s.cookie,
                netns: *netns,
                _pad: 0,
            };
            match probe.seed(key, &rec) {
                Ok(true) => inserted += 1,
                Ok(false) => {}
                Err(_) => not_stored += 1,
            }
            if is_tcp_in(s, TcpState::Listen) {
                let lk = ListenKey {
                    netns: *netns,
                    port: s.local_port,
                    family: rec.family,
                    addr: rec.saddr,
                };
                if probe.seed_listener(lk, &owner).is_err() {
                    not_stored += 1;
                }
            }
        }
    }
    // Sockets that closed between the dump and the insert: drop their seeded records.
    let namespaces_seen = namespaces.len();
    drop_vanished_seeded(probe, root);
    Ok(Seeded {
        inserted,
        namespaces: namespaces_seen,
        not_stored,
    })
}

/// Removes seeded records whose socket no dump shows any more. The programs remove
/// what they saw close; a seeded record can miss that when the close came between the
/// seed's dump and its insert.
fn drop_vanished_seeded(probe: &mut OwnerProbe, root: &Path) {
    let Ok(records) = probe.dump_live() else {
        return;
    };
    // A namespace no longer found has no live socket left: its seeded records go too.
    drop_vanished(
        probe,
        root,
        records,
        |r| r.flags & flags::SEEDED != 0,
        false,
    );
}

/// Removes the records `pick` selects whose socket the sock_diag dumps made after
/// `records` was read no longer show; returns how many. With `only_dumped`, only records
/// of a namespace that was dumped go (a namespace kept alive by its sockets alone is not
/// found, and must not lose them). Records read before the dump cannot belong to
/// sockets made after it, so a missing cookie means the socket is gone.
fn drop_vanished(
    probe: &mut OwnerProbe,
    root: &Path,
    records: Vec<(SockKey, SockRecord)>,
    pick: impl Fn(&SockRecord) -> bool,
    only_dumped: bool,
) -> u64 {
    if !records.iter().any(|(_, r)| pick(r)) {
        return 0;
    }
    let gone = vanished(records, pick, only_dumped, seed::dump_all(root));
    for key in &gone {
        probe.remove(key);
    }
    gone.len() as u64
}

type Records = Vec<(SockKey, SockRecord)>;

/// A dump of every namespace, as [`seed::dump_all`] returns it.
pub(crate) type AllDumped = (Vec<(u32, Vec<InetSocket>)>, Vec<seed::SeedError>);

/// The keys of the `records` that `pick` selects whose socket `dumped` (made after
/// `records` was read) no longer shows; see [`drop_vanished`].
pub(crate) fn vanished(
    records: Vec<(SockKey, SockRecord)>,
    pick: impl Fn(&SockRecord) -> bool,
    only_dumped: bool,
    (again, errors): AllDumped,
) -> Vec<SockKey> {
    // An incomplete view must not delete live records: the records of a namespace that
    // could not be dumped stay (one that is gone has no live socket left).
    let unseen: HashSet<u32> = errors
        .iter()
        .filter(|e| !e.is_vanished())
        .map(|e| e.ns().inum)
        .collect();
    let dumped: HashSet<u32> = again.iter().map(|(ns, _)| *ns).collect();
    let live: HashSet<(u32, u64)> = again
        .iter()
        .flat_map(|(ns, rows)| rows.iter().map(move |s| (*ns, s.cookie)))
        .collect();
    records
        .into_iter()
        .filter(|(key, rec)| {
            pick(rec)
                && !unseen.contains(&key.netns)
                && (!only_dumped || dumped.contains(&key.netns))
                && !live.contains(&(key.netns, key.cookie))
        })
        .map(|(key, _)| key)
        .collect()
}

/// Periodic form of [`drop_vanished_seeded`]: cheap once no seeded record is left.
pub(crate) fn sweep_seeded(probe: &mut OwnerProbe, root: &Path) {
    drop_vanished_seeded(probe, root);
}

/// The sweep of missed ends (agent and live modes): records of TCP sockets in a state sock_diag lists (every
/// state but CLOSE: an unconnected socket is in no table the dump walks) whose socket
/// is gone. Their change to CLOSE never reached the programs (the kernel skipped the
/// state program: a recursion miss), and nothing else would remove them. The dump of
/// every namespace runs on a thread of its own (the caller keeps reading its ring);
/// [`MissedEnds::poll`] removes what it found once it is done.
#[derive(Default)]
pub(crate) struct MissedEnds {
    /// The records read when it started, and the thread dumping the namespaces.
    pending: Option<(Records, std::thread::JoinHandle<AllDumped>)>,
    /// Records removed so far.
    pub swept: u64,
}

fn missed_end_candidate(r: &SockRecord) -> bool {
    r.protocol == netstat_common::IPPROTO_TCP
        && r.state != 0
        && r.state != TcpState::Close as u8
        && r.flags & flags::SEEDED == 0
}

impl MissedEnds {
    /// Starts a sweep (records read now, namespaces dumped on a thread) unless one is
    /// under way.
    pub(crate) fn start(&mut self, probe: &OwnerProbe, root: &Path) {
        if self.pending.is_some() {
            return;
        }
        let Ok(mut records) = probe.dump_live() else {
            return;
        };
        records.retain(|(_, r)| missed_end_candidate(r));
        if records.is_empty() {
            return;
        }
        let root = root.to_path_buf();
        if let Ok(h) = std::thread::Builder::new()
            .name("sweep".into())
            .spawn(move || seed::dump_all(&root))
        {
            self.pending = Some((records, h));
        }
    }

    /// Removes what a finished sweep found.
    pub(crate) fn poll(&mut self, probe: &mut OwnerProbe) {
        if !self.pending.as_ref().is_some_and(|(_, h)| h.is_finished()) {
            return;
        }
        let Some((records, h)) = self.pending.take() else {
            return;
        };
        let Ok(dumped) = h.join() else { return };
        for key in vanished(records, missed_end_candidate, true, dumped) {
            probe.remove(&key);
            self.swept += 1;
        }
    }
}

/// Drops the records of TIME_WAIT sockets that must have expired; returns the others
/// and how full the maps are (`None` if the maps could not be read).
pub(crate) fn gc(
    probe: &mut OwnerProbe,
) -> Option<(Vec<(SockKey, SockRecord)>, crate::ebpf::owners::MapFill)> {
    let mut records = probe.dump_live().ok()?;
    let live = records.len();
    records.extend(probe.dump_timewait().ok()?);
    let now = boottime_ns();
    let mut index = 0;
    let mut expired_live = 0;
    records.retain(|(key, rec)| {
        let expired = rec.flags & flags::TIMEWAIT != 0
            && now.saturating_sub(rec.changed_ns) > TIMEWAIT_KEEP.as_nanos() as u64;
        if expired {
            probe.remove(key);
            expired_live += usize::from(index < live);
        }
        index += 1;
        !expired
    });
    let live = live - expired_live;
    let fill = probe.fill(live, records.len() - live);
    Some((records, fill))
}

/// The uid of the process at the other end of `stream`.
pub fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
    Ok(peer_cred(stream)?.uid)
}

/// Whether the peer's process is in this process's PID namespace. PIDs in an answer are
/// the agent's: a caller in another PID namespace (a container with its own /proc) would
/// print PIDs that are not its own, where net-tools prints the ones it sees. Unknown (an
/// unreadable /proc) counts as the same, as before this check.
fn peer_in_own_pid_namespace(stream: &UnixStream) -> io::Result<bool> {
    // 0: the peer's PID does not exist in this namespace.
    let pid = peer_cred(stream)?.pid;
    if pid == 0 {
        return Ok(false);
    }
    let theirs = std::fs::read_link(format!("/proc/{pid}/ns/pid"));
    let ours = std::fs::read_link("/proc/self/ns/pid");
    Ok(match (theirs, ours) {
        (Ok(a), Ok(b)) => a == b,
        _ => true,
    })
}

fn peer_cred(stream: &UnixStream) -> io::Result<libc::ucred> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: a ucred-sized buffer and its length.
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(cred)
}

fn serve(probe: &mut OwnerProbe, mut stream: UnixStream) -> io::Result<metrics::QueryResult> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let netns = proto::read_request(&mut stream as &mut dyn Read)?;
    if peer_uid(&stream)? != 0 {
        stream.write_all(&proto::encode_refusal(
            "the agent answers root only (it knows other users' processes)",
        ))?;
        return Ok(metrics::QueryResult::Refused);
    }
    if !peer_in_own_pid_namespace(&stream)? {
        stream.write_all(&proto::encode_refusal(
            "the caller is in another PID namespace (the agent's PIDs are not its own)",
        ))?;
        return Ok(metrics::QueryResult::Refused);
    }
    // Live records first, then the recently closed ones: a record that moves from one
    // map to the other between the two reads is then in the second. The client applies
    // rows in order, so the closed ones go first on the wire and a live record of the
    // same socket replaces its closed copy.
    let live = probe.dump()?;
    let mut records = probe.dump_closed()?;
    records.extend(live);
    let (a, rescanned) = answer::answer(&records, netns, Path::new("/proc"));
    // Remember who holds those now, so the next answer does not walk /proc again.
    for r in rescanned {
        probe.set_owner(&r.key, r.owner);
    }
    stream.write_all(&proto::encode_answer(&a))?;
    Ok(metrics::QueryResult::Answered)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(caps: &[Cap]) -> CapSet {
        CapSet(caps.iter().fold(0, |acc, &c| acc | 1 << c as u32))
    }

    #[test]
    fn proc_note_names_each_missing_capability() {
        assert_eq!(
            proc_capability_note(set(&[Cap::SysPtrace, Cap::DacReadSearch])),
            None
        );
        let note = proc_capability_note(set(&[Cap::DacReadSearch])).unwrap();
        assert!(note.starts_with("without CAP_SYS_PTRACE, "), "{note}");
        assert!(note.contains("root processes"), "{note}");
        let note = proc_capability_note(set(&[Cap::SysPtrace])).unwrap();
        assert!(note.starts_with("without CAP_DAC_READ_SEARCH, "), "{note}");
        assert!(!note.contains("root processes"), "{note}");
        // CAP_SYS_ADMIN does not stand in for these.
        let note = proc_capability_note(set(&[Cap::SysAdmin])).unwrap();
        assert!(
            note.starts_with("without CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH, "),
            "{note}"
        );
    }
}
