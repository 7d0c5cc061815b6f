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

use netstat_common::{
    AF_INET, AF_INET6, ListenKey, Owner, SockKey, SockRecord, TcpState, flags, how,
};

use crate::{
    cli::Options,
    ebpf::owners::OwnerProbe,
    model::{Family, InetProto, InetSocket},
    source::procfd::{ProgramMap, format_label},
};
use proto::{Answer, Liveness, OwnerEntry, SockRow};

/// Where the agent listens unless `NETSTAT_AGENT_SOCKET` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/netstat-ebpf/agent.sock";
/// Environment variable overriding [`DEFAULT_SOCKET`] (tests, several agents).
pub const SOCKET_ENV: &str = "NETSTAT_AGENT_SOCKET";
/// A TIME_WAIT socket lives 60 s (`TCP_TIMEWAIT_LEN`, fixed in Linux); its record is
/// dropped a little after.
const TIMEWAIT_KEEP: Duration = Duration::from_secs(65);
const GC_EVERY: Duration = Duration::from_secs(5);

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
    let listener = match bind(&path) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "netstat: --agent: {}: {e}", path.display())?;
            return Ok(1);
        }
    };
    let _remove = RemoveOnDrop(path.clone());
    crate::stop::install();
    let mut probe = match OwnerProbe::load() {
        Ok(p) => p,
        Err(e) => {
            writeln!(err, "netstat: --agent: {e}")?;
            return Ok(1);
        }
    };
    if o.verbose > 0 {
        writeln!(
            err,
            "netstat: agent: attached {}",
            probe.attached.join(", ")
        )?;
        for m in &probe.offsets_missing {
            writeln!(
                err,
                "netstat: agent: not available in this kernel's BTF: {m}"
            )?;
        }
    }
    let root = Path::new("/");
    let seeded = seed(&mut probe, root, err)?;
    let tracked = probe.dump().map(|d| d.len()).unwrap_or(0);
    writeln!(
        err,
        "netstat: agent ready: {tracked} sockets tracked ({} seeded from {} network namespaces), \
         queries on {}",
        seeded.inserted,
        seeded.namespaces,
        path.display()
    )?;
    notify_systemd(&format!("READY=1\nSTATUS=tracking {tracked} sockets"));

    let mut last_gc = Instant::now();
    let mut reported = probe.stats().unwrap_or_default();
    while !crate::stop::requested() {
        if wait_readable(listener.as_raw_fd(), Duration::from_millis(500)) {
            match listener.accept() {
                Ok((stream, _)) => {
                    if let Err(e) = serve(&probe, stream)
                        && o.verbose > 0
                    {
                        writeln!(err, "netstat: agent: query failed: {e}")?;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => writeln!(err, "netstat: agent: accept: {e}")?,
            }
        }
        if last_gc.elapsed() >= GC_EVERY {
            last_gc = Instant::now();
            gc(&mut probe);
            // Losses are said when they happen, not only at the end.
            if let Ok(now) = probe.stats() {
                if now.owners_full > reported.owners_full {
                    writeln!(
                        err,
                        "netstat: agent: owner map full: {} sockets not tracked so far",
                        now.owners_full
                    )?;
                }
                reported = now;
            }
        }
    }
    match probe.stats() {
        Ok(st) => writeln!(
            err,
            "netstat: agent stopped (sockets not tracked for want of room: {}, listeners: {}, \
             failed kernel reads: {}, state changes of sockets without a cookie: {}, passive opens: {})",
            st.owners_full, st.listeners_full, st.read_failed, st.no_cookie, st.passive
        )?,
        Err(e) => writeln!(err, "netstat: agent stopped (counters unreadable: {e})")?,
    }
    Ok(0)
}

struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Binds the query socket, replacing a stale one but never a live agent's.
fn bind(path: &Path) -> io::Result<UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another agent answers there",
            ));
        }
        std::fs::remove_file(path)?;
    }
    // Created with the process umask, then narrowed before anyone can use it: the
    // listen backlog only fills after bind, and connect needs write permission.
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

struct Seeded {
    inserted: usize,
    namespaces: usize,
}

fn ipproto(p: InetProto) -> u16 {
    match p {
        InetProto::Tcp => 6,
        InetProto::Udp => 17,
        InetProto::UdpLite => 136,
        InetProto::Raw => 255,
        InetProto::Sctp => 132,
    }
}

fn addr16(a: std::net::IpAddr) -> [u8; 16] {
    let mut b = [0u8; 16];
    match a {
        std::net::IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
        std::net::IpAddr::V6(v6) => b = v6.octets(),
    }
    b
}

/// The record the seed writes for a socket found in a dump and held by `owner`.
pub fn seed_record(s: &InetSocket, owner: Owner, now: u64) -> SockRecord {
    SockRecord {
        owner,
        created_ns: now,
        changed_ns: now,
        inode: s.inode,
        family: match s.family {
            Family::Inet => AF_INET,
            Family::Inet6 => AF_INET6,
        },
        protocol: ipproto(s.proto),
        sport: s.local_port,
        dport: s.remote_port,
        state: s.state,
        flags: flags::SEEDED,
        saddr: addr16(s.local),
        daddr: addr16(s.remote),
        ..SockRecord::default()
    }
}

/// Seeds owners of the sockets that existed before the programs were attached.
fn seed(probe: &mut OwnerProbe, root: &Path, err: &mut dyn Write) -> io::Result<Seeded> {
    let (namespaces, errors) = seed::dump_all(root);
    for e in &errors {
        writeln!(err, "netstat: agent: seed: {e}")?;
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
    let mut inserted = 0;
    for (netns, rows) in &namespaces {
        // Connections waiting in an accept queue have no file yet (inode 0): until
        // accept() they are their listener's.
        let mut listeners = HashMap::new();
        for s in rows.iter().filter(|s| is_tcp_in(s, TcpState::Listen)) {
            if let Some(owner) = owner_of(s.inode) {
                listeners.insert((s.family, s.local_port), owner);
            }
        }
        for s in rows {
            if s.cookie == 0 {
                continue;
            }
            let owner = if s.inode != 0 {
                owner_of(s.inode)
            } else if is_tcp_in(s, TcpState::Established)
                || is_tcp_in(s, TcpState::SynRecv)
                || is_tcp_in(s, TcpState::CloseWait)
            {
                // ESTABLISHED or CLOSE_WAIT without a file is an unaccepted child (an
                // orphan would have left those states at close()).
                listeners.get(&(s.family, s.local_port)).map(|o| Owner {
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
            if probe.seed(key, &rec)? {
                inserted += 1;
            }
            if s.proto == InetProto::Tcp && s.state == TcpState::Listen as u8 {
                let lk = ListenKey {
                    netns: *netns,
                    port: s.local_port,
                    family: rec.family,
                };
                probe.seed_listener(lk, &owner)?;
            }
        }
    }
    // Sockets that closed between the dump and the insert: drop their seeded records.
    let (again, _) = seed::dump_all(root);
    let live: HashSet<(u32, u64)> = again
        .iter()
        .flat_map(|(ns, rows)| rows.iter().map(move |s| (*ns, s.cookie)))
        .collect();
    for (key, rec) in probe.dump()? {
        if rec.flags & flags::SEEDED != 0 && !live.contains(&(key.netns, key.cookie)) {
            probe.remove(&key);
        }
    }
    Ok(Seeded {
        inserted,
        namespaces: namespaces.len(),
    })
}

/// Drops the records of TIME_WAIT sockets that must have expired.
fn gc(probe: &mut OwnerProbe) {
    let Ok(records) = probe.dump() else { return };
    let now = boottime_ns();
    for (key, rec) in records {
        if rec.flags & flags::TIMEWAIT != 0
            && now.saturating_sub(rec.changed_ns) > TIMEWAIT_KEEP.as_nanos() as u64
        {
            probe.remove(&key);
        }
    }
}

/// The uid of the process at the other end of `stream`.
fn peer_uid(stream: &UnixStream) -> io::Result<u32> {
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
    Ok(cred.uid)
}

fn serve(probe: &OwnerProbe, mut stream: UnixStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let netns = proto::read_request(&mut stream as &mut dyn Read)?;
    if peer_uid(&stream)? != 0 {
        return stream.write_all(&proto::encode_refusal(
            "the agent answers root only (it knows other users' processes)",
        ));
    }
    // A listing may have seen alive a socket that is gone by now: the recently closed
    // ones answer for it (the kernel moves each record there when it drops it). They go
    // first, so a live record of the same socket replaces them in the client.
    let mut records = probe.dump_closed()?;
    records.extend(probe.dump()?);
    let a = answer(&records, netns, Path::new("/proc"));
    stream.write_all(&proto::encode_answer(&a))
}

/// The answer for the records of `netns` (0 = all).
pub fn answer(records: &[(SockKey, SockRecord)], netns: u32, proc_root: &Path) -> Answer {
    let mut labels = Labels {
        proc_root,
        hz: seed::clock_ticks(),
        index: HashMap::new(),
        owners: Vec::new(),
    };
    let mut rows: Vec<SockRow> = records
        .iter()
        .filter(|(k, _)| netns == 0 || k.netns == netns)
        .map(|(k, r)| SockRow {
            cookie: k.cookie,
            inode: r.inode,
            family: r.family,
            sport: r.sport,
            dport: r.dport,
            state: r.state,
            flags: r.flags,
            how: r.owner.how,
            saddr: r.saddr,
            daddr: r.daddr,
            owner: labels.of(&r.owner),
        })
        .collect();
    // A socket still open (not released) whose recorded owner let go of it or exited is
    // held by someone else: a fork child, an SCM_RIGHTS receiver. Only /proc knows who.
    let owners = &labels.owners;
    let needs_holder = |r: &SockRow| {
        r.inode != 0
            && r.flags & (flags::RELEASED | flags::CLOSED) == 0
            && (r.flags & flags::HOLDER_UNKNOWN != 0
                || owners
                    .get(r.owner as usize)
                    .is_none_or(|o| o.liveness != Liveness::Alive))
    };
    let stale: Vec<usize> = (0..rows.len())
        .filter(|&i| needs_holder(&rows[i]))
        .collect();
    if !stale.is_empty() {
        let (programs, _) = ProgramMap::scan(proc_root);
        for i in stale {
            let r = &mut rows[i];
            if let (Some(pid), Some(label)) = (programs.pid(r.inode), programs.get_bytes(r.inode)) {
                r.how = how::RESCAN;
                r.owner = labels.push(OwnerEntry {
                    pid,
                    uid: seed::proc_facts(proc_root, pid).map_or(0, |f| f.uid),
                    liveness: Liveness::Alive,
                    label: label.to_vec(),
                });
            }
        }
    }
    // Until accept(), a passively opened socket belongs to whoever holds its listener
    // now (the kernel program copied the owner the listener had when it started).
    let listeners: HashMap<(u16, u16), u32> = rows
        .iter()
        .filter(|r| r.state == TcpState::Listen as u8 && r.flags & flags::CLOSED == 0)
        .map(|r| ((r.family, r.sport), r.owner))
        .collect();
    for r in rows.iter_mut().filter(|r| r.how == how::LISTENER) {
        if let Some(&owner) = listeners.get(&(r.family, r.sport)) {
            r.owner = owner;
        }
    }
    Answer {
        owners: labels.owners,
        rows,
    }
}

/// One entry per owner process, labelled once per answer.
struct Labels<'a> {
    proc_root: &'a Path,
    hz: u64,
    index: HashMap<(u32, u64), u32>,
    owners: Vec<OwnerEntry>,
}

impl Labels<'_> {
    fn of(&mut self, owner: &Owner) -> u32 {
        if owner.tgid == 0 {
            return proto::NO_OWNER;
        }
        if let Some(&i) = self.index.get(&(owner.tgid, owner.start_ns)) {
            return i;
        }
        let (liveness, label) = owner_label(self.proc_root, self.hz, owner);
        let i = self.push(OwnerEntry {
            pid: owner.tgid,
            uid: owner.uid,
            liveness,
            label,
        });
        self.index.insert((owner.tgid, owner.start_ns), i);
        i
    }

    fn push(&mut self, e: OwnerEntry) -> u32 {
        self.owners.push(e);
        (self.owners.len() - 1) as u32
    }
}

/// net-tools' label for a live owner; `PID/comm*` for one that exited (or whose PID now
/// names a later process).
fn owner_label(proc_root: &Path, hz: u64, owner: &Owner) -> (Liveness, Vec<u8>) {
    let pid = owner.tgid.to_string();
    let alive = seed::proc_facts(proc_root, owner.tgid)
        .is_some_and(|f| f.start_ticks == seed::ns_to_ticks(owner.start_ns, hz));
    if alive {
        // What net-tools reads: one read of at most 511 bytes of cmdline.
        let mut cmdline = [0u8; 511];
        let n = std::fs::File::open(proc_root.join(&pid).join("cmdline"))
            .and_then(|mut f| f.read(&mut cmdline))
            .unwrap_or(0);
        return (Liveness::Alive, format_label(pid.as_bytes(), &cmdline[..n]));
    }
    (Liveness::Exited, exited_label(&pid, &owner.comm))
}

/// `PID/comm*`, cut so the whole label fits net-tools' 19 bytes.
pub fn exited_label(pid: &str, comm: &[u8; 16]) -> Vec<u8> {
    let comm = &comm[..comm.iter().position(|&b| b == 0).unwrap_or(comm.len())];
    let mut label = format_label(pid.as_bytes(), comm);
    label.truncate(proto::LABEL_MAX - 1);
    label.push(b'*');
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exited_labels_keep_the_pid_and_mark_the_end() {
        assert_eq!(
            exited_label("42", b"python3\0\0\0\0\0\0\0\0\0"),
            b"42/python3*"
        );
        assert_eq!(
            exited_label("4194304", b"averyverylongcom"),
            b"4194304/averyveryl*"
        );
        assert_eq!(exited_label("7", &[0; 16]), b"7/*");
    }
}
