//! Privileged: the agent's Prometheus endpoints (`netstat --agent --metrics`), for the
//! fleet-metrics issue ("a test scrapes the metrics endpoint during a small connection
//! load and checks the counters move and parse as Prometheus text format").
//!
//! Each test starts its own agent on the host with a TCP endpoint on a kernel-chosen
//! loopback port (its ready output names it) and a root-only unix endpoint in a temporary
//! directory, then scrapes them over real HTTP/1.1. Every exposition must pass a strict
//! OpenMetrics parser (the `openmetrics-parser` crate, which passes the OpenMetrics
//! conformance cases) and carry HELP and TYPE for every family; the values are then
//! compared with what the test itself did in a fresh network namespace (helper processes
//! from `tests/scripts/owners.py` with their own process names).
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --release --test metrics
//! -- --test-threads=1`.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    Agent, Script, UNIX_CLIENT, hex, hex_decode, python_as, run_netstat_env, show_output,
};
use netstat_tests::{Netns, TempDir, ours, require_root};
use openmetrics_parser::{OpenMetricsValue, openmetrics::parse_openmetrics};

/// Short connections the load makes (each: 10 state changes, 5 per end).
const CONNECTIONS: usize = 50;
/// Connections held open by a client/server pair while the load runs.
const HELD: usize = 20;
/// How long the agent may take to show the load: its counters are copied every second,
/// its socket gauges every 5 s (with its garbage collection).
const CONVERGE: Duration = Duration::from_secs(20);
/// uid/gid `nobody` on Debian.
const NOBODY: u32 = 65534;
/// What the agent prints for each endpoint before its ready line.
const METRICS_ON: &str = "netstat: agent: metrics on ";

// ---------------------------------------------------------------------------------------------
// HTTP

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
    raw: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses a whole HTTP/1.1 response (the server closes after it).
fn parse_response(raw: &[u8]) -> Result<Response, String> {
    let text = String::from_utf8(raw.to_vec()).map_err(|e| format!("not UTF-8: {e}"))?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {text:?}"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .strip_prefix("HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let headers = lines
        .map(|l| {
            l.split_once(": ")
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .ok_or_else(|| format!("bad header line {l:?}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let r = Response {
        status,
        headers,
        body: body.to_string(),
        raw: text.clone(),
    };
    let length: usize = r
        .header("Content-Length")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("no Content-Length in {head:?}"))?;
    if length != r.body.len() && !(status == 200 && r.body.is_empty()) {
        return Err(format!(
            "Content-Length {length} but {} bytes of body",
            r.body.len()
        ));
    }
    Ok(r)
}

fn exchange(mut s: impl Read + Write, request: &[u8]) -> Result<Response, String> {
    s.write_all(request).map_err(|e| format!("send: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .map_err(|e| format!("receive: {e}"))?;
    parse_response(&raw)
}

fn request(method: &str, path: &str) -> Vec<u8> {
    format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/openmetrics-text\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

fn tcp(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn get_tcp(addr: SocketAddr, method: &str, path: &str) -> Response {
    exchange(tcp(addr), &request(method, path)).unwrap_or_else(|e| panic!("{addr}: {e}"))
}

fn get_unix(path: &Path) -> Response {
    let s = UnixStream::connect(path).unwrap_or_else(|e| panic!("connect {}: {e}", path.display()));
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    exchange(s, &request("GET", "/metrics")).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `GET /metrics` on a unix socket as `uid`: the raw response, or `errno N` when the
/// connection is refused.
fn get_unix_as(uid: u32, path: &Path) -> String {
    let get = hex(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let out = python_as(uid, UNIX_CLIENT, &[path.to_str().unwrap_or_default(), &get]);
    match out.trim().strip_prefix("answer ") {
        Some(answer) => String::from_utf8_lossy(&hex_decode(answer)).into_owned(),
        None => out,
    }
}

// ---------------------------------------------------------------------------------------------
// The exposition

/// A parsed exposition: families (type, help) and every sample's value by
/// `family{label="value",...}` (labels sorted).
#[derive(Debug)]
struct Scrape {
    text: String,
    families: BTreeMap<String, (String, String)>,
    values: BTreeMap<String, f64>,
}

fn series(family: &str, labels: &[(&str, &str)]) -> String {
    let mut l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    l.sort();
    format!("{family}{{{}}}", l.join(","))
}

/// Strict: the OpenMetrics grammar and semantics (the parser), plus `# HELP` and `# TYPE`
/// lines for every family and nothing after `# EOF`.
fn parse(text: &str) -> Result<Scrape, String> {
    let exposition = parse_openmetrics(text).map_err(|e| format!("not OpenMetrics: {e:?}"))?;
    if !text.ends_with("# EOF\n") || text.matches("# EOF").count() != 1 {
        return Err("the exposition does not end with one `# EOF` line".into());
    }
    let mut families = BTreeMap::new();
    let mut values = BTreeMap::new();
    for (name, family) in &exposition.families {
        let kind = format!("{:?}", family.family_type).to_lowercase();
        for line in [format!("# HELP {name} "), format!("# TYPE {name} {kind}\n")] {
            if !text.lines().any(|l| format!("{l}\n").starts_with(&line)) {
                return Err(format!("no `{}` line", line.trim_end()));
            }
        }
        if family.help.trim().is_empty() {
            return Err(format!("{name}: empty HELP"));
        }
        families.insert(name.clone(), (kind, family.help.clone()));
        for sample in family.iter_samples() {
            let set = sample
                .get_labelset()
                .map_err(|e| format!("{name}: {e:?}"))?;
            let labels: Vec<(&str, &str)> =
                set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let value = match &sample.value {
                OpenMetricsValue::Counter(c) => c.value.as_f64(),
                OpenMetricsValue::Gauge(n) => n.as_f64(),
                OpenMetricsValue::Info => 1.0,
                other => return Err(format!("{name}: unexpected value {other:?}")),
            };
            values.insert(series(name, &labels), value);
        }
    }
    Ok(Scrape {
        text: text.to_string(),
        families,
        values,
    })
}

impl Scrape {
    fn get(&self, family: &str, labels: &[(&str, &str)]) -> f64 {
        self.values
            .get(&series(family, labels))
            .copied()
            .unwrap_or(0.0)
    }

    fn has(&self, family: &str, labels: &[(&str, &str)]) -> bool {
        self.values.contains_key(&series(family, labels))
    }
}

fn scrape_ok(r: Response, what: &str) -> Scrape {
    assert_eq!(r.status, 200, "{what}: {}", r.raw);
    let ct = r.header("Content-Type").unwrap_or_default();
    assert!(
        ct.starts_with("application/openmetrics-text; version=1.0.0"),
        "{what}: Content-Type {ct:?}"
    );
    parse(&r.body).unwrap_or_else(|e| panic!("{what}: {e}\n{}", r.body))
}

/// The endpoints the agent announced: the TCP address and the unix socket path.
fn endpoints(agent: &Agent) -> (SocketAddr, PathBuf) {
    let stderr = agent.stderr();
    let mut tcp = None;
    let mut unix = None;
    for line in stderr.lines() {
        let Some(at) = line.strip_prefix(METRICS_ON) else {
            continue;
        };
        if let Some(addr) = at
            .strip_prefix("http://")
            .and_then(|a| a.strip_suffix("/metrics"))
        {
            tcp = addr.parse().ok();
        } else if let Some(rest) = at.strip_prefix("unix:") {
            unix = rest.split(" (").next().map(PathBuf::from);
        }
    }
    match (tcp, unix) {
        (Some(t), Some(u)) => (t, u),
        _ => panic!("the agent did not announce both endpoints; its stderr:\n{stderr}"),
    }
}

fn start_agent(dir: &TempDir) -> (Agent, SocketAddr, PathBuf) {
    let unix = format!("unix:{}", dir.path().join("metrics.sock").display());
    let agent = Agent::start_temp_with_args(&[
        "--metrics",
        "127.0.0.1:0",
        "--metrics",
        &unix,
        "--metrics-owners",
    ]);
    let (tcp, path) = endpoints(&agent);
    (agent, tcp, path)
}

/// Families every endpoint serves, with their types.
const FAMILIES: [(&str, &str); 9] = [
    ("netstat_build", "info"),
    ("netstat_attached", "gauge"),
    ("netstat_sockets", "gauge"),
    ("netstat_tracked_sockets", "gauge"),
    ("netstat_state_transitions", "counter"),
    ("netstat_passive_opens", "counter"),
    ("netstat_map_full", "counter"),
    ("netstat_lost_events", "counter"),
    ("netstat_agent_queries", "counter"),
];

fn addr_of(fields: &[String]) -> String {
    format!("{}:{}", fields[0], fields[1])
}

// ---------------------------------------------------------------------------------------------
// Tests

/// The acceptance test: scrape, make a connection load while helpers hold other
/// connections open, scrape again; counters moved by at least what the load did, gauges
/// show the held sockets (exactly, per owner, on the root-only endpoint), and every
/// exposition is valid OpenMetrics with HELP and TYPE.
#[test]
fn fleet_metrics_move_with_a_connection_load() {
    require_root();
    let dir = TempDir::new("metrics");
    let (agent, tcp_addr, unix_path) = start_agent(&dir);

    let before = scrape_ok(get_tcp(tcp_addr, "GET", "/metrics"), "first scrape");
    for (name, kind) in FAMILIES {
        let got = before.families.get(name).map(|(k, _)| k.as_str());
        assert_eq!(got, Some(kind), "{name}\n{}", before.text);
    }
    assert_eq!(
        before.get(
            "netstat_attached",
            &[("hook", "raw tracepoint inet_sock_set_state")]
        ),
        1.0,
        "{}",
        before.text
    );
    assert!(before.has("netstat_build", &[("version", env!("CARGO_PKG_VERSION"))]));
    let before_owners = scrape_ok(get_unix(&unix_path), "first unix scrape");
    assert_eq!(
        before_owners
            .families
            .get("netstat_socket_owners")
            .map(|(k, _)| k.as_str()),
        Some("gauge"),
        "{}",
        before_owners.text
    );

    // The load: a server that holds what it accepts and a client holding HELD connections,
    // and CONNECTIONS short connections to a server that reads each to EOF and closes.
    let ns = Netns::new();
    let mut hold = Script::start(
        &ns,
        "server",
        &[
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "hold",
            "--quiet",
            "--comm",
            "nst-m-hold",
        ],
    );
    let hold_at = addr_of(&hold.expect("listen"));
    let mut client = Script::start(
        &ns,
        "client",
        &[
            "--connect",
            &hold_at,
            "--count",
            &HELD.to_string(),
            "--comm",
            "nst-m-client",
        ],
    );
    client.expect_n("conn", HELD);
    let mut drain = Script::start(
        &ns,
        "server",
        &[
            "--listen",
            "127.0.0.1:0",
            "--mode",
            "drain",
            "--comm",
            "nst-m-drain",
        ],
    );
    let drain_at = addr_of(&drain.expect("listen"));
    let mut load = Script::start(
        &ns,
        "load",
        &[
            "--connect",
            &drain_at,
            "--src-port-base",
            "30000",
            "--total",
            &CONNECTIONS.to_string(),
            "--window",
            "5",
            "--comm",
            "nst-m-load",
        ],
    );
    let done = load.expect("done");
    assert_eq!(
        done,
        [CONNECTIONS.to_string(), "0".to_string()],
        "{}",
        load.transcript()
    );
    // One query, answered by the agent.
    let listing = run_netstat_env(&ns, &ours(), None, &agent.env(), &["-tanp"]);
    assert!(
        listing.status.success(),
        "{}",
        show_output("netstat -tanp", &listing)
    );

    // What must show, at least (other work on the host only adds to the counters).
    let transitions = |s: &Scrape| {
        s.get("netstat_state_transitions", &[])
            + s.get("netstat_lost_events", &[("reason", "recursion_miss")])
    };
    let min_transitions = (10 * CONNECTIONS + 4 * HELD + 2) as f64;
    let tcp4 = |state: &'static str| [("proto", "tcp"), ("family", "inet"), ("state", state)];
    let owner = |comm: &'static str| [("comm", comm), ("uid", "0")];
    let deadline = Instant::now() + CONVERGE;
    let (after, owners, problems) = loop {
        let after = scrape_ok(
            get_tcp(tcp_addr, "GET", "/metrics"),
            "scrape during the load",
        );
        let owners = scrape_ok(get_unix(&unix_path), "unix scrape during the load");
        let mut problems = Vec::new();
        let mut want = |what: String, ok: bool| {
            if !ok {
                problems.push(what);
            }
        };
        let moved = transitions(&after) - transitions(&before);
        want(
            format!(
                "state transitions (+ recursion misses) moved {moved}, want >= {min_transitions}"
            ),
            moved >= min_transitions,
        );
        let passive =
            after.get("netstat_passive_opens", &[]) - before.get("netstat_passive_opens", &[]);
        want(
            format!(
                "passive opens moved {passive}, want >= {}",
                CONNECTIONS + HELD
            ),
            passive >= (CONNECTIONS + HELD) as f64,
        );
        let answered = [("result", "answered")];
        let queries = after.get("netstat_agent_queries", &answered)
            - before.get("netstat_agent_queries", &answered);
        want(
            format!("answered queries moved {queries}, want >= 1"),
            queries >= 1.0,
        );
        for (state, min) in [
            ("ESTABLISHED", 2 * HELD),
            ("TIME_WAIT", CONNECTIONS),
            ("LISTEN", 2),
        ] {
            let n = after.get("netstat_sockets", &tcp4(state));
            want(
                format!("{state} sockets {n}, want >= {min}"),
                n >= min as f64,
            );
        }
        let tracked = after.get("netstat_tracked_sockets", &[]);
        let min_tracked = 2 * HELD + 2 + CONNECTIONS;
        want(
            format!("tracked sockets {tracked}, want >= {min_tracked}"),
            tracked >= min_tracked as f64,
        );
        // Per owner, exactly: our helpers' names are unique on the host.
        for (comm, n) in [
            ("nst-m-hold", HELD + 1),
            ("nst-m-client", HELD),
            ("nst-m-drain", 1),
            // The load closes first: its ends stay as TIME_WAIT records, still its own.
            ("nst-m-load", CONNECTIONS),
        ] {
            let got = owners.get("netstat_socket_owners", &owner(comm));
            want(
                format!("{comm} holds {got} sockets, want {n}"),
                got == n as f64,
            );
        }
        if problems.is_empty() || Instant::now() >= deadline {
            break (after, owners, problems);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(
        problems.is_empty(),
        "after {CONVERGE:?}:\n  {}\n--- before:\n{}\n--- after (TCP):\n{}\n--- after (unix):\n{}",
        problems.join("\n  "),
        before.text,
        after.text,
        owners.text
    );
    // The TCP endpoint never names a process or a user.
    assert!(
        !after.families.contains_key("netstat_socket_owners"),
        "{}",
        after.text
    );
    assert!(!after.text.contains("nst-m-"), "{}", after.text);
    assert!(!after.text.contains("uid="), "{}", after.text);

    // Closed: the held sockets leave the gauges at the next refresh.
    drop(client);
    hold.send("close-accepted");
    hold.expect("closed-accepted");
    let deadline = Instant::now() + CONVERGE;
    loop {
        let owners = scrape_ok(get_unix(&unix_path), "unix scrape after the close");
        let client_left = owners.get("netstat_socket_owners", &owner("nst-m-client"));
        let hold_left = owners.get("netstat_socket_owners", &owner("nst-m-hold"));
        // The client closed first: its ends wait in TIME_WAIT, still its records.
        if hold_left == 1.0 && client_left == HELD as f64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "after the close: nst-m-hold {hold_left} (want 1), nst-m-client {client_left} \
             (want {HELD} in TIME_WAIT)\n{}",
            owners.text
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    drop((hold, drain, load));
}

/// The security promise: owner series only on the unix endpoint, which is root's (mode
/// 0600 in a root directory) and answers root only even when its mode is loosened; the
/// option is refused without such an endpoint.
#[test]
fn metrics_owner_series_are_root_only() {
    require_root();
    let refused = Command::new(ours())
        .args(["--agent", "--metrics", "127.0.0.1:0", "--metrics-owners"])
        .output()
        .expect("run netstat");
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{text}");
    assert!(
        text.contains("--metrics-owners") && text.contains("unix:PATH"),
        "{text}"
    );
    let alone = Command::new(ours())
        .args(["-tan", "--metrics", "127.0.0.1:0"])
        .output()
        .expect("run netstat");
    assert_eq!(alone.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&alone.stderr).contains("--agent only"));

    let dir = TempDir::new("metrics");
    let (_agent, tcp_addr, unix_path) = start_agent(&dir);
    let meta = std::fs::metadata(&unix_path).expect("the metrics socket");
    assert_eq!(
        (meta.mode() & 0o777, meta.uid()),
        (0o600, 0),
        "{}",
        unix_path.display()
    );
    let root = scrape_ok(get_unix(&unix_path), "root on the unix endpoint");
    assert!(
        root.families.contains_key("netstat_socket_owners"),
        "{}",
        root.text
    );
    let public = scrape_ok(get_tcp(tcp_addr, "GET", "/metrics"), "TCP endpoint");
    assert!(
        !public.families.contains_key("netstat_socket_owners"),
        "{}",
        public.text
    );

    // Another user cannot connect...
    let denied = get_unix_as(NOBODY, &unix_path);
    assert_eq!(denied.trim(), format!("errno {}", libc::EACCES), "{denied}");
    // ...and is refused by uid even when the socket is opened up (its directory is 0755).
    std::fs::set_permissions(&unix_path, std::fs::Permissions::from_mode(0o666)).unwrap();
    let raw = get_unix_as(NOBODY, &unix_path);
    let r = parse_response(raw.as_bytes()).unwrap_or_else(|e| panic!("{e}: {raw:?}"));
    assert_eq!(r.status, 403, "{raw}");
    assert!(!r.body.contains("netstat_"), "{raw}");
}

/// The responder is small and bounded: only GET/HEAD /metrics, heads of at most 8 KiB,
/// and a client that says nothing delays the next scrape by at most its 2 s.
#[test]
fn metrics_http_is_bounded() {
    require_root();
    let dir = TempDir::new("metrics");
    let (_agent, tcp_addr, _) = start_agent(&dir);
    assert_eq!(get_tcp(tcp_addr, "GET", "/").status, 404);
    assert_eq!(get_tcp(tcp_addr, "POST", "/metrics").status, 405);
    let head = get_tcp(tcp_addr, "HEAD", "/metrics");
    assert_eq!((head.status, head.body.as_str()), (200, ""));
    let mut big = b"GET /metrics HTTP/1.1\r\nX: ".to_vec();
    big.resize(9000, b'a');
    let r = exchange(tcp(tcp_addr), &big).expect("oversized request");
    assert_eq!(r.status, 431, "{}", r.raw);

    let silent = tcp(tcp_addr);
    let started = Instant::now();
    let r = get_tcp(tcp_addr, "GET", "/metrics");
    assert_eq!(r.status, 200);
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(5),
        "a silent client held the endpoint {waited:?}"
    );
    drop(silent);
}

/// The checker has teeth: what is not OpenMetrics, or lacks HELP/TYPE or `# EOF`, fails.
#[test]
fn exposition_checker_rejects_what_is_not_openmetrics() {
    let good = "# HELP x_seen Things seen.\n# TYPE x_seen counter\nx_seen_total 3\n# EOF\n";
    let s = parse(good).expect("a valid exposition");
    assert_eq!(s.get("x_seen", &[]), 3.0);
    for bad in [
        // No EOF marker.
        "# HELP x_seen Things seen.\n# TYPE x_seen counter\nx_seen_total 3\n",
        // A counter sample without `_total`.
        "# HELP x_seen Things seen.\n# TYPE x_seen counter\nx_seen 3\n# EOF\n",
        // No HELP.
        "# TYPE x_seen counter\nx_seen_total 3\n# EOF\n",
        // A label value with a raw quote.
        "# HELP x Gauge.\n# TYPE x gauge\nx{comm=\"a\"b\"} 1\n# EOF\n",
        // Two samples of one series.
        "# HELP x Gauge.\n# TYPE x gauge\nx{a=\"1\"} 1\nx{a=\"1\"} 2\n# EOF\n",
        // Lines after EOF.
        "# HELP x Gauge.\n# TYPE x gauge\nx 1\n# EOF\nx 2\n",
    ] {
        assert!(parse(bad).is_err(), "accepted:\n{bad}");
    }
}
