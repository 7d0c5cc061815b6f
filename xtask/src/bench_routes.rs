//! `cargo xtask bench --only routes`: our `netstat -rn` against net-tools' on a large
//! routing table (100k IPv4 routes, then 10k IPv6 routes) in a network namespace of its
//! own. Prints times and ratios; asserts nothing (speed is measured, not asserted).
use std::{
    fmt::Write as _,
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;

const IPV4_ROUTES: usize = 100_000;
const IPV6_ROUTES: usize = 10_000;
const NET_TOOLS: &str = "/usr/bin/netstat";

/// A namespace with one up link to hang routes on, and the batch file used to fill it;
/// both go away on drop.
struct Stage {
    ns: String,
    batch: PathBuf,
}

impl Stage {
    fn new() -> Result<Self> {
        let ns = format!("nsroutes-{}", std::process::id());
        let batch = std::env::temp_dir().join(format!("{ns}.batch"));
        Cmd::new("ip").args(["netns", "add", &ns]).run()?;
        let stage = Stage { ns, batch };
        stage.ip(&["link", "set", "lo", "up"])?;
        // A dummy link where the kernel has the driver; ifb otherwise (both just sit there).
        if stage
            .ip(&["link", "add", "bench0", "type", "dummy"])
            .is_err()
        {
            stage.ip(&["link", "add", "bench0", "type", "ifb"])?;
        }
        stage.ip(&["link", "set", "bench0", "up"])?;
        stage.ip(&["addr", "add", "192.0.2.2/24", "dev", "bench0"])?;
        stage.ip(&[
            "-6",
            "addr",
            "add",
            "2001:db8::2/64",
            "dev",
            "bench0",
            "nodad",
        ])?;
        Ok(stage)
    }

    fn ip(&self, args: &[&str]) -> Result<()> {
        let out = Cmd::new("ip").args(["-n", &self.ns]).args(args).capture()?;
        if !out.status.success() {
            bail!(
                "`ip -n {} {}` failed: {}",
                self.ns,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Adds `lines` (`ip -batch` commands) in one `ip` process.
    fn batch(&self, lines: &str) -> Result<()> {
        fs::write(&self.batch, lines)
            .with_context(|| format!("writing {}", self.batch.display()))?;
        let batch = self.batch.to_str().context("temp path is not UTF-8")?;
        self.ip(&["-batch", batch])
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.batch);
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// 10k.0.0/24 networks via 192.0.2.1, spread over 11.0.0.0 upwards.
fn ipv4_batch(n: usize) -> String {
    let mut s = String::with_capacity(n * 48);
    for i in 0..n {
        let net = (11u32 << 24) + ((i as u32) << 8);
        let [a, b, c, _] = net.to_be_bytes();
        let _ = writeln!(s, "route add {a}.{b}.{c}.0/24 via 192.0.2.1 dev bench0");
    }
    s
}

/// /64 networks in 2001:db8:1::/48 via 2001:db8::1.
fn ipv6_batch(n: usize) -> String {
    let mut s = String::with_capacity(n * 56);
    for i in 0..n {
        let _ = writeln!(
            s,
            "route add 2001:db8:1:{i:x}::/64 via 2001:db8::1 dev bench0"
        );
    }
    s
}

/// `nsenter --net` rather than `ip netns exec`: the latter also remounts /sys for each
/// command, a fixed cost that would blur the ratios.
fn in_ns(ns: &str, argv: &[&str]) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/var/run/netns/{ns}"))
        .args(argv)
        .env("LC_ALL", "C");
    cmd
}

struct Timing {
    median: Duration,
    min: Duration,
    output: Vec<u8>,
}

fn time_command(ns: &str, argv: &[&str], runs: usize) -> Result<Timing> {
    // One run for the output (and to warm the caches equally for everyone).
    let out = in_ns(ns, argv)
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!("{argv:?} failed: {}", out.status);
    }
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
        output: out.stdout,
    })
}

/// Times ours and net-tools with the same arguments and prints one comparison.
fn compare(ns: &str, ours: &str, args: &[&str], runs: usize) -> Result<()> {
    let mut ours_argv = vec![ours];
    ours_argv.extend_from_slice(args);
    let mut real_argv = vec![NET_TOOLS];
    real_argv.extend_from_slice(args);
    let o = time_command(ns, &ours_argv, runs)?;
    let r = time_command(ns, &real_argv, runs)?;
    let lines = |t: &Timing| t.output.iter().filter(|&&b| b == b'\n').count();
    let label = format!("netstat {}", args.join(" "));
    for (who, t) in [("ours", &o), ("net-tools", &r)] {
        println!(
            "  {label:<22} {who:<10} {:>9.1} ms {:>9.1} ms {:>8} lines",
            t.median.as_secs_f64() * 1e3,
            t.min.as_secs_f64() * 1e3,
            lines(t)
        );
    }
    println!(
        "  {label}: ours/net-tools = {:.3}{}",
        o.median.as_secs_f64() / r.median.as_secs_f64(),
        if o.output == r.output {
            "   (same output)"
        } else {
            "   (OUTPUT DIFFERS)"
        }
    );
    Ok(())
}

pub fn bench(bin: &Path, runs: usize) -> Result<()> {
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    for tool in [NET_TOOLS, "ip", "nsenter"] {
        if Cmd::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .probe()
            .is_none()
        {
            bail!("{tool} is missing: run `cargo xtask setup`");
        }
    }
    let stage = Stage::new()?;
    eprintln!(
        "bench: adding {IPV4_ROUTES} IPv4 routes in namespace {}...",
        stage.ns
    );
    stage.batch(&ipv4_batch(IPV4_ROUTES))?;
    println!(
        "routing table: {IPV4_ROUTES} IPv4 routes, {runs} runs each, wall time (median / min), output lines"
    );
    compare(&stage.ns, ours, &["-rn"], runs)?;
    compare(&stage.ns, ours, &["-rne"], runs)?;
    // Names: a getnetbyaddr() per network route; glibc rereads /etc/networks for each,
    // so net-tools takes seconds here: one timed run.
    compare(&stage.ns, ours, &["-r"], 1)?;

    // The kernel restarts its walk of the IPv6 tree from the start for every read() of
    // /proc/net/ipv6_route (one page each), so the file costs O(n^2): a smaller table.
    eprintln!("bench: adding {IPV6_ROUTES} IPv6 routes...");
    stage.batch(&ipv6_batch(IPV6_ROUTES))?;
    println!();
    println!("routing table: {IPV6_ROUTES} IPv6 routes (plus the IPv4 ones), {runs} runs each");
    compare(&stage.ns, ours, &["-rn6"], runs)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_name_distinct_networks() {
        let v4 = ipv4_batch(300);
        let lines: Vec<&str> = v4.lines().collect();
        assert_eq!(lines[0], "route add 11.0.0.0/24 via 192.0.2.1 dev bench0");
        assert_eq!(lines[257], "route add 11.1.1.0/24 via 192.0.2.1 dev bench0");
        let v6 = ipv6_batch(20);
        assert!(
            v6.lines()
                .nth(17)
                .is_some_and(|l| l.contains("2001:db8:1:11::/64"))
        );
    }
}
