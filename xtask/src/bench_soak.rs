//! `cargo xtask bench --only soak`: the agent and `netstat --watch --json` run for a
//! while under a connection churn in several network namespaces (within each one on
//! loopback, and across a veth pair to the next one). Every few seconds it samples the
//! memory of both processes (RSS, and the kernel memory of the BPF maps each holds) and
//! the agent's owner-map fill; at the end it reconciles, per namespace, the kernel's own
//! counters (`TcpActiveOpens`, `TcpPassiveOpens` in that namespace's /proc/net/snmp)
//! with the CLOSE->SYN_SENT and LISTEN->SYN_RECV transitions the stream printed, and
//! prints what the agent and the stream reported lost. Declared from bench.rs.
use std::{
    collections::HashMap,
    fs,
    io::{BufRead as _, BufReader, Read as _, Write as _},
    net::TcpStream,
    os::unix::fs::MetadataExt as _,
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc::{self, Receiver},
    thread::{self, JoinHandle},
    time::{Duration, Instant},
};

use anyhow::{Context as _, Result, bail};

use super::agent::{Agent, SOCKET_ENV, maps_of, status_kib};
use crate::timing::{Netns, in_ns, require_tools};

/// How often memory and map fill are sampled.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// Loopback churn port, and the port each namespace serves its neighbour on.
const LOOP_PORT: u16 = 4000;
const SERVE_PORT: u16 = 5000;

pub struct Args {
    pub seconds: u64,
    pub namespaces: usize,
    /// Connections per second each load aims at (0: as fast as it goes); every
    /// namespace runs two (loopback and across the veth).
    pub rate: u32,
}

/// The kernel's TCP counters of one namespace.
#[derive(Clone, Copy, Default, Debug)]
struct Snmp {
    active: u64,
    passive: u64,
    attempt_fails: u64,
}

fn snmp(ns: &str) -> Result<Snmp> {
    let out = in_ns(ns, &["cat", "/proc/net/snmp"])
        .output()
        .with_context(|| format!("reading /proc/net/snmp in {ns}"))?;
    parse_snmp(&String::from_utf8_lossy(&out.stdout))
        .with_context(|| format!("no Tcp: lines in /proc/net/snmp of {ns}"))
}

fn parse_snmp(text: &str) -> Option<Snmp> {
    let mut tcp = text.lines().filter(|l| l.starts_with("Tcp:"));
    let names: Vec<&str> = tcp.next()?.split_whitespace().collect();
    let values: Vec<&str> = tcp.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some(Snmp {
        active: get("ActiveOpens")?,
        passive: get("PassiveOpens")?,
        attempt_fails: get("AttemptFails")?,
    })
}

/// One load process (soak_load.py) and its stdout lines.
struct Load {
    what: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
}

impl Load {
    fn start(ns: &str, script: &str, args: &[String]) -> Result<Load> {
        // Niced: the loads would otherwise take every CPU from the processes under
        // test, whose ring buffer then overflows for want of a turn to read it.
        let mut argv = vec!["nice", "-n", "10", "python3", "-u", script];
        argv.extend(args.iter().map(String::as_str));
        let what = format!("{} in {ns}", argv[6..].join(" "));
        let mut child = in_ns(ns, &argv)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {what}"))?;
        let stdin = child.stdin.take();
        let out = child.stdout.take().context("load stdout")?;
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let load = Load {
            what,
            child,
            stdin,
            lines,
        };
        load.expect("ready", Duration::from_secs(30))?;
        Ok(load)
    }

    /// The first line starting with `word`.
    fn expect(&self, word: &str, within: Duration) -> Result<String> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(word) => return Ok(line),
                Ok(_) => {}
                Err(_) => bail!("{} printed no `{word}` line", self.what),
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

/// What a finished client load said: cycles, failed connects by errno name.
#[derive(Default, Debug)]
struct Done {
    cycles: u64,
    failed: u64,
    by_errno: Vec<(String, u64)>,
}

fn parse_done(line: &str) -> Option<Done> {
    let mut f = line.split_whitespace();
    if f.next()? != "done" {
        return None;
    }
    let cycles = f.next()?.parse().ok()?;
    let failed = f.next()?.parse().ok()?;
    let by_errno = f
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect();
    Some(Done {
        cycles,
        failed,
        by_errno,
    })
}

/// Per network namespace inode: transitions the stream printed, by (old, new) state.
#[derive(Default, Debug)]
struct StreamCounts {
    per_netns: HashMap<u64, HashMap<(String, String), u64>>,
    lines: u64,
    /// `lost` records, by reason.
    lost: HashMap<String, u64>,
}

/// A string field of a one-line JSON record (`"key":"value"`), without a JSON parser:
/// the stream's values here never hold quotes.
fn str_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let tag = format!("\"{key}\":\"");
    let start = line.find(&tag)? + tag.len();
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

fn num_field(line: &str, key: &str) -> Option<u64> {
    let tag = format!("\"{key}\":");
    let start = line.find(&tag)? + tag.len();
    let digits: String = line[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

fn count_stream(out: impl std::io::Read) -> StreamCounts {
    let mut c = StreamCounts::default();
    for line in BufReader::with_capacity(1 << 20, out).lines() {
        let Ok(line) = line else { break };
        c.lines += 1;
        match str_field(&line, "type") {
            Some("transition") => {
                let (Some(ns), Some(old), Some(new)) = (
                    num_field(&line, "netns"),
                    str_field(&line, "old_state"),
                    str_field(&line, "new_state"),
                ) else {
                    continue;
                };
                *c.per_netns
                    .entry(ns)
                    .or_default()
                    .entry((old.to_string(), new.to_string()))
                    .or_default() += 1;
            }
            Some("lost") => {
                let reason = str_field(&line, "reason").unwrap_or("?").to_string();
                *c.lost.entry(reason).or_default() += num_field(&line, "lost").unwrap_or(0);
            }
            _ => {}
        }
    }
    c
}

/// `netstat --watch --json`, its stdout counted by a thread, its stderr kept.
struct Watch {
    child: Child,
    counter: Option<JoinHandle<StreamCounts>>,
    stderr: Receiver<String>,
    log: Vec<String>,
}

impl Watch {
    fn start(bin: &Path, socket: &Path) -> Result<Watch> {
        let mut child = Command::new(bin)
            .args(["--watch", "--json"])
            .env(SOCKET_ENV, socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting netstat --watch --json")?;
        let out = child.stdout.take().context("watch stdout")?;
        let counter = thread::spawn(move || count_stream(out));
        let err = child.stderr.take().context("watch stderr")?;
        let (tx, stderr) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(err).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut w = Watch {
            child,
            counter: Some(counter),
            stderr,
            log: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match w.stderr.recv_timeout(left) {
                Ok(line) => {
                    let ready = line.ends_with("; ready");
                    w.log.push(line);
                    if ready {
                        return Ok(w);
                    }
                }
                Err(_) => bail!("netstat --watch did not start: {}", w.log.join("\n")),
            }
        }
    }

    /// SIGINT, then its counts and stderr.
    fn stop(mut self) -> Result<(StreamCounts, Vec<String>)> {
        let _ = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("netstat --watch ignored SIGINT for 30 s and was killed");
            }
            thread::sleep(Duration::from_millis(50));
        }
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(1)) {
            self.log.push(line);
        }
        let counts = self
            .counter
            .take()
            .context("counter")?
            .join()
            .map_err(|_| anyhow::anyhow!("the stream counter panicked"))?;
        Ok((counts, std::mem::take(&mut self.log)))
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The agent's metrics as `series -> value` (`name{labels}` exactly as exposed).
fn scrape(addr: &str) -> Result<HashMap<String, f64>> {
    let mut s = TcpStream::connect(addr).with_context(|| format!("metrics at {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok(body
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect())
}

fn metric(m: &HashMap<String, f64>, series: &str) -> u64 {
    m.get(series).copied().unwrap_or(0.0) as u64
}

fn rss_of(pid: u32) -> (u64, u64) {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    (
        status_kib(&status, "VmRSS").unwrap_or(0),
        status_kib(&status, "VmHWM").unwrap_or(0),
    )
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// A namespace of the soak and its loads.
struct Site {
    netns: Netns,
    inode: u64,
    before: Snmp,
}

pub fn bench(root: &Path, bin: &Path, args: &Args) -> Result<()> {
    require_tools(&["python3", "nsenter", "kill", "ip"])?;
    let n = args.namespaces.max(2);
    let script = root.join("xtask/bench/soak_load.py");
    let script = script
        .to_str()
        .context("script path is not UTF-8")?
        .to_owned();
    let socket = std::env::temp_dir().join(format!("netstat-soak-{}.sock", std::process::id()));
    eprintln!(
        "soak: {} s, {n} namespaces, 2 loads each at {} connections/s (0: unpaced)",
        args.seconds, args.rate
    );

    let mut agent = Agent::start_args(bin, &socket, &["--metrics", "127.0.0.1:0"])?;
    let metrics_addr = agent
        .log()
        .iter()
        .find_map(|l| {
            l.split_once("metrics on http://")
                .and_then(|(_, a)| a.strip_suffix("/metrics"))
                .map(str::to_owned)
        })
        .context("the agent announced no metrics address")?;
    let agent_pid = agent.pid().context("agent pid")?;
    let watch = Watch::start(bin, &socket)?;
    let watch_pid = watch.child.id();

    // Namespaces in a ring: namespace i connects to namespace i+1 across veth i.
    let mut sites = Vec::new();
    for i in 0..n {
        let netns = Netns::new(&format!("nssoak{i}"))?;
        let ns = netns.name().to_owned();
        // Client ports: a wide range, and TIME_WAIT ports reused after 1 s (loopback
        // does that by default): the churn must not run out of ports.
        let out = in_ns(
            &ns,
            &[
                "sysctl",
                "-q",
                "-w",
                "net.ipv4.ip_local_port_range=10000 65000",
                "net.ipv4.tcp_tw_reuse=1",
            ],
        )
        .status()?;
        if !out.success() {
            bail!("sysctl in {ns} failed");
        }
        let inode = fs::metadata(format!("/var/run/netns/{ns}"))
            .with_context(|| format!("stat /var/run/netns/{ns}"))?
            .ino();
        sites.push(Site {
            netns,
            inode,
            before: Snmp::default(),
        });
    }
    for i in 0..n {
        let (a, b) = (sites[i].netns.name(), sites[(i + 1) % n].netns.name());
        sites[i].netns.ip(&[
            "link", "add", "sva", "type", "veth", "peer", "name", "svb", "netns", b,
        ])?;
        // The peer arrives as `svb` in b; rename so each namespace has its own names.
        let (ca, cb) = (format!("10.78.{i}.1/24"), format!("10.78.{i}.2/24"));
        let (na, nb) = (format!("c{i}"), format!("s{i}"));
        sites[i].netns.ip(&["link", "set", "sva", "name", &na])?;
        sites[(i + 1) % n]
            .netns
            .ip(&["link", "set", "svb", "name", &nb])?;
        sites[i].netns.ip(&["addr", "add", &ca, "dev", &na])?;
        sites[(i + 1) % n]
            .netns
            .ip(&["addr", "add", &cb, "dev", &nb])?;
        sites[i].netns.ip(&["link", "set", &na, "up"])?;
        sites[(i + 1) % n].netns.ip(&["link", "set", &nb, "up"])?;
        let _ = (a, b);
    }
    let host_before = parse_snmp(&fs::read_to_string("/proc/net/snmp")?).unwrap_or_default();
    for s in &mut sites {
        s.before = snmp(s.netns.name())?;
    }
    let before_metrics = scrape(&metrics_addr)?;

    let secs = args.seconds.to_string();
    let rate = args.rate.to_string();
    let mut servers = Vec::new();
    for i in 0..n {
        // Namespace i+1 serves veth i's far end.
        let addr = format!("10.78.{i}.2");
        let ns = sites[(i + 1) % n].netns.name();
        servers.push(Load::start(
            ns,
            &script,
            &["server".into(), SERVE_PORT.to_string(), addr],
        )?);
    }
    let mut clients = Vec::new();
    let started = Instant::now();
    for (i, s) in sites.iter().enumerate() {
        let ns = s.netns.name();
        clients.push((
            i,
            "loopback",
            Load::start(
                ns,
                &script,
                &[
                    "loop".into(),
                    secs.clone(),
                    LOOP_PORT.to_string(),
                    "127.0.0.1".into(),
                    rate.clone(),
                ],
            )?,
        ));
        clients.push((
            i,
            "veth",
            Load::start(
                ns,
                &script,
                &[
                    "client".into(),
                    secs.clone(),
                    SERVE_PORT.to_string(),
                    format!("10.78.{i}.2"),
                    rate.clone(),
                ],
            )?,
        ));
    }

    eprintln!(
        "{:>6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9} {:>10} {:>10}",
        "t(s)",
        "agentRSS",
        "watchRSS",
        "agentMaps",
        "watchMaps",
        "owners",
        "timewait",
        "trans/s",
        "conn/s"
    );
    let mut peak = Peak::default();
    let mut last_trans = metric(&before_metrics, "netstat_state_transitions_total");
    let mut last_passive = metric(&before_metrics, "netstat_passive_opens_total");
    let mut last_at = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    while Instant::now() < end {
        thread::sleep(SAMPLE_EVERY.min(end.saturating_duration_since(Instant::now())));
        let m = scrape(&metrics_addr)?;
        let (arss, ahwm) = rss_of(agent_pid);
        let (wrss, whwm) = rss_of(watch_pid);
        let amaps = maps_of(agent_pid).map(|m| m.total()).unwrap_or(0);
        let wmaps = maps_of(watch_pid).map(|m| m.total()).unwrap_or(0);
        let owners = metric(&m, "netstat_map_entries{map=\"owners\"}");
        let tw = metric(&m, "netstat_map_entries{map=\"timewait\"}");
        let trans = metric(&m, "netstat_state_transitions_total");
        let passive = metric(&m, "netstat_passive_opens_total");
        let dt = last_at.elapsed().as_secs_f64();
        last_at = Instant::now();
        peak.update(arss, ahwm, wrss, whwm, amaps, wmaps, owners, tw);
        eprintln!(
            "{:>6.0} {:>8}Ki {:>8}Ki {:>8.1}Mi {:>8.1}Mi {:>9} {:>9} {:>10.0} {:>10.0}",
            started.elapsed().as_secs_f64(),
            arss,
            wrss,
            mib(amaps),
            mib(wmaps),
            owners,
            tw,
            (trans - last_trans) as f64 / dt,
            (passive - last_passive) as f64 / dt,
        );
        last_trans = trans;
        last_passive = passive;
    }
    let mut done: HashMap<usize, Vec<(&str, Done)>> = HashMap::new();
    for (i, kind, load) in &clients {
        let line = load.expect("done", Duration::from_secs(120))?;
        let d = parse_done(&line).with_context(|| format!("{}: {line:?}", load.what))?;
        done.entry(*i).or_default().push((kind, d));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut accepted = Vec::new();
    for s in &mut servers {
        drop(s.stdin.take());
        accepted.push(s.expect("accepted", Duration::from_secs(30))?);
    }
    drop(clients);
    drop(servers);
    // Let the last FIN exchanges finish and the stream drain.
    thread::sleep(Duration::from_secs(3));
    let host_after = parse_snmp(&fs::read_to_string("/proc/net/snmp")?).unwrap_or_default();
    let after: Vec<Snmp> = sites
        .iter()
        .map(|s| snmp(s.netns.name()))
        .collect::<Result<_>>()?;
    let last_metrics = scrape(&metrics_addr)?;
    let (arss, ahwm) = rss_of(agent_pid);
    let (wrss, whwm) = rss_of(watch_pid);
    let agent_maps = agent.maps()?;
    let watch_maps = maps_of(watch_pid)?;
    peak.update(
        arss,
        ahwm,
        wrss,
        whwm,
        agent_maps.total(),
        watch_maps.total(),
        0,
        0,
    );
    let (counts, watch_log) = watch.stop()?;
    agent.stop()?;
    let agent_log = agent.log().to_vec();

    // --- the report ---
    println!(
        "\nsoak: {elapsed:.0} s, {n} namespaces (loopback churn in each, plus a veth to the next)"
    );
    println!(
        "memory: agent RSS peak {} KiB (VmHWM {}), last {} KiB; --watch RSS peak {} KiB \
         (VmHWM {}), last {} KiB",
        peak.agent_rss, peak.agent_hwm, arss, peak.watch_rss, peak.watch_hwm, wrss
    );
    println!(
        "BPF maps (memlock, fdinfo): agent peak {:.1} MiB, last {:.1} MiB; --watch peak \
         {:.1} MiB, last {:.1} MiB",
        mib(peak.agent_maps),
        mib(agent_maps.total()),
        mib(peak.watch_maps),
        mib(watch_maps.total())
    );
    for (who, maps) in [("agent", &agent_maps), ("--watch", &watch_maps)] {
        if maps.named {
            let mut named: Vec<_> = maps
                .maps
                .iter()
                .filter_map(|m| Some((m.name.clone()?, m.memlock)))
                .filter(|(_, b)| *b >= 1 << 20)
                .collect();
            named.sort_by_key(|m| std::cmp::Reverse(m.1));
            let shown: Vec<String> = named
                .iter()
                .map(|(n, b)| format!("{n} {:.1} MiB", mib(*b)))
                .collect();
            println!("  {who} maps of 1 MiB or more: {}", shown.join(", "));
        }
    }
    println!(
        "owner map: peak {} live records (capacity {}), {} TIME_WAIT records (capacity {})",
        peak.owners,
        metric(&last_metrics, "netstat_map_capacity{map=\"owners\"}"),
        peak.timewait,
        metric(&last_metrics, "netstat_map_capacity{map=\"timewait\"}")
    );
    let delta = |series: &str| metric(&last_metrics, series) - metric(&before_metrics, series);
    println!(
        "agent counters during the soak: map_full owners {} timewait {} listeners {}; lost \
         no_cookie {} untracked_end {} read_failed {} recursion_miss {}",
        delta("netstat_map_full_total{map=\"owners\"}"),
        delta("netstat_map_full_total{map=\"timewait\"}"),
        delta("netstat_map_full_total{map=\"listeners\"}"),
        delta("netstat_lost_events_total{reason=\"no_cookie\"}"),
        delta("netstat_lost_events_total{reason=\"untracked_end\"}"),
        delta("netstat_lost_events_total{reason=\"read_failed\"}"),
        delta("netstat_lost_events_total{reason=\"recursion_miss\"}"),
    );
    println!(
        "--watch: {} lines; lost records: {:?}; its summary: {}",
        counts.lines,
        counts.lost,
        watch_log.last().map_or("", String::as_str)
    );
    if let Some(l) = agent_log.iter().rev().find(|l| l.contains("agent stopped")) {
        println!("agent: {l}");
    }

    println!(
        "\n{:<16} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>11}",
        "netns", "Active", "SYN_SENT", "connFail", "diff", "Passive", "SYN_RECV", "diff", "conn/s"
    );
    let (mut sum_active, mut sum_passive, mut all_exact) = (0, 0, true);
    let mut short_total = 0i64;
    let stream_lost: u64 = counts.lost.values().sum();
    for (i, s) in sites.iter().enumerate() {
        let active = after[i].active - s.before.active;
        let passive = after[i].passive - s.before.passive;
        sum_active += active;
        sum_passive += passive;
        let t = counts.per_netns.get(&s.inode);
        let get = |o: &str, nw: &str| {
            t.and_then(|m| m.get(&(o.to_string(), nw.to_string())))
                .copied()
                .unwrap_or(0)
        };
        let syn_sent = get("CLOSE", "SYN_SENT");
        let syn_recv = get("LISTEN", "SYN_RECV");
        // connect() calls that failed before a SYN went out (no port: EADDRNOTAVAIL)
        // change state twice without counting as an active open.
        let no_port: u64 = done
            .get(&i)
            .map(|v| {
                v.iter()
                    .flat_map(|(_, d)| d.by_errno.iter())
                    .filter(|(e, _)| e == "EADDRNOTAVAIL")
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0);
        let cycles: u64 = done
            .get(&i)
            .map(|v| v.iter().map(|(_, d)| d.cycles).sum())
            .unwrap_or(0);
        let d_active = syn_sent as i64 - active as i64 - no_port as i64;
        let d_passive = syn_recv as i64 - passive as i64;
        all_exact &= d_active == 0 && d_passive == 0;
        short_total -= d_active.min(0) + d_passive.min(0);
        println!(
            "{:<16} {:>9} {:>9} {:>9} {:>6} {:>9} {:>9} {:>6} {:>11.0}",
            s.inode,
            active,
            syn_sent,
            no_port,
            d_active,
            passive,
            syn_recv,
            d_passive,
            cycles as f64 / elapsed
        );
        if let Some(v) = done.get(&i) {
            for (kind, d) in v {
                if d.failed > 0 {
                    println!("    {kind}: {} failed connects {:?}", d.failed, d.by_errno);
                }
            }
        }
        let fails = after[i].attempt_fails - s.before.attempt_fails;
        if fails > 0 {
            println!("    TcpAttemptFails +{fails} (counted in ActiveOpens too)");
        }
    }
    println!("servers: {}", accepted.join(", "));
    let agent_passive = delta("netstat_passive_opens_total");
    let host_passive = host_after.passive - host_before.passive;
    println!(
        "\nagent: passive opens seen (sock_ops, every namespace) {agent_passive}; the soak's \
         namespaces' TcpPassiveOpens {sum_passive}, the host namespace's {host_passive}; \
         the rest ({}) are other namespaces' connections on this shared machine",
        agent_passive as i64 - sum_passive as i64 - host_passive as i64
    );
    println!(
        "total: TcpActiveOpens {sum_active}, TcpPassiveOpens {sum_passive} in {elapsed:.0} s \
         ({:.0} connections/s)",
        sum_active as f64 / elapsed
    );
    println!(
        "reconciliation per namespace: {}",
        if all_exact {
            "exact (SYN_SENT = ActiveOpens + connects refused a port; SYN_RECV = PassiveOpens)"
                .to_string()
        } else {
            format!(
                "NOT exact: {short_total} transitions missing from the stream, {} \
                 (it reported {stream_lost} changes lost: {:?})",
                if short_total as u64 <= stream_lost {
                    "all covered by its reported losses"
                } else {
                    "MORE than it reported lost"
                },
                counts.lost
            )
        }
    );
    let _ = fs::remove_file(&socket);
    Ok(())
}

#[derive(Default)]
struct Peak {
    agent_rss: u64,
    agent_hwm: u64,
    watch_rss: u64,
    watch_hwm: u64,
    agent_maps: u64,
    watch_maps: u64,
    owners: u64,
    timewait: u64,
}

impl Peak {
    #[allow(clippy::too_many_arguments)] // one sample's figures
    fn update(
        &mut self,
        arss: u64,
        ahwm: u64,
        wrss: u64,
        whwm: u64,
        amaps: u64,
        wmaps: u64,
        owners: u64,
        tw: u64,
    ) {
        self.agent_rss = self.agent_rss.max(arss);
        self.agent_hwm = self.agent_hwm.max(ahwm);
        self.watch_rss = self.watch_rss.max(wrss);
        self.watch_hwm = self.watch_hwm.max(whwm);
        self.agent_maps = self.agent_maps.max(amaps);
        self.watch_maps = self.watch_maps.max(wmaps);
        self.owners = self.owners.max(owners);
        self.timewait = self.timewait.max(tw);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snmp_and_done_lines_parse() {
        let text = "Ip: a b\nIp: 1 2\nTcp: RtoAlgorithm ActiveOpens PassiveOpens AttemptFails\n\
                    Tcp: 1 30 20 2\n";
        let s = parse_snmp(text).unwrap();
        assert_eq!((s.active, s.passive, s.attempt_fails), (30, 20, 2));
        let d = parse_done("done 100 3 EADDRNOTAVAIL=2 ECONNREFUSED=1").unwrap();
        assert_eq!((d.cycles, d.failed, d.by_errno.len()), (100, 3, 2));
        assert!(parse_done("ready").is_none());
        let line = r#"{"type":"transition","netns":4026532246,"old_state":"CLOSE","new_state":"SYN_SENT"}"#;
        let c = count_stream(line.as_bytes());
        assert_eq!(
            c.per_netns[&4026532246][&("CLOSE".into(), "SYN_SENT".into())],
            1
        );
    }
}
