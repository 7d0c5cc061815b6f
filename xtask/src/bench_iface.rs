//! `cargo xtask bench --only interfaces`: `netstat -i` with 1000 interfaces, ours against
//! net-tools', in a network namespace of its own. Prints times and ratios; asserts
//! nothing (speed is measured, not asserted). The target is a ratio of at most 1.
use std::path::Path;

use anyhow::{Context as _, Result};

use crate::timing::{Netns, require_tools, time_command};

/// Interfaces made in the namespace (plus `lo`).
const INTERFACES: usize = 1000;

/// A namespace holding `INTERFACES` plain devices, all up.
fn stage() -> Result<Netns> {
    let netns = Netns::new("nsbench-iface")?;
    let kind = netns.add_device("probe0")?;
    netns.ip(&["link", "del", "probe0"])?;
    // All up, so that `-i` (which lists only interfaces that are up) prints them all.
    let mut batch = String::new();
    for i in 0..INTERFACES {
        batch.push_str(&format!("link add d{i} type {kind}\nlink set d{i} up\n"));
    }
    netns.batch(&batch)?;
    Ok(netns)
}

pub fn bench(bin: &Path, runs: usize) -> Result<()> {
    let ours = bin.to_str().context("binary path is not UTF-8")?;
    require_tools(&["/usr/bin/netstat", "nsenter", "ip"])?;
    eprintln!("bench: making {INTERFACES} interfaces in a new network namespace...");
    let netns = stage()?;
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
        let t_ours = time_command(netns.name(), &ours_argv, runs)?;
        let t_real = time_command(netns.name(), &real_argv, runs)?;
        println!();
        for (label, t) in [
            (ours_argv.join(" "), &t_ours),
            (real_argv.join(" "), &t_real),
        ] {
            println!(
                "  {label:<50} {:>9.1} ms {:>9.1} ms {:>8} lines",
                t.median.as_secs_f64() * 1e3,
                t.min.as_secs_f64() * 1e3,
                t.lines()
            );
        }
        println!(
            "  {name}: ours/net-tools = {:.3}",
            t_ours.median.as_secs_f64() / t_real.median.as_secs_f64()
        );
        if t_ours.lines() != t_real.lines() {
            println!(
                "  note: line counts differ from net-tools ({} vs {})",
                t_ours.lines(),
                t_real.lines()
            );
        }
    }
    Ok(())
}
