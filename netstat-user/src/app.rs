//! The run: options in, sources read, renderers out, exit code back.
//!
//! `main` stays tiny; everything here writes to `&mut dyn Write` so a run can be
//! rendered into a `Vec<u8>`.
use std::{
    cell::{Cell, OnceCell, RefCell},
    ffi::OsString,
    io::{self, Write},
    net::IpAddr,
    path::PathBuf,
    time::Instant,
};

use netstat_common::TcpState;

use crate::{
    agent::proto::AnswerError,
    cli::{self, Mode, Options},
    model::{Family, InetProto, InetSocket},
    names::{Resolver, Services, Users},
    render::{
        json,
        sockets::{self as table, Namer, ServiceList, SocketView},
    },
    source::{
        agent::{self as agent_client, AgentOwners},
        netlink::{self, DumpRequest, NetlinkError},
        procfd::ProgramMap,
        procnet::{ProcNet, ReadError},
    },
    system::{self, RunEnv},
};

/// The whole program: returns the exit code. A closed stdout (`| head`) is success.
pub fn main_with(args: impl IntoIterator<Item = OsString>) -> i32 {
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut err = stderr.lock();
    let ran = run(args, &RunEnv::from_system(), &mut out, &mut err);
    let flushed = out.flush();
    let code = match ran {
        Ok(code) => code,
        // A reader that went away (`| head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return 0,
        Err(e) => {
            let _ = writeln!(err, "netstat: write error: {e}");
            return 1;
        }
    };
    match flushed {
        Ok(()) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            let _ = writeln!(err, "netstat: write error: {e}");
            1
        }
    }
}

/// Parses `args` and runs the selected mode.
pub fn run(
    args: impl IntoIterator<Item = OsString>,
    env: &RunEnv,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let (opts, warnings) = match cli::parse(args) {
        Ok(ok) => ok,
        Err(exit) => {
            out.flush()?;
            exit.write(out, err)?;
            return Ok(exit.exit_code());
        }
    };
    cli::write_warnings(err, &warnings)?;
    if let Some(message) = crate::agent::metrics::usage_error(&opts) {
        writeln!(err, "netstat: {message}")?;
        return Ok(3);
    }
    if opts.watch || opts.audit {
        return crate::stream::run(&opts, out, err);
    }
    if opts.agent {
        return crate::agent::run(&opts, err);
    }
    match opts.mode {
        Mode::Sockets => sockets(&opts, env, out, err),
        Mode::Route => {
            let mut names = Resolver::new();
            repeat(&opts, out, |out, _| {
                crate::route::run_once(&opts, env, &mut names, out, err)
            })
        }
        Mode::Interfaces => repeat(&opts, out, |out, first| {
            crate::iface::run_once(&opts, env, first, out, err)
        }),
        Mode::Masquerade => {
            let mut names = Resolver::new();
            repeat(&opts, out, |out, _| {
                crate::masq::run_once(&opts, env, &mut names, out, err)
            })
        }
        // net-tools ignores -c with -s.
        Mode::Statistics => crate::stats::run_once(&opts, env, out, err),
    }
}

/// net-tools' `-c` loop for the modes other than sockets: print, flush, wait, until a
/// round fails (its code is the run's). `round` learns whether it is the first.
fn repeat(
    o: &Options,
    out: &mut dyn Write,
    mut round: impl FnMut(&mut dyn Write, bool) -> io::Result<i32>,
) -> io::Result<i32> {
    let mut first = true;
    loop {
        let rc = round(out, first)?;
        first = false;
        match o.continuous {
            Some(interval) if rc == 0 => {
                out.flush()?;
                std::thread::sleep(interval);
            }
            _ => return Ok(rc),
        }
    }
}

/// The `Namer` backed by /etc/services, the resolver and the user database.
struct SystemNames {
    services: Services,
    resolver: Resolver,
    users: Users,
}

impl Namer for SystemNames {
    fn host(&mut self, addr: IpAddr) -> Option<String> {
        Some(match addr {
            IpAddr::V4(a) => self.resolver.host_v4(a),
            IpAddr::V6(a) => self.resolver.host_v6(a),
        })
    }
    fn service(&self, port: u16, list: ServiceList) -> Option<&str> {
        match list {
            ServiceList::Tcp => self.services.tcp(port),
            ServiceList::Udp => self.services.udp(port),
            ServiceList::Raw => self.services.raw(port),
        }
    }
    fn user(&mut self, uid: u32) -> Option<String> {
        self.users.name(uid)
    }
}

fn view_of(o: &Options) -> SocketView {
    SocketView {
        all: o.all,
        listening: o.listening,
        numeric_hosts: o.numeric_hosts,
        numeric_ports: o.numeric_ports,
        numeric_users: o.numeric_users,
        extend: o.extend > 0,
        programs: o.programs,
        timers: o.timers,
        wide: o.wide,
    }
}

/// net-tools' `ESYSNOT` text.
fn no_support(err: &mut dyn Write, what: &str) -> io::Result<()> {
    writeln!(err, "netstat: no support for `{what}' on this system.")
}

/// Sockets mode: the Internet tables, then unix, then the legacy families.
fn sockets(o: &Options, env: &RunEnv, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<i32> {
    if o.context {
        // Only reachable where SELinux is enabled (parse() answers net-tools' message
        // otherwise); no machine of this project has it, so the column is not built.
        writeln!(
            err,
            "netstat: -Z (SELinux contexts) is not supported by this version"
        )?;
        return Ok(1);
    }
    let view = view_of(o);
    let procnet = ProcNet::new(&env.root);
    let mut names = SystemNames {
        services: Services::load(&env.root.join("etc")),
        resolver: Resolver::new(),
        users: Users::new(),
    };
    loop {
        let rc = sockets_once(o, env, &view, &procnet, &mut names, out, err)?;
        if rc != 0 {
            return Ok(rc);
        }
        match o.continuous {
            Some(interval) => {
                out.flush()?;
                std::thread::sleep(interval);
            }
            None => return Ok(0),
        }
    }
}

#[allow(clippy::too_many_arguments)] // one call site; a struct would only rename them
fn sockets_once(
    o: &Options,
    env: &RunEnv,
    view: &SocketView,
    procnet: &ProcNet,
    names: &mut SystemNames,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let p = &o.protocols;
    // --json: one stamp (time, namespace) for the whole listing.
    let stamp = o.json.then(|| json::Stamp::listing(&env.proc_root()));
    let stamp = stamp.as_ref();
    // net-tools loads the program cache before it reads any table (and again for
    // each -c round); its notes go to stderr before the header.
    // net-tools loads it only for the Internet and unix sections (not for -g alone).
    let owners = if o.programs && (p.tcp || p.sctp || p.udp || p.udplite || p.raw || p.unix) {
        let inet = p.tcp || p.sctp || p.udp || p.udplite || p.raw;
        Some(Owners::find(o, env, inet, out, err)?)
    } else {
        None
    };
    let inet_prog = |s: &InetSocket, at| owners.as_ref().and_then(|w| w.inet(s, at));
    let prog = |inode: u64| owners.as_ref().and_then(|w| w.by_inode(inode));

    if (p.tcp || p.sctp || p.udp || p.udplite || p.raw) && stamp.is_none() {
        table::write_inet_header(out, view)?;
    }
    let inet_tables = [
        (p.tcp, InetProto::Tcp, "AF INET (tcp)"),
        (p.sctp, InetProto::Sctp, "AF INET (sctp)"),
        (p.udp, InetProto::Udp, "AF INET (udp)"),
        (p.udplite, InetProto::UdpLite, "AF INET (udplite)"),
        (p.raw, InetProto::Raw, "AF INET (raw)"),
    ];
    for (wanted, proto, name) in inet_tables {
        if !wanted {
            continue;
        }
        let rc = if proto == InetProto::Sctp {
            sctp(o, view, procnet, out, err)?
        } else {
            inet_table(
                o,
                env,
                proto,
                name,
                procnet,
                &mut |s: &InetSocket, dumped_at, out| {
                    if table::inet_shown(view, s) {
                        let label = inet_prog(s, dumped_at);
                        let label = label.as_ref().map(Label::as_bytes);
                        if let Some(stamp) = stamp {
                            json::sockets::write_inet(out, stamp, view, s, label)?;
                        } else {
                            table::write_inet_row(out, view, names, s, label)?;
                        }
                    }
                    Ok(())
                },
                out,
                err,
            )?
        };
        if rc != 0 {
            return Ok(rc);
        }
    }

    if p.igmp {
        let rc = crate::groups::print(o, env, stamp, &mut names.resolver, out, err)?;
        if rc != 0 {
            return Ok(rc);
        }
    }

    if p.unix {
        if stamp.is_none() {
            table::write_unix_header(out, view)?;
        }
        match procnet.unix() {
            Ok(parsed) => {
                for s in &parsed.rows {
                    if table::unix_shown(view, s) {
                        let label = prog(s.inode);
                        let label = label.as_ref().map(Label::as_bytes);
                        if let Some(stamp) = stamp {
                            json::sockets::write_unix(out, stamp, view, s, label)?;
                        } else {
                            table::write_unix_row(out, view, s, label)?;
                        }
                    }
                }
                report_bogus(out, err, &parsed.bogus)?;
            }
            Err(e) => {
                if let Some(rc) = table_missing(o, "AF UNIX", &e, out, err)? {
                    return Ok(rc);
                }
            }
        }
    }

    // Said without -v too when the agent failed mid-run (killed, restarted, stuck): the
    // owners then came from /proc, and whoever runs the agent wants to know it is down.
    // An absent agent (no socket, or a stale file nobody listens on) stays silent, as
    // net-tools.
    if let Some(Owners::Agent(agent)) = &owners
        && (o.verbose > 0 || agent.failed())
    {
        out.flush()?;
        writeln!(err, "{}", agent.summary())?;
    }

    // Legacy families: their /proc files do not exist on modern kernels.
    let legacy = [
        (
            p.ipx,
            &["proc/net/ipx/socket", "proc/net/ipx"][..],
            "AF IPX",
        ),
        (p.ax25, &["proc/net/ax25"][..], "AF AX25"),
        (p.x25, &["proc/net/x25"][..], "AF X25"),
        (p.netrom, &["proc/net/nr"][..], "AF NETROM"),
        (p.rose, &["proc/net/rose"][..], "AF ROSE"),
    ];
    for (wanted, files, name) in legacy {
        if !wanted {
            continue;
        }
        if files.iter().any(|f| env.root.join(f).exists()) {
            out.flush()?;
            writeln!(
                err,
                "netstat: listing `{name}' sockets is not implemented in this version"
            )?;
            continue;
        }
        if p.explicit || o.verbose > 0 {
            out.flush()?;
            no_support(err, name)?;
        }
        if p.explicit {
            return Ok(1);
        }
    }
    if p.bluetooth {
        out.flush()?;
        err.write_all(
            b"netstat: feature `AF BLUETOOTH' not supported.\n\
              Please recompile `net-tools' with newer kernel source or full configuration.\n",
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// Where the PID/Program name column comes from.
enum Owners {
    Agent(Box<AgentSource>),
    /// net-tools' /proc walk.
    Proc(ProgramMap),
}

/// The running agent's answer, read on a thread while the tables are dumped. A row it
/// does not know gets one more chance: sockets born between the question and the table
/// dump (a busy server's accept queue) are in an answer asked after the row was read,
/// so such a miss refreshes it (once per batch of rows at most, and a bounded number of
/// times per run). Rows the agent never saw (unix sockets, sockets it was not told
/// about), and every row if the answer fails, fall back to one /proc walk, made the
/// first time one is met.
struct AgentSource {
    pending: RefCell<Option<agent_client::Pending>>,
    owners: RefCell<Option<AgentOwners>>,
    failed: RefCell<Option<String>>,
    /// The agent answered with a refusal (set with `failed`).
    refused: Cell<bool>,
    path: PathBuf,
    netns: u32,
    refreshes: Cell<u32>,
    last_query: Cell<Instant>,
    walk: OnceCell<ProgramMap>,
    proc_root: PathBuf,
}

/// At most this many refreshes per run: a steady churn cannot turn one listing into a
/// stream of queries.
const MAX_REFRESHES: u32 = 16;

/// A PID/Program label (net-tools' 19 bytes at most), copied out of its source.
#[derive(Clone, Copy)]
struct Label {
    len: u8,
    buf: [u8; 19],
}

impl Label {
    fn new(b: &[u8]) -> Label {
        let len = b.len().min(19);
        let mut buf = [0; 19];
        buf[..len].copy_from_slice(&b[..len]);
        Label {
            len: len as u8,
            buf,
        }
    }
    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len as usize]
    }
}

impl Owners {
    /// Asks the agent when it can answer (root, the live system), else walks /proc as
    /// net-tools does, with its notes. `-v` says which and why.
    fn find(
        o: &Options,
        env: &RunEnv,
        inet: bool,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> io::Result<Owners> {
        let proc_root = env.proc_root();
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        let path = crate::agent::socket_path();
        let netns = system::own_netns(&proc_root);
        let why_not = if !env.netlink {
            "PROC_ROOT is set".to_string()
        } else if !inet {
            "the agent knows Internet sockets only".to_string()
        } else if euid != 0 {
            "the agent answers root only".to_string()
        } else if netns.is_none() {
            format!("{}/self/ns/net is unreadable", proc_root.display())
        } else {
            let netns = netns.unwrap_or(0);
            let asked = Instant::now();
            match agent_client::ask(&path, netns) {
                Ok(pending) => {
                    return Ok(Owners::Agent(Box::new(AgentSource {
                        pending: RefCell::new(Some(pending)),
                        owners: RefCell::new(None),
                        failed: RefCell::new(None),
                        refused: Cell::new(false),
                        path,
                        netns,
                        refreshes: Cell::new(0),
                        last_query: Cell::new(asked),
                        walk: OnceCell::new(),
                        proc_root,
                    })));
                }
                Err(e) => e.to_string(),
            }
        };
        if o.verbose > 0 {
            out.flush()?;
            writeln!(err, "netstat: -p: owners from /proc ({why_not})")?;
        }
        let (map, note) = ProgramMap::scan(&proc_root);
        if let Some(msg) = note.message() {
            out.flush()?;
            err.write_all(msg.as_bytes())?;
        }
        Ok(Owners::Proc(map))
    }

    fn inet(&self, s: &InetSocket, dumped_at: Instant) -> Option<Label> {
        match self {
            Owners::Agent(agent) => agent.inet(s, dumped_at),
            Owners::Proc(map) => map.get_bytes(s.inode).map(Label::new),
        }
    }

    fn by_inode(&self, inode: u64) -> Option<Label> {
        match self {
            Owners::Agent(agent) => agent.by_inode(inode),
            Owners::Proc(map) => map.get_bytes(inode).map(Label::new),
        }
    }
}

impl AgentSource {
    /// The answer, once it has arrived (`None` if it failed).
    fn answer(&self) -> std::cell::Ref<'_, Option<AgentOwners>> {
        if let Some(pending) = self.pending.borrow_mut().take() {
            match pending.wait() {
                Ok(found) => *self.owners.borrow_mut() = Some(found),
                Err(e) => {
                    // A refusal is the agent's rule (not root, another PID namespace),
                    // not a fault: the run is then a plain net-tools one.
                    self.refused.set(matches!(
                        e,
                        agent_client::QueryError::Answer {
                            source: AnswerError::Refused(_),
                            ..
                        }
                    ));
                    *self.failed.borrow_mut() = Some(e.to_string());
                }
            }
        }
        self.owners.borrow()
    }

    fn label(&self, s: &InetSocket) -> Option<Label> {
        self.answer()
            .as_ref()
            .and_then(|a| a.label(s))
            .map(Label::new)
    }

    /// Whether a question to the agent failed (its answer, or a later refresh).
    fn failed(&self) -> bool {
        let _ = self.answer();
        self.failed.borrow().is_some() && !self.refused.get()
    }

    /// What `-v` says at the end of the listing (one line).
    fn summary(&self) -> String {
        let _ = self.answer();
        match (&*self.owners.borrow(), &*self.failed.borrow()) {
            (Some(found), None) => format!(
                "netstat: -p: owners from the agent ({}, {} sockets, {} refreshes)",
                self.path.display(),
                found.len(),
                self.refreshes.get()
            ),
            (Some(found), Some(why)) => format!(
                "netstat: -p: owners from the agent ({}, {} sockets), the rest from /proc \
                 (asking it again failed: {why})",
                self.path.display(),
                found.len(),
            ),
            (None, why) => format!(
                "netstat: -p: owners from /proc (the agent's answer failed: {})",
                why.as_deref().unwrap_or("unknown")
            ),
        }
    }

    fn inet(&self, s: &InetSocket, dumped_at: Instant) -> Option<Label> {
        if let Some(l) = self.label(s) {
            return Some(l);
        }
        if self.failed.borrow().is_some() {
            return self.by_inode(s.inode);
        }
        if s.cookie == 0 {
            // A /proc row (raw, tcp with -o): joined by inode or tuple only.
            return self.by_inode(s.inode);
        }
        // Only an answer started after the row was read can know more about it, and
        // only about a socket the programs could have seen being made: not a request
        // sock (SYN_RECV without a file) nor a TIME_WAIT (whose record, if any, was
        // in the answer already).
        let may_be_new = !(s.proto == InetProto::Tcp
            && (s.state == TcpState::TimeWait as u8
                || (s.state == TcpState::SynRecv as u8 && s.inode == 0)));
        if may_be_new && self.refreshes.get() < MAX_REFRESHES && self.last_query.get() < dumped_at {
            self.refreshes.set(self.refreshes.get() + 1);
            self.last_query.set(Instant::now());
            match agent_client::query(&self.path, self.netns) {
                Ok(fresh) => {
                    *self.owners.borrow_mut() = Some(fresh);
                    if let Some(l) = self.label(s) {
                        return Some(l);
                    }
                }
                // A failing agent is not asked again in this run; what it did not
                // know comes from /proc, as without an agent.
                Err(e) => {
                    self.refreshes.set(MAX_REFRESHES);
                    *self.failed.borrow_mut() = Some(e.to_string());
                    return self.by_inode(s.inode);
                }
            }
        }
        // The agent answered and does not know this socket. Without a file (inode 0:
        // TIME_WAIT, orphans) net-tools prints `-` too. With one, someone may hold it
        // that the agent never saw: a socket made before it started in a namespace it
        // could not enter (the packaged unit has no CAP_SYS_ADMIN for setns), which
        // net-tools names from /proc. Walked once per run, and only then.
        self.by_inode(s.inode)
    }

    fn by_inode(&self, inode: u64) -> Option<Label> {
        if inode == 0 {
            return None;
        }
        // As root the walk has nothing to say on stderr.
        self.walk
            .get_or_init(|| ProgramMap::scan(&self.proc_root).0)
            .get_bytes(inode)
            .map(Label::new)
    }
}

/// What net-tools' `INFO_GUTS1` does when a table's file cannot be opened.
/// Returns `Some(rc)` when the run must stop.
fn table_missing(
    o: &Options,
    name: &str,
    e: &ReadError,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Option<i32>> {
    out.flush()?;
    if !e.is_absent() {
        // perror(path), return -1.
        writeln!(err, "{e}")?;
        return Ok(Some(255));
    }
    let p = &o.protocols;
    if !p.noprot && (p.explicit || o.verbose > 0) {
        no_support(err, name)?;
    }
    Ok((!p.noprot && p.explicit).then_some(1))
}

fn report_bogus(
    out: &mut dyn Write,
    err: &mut dyn Write,
    bogus: &[crate::source::procnet::BogusLine],
) -> io::Result<()> {
    if !bogus.is_empty() {
        out.flush()?;
        for b in bogus {
            writeln!(err, "{}", b.message())?;
        }
    }
    Ok(())
}

/// Renders one row; the `Instant` is when the row was read from the kernel.
type RowFn<'a> = dyn FnMut(&InetSocket, Instant, &mut dyn Write) -> io::Result<()> + 'a;

/// One Internet protocol, IPv4 then IPv6 (net-tools' `INFO_GUTS6`): netlink first,
/// /proc when the kernel has no diag module for it (raw here) or netlink fails.
#[allow(clippy::too_many_arguments)] // mirrors INFO_GUTS6's inputs
fn inet_table(
    o: &Options,
    env: &RunEnv,
    proto: InetProto,
    name: &str,
    procnet: &ProcNet,
    row: &mut RowFn<'_>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut rc = 0;
    for family in [Family::Inet, Family::Inet6] {
        let wanted = match family {
            Family::Inet => o.inet,
            Family::Inet6 => o.inet6,
        };
        if !wanted {
            continue;
        }
        // With -o, tcp comes from /proc: inet_diag has no copy of the retransmit count
        // /proc prints for SYN_RECV request sockets (see source::netlink), and -o is not
        // a hot path.
        if env.netlink && !(o.timers && proto == InetProto::Tcp) {
            let req = DumpRequest {
                proto,
                family,
                want_timers: o.timers,
            };
            match pipelined_dump(&req, row, out)? {
                DumpOutcome::Done => continue,
                // No diag module for this protocol (raw on many kernels): /proc has it.
                DumpOutcome::Failed {
                    error: NetlinkError::Unsupported { .. },
                    delivered: false,
                } => {}
                // Anything else before a row was printed: fall back as ss does, and say why with -v.
                DumpOutcome::Failed {
                    error,
                    delivered: false,
                } => {
                    if o.verbose > 0 {
                        out.flush()?;
                        writeln!(err, "netstat: netlink dump failed ({error}); reading /proc")?;
                    }
                }
                // Rows were printed already: reading /proc now would print them twice.
                DumpOutcome::Failed {
                    error,
                    delivered: true,
                } => {
                    out.flush()?;
                    writeln!(
                        err,
                        "netstat: the netlink dump of {name} stopped midway: {error}"
                    )?;
                    return Ok(1);
                }
            }
        }
        let read_at = Instant::now();
        match procnet.inet(proto, family) {
            Ok(parsed) => {
                for s in &parsed.rows {
                    row(s, read_at, out)?;
                }
                report_bogus(out, err, &parsed.bogus)?;
            }
            // Only the IPv4 file's absence is reported (INFO_GUTS2 is silent).
            Err(e) if family == Family::Inet => {
                if let Some(code) = table_missing(o, name, &e, out, err)? {
                    if code == 255 {
                        return Ok(code);
                    }
                    rc = code;
                }
            }
            Err(e) if !e.is_absent() => {
                out.flush()?;
                writeln!(err, "{e}")?;
                return Ok(255);
            }
            Err(_) => {}
        }
    }
    Ok(rc)
}

enum DumpOutcome {
    Done,
    Failed {
        error: NetlinkError,
        /// Some rows reached the renderer before the failure.
        delivered: bool,
    },
}

/// Runs the sock_diag dump on a second thread and renders its batches as they arrive:
/// the kernel fills the next datagram while this thread formats the last one (at 100k
/// sockets this takes the render time off the wall time on a 2-core machine).
fn pipelined_dump(
    req: &DumpRequest,
    row: &mut RowFn<'_>,
    out: &mut dyn Write,
) -> io::Result<DumpOutcome> {
    let (tx, rx) = std::sync::mpsc::sync_channel::<(Instant, Vec<InetSocket>)>(64);
    let req = *req;
    std::thread::scope(|scope| {
        // A failed send means the renderer stopped (e.g. a closed pipe): stop dumping.
        let dumper = scope.spawn(move || {
            netlink::dump_each(&req, |batch| tx.send((Instant::now(), batch)).is_ok())
        });
        let mut delivered = false;
        let mut rendered: io::Result<()> = Ok(());
        'batches: for (dumped_at, batch) in rx {
            delivered = true;
            for s in &batch {
                if let Err(e) = row(s, dumped_at, out) {
                    rendered = Err(e);
                    break 'batches;
                }
            }
        }
        let dumped = dumper
            .join()
            .unwrap_or_else(|_| Err(NetlinkError::Malformed("the dump thread panicked".into())));
        rendered?;
        Ok(match dumped {
            Ok(()) => DumpOutcome::Done,
            Err(error) => DumpOutcome::Failed { error, delivered },
        })
    })
}

/// SCTP (`sctp_info()`): endpoints with -l/-a, associations without -l or with -a.
/// Rows are not rendered yet: no kernel of this project's machines has SCTP, so the
/// listing code could not be checked against net-tools; its presence is reported.
fn sctp(
    o: &Options,
    view: &SocketView,
    procnet: &ProcNet,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let mut files = Vec::new();
    if view.all || view.listening {
        files.push("eps");
    }
    if view.all || !view.listening {
        files.push("assocs");
    }
    let mut rc = 0;
    for f in files {
        let path = procnet.inet_path(InetProto::Sctp, Family::Inet);
        let path = path.with_file_name(f);
        match std::fs::metadata(&path) {
            Ok(_) => {
                out.flush()?;
                writeln!(
                    err,
                    "netstat: SCTP rows are not listed by this version ({} exists)",
                    path.display()
                )?;
            }
            Err(source) => {
                let e = ReadError { path, source };
                if let Some(code) = table_missing(o, "AF INET (sctp)", &e, out, err)? {
                    rc = code;
                }
                if rc != 0 {
                    return Ok(rc);
                }
            }
        }
    }
    Ok(rc)
}
