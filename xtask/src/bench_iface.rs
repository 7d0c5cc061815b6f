//! `cargo xtask bench --only interfaces`: `netstat -i` with 1000 interfaces, ours against
//! net-tools', in a network namespace of its own. Prints times and ratios; asserts
//! nothing (speed is measured, not asserted). The target is a ratio of at most 1.
use std::{
    io::Write as _,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;

/// Interfaces made in the namespace (plus `lo`).
const INTERFACES: usize = 1000;

/// The namespace; deleting it on drop takes its interfaces along.
struct Stage {
    ns: String,
}

impl Stage {
    fn new() -> Result<Self> {
        let ns = format!("nsbench-iface-{}", std::process::id());
        Cmd::new("ip").args(["netns", "add", &ns]).run()?;
        let stage = Stage { ns };
        Cmd::new("ip")
            .args(["-n", &stage.ns, "link", "set", "lo", "up"])
            .run()?;
        let kind = stage.device_kind()?;
        // All up, so that `-i` (which lists only interfaces that are up) prints them all.
        let mut batch = String::new();
        for i in 0..INTERFACES {
            batch.push_str(&format!("link add d{i} type {kind}\nlink set d{i} up\n"));
        }
        let mut child = Command::new("ip")
            .args(["-n", &stage.ns, "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting `ip -batch -`")?;
        child
            .stdin
            .take()
            .context("ip -batch stdin")?
            .write_all(batch.as_bytes())
            .context("writing the ip batch")?;
        let status = child.wait()?;
        if !status.success() {
            bail!("`ip -n {} -batch -` failed ({status})", stage.ns);
        }
        Ok(stage)
    }

    /// `dummy` where the kernel has it; `ifb` (also a plain Ethernet-type device with no
    /// traffic of its own) where it does not, as on this project's VMs.
    fn device_kind(&self) -> Result<&'static str> {
        for kind in ["dummy", "ifb"] {
            let probe = Cmd::new("ip")
                .args(["-n", &self.ns, "link", "add", "probe0", "type", kind])
                .capture()?;
            if probe.status.success() {
                Cmd::new("ip")
                    .args(["-n", &self.ns, "link", "del", "probe0"])
                    .run()?;
                return Ok(kind);
            }
        }
        bail!("the kernel has neither the dummy nor the ifb driver")
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

struct Timing {
    median: Duration,
    min: Duration,
    lines: usize,
}

/// `nsenter --net` rather than `ip netns exec`: the latter also remounts /sys for each
/// command, a fixed cost that would blur the ratios.
fn in_ns(ns: &str, argv: &[&str]) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/var/run/netns/{ns}")).args(argv);
    cmd
}

fn time_command(ns: &str, argv: &[&str], runs: usize) -> Result<Timing> {
    // One run to count output lines (and to warm the caches equally for both).
    let out = in_ns(ns, argv)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!("{argv:?} failed: {}", out.status);
    }
    let lines = out.stdout.iter().filter(|&&b| b == b'\n').count();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let status = in_ns(ns, argv)
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
        median: times[times.len() / 2],
        min: times[0],
        lines,
    })
}

pub fn bench(bin: &Path, runs: usize) -> Result<()> {
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    for tool in ["/usr/bin/netstat", "nsenter", "ip"] {
        if Cmd::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .probe()
            .is_none()
        {
            bail!("{tool} is missing: run `cargo xtask setup`");
        }
    }
    eprintln!("bench: making {INTERFACES} interfaces in a new network namespace...");
    let stage = Stage::new()?;
    let runs = runs.max(1);
    println!(
        "{INTERFACES} interfaces (+ lo), {runs} runs each, wall time (median / min), output lines"
    );
    // `-ie` is shown for information: net-tools re-reads /proc/net/if_inet6 once per
    // interface there, so it is quadratic; it is not part of the target.
    for (name, args) in [("-i", &["-i"][..]), ("-ie", &["-ie"][..])] {
        let mut ours_argv = vec![ours];
        ours_argv.extend_from_slice(args);
        let mut real_argv = vec!["/usr/bin/netstat"];
        real_argv.extend_from_slice(args);
        let t_ours = time_command(&stage.ns, &ours_argv, runs)?;
        let t_real = time_command(&stage.ns, &real_argv, runs)?;
        println!();
        for (label, t) in [
            (ours_argv.join(" "), &t_ours),
            (real_argv.join(" "), &t_real),
        ] {
            println!(
                "  {label:<50} {:>9.1} ms {:>9.1} ms {:>8} lines",
                t.median.as_secs_f64() * 1e3,
                t.min.as_secs_f64() * 1e3,
                t.lines
            );
        }
        println!(
            "  {name}: ours/net-tools = {:.3}",
            t_ours.median.as_secs_f64() / t_real.median.as_secs_f64()
        );
        if t_ours.lines != t_real.lines {
            println!(
                "  note: line counts differ from net-tools ({} vs {})",
                t_ours.lines, t_real.lines
            );
        }
    }
    drop(stage);
    Ok(())
}
