//! `cargo xtask bench`: our netstat against net-tools netstat and ss, side by side, on
//! the same large socket set in a network namespace of its own. Prints times and ratios;
//! asserts nothing (speed is measured, not asserted).
//!
//! The same run also measures the socket-owner agent (`netstat --agent`): `-tanp` served
//! by an agent that watched the sockets being opened ("live") and by one started after
//! them ("seeded"), what the agent costs in CPU time and memory, and how much it slows a
//! connection-churn load. The live agent is loaded during every socket measurement, so
//! the peers pay its eBPF programs as ours does.
#[path = "bench_agent.rs"]
mod agent;
#[path = "bench_soak.rs"]
pub mod soak;

use std::{
    io::{BufRead as _, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::{
    cmd::Cmd,
    timing::{Netns, Timing, require_tools, time_command_env},
};
use agent::{Agent, Churn, SOCKET_ENV, Source};

/// The target for `-tanp` with the agent: at most this fraction of `ss -tanp`.
const TARGET_VS_SS: f64 = 0.05;
/// Connection churn: cycles per run, the time bound of a run, and runs per condition.
const CHURN_CYCLES: usize = 20_000;
const CHURN_MAX: Duration = Duration::from_secs(20);
const CHURN_RUNS: usize = 3;
/// How long the agent is left idle (with every socket tracked) to measure its idle CPU.
const IDLE: Duration = Duration::from_secs(5);

/// Connections per holder process: 2 sockets each, under the 20000-file hard limit.
const PER_PROCESS: usize = 9_000;

pub struct BenchArgs {
    pub connections: usize,
    pub runs: usize,
}

/// A namespace with processes holding the sockets; all of it goes away on drop.
struct Stage {
    netns: Netns,
    holders: Vec<Child>,
    connections: usize,
}

impl Stage {
    fn new(root: &Path, connections: usize) -> Result<Self> {
        let mut stage = Stage {
            netns: Netns::new("nsbench")?,
            holders: Vec::new(),
            connections,
        };
        let ns = stage.netns.name().to_owned();
        // Enough ephemeral ports for every client socket, above the listeners' ports.
        Cmd::new("ip")
            .args(["netns", "exec", &ns])
            .args([
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.ip_local_port_range=10000 65000",
            ])
            .run()?;
        let script = root.join("xtask/bench/hold_connections.py");
        let mut left = connections;
        let mut port = 2_000; // below the ephemeral range set above
        while left > 0 {
            let n = left.min(PER_PROCESS);
            let child = Command::new("ip")
                .args(["netns", "exec", &ns, "python3"])
                .arg(&script)
                .args([n.to_string(), port.to_string()])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .context("starting a connection holder (python3)")?;
            stage.holders.push(child);
            left -= n;
            port += 1;
        }
        for child in &mut stage.holders {
            let out = child.stdout.take().context("holder stdout")?;
            let mut line = String::new();
            BufReader::new(out).read_line(&mut line)?;
            if line.trim() != "ready" {
                bail!("a connection holder failed before it was ready");
            }
        }
        Ok(stage)
    }
}

impl Stage {
    /// Sockets held: two per connection and one listener per holder.
    fn sockets(&self) -> usize {
        self.connections * 2 + self.holders.len()
    }
}

impl Drop for Stage {
    /// The holders exit first; the namespace goes after them (fields drop after this).
    fn drop(&mut self) {
        for child in &mut self.holders {
            drop(child.stdin.take()); // EOF: the holder exits
            let _ = child.wait();
        }
    }
}

pub fn bench(root: &Path, bin: &Path, args: &BenchArgs) -> Result<()> {
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    require_tools(&["ss", "/usr/bin/netstat", "python3", "nsenter", "kill"])?;
    let socket = |what: &str| -> PathBuf {
        std::env::temp_dir().join(format!("netstat-bench-{}-{what}.sock", std::process::id()))
    };
    // No agent ever listens here: ours without the agent, whatever runs on the host.
    let no_agent = socket("none");
    let no_agent_env = [(SOCKET_ENV, path_str(&no_agent)?)];

    eprintln!("bench: starting the agent (live) before the sockets exist...");
    let mut live = Agent::start(bin, &socket("live"))?;
    let live_start = live.usage()?;
    eprintln!(
        "bench: opening {} loopback connections ({} sockets) in a new network namespace...",
        args.connections,
        args.connections * 2
    );
    let opening = Instant::now();
    let stage = Stage::new(root, args.connections)?;
    let opened_in = opening.elapsed();
    let live_opened = live.usage()?;
    let ns = stage.netns.name();
    let sockets = stage.sockets();

    // A fallback to /proc must not pass for the agent path, nor the reverse.
    if let Source::Agent(_) = agent::owners_source(ns, ours, &no_agent)? {
        bail!(
            "{ours} -tanp -v took owners from an agent at {}, where none runs",
            no_agent.display()
        );
    }
    let live_answered = expect_agent(ns, ours, live.socket())?;

    println!(
        "{sockets} sockets ({} connections opened in {:.1} s with the agent loaded), \
         {} runs each, wall time (median / min), output lines",
        args.connections,
        opened_in.as_secs_f64(),
        args.runs
    );
    println!("(the live agent is loaded during every measurement below)");
    let tan: [(&str, &[&str]); 3] = [
        ("ours      netstat -tan", &[ours, "-tan"]),
        ("net-tools netstat -tan", &["/usr/bin/netstat", "-tan"]),
        ("ss        ss -tan", &["ss", "-tan"]),
    ];
    let mut t = Vec::new();
    for (_, argv) in tan {
        t.push(time_command_env(ns, argv, &no_agent_env, args.runs)?);
    }
    println!();
    for ((label, _), x) in tan.iter().zip(&t) {
        row(label, x);
    }
    println!(
        "  -tan: ours/ss = {:.3}   ours/net-tools = {:.3}",
        ratio(&t[0], &t[2]),
        ratio(&t[0], &t[1])
    );
    note_line_counts(&t[0], &t[1]);

    let tanp_ours = time_command_env(ns, &[ours, "-tanp"], &no_agent_env, args.runs)?;
    let tanp_net_tools = time_command_env(ns, &["/usr/bin/netstat", "-tanp"], &[], args.runs)?;
    let tanp_ss = time_command_env(ns, &["ss", "-tanp"], &[], args.runs)?;
    let live_before_queries = live.usage()?;
    let live_env = [(SOCKET_ENV, path_str(live.socket())?)];
    let tanp_live = time_command_env(ns, &[ours, "-tanp"], &live_env, args.runs)?;
    let live_queried = live.usage()?;

    eprintln!(
        "bench: leaving the agent idle for {} s, then stopping it...",
        IDLE.as_secs()
    );
    thread::sleep(IDLE);
    let live_idle = live.usage()?;
    let live_maps = live.maps();
    let live_up = live.startup;
    live.stop()?;
    let live_remarks = live.remarks();
    drop(live);

    eprintln!(
        "bench: connection churn without an agent ({CHURN_RUNS} x up to {CHURN_CYCLES} cycles)..."
    );
    let churn_without = churn_runs(root)?;

    eprintln!("bench: starting the agent (seeded) with the sockets open...");
    let mut seeded = Agent::start(bin, &socket("seeded"))?;
    let seeded_ready = seeded.usage()?;
    let seeded_answered = expect_agent(ns, ours, seeded.socket())?;
    let seeded_env = [(SOCKET_ENV, path_str(seeded.socket())?)];
    let tanp_seeded = time_command_env(ns, &[ours, "-tanp"], &seeded_env, args.runs)?;
    let seeded_queried = seeded.usage()?;
    let seeded_maps = seeded.maps();
    eprintln!("bench: connection churn with the seeded agent...");
    let churn_with = churn_runs(root)?;
    let seeded_churned = seeded.usage()?;
    let seeded_up = seeded.startup;
    seeded.stop()?;
    let seeded_remarks = seeded.remarks();
    drop(seeded);
    drop(stage);

    println!();
    let tanp_rows = [
        ("ours      netstat -tanp (/proc walk)", &tanp_ours),
        ("net-tools netstat -tanp", &tanp_net_tools),
        ("ss        ss -tanp", &tanp_ss),
        ("ours      netstat -tanp, agent live", &tanp_live),
        ("ours      netstat -tanp, agent seeded", &tanp_seeded),
    ];
    for (label, x) in tanp_rows {
        row(label, x);
    }
    println!(
        "  -tanp (/proc walk): ours/ss = {:.3}   ours/net-tools = {:.3}",
        ratio(&tanp_ours, &tanp_ss),
        ratio(&tanp_ours, &tanp_net_tools)
    );
    note_line_counts(&tanp_ours, &tanp_net_tools);
    // What no owner source can go below: the same listing without owners.
    println!(
        "  floor: ours -tan = {:.1} ms = {:.3}x ss -tanp",
        ms(t[0].median),
        ratio(&t[0], &tanp_ss)
    );
    for (name, x, answered) in [
        ("agent live", &tanp_live, live_answered),
        ("agent seeded", &tanp_seeded, seeded_answered),
    ] {
        let vs_ss = ratio(x, &tanp_ss);
        println!(
            "  -tanp, {name:<12}: ours/ss = {vs_ss:.3}   ours/net-tools = {:.3}   \
             target ours/ss <= {TARGET_VS_SS}: {}",
            ratio(x, &tanp_net_tools),
            if vs_ss <= TARGET_VS_SS {
                "met"
            } else {
                "NOT MET"
            }
        );
        let differ = differing_lines(&x.output, &tanp_ours.output);
        println!(
            "    owners of {} sockets from the agent; output {}",
            answered.map_or("?".to_string(), |n| n.to_string()),
            if differ == 0 {
                "identical to the /proc walk's".to_string()
            } else {
                format!("DIFFERS from the /proc walk's in {differ} lines")
            }
        );
    }

    let queries = args.runs + 1; // time_command's warm-up run is a query too
    println!();
    println!(
        "agent resources, {sockets} sockets in the bench namespace \
         (live: started before them; seeded: started after them)"
    );
    let cells = |label: &str, live: String, seeded: String| {
        println!("  {label:<40} {live:>18} {seeded:>18}");
    };
    let none = || "-".to_string();
    cells("", "live".into(), "seeded".into());
    cells(
        "start -> ready",
        format!("{:.0} ms", ms(live_up.ready)),
        format!("{:.0} ms", ms(seeded_up.ready)),
    );
    let seed = |s: &agent::Startup| s.seed().map_or_else(none, |d| format!("{:.0} ms", ms(d)));
    cells("  of which seeding", seed(&live_up), seed(&seeded_up));
    let counts = |s: &agent::Startup| {
        s.counts
            .map_or_else(none, |(tracked, seeded)| format!("{tracked} / {seeded}"))
    };
    cells(
        "sockets tracked / seeded at ready",
        counts(&live_up),
        counts(&seeded_up),
    );
    cells(
        &format!("CPU while opening the {sockets} sockets"),
        cpu(live_opened.cpu_ms - live_start.cpu_ms),
        none(),
    );
    cells(
        &format!("CPU for {queries} -tanp queries"),
        cpu(live_queried.cpu_ms - live_before_queries.cpu_ms),
        cpu(seeded_queried.cpu_ms - seeded_ready.cpu_ms),
    );
    cells(
        "  per query",
        cpu((live_queried.cpu_ms - live_before_queries.cpu_ms) / queries as f64),
        cpu((seeded_queried.cpu_ms - seeded_ready.cpu_ms) / queries as f64),
    );
    cells(
        &format!("CPU idle over {} s", IDLE.as_secs()),
        cpu(live_idle.cpu_ms - live_queried.cpu_ms),
        none(),
    );
    cells(
        "CPU total since start (at the end)",
        cpu(live_idle.cpu_ms),
        cpu(seeded_churned.cpu_ms),
    );
    cells(
        "RSS now",
        mib(live_idle.rss_kib),
        mib(seeded_queried.rss_kib),
    );
    cells(
        "RSS peak (VmHWM)",
        mib(live_idle.hwm_kib),
        mib(seeded_queried.hwm_kib),
    );
    let map = |m: &Result<agent::Maps>, name: &str| match m {
        Ok(m) if m.named => mib_bytes(m.named(name)),
        Ok(_) => "no bpftool".to_string(),
        Err(_) => "?".to_string(),
    };
    cells(
        "BPF map memlock: OWNERS",
        map(&live_maps, "OWNERS"),
        map(&seeded_maps, "OWNERS"),
    );
    cells(
        "                 LISTENERS",
        map(&live_maps, "LISTENERS"),
        map(&seeded_maps, "LISTENERS"),
    );
    let total =
        |m: &Result<agent::Maps>| m.as_ref().map_or("?".to_string(), |m| mib_bytes(m.total()));
    cells(
        "                 all the agent's maps",
        total(&live_maps),
        total(&seeded_maps),
    );
    println!(
        "  (CPU is the agent process's own, user + system; its eBPF programs run in the \
         sockets' processes: see the churn rate)"
    );
    for m in [&live_maps, &seeded_maps] {
        match m {
            Ok(m) if !m.named => {
                println!("  note: bpftool is missing (cargo xtask setup): map names unknown");
                break;
            }
            Err(e) => println!("  note: the agent's maps could not be read: {e:#}"),
            Ok(_) => {}
        }
    }

    println!();
    println!(
        "connection churn: loopback connect/accept/close in a fresh namespace, {CHURN_RUNS} runs \
         of up to {CHURN_CYCLES} cycles ({} s bound each), median rate",
        CHURN_MAX.as_secs()
    );
    let without = median_rate(&churn_without);
    let with = median_rate(&churn_with);
    println!(
        "  {:<40} {:>10.0} conn/s   (runs: {})",
        "without an agent",
        without,
        rates(&churn_without)
    );
    println!(
        "  {:<40} {:>10.0} conn/s   (runs: {})",
        "with the seeded agent",
        with,
        rates(&churn_with)
    );
    let cycles: u64 = churn_with.iter().map(|c| c.cycles).sum();
    let churn_cpu = seeded_churned.cpu_ms - seeded_queried.cpu_ms;
    println!(
        "  with/without = {:.3}   agent CPU during the {cycles} cycles: {} ({:.1} us per \
         connection)   agent RSS after: {} (peak {})",
        with / without,
        cpu(churn_cpu),
        churn_cpu * 1e3 / cycles.max(1) as f64,
        mib(seeded_churned.rss_kib),
        mib(seeded_churned.hwm_kib)
    );
    for (name, remarks) in [("live", live_remarks), ("seeded", seeded_remarks)] {
        for line in remarks {
            println!("  agent ({name}) said: {line}");
        }
    }
    Ok(())
}

/// Fails unless `ours -tanp -v` announces the agent at `socket` as its owner source;
/// returns the socket count it announced.
fn expect_agent(ns: &str, ours: &str, socket: &Path) -> Result<Option<u64>> {
    match agent::owners_source(ns, ours, socket)? {
        Source::Agent(n) => Ok(n),
        Source::Proc(why) => bail!(
            "with an agent ready at {socket}, `{ours} -tanp -v` fell back to /proc ({why}); \
             reproduce: {SOCKET_ENV}={socket} nsenter --net=/var/run/netns/{ns} {ours} -tanp -v",
            socket = socket.display()
        ),
    }
}

fn churn_runs(root: &Path) -> Result<Vec<Churn>> {
    (0..CHURN_RUNS)
        .map(|_| agent::churn(root, CHURN_CYCLES, CHURN_MAX))
        .collect()
}

fn median_rate(runs: &[Churn]) -> f64 {
    let mut r: Vec<f64> = runs.iter().map(Churn::rate).collect();
    r.sort_by(f64::total_cmp);
    r.get(r.len() / 2).copied().unwrap_or(0.0)
}

fn rates(runs: &[Churn]) -> String {
    let r: Vec<String> = runs.iter().map(|c| format!("{:.0}", c.rate())).collect();
    r.join(", ")
}

fn row(label: &str, x: &Timing) {
    println!(
        "  {label:<40} {:>9.1} ms {:>9.1} ms {:>8} lines",
        ms(x.median),
        ms(x.min),
        x.lines()
    );
}

fn note_line_counts(ours: &Timing, net_tools: &Timing) {
    if ours.lines() != net_tools.lines() {
        println!(
            "  note: line counts differ from net-tools ({} vs {}): sockets changed between runs?",
            ours.lines(),
            net_tools.lines()
        );
    }
}

fn ratio(a: &Timing, b: &Timing) -> f64 {
    a.median.as_secs_f64() / b.median.as_secs_f64()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn cpu(ms: f64) -> String {
    format!("{ms:.0} ms")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn mib_bytes(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn path_str(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

/// Lines that differ between two outputs, position by position (plus the surplus).
fn differing_lines(a: &[u8], b: &[u8]) -> usize {
    fn lines(s: &[u8]) -> Vec<&[u8]> {
        s.split_inclusive(|&c| c == b'\n').collect()
    }
    let (a, b) = (lines(a), lines(b));
    let common = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    common + a.len().abs_diff(b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_differing_lines() {
        assert_eq!(differing_lines(b"a\nb\n", b"a\nb\n"), 0);
        assert_eq!(differing_lines(b"a\nb\n", b"a\nc\n"), 1);
        assert_eq!(differing_lines(b"a\nb\nc\n", b"a\nb\n"), 1);
        assert_eq!(differing_lines(b"", b""), 0);
    }

    #[test]
    fn median_of_rates() {
        let c = |cycles, secs| Churn { cycles, secs };
        assert_eq!(median_rate(&[c(10, 1.0), c(30, 1.0), c(20, 1.0)]), 20.0);
        assert_eq!(median_rate(&[]), 0.0);
        assert_eq!(rates(&[c(10, 2.0), c(9, 1.0)]), "5, 9");
    }
}
