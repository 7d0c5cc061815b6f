//! Issue 7 (hardening): a bounded soak for CI. The agent and `netstat --watch --json` run
//! while two network namespaces churn connections (each on its own loopback, and one
//! to the other across a veth pair) for [`SECONDS`]. Checked:
//!
//! - the kernel's own counters reconcile with the stream, per namespace:
//!   `TcpActiveOpens` = CLOSE->SYN_SENT transitions minus connect() calls refused a port
//!   (those change state without a SYN), `TcpPassiveOpens` = LISTEN->SYN_RECV; a
//!   difference must be covered by the changes the stream itself reported lost;
//! - the agent saw at least the namespaces' passive opens (its counter covers every
//!   namespace on the machine);
//! - memory stays under bounds derived from the configuration, at every sample: the
//!   kernel memory of each process's BPF maps under what their types and capacities
//!   allow (read from fdinfo), the owner maps' records under their capacities, and the
//!   agent's RSS under its ready-time RSS plus what its map dumps can take.
//!
//! No timing is asserted: the rates are printed, not checked.
use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::MetadataExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use netstat_tests::agent::{Agent, scrape_metrics};
use netstat_tests::{Netns, ours, require_root, workspace_root};

/// How long the loads churn.
const SECONDS: u64 = 40;
/// Connections per second each load aims at (three loads).
const RATE: u32 = 600;
/// The agent's owner-map and TIME_WAIT-map capacities for this run: small, so the RSS
/// bound they imply is tight (the TIME_WAIT map overflows, which is counted).
const OWNERS_MAX: u64 = 8192;
const TIMEWAIT_MAX: u64 = 8192;
/// Bytes a dumped record takes in the agent (key 16 + value 152).
const RECORD: u64 = 168;
/// Allocator and thread-stack slack on top of the agent's derived RSS bound.
const RSS_SLACK: u64 = 16 << 20;
const SAMPLE_EVERY: Duration = Duration::from_secs(4);

/// A soak_load.py process and its stdout lines.
struct Load {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Load {
    fn start(ns: &Netns, args: &[&str]) -> Load {
        let script = workspace_root().join("xtask/bench/soak_load.py");
        let what = format!("soak_load.py {} in {}", args.join(" "), ns.name());
        let mut child = Command::new("ip")
            // Niced: the processes under test must get their turn to read their ring.
            .args([
                "netns",
                "exec",
                ns.name(),
                "nice",
                "-n",
                "10",
                "python3",
                "-u",
            ])
            .arg(&script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what}: {e}"));
        let stdin = child.stdin.take();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let l = Load {
            what,
            child,
            stdin,
            lines,
        };
        l.expect("ready", Duration::from_secs(30));
        l
    }

    fn expect(&self, word: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(word) => return l,
                Ok(_) => {}
                Err(_) => panic!("{}: no `{word}` line within {within:?}", self.what),
            }
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        drop(self.stdin.take());
        if matches!(self.child.try_wait(), Ok(None)) {
            thread::sleep(Duration::from_millis(200));
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// `(cycles, connects refused a port)` from a `done` line.
fn done_counts(line: &str) -> (u64, u64) {
    let mut f = line.split_whitespace().skip(1);
    let cycles = f.next().and_then(|v| v.parse().ok()).unwrap_or(0);
    let no_port = f
        .skip(1)
        .filter_map(|kv| kv.strip_prefix("EADDRNOTAVAIL="))
        .filter_map(|v| v.parse::<u64>().ok())
        .sum();
    (cycles, no_port)
}

fn tcp_counters(ns: &Netns) -> (u64, u64) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "cat", "/proc/net/snmp"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let names: Vec<&str> = tcp.next().unwrap().split_whitespace().collect();
    let values: Vec<&str> = tcp.next().unwrap().split_whitespace().collect();
    let get = |n: &str| -> u64 {
        let i = names.iter().position(|x| *x == n).unwrap();
        values[i].parse().unwrap()
    };
    (get("ActiveOpens"), get("PassiveOpens"))
}

fn netns_inode(ns: &Netns) -> u64 {
    fs::metadata(format!("/run/netns/{}", ns.name()))
        .or_else(|_| fs::metadata(format!("/var/run/netns/{}", ns.name())))
        .unwrap_or_else(|e| panic!("stat of {}'s bind mount: {e}", ns.name()))
        .ino()
}

/// Stream counts: per netns inode, (CLOSE->SYN_SENT, LISTEN->SYN_RECV); and `lost`
/// records by reason.
#[derive(Default)]
struct Counts {
    per_netns: HashMap<u64, (u64, u64)>,
    lost: BTreeMap<String, u64>,
}

fn field<'a>(v: &'a serde_json::Value, k: &str) -> Option<&'a str> {
    v.get(k)?.as_str()
}

fn count(out: impl Read) -> Counts {
    let mut c = Counts::default();
    for line in BufReader::new(out).lines().map_while(Result::ok) {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        match field(&v, "type") {
            Some("transition") => {
                let ns = v.get("netns").and_then(|n| n.as_u64()).unwrap_or(0);
                let e = c.per_netns.entry(ns).or_default();
                match (field(&v, "old_state"), field(&v, "new_state")) {
                    (Some("CLOSE"), Some("SYN_SENT")) => e.0 += 1,
                    (Some("LISTEN"), Some("SYN_RECV")) => e.1 += 1,
                    _ => {}
                }
            }
            Some("lost") => {
                let reason = field(&v, "reason").unwrap_or("?").to_string();
                *c.lost.entry(reason).or_default() +=
                    v.get("lost").and_then(|n| n.as_u64()).unwrap_or(0);
            }
            _ => {}
        }
    }
    c
}

/// The agent's metrics, as counts.
fn scrape(addr: &str) -> BTreeMap<String, u64> {
    scrape_metrics(addr)
        .into_iter()
        .map(|(k, v)| (k, v as u64))
        .collect()
}

fn possible_cpus() -> u64 {
    // "0-1", "0-3,5": count every listed CPU.
    let text = fs::read_to_string("/sys/devices/system/cpu/possible").unwrap();
    text.trim()
        .split(',')
        .map(|r| match r.split_once('-') {
            Some((a, b)) => b.parse::<u64>().unwrap() - a.parse::<u64>().unwrap() + 1,
            None => 1,
        })
        .sum()
}

/// One BPF map a process holds: (memlock now, the most its type and capacity allow).
fn map_bound(fdinfo: &str, cpus: u64) -> Option<(String, u64, u64)> {
    let get = |k: &str| -> Option<u64> {
        fdinfo
            .lines()
            .find_map(|l| l.strip_prefix(k)?.trim().parse().ok())
    };
    let (ty, key, value, max, memlock) = (
        get("map_type:")?,
        get("key_size:")?,
        get("value_size:")?,
        get("max_entries:")?,
        get("memlock:")?,
    );
    let r8 = |n: u64| n.div_ceil(8) * 8;
    // Per element: the kernel's htab_elem header (48 bytes) and list links, counted
    // generously; per bucket 16 bytes over a power-of-two bucket count; plus a page
    // and some headroom per map for the map struct itself.
    const SLACK: u64 = 64 << 10;
    let bound = match ty {
        // hash, LRU hash
        1 | 9 => 16 * max.next_power_of_two() + max * (r8(key) + r8(value) + 72),
        // array (globals), per-CPU array
        2 => max * r8(value) + 4096,
        6 => max * r8(value) * cpus,
        // ring buffer: its data pages (max_entries bytes) and their page table
        27 => max + max / 256,
        _ => return Some((format!("type {ty}"), memlock, memlock)),
    } + SLACK;
    Some((format!("type {ty} {max}x{key}+{value}"), memlock, bound))
}

/// Every BPF map `pid` holds: Err names one over its bound. Ok: (total memlock, total bound).
fn maps_within_bounds(pid: u32, cpus: u64) -> Result<(u64, u64), String> {
    let (mut total, mut bound) = (0, 0);
    let dir = format!("/proc/{pid}/fd");
    let mut seen = std::collections::HashSet::new();
    for e in fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))? {
        let Ok(e) = e else { continue };
        if fs::read_link(e.path()).ok().as_deref()
            != Some(std::path::Path::new("anon_inode:bpf-map"))
        {
            continue;
        }
        let info = fs::read_to_string(format!(
            "/proc/{pid}/fdinfo/{}",
            e.file_name().to_string_lossy()
        ))
        .unwrap_or_default();
        let id = info
            .lines()
            .find_map(|l| l.strip_prefix("map_id:"))
            .map(|s| s.trim().to_string());
        if !seen.insert(id) {
            continue;
        }
        let Some((what, memlock, max)) = map_bound(&info, cpus) else {
            continue;
        };
        if memlock > max {
            return Err(format!(
                "pid {pid}: map {what} holds {memlock} bytes, bound {max}"
            ));
        }
        total += memlock;
        bound += max;
    }
    Ok((total, bound))
}

fn rss_kib(pid: u32) -> u64 {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn issue7_soak_reconciles_with_kernel_counters_in_bounded_memory() {
    require_root();
    let cpus = possible_cpus();
    let (owners, tw) = (OWNERS_MAX.to_string(), TIMEWAIT_MAX.to_string());
    let agent = Agent::start_temp_with(
        &[
            ("NETSTAT_TEST_OWNERS_MAX", &owners),
            ("NETSTAT_AGENT_TIMEWAIT_RECORDS", &tw),
        ],
        &["--metrics", "127.0.0.1:0"],
    );
    let addr = agent
        .tcp_metrics_addr()
        .expect("the agent announced its metrics address")
        .to_string();
    let agent_pid = agent.pid();
    let agent_rss_ready = rss_kib(agent_pid) * 1024;
    let rss_bound = agent_rss_ready + 2 * RECORD * (OWNERS_MAX + TIMEWAIT_MAX) + RSS_SLACK;

    let mut watch = Command::new(ours())
        .args(["--watch", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting netstat --watch --json");
    let watch_pid = watch.id();
    let out = watch.stdout.take().unwrap();
    let counter = thread::spawn(move || count(out));
    let err = watch.stderr.take().unwrap();
    let (tx, watch_err) = mpsc::channel::<String>();
    thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut watch_log = Vec::new();
    loop {
        let line = watch_err
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("--watch did not start: {watch_log:?}"));
        let ready = line.ends_with("; ready");
        watch_log.push(line);
        if ready {
            break;
        }
    }

    let a = Netns::new();
    let (b, veth) = a.veth_peer();
    for ns in [&a, &b] {
        let ok = Command::new("ip")
            .args(["netns", "exec", ns.name(), "sysctl", "-q", "-w"])
            .args([
                "net.ipv4.ip_local_port_range=10000 65000",
                "net.ipv4.tcp_tw_reuse=1",
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "sysctl in {}", ns.name());
    }
    let sites = [(&a, netns_inode(&a)), (&b, netns_inode(&b))];
    let before: Vec<(u64, u64)> = sites.iter().map(|(ns, _)| tcp_counters(ns)).collect();
    let m0 = scrape(&addr);

    let (secs, rate) = (SECONDS.to_string(), RATE.to_string());
    let peer = veth.peer_v4.to_string();
    let server = Load::start(&b, &["server", "5000", &peer]);
    let loads = [
        (
            0,
            Load::start(&a, &["loop", &secs, "4000", "127.0.0.1", &rate]),
        ),
        (
            1,
            Load::start(&b, &["loop", &secs, "4000", "127.0.0.1", &rate]),
        ),
        (0, Load::start(&a, &["client", &secs, "5000", &peer, &rate])),
    ];
    let started = Instant::now();
    let mut peak = (0u64, 0u64, 0u64, 0u64);
    let mut violations = Vec::new();
    let sample = |peak: &mut (u64, u64, u64, u64), violations: &mut Vec<String>| {
        for pid in [agent_pid, watch_pid] {
            match maps_within_bounds(pid, cpus) {
                Ok((total, bound)) => {
                    if pid == agent_pid {
                        peak.0 = peak.0.max(total);
                        peak.2 = bound;
                    } else {
                        peak.1 = peak.1.max(total);
                    }
                }
                Err(e) => violations.push(e),
            }
        }
        let rss = rss_kib(agent_pid) * 1024;
        peak.3 = peak.3.max(rss);
        if rss > rss_bound {
            violations.push(format!("agent RSS {rss} over its bound {rss_bound}"));
        }
        let m = scrape(&addr);
        for map in ["owners", "timewait"] {
            let n = m
                .get(&format!("netstat_map_entries{{map=\"{map}\"}}"))
                .copied();
            let cap = m
                .get(&format!("netstat_map_capacity{{map=\"{map}\"}}"))
                .copied();
            if let (Some(n), Some(cap)) = (n, cap)
                && n > cap
            {
                violations.push(format!("{map}: {n} records, capacity {cap}"));
            }
        }
    };
    while started.elapsed() < Duration::from_secs(SECONDS) {
        thread::sleep(SAMPLE_EVERY);
        sample(&mut peak, &mut violations);
    }
    let mut made = [(0u64, 0u64); 2];
    for (i, l) in &loads {
        let (cycles, no_port) = done_counts(&l.expect("done", Duration::from_secs(120)));
        made[*i].0 += cycles;
        made[*i].1 += no_port;
    }
    let elapsed = started.elapsed().as_secs_f64();
    drop(loads);
    drop(server);
    // The last FIN exchanges, and the stream's last poll.
    thread::sleep(Duration::from_secs(2));
    sample(&mut peak, &mut violations);
    let after: Vec<(u64, u64)> = sites.iter().map(|(ns, _)| tcp_counters(ns)).collect();
    let m1 = scrape(&addr);
    let watch_rss = rss_kib(watch_pid);

    // SIGINT: the stream's summary, then its counts.
    // SAFETY: signalling our own child, not yet reaped.
    unsafe { libc::kill(watch_pid as i32, libc::SIGINT) };
    let status = watch.wait().unwrap();
    let counts = counter.join().unwrap();
    while let Ok(l) = watch_err.recv_timeout(Duration::from_secs(1)) {
        watch_log.push(l);
    }
    assert!(
        status.success(),
        "--watch ended with {status}: {watch_log:?}"
    );
    let missed: u64 = counts.lost.values().sum();

    let delta = |k: &str| m1.get(k).copied().unwrap_or(0) - m0.get(k).copied().unwrap_or(0);
    eprintln!(
        "soak: {elapsed:.0} s; agent maps peak {} KiB (bound {} KiB), agent RSS peak {} KiB \
         (bound {} KiB), --watch maps peak {} KiB, --watch RSS {watch_rss} KiB; stream lost {:?}; \
         agent map_full owners +{} timewait +{}, recursion_miss +{}",
        peak.0 / 1024,
        peak.2 / 1024,
        peak.3 / 1024,
        rss_bound / 1024,
        peak.1 / 1024,
        counts.lost,
        delta(r#"netstat_map_full_total{map="owners"}"#),
        delta(r#"netstat_map_full_total{map="timewait"}"#),
        delta(r#"netstat_lost_events_total{reason="recursion_miss"}"#),
    );
    let mut problems = violations;
    let mut passive_total = 0;
    for (i, (ns, inode)) in sites.iter().enumerate() {
        let active = after[i].0 - before[i].0;
        let passive = after[i].1 - before[i].1;
        passive_total += passive;
        let (syn_sent, syn_recv) = counts.per_netns.get(inode).copied().unwrap_or_default();
        let (cycles, no_port) = made[i];
        eprintln!(
            "  {} (netns {inode}): TcpActiveOpens {active}, CLOSE->SYN_SENT {syn_sent} \
             (connects refused a port {no_port}); TcpPassiveOpens {passive}, LISTEN->SYN_RECV \
             {syn_recv}; {cycles} connections ({:.0}/s)",
            ns.name(),
            cycles as f64 / elapsed
        );
        assert!(active > 0 && passive > 0, "no churn in {}", ns.name());
        // Stream events can only be missing (lost), never extra.
        let short_active = (active + no_port) as i64 - syn_sent as i64;
        let short_passive = passive as i64 - syn_recv as i64;
        if short_active < 0 || short_passive < 0 {
            problems.push(format!(
                "{}: more transitions than the kernel counted ({short_active}, {short_passive})",
                ns.name()
            ));
        } else if short_active + short_passive > 0 {
            eprintln!(
                "  NOTE: {} short by {short_active} SYN_SENT and {short_passive} SYN_RECV: \
                 within the {missed} changes the stream reported lost",
                ns.name()
            );
            if (short_active + short_passive) as u64 > missed {
                problems.push(format!(
                    "{}: {short_active} SYN_SENT and {short_passive} SYN_RECV missing, only \
                     {missed} reported lost",
                    ns.name()
                ));
            }
        }
    }
    let agent_passive = delta("netstat_passive_opens_total");
    if agent_passive < passive_total {
        problems.push(format!(
            "the agent saw {agent_passive} passive opens, the namespaces made {passive_total}"
        ));
    }
    assert!(
        problems.is_empty(),
        "{}\n--watch said: {watch_log:?}",
        problems.join("\n")
    );
}
