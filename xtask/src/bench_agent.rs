//! The socket-owner agent (`netstat --agent`) as the sockets bench drives it: started and
//! always stopped (SIGTERM, then SIGKILL), its start-up timed from its stderr, its CPU time
//! and memory read from /proc, the kernel memory of its BPF maps, and a connection-churn
//! load to run with and without it. Declared from bench.rs (`bench::agent`).
use std::{
    collections::HashMap,
    fs,
    io::{BufRead as _, BufReader, Read as _},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::{
    cmd::{Cmd, shell_quote},
    timing::{Netns, in_ns},
};

/// The agent's environment variable naming its query socket (netstat_user::agent).
pub const SOCKET_ENV: &str = "NETSTAT_AGENT_SOCKET";
/// How long the agent may take to load, attach and seed before the bench gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(180);
/// How long the agent may take to stop after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the agent's stderr said while it started.
#[derive(Clone, Copy)]
pub struct Startup {
    /// From spawn to the `-v` line listing the attached programs (load and attach).
    pub attached: Option<Duration>,
    /// From spawn to the `ready` line (load, attach and seed).
    pub ready: Duration,
    /// Sockets in the owner map, and of those the ones seeded, as the ready line says.
    pub counts: Option<(u64, u64)>,
}

impl Startup {
    /// The seed alone: ready minus attached, when the agent said when it attached.
    pub fn seed(&self) -> Option<Duration> {
        self.attached.map(|a| self.ready.saturating_sub(a))
    }
}

/// A running `netstat --agent`; stopped on drop (SIGTERM, then SIGKILL), its socket
/// file removed.
pub struct Agent {
    child: Option<Child>,
    socket: PathBuf,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    log: Vec<String>,
    /// The command line, for error messages (to re-run by hand).
    shown: String,
    clk_tck: u64,
    pub startup: Startup,
}

impl Agent {
    /// Starts `bin --agent -v` answering on `socket` and waits for its ready line.
    pub fn start(bin: &Path, socket: &Path) -> Result<Agent> {
        Agent::start_args(bin, socket, &[])
    }

    /// [`Agent::start`] with more arguments after `--agent -v` (e.g. `--metrics`).
    pub fn start_args(bin: &Path, socket: &Path, extra: &[&str]) -> Result<Agent> {
        let shown = format!(
            "{SOCKET_ENV}={} {} --agent -v {}",
            shell_quote(&socket.to_string_lossy()),
            shell_quote(&bin.to_string_lossy()),
            extra.join(" ")
        );
        let spawned = Instant::now();
        let mut child = Command::new(bin)
            .args(["--agent", "-v"])
            .args(extra)
            .env(SOCKET_ENV, socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start `{shown}`"))?;
        let stderr = child.stderr.take().context("agent stderr")?;
        let (tx, lines) = mpsc::channel();
        // Drains stderr for the agent's whole life so that it never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut agent = Agent {
            child: Some(child),
            socket: socket.to_owned(),
            lines,
            log: Vec::new(),
            shown,
            clk_tck: clk_tck(),
            startup: Startup {
                attached: None,
                ready: Duration::ZERO,
                counts: None,
            },
        };
        agent.wait_ready(spawned)?;
        Ok(agent)
    }

    fn wait_ready(&mut self, spawned: Instant) -> Result<()> {
        let deadline = spawned + READY_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let at = spawned.elapsed();
                    if line.contains("agent: attached") {
                        self.startup.attached = Some(at);
                    }
                    let ready = is_ready_line(&line);
                    if ready {
                        self.startup.ready = at;
                        self.startup.counts = ready_counts(&line);
                    }
                    self.log.push(line);
                    if ready {
                        return Ok(());
                    }
                }
                Err(RecvTimeoutError::Timeout) => bail!(
                    "the agent was not ready after {} s; it said:\n{}\nreproduce: {}",
                    READY_TIMEOUT.as_secs(),
                    self.log.join("\n"),
                    self.shown
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = match self.child.as_mut() {
                        Some(c) => c.wait().map(|s| s.to_string()).unwrap_or_default(),
                        None => String::new(),
                    };
                    self.child = None;
                    bail!(
                        "the agent exited before it was ready ({status}); it said:\n{}\n\
                         reproduce: {}",
                        self.log.join("\n"),
                        self.shown
                    )
                }
            }
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Its CPU time and memory now, from /proc/PID/stat and /proc/PID/status.
    pub fn usage(&self) -> Result<Usage> {
        let pid = self.pid().context("the agent is not running")?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
            .with_context(|| format!("reading /proc/{pid}/stat of the agent"))?;
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .with_context(|| format!("reading /proc/{pid}/status of the agent"))?;
        let ticks = cpu_ticks(&stat).with_context(|| format!("no CPU times in {stat:?}"))?;
        Ok(Usage {
            cpu_ms: ticks as f64 * 1e3 / self.clk_tck as f64,
            rss_kib: status_kib(&status, "VmRSS").context("no VmRSS in the agent's status")?,
            hwm_kib: status_kib(&status, "VmHWM").context("no VmHWM in the agent's status")?,
        })
    }

    /// The kernel memory of the BPF maps the agent holds open, from its fdinfo (exact
    /// for this agent, whatever other agents run); names from bpftool when installed.
    pub fn maps(&self) -> Result<Maps> {
        maps_of(self.pid().context("the agent is not running")?)
    }

    /// Every stderr line read so far (start-up lines included).
    pub fn log(&mut self) -> &[String] {
        self.log.extend(self.lines.try_iter());
        &self.log
    }

    /// Lines it printed beyond the start-up ones (warnings, failed queries, losses).
    pub fn remarks(&mut self) -> Vec<String> {
        self.log.extend(self.lines.try_iter());
        self.log
            .iter()
            .filter(|l| !l.contains("agent: attached") && !is_ready_line(l))
            .filter(|l| !l.ends_with("agent stopped"))
            .cloned()
            .collect()
    }

    /// SIGTERM, then SIGKILL after [`STOP_TIMEOUT`]. Fails when it did not exit 0 on
    /// SIGTERM, saying what it printed.
    pub fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let status = terminate(&mut child)?;
        // The reader thread ends at EOF, right after the exit: collect its last lines.
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.log.push(line);
        }
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => bail!(
                "the agent ended with {s} on SIGTERM; it said:\n{}\nreproduce: {}",
                self.log.join("\n"),
                self.shown
            ),
            None => bail!(
                "the agent ignored SIGTERM for {} s and was killed; reproduce: {}",
                STOP_TIMEOUT.as_secs(),
                self.shown
            ),
        }
    }
}

/// The kernel memory of the BPF maps process `pid` holds open, from its fdinfo; names
/// from bpftool when installed.
pub fn maps_of(pid: u32) -> Result<Maps> {
    let dir = format!("/proc/{pid}/fd");
    let mut found = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("listing {dir}"))? {
        let entry = entry.with_context(|| format!("listing {dir}"))?;
        let Ok(target) = fs::read_link(entry.path()) else {
            continue; // closed meanwhile
        };
        if target.as_os_str() != "anon_inode:bpf-map" {
            continue;
        }
        let info = format!("/proc/{pid}/fdinfo/{}", entry.file_name().to_string_lossy());
        if let Some(map) = fs::read_to_string(&info)
            .ok()
            .as_deref()
            .and_then(fdinfo_map)
        {
            found.push(map);
        }
    }
    found.sort_by_key(|m| m.0);
    found.dedup_by_key(|m| m.0);
    let names = Cmd::new("bpftool")
        .args(["-j", "map", "show"])
        .probe()
        .map(|json| bpftool_names(&json));
    Ok(Maps {
        maps: found
            .into_iter()
            .map(|(id, memlock)| MapMem {
                name: names.as_ref().and_then(|n| n.get(&id).cloned()),
                memlock,
            })
            .collect(),
        named: names.is_some(),
    })
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = terminate(&mut child);
        }
        let _ = fs::remove_file(&self.socket);
    }
}

/// SIGTERM and a bounded wait; SIGKILL when that runs out. `None`: it had to be killed.
fn terminate(child: &mut Child) -> Result<Option<ExitStatus>> {
    if let Some(status) = child.try_wait()? {
        return Ok(Some(status));
    }
    // `kill` the command: xtask has no libc binding of its own.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    if let Some(status) = wait_timeout(child, STOP_TIMEOUT)? {
        return Ok(Some(status));
    }
    let _ = child.kill();
    child.wait().context("waiting for the killed agent")?;
    Ok(None)
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().context("waiting for a child")? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// The agent's CPU time (all threads) and memory at one moment.
#[derive(Clone, Copy)]
pub struct Usage {
    pub cpu_ms: f64,
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

pub struct MapMem {
    /// None when bpftool is missing.
    pub name: Option<String>,
    pub memlock: u64,
}

pub struct Maps {
    pub maps: Vec<MapMem>,
    /// Whether bpftool was there to name them.
    pub named: bool,
}

impl Maps {
    /// Bytes of the maps called `name`.
    pub fn named(&self, name: &str) -> u64 {
        self.maps
            .iter()
            .filter(|m| m.name.as_deref() == Some(name))
            .map(|m| m.memlock)
            .sum()
    }

    pub fn total(&self) -> u64 {
        self.maps.iter().map(|m| m.memlock).sum()
    }
}

/// Which source a `netstat -tanp -v` run took for owners, from its stderr.
#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// From the agent, for this many sockets.
    Agent(Option<u64>),
    /// From /proc, with the reason given.
    Proc(String),
}

/// Runs `bin -tanp -v` in namespace `ns` with the agent socket `socket` and reports the
/// owner source it announced.
pub fn owners_source(ns: &str, bin: &str, socket: &Path) -> Result<Source> {
    let out = in_ns(ns, &[bin, "-tanp", "-v"])
        .env(SOCKET_ENV, socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .with_context(|| format!("running {bin} -tanp -v"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    parse_source(&stderr).with_context(|| {
        format!(
            "`{SOCKET_ENV}={} nsenter --net=/var/run/netns/{ns} {bin} -tanp -v` ({}) named no \
             owner source on stderr: {}",
            socket.display(),
            out.status,
            stderr.trim()
        )
    })
}

/// One connection-churn run: how many cycles in how long.
pub struct Churn {
    pub cycles: u64,
    pub secs: f64,
}

impl Churn {
    pub fn rate(&self) -> f64 {
        self.cycles as f64 / self.secs
    }
}

/// Runs xtask/bench/churn.py in a fresh network namespace (deleted afterwards): up to
/// `cycles` loopback connect/accept/close cycles, or `max` of time.
pub fn churn(root: &Path, cycles: usize, max: Duration) -> Result<Churn> {
    let netns = Netns::new("nsbench-churn")?;
    let ns = netns.name();
    // Room for every client's TIME_WAIT port, as in the holders' namespace.
    Cmd::new("ip")
        .args(["netns", "exec", ns])
        .args([
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_local_port_range=10000 65000",
        ])
        .run()?;
    let script = root.join("xtask/bench/churn.py");
    let script = script.to_str().context("script path is not UTF-8")?;
    let (n, secs) = (cycles.to_string(), max.as_secs_f64().to_string());
    let argv = ["python3", script, &n, &secs];
    let mut child = in_ns(ns, &argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {argv:?}"))?;
    // The script bounds itself; this also bounds a connect() stuck in SYN retries.
    let status = match wait_timeout(&mut child, max + Duration::from_secs(30))? {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{argv:?} ran past its time bound and was killed");
        }
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .context("churn stdout")?
        .read_to_string(&mut out)
        .context("reading the churn result")?;
    if !status.success() {
        bail!("{argv:?} failed ({status})");
    }
    parse_churn(&out).with_context(|| format!("{argv:?} printed {out:?}, not `CYCLES SECONDS`"))
}

/// Whether an agent stderr line is its ready line: the word `ready` (not `already`).
fn is_ready_line(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "ready")
}

/// `(tracked, seeded)` from `... ready: 123 sockets tracked (45 seeded from ...`.
fn ready_counts(line: &str) -> Option<(u64, u64)> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let before = |word: &str| {
        let i = words.iter().position(|w| w.trim_matches('(') == word)?;
        words.get(i.checked_sub(1)?)?.trim_matches('(').parse().ok()
    };
    let tracked = words
        .windows(3)
        .find(|w| w[1] == "sockets" && w[2] == "tracked")
        .and_then(|w| w[0].parse().ok())?;
    Some((tracked, before("seeded")?))
}

/// utime + stime (fields 14 and 15, in clock ticks) from /proc/PID/stat. The command name
/// (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // field 3 is the first after `)`
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   N kB` line of /proc/PID/status, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix(':')?;
        value.split_whitespace().next()?.parse().ok()
    })
}

/// `(map_id, memlock)` from the fdinfo of a BPF map fd.
fn fdinfo_map(fdinfo: &str) -> Option<(u32, u64)> {
    let field = |key: &str| {
        fdinfo.lines().find_map(|line| {
            let value = line.strip_prefix(key)?.strip_prefix(':')?;
            Some(value.trim())
        })
    };
    Some((
        field("map_id")?.parse().ok()?,
        field("memlock")?.parse().ok()?,
    ))
}

/// Map id to name, from `bpftool -j map show`.
fn bpftool_names(json: &str) -> HashMap<u32, String> {
    let Ok(serde_json::Value::Array(maps)) = serde_json::from_str(json) else {
        return HashMap::new();
    };
    maps.iter()
        .filter_map(|m| {
            let id = u32::try_from(m.get("id")?.as_u64()?).ok()?;
            Some((id, m.get("name")?.as_str()?.to_owned()))
        })
        .collect()
}

/// The owner source a `netstat -p -v` announced: `netstat: -p: owners from the agent
/// (PATH, N sockets, K refreshes)` or `netstat: -p: owners from /proc (WHY)`.
fn parse_source(stderr: &str) -> Option<Source> {
    stderr.lines().find_map(|line| {
        if let Some(rest) = line.strip_prefix("netstat: -p: owners from the agent") {
            let n = rest
                .trim()
                .trim_end_matches(')')
                .rsplit(", ")
                .find_map(|s| s.strip_suffix(" sockets"))
                .and_then(|s| s.parse().ok());
            return Some(Source::Agent(n));
        }
        let rest = line.strip_prefix("netstat: -p: owners from /proc")?;
        let why = rest.trim().trim_start_matches('(').trim_end_matches(')');
        Some(Source::Proc(why.to_owned()))
    })
}

/// `CYCLES SECONDS` as churn.py prints it.
fn parse_churn(out: &str) -> Option<Churn> {
    let mut words = out.split_whitespace();
    let cycles = words.next()?.parse().ok()?;
    let secs: f64 = words.next()?.parse().ok()?;
    (secs > 0.0 && words.next().is_none()).then_some(Churn { cycles, secs })
}

/// USER_HZ, the unit of /proc/PID/stat times: `getconf CLK_TCK`, else Linux's 100.
fn clk_tck() -> u64 {
    Cmd::new("getconf")
        .arg("CLK_TCK")
        .probe()
        .and_then(|s| s.trim().parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    const READY: &str = "netstat: agent ready: 100012 sockets tracked (100004 seeded from 2 \
                         network namespaces), queries on /tmp/a.sock";

    #[test]
    fn ready_line_and_counts() {
        assert!(is_ready_line(READY));
        assert!(is_ready_line("ready"));
        assert!(!is_ready_line("netstat: agent: socket already in use"));
        assert_eq!(ready_counts(READY), Some((100_012, 100_004)));
        assert_eq!(ready_counts("netstat: agent ready"), None);
    }

    #[test]
    fn cpu_ticks_after_the_command_name() {
        let stat = "14365 (net stat) (x) S 1 14362 8265 0 -1 4194560 13694 0 2 0 19 9 0 0 \
                    20 0 1 0 867906 176238592 7767";
        assert_eq!(cpu_ticks(stat), Some(28));
        assert_eq!(cpu_ticks("1 (x) S 1 2"), None);
        assert_eq!(cpu_ticks("no parenthesis"), None);
    }

    #[test]
    fn status_fields_in_kib() {
        let status = "Name:\tnetstat\nVmHWM:\t   31068 kB\nVmRSS:\t   30100 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(31_068));
        assert_eq!(status_kib(status, "VmRSS"), Some(30_100));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn fdinfo_of_a_map() {
        let info = "pos:\t0\nflags:\t02000002\nmap_type:\t1\nmax_entries:\t16384\n\
                    memlock:\t263040\nmap_id:\t334\nfrozen:\t0\n";
        assert_eq!(fdinfo_map(info), Some((334, 263_040)));
        assert_eq!(fdinfo_map("pos:\t0\nflags:\t02\n"), None);
    }

    #[test]
    fn bpftool_json_names() {
        let json = r#"[{"id":331,"type":"hash","name":"OWNERS","bytes_memlock":4195200},
                       {"id":334,"name":"LISTENERS"},{"name":"no id"}]"#;
        let names = bpftool_names(json);
        assert_eq!(names.len(), 2);
        assert_eq!(names[&331], "OWNERS");
        assert!(bpftool_names("not json").is_empty());
    }

    #[test]
    fn maps_sum_by_name() {
        let maps = Maps {
            maps: vec![
                MapMem {
                    name: Some("OWNERS".into()),
                    memlock: 10,
                },
                MapMem {
                    name: Some("LISTENERS".into()),
                    memlock: 5,
                },
                MapMem {
                    name: None,
                    memlock: 1,
                },
            ],
            named: true,
        };
        assert_eq!(maps.named("OWNERS"), 10);
        assert_eq!(maps.named("EVENTS"), 0);
        assert_eq!(maps.total(), 16);
    }

    #[test]
    fn owner_source_lines() {
        assert_eq!(
            parse_source(
                "x\nnetstat: -p: owners from the agent (/tmp/a, b.sock, 100002 sockets, 0 refreshes)\n"
            ),
            Some(Source::Agent(Some(100_002)))
        );
        assert_eq!(
            parse_source("netstat: -p: owners from /proc (connecting to /x: No such file)\n"),
            Some(Source::Proc("connecting to /x: No such file".into()))
        );
        assert_eq!(parse_source("netstat: something else\n"), None);
    }

    #[test]
    fn an_agent_that_exits_early_is_an_error() {
        let sock = std::env::temp_dir().join(format!("xtask-test-{}.sock", std::process::id()));
        let err = Agent::start(Path::new("false"), &sock)
            .err()
            .expect("`false` is no agent");
        let msg = format!("{err:#}");
        assert!(msg.contains("exited before it was ready"), "{msg}");
        assert!(msg.contains("reproduce: NETSTAT_AGENT_SOCKET="), "{msg}");
    }

    #[test]
    fn churn_output() {
        let c = parse_churn("20000 0.867766\n").unwrap();
        assert_eq!(c.cycles, 20_000);
        assert!((c.rate() - 20_000.0 / 0.867766).abs() < 1e-6);
        assert!(parse_churn("20000\n").is_none());
        assert!(parse_churn("20000 0\n").is_none());
        assert!(parse_churn("1 2 3").is_none());
    }
}
