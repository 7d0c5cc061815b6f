//! `netstat --agent --metrics ADDR:PORT|unix:PATH`: the agent's Prometheus endpoints.
//!
//! Data flows one way: the agent's loop (the only owner of the eBPF maps) refreshes a
//! [`Metrics`] model — the programs' counters every [`COUNTERS_EVERY`], the socket
//! gauges from the owner-map dump its garbage collection makes anyway every
//! [`super::GC_EVERY`], the query counts as queries are served — and one server thread
//! encodes that model for each scrape with the official client library
//! (`prometheus-client`: registry, types, OpenMetrics text encoding). The thread never
//! touches a map, so a slow or hostile client can delay other scrapes, never a
//! `netstat -p` query, and a scrape costs no map read.
//!
//! The HTTP side is the least HTTP/1.1 a scraper needs: `GET /metrics` (or `HEAD`), one
//! connection at a time, the request read within [`REQUEST_TIMEOUT`] and
//! [`REQUEST_MAX`] bytes, the answer written within [`WRITE_TIMEOUT`], then closed.
//!
//! **Who may read what.** The project's rule is that what the agent knows about other
//! users' processes is root's only (the query socket is 0600 and checks the peer's
//! uid). So:
//! * every endpoint serves aggregates only: sockets by protocol, family and state,
//!   counters, the hooks in use. Those name no process and no user, and any local user
//!   already reads the same from `/proc/net/tcp` and `nstat`; a TCP endpoint (any
//!   address, loopback advised) is therefore fine for them;
//! * `--metrics-owners` adds sockets per process name and uid. Those are exactly what the
//!   rule protects, so they are served only on `unix:` endpoints, which are made like the
//!   query socket (root's directory, mode 0600) and refuse any peer whose uid is not 0
//!   (SO_PEERCRED, `403`), even if someone loosens the mode. The option is refused
//!   without such an endpoint rather than quietly publishing them on a TCP port that
//!   every local user (or the network) could read. An operator who wants them in a
//!   remote Prometheus must put a root-run relay in front, knowingly.
use std::{
    collections::HashMap,
    io::{self, Read, Write},
    net::{TcpListener, TcpStream},
    os::{
        fd::{AsRawFd, RawFd},
        unix::net::{UnixListener, UnixStream},
    },
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use netstat_common::{
    AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP, SockKey, SockRecord, TcpState, flags,
};
use prometheus_client::{
    encoding::{EncodeLabelSet, text},
    metrics::{counter::Counter, family::Family, gauge::Gauge, info::Info},
    registry::Registry,
};

use crate::{
    cli::MetricsAddr,
    cli::Options,
    ebpf::owners::{MapFill, ProbeStats},
};

/// How often the loop copies the programs' counters into the model (a few syscalls).
pub const COUNTERS_EVERY: Duration = Duration::from_secs(1);
/// The whole request head must arrive within this, in at most [`REQUEST_MAX`] bytes.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
pub const REQUEST_MAX: usize = 8192;
/// The whole answer must be taken within this.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// At most this many (comm, uid) series; the smallest of the rest are summed into
/// `comm="(other)",uid="(other)"` (a uid label is never that: real ones are numbers).
pub const OWNER_SERIES_MAX: usize = 500;
/// What [`text::encode`] writes: the OpenMetrics text format, which every Prometheus
/// since 2.5 asks for first.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The usage error in the metrics options, if any (exit code 3).
pub fn usage_error(o: &Options) -> Option<String> {
    if !o.agent && (!o.metrics.is_empty() || o.metrics_owners) {
        return Some("--metrics and --metrics-owners apply to --agent only".into());
    }
    if o.metrics_owners && !o.metrics.iter().any(|m| matches!(m, MetricsAddr::Unix(_))) {
        return Some(
            "--metrics-owners: per-owner metrics name other users' processes, which only root \
             may read: give a root-only --metrics unix:PATH (TCP endpoints never serve them)"
                .into(),
        );
    }
    None
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SocketLabels {
    proto: String,
    family: String,
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OwnerLabels {
    comm: String,
    uid: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MapLabels {
    map: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HookLabels {
    hook: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResultLabels {
    result: &'static str,
}

/// How a query on the agent's socket ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryResult {
    Answered,
    /// Not root: told to walk /proc.
    Refused,
    /// A bad request, a client gone, a map read failing.
    Failed,
}

impl QueryResult {
    fn label(self) -> &'static str {
        match self {
            QueryResult::Answered => "answered",
            QueryResult::Refused => "refused",
            QueryResult::Failed => "failed",
        }
    }
}

/// The metrics model: what every endpoint serves, plus the owner series for the
/// root-only ones.
#[derive(Debug)]
pub struct Metrics {
    public: Registry,
    owners: Registry,
    sockets: Family<SocketLabels, Gauge>,
    socket_owners: Family<OwnerLabels, Gauge>,
    tracked: Gauge,
    transitions: Counter,
    passive_opens: Counter,
    map_full: Family<MapLabels, Counter>,
    map_entries: Family<MapLabels, Gauge>,
    map_capacity: Family<MapLabels, Gauge>,
    lost: Family<ReasonLabels, Counter>,
    queries: Family<ResultLabels, Counter>,
}

impl Metrics {
    /// `attached`: where each program is attached ([`crate::ebpf::owners::OwnerProbe`]).
    pub fn new(attached: &[String]) -> Metrics {
        let m = Metrics {
            public: Registry::with_prefix("netstat"),
            owners: Registry::with_prefix("netstat"),
            sockets: Family::default(),
            socket_owners: Family::default(),
            tracked: Gauge::default(),
            transitions: Counter::default(),
            passive_opens: Counter::default(),
            map_full: Family::default(),
            map_entries: Family::default(),
            map_capacity: Family::default(),
            lost: Family::default(),
            queries: Family::default(),
        };
        // Every series that can exist from the start, so rate() has a first point.
        for map in ["owners", "timewait", "listeners", "flows"] {
            let _ = m.map_full.get_or_create(&MapLabels { map });
        }
        for reason in LOST_REASONS {
            let _ = m.lost.get_or_create(&ReasonLabels { reason });
        }
        for r in [
            QueryResult::Answered,
            QueryResult::Refused,
            QueryResult::Failed,
        ] {
            let _ = m.queries.get_or_create(&ResultLabels { result: r.label() });
        }
        let hooks = Family::<HookLabels, Gauge>::default();
        for at in attached {
            hooks.get_or_create(&HookLabels { hook: at.clone() }).set(1);
        }
        m.register(hooks)
    }

    /// Registers the metrics (the registries hold clones of the same atomics).
    fn register(mut self, hooks: Family<HookLabels, Gauge>) -> Metrics {
        let r = &mut self.public;
        r.register(
            "build",
            "The agent's version",
            Info::new([("version", env!("CARGO_PKG_VERSION"))]),
        );
        r.register(
            "attached",
            "Where the agent's eBPF programs are attached (the attach method and point), 1 each",
            hooks,
        );
        r.register(
            "sockets",
            "Sockets in the agent's owner map by protocol, family and state (TCP state as the \
             kernel names it, TIME_WAIT for timewait handovers; - for other protocols), \
             every network namespace",
            self.sockets.clone(),
        );
        r.register(
            "tracked_sockets",
            "Records in the agent's owner map",
            self.tracked.clone(),
        );
        r.register(
            "state_transitions",
            "TCP state changes the state program ran for, every namespace",
            self.transitions.clone(),
        );
        r.register(
            "passive_opens",
            "Passively opened TCP connections seen established (sock_ops)",
            self.passive_opens.clone(),
        );
        r.register(
            "map_full",
            "Entries an eBPF map had no room for: sockets shown without an owner (owners: \
             the live owner map at capacity or out of memory in a burst; timewait: TIME_WAIT \
             records)",
            self.map_full.clone(),
        );
        r.register(
            "map_entries",
            "Records in the owner maps (owners: live sockets, timewait: TIME_WAIT)",
            self.map_entries.clone(),
        );
        r.register(
            "map_capacity",
            "Capacity of the owner maps, in records",
            self.map_capacity.clone(),
        );
        r.register(
            "lost_events",
            "Changes the programs could not follow: no_cookie (a socket older than the agent \
             and not seeded), untracked_end (a connection ended without a record), read_failed \
             (a kernel read failed), recursion_miss (the kernel skipped the state program)",
            self.lost.clone(),
        );
        r.register(
            "agent_queries",
            "Queries on the agent's socket by result (refused: not root)",
            self.queries.clone(),
        );
        self.owners.register(
            "socket_owners",
            "Sockets in the agent's owner map by the owner's process name and real uid \
             (- for an unknown owner); root-only endpoints",
            self.socket_owners.clone(),
        );
        self
    }

    /// Copies the programs' counters (totals since load) and the kernel's count of
    /// state-program runs it skipped.
    pub fn set_counters(&self, st: &ProbeStats, recursion_misses: u64) {
        let advance = |c: &Counter, total: u64| {
            c.inc_by(total.saturating_sub(c.get()));
        };
        advance(&self.transitions, st.transitions);
        advance(&self.passive_opens, st.passive);
        for (map, total) in [
            ("owners", st.owners_full + st.owners_nomem),
            ("timewait", st.timewait_full),
            ("listeners", st.listeners_full),
            ("flows", st.flows_full),
        ] {
            advance(&self.map_full.get_or_create(&MapLabels { map }), total);
        }
        for (reason, total) in LOST_REASONS.into_iter().zip([
            st.no_cookie,
            st.untracked_end,
            st.read_failed,
            recursion_misses,
        ]) {
            advance(&self.lost.get_or_create(&ReasonLabels { reason }), total);
        }
    }

    /// Recounts the socket gauges from a dump of the owner map.
    pub fn set_sockets(&self, records: &[(SockKey, SockRecord)]) {
        let mut by_state: HashMap<SocketLabels, i64> = HashMap::new();
        let mut by_owner: HashMap<OwnerLabels, i64> = HashMap::new();
        for (_, rec) in records {
            *by_state.entry(socket_labels(rec)).or_default() += 1;
            *by_owner.entry(owner_labels(rec)).or_default() += 1;
        }
        replace(&self.sockets, by_state);
        replace(&self.socket_owners, cap_owners(by_owner, OWNER_SERIES_MAX));
        self.tracked.set(records.len() as i64);
    }

    /// How full the owner maps are.
    pub fn set_fill(&self, f: &MapFill) {
        for (map, n, max) in [
            ("owners", f.owners, f.owners_max),
            ("timewait", f.timewait, f.timewait_max),
        ] {
            let labels = MapLabels { map };
            self.map_entries.get_or_create(&labels).set(n as i64);
            self.map_capacity.get_or_create(&labels).set(i64::from(max));
        }
    }

    pub fn query(&self, result: QueryResult) {
        self.queries
            .get_or_create(&ResultLabels {
                result: result.label(),
            })
            .inc();
    }

    /// The exposition: every endpoint's metrics, and the owner series if `owners`.
    pub fn encode(&self, owners: bool) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; the encoder's errors come from the writer.
        let _ = text::encode_registry(&mut out, &self.public);
        if owners {
            let _ = text::encode_registry(&mut out, &self.owners);
        }
        let _ = text::encode_eof(&mut out);
        out
    }
}

const LOST_REASONS: [&str; 4] = [
    "no_cookie",
    "untracked_end",
    "read_failed",
    "recursion_miss",
];

/// Sets a family to exactly `values`: series no longer there are removed.
fn replace<S: Clone + std::hash::Hash + Eq>(family: &Family<S, Gauge>, values: HashMap<S, i64>) {
    family.clear();
    for (labels, n) in values {
        family.get_or_create(&labels).set(n);
    }
}

fn socket_labels(rec: &SockRecord) -> SocketLabels {
    let proto = match rec.protocol {
        IPPROTO_TCP => "tcp".to_string(),
        IPPROTO_UDP => "udp".to_string(),
        1 => "icmp".to_string(),
        58 => "icmpv6".to_string(),
        136 => "udplite".to_string(),
        132 => "sctp".to_string(),
        255 => "raw".to_string(),
        n => n.to_string(),
    };
    let family = match rec.family {
        AF_INET => "inet".to_string(),
        AF_INET6 => "inet6".to_string(),
        n => n.to_string(),
    };
    let state = if rec.protocol != IPPROTO_TCP {
        "-"
    } else if rec.flags & flags::TIMEWAIT != 0 {
        TcpState::TimeWait.name()
    } else {
        TcpState::from_kernel(rec.state).map_or("-", TcpState::name)
    };
    SocketLabels {
        proto,
        family,
        state: state.to_string(),
    }
}

fn owner_labels(rec: &SockRecord) -> OwnerLabels {
    let o = &rec.owner;
    if o.tgid == 0 {
        return OwnerLabels {
            comm: "-".into(),
            uid: "-".into(),
        };
    }
    let end = o.comm.iter().position(|&b| b == 0).unwrap_or(o.comm.len());
    OwnerLabels {
        comm: String::from_utf8_lossy(&o.comm[..end]).into_owned(),
        uid: o.uid.to_string(),
    }
}

/// The `max` largest series (ties by labels, for a stable choice) and the rest summed.
fn cap_owners(series: HashMap<OwnerLabels, i64>, max: usize) -> HashMap<OwnerLabels, i64> {
    if series.len() <= max {
        return series;
    }
    let mut all: Vec<(OwnerLabels, i64)> = series.into_iter().collect();
    all.sort_by(|a, b| {
        b.1.cmp(&a.1)
            .then_with(|| (&a.0.comm, &a.0.uid).cmp(&(&b.0.comm, &b.0.uid)))
    });
    let rest: i64 = all[max - 1..].iter().map(|(_, n)| n).sum();
    all.truncate(max - 1);
    let mut out: HashMap<OwnerLabels, i64> = all.into_iter().collect();
    out.insert(
        OwnerLabels {
            comm: "(other)".into(),
            uid: "(other)".into(),
        },
        rest,
    );
    out
}

// ---------------------------------------------------------------------------------
// The endpoints

enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// A bound `--metrics` endpoint.
pub struct Endpoint {
    listener: Listener,
    /// Serves the owner series (a `unix:` endpoint with `--metrics-owners`).
    owners: bool,
    /// Where it is, for the ready line (`http://ADDR:PORT/metrics` with the real port).
    pub description: String,
    _remove: Option<super::RemoveOnDrop>,
}

/// Binds one endpoint (before the slow start, so a taken port fails at once). A unix
/// socket is made as the query socket is: root's directory, no live socket replaced,
/// mode 0600.
pub fn bind(addr: &MetricsAddr, owners: bool) -> io::Result<Endpoint> {
    match addr {
        MetricsAddr::Tcp(a) => {
            let l = TcpListener::bind(a)?;
            let local = l.local_addr()?;
            Ok(Endpoint {
                listener: Listener::Tcp(l),
                owners: false,
                description: format!("http://{local}/metrics"),
                _remove: None,
            })
        }
        MetricsAddr::Unix(path) => {
            let l = super::bind(path)?;
            Ok(Endpoint {
                listener: Listener::Unix(l),
                owners,
                description: format!(
                    "unix:{} (root only{})",
                    path.display(),
                    if owners { ", with owners" } else { "" }
                ),
                _remove: Some(super::RemoveOnDrop(path.clone())),
            })
        }
    }
}

impl Endpoint {
    fn fd(&self) -> RawFd {
        match &self.listener {
            Listener::Tcp(l) => l.as_raw_fd(),
            Listener::Unix(l) => l.as_raw_fd(),
        }
    }

    /// Accepts one connection and answers it; errors end that connection only.
    fn serve_one(&self, metrics: &Mutex<Metrics>) -> io::Result<()> {
        match &self.listener {
            Listener::Tcp(l) => {
                let (mut s, _) = l.accept()?;
                respond(&mut s, metrics, self.owners, true)
            }
            Listener::Unix(l) => {
                let (mut s, _) = l.accept()?;
                let root = super::peer_uid(&s)? == 0;
                respond(&mut s, metrics, self.owners, root)
            }
        }
    }
}

/// A stream whose timeouts can be set (TCP and unix alike).
trait Timed: Read + Write {
    fn read_timeout(&self, d: Duration) -> io::Result<()>;
    fn write_timeout(&self, d: Duration) -> io::Result<()>;
    fn shutdown_write(&self) -> io::Result<()>;
}

impl Timed for TcpStream {
    fn read_timeout(&self, d: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(d))
    }
    fn write_timeout(&self, d: Duration) -> io::Result<()> {
        self.set_write_timeout(Some(d))
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl Timed for UnixStream {
    fn read_timeout(&self, d: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(d))
    }
    fn write_timeout(&self, d: Duration) -> io::Result<()> {
        self.set_write_timeout(Some(d))
    }
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

/// What a request head asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /metrics` (`head`: `HEAD /metrics`, the same without the body).
    Metrics {
        head: bool,
    },
    NotFound,
    MethodNotAllowed,
    BadRequest,
}

/// Routes a request head (the bytes up to the blank line). Pure, for tests.
pub fn route(head: &[u8]) -> Route {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Route::BadRequest;
    };
    if !version.starts_with(b"HTTP/1.") || target.first() != Some(&b'/') {
        return Route::BadRequest;
    }
    let head = match method {
        b"GET" => false,
        b"HEAD" => true,
        _ => return Route::MethodNotAllowed,
    };
    let path = target.split(|&b| b == b'?').next().unwrap_or_default();
    if path == b"/metrics" {
        Route::Metrics { head }
    } else {
        Route::NotFound
    }
}

/// Reads a request head: `Ok(None)` when it is too long.
fn read_head(s: &mut impl Timed) -> io::Result<Option<Vec<u8>>> {
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    let mut buf = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&buf) {
            buf.truncate(end);
            return Ok(Some(buf));
        }
        if buf.len() >= REQUEST_MAX {
            return Ok(None);
        }
        // The timeout left, not a fresh one per read: a client dribbling a byte at a
        // time still gets REQUEST_TIMEOUT in all.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.read_timeout(left)?;
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head ends (the blank line), if it does.
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn lock(m: &Mutex<Metrics>) -> MutexGuard<'_, Metrics> {
    // A panic elsewhere leaves the model as it was: still fine to read.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn respond(
    s: &mut impl Timed,
    metrics: &Mutex<Metrics>,
    owners: bool,
    allowed: bool,
) -> io::Result<()> {
    let (status, body, content_type, send_body) = match read_head(s)? {
        None => (
            "431 Request Header Fields Too Large",
            String::new(),
            "text/plain",
            true,
        ),
        Some(_) if !allowed => (
            "403 Forbidden",
            "the agent's metrics socket answers root only\n".to_string(),
            "text/plain",
            true,
        ),
        Some(head) => match route(&head) {
            Route::Metrics { head } => {
                // Encoded under the lock (quick), written without it (the client's pace).
                let body = lock(metrics).encode(owners);
                ("200 OK", body, CONTENT_TYPE, !head)
            }
            Route::NotFound => (
                "404 Not Found",
                "metrics are at /metrics\n".into(),
                "text/plain",
                true,
            ),
            Route::MethodNotAllowed => {
                ("405 Method Not Allowed", String::new(), "text/plain", true)
            }
            Route::BadRequest => ("400 Bad Request", String::new(), "text/plain", true),
        },
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    if send_body {
        bytes.extend_from_slice(body.as_bytes());
    }
    let deadline = Instant::now() + WRITE_TIMEOUT;
    for chunk in bytes.chunks(16 << 10) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        s.write_timeout(left)?;
        s.write_all(chunk)?;
    }
    s.flush()?;
    if !status.starts_with("200") {
        linger(s);
    }
    Ok(())
}

/// After an error answer the client may still be sending (an oversized head, a body):
/// closing with unread bytes would make the kernel send a reset, which can destroy the
/// answer before the client reads it. So: end our side, then read what comes, briefly.
fn linger(s: &mut impl Timed) {
    const LINGER: Duration = Duration::from_millis(500);
    const DISCARD_MAX: usize = 64 << 10;
    if s.shutdown_write().is_err() {
        return;
    }
    let deadline = Instant::now() + LINGER;
    let mut chunk = [0u8; 4096];
    let mut discarded = 0;
    while discarded < DISCARD_MAX {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.read_timeout(left).is_err() {
            return;
        }
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => discarded += n,
        }
    }
}

/// The thread serving the endpoints, stopped by [`Server::stop`] (or a stop signal).
pub struct Server {
    pub metrics: Arc<Mutex<Metrics>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(metrics: Metrics, endpoints: Vec<Endpoint>) -> io::Result<Server> {
        let metrics = Arc::new(Mutex::new(metrics));
        let done = Arc::new(AtomicBool::new(false));
        let (m, d) = (Arc::clone(&metrics), Arc::clone(&done));
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || serve(&m, &endpoints, &d))?;
        Ok(Server {
            metrics,
            done,
            thread: Some(thread),
        })
    }

    pub fn with<T>(&self, f: impl FnOnce(&Metrics) -> T) -> T {
        f(&lock(&self.metrics))
    }

    /// Ends the thread (within its poll timeout) and removes the unix sockets.
    pub fn stop(mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(metrics: &Mutex<Metrics>, endpoints: &[Endpoint], done: &AtomicBool) {
    let mut fds: Vec<libc::pollfd> = endpoints
        .iter()
        .map(|e| libc::pollfd {
            fd: e.fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    while !done.load(Ordering::Relaxed) && !crate::stop::requested() {
        // SAFETY: `fds` is a valid array of fds.len() pollfds for the call.
        let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 500) };
        if rc <= 0 {
            continue;
        }
        for (e, p) in endpoints.iter().zip(&mut fds) {
            if p.revents & libc::POLLIN != 0 {
                // One client's failure (timeout, reset) is its own business.
                let _ = e.serve_one(metrics);
            }
            p.revents = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use netstat_common::Owner;

    fn rec(protocol: u16, family: u16, state: u8, comm: &[u8], uid: u32) -> SockRecord {
        let mut o = Owner {
            tgid: if comm.is_empty() { 0 } else { 100 },
            uid,
            ..Owner::default()
        };
        o.comm[..comm.len()].copy_from_slice(comm);
        SockRecord {
            owner: o,
            protocol,
            family,
            state,
            ..SockRecord::default()
        }
    }

    fn records() -> Vec<(SockKey, SockRecord)> {
        let mut tw = rec(IPPROTO_TCP, AF_INET, TcpState::Close as u8, b"curl", 1000);
        tw.flags = flags::TIMEWAIT;
        [
            rec(IPPROTO_TCP, AF_INET, 1, b"nginx", 33),
            rec(IPPROTO_TCP, AF_INET, 1, b"nginx", 33),
            rec(IPPROTO_TCP, AF_INET6, 10, b"nginx", 33),
            rec(IPPROTO_UDP, AF_INET, 7, b"dns \"x\"\\", 0),
            rec(IPPROTO_TCP, AF_INET, 3, b"", 0),
            tw,
        ]
        .into_iter()
        .enumerate()
        .map(|(i, r)| {
            (
                SockKey {
                    cookie: i as u64 + 1,
                    netns: 1,
                    _pad: 0,
                },
                r,
            )
        })
        .collect()
    }

    fn sample_lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn sockets_are_counted_by_protocol_family_and_state() {
        let m = Metrics::new(&["tracepoint sock:inet_sock_set_state".to_string()]);
        m.set_sockets(&records());
        let text = m.encode(false);
        let samples = sample_lines(&text);
        for want in [
            r#"netstat_sockets{proto="tcp",family="inet",state="ESTABLISHED"} 2"#,
            r#"netstat_sockets{proto="tcp",family="inet6",state="LISTEN"} 1"#,
            r#"netstat_sockets{proto="udp",family="inet",state="-"} 1"#,
            r#"netstat_sockets{proto="tcp",family="inet",state="SYN_RECV"} 1"#,
            r#"netstat_sockets{proto="tcp",family="inet",state="TIME_WAIT"} 1"#,
            "netstat_tracked_sockets 6",
            r#"netstat_attached{hook="tracepoint sock:inet_sock_set_state"} 1"#,
            r#"netstat_agent_queries_total{result="answered"} 0"#,
        ] {
            assert!(samples.contains(&want), "{want} missing from\n{text}");
        }
        assert!(text.contains("# TYPE netstat_sockets gauge\n"), "{text}");
        assert!(
            text.contains("# TYPE netstat_state_transitions counter\n"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert_eq!(text.matches("# EOF").count(), 1);
        // Fewer records later: series that emptied are gone, not left at their old value.
        m.set_sockets(&records()[..1]);
        let text = m.encode(false);
        assert!(!text.contains("LISTEN"), "{text}");
        assert!(text.contains("netstat_tracked_sockets 1\n"), "{text}");
    }

    #[test]
    fn owner_series_only_where_asked_and_escaped() {
        let m = Metrics::new(&[]);
        m.set_sockets(&records());
        let public = m.encode(false);
        assert!(!public.contains("socket_owners"), "{public}");
        assert!(!public.contains("nginx"), "{public}");
        assert!(!public.contains("uid="), "{public}");
        let root = m.encode(true);
        let samples = sample_lines(&root);
        for want in [
            r#"netstat_socket_owners{comm="nginx",uid="33"} 3"#,
            r#"netstat_socket_owners{comm="-",uid="-"} 1"#,
            r#"netstat_socket_owners{comm="curl",uid="1000"} 1"#,
            // A comm is any 15 bytes: quotes and backslashes are escaped.
            r#"netstat_socket_owners{comm="dns \"x\"\\",uid="0"} 1"#,
        ] {
            assert!(samples.contains(&want), "{want} missing from\n{root}");
        }
        assert!(root.ends_with("# EOF\n"));
        assert_eq!(root.matches("# EOF").count(), 1);
    }

    #[test]
    fn counters_follow_the_kernel_totals() {
        let m = Metrics::new(&[]);
        let mut st = ProbeStats {
            transitions: 40,
            passive: 3,
            owners_full: 2,
            owners_nomem: 1,
            timewait_full: 4,
            no_cookie: 5,
            ..ProbeStats::default()
        };
        m.set_counters(&st, 7);
        m.set_fill(&MapFill {
            owners: 10,
            owners_max: 262_144,
            timewait: 65_536,
            timewait_max: 65_536,
        });
        st.transitions = 55;
        m.set_counters(&st, 7);
        m.query(QueryResult::Answered);
        m.query(QueryResult::Refused);
        let text = m.encode(false);
        let samples = sample_lines(&text);
        for want in [
            "netstat_state_transitions_total 55",
            "netstat_passive_opens_total 3",
            // Full or out of memory: either way no room.
            r#"netstat_map_full_total{map="owners"} 3"#,
            r#"netstat_map_full_total{map="timewait"} 4"#,
            r#"netstat_map_full_total{map="flows"} 0"#,
            r#"netstat_map_entries{map="owners"} 10"#,
            r#"netstat_map_capacity{map="owners"} 262144"#,
            r#"netstat_map_entries{map="timewait"} 65536"#,
            r#"netstat_lost_events_total{reason="no_cookie"} 5"#,
            r#"netstat_lost_events_total{reason="recursion_miss"} 7"#,
            r#"netstat_agent_queries_total{result="answered"} 1"#,
            r#"netstat_agent_queries_total{result="refused"} 1"#,
            r#"netstat_agent_queries_total{result="failed"} 0"#,
        ] {
            assert!(samples.contains(&want), "{want} missing from\n{text}");
        }
    }

    #[test]
    fn owner_series_are_capped() {
        let series: HashMap<OwnerLabels, i64> = (0..10)
            .map(|i| {
                (
                    OwnerLabels {
                        comm: format!("p{i}"),
                        uid: "0".into(),
                    },
                    i + 1,
                )
            })
            .collect();
        let capped = cap_owners(series.clone(), 4);
        assert_eq!(capped.len(), 4);
        assert_eq!(capped.values().sum::<i64>(), 55);
        let other = OwnerLabels {
            comm: "(other)".into(),
            uid: "(other)".into(),
        };
        assert_eq!(capped[&other], 1 + 2 + 3 + 4 + 5 + 6 + 7);
        assert_eq!(cap_owners(series, 10).len(), 10);
    }

    #[test]
    fn requests_are_routed() {
        assert_eq!(
            route(b"GET /metrics HTTP/1.1\r\nHost: x"),
            Route::Metrics { head: false }
        );
        assert_eq!(
            route(b"HEAD /metrics?x=1 HTTP/1.0"),
            Route::Metrics { head: true }
        );
        assert_eq!(route(b"GET / HTTP/1.1"), Route::NotFound);
        assert_eq!(route(b"GET /metricsx HTTP/1.1"), Route::NotFound);
        assert_eq!(route(b"POST /metrics HTTP/1.1"), Route::MethodNotAllowed);
        assert_eq!(route(b"GET /metrics"), Route::BadRequest);
        assert_eq!(route(b"GET metrics HTTP/1.1"), Route::BadRequest);
        assert_eq!(route(b"GET /metrics SPDY/3"), Route::BadRequest);
        assert_eq!(route(b"GET  /metrics HTTP/1.1"), Route::BadRequest);
        assert_eq!(route(b""), Route::BadRequest);
    }

    #[test]
    fn request_heads_end_at_the_blank_line() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(20));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n"), None);
    }

    #[test]
    fn owners_need_a_unix_endpoint_and_metrics_need_the_agent() {
        let mut o = Options {
            agent: true,
            metrics: vec![MetricsAddr::Tcp("127.0.0.1:9977".parse().unwrap())],
            ..Options::default()
        };
        assert_eq!(usage_error(&o), None);
        o.metrics_owners = true;
        assert!(usage_error(&o).unwrap().contains("unix:PATH"));
        o.metrics.push(MetricsAddr::Unix("/run/x.sock".into()));
        assert_eq!(usage_error(&o), None);
        o.agent = false;
        assert!(usage_error(&o).unwrap().contains("--agent only"));
    }
}
