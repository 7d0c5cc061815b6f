//! Harness pieces for the socket-owner agent tests (`tests/tests/owners.rs`).
//!
//! * [`Agent`]: `netstat --agent` running on the host with its query socket in a temporary
//!   directory ([`AGENT_SOCKET_ENV`]), so a system agent can never answer for it.
//! * [`run_netstat_env`], [`check_env`], [`check_known_rows`], [`check_verbose_fallback`]:
//!   [`crate::run_netstat_in`] and [`crate::check`] with extra environment variables, and
//!   the comparison with net-tools restricted to the rows net-tools can name.
//! * [`Script`]: one role of `tests/scripts/owners.py` (a Python process that makes sockets
//!   and reports their ports and its pid as `key value...` lines on stdout).
//! * [`inet_rows`] / [`Owner`]: the rows of `-[tu]a[n]p[eoW]` output and their PID/Program
//!   column, parsed so the tests can check who each row names.

use std::collections::{BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::{
    MOVING_ATTEMPTS, Netns, Output, TempDir, diff_outputs, ensure_executable_by, ip_bin, ours,
    real, split_lines,
};

/// Environment variable that overrides the agent's query socket path (both for the agent and
/// for one-shot `netstat` runs).
pub const AGENT_SOCKET_ENV: &str = "NETSTAT_AGENT_SOCKET";
/// How long the agent may take to load its programs and seed its map before `ready`.
pub const AGENT_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long the agent may take to exit after SIGTERM.
pub const AGENT_STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// Prefix of the `-v` line saying the owners came from the agent.
pub const FROM_AGENT: &str = "netstat: -p: owners from the agent";
/// Prefix of the `-v` line saying the owners came from the /proc walk (a reason follows).
pub const FROM_PROC: &str = "netstat: -p: owners from /proc";
/// The interpreter for the helper scripts. Its argv\[0\] basename, `python3`, is what
/// net-tools prints for a live owner.
pub const PYTHON: &str = "/usr/bin/python3";
/// Default time a [`Script`] gets to print an expected line.
pub const SCRIPT_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// The agent

/// A running `netstat --agent` (started on the host: it sees every network namespace).
///
/// Dropping it sends SIGTERM and waits; outside a panic it then asserts exit code 0. During a
/// panic it prints the agent's stderr instead, which is usually what explains the failure.
#[derive(Debug)]
pub struct Agent {
    child: Child,
    socket: PathBuf,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// It never became ready and has been reaped: dropping it checks nothing.
    ended: bool,
    /// Declared last: removed after the agent has stopped.
    _dir: Option<TempDir>,
}

impl Agent {
    /// Starts `ours() --agent` with [`AGENT_SOCKET_ENV`]` = socket` and waits up to
    /// [`AGENT_READY_TIMEOUT`] for a stderr line containing `ready`. Panics with everything
    /// it printed when it exits or stays silent instead.
    pub fn start(socket: &Path) -> Agent {
        Agent::spawn(socket.to_path_buf(), None, &[], &[], None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Agent::start`] with extra environment variables (e.g. `NOTIFY_SOCKET`).
    pub fn start_with_env(socket: &Path, env: &[(&str, &str)]) -> Agent {
        Agent::spawn(socket.to_path_buf(), None, env, &[], None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Agent::start`] with the socket in a new temporary directory (mode 0755), removed
    /// when the agent is dropped.
    pub fn start_temp() -> Agent {
        Agent::try_start_capped(None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Agent::start_temp`], but as systemd starts a service with
    /// `CapabilityBoundingSet=CAPS` and root's uid: through `setpriv`, with exactly
    /// `caps` (`CAP_BPF`...) in the bounding set and none inheritable or ambient, so the
    /// agent's exec gives it exactly those. `None`: all of root's. `Err` holds the
    /// agent's stderr when it ends or stays silent instead of reporting `ready`.
    pub fn try_start_capped(caps: Option<&[String]>) -> Result<Agent, String> {
        let dir = TempDir::new("agent");
        let socket = dir.path().join("agent.sock");
        Agent::spawn(socket, Some(dir), &[], &[], caps)
    }

    /// [`Agent::start_temp`] with more arguments after `--agent` (e.g. `--metrics`).
    pub fn start_temp_with_args(args: &[&str]) -> Agent {
        let dir = TempDir::new("agent");
        let socket = dir.path().join("agent.sock");
        Agent::spawn(socket, Some(dir), &[], args, None).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Agent::try_start_capped`] with the query socket at `socket` (which may lie in a
    /// directory the agent has to make, under `dir`, removed when the agent is dropped)
    /// and more arguments after `--agent`.
    pub fn try_start_capped_at(
        dir: TempDir,
        socket: PathBuf,
        caps: Option<&[String]>,
        args: &[&str],
    ) -> Result<Agent, String> {
        Agent::spawn(socket, Some(dir), &[], args, caps)
    }

    /// [`Agent::start_temp`] with extra environment variables and arguments.
    pub fn start_temp_with(env: &[(&str, &str)], args: &[&str]) -> Agent {
        let dir = TempDir::new("agent");
        let socket = dir.path().join("agent.sock");
        Agent::spawn(socket, Some(dir), env, args, None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn spawn(
        socket: PathBuf,
        dir: Option<TempDir>,
        env: &[(&str, &str)],
        args: &[&str],
        caps: Option<&[String]>,
    ) -> Result<Agent, String> {
        crate::require_root();
        let bin = ours();
        let mut cmd = match caps {
            None => Command::new(&bin),
            Some(caps) => {
                let mut bounding = String::from("-all");
                for cap in caps {
                    let name = cap.strip_prefix("CAP_").unwrap_or(cap).to_ascii_lowercase();
                    bounding.push_str(",+");
                    bounding.push_str(&name);
                }
                let mut cmd = Command::new(crate::setpriv_bin());
                cmd.args(["--bounding-set", &bounding])
                    .args(["--inh-caps", "-all", "--ambient-caps", "-all", "--"])
                    .arg(&bin);
                cmd
            }
        };
        let mut child = cmd
            .arg("--agent")
            .args(args)
            .env(AGENT_SOCKET_ENV, &socket)
            .env("LC_ALL", "C")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} --agent: {e}", bin.display()));
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<String>();
        let pipe = child.stderr.take();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let Some(pipe) = pipe else { return };
            let mut reader = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match reader.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        if let Ok(mut all) = sink.lock() {
                            all.extend_from_slice(&line);
                        }
                        let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                    }
                }
            }
        });
        // The agent's stdout is not part of the contract; keep it from blocking the agent.
        let stdout = child.stdout.take();
        thread::spawn(move || {
            if let Some(mut out) = stdout {
                let _ = std::io::copy(&mut out, &mut std::io::sink());
            }
        });
        let mut agent = Agent {
            child,
            socket,
            stderr,
            ended: false,
            _dir: dir,
        };
        let deadline = Instant::now() + AGENT_READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("ready") => return Ok(agent),
                Ok(_) => {}
                Err(RecvTimeoutError::Timeout) => {
                    let text = agent.stderr();
                    agent.kill();
                    agent.ended = true;
                    return Err(format!(
                        "`{} --agent` printed no `ready` line within {AGENT_READY_TIMEOUT:?}; \
                         killed. Its stderr:\n{text}",
                        bin.display()
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = agent.child.wait();
                    agent.ended = true;
                    let text = agent.stderr();
                    return Err(format!(
                        "`{} --agent` ended ({status:?}) before printing `ready`. Its stderr:\n{text}",
                        bin.display()
                    ));
                }
            }
        }
    }

    /// The query socket path the agent was told to use.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The socket path as text, for an `env` list (temporary paths are ASCII).
    pub fn socket_str(&self) -> &str {
        self.socket.to_str().unwrap_or_default()
    }

    /// `[(AGENT_SOCKET_ENV, socket)]` for [`run_netstat_env`] and friends.
    pub fn env(&self) -> [(&'static str, &str); 1] {
        [(AGENT_SOCKET_ENV, self.socket_str())]
    }

    /// The agent's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the agent printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The TCP metrics address the agent announced (`--metrics ADDR`), if it did so yet.
    pub fn tcp_metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.stderr().lines().find_map(|l| {
            l.strip_prefix("netstat: agent: metrics on http://")
                .and_then(|a| a.strip_suffix("/metrics"))
                .and_then(|a| a.parse().ok())
        })
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Fault injection: SIGKILL (no clean-up runs: its socket file stays behind) and
    /// reap. Returns how it ended; dropping it afterwards checks nothing.
    pub fn kill_hard(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        let status = self
            .child
            .wait()
            .unwrap_or_else(|e| panic!("waiting for the killed agent: {e}"));
        self.ended = true;
        status
    }

    /// SIGTERM, then wait up to [`AGENT_STOP_TIMEOUT`] (SIGKILL after that).
    fn stop(&mut self) -> Result<ExitStatus, String> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(format!(
                "the agent had already ended before SIGTERM: {status}"
            ));
        }
        let pid = libc::pid_t::try_from(self.child.id()).unwrap_or(0);
        // SAFETY: signalling our own child, which has not been reaped (try_wait said so).
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + AGENT_STOP_TIMEOUT;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                Ok(None) => {
                    self.kill();
                    return Err(format!(
                        "the agent did not exit within {AGENT_STOP_TIMEOUT:?} after SIGTERM; killed"
                    ));
                }
                Err(e) => return Err(format!("waiting for the agent: {e}")),
            }
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let result = self.stop();
        // Let the reader thread take the last lines.
        thread::sleep(Duration::from_millis(50));
        let stderr = self.stderr();
        if thread::panicking() {
            eprintln!(
                "--- netstat --agent (pid {}) stopped: {result:?}; its stderr:\n{stderr}---",
                self.child.id()
            );
            return;
        }
        match result {
            Ok(status) if status.success() => {}
            Ok(status) => panic!(
                "netstat --agent exited with {status} after SIGTERM (expected 0); stderr:\n{stderr}"
            ),
            Err(e) => panic!("{e}; the agent's stderr:\n{stderr}"),
        }
    }
}

/// The capabilities a systemd unit's `[Service]` section keeps with
/// `CapabilityBoundingSet=` (several lines add up, as systemd merges them), in order,
/// e.g. `["CAP_BPF", ...]`. `Err` for what this does not model: no such line, an empty
/// one (a reset) or an inverted `~` list.
pub fn unit_bounding_set(unit: &str) -> Result<Vec<String>, String> {
    let mut section = "";
    let mut caps: Vec<String> = Vec::new();
    let mut seen = false;
    for line in unit.lines().map(str::trim) {
        if line.starts_with('#') || line.starts_with(';') || line.is_empty() {
            continue;
        }
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some(value) = line.strip_prefix("CapabilityBoundingSet=") else {
            continue;
        };
        if section != "[Service]" {
            return Err(format!("`{line}` outside [Service]"));
        }
        if value.trim().is_empty() || value.trim_start().starts_with('~') {
            return Err(format!(
                "`{line}`: a reset or an inverted list is not what the agent's unit uses"
            ));
        }
        seen = true;
        for cap in value.split_whitespace() {
            if !cap.starts_with("CAP_") {
                return Err(format!("`{cap}` in `{line}` is not a capability name"));
            }
            if !caps.iter().any(|c| c == cap) {
                caps.push(cap.to_string());
            }
        }
    }
    if !seen {
        return Err("no CapabilityBoundingSet= line in [Service]".into());
    }
    Ok(caps)
}

/// The `CapEff:` mask of process `pid` (`None` when it is gone or unreadable).
pub fn effective_caps(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

/// The bit of a capability name, from `linux/capability.h` (those this project's tests
/// may meet in the agent's unit).
pub fn cap_bit(name: &str) -> Option<u32> {
    Some(match name {
        "CAP_DAC_OVERRIDE" => 1,
        "CAP_DAC_READ_SEARCH" => 2,
        "CAP_NET_ADMIN" => 12,
        "CAP_SYS_PTRACE" => 19,
        "CAP_SYS_ADMIN" => 21,
        "CAP_SYS_RESOURCE" => 24,
        "CAP_PERFMON" => 38,
        "CAP_BPF" => 39,
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// Running netstat with extra environment variables

/// [`crate::run_netstat_in`] with extra environment variables (`LC_ALL=C` and the `PATH` with
/// the `netstat` symlink first are set as there; argv\[0\] is exactly `netstat`).
pub fn run_netstat_env(
    ns: &Netns,
    binary: &Path,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Output {
    crate::run_netstat_in_env(ns, binary, user, env, args)
}

/// Both tools, each run as described by one of these.
fn who(user: Option<u32>) -> String {
    user.map_or_else(|| "root".to_string(), |u| format!("uid {u}"))
}

/// Full text of one run, for failure reports.
pub fn show_output(title: &str, out: &Output) -> String {
    format!(
        "=== {title}: {:?}\n--- stdout:\n{}--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// [`crate::check`] with `env` given to both tools: `Err` holds a report with the diff
/// (normalised as [`crate::diff_outputs`] does) unless stdout, stderr and exit code match.
/// Retries while net-tools does not agree with itself (the namespace is still moving).
pub fn check_env(
    ns: &Netns,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<(), String> {
    compare_filtered(ns, user, env, args, |_, _| Ok(()))
}

/// Like [`check_env`] (as root unless `user`), but rows for which net-tools prints `-` in
/// PID/Program name are removed from both outputs before the comparison: those are the
/// agent's known additions (TIME_WAIT, orphaned FIN_WAIT/LAST_ACK, connections waiting in
/// an accept queue), which the tests check on their own. Every other row, header and
/// stderr line must be byte-identical. Rows are matched on (proto, local, foreign, state).
pub fn check_known_rows(
    ns: &Netns,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<(), String> {
    compare_filtered(ns, user, env, args, |real_out, ours_out| {
        let rows = inet_rows(&real_out.stdout)
            .map_err(|e| format!("net-tools' output does not parse: {e}"))?;
        let excluded: BTreeSet<RowKey> = rows
            .iter()
            .filter(|r| r.owner == Some(Owner::Unknown))
            .map(InetRow::key)
            .collect();
        real_out.stdout = without_rows(&real_out.stdout, &excluded);
        ours_out.stdout = without_rows(&ours_out.stdout, &excluded);
        Ok(())
    })
}

fn compare_filtered(
    ns: &Netns,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
    filter: impl Fn(&mut Output, &mut Output) -> Result<(), String>,
) -> Result<(), String> {
    let real_bin = real();
    let ours_bin = ours();
    if let Some(uid) = user {
        ensure_executable_by(ns, uid, &real_bin)?;
        ensure_executable_by(ns, uid, &ours_bin)?;
    }
    let mut attempt = 1;
    loop {
        let real_out = run_netstat_env(ns, &real_bin, user, env, args);
        let ours_out = run_netstat_env(ns, &ours_bin, user, env, args);
        let (mut real_f, mut ours_f) = (real_out.clone(), ours_out.clone());
        filter(&mut real_f, &mut ours_f).map_err(|e| {
            format!(
                "{e}\n{}{}",
                show_output("net-tools", &real_out),
                show_output("ours", &ours_out)
            )
        })?;
        let Err(diff) = diff_outputs(&real_f, &ours_f) else {
            return Ok(());
        };
        // Is net-tools itself stable? (Compared unfiltered: the filter may expect lines
        // only we print.)
        let again = run_netstat_env(ns, &real_bin, user, env, args);
        let moving = diff_outputs(&real_out, &again).is_err();
        if moving && attempt < MOVING_ATTEMPTS {
            attempt += 1;
            thread::sleep(Duration::from_millis(300));
            continue;
        }
        let mut report = format!(
            "`netstat {}` differs (as {}, namespace {}, env {env:?}, attempt {attempt})\n",
            args.join(" "),
            who(user),
            ns.name()
        );
        report.push_str(if moving {
            "  NOTE: a second run of net-tools did NOT match its first run: the namespace is \
             moving, not necessarily ours\n"
        } else {
            "  (a second run of net-tools matched its first run)\n"
        });
        report.push_str(&diff);
        report.push_str(&show_output("net-tools (unfiltered)", &real_out));
        report.push_str(&show_output("ours (unfiltered)", &ours_out));
        return Err(report);
    }
}

/// `stdout` without the socket rows whose key is in `excluded` (other lines are kept).
fn without_rows(stdout: &[u8], excluded: &BTreeSet<RowKey>) -> Vec<u8> {
    let mut kept = Vec::with_capacity(stdout.len());
    for line in stdout.split_inclusive(|b| *b == b'\n') {
        let text = String::from_utf8_lossy(line);
        let drop = parse_row(text.trim_end_matches('\n'), Columns::default())
            .is_some_and(|r| excluded.contains(&r.key()));
        if !drop {
            kept.extend_from_slice(line);
        }
    }
    kept
}

/// Runs `args` plus `-v` with both tools and checks the /proc fallback: our stderr has one
/// line starting with [`FROM_PROC`] followed by a reason; without that line, stdout, stderr
/// and exit code equal net-tools' (which prints no such line).
pub fn check_verbose_fallback(
    ns: &Netns,
    user: Option<u32>,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<(), String> {
    let mut argv: Vec<&str> = args.to_vec();
    argv.push("-v");
    compare_filtered(ns, user, env, &argv, |_, ours_out| {
        let lines = split_lines(&ours_out.stderr);
        let (said, rest): (Vec<Vec<u8>>, Vec<Vec<u8>>) = lines
            .into_iter()
            .partition(|l| l.starts_with(FROM_PROC.as_bytes()));
        let [line] = said.as_slice() else {
            return Err(format!(
                "expected exactly one stderr line starting with `{FROM_PROC}`, found {}",
                said.len()
            ));
        };
        let reason = String::from_utf8_lossy(&line[FROM_PROC.len()..]).into_owned();
        if !reason.chars().any(char::is_alphanumeric) {
            return Err(format!(
                "`{FROM_PROC}` must be followed by the reason, got `{}`",
                String::from_utf8_lossy(line)
            ));
        }
        let mut stderr = Vec::new();
        for l in rest {
            stderr.extend_from_slice(&l);
            stderr.push(b'\n');
        }
        ours_out.stderr = stderr;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Parsing the PID/Program name column

/// What the PID/Program name column says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// `-`: no owner known.
    Unknown,
    /// `PID/name`: a live owner; `name` is argv\[0\]'s basename (net-tools' format).
    Live { pid: u32, name: String },
    /// `PID/comm*`: the owner has exited (or no longer holds the socket); `comm` is its
    /// kernel task name, without the `*`.
    Gone { pid: u32, comm: String },
}

impl Owner {
    /// The pid, when the column names one.
    pub fn pid(&self) -> Option<u32> {
        match self {
            Owner::Unknown => None,
            Owner::Live { pid, .. } | Owner::Gone { pid, .. } => Some(*pid),
        }
    }
}

/// Parses the PID/Program name field: `-`, `PID/name` or `PID/comm*`.
pub fn parse_owner(field: &str) -> Result<Owner, String> {
    if field == "-" {
        return Ok(Owner::Unknown);
    }
    let (pid, name) = field
        .split_once('/')
        .ok_or_else(|| format!("PID/Program name `{field}` has no `/`"))?;
    let pid: u32 = pid
        .parse()
        .map_err(|_| format!("PID/Program name `{field}`: `{pid}` is not a pid"))?;
    if pid == 0 {
        return Err(format!("PID/Program name `{field}`: pid 0"));
    }
    Ok(match name.strip_suffix('*') {
        Some(comm) => Owner::Gone {
            pid,
            comm: comm.to_string(),
        },
        None => Owner::Live {
            pid,
            name: name.to_string(),
        },
    })
}

/// One Internet socket row of netstat's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InetRow {
    /// The whole line (without `\n`).
    pub line: String,
    pub proto: String,
    pub recv_q: String,
    pub send_q: String,
    pub local: String,
    pub foreign: String,
    /// Empty for unconnected UDP.
    pub state: String,
    /// The PID/Program name column as printed (trimmed), when the output has it.
    pub owner_text: Option<String>,
    /// The parsed column, when the output has it.
    pub owner: Option<Owner>,
}

/// What identifies a row within one namespace: (proto, local, foreign, state).
pub type RowKey = (String, String, String, String);

impl InetRow {
    pub fn key(&self) -> RowKey {
        (
            self.proto.clone(),
            self.local.clone(),
            self.foreign.clone(),
            self.state.clone(),
        )
    }

    /// `tcp6`, `udp6`, `raw6`, `udpl6`.
    pub fn is_v6(&self) -> bool {
        self.proto.ends_with('6')
    }

    /// The local port, numeric output only.
    pub fn local_port(&self) -> Option<u16> {
        port_of(&self.local)
    }

    /// The remote port; 0 for `*`.
    pub fn foreign_port(&self) -> Option<u16> {
        port_of(&self.foreign)
    }
}

fn port_of(addr: &str) -> Option<u16> {
    let (_, port) = addr.rsplit_once(':')?;
    if port == "*" {
        Some(0)
    } else {
        port.parse().ok()
    }
}

/// Which optional columns the output has (from its `Proto` header line).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Columns {
    /// `-e`: User and Inode after State.
    extended: bool,
    /// `-p`: PID/Program name.
    program: bool,
    /// `-o`: Timer, two words at the end.
    timers: bool,
}

const TCP_STATES: [&str; 12] = [
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "UNKNOWN",
];

const INET_PROTOS: [&str; 8] = ["tcp", "tcp6", "udp", "udp6", "udpl", "udpl6", "raw", "raw6"];

/// The socket rows of `-t`/`-u` output (numeric addresses; `-p`, `-e`, `-o`, `-W` allowed).
///
/// The optional columns are read from the `Proto ...` header of each section. A program
/// name containing spaces is joined with single spaces. `Err` names the first line that
/// looks like a row but does not parse.
pub fn inet_rows(stdout: &[u8]) -> Result<Vec<InetRow>, String> {
    let mut cols = Columns::default();
    let mut rows = Vec::new();
    for raw in split_lines(stdout) {
        let line = String::from_utf8_lossy(&raw);
        if line.starts_with("Proto ") {
            cols = Columns {
                extended: line.contains(" User ") && line.contains(" Inode "),
                program: line.contains("PID/Program name"),
                timers: line.contains("Timer"),
            };
            continue;
        }
        let first = line.split_whitespace().next().unwrap_or_default();
        if !INET_PROTOS.contains(&first) {
            continue;
        }
        let row = parse_row(&line, cols).ok_or_else(|| format!("unparsable row `{line}`"))?;
        if let Some(Err(e)) = row.owner_text.as_deref().map(parse_owner) {
            return Err(format!("{e} in row `{line}`"));
        }
        rows.push(row);
    }
    Ok(rows)
}

fn parse_row(line: &str, cols: Columns) -> Option<InetRow> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    let [proto, recv_q, send_q, local, foreign, rest @ ..] = tokens.as_slice() else {
        return None;
    };
    if !INET_PROTOS.contains(proto) {
        return None;
    }
    let mut rest: Vec<&str> = rest.to_vec();
    // TCP always has a State; UDP has ESTABLISHED or nothing; raw has a number.
    let state = match rest.first() {
        Some(s) if TCP_STATES.contains(s) => rest.remove(0).to_string(),
        Some(s) if proto.starts_with("raw") && s.parse::<u32>().is_ok() => {
            rest.remove(0).to_string()
        }
        _ => String::new(),
    };
    if cols.extended {
        if rest.len() < 2 {
            return None;
        }
        rest.drain(..2);
    }
    if cols.timers {
        if rest.len() < 2 {
            return None;
        }
        rest.truncate(rest.len() - 2);
    }
    let owner_text = if cols.program {
        if rest.is_empty() {
            return None;
        }
        Some(rest.join(" "))
    } else {
        None
    };
    let owner = owner_text.as_deref().and_then(|t| parse_owner(t).ok());
    Some(InetRow {
        line: line.to_string(),
        proto: (*proto).to_string(),
        recv_q: (*recv_q).to_string(),
        send_q: (*send_q).to_string(),
        local: (*local).to_string(),
        foreign: (*foreign).to_string(),
        state,
        owner_text,
        owner,
    })
}

// ---------------------------------------------------------------------------------------------
// Helper processes (tests/scripts/owners.py)

/// One role of `tests/scripts/owners.py` running in a namespace.
///
/// It has printed `pid PID` and `ready`. Its other stdout lines (`key value...`) are read by
/// [`Script::expect`], in order per key. Dropping it closes its stdin, which makes it exit
/// (it is killed after 5 s); the namespace's own drop kills anything left (e.g. children).
#[derive(Debug)]
pub struct Script {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    pending: VecDeque<String>,
    transcript: Vec<String>,
    stderr: Arc<Mutex<Vec<u8>>>,
    pid: u32,
}

impl Script {
    /// Starts `python3 -u owners.py ROLE --lifetime 300 ARGS` in `ns` and waits
    /// [`SCRIPT_TIMEOUT`] for `pid` and `ready`. Panics with its output otherwise.
    pub fn start(ns: &Netns, role: &str, args: &[&str]) -> Script {
        Script::start_as(ns, None, role, args)
    }

    /// [`Script::start`] as `uid` (gid the same, no supplementary groups) when `Some`.
    pub fn start_as(ns: &Netns, uid: Option<u32>, role: &str, args: &[&str]) -> Script {
        let mut s = Script::launch(ns, uid, "owners.py", role, args);
        s.expect("ready");
        s
    }

    /// `python3 -u tests/scripts/FILE ROLE --lifetime 300 ARGS` in `ns`, once it printed
    /// its `pid` (roles of other scripts say `ready` when they have one: wait for it with
    /// [`Script::expect`]).
    pub fn start_file(ns: &Netns, file: &str, role: &str, args: &[&str]) -> Script {
        Script::launch(ns, None, file, role, args)
    }

    fn launch(ns: &Netns, uid: Option<u32>, file: &str, role: &str, args: &[&str]) -> Script {
        assert!(
            Path::new(PYTHON).is_file(),
            "{PYTHON} is missing: the tests run their socket holders with it"
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scripts")
            .join(file);
        let as_whom = uid.map_or_else(String::new, |u| format!(" as uid {u}"));
        let what = format!(
            "{file} {role} {} (in {}{as_whom})",
            args.join(" "),
            ns.name()
        );
        let mut cmd = Command::new(ip_bin());
        cmd.args(["netns", "exec", ns.name()]);
        if let Some(uid) = uid {
            cmd.arg(crate::setpriv_bin())
                .args([format!("--reuid={uid}"), format!("--regid={uid}")])
                .arg("--clear-groups");
        }
        let mut child = cmd
            .args([PYTHON, "-u"])
            .arg(&script)
            .args([role, "--lifetime", "300"])
            .args(args)
            .env("LC_ALL", "C")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let stdin = child.stdin.take();
        let crate::Pipes { stderr, lines: rx } = crate::Pipes::take(&mut child);
        let mut s = Script {
            what,
            child,
            stdin,
            lines: rx,
            pending: VecDeque::new(),
            transcript: Vec::new(),
            stderr,
            pid: 0,
        };
        let pid = s.expect("pid");
        s.pid = s.num(&pid, 0, "pid");
        s
    }

    /// The script's pid (its first line).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The fields after `key` of the next line starting with the word `key`, waiting up to
    /// [`SCRIPT_TIMEOUT`]. Panics with the transcript when none comes.
    pub fn expect(&mut self, key: &str) -> Vec<String> {
        self.expect_within(key, SCRIPT_TIMEOUT)
    }

    /// [`Script::expect`] with a timeout.
    pub fn expect_within(&mut self, key: &str, timeout: Duration) -> Vec<String> {
        match self.try_expect(key, timeout) {
            Some(fields) => fields,
            None => panic!(
                "{}: no `{key}` line within {timeout:?}\n{}",
                self.what,
                self.transcript()
            ),
        }
    }

    /// The next `key` line's fields, or `None` after `timeout` (or when stdout ended).
    pub fn try_expect(&mut self, key: &str, timeout: Duration) -> Option<Vec<String>> {
        let matches = |l: &str| l.split_whitespace().next() == Some(key);
        if let Some(i) = self.pending.iter().position(|l| matches(l)) {
            let line = self.pending.remove(i).unwrap_or_default();
            return Some(fields(&line));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.transcript.push(line.clone());
                    if matches(&line) {
                        return Some(fields(&line));
                    }
                    self.pending.push_back(line);
                }
                Err(_) => return None,
            }
        }
    }

    /// Every `key` line already read and not yet taken (without waiting).
    pub fn drain(&mut self, key: &str) -> Vec<Vec<String>> {
        let (hit, keep): (Vec<String>, Vec<String>) = self
            .pending
            .drain(..)
            .partition(|l| l.split_whitespace().next() == Some(key));
        self.pending = keep.into();
        hit.iter().map(|l| fields(l)).collect()
    }

    /// `n` `key` lines.
    pub fn expect_n(&mut self, key: &str, n: usize) -> Vec<Vec<String>> {
        (0..n).map(|_| self.expect(key)).collect()
    }

    /// Field `i` of a line as a number; panics with the transcript when it is not one.
    pub fn num<T: std::str::FromStr>(&self, fields: &[String], i: usize, what: &str) -> T {
        match fields.get(i).and_then(|f| f.parse().ok()) {
            Some(v) => v,
            None => panic!(
                "{}: field {i} of {fields:?} ({what}) is not a number\n{}",
                self.what,
                self.transcript()
            ),
        }
    }

    /// Sends one command line on stdin.
    pub fn send(&mut self, cmd: &str) {
        let ok = self.stdin.as_mut().is_some_and(|s| {
            s.write_all(format!("{cmd}\n").as_bytes()).is_ok() && s.flush().is_ok()
        });
        assert!(
            ok,
            "{}: cannot send `{cmd}` (stdin closed?)\n{}",
            self.what,
            self.transcript()
        );
    }

    /// Closes stdin (the script exits at EOF).
    pub fn close_stdin(&mut self) {
        drop(self.stdin.take());
    }

    /// Waits up to `timeout` for the started process to exit; panics otherwise.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
                Ok(None) => panic!(
                    "{} did not exit within {timeout:?}\n{}",
                    self.what,
                    self.transcript()
                ),
                Err(e) => panic!("waiting for {}: {e}", self.what),
            }
        }
    }

    /// Everything it printed so far (stdout lines, then stderr), for failure reports.
    pub fn transcript(&self) -> String {
        let mut s = format!("--- {} (pid {}) stdout:\n", self.what, self.pid);
        for l in &self.transcript {
            let _ = writeln!(s, "{l}");
        }
        let err = self
            .stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let _ = write!(s, "--- stderr:\n{err}");
        s
    }
}

fn fields(line: &str) -> Vec<String> {
    line.split_whitespace()
        .skip(1)
        .map(str::to_string)
        .collect()
}

impl Drop for Script {
    fn drop(&mut self) {
        self.close_stdin();
        crate::end_child(&mut self.child);
    }
}

/// `GET /metrics` from the agent's TCP endpoint at `addr`: every sample, by its name and
/// labels as written (`netstat_map_entries{map="owners"}`), comments left out.
pub fn scrape_metrics(addr: &str) -> std::collections::BTreeMap<String, f64> {
    use std::io::{Read as _, Write as _};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("metrics at {addr}: {e}"));
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Probes run as another user

/// Runs a small Python program as `uid` (in the host's namespaces) and returns its stdout.
pub fn python_as(uid: u32, program: &str, args: &[&str]) -> String {
    let out = Command::new(crate::setpriv_bin())
        .args([
            format!("--reuid={uid}"),
            format!("--regid={uid}"),
            "--clear-groups".to_string(),
        ])
        .args([PYTHON, "-c", program])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("setpriv python3: {e}"));
    assert!(
        out.status.success(),
        "the probe as uid {uid} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A [`python_as`] program: connects to the unix socket `argv[1]` and sends `argv[2]`
/// (hex); prints `errno N` (connect refused), `recv-errno N`, or `answer HEX`.
pub const UNIX_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("errno", e.errno)
    sys.exit(0)
s.sendall(bytes.fromhex(sys.argv[2]))
data = b""
while True:
    try:
        chunk = s.recv(65536)
    except OSError as e:
        print("recv-errno", e.errno)
        sys.exit(0)
    if not chunk:
        break
    data += chunk
print("answer", data.hex())
"#;

/// `bytes` as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|x| format!("{x:02x}")).collect()
}

/// Hex back to bytes (stops making sense at the first bad pair, which it skips).
pub fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP_P: &str = "Active Internet connections (servers and established)\n\
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n\
tcp        0      0 127.0.0.1:38923         0.0.0.0:*               LISTEN      4022/python3        \n\
tcp        0      0 127.0.0.1:34240         127.0.0.1:38923         TIME_WAIT   4085/nst-cli*       \n\
tcp        1      0 127.0.0.1:46447         127.0.0.1:59628         CLOSE_WAIT  -                   \n\
tcp6       0      0 ::1:39147               :::*                    LISTEN      4022/python3        \n";

    #[test]
    fn tcp_rows_and_owners_parse() {
        let rows = inet_rows(TCP_P.as_bytes()).unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[0].state, "LISTEN");
        assert_eq!(rows[0].local_port(), Some(38923));
        assert_eq!(rows[0].foreign_port(), Some(0));
        assert_eq!(
            rows[0].owner,
            Some(Owner::Live {
                pid: 4022,
                name: "python3".into()
            })
        );
        assert_eq!(
            rows[1].owner,
            Some(Owner::Gone {
                pid: 4085,
                comm: "nst-cli".into()
            })
        );
        assert_eq!(rows[2].owner, Some(Owner::Unknown));
        assert_eq!(rows[2].recv_q, "1");
        assert!(rows[3].is_v6());
        assert_eq!(rows[3].local_port(), Some(39147));
    }

    #[test]
    fn udp_rows_without_state_parse() {
        let out = "Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name    \n\
udp        0      0 127.0.0.1:5353          0.0.0.0:*                           17/python3          \n\
udp6     768      0 ::1:40000               ::1:40001               ESTABLISHED 18/python3          \n";
        let rows = inet_rows(out.as_bytes()).unwrap();
        assert_eq!(rows[0].state, "");
        assert_eq!(rows[0].owner.as_ref().and_then(Owner::pid), Some(17));
        assert_eq!(rows[1].state, "ESTABLISHED");
        assert_eq!(rows[1].foreign_port(), Some(40001));
    }

    #[test]
    fn extended_and_timer_columns_are_skipped() {
        let out = "Proto Recv-Q Send-Q Local Address           Foreign Address         State       User       Inode      PID/Program name     Timer\n\
tcp        0      0 127.0.0.1:80            0.0.0.0:*               LISTEN      0          1234       99/python3           off (0.00/0/0)\n\
tcp        0      0 127.0.0.1:81            127.0.0.1:82            TIME_WAIT   0          0          -                    timewait (59.12/0/0)\n";
        let rows = inet_rows(out.as_bytes()).unwrap();
        assert_eq!(rows[0].owner_text.as_deref(), Some("99/python3"));
        assert_eq!(rows[1].owner, Some(Owner::Unknown));
    }

    #[test]
    fn output_without_program_column_has_no_owner() {
        let out = "Proto Recv-Q Send-Q Local Address           Foreign Address         State      \n\
tcp        0      0 127.0.0.1:80            0.0.0.0:*               LISTEN     \n";
        let rows = inet_rows(out.as_bytes()).unwrap();
        assert_eq!(rows[0].owner_text, None);
    }

    #[test]
    fn bad_owner_fields_are_errors() {
        assert!(parse_owner("python3").is_err());
        assert!(parse_owner("x/python3").is_err());
        assert!(parse_owner("0/python3").is_err());
        let out = "Proto Recv-Q Send-Q Local Address Foreign Address State PID/Program name\n\
tcp 0 0 1.2.3.4:1 0.0.0.0:* LISTEN garbage\n";
        assert!(inet_rows(out.as_bytes()).is_err());
    }

    #[test]
    fn excluded_rows_leave_the_rest_in_place() {
        let rows = inet_rows(TCP_P.as_bytes()).unwrap();
        let excluded: BTreeSet<RowKey> = [rows[1].key(), rows[2].key()].into_iter().collect();
        let kept = String::from_utf8(without_rows(TCP_P.as_bytes(), &excluded)).unwrap();
        let lines: Vec<&str> = kept.lines().collect();
        assert_eq!(lines.len(), 4, "{kept}");
        assert!(lines[0].starts_with("Active"));
        assert!(lines[2].contains(":38923 ") && lines[2].contains("LISTEN"));
        assert!(lines[3].starts_with("tcp6"));
        assert!(kept.ends_with("python3        \n"));
    }

    #[test]
    fn unit_bounding_sets_add_up_within_service() {
        let unit = "[Unit]\nDescription=x\n[Service]\n# CapabilityBoundingSet=CAP_SYS_ADMIN\n\
CapabilityBoundingSet=CAP_BPF CAP_PERFMON\nNoNewPrivileges=yes\nCapabilityBoundingSet=CAP_NET_ADMIN CAP_BPF\n";
        assert_eq!(
            unit_bounding_set(unit).unwrap(),
            ["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"]
        );
        assert!(unit_bounding_set("[Service]\nType=notify\n").is_err());
        assert!(unit_bounding_set("[Service]\nCapabilityBoundingSet=~CAP_SYS_ADMIN\n").is_err());
        assert!(unit_bounding_set("[Service]\nCapabilityBoundingSet=\n").is_err());
        assert!(unit_bounding_set("[Service]\nCapabilityBoundingSet=bpf\n").is_err());
    }

    #[test]
    fn script_line_fields_drop_the_key() {
        assert_eq!(fields("conn 1 ::1 2"), ["1", "::1", "2"]);
    }
}
