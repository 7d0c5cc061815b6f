//! `cargo xtask bench --only churn` (issue 5): a connection-churn load on loopback in a
//! network namespace of its own, run alone and under each tracer in turn, in one run:
//! `netstat --watch`, `--watch --json`, `--audit`, `--audit --json` (stdout to a file on
//! disk), and libbpf-tools' `tcpstates` and `tcplife` for comparison. Prints connections
//! per second, the ratio to the same round's bare rate, the lines each tool wrote, the
//! losses it reported and the lines it should have written; asserts nothing (speed is
//! measured, not asserted). The issue's targets: at least 0.9x the bare rate with
//! `--watch`, 0.95x with `--audit`, and 0 lost at the default buffer size.
//!
//! Arms are interleaved: each round runs every arm once, in an order rotated by one per
//! round, so drift (other load on the machine, the namespace's TIME_WAIT population)
//! spreads over all of them. The load is `churn` (xtask/bench/churn.py: connect, accept,
//! close); `--churn-load rr|both` runs `rr` (xtask/bench/churn_load.py: the same with a
//! 100-byte request and a 100-byte reply before the close, so the send/receive hooks run
//! too) instead or as well (both double the suite's ~1.5 min). A tool that is not
//! installed, not implemented yet (exits before it is ready), dies during a run or ignores
//! SIGINT is reported as such; none of that stops the bench or makes it hang.
use std::{
    fs::{self, File},
    io::{BufRead as _, BufReader, Read as _},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc::{self, Receiver, RecvTimeoutError},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::{
    cmd::Cmd,
    timing::{Netns, require_tools},
};

/// A load's time bound, and how long past it the bench waits before killing it.
const LOAD_MAX: Duration = Duration::from_secs(30);
const LOAD_GRACE: Duration = Duration::from_secs(30);
/// How long our tool may take to load, attach and seed before it counts as failed.
const OURS_READY_TIMEOUT: Duration = Duration::from_secs(60);
/// tcpstates/tcplife print no ready line on stderr, and their header sits in stdio's
/// buffer while stdout is a file: they are ready when their perf buffer exists (an
/// epoll fd, made after the programs are attached), or assumed ready after this long.
const PEER_READY_TIMEOUT: Duration = Duration::from_secs(3);
/// Left to a tool after the load to print what is still queued, before SIGINT.
const DRAIN: Duration = Duration::from_millis(500);
/// How long a tool may take to exit on SIGINT before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the request and of the reply in the `rr` load (churn_load.py's default).
const RR_SIZE: &str = "100";

pub struct Args {
    /// Connections per load run.
    pub connections: usize,
    /// Rounds; each runs every arm once per load.
    pub rounds: usize,
    pub loads: Loads,
}

/// Which loads run under every arm: both double the suite's time.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Loads {
    /// connect/accept/close (xtask/bench/churn.py)
    Churn,
    /// connect/accept, 100-byte request and reply, close (xtask/bench/churn_load.py)
    Rr,
    /// both, one after the other under each arm
    Both,
}

impl Loads {
    /// Indices into LOADS.
    fn indices(self) -> Vec<usize> {
        match self {
            Loads::Churn => vec![0],
            Loads::Rr => vec![1],
            Loads::Both => vec![0, 1],
        }
    }
}

/// A load script, run in the namespace; it prints `CYCLES SECONDS`.
struct Load {
    name: &'static str,
    what: &'static str,
    script: &'static str,
    /// Its listener's port: below the namespace's ephemeral range, so it names this
    /// load's lines in the tools' output (which covers every namespace).
    port: u16,
    extra: &'static [&'static str],
}

const LOADS: [Load; 2] = [
    Load {
        name: "churn",
        what: "connect/accept/close",
        script: "xtask/bench/churn.py",
        port: 4917,
        extra: &[],
    },
    Load {
        name: "rr",
        what: "connect/accept, 100-byte request and reply, close",
        script: "xtask/bench/churn_load.py",
        port: 4918,
        extra: &["127.0.0.1", RR_SIZE],
    },
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Bare,
    /// Our netstat; `json` when run with `--json`.
    Ours {
        json: bool,
    },
    Tcpstates,
    Tcplife,
}

/// Lines a tool should write for one load run.
#[derive(Clone, Copy)]
enum Expect {
    /// One per TCP state change: 10 per churn cycle (5 on each side, the client's
    /// FIN_WAIT2 -> CLOSE/TIME_WAIT included), plus the listener's CLOSE -> LISTEN and
    /// LISTEN -> CLOSE.
    Transitions,
    /// One per socket that ends: each cycle is 2 TCP sockets.
    Sockets,
}

impl Expect {
    fn lines(self, cycles: u64) -> u64 {
        match self {
            Expect::Transitions => 10 * cycles + 2,
            Expect::Sockets => 2 * cycles,
        }
    }
}

struct Arm {
    label: String,
    argv: Vec<String>,
    /// Set in the tool's environment.
    env: &'static [(&'static str, &'static str)],
    kind: Kind,
    expect: Option<Expect>,
    /// The issue's target for the ratio to bare, for our tools.
    target: Option<f64>,
}

/// One load run under one arm.
struct Sample {
    round: usize,
    cycles: u64,
    rate: f64,
    /// Lines in the tool's output file, and those naming the load's port.
    lines: u64,
    matched: u64,
    /// Lines of ours ending a timewait socket (`TIME_WAIT -> CLOSE`), not in `matched`.
    tw_ends: u64,
    lost: u64,
}

#[derive(Default)]
struct Results {
    /// Per load (index into LOADS).
    samples: [Vec<Sample>; 2],
    /// Why the arm could not run at all.
    unavailable: Option<String>,
    notes: Vec<String>,
}

impl Results {
    fn note(&mut self, note: String) {
        if !self.notes.contains(&note) {
            self.notes.push(note);
        }
    }
}

pub fn bench(root: &Path, bin: &Path, args: &Args) -> Result<()> {
    require_tools(&["ip", "python3", "kill"])?;
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    let loads = args.loads.indices();
    let arms = arms(ours);
    let mut results: Vec<Results> = arms.iter().map(|_| Results::default()).collect();
    for (arm, res) in arms.iter().zip(&mut results) {
        if matches!(arm.kind, Kind::Tcpstates | Kind::Tcplife) && !Path::new(&arm.argv[0]).exists()
        {
            res.unavailable = Some(format!(
                "{} is not installed (libbpf-tools; `cargo xtask setup` installs it where \
                 the apt sources carry it)",
                arm.argv[0]
            ));
        }
    }
    let dir = TempDir::new()?;
    let netns = Netns::new("nsbench-churnload")?;
    let ns = netns.name();
    // Room for every client's TIME_WAIT port, as in the other benches' namespaces; the
    // loads' listeners sit below this range.
    Cmd::new("ip")
        .args(["netns", "exec", ns])
        .args([
            "sysctl",
            "-q",
            "-w",
            "net.ipv4.ip_local_port_range=10000 65000",
        ])
        .run()?;
    let started = Instant::now();
    eprintln!(
        "bench: churn: {} rounds x {} arms x {} load(s) of {} connections in namespace {ns}...",
        args.rounds,
        arms.len(),
        loads.len(),
        args.connections
    );
    // Untimed: warms Python's caches and brings the namespace's TIME_WAIT population
    // near the level every later run sees.
    for &l in &loads {
        run_load(root, ns, &LOADS[l], args.connections)?;
    }
    for round in 0..args.rounds {
        for i in 0..arms.len() {
            let a = (i + round) % arms.len();
            let (arm, res) = (&arms[a], &mut results[a]);
            for &l in &loads {
                if res.unavailable.is_some() {
                    break;
                }
                let load = &LOADS[l];
                eprintln!(
                    "bench: churn: round {}/{}: {} ({})",
                    round + 1,
                    args.rounds,
                    arm.label,
                    load.name
                );
                let out = dir
                    .path
                    .join(format!("arm{a}-{}-round{round}.out", load.name));
                let run = format!("{} round {}", load.name, round + 1);
                match run_arm(root, ns, arm, load, args.connections, &out)? {
                    Outcome::Ran(mut sample, notes) => {
                        sample.round = round;
                        res.samples[l].push(sample);
                        for n in notes {
                            res.note(match n {
                                Note::General(n) => n,
                                Note::Run(n) => format!("{run}: {n}"),
                            });
                        }
                    }
                    Outcome::Unavailable(why) => res.unavailable = Some(why),
                    Outcome::Failed(why) => res.note(format!("{run}: {why}; run left out")),
                }
                let _ = fs::remove_file(&out); // tens of MB each; counted already
            }
        }
    }
    drop(netns);
    let bare = results[0].samples.each_ref().map(|s| {
        s.iter()
            .map(|x| (x.round, x.rate))
            .collect::<Vec<(usize, f64)>>()
    });
    let mut breakdowns = Vec::new();
    for &l in &loads {
        let load = &LOADS[l];
        println!();
        println!(
            "connection churn \"{}\": {} on loopback ({}), {} connections per run, {} rounds \
             (arms interleaved, order rotated per round)",
            load.name, load.what, load.script, args.connections, args.rounds
        );
        println!(
            "  median (min-max) over the rounds; x bare: against the same round's bare run; \
             lines per run (median): written / about the load / expected; lost (as the tool \
             reported) and missing (expected - about the load): sums over the runs"
        );
        println!(
            "  {:<32} {:>22} {:>20} {:>9} {:>9} {:>9} {:>6} {:>8}",
            "arm", "conn/s", "x bare", "lines", "of load", "expected", "lost", "missing"
        );
        for (arm, res) in arms.iter().zip(&results) {
            print_row(arm, res, &res.samples[l], &bare[l]);
            let samples = &res.samples[l];
            let lost: Vec<u64> = samples.iter().map(|s| s.lost).collect();
            let missing: Vec<u64> = samples.iter().map(|s| missing(arm, s)).collect();
            if lost.iter().chain(&missing).any(|&n| n > 0) {
                breakdowns.push(format!(
                    "{}: {} per run: lost {}; missing {}",
                    arm.label,
                    load.name,
                    join(&lost),
                    join(&missing)
                ));
            }
            let tw: Vec<u64> = samples.iter().map(|s| s.tw_ends).collect();
            if tw.iter().any(|&n| n > 0) {
                breakdowns.push(format!(
                    "{}: {} per run: {} more lines were TIME_WAIT -> CLOSE (timewait ends, \
                     which tcpstates does not report; not counted as about the load)",
                    arm.label,
                    load.name,
                    join(&tw)
                ));
            }
        }
        for (arm, res) in arms.iter().zip(&results) {
            let Some(target) = arm.target else { continue };
            if res.unavailable.is_some() || res.samples[l].is_empty() {
                continue;
            }
            let r = median(&ratios(&res.samples[l], &bare[l]));
            let lost: u64 = res.samples[l].iter().map(|s| s.lost).sum();
            let missing: u64 = res.samples[l].iter().map(|s| missing(arm, s)).sum();
            println!(
                "  target {:<30} {r:.3}x bare >= {target}: {}   0 lost: {}{}",
                arm.label,
                verdict(r >= target),
                verdict(lost == 0),
                if missing > 0 {
                    format!(" ({missing} lines missing)")
                } else {
                    String::new()
                }
            );
        }
    }
    println!();
    for line in breakdowns {
        println!("  {line}");
    }
    for (arm, res) in arms.iter().zip(&results) {
        if let Some(why) = &res.unavailable {
            println!("  {}: n/a: {why}", arm.label);
        }
        for n in &res.notes {
            println!("  {}: {n}", arm.label);
        }
    }
    println!(
        "  (FILE: a file on disk in {}, removed after counting; the churn suite took {:.0} s)",
        std::env::temp_dir().display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn join(v: &[u64]) -> String {
    let s: Vec<String> = v.iter().map(u64::to_string).collect();
    s.join(", ")
}

fn arms(ours: &str) -> Vec<Arm> {
    let ours_arm = |args: &[&str], expect, target| {
        let mut argv = vec![ours.to_owned()];
        argv.extend(args.iter().map(|s| s.to_string()));
        Arm {
            label: format!("netstat {} > FILE", args.join(" ")),
            argv,
            env: &[],
            kind: Kind::Ours {
                json: args.contains(&"--json"),
            },
            expect: Some(expect),
            target: Some(target),
        }
    };
    let peer = |path: &str, kind, expect| Arm {
        label: format!("{path} > FILE"),
        argv: vec![path.to_owned()],
        env: &[],
        kind,
        expect: Some(expect),
        target: None,
    };
    vec![
        Arm {
            label: "bare (nothing attached)".into(),
            argv: Vec::new(),
            env: &[],
            kind: Kind::Bare,
            expect: None,
            target: None,
        },
        ours_arm(&["--watch"], Expect::Transitions, 0.9),
        ours_arm(&["--watch", "--json"], Expect::Transitions, 0.9),
        ours_arm(&["--audit"], Expect::Sockets, 0.95),
        ours_arm(&["--audit", "--json"], Expect::Sockets, 0.95),
        // The floor under both targets: the same hooks with programs that return at once
        // (a load-time switch: one load and a branch otherwise). What is left above
        // it is the programs' own work.
        Arm {
            label: "netstat --watch, programs emptied".into(),
            argv: vec![ours.to_owned(), "--watch".into()],
            env: &[("NETSTAT_BENCH_HOOKS_ONLY", "1")],
            kind: Kind::Ours { json: false },
            expect: None,
            target: None,
        },
        peer("/usr/sbin/tcpstates", Kind::Tcpstates, Expect::Transitions),
        peer("/usr/sbin/tcplife", Kind::Tcplife, Expect::Sockets),
    ]
}

enum Outcome {
    Ran(Sample, Vec<Note>),
    /// The tool cannot run here (not implemented, exits at once): skip it from now on.
    Unavailable(String),
    /// This run failed; later rounds try again.
    Failed(String),
}

/// A remark on a run: about the tool in general, or about this run.
enum Note {
    General(String),
    Run(String),
}

/// One load run under `arm`, its tool's stdout in `out`. Errors only for what breaks the
/// bench as a whole (the load failing with nothing attached).
fn run_arm(
    root: &Path,
    ns: &str,
    arm: &Arm,
    load: &Load,
    connections: usize,
    out: &Path,
) -> Result<Outcome> {
    if arm.kind == Kind::Bare {
        let churn = run_load(root, ns, load, connections)?;
        return Ok(Outcome::Ran(
            Sample {
                round: 0,
                cycles: churn.cycles,
                rate: churn.rate(),
                lines: 0,
                matched: 0,
                tw_ends: 0,
                lost: 0,
            },
            Vec::new(),
        ));
    }
    let mut notes = Vec::new();
    let mut tool = match Tool::start(&arm.argv, arm.env, out) {
        Ok(t) => t,
        Err(e) => return Ok(Outcome::Unavailable(format!("{e:#}"))),
    };
    match tool.wait_ready(arm.kind)? {
        Ready::Yes => {}
        Ready::Assumed => notes.push(Note::Run(format!(
            "no sign of readiness within {} s: assumed ready",
            PEER_READY_TIMEOUT.as_secs()
        ))),
        Ready::Exited(status) => {
            let first = tool.log.first().cloned().unwrap_or_default();
            return Ok(Outcome::Unavailable(if first.is_empty() {
                format!("exited before it was ready ({status}), saying nothing")
            } else {
                first
            }));
        }
        Ready::TimedOut => {
            tool.kill();
            return Ok(Outcome::Failed(format!(
                "not ready after {} s; it said: {}",
                OURS_READY_TIMEOUT.as_secs(),
                tool.log.join(" | ")
            )));
        }
    }
    let churn = run_load(root, ns, load, connections);
    let died_in_load = tool.try_wait()?.is_some();
    if !died_in_load {
        thread::sleep(DRAIN);
    }
    let stop = tool.stop()?;
    let counts = count_output(out, arm.kind, load.port)?;
    let expected = match (&churn, arm.expect) {
        (Ok(c), Some(e)) => format!(" of {} expected", e.lines(c.cycles)),
        _ => String::new(),
    };
    let said = tool.remarks(arm.kind);
    let said = if said.is_empty() {
        "nothing unusual on stderr".to_string()
    } else {
        format!("stderr: {}", said.join(" | "))
    };
    match stop {
        Stop::Exited(status) if !status.success() && !interrupted(status) => {
            notes.push(Note::Run(format!("ended with {status} on SIGINT")))
        }
        Stop::Exited(_) => {}
        Stop::DiedEarly(status) => {
            return Ok(Outcome::Failed(format!(
                "it exited ({status}) during the {}, having written {} lines about the \
                 load{expected}; {said}",
                if died_in_load { "load" } else { "drain" },
                counts.matched
            )));
        }
        Stop::Killed => notes.push(Note::Run(format!(
            "ignored SIGINT for {} s and was killed",
            STOP_TIMEOUT.as_secs()
        ))),
    }
    let churn = match churn {
        Ok(c) => c,
        Err(e) => return Ok(Outcome::Failed(format!("the load failed under it: {e:#}"))),
    };
    let lost = losses(arm.kind, &tool.log, counts.lost_records);
    notes.extend(lost.notes.into_iter().map(Note::General));
    if let Kind::Ours { json: true } = arm.kind
        && counts.lines > 0
        && counts.json_lines == 0
    {
        notes.push(Note::General(
            "its --json output is not JSON lines (--json ignored?)".into(),
        ));
    }
    if let Some(printed) = lost.printed
        && printed != counts.lines
    {
        notes.push(Note::Run(format!(
            "it said {printed} printed, its file has {} lines",
            counts.lines
        )));
    }
    for line in tool.remarks(arm.kind).into_iter().take(3) {
        notes.push(Note::Run(format!("it said: {line}")));
    }
    Ok(Outcome::Ran(
        Sample {
            round: 0,
            cycles: churn.cycles,
            rate: churn.rate(),
            lines: counts.lines,
            matched: counts.matched,
            tw_ends: counts.tw_ends,
            lost: lost.total,
        },
        notes,
    ))
}

/// SIGINT's own ending (128 + 2 or killed by the signal): a normal stop.
fn interrupted(status: ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt as _;
    status.code() == Some(130) || status.signal() == Some(2)
}

/// A traced tool running with stdout to a file and stderr read line by line; killed on
/// drop.
struct Tool {
    child: Option<Child>,
    lines: Receiver<String>,
    /// Every stderr line read so far.
    log: Vec<String>,
    out: PathBuf,
    started: Instant,
}

enum Ready {
    Yes,
    /// A peer tool gave no sign within PEER_READY_TIMEOUT.
    Assumed,
    Exited(ExitStatus),
    TimedOut,
}

enum Stop {
    /// Exited after SIGINT.
    Exited(ExitStatus),
    /// Had exited before SIGINT.
    DiedEarly(ExitStatus),
    /// Still running STOP_TIMEOUT after SIGINT: killed.
    Killed,
}

impl Tool {
    fn start(argv: &[String], env: &[(&str, &str)], out: &Path) -> Result<Tool> {
        let file = File::create(out).with_context(|| format!("creating {}", out.display()))?;
        let mut child = Command::new(&argv[0])
            .args(&argv[1..])
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start {}", argv.join(" ")))?;
        let stderr = child.stderr.take().context("tool stderr")?;
        let (tx, lines) = mpsc::channel();
        // Drains stderr for the tool's whole life so that it never blocks on a full pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(Tool {
            child: Some(child),
            lines,
            log: Vec::new(),
            out: out.to_owned(),
            started: Instant::now(),
        })
    }

    fn wait_ready(&mut self, kind: Kind) -> Result<Ready> {
        let Some(pid) = self.child.as_ref().map(Child::id) else {
            bail!("the tool is not running");
        };
        loop {
            match self.lines.recv_timeout(Duration::from_millis(20)) {
                Ok(line) => {
                    let ready = matches!(kind, Kind::Ours { .. }) && is_ready_line(&line);
                    self.log.push(line);
                    if ready {
                        return Ok(Ready::Yes);
                    }
                    continue;
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
            }
            if let Some(status) = self.try_wait()? {
                self.drain_stderr();
                return Ok(Ready::Exited(status));
            }
            let waited = self.started.elapsed();
            if matches!(kind, Kind::Ours { .. }) {
                if waited >= OURS_READY_TIMEOUT {
                    return Ok(Ready::TimedOut);
                }
                continue;
            }
            let printed = fs::metadata(&self.out).is_ok_and(|m| m.len() > 0);
            if printed || holds_epoll(pid) {
                // The perf buffer is made in one go; let it finish.
                thread::sleep(Duration::from_millis(100));
                return Ok(Ready::Yes);
            }
            if waited >= PEER_READY_TIMEOUT {
                return Ok(Ready::Assumed);
            }
        }
    }

    fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        match self.child.as_mut() {
            Some(c) => Ok(c.try_wait().context("waiting for a tool")?),
            None => bail!("the tool is not running"),
        }
    }

    /// SIGINT (Ctrl-C, which all these tools handle), then SIGKILL after STOP_TIMEOUT.
    fn stop(&mut self) -> Result<Stop> {
        let Some(mut child) = self.child.take() else {
            bail!("the tool is not running");
        };
        let stop = if let Some(status) = child.try_wait()? {
            Stop::DiedEarly(status)
        } else {
            // `kill` the command: xtask has no libc binding of its own.
            let _ = Command::new("kill")
                .args(["-INT", &child.id().to_string()])
                .status();
            match wait_timeout(&mut child, STOP_TIMEOUT)? {
                Some(status) => Stop::Exited(status),
                None => {
                    let _ = child.kill();
                    child.wait().context("waiting for a killed tool")?;
                    Stop::Killed
                }
            }
        };
        self.drain_stderr();
        Ok(stop)
    }

    /// The last stderr lines: the reader ends at EOF, right after the exit.
    fn drain_stderr(&mut self) {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(1)) {
            self.log.push(line);
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stderr lines that are neither readiness, loss nor the stop summary.
    fn remarks(&self, kind: Kind) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for line in &self.log {
            let routine = match kind {
                Kind::Ours { .. } => {
                    is_ready_line(line) || line.contains("LOST") || line.contains(" stopped:")
                }
                _ => lost_on_cpu(line).is_some(),
            };
            if !routine && !line.trim().is_empty() && !seen.contains(line) {
                seen.push(line.clone());
            }
        }
        seen
    }
}

impl Drop for Tool {
    fn drop(&mut self) {
        self.kill();
    }
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

/// Whether process `pid` holds an epoll fd (libbpf's perf buffer).
fn holds_epoll(pid: u32) -> bool {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten()
        .any(|fd| fs::read_link(fd.path()).is_ok_and(|t| t.as_os_str() == "anon_inode:[eventpoll]"))
}

/// Whether a stderr line of ours is its ready line: the word `ready` (not `already`).
fn is_ready_line(line: &str) -> bool {
    line.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| w == "ready")
}

/// One load run: how many cycles in how long.
struct Churn {
    cycles: u64,
    secs: f64,
}

impl Churn {
    fn rate(&self) -> f64 {
        self.cycles as f64 / self.secs
    }
}

/// Runs `load` in namespace `ns` (`ip netns exec`) for `connections` cycles, bounded.
fn run_load(root: &Path, ns: &str, load: &Load, connections: usize) -> Result<Churn> {
    let script = root.join(load.script);
    let args = [
        connections.to_string(),
        LOAD_MAX.as_secs().to_string(),
        load.port.to_string(),
    ];
    let shown = Cmd::new("ip")
        .args(["netns", "exec", ns, "python3"])
        .arg(&script)
        .args(&args)
        .args(load.extra)
        .to_string();
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "python3"])
        .arg(&script)
        .args(&args)
        .args(load.extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start `{shown}`"))?;
    // The script bounds itself; this also bounds a connect() stuck in SYN retries.
    let Some(status) = wait_timeout(&mut child, LOAD_MAX + LOAD_GRACE)? else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("`{shown}` ran past its time bound and was killed");
    };
    let (mut out, mut err) = (String::new(), String::new());
    if let Some(mut s) = child.stdout.take() {
        s.read_to_string(&mut out)
            .context("reading the load's output")?;
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    if !status.success() {
        bail!("`{shown}` failed ({status}): {}", err.trim());
    }
    parse_churn(&out).with_context(|| format!("`{shown}` printed {out:?}, not `CYCLES SECONDS`"))
}

/// `CYCLES SECONDS` as the load scripts print it.
fn parse_churn(out: &str) -> Option<Churn> {
    let mut words = out.split_whitespace();
    let cycles = words.next()?.parse().ok()?;
    let secs: f64 = words.next()?.parse().ok()?;
    (secs > 0.0 && words.next().is_none()).then_some(Churn { cycles, secs })
}

/// What a tool's output file holds.
#[derive(Debug, Default, PartialEq)]
struct Counts {
    lines: u64,
    /// Lines about the load's sockets (naming its port), but for `tw_ends`.
    matched: u64,
    /// Lines of ours about the load's sockets that end a timewait socket: printed when
    /// it leaves sock_diag or a new connection takes its 4-tuple, which tcpstates never
    /// reports; not part of the 10 state changes per cycle.
    tw_ends: u64,
    /// Lines that are JSON objects.
    json_lines: u64,
    /// The `lost` counts of `"type":"lost"` records.
    lost_records: u64,
}

fn count_output(path: &Path, kind: Kind, port: u16) -> Result<Counts> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut counts = Counts::default();
    for line in BufReader::new(file).split(b'\n') {
        let line = line.with_context(|| format!("reading {}", path.display()))?;
        count_line(&mut counts, &String::from_utf8_lossy(&line), kind, port);
    }
    Ok(counts)
}

fn count_line(counts: &mut Counts, line: &str, kind: Kind, port: u16) {
    counts.lines += 1;
    if names_port(line, kind, port) {
        if matches!(kind, Kind::Ours { .. }) && ends_timewait(line) {
            counts.tw_ends += 1;
        } else {
            counts.matched += 1;
        }
    }
    if line.starts_with('{') {
        counts.json_lines += 1;
    }
    counts.lost_records += lost_record(line);
}

/// Whether an output line is about a socket on `port`. libbpf-tools print ports in
/// columns counted from the end (COMM may hold spaces): tcpstates `... LADDR LPORT RADDR
/// RPORT OLD -> NEW MS`, tcplife `... LADDR LPORT RADDR RPORT TX_KB RX_KB MS`. Ours
/// writes `ADDR:PORT` (text) or a `:PORT` number or `ADDR:PORT` string (JSON): `:PORT`
/// not followed by a digit (a time's `:MM:SS` has two digits per field).
fn names_port(line: &str, kind: Kind, port: u16) -> bool {
    let p = port.to_string();
    let from_end = |offsets: &[usize]| {
        let words: Vec<&str> = line.split_whitespace().collect();
        offsets
            .iter()
            .any(|&k| words.len() > k && words[words.len() - 1 - k] == p)
    };
    match kind {
        Kind::Tcpstates => from_end(&[4, 6]),
        Kind::Tcplife => from_end(&[3, 5]),
        Kind::Ours { .. } | Kind::Bare => line.match_indices(':').any(|(i, _)| {
            let rest = line[i + 1..].trim_start_matches(' ');
            rest.strip_prefix(p.as_str())
                .is_some_and(|after| !after.starts_with(|c: char| c.is_ascii_digit()))
        }),
    }
}

/// Whether a line of ours is a timewait socket's end: `TIME_WAIT` followed by `CLOSE`
/// (not `CLOSE_WAIT`), as in `TIME_WAIT -> CLOSE` or `"old":"TIME_WAIT","new":"CLOSE"`.
fn ends_timewait(line: &str) -> bool {
    let Some(i) = line.find("TIME_WAIT") else {
        return false;
    };
    line[i + "TIME_WAIT".len()..]
        .match_indices("CLOSE")
        .any(|(j, _)| !line[i + "TIME_WAIT".len() + j + "CLOSE".len()..].starts_with('_'))
}

/// The `lost` count of a JSON `{"type":"lost", ..., "lost": N}` record, else 0.
fn lost_record(line: &str) -> u64 {
    if !line.contains("\"lost\"") {
        return 0;
    }
    let Ok(v) = serde_json::from_str::<serde_json::Value>(line.trim()) else {
        return 0;
    };
    if v.get("type").and_then(|t| t.as_str()) != Some("lost") {
        return 0;
    }
    v.get("lost").and_then(|n| n.as_u64()).unwrap_or(0)
}

/// What a tool reported losing, from its stderr (and its JSON lost records).
#[derive(Debug, Default, PartialEq)]
struct Losses {
    total: u64,
    /// Lines ours said it printed, from its stop summary.
    printed: Option<u64>,
    notes: Vec<String>,
}

fn losses(kind: Kind, stderr: &[String], json_records: u64) -> Losses {
    let mut l = Losses::default();
    match kind {
        Kind::Bare => {}
        Kind::Tcpstates | Kind::Tcplife => {
            l.total = stderr.iter().filter_map(|s| lost_on_cpu(s)).sum();
        }
        Kind::Ours { .. } => {
            // While running: `netstat: LOST N events (ring buffer full), M unreadable in
            // the kernel, K undecodable so far` (N and M since the last report, K a
            // running total), and JSON `"type":"lost"` records.
            let mut running = json_records;
            let mut undecodable = 0;
            for s in stderr {
                if s.contains("LOST") {
                    running += number_after(s, "LOST").unwrap_or(0);
                    running += number_before(s, "unreadable").unwrap_or(0);
                    undecodable = undecodable.max(number_before(s, "undecodable").unwrap_or(0));
                }
                running += lost_record(s);
            }
            running += undecodable;
            // At stop: `netstat: --watch stopped: N transitions printed, L lost`.
            let summary = stderr.iter().rev().find(|s| s.contains(" stopped:"));
            match summary.and_then(|s| number_before(s, "lost")) {
                Some(total) => {
                    l.total = total;
                    l.printed = summary.and_then(|s| printed_count(s));
                    if running > total {
                        l.notes.push(format!(
                            "its running reports add up to {running} lost, its summary says \
                             {total}"
                        ));
                    }
                }
                None => {
                    l.total = running;
                    l.notes.push(
                        "no `stopped:` summary on stderr: lost = the sum of its running reports"
                            .into(),
                    );
                }
            }
        }
    }
    l
}

/// N from libbpf-tools' `lost N events on CPU #C`.
fn lost_on_cpu(line: &str) -> Option<u64> {
    let rest = line.trim().strip_prefix("lost ")?;
    let (n, rest) = rest.split_once(' ')?;
    rest.starts_with("events").then(|| n.parse().ok())?
}

/// N from `N transitions printed` / `N records printed` (or `N printed`).
fn printed_count(line: &str) -> Option<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words
        .iter()
        .position(|w| w.trim_end_matches(',') == "printed")?;
    words[i.saturating_sub(2)..i]
        .iter()
        .find_map(|w| w.parse().ok())
}

/// The integer word right after the word `word`.
fn number_after(line: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let i = words.iter().position(|w| *w == word)?;
    words.get(i + 1)?.trim_matches(',').parse().ok()
}

/// The integer word right before the word `word` (trailing punctuation ignored).
fn number_before(line: &str, word: &str) -> Option<u64> {
    let words: Vec<&str> = line
        .split_whitespace()
        .map(|w| w.trim_end_matches([',', ';', ')', '.']))
        .collect();
    let i = words.iter().position(|w| *w == word)?;
    words.get(i.checked_sub(1)?)?.parse().ok()
}

/// Lines expected but not written (where the arm has an expectation).
fn missing(arm: &Arm, s: &Sample) -> u64 {
    arm.expect
        .map_or(0, |e| e.lines(s.cycles).saturating_sub(s.matched))
}

/// Rates over the same round's bare rate.
fn ratios(samples: &[Sample], bare: &[(usize, f64)]) -> Vec<f64> {
    samples
        .iter()
        .filter_map(|s| {
            let (_, b) = bare.iter().find(|(r, _)| *r == s.round)?;
            Some(s.rate / b)
        })
        .collect()
}

fn print_row(arm: &Arm, res: &Results, samples: &[Sample], bare: &[(usize, f64)]) {
    if let Some(why) = &res.unavailable {
        let short: String = why.chars().take(90).collect();
        println!("  {:<32} n/a: {short}", arm.label);
        return;
    }
    if samples.is_empty() {
        println!("  {:<32} no run succeeded (see the notes)", arm.label);
        return;
    }
    let rates: Vec<f64> = samples.iter().map(|s| s.rate).collect();
    let spread = |v: &[f64], prec: usize| {
        format!("{:.prec$} ({:.prec$}-{:.prec$})", median(v), min(v), max(v))
    };
    let per_run = |f: &dyn Fn(&Sample) -> u64| {
        let v: Vec<f64> = samples.iter().map(|s| f(s) as f64).collect();
        format!("{:.0}", median(&v))
    };
    let (x_bare, lines, matched, expected, lost, missing) = if arm.kind == Kind::Bare {
        let dash = || "-".to_string();
        ("1.000".to_string(), dash(), dash(), dash(), dash(), dash())
    } else {
        (
            spread(&ratios(samples, bare), 3),
            per_run(&|s| s.lines),
            per_run(&|s| s.matched),
            arm.expect
                .map_or("-".to_string(), |e| per_run(&|s| e.lines(s.cycles))),
            samples.iter().map(|s| s.lost).sum::<u64>().to_string(),
            samples
                .iter()
                .map(|s| missing(arm, s))
                .sum::<u64>()
                .to_string(),
        )
    };
    println!(
        "  {:<32} {:>22} {:>20} {lines:>9} {matched:>9} {expected:>9} {lost:>6} {missing:>8}",
        arm.label,
        spread(&rates, 0),
        x_bare,
    );
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "NOT MET" }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn min(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// A directory for the tools' output files; removed with its content on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn new() -> Result<TempDir> {
        let path = std::env::temp_dir().join(format!("netstat-bench-churn-{}", std::process::id()));
        fs::create_dir_all(&path).with_context(|| format!("creating {}", path.display()))?;
        Ok(TempDir { path })
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: Kind = Kind::Ours { json: false };

    #[test]
    fn ports_in_our_lines() {
        let line = "11:09:09.789062 netns=4026532177 4917/python3(root) tcp 127.0.0.1:53254 \
                    127.0.0.1:8080 SYN_SENT -> ESTABLISHED 0.091ms";
        assert!(names_port(line, OURS, 8080));
        assert!(names_port(line, OURS, 53254));
        assert!(!names_port(line, OURS, 4917), "a PID is no port");
        assert!(!names_port(line, OURS, 9), "11:09:09 is a time");
        assert!(!names_port(line, OURS, 808));
        assert!(names_port("x [::1]:4917 y", OURS, 4917));
        let json = r#"{"type":"transition","pid":12,"sport":4917,"dport": 4918}"#;
        assert!(names_port(json, OURS, 4917));
        assert!(names_port(json, OURS, 4918));
        assert!(!names_port(json, OURS, 491));
        assert!(names_port(r#"{"local":"127.0.0.1:4917"}"#, OURS, 4917));
    }

    #[test]
    fn ports_in_libbpf_tools_columns() {
        let states = "ffff888191d21bc0 4917    python3    127.0.0.1       54348 127.0.0.1       \
                      4917  SYN_SENT    -> ESTABLISHED 0.077";
        assert!(names_port(states, Kind::Tcpstates, 4917));
        assert!(names_port(states, Kind::Tcpstates, 54348));
        let pid_only = states.replace("4917  SYN", "80  SYN");
        assert!(
            !names_port(&pid_only, Kind::Tcpstates, 4917),
            "the PID column"
        );
        let spaced = "ffff8881 12 Web Content 127.0.0.1 4917 127.0.0.1 80 CLOSE -> LISTEN 0.0";
        assert!(names_port(spaced, Kind::Tcpstates, 4917));
        let life = "12444   python3          127.0.0.1       38590 127.0.0.1       4917  0.00   \
                    0.00   0.07";
        assert!(names_port(life, Kind::Tcplife, 4917));
        assert!(names_port(life, Kind::Tcplife, 38590));
        assert!(!names_port(life, Kind::Tcplife, 12444));
        let header = "PID     COMM             LADDR           LPORT RADDR           RPORT TX_KB  \
                      RX_KB  MS";
        assert!(!names_port(header, Kind::Tcplife, 4917));
    }

    #[test]
    fn our_losses_prefer_the_summary() {
        let log = |lines: &[&str]| lines.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let running = log(&[
            "netstat: watching TCP state changes (...); ready",
            "netstat: LOST 5 events (ring buffer full), 1 unreadable in the kernel, 0 undecodable so far",
            "netstat: LOST 2 events (ring buffer full), 0 unreadable in the kernel, 3 undecodable so far",
        ]);
        let l = losses(OURS, &running, 0);
        assert_eq!(l.total, 11);
        assert_eq!(l.printed, None);
        assert_eq!(l.notes.len(), 1);
        let mut with_summary = running.clone();
        with_summary.push("netstat: --watch stopped: 200002 transitions printed, 11 lost".into());
        let l = losses(OURS, &with_summary, 0);
        assert_eq!((l.total, l.printed), (11, Some(200_002)));
        assert!(l.notes.is_empty());
        let audit = log(&["netstat: --audit stopped: 40000 records printed, 0 lost"]);
        let l = losses(Kind::Ours { json: true }, &audit, 0);
        assert_eq!((l.total, l.printed), (0, Some(40_000)));
        let json = log(&[r#"{"type":"lost","lost":7}"#]);
        assert_eq!(losses(OURS, &json, 4).total, 11);
    }

    #[test]
    fn peer_losses() {
        let log = vec![
            "lost 39 events on CPU #1".to_string(),
            "lost 2 events on CPU #0".to_string(),
            "libbpf: something".to_string(),
        ];
        assert_eq!(losses(Kind::Tcpstates, &log, 0).total, 41);
        assert_eq!(lost_on_cpu("lost x events on CPU #1"), None);
        assert_eq!(lost_on_cpu("lost 3 things"), None);
    }

    #[test]
    fn json_lost_records() {
        assert_eq!(lost_record(r#"{"type":"lost","lost":12,"cpu":0}"#), 12);
        assert_eq!(lost_record(r#"{"type":"transition","lost":12}"#), 0);
        assert_eq!(lost_record("netstat: LOST 3 events"), 0);
        let mut c = Counts::default();
        count_line(&mut c, r#"{"type":"lost","lost":2}"#, OURS, 4917);
        count_line(&mut c, "a 127.0.0.1:4917 b", OURS, 4917);
        count_line(
            &mut c,
            "a 127.0.0.1:4917 b TIME_WAIT -> CLOSE 6.1ms",
            OURS,
            4917,
        );
        count_line(
            &mut c,
            "a 127.0.0.1:4917 b FIN_WAIT2 -> TIME_WAIT 0.1ms",
            OURS,
            4917,
        );
        assert_eq!(
            c,
            Counts {
                lines: 4,
                matched: 2,
                tw_ends: 1,
                json_lines: 1,
                lost_records: 2
            }
        );
        assert!(ends_timewait(r#"{"old":"TIME_WAIT","new":"CLOSE"}"#));
        assert!(!ends_timewait("TIME_WAIT CLOSE_WAIT"));
        assert!(!ends_timewait("CLOSE -> TIME_WAIT"));
    }

    #[test]
    fn expectations_per_cycle() {
        assert_eq!(Expect::Transitions.lines(3), 32);
        assert_eq!(Expect::Sockets.lines(3), 6);
    }

    #[test]
    fn medians_ratios_and_load_output() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        let s = |round, rate| Sample {
            round,
            cycles: 1,
            rate,
            lines: 0,
            matched: 0,
            tw_ends: 0,
            lost: 0,
        };
        assert_eq!(
            ratios(&[s(0, 9.0), s(1, 5.0), s(2, 1.0)], &[(1, 10.0), (0, 10.0)]),
            [0.9, 0.5]
        );
        let c = parse_churn("20000 0.867766\n").unwrap();
        assert_eq!(c.cycles, 20_000);
        assert!(parse_churn("20000\n").is_none());
        assert!(parse_churn("20000 0\n").is_none());
        assert!(is_ready_line("netstat: ...; ready"));
        assert!(!is_ready_line("already"));
    }
}
