//! Harness for comparing our `netstat` with net-tools' `/usr/bin/netstat`.
//!
//! Every privileged test gets its own network namespace ([`Netns`]), fills it with a known set
//! of sockets (the `sockgen` binary, through [`SockGen`]) and runs both tools in it with the
//! same arguments ([`compare`]). Inside a namespace `/proc/net/*` shows only that namespace's
//! sockets, so the expected output is exact and free of noise from the host.
//!
//! The tests need root (they create namespaces) and `ip` from iproute2. Without them they fail
//! with the reason; they never skip silently. Run them single-threaded:
//! `cargo test -p netstat-tests -- --test-threads=1` (or `cargo xtask test`).
//!
//! `$NETSTAT_BIN` selects the binary under test; by default `<workspace>/target/release/netstat`.
//! Pointing it at `/usr/bin/netstat` checks the harness itself: every comparison must pass.

pub mod agent;
pub mod json;
use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The reference implementation: net-tools 2.10.
pub const REAL_NETSTAT: &str = "/usr/bin/netstat";
/// Environment variable naming the binary under test.
pub const NETSTAT_BIN_ENV: &str = "NETSTAT_BIN";
/// Prefix of every namespace (and temporary directory) this harness creates.
pub const PREFIX: &str = "nst";
/// Longest time one netstat run may take before it is killed and reported.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A search path for the child after our symlink directory.
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn next_id() -> u32 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------------------------
// Binaries

/// The binary under test: `$NETSTAT_BIN` if set, else `<workspace>/target/release/netstat`.
///
/// Panics with instructions when it does not exist.
pub fn ours() -> PathBuf {
    let workspace = workspace_root();
    let path = match std::env::var_os(NETSTAT_BIN_ENV) {
        Some(p) if !p.is_empty() => {
            let p = PathBuf::from(p);
            if p.is_absolute() {
                p
            } else {
                // cargo runs tests from the package directory; accept paths relative to
                // the current directory or to the workspace root.
                let here = std::env::current_dir().map(|d| d.join(&p)).ok();
                match here.filter(|c| c.exists()) {
                    Some(c) => c,
                    None => workspace.join(&p),
                }
            }
        }
        _ => workspace.join("target/release/netstat"),
    };
    assert!(
        path.is_file(),
        "the netstat under test is missing: {} does not exist.\n\
         Build it with `cargo build --release -p netstat-user` or run `cargo xtask test` \
         (or point ${NETSTAT_BIN_ENV} at a netstat binary).",
        path.display()
    );
    path
}

/// The reference netstat; panics when net-tools is not installed.
pub fn real() -> PathBuf {
    let path = PathBuf::from(REAL_NETSTAT);
    assert!(
        path.is_file(),
        "{REAL_NETSTAT} is missing: install net-tools (`apt-get install net-tools`); \
         the comparison tests need the real netstat"
    );
    path
}

/// The cargo workspace root (the parent of this package).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Path to `ip`, or a panic saying it is missing.
pub fn ip_bin() -> &'static Path {
    const CANDIDATES: [&str; 4] = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"];
    CANDIDATES
        .iter()
        .map(Path::new)
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`ip` (iproute2) not found in {CANDIDATES:?}: these tests create network \
                 namespaces with it; install iproute2"
            )
        })
}

/// Panics unless we are root: the tests create network namespaces.
pub fn require_root() {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert!(
        euid == 0,
        "these tests must run as root (euid is {euid}): they create network namespaces and \
         sockets owned by other users. Run them as root, e.g. `sudo -E cargo test -p \
         netstat-tests -- --test-threads=1`, or `cargo xtask test`."
    );
}

// ---------------------------------------------------------------------------------------------
// Running programs

/// What a program did: its two streams and how it ended.
#[derive(Debug, Clone)]
pub struct Output {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub status: ExitStatus,
}

impl Output {
    /// The exit code, or `None` when killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

/// Runs `program args` inside `ns` through `ip netns exec` and collects its output.
///
/// The environment is inherited. Panics if `ip` cannot be started or the run exceeds
/// [`RUN_TIMEOUT`].
pub fn run_in<S: AsRef<OsStr>>(ns: &Netns, program: impl AsRef<OsStr>, args: &[S]) -> Output {
    let mut cmd = Command::new(ip_bin());
    cmd.args(["netns", "exec", ns.name()])
        .arg(program)
        .args(args);
    run_command(cmd)
}

/// Runs `binary` as `netstat args` inside `ns`, optionally as another user.
///
/// argv\[0\] is exactly `netstat` (getopt puts argv\[0\] into its messages), through a
/// symlink named `netstat` in a temporary directory put first on `PATH`. `LC_ALL=C`.
/// With `user`, the command runs under `setpriv --reuid=U --regid=U --clear-groups`.
pub fn run_netstat_in(ns: &Netns, binary: &Path, user: Option<u32>, args: &[&str]) -> Output {
    run_netstat_in_env(ns, binary, user, &[], args)
}

/// [`run_netstat_in`] with extra environment variables.
pub fn run_netstat_in_env(
    ns: &Netns,
    binary: &Path,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    let dir = TempDir::new("bin");
    let link = dir.path().join("netstat");
    if let Err(e) = std::os::unix::fs::symlink(binary, &link) {
        panic!("symlink {} -> {}: {e}", link.display(), binary.display());
    }
    let mut cmd = Command::new(ip_bin());
    cmd.args(["netns", "exec", ns.name()]);
    if let Some(uid) = user {
        cmd.arg(setpriv_bin()).args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".to_string(),
        ]);
    }
    cmd.arg("netstat").args(args);
    let path = format!("{}:{SYSTEM_PATH}", dir.path().display());
    cmd.env("PATH", path).env("LC_ALL", "C");
    cmd.envs(env.iter().copied());
    run_command(cmd)
}

/// setpriv (util-linux), or a panic saying it is missing.
pub fn setpriv_bin() -> &'static str {
    const SETPRIV: &str = "/usr/bin/setpriv";
    assert!(
        Path::new(SETPRIV).is_file(),
        "{SETPRIV} (util-linux) is missing: needed to run netstat as an unprivileged user"
    );
    SETPRIV
}

fn run_command(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not finish within {RUN_TIMEOUT:?}; killed");
            }
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    Output {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        status,
    }
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

// ---------------------------------------------------------------------------------------------
// Network namespaces

/// A network namespace `nst-<pid>-<n>` with `lo` up, deleted (after killing every process
/// still inside it) when dropped, including during a panic.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

/// Addresses of a veth link between two namespaces (see [`Netns::veth_peer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Veth {
    /// Address of this namespace's end, in 10.200.N.0/24.
    pub local_v4: Ipv4Addr,
    /// Address of the peer's end.
    pub peer_v4: Ipv4Addr,
    /// Address of this namespace's end, in fd00:200:N::/64.
    pub local_v6: Ipv6Addr,
    /// Address of the peer's end.
    pub peer_v6: Ipv6Addr,
}

impl Netns {
    /// Creates the namespace and brings `lo` up. Panics (with the reason) when not root,
    /// when `ip` is missing, or when `ip netns add` fails.
    pub fn new() -> Netns {
        require_root();
        let ip = ip_bin();
        cleanup_stale_namespaces();
        let name = format!("{PREFIX}-{}-{}", std::process::id(), next_id());
        let ns = ip_checked(ip, &["netns", "add", &name]).map(|()| Netns { name });
        let ns = ns.unwrap_or_else(|e| panic!("cannot create a network namespace: {e}"));
        if let Err(e) = ip_checked(ip, &["-n", &ns.name, "link", "set", "lo", "up"]) {
            panic!("cannot bring lo up in {}: {e}", ns.name);
        }
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Creates a second namespace linked to this one by a veth pair (`veth0` on both
    /// sides) with 10.200.N.1/24 + fd00:200:N::1/64 here and .2/::2 on the peer. The
    /// addresses exist only inside the two namespaces; there is no route anywhere else.
    pub fn veth_peer(&self) -> (Netns, Veth) {
        let peer = Netns::new();
        let n = u8::try_from(next_id() % 250 + 1).unwrap_or(1);
        let veth = Veth {
            local_v4: Ipv4Addr::new(10, 200, n, 1),
            peer_v4: Ipv4Addr::new(10, 200, n, 2),
            local_v6: Ipv6Addr::new(0xfd00, 0x200, u16::from(n), 0, 0, 0, 0, 1),
            peer_v6: Ipv6Addr::new(0xfd00, 0x200, u16::from(n), 0, 0, 0, 0, 2),
        };
        let ip = ip_bin();
        let steps: Vec<Vec<String>> = vec![
            argv(&[
                "-n", &self.name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0",
                "netns", &peer.name,
            ]),
            argv(&[
                "-n",
                &self.name,
                "addr",
                "add",
                &format!("{}/24", veth.local_v4),
                "dev",
                "veth0",
            ]),
            argv(&[
                "-n",
                &peer.name,
                "addr",
                "add",
                &format!("{}/24", veth.peer_v4),
                "dev",
                "veth0",
            ]),
            argv(&[
                "-n",
                &self.name,
                "-6",
                "addr",
                "add",
                &format!("{}/64", veth.local_v6),
                "dev",
                "veth0",
                "nodad",
            ]),
            argv(&[
                "-n",
                &peer.name,
                "-6",
                "addr",
                "add",
                &format!("{}/64", veth.peer_v6),
                "dev",
                "veth0",
                "nodad",
            ]),
            argv(&["-n", &self.name, "link", "set", "veth0", "up"]),
            argv(&["-n", &peer.name, "link", "set", "veth0", "up"]),
        ];
        for step in &steps {
            let refs: Vec<&str> = step.iter().map(String::as_str).collect();
            if let Err(e) = ip_checked(ip, &refs) {
                panic!("veth setup between {} and {}: {e}", self.name, peer.name);
            }
        }
        (peer, veth)
    }

    /// PIDs of the processes whose network namespace is this one.
    pub fn pids(&self) -> Vec<u32> {
        ns_pids(ip_bin(), &self.name)
    }
}

impl Default for Netns {
    fn default() -> Self {
        Netns::new()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Never panic here: a panic during unwinding would abort the whole test binary.
        let ip = ip_bin();
        kill_all_in(ip, &self.name);
        if let Err(e) = ip_checked(ip, &["netns", "del", &self.name]) {
            eprintln!(
                "warning: could not delete network namespace {}: {e}",
                self.name
            );
        }
    }
}

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_string()).collect()
}

fn ip_checked(ip: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new(ip)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {} {}: {e}", ip.display(), args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ns_pids(ip: &Path, name: &str) -> Vec<u32> {
    Command::new(ip)
        .args(["netns", "pids", name])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// SIGKILLs every process in the namespace and waits (briefly) until none is left.
fn kill_all_in(ip: &Path, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let pids = ns_pids(ip, name);
        if pids.is_empty() || Instant::now() > deadline {
            if !pids.is_empty() {
                eprintln!("warning: processes {pids:?} still in namespace {name}");
            }
            return;
        }
        for pid in pids {
            if let Ok(pid) = libc::pid_t::try_from(pid) {
                // SAFETY: plain syscall; the PID was found inside our own namespace.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Deletes `nst-<pid>-<n>` namespaces and `/tmp/nst-<what>-<pid>-<n>` directories left by
/// test processes that no longer exist (for example after a SIGKILL), so that leftovers do
/// not pile up.
fn cleanup_stale_namespaces() {
    let is_dead =
        |pid: u32| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists();
    if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(owner) = name.to_str().and_then(stale_dir_owner) else {
                continue;
            };
            if is_dead(owner) && entry.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    let ip = ip_bin();
    let Ok(out) = Command::new(ip).args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(owner) = stale_owner(name) else {
            continue;
        };
        if is_dead(owner) {
            kill_all_in(ip, name);
            let _ = ip_checked(ip, &["netns", "del", name]);
        }
    }
}

/// The creating PID encoded in a namespace name `nst-<pid>-<n>`.
fn stale_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    let (pid, n) = rest.split_once('-')?;
    n.parse::<u32>().ok()?;
    pid.parse().ok()
}

/// The creating PID encoded in a [`TempDir`] name `nst-<what>-<pid>-<n>` (`what` alphabetic).
fn stale_dir_owner(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(PREFIX)?.strip_prefix('-')?;
    let (what, rest) = rest.split_once('-')?;
    if what.is_empty() || !what.chars().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    stale_owner(&format!("{PREFIX}-{rest}"))
}

// ---------------------------------------------------------------------------------------------
// Temporary directories

/// A directory `/tmp/nst-<what>-<pid>-<n>` (mode 0755, so other users can reach sockets and
/// symlinks in it), removed with its content when dropped.
#[derive(Debug)]
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates the directory; panics when it cannot.
    pub fn new(what: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "{PREFIX}-{what}-{}-{}",
            std::process::id(),
            next_id()
        ));
        let _ = fs::remove_dir_all(&path);
        fs::DirBuilder::new()
            .mode(0o755)
            .create(&path)
            .unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
        TempDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.path) {
            eprintln!("warning: could not remove {}: {e}", self.path.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The socket generator

/// A running `sockgen` inside a namespace. It has printed `ready`, so its sockets exist and
/// are settled; dropping this closes its stdin, which makes it exit (it is killed after 5 s).
#[derive(Debug)]
pub struct SockGen {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl SockGen {
    /// Starts `exe args` in `ns` and waits up to 30 s for its `ready` line. Panics with its
    /// stderr when it fails. Tests pass `env!("CARGO_BIN_EXE_sockgen")` as `exe`.
    pub fn start<S: AsRef<OsStr>>(ns: &Netns, exe: &Path, args: &[S]) -> SockGen {
        let mut child = Command::new(ip_bin())
            .args(["netns", "exec", ns.name()])
            .arg(exe)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", exe.display()));
        let stdin = child.stdin.take();
        let stderr = drain(child.stderr.take());
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut line = String::new();
            if let Some(out) = stdout {
                let mut reader = BufReader::new(out);
                let _ = reader.read_line(&mut line);
                let _ = tx.send(line);
                // Keep draining so the generator never blocks on a full pipe.
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
        });
        let mut generator = SockGen { child, stdin };
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) if line.trim() == "ready" => generator,
            other => {
                let _ = generator.child.kill();
                let _ = generator.child.wait();
                let err = stderr.join().unwrap_or_default();
                panic!(
                    "{} {:?} in {} did not get ready (stdout: {other:?}); stderr:\n{}",
                    exe.display(),
                    args.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
                    ns.name(),
                    String::from_utf8_lossy(&err)
                );
            }
        }
    }

    /// PID of the generator process (as `-p` shows it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SockGen {
    fn drop(&mut self) {
        drop(self.stdin.take());
        end_child(&mut self.child);
    }
}

/// Gives a child whose stdin was closed 5 s to exit, then kills it; always reaps it.
pub fn end_child(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A spawned child's stderr, collected whole by a thread, and its stdout lines, sent one
/// by one by another.
pub struct Pipes {
    pub stderr: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    pub lines: mpsc::Receiver<String>,
}

impl Pipes {
    /// Takes the child's stdout and stderr (both must be piped).
    pub fn take(child: &mut Child) -> Pipes {
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&stderr);
        let err = child.stderr.take();
        thread::spawn(move || {
            let Some(mut err) = err else { return };
            let mut buf = [0u8; 4096];
            while let Ok(n) = err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut all) = sink.lock() {
                    all.extend_from_slice(&buf[..n]);
                }
            }
        });
        let (tx, lines) = mpsc::channel();
        let out = child.stdout.take();
        thread::spawn(move || {
            let Some(out) = out else { return };
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Pipes { stderr, lines }
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing

/// Runs `/usr/bin/netstat args` and `ours() args` as root in `ns` and panics with a readable
/// diff unless stdout (normalised, see [`normalise`]), stderr and the exit code are equal.
pub fn compare(ns: &Netns, args: &[&str]) {
    compare_as(ns, None, args);
}

/// [`compare`], with both tools running as `user` (uid and gid) when given.
pub fn compare_as(ns: &Netns, user: Option<u32>, args: &[&str]) {
    if let Err(report) = check(ns, &ours(), user, args) {
        panic!("{report}");
    }
}

/// [`compare`] without sorting rows: our rows must come in net-tools' order too (the
/// kernel's hash order, which sock_diag dumps and /proc prints alike).
pub fn compare_in_order(ns: &Netns, args: &[&str]) {
    if let Err(report) = check_with(ns, &ours(), None, args, RowOrder::Exact) {
        panic!("{report}");
    }
}

/// How rows are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowOrder {
    /// Sorted within each section (see [`normalise`]).
    Sorted,
    /// As printed.
    Exact,
}

/// The non-panicking core of [`compare`]: `Err` holds the whole report.
pub fn check(ns: &Netns, ours: &Path, user: Option<u32>, args: &[&str]) -> Result<(), String> {
    check_with(ns, ours, user, args, RowOrder::Sorted)
}

/// [`check`] with a choice of [`RowOrder`].
pub fn check_with(
    ns: &Netns,
    ours: &Path,
    user: Option<u32>,
    args: &[&str],
    order: RowOrder,
) -> Result<(), String> {
    let real_bin = real();
    if let Some(uid) = user {
        ensure_executable_by(ns, uid, &real_bin)?;
        ensure_executable_by(ns, uid, ours)?;
    }
    let who = user.map_or_else(|| "root".to_string(), |u| format!("uid {u}"));
    let mut attempt = 1;
    loop {
        let real_out = run_netstat_in(ns, &real_bin, user, args);
        let ours_out = run_netstat_in(ns, ours, user, args);
        let Err(diff) = diff_outputs_with(&real_out, &ours_out, order) else {
            return Ok(());
        };
        // Tell apart "ours is wrong" from "the output moves by itself" (a route's refcount,
        // a counter): when the real netstat does not even agree with itself, the namespace
        // is still moving, so try again a few times before reporting.
        let again = run_netstat_in(ns, &real_bin, user, args);
        let moving = diff_outputs_with(&real_out, &again, order).is_err();
        if moving && attempt < MOVING_ATTEMPTS {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(300));
            continue;
        }
        let mut report = format!(
            "`netstat {}` differs (as {who}, namespace {}, attempt {attempt})\n  real: {}\n  ours: {}\n",
            args.join(" "),
            ns.name(),
            real_bin.display(),
            ours.display()
        );
        report.push_str(if moving {
            "  NOTE: a second run of the real netstat did NOT match its first run: \
             the environment is moving, not necessarily ours\n"
        } else {
            "  (a second run of the real netstat matched its first run)\n"
        });
        report.push_str(&diff);
        return Err(report);
    }
}

/// How often [`check_with`] runs both tools again while the real netstat's own output
/// keeps changing between two runs.
pub const MOVING_ATTEMPTS: u32 = 5;

/// `Err` when `uid` cannot execute `binary` (say, a parent directory is mode 0700).
fn ensure_executable_by(ns: &Netns, uid: u32, binary: &Path) -> Result<(), String> {
    let mut cmd = Command::new(ip_bin());
    cmd.args(["netns", "exec", ns.name(), setpriv_bin()])
        .args([format!("--reuid={uid}"), format!("--regid={uid}")])
        .args(["--clear-groups", "/bin/sh", "-c", "test -x \"$1\"", "sh"])
        .arg(binary);
    if run_command(cmd).status.success() {
        Ok(())
    } else {
        Err(format!(
            "uid {uid} cannot execute {}: every parent directory must be searchable by \
             others (put the binary elsewhere or point ${NETSTAT_BIN_ENV} at a copy)",
            binary.display()
        ))
    }
}

/// Compares two runs; `Err` is a readable report of every difference.
pub fn diff_outputs(real: &Output, ours: &Output) -> Result<(), String> {
    diff_outputs_with(real, ours, RowOrder::Sorted)
}

/// [`diff_outputs`] with a choice of [`RowOrder`]. Moving timer seconds are compared
/// apart from the rest: they may differ by at most [`TIMER_SLACK_SECS`].
pub fn diff_outputs_with(real: &Output, ours: &Output, order: RowOrder) -> Result<(), String> {
    let mut report = String::new();
    if real.status.code() != ours.status.code() || real.status.success() != ours.status.success() {
        let _ = writeln!(
            report,
            "exit status: real {}, ours {}",
            describe(real.status),
            describe(ours.status)
        );
    }
    let norm = |out: &[u8]| match order {
        RowOrder::Sorted => normalise(out),
        RowOrder::Exact => split_lines(out).iter().map(|l| mask_timer(l)).collect(),
    };
    let (real_lines, ours_lines) = (norm(&real.stdout), norm(&ours.stdout));
    if real_lines == ours_lines {
        if let Err(e) = timers_close(&real.stdout, &ours.stdout) {
            report.push_str(&e);
        }
    } else {
        let _ = writeln!(
            report,
            "stdout differs (after normalisation: moving timer seconds masked as `#`, rows \
             sorted within each `Active ...` section; `$` marks the end of a line):"
        );
        report.push_str(&unified_diff(&real_lines, &ours_lines));
    }
    let (real_err, ours_err) = (split_lines(&real.stderr), split_lines(&ours.stderr));
    if real_err != ours_err {
        let _ = writeln!(report, "stderr differs (`$` marks the end of a line):");
        report.push_str(&unified_diff(&real_err, &ours_err));
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("killed by signal {s}"),
        _ => format!("{status}"),
    }
}

/// How far apart the seconds of the same moving timer may be in two runs made one after
/// the other (they count down while the second tool starts).
pub const TIMER_SLACK_SECS: f64 = 1.0;

/// The seconds of each moving timer, keyed by its masked line, compared between two
/// outputs whose masked forms are equal: a wrong scale (ticks vs ms) shows here.
pub fn timers_close(real: &[u8], ours: &[u8]) -> Result<(), String> {
    let timers = |out: &[u8]| -> Vec<(Vec<u8>, f64)> {
        let mut v: Vec<(Vec<u8>, f64)> = split_lines(out)
            .iter()
            .filter_map(|l| {
                let masked = mask_timer(l);
                if masked == *l {
                    return None;
                }
                let open = l.windows(2).rposition(|w| w == b" (")?;
                let secs = l[open + 2..].split(|b| *b == b'/').next()?;
                let secs: f64 = std::str::from_utf8(secs).ok()?.parse().ok()?;
                Some((masked, secs))
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        v
    };
    let (r, o) = (timers(real), timers(ours));
    let mut report = String::new();
    for ((rk, rs), (_, os)) in r.iter().zip(&o) {
        if (rs - os).abs() > TIMER_SLACK_SECS {
            let _ = writeln!(
                report,
                "timer seconds differ by more than {TIMER_SLACK_SECS}: real {rs:.2}, ours {os:.2} in `{}`",
                show(rk)
            );
        }
    }
    if report.is_empty() {
        Ok(())
    } else {
        Err(report)
    }
}

/// Marker line for output whose last line has no newline.
const NO_NEWLINE: &[u8] = b"\\ no newline at end of output";

/// Splits output into lines without their `\n`; a missing final newline becomes a marker line.
pub fn split_lines(out: &[u8]) -> Vec<Vec<u8>> {
    if out.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<Vec<u8>> = out.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    if out.ends_with(b"\n") {
        lines.pop();
    } else {
        lines.push(NO_NEWLINE.to_vec());
    }
    lines
}

/// Normalises netstat's stdout for comparison.
///
/// * The seconds of moving Timer fields (`on`, `onN`, `keepalive`, `timewait`, `probe`,
///   `unkn-N`) become `#`; the kind, retransmits and probes are kept. `off (0.00/0/0)` is
///   kept as it is.
/// * Lines before the first `Active ...` line stay in order. Each section starts at an
///   `Active ...` line; that line and the `Proto ...` header lines right after it stay in
///   place, and the rows after them are sorted (net-tools prints rows in kernel hash order).
pub fn normalise(stdout: &[u8]) -> Vec<Vec<u8>> {
    let lines: Vec<Vec<u8>> = split_lines(stdout)
        .into_iter()
        .map(|l| mask_timer(&l))
        .collect();
    let mut out = Vec::with_capacity(lines.len());
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let mut in_header = false;
    let mut in_section = false;
    for line in lines {
        if line.starts_with(b"Active ") {
            rows.sort();
            out.append(&mut rows);
            out.push(line);
            in_header = true;
            in_section = true;
        } else if in_header && line.starts_with(b"Proto ") {
            out.push(line);
        } else if in_section {
            in_header = false;
            rows.push(line);
        } else {
            out.push(line);
        }
    }
    rows.sort();
    out.append(&mut rows);
    out
}

/// Replaces the seconds of a moving timer at the end of a line with `#`.
pub fn mask_timer(line: &[u8]) -> Vec<u8> {
    let Some(open) = line.windows(2).rposition(|w| w == b" (") else {
        return line.to_vec();
    };
    let Some(inner) = line[open + 2..].strip_suffix(b")") else {
        return line.to_vec();
    };
    let kind_start = line[..open]
        .iter()
        .rposition(|b| *b == b' ')
        .map_or(0, |p| p + 1);
    let kind = &line[kind_start..open];
    let parts: Vec<&[u8]> = inner.split(|b| *b == b'/').collect();
    let [secs, retr, probes] = parts.as_slice() else {
        return line.to_vec();
    };
    if !is_moving_timer(kind) || !is_seconds(secs) || !is_int(retr) || !is_int(probes) {
        return line.to_vec();
    }
    let mut out = line[..open + 2].to_vec();
    out.push(b'#');
    out.extend_from_slice(&inner[secs.len()..]);
    out.push(b')');
    out
}

fn is_moving_timer(kind: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    match kind {
        b"keepalive" | b"timewait" | b"probe" => true,
        _ => {
            if let Some(n) = kind.strip_prefix(b"unkn-") {
                !n.is_empty() && digits(n.strip_prefix(b"-").unwrap_or(n))
            } else if let Some(n) = kind.strip_prefix(b"on") {
                digits(n)
            } else {
                false
            }
        }
    }
}

/// `-?\d+\.\d\d` (printf `%2.2f`).
fn is_seconds(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"-").unwrap_or(s);
    match s.iter().position(|b| *b == b'.') {
        Some(dot) => {
            dot > 0
                && s[..dot].iter().all(u8::is_ascii_digit)
                && s.len() == dot + 3
                && s[dot + 1..].iter().all(u8::is_ascii_digit)
        }
        None => false,
    }
}

fn is_int(s: &[u8]) -> bool {
    let s = s.strip_prefix(b"-").unwrap_or(s);
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Longest-common-subsequence diff, printed like `diff -u` with 3 lines of context.
pub fn unified_diff(real: &[Vec<u8>], ours: &[Vec<u8>]) -> String {
    let mut out = String::from("--- real netstat\n+++ ours\n");
    let (n, m) = (real.len(), ours.len());
    if n.saturating_mul(m) > 25_000_000 {
        out.push_str("(too long to diff line by line; both outputs follow)\n");
        for l in real {
            let _ = writeln!(out, "-{}", show(l));
        }
        for l in ours {
            let _ = writeln!(out, "+{}", show(l));
        }
        return out;
    }
    // lcs[i][j] = LCS length of real[i..] and ours[j..].
    let mut lcs = vec![vec![0u32; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if real[i] == ours[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let mut ops: Vec<(char, &[u8])> = Vec::with_capacity(n + m);
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && real[i] == ours[j] {
            ops.push((' ', &real[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1]) {
            ops.push(('-', &real[i]));
            i += 1;
        } else {
            ops.push(('+', &ours[j]));
            j += 1;
        }
    }
    const CONTEXT: usize = 3;
    let changed: Vec<usize> = (0..ops.len()).filter(|&k| ops[k].0 != ' ').collect();
    let near = |k: usize| changed.iter().any(|&c| c.abs_diff(k) <= CONTEXT);
    let mut skipped = 0usize;
    for (k, (tag, line)) in ops.iter().enumerate() {
        if near(k) {
            if skipped > 0 {
                let _ = writeln!(out, "@@ {skipped} unchanged line(s) @@");
                skipped = 0;
            }
            let _ = writeln!(out, "{tag}{}", show(line));
        } else {
            skipped += 1;
        }
    }
    if skipped > 0 {
        let _ = writeln!(out, "@@ {skipped} unchanged line(s) @@");
    }
    out
}

/// A line for display: invalid UTF-8 and control characters escaped, `$` at the end.
fn show(line: &[u8]) -> String {
    let mut s = String::with_capacity(line.len() + 1);
    for chunk in line.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                let _ = write!(s, "{}", c.escape_default());
            } else {
                s.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(s, "\\x{b:02x}");
        }
    }
    s.push('$');
    s
}

#[cfg(test)]
mod tests {

    #[test]
    fn timer_seconds_are_compared_with_slack() {
        let real = b"tcp 0 0 a b TIME_WAIT timewait (59.99/0/0)\n";
        assert!(timers_close(real, b"tcp 0 0 a b TIME_WAIT timewait (59.50/0/0)\n").is_ok());
        let err = timers_close(real, b"tcp 0 0 a b TIME_WAIT timewait (5.99/0/0)\n").unwrap_err();
        assert!(err.contains("real 59.99, ours 5.99"), "{err}");
    }

    use super::*;
    use std::os::unix::process::ExitStatusExt;

    fn out(stdout: &str, stderr: &str, code: i32) -> Output {
        Output {
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            status: ExitStatus::from_raw(code << 8),
        }
    }

    fn text(lines: &[Vec<u8>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .collect()
    }

    #[test]
    fn moving_timer_seconds_are_masked_and_kind_kept() {
        let cases = [
            ("x keepalive (7199.85/0/0)", "x keepalive (#/0/0)"),
            ("x timewait (59.99/0/0)", "x timewait (#/0/0)"),
            ("x on (0.20/3/1)", "x on (#/3/1)"),
            ("x on2 (0.00/0/0)", "x on2 (#/0/0)"),
            ("x probe (12.64/0/0)", "x probe (#/0/0)"),
            ("x unkn-7 (-0.01/0/0)", "x unkn-7 (#/0/0)"),
            ("x off (0.00/0/0)", "x off (0.00/0/0)"),
            ("x keepalive (7199.8/0/0)", "x keepalive (7199.8/0/0)"),
            (
                "unix  2 [ ACC ] STREAM LISTENING 1 /tmp/a (b)",
                "unix  2 [ ACC ] STREAM LISTENING 1 /tmp/a (b)",
            ),
            ("on (1.00/0/0)", "on (#/0/0)"),
        ];
        for (input, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&mask_timer(input.as_bytes())),
                want,
                "{input}"
            );
        }
    }

    #[test]
    fn rows_are_sorted_per_section_and_headers_stay() {
        let stdout = "Active Internet connections (servers and established)\n\
                      Proto Recv-Q Send-Q Local Address Foreign Address State\n\
                      tcp b\n\
                      tcp a\n\
                      Active UNIX domain sockets (servers and established)\n\
                      Proto RefCnt Flags Type State I-Node Path\n\
                      unix z\n\
                      unix y\n";
        assert_eq!(
            text(&normalise(stdout.as_bytes())),
            [
                "Active Internet connections (servers and established)",
                "Proto Recv-Q Send-Q Local Address Foreign Address State",
                "tcp a",
                "tcp b",
                "Active UNIX domain sockets (servers and established)",
                "Proto RefCnt Flags Type State I-Node Path",
                "unix y",
                "unix z",
            ]
        );
    }

    #[test]
    fn lines_before_any_section_keep_their_order() {
        let stdout = "Kernel IP routing table\nb\na\n";
        assert_eq!(
            text(&normalise(stdout.as_bytes())),
            ["Kernel IP routing table", "b", "a"]
        );
    }

    #[test]
    fn missing_final_newline_is_a_difference() {
        assert!(diff_outputs(&out("a\n", "", 0), &out("a", "", 0)).is_err());
    }

    #[test]
    fn row_order_and_timer_seconds_are_not_differences() {
        let real = "Active Internet connections (servers and established)\nProto x\n\
                    tcp 1 keepalive (7199.85/0/0)\ntcp 2 off (0.00/0/0)\n";
        let ours = "Active Internet connections (servers and established)\nProto x\n\
                    tcp 2 off (0.00/0/0)\ntcp 1 keepalive (7199.40/0/0)\n";
        assert!(diff_outputs(&out(real, "", 0), &out(ours, "", 0)).is_ok());
    }

    #[test]
    fn one_changed_byte_gives_a_readable_diff() {
        let real = "Active Internet connections (only servers)\nProto x\ntcp a  \ntcp b\n";
        let ours = "Active Internet connections (only servers)\nProto x\ntcp a \ntcp b\n";
        let report = diff_outputs(&out(real, "e\n", 0), &out(ours, "e\n", 1)).unwrap_err();
        assert!(
            report.contains("exit status: real exit code 0, ours exit code 1"),
            "{report}"
        );
        assert!(report.contains("-tcp a  $\n+tcp a $\n"), "{report}");
        assert!(!report.contains("stderr differs"), "{report}");
    }

    #[test]
    fn header_lines_are_compared_in_place() {
        let real = "Active Internet connections (only servers)\nProto a\n";
        let ours = "Active Internet connections (only servers)\nProto b\n";
        assert!(diff_outputs(&out(real, "", 0), &out(ours, "", 0)).is_err());
    }

    #[test]
    fn stale_namespace_names_are_recognised() {
        assert_eq!(stale_owner("nst-1234-5"), Some(1234));
        assert_eq!(stale_owner("nst-manual"), None);
        assert_eq!(stale_owner("b"), None);
        assert_eq!(stale_owner("nst-12-x"), None);
        assert_eq!(stale_owner("nst-ebpf-states-1234"), None);
        assert_eq!(stale_dir_owner("nst-sock-1234-5"), Some(1234));
        assert_eq!(stale_dir_owner("nst-1234-5"), None);
        assert_eq!(stale_dir_owner("nst-sock-x-5"), None);
    }

    #[test]
    fn diff_elides_long_unchanged_runs() {
        let a: Vec<Vec<u8>> = (0..20).map(|i| format!("l{i}").into_bytes()).collect();
        let mut b = a.clone();
        b[10] = b"changed".to_vec();
        let d = unified_diff(&a, &b);
        assert!(d.contains("@@ 7 unchanged line(s) @@"), "{d}");
        assert!(d.contains("-l10$\n+changed$\n"), "{d}");
    }
}
