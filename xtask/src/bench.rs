//! `cargo xtask bench`: our netstat against net-tools netstat and ss, side by side, on
//! the same large socket set in a network namespace of its own. Prints times and ratios;
//! asserts nothing (speed is measured, not asserted).
use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;

/// Connections per holder process: 2 sockets each, under the 20000-file hard limit.
const PER_PROCESS: usize = 9_000;

pub struct BenchArgs {
    pub connections: usize,
    pub runs: usize,
}

/// A namespace with processes holding the sockets; all of it goes away on drop.
struct Stage {
    ns: String,
    holders: Vec<Child>,
}

impl Stage {
    fn new(root: &Path, connections: usize) -> Result<Self> {
        let ns = format!("nsbench-{}", std::process::id());
        Cmd::new("ip").args(["netns", "add", &ns]).run()?;
        let mut stage = Stage {
            ns,
            holders: Vec::new(),
        };
        Cmd::new("ip")
            .args(["-n", &stage.ns, "link", "set", "lo", "up"])
            .run()?;
        // Enough ephemeral ports for every client socket, above the listeners' ports.
        stage
            .exec([
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
                .args(["netns", "exec", &stage.ns, "python3"])
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

    fn exec<const N: usize>(&self, argv: [&str; N]) -> Cmd {
        Cmd::new("ip").args(["netns", "exec", &self.ns]).args(argv)
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        for child in &mut self.holders {
            drop(child.stdin.take()); // EOF: the holder exits
            let _ = child.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

struct Timing {
    label: String,
    median: Duration,
    min: Duration,
    lines: usize,
}

/// `nsenter --net` rather than `ip netns exec`: the latter also remounts /sys for each
/// command, a fixed cost that would blur the ratios.
fn in_ns(ns: &str) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/var/run/netns/{ns}"));
    cmd
}

fn time_command(ns: &str, argv: &[&str], runs: usize) -> Result<Timing> {
    let mut cmd = in_ns(ns);
    cmd.args(argv);
    // One run to count output lines (and to warm the caches equally for everyone).
    let out = cmd
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = in_ns(ns)
            .args(argv)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        times.push(start.elapsed());
        if !status.success() {
            bail!("{argv:?} failed: {status}");
        }
    }
    times.sort();
    Ok(Timing {
        label: argv.join(" "),
        median: times[times.len() / 2],
        min: times[0],
        lines,
    })
}

pub fn bench(root: &Path, bin: &Path, args: &BenchArgs) -> Result<()> {
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    for tool in ["ss", "/usr/bin/netstat", "python3"] {
        if Cmd::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .probe()
            .is_none()
        {
            bail!("{tool} is missing: run `cargo xtask setup`");
        }
    }
    eprintln!(
        "bench: opening {} loopback connections ({} sockets) in a new network namespace...",
        args.connections,
        args.connections * 2
    );
    let stage = Stage::new(root, args.connections)?;
    let ns = stage.ns.clone();
    let groups: [(&str, [&[&str]; 3]); 2] = [
        (
            "-tan",
            [
                &[ours, "-tan"],
                &["/usr/bin/netstat", "-tan"],
                &["ss", "-tan"],
            ],
        ),
        (
            "-tanp",
            [
                &[ours, "-tanp"],
                &["/usr/bin/netstat", "-tanp"],
                &["ss", "-tanp"],
            ],
        ),
    ];
    println!(
        "{} sockets, {} runs each, wall time (median / min), output lines",
        args.connections * 2,
        args.runs
    );
    for (name, cmds) in groups {
        let mut t = Vec::new();
        for argv in cmds {
            t.push(time_command(&ns, argv, args.runs)?);
        }
        println!();
        for x in &t {
            println!(
                "  {:<40} {:>9.1} ms {:>9.1} ms {:>8} lines",
                x.label,
                x.median.as_secs_f64() * 1e3,
                x.min.as_secs_f64() * 1e3,
                x.lines
            );
        }
        let ratio = |a: &Timing, b: &Timing| a.median.as_secs_f64() / b.median.as_secs_f64();
        println!(
            "  {name}: ours/ss = {:.3}   ours/net-tools = {:.3}",
            ratio(&t[0], &t[2]),
            ratio(&t[0], &t[1])
        );
        if t[0].lines != t[1].lines {
            println!(
                "  note: line counts differ from net-tools ({} vs {}): sockets changed between runs?",
                t[0].lines, t[1].lines
            );
        }
    }
    drop(stage);
    Ok(())
}
