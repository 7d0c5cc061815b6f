//! `cargo xtask bench --only routes`: our `netstat -rn` against net-tools' on a large
//! routing table (100k IPv4 routes, then 10k IPv6 routes) in a network namespace of its
//! own. Prints times and ratios; asserts nothing (speed is measured, not asserted).
use std::{fmt::Write as _, path::Path};

use anyhow::{Context as _, Result};

use crate::timing::{Netns, require_tools, time_command};

const IPV4_ROUTES: usize = 100_000;
const IPV6_ROUTES: usize = 10_000;
const NET_TOOLS: &str = "/usr/bin/netstat";

/// A namespace with one up link to hang routes on.
fn stage() -> Result<Netns> {
    let netns = Netns::new("nsroutes")?;
    netns.add_device("bench0")?;
    netns.ip(&["link", "set", "bench0", "up"])?;
    netns.ip(&["addr", "add", "192.0.2.2/24", "dev", "bench0"])?;
    netns.ip(&[
        "-6",
        "addr",
        "add",
        "2001:db8::2/64",
        "dev",
        "bench0",
        "nodad",
    ])?;
    Ok(netns)
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

/// Times ours and net-tools with the same arguments and prints one comparison.
fn compare(ns: &str, ours: &str, args: &[&str], runs: usize) -> Result<()> {
    let mut ours_argv = vec![ours];
    ours_argv.extend_from_slice(args);
    let mut real_argv = vec![NET_TOOLS];
    real_argv.extend_from_slice(args);
    let o = time_command(ns, &ours_argv, runs)?;
    let r = time_command(ns, &real_argv, runs)?;
    let label = format!("netstat {}", args.join(" "));
    for (who, t) in [("ours", &o), ("net-tools", &r)] {
        println!(
            "  {label:<22} {who:<10} {:>9.1} ms {:>9.1} ms {:>8} lines",
            t.median.as_secs_f64() * 1e3,
            t.min.as_secs_f64() * 1e3,
            t.lines()
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
    require_tools(&[NET_TOOLS, "ip", "nsenter"])?;
    let netns = stage()?;
    let ns = netns.name();
    eprintln!("bench: adding {IPV4_ROUTES} IPv4 routes in namespace {ns}...");
    netns.batch(&ipv4_batch(IPV4_ROUTES))?;
    println!(
        "routing table: {IPV4_ROUTES} IPv4 routes, {runs} runs each, wall time (median / min), output lines"
    );
    compare(ns, ours, &["-rn"], runs)?;
    compare(ns, ours, &["-rne"], runs)?;
    // Names: a getnetbyaddr() per network route; glibc rereads /etc/networks for each,
    // so net-tools takes seconds here: one timed run.
    compare(ns, ours, &["-r"], 1)?;

    // The kernel restarts its walk of the IPv6 tree from the start for every read() of
    // /proc/net/ipv6_route (one page each), so the file costs O(n^2): a smaller table.
    eprintln!("bench: adding {IPV6_ROUTES} IPv6 routes...");
    netns.batch(&ipv6_batch(IPV6_ROUTES))?;
    println!();
    println!("routing table: {IPV6_ROUTES} IPv6 routes (plus the IPv4 ones), {runs} runs each");
    compare(ns, ours, &["-rn6"], runs)?;
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
