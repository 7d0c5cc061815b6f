//! What the `cargo xtask bench` suites share: a throwaway network namespace, and timing a
//! command run inside it.
use std::{
    io::Write as _,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use crate::cmd::Cmd;

/// Fails naming the first of `tools` that is not installed.
pub fn require_tools(tools: &[&str]) -> Result<()> {
    for tool in tools {
        if Cmd::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .probe()
            .is_none()
        {
            bail!("{tool} is missing: run `cargo xtask setup`");
        }
    }
    Ok(())
}

/// A network namespace with `lo` up; deleting it on drop takes its interfaces and routes
/// along.
pub struct Netns {
    name: String,
}

impl Netns {
    /// Makes the namespace `{prefix}-{pid}`.
    pub fn new(prefix: &str) -> Result<Self> {
        let name = format!("{prefix}-{}", std::process::id());
        Cmd::new("ip").args(["netns", "add", &name]).run()?;
        let netns = Netns { name };
        netns.ip(&["link", "set", "lo", "up"])?;
        Ok(netns)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS`; a failure carries ip's message.
    pub fn ip(&self, args: &[&str]) -> Result<()> {
        let out = Cmd::new("ip")
            .args(["-n", &self.name])
            .args(args)
            .capture()?;
        if !out.status.success() {
            bail!(
                "`ip -n {} {}` failed: {}",
                self.name,
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    /// Runs `lines` (`ip -batch` commands) in one `ip` process.
    pub fn batch(&self, lines: &str) -> Result<()> {
        let mut child = Command::new("ip")
            .args(["-n", &self.name, "-batch", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .context("starting `ip -batch -`")?;
        let written = child
            .stdin
            .take()
            .context("ip -batch stdin")?
            .write_all(lines.as_bytes());
        // Wait before reporting a write error: ip stops reading at its first failure.
        let status = child.wait()?;
        if !status.success() {
            bail!("`ip -n {} -batch -` failed ({status})", self.name);
        }
        written.context("writing the ip batch")
    }

    /// Adds the device `name`, up or not: `dummy` where the kernel has that driver, `ifb`
    /// (also a plain Ethernet-type device with no traffic of its own) where it does not,
    /// as on this project's VMs. Returns the kind used.
    pub fn add_device(&self, name: &str) -> Result<&'static str> {
        if self.ip(&["link", "add", name, "type", "dummy"]).is_ok() {
            return Ok("dummy");
        }
        self.ip(&["link", "add", name, "type", "ifb"])
            .context("the kernel has neither the dummy nor the ifb driver")?;
        Ok("ifb")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

pub struct Timing {
    pub median: Duration,
    pub min: Duration,
    /// Stdout of the untimed warm-up run.
    pub output: Vec<u8>,
}

impl Timing {
    pub fn lines(&self) -> usize {
        self.output.iter().filter(|&&b| b == b'\n').count()
    }
}

/// `argv` run in namespace `ns` under the C locale. `nsenter --net` rather than
/// `ip netns exec`: the latter also remounts /sys for each command, a fixed cost that
/// would blur the ratios.
pub fn in_ns(ns: &str, argv: &[&str]) -> Command {
    let mut cmd = Command::new("nsenter");
    cmd.arg(format!("--net=/var/run/netns/{ns}"))
        .args(argv)
        .env("LC_ALL", "C");
    cmd
}

/// One untimed run for the output (which also warms the caches equally for every command
/// compared), then `runs` timed runs with output discarded. Any failing run is an error.
pub fn time_command(ns: &str, argv: &[&str], runs: usize) -> Result<Timing> {
    time_command_env(ns, argv, &[], runs)
}

/// [`time_command`] with `env` (name, value) pairs added to every run's environment.
pub fn time_command_env(
    ns: &str,
    argv: &[&str],
    env: &[(&str, &str)],
    runs: usize,
) -> Result<Timing> {
    let with_env = || {
        let mut cmd = in_ns(ns, argv);
        cmd.envs(env.iter().copied());
        cmd
    };
    let out = with_env()
        .stderr(Stdio::null())
        .output()
        .with_context(|| format!("running {argv:?}"))?;
    if !out.status.success() {
        bail!("{argv:?} failed: {}", out.status);
    }
    let mut times = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let status = with_env()
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .with_context(|| format!("running {argv:?}"))?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_counts_newlines() {
        let t = |output: &[u8]| Timing {
            median: Duration::ZERO,
            min: Duration::ZERO,
            output: output.to_vec(),
        };
        assert_eq!(t(b"").lines(), 0);
        assert_eq!(t(b"a\nb\n").lines(), 2);
        assert_eq!(t(b"a\nb").lines(), 1);
    }
}
