//! `cargo xtask bench`: our netstat against net-tools netstat and ss, side by side, on
//! the same large socket set in a network namespace of its own. Prints times and ratios;
//! asserts nothing (speed is measured, not asserted).
use std::{
    io::{BufRead as _, BufReader},
    path::Path,
    process::{Child, Command, Stdio},
};

use anyhow::{Context as _, Result, bail};

use crate::{
    cmd::Cmd,
    timing::{Netns, Timing, require_tools, time_command},
};

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
}

impl Stage {
    fn new(root: &Path, connections: usize) -> Result<Self> {
        let mut stage = Stage {
            netns: Netns::new("nsbench")?,
            holders: Vec::new(),
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
    require_tools(&["ss", "/usr/bin/netstat", "python3", "nsenter"])?;
    eprintln!(
        "bench: opening {} loopback connections ({} sockets) in a new network namespace...",
        args.connections,
        args.connections * 2
    );
    let stage = Stage::new(root, args.connections)?;
    let ns = stage.netns.name();
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
            t.push((argv.join(" "), time_command(ns, argv, args.runs)?));
        }
        println!();
        for (label, x) in &t {
            println!(
                "  {label:<40} {:>9.1} ms {:>9.1} ms {:>8} lines",
                x.median.as_secs_f64() * 1e3,
                x.min.as_secs_f64() * 1e3,
                x.lines()
            );
        }
        let (ours, net_tools, ss) = (&t[0].1, &t[1].1, &t[2].1);
        let ratio = |a: &Timing, b: &Timing| a.median.as_secs_f64() / b.median.as_secs_f64();
        println!(
            "  {name}: ours/ss = {:.3}   ours/net-tools = {:.3}",
            ratio(ours, ss),
            ratio(ours, net_tools)
        );
        if ours.lines() != net_tools.lines() {
            println!(
                "  note: line counts differ from net-tools ({} vs {}): sockets changed between runs?",
                ours.lines(),
                net_tools.lines()
            );
        }
    }
    drop(stage);
    Ok(())
}
