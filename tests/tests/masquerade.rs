//! Privileged: `-M`/`--masquerade` on real NATed connections.
//!
//! net-tools reads `/proc/net/ip_masquerade`, which no kernel since 2.6 has, so it cannot be
//! the oracle for a non-empty table. Here a router namespace masquerades (nftables) the
//! TCP, UDP and ICMP traffic of a client namespace towards a server namespace, and our `-M`
//! in the router is checked row by row against the router's own `/proc/net/nf_conntrack`,
//! read before and after our run: an independent text source of the same table, in which a
//! NATed entry is one whose reply tuple is not the inverse of its original tuple. Where
//! net-tools does answer (conntrack unavailable: no CAP_NET_ADMIN; a `PROC_ROOT` tree without
//! the file) our output is compared with it byte for byte.
//!
//! Needs root, `ip` (iproute2), `nft` (nftables), `python3` and `getent`. Run with the other
//! privileged tests: `cargo test -p netstat-tests -- --test-threads=1`.
use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    thread,
    time::Duration,
};

use netstat_tests::{
    Netns, Output, TempDir, compare_as, diff_outputs, ours, real, require_root, run_in,
    run_netstat_in,
};

// ---------------------------------------------------------------------------------------------
// The lab: client ── router (NAT) ── server

const CLIENT: &str = "192.168.77.2";
const ROUTER_IN: &str = "192.168.77.1";
const ROUTER_OUT: &str = "10.77.0.1";
const SERVER: &str = "10.77.0.2";

/// The router's ruleset: tcp/udp from the client net leave with a port from the old masq
/// range, other protocols (ICMP) masqueraded plainly, and tcp 8888 on the inside forwarded
/// to the server (DNAT, then masqueraded too).
const NAT_RULES: &str = r#"
table ip nat {
    chain post {
        type nat hook postrouting priority srcnat;
        ip saddr 192.168.77.0/24 oifname "out" meta l4proto { tcp, udp } masquerade to :61000-65095
        ip saddr 192.168.77.0/24 oifname "out" masquerade
    }
    chain pre {
        type nat hook prerouting priority dstnat;
        iifname "in" tcp dport 8888 dnat to 10.77.0.2:8080
    }
}
"#;

/// The FTP helper on port 21, whose NAT rewriting of `PORT` makes a sequence adjustment.
const FTP_HELPER_RULES: &str = r#"
table ip helpers {
    ct helper ftp-standard { type "ftp" protocol tcp; }
    chain pre {
        type filter hook prerouting priority filter;
        tcp dport 21 ct helper set "ftp-standard"
    }
}
"#;

struct Lab {
    client: Netns,
    router: Netns,
    server: Netns,
}

impl Lab {
    fn new(rules: &[&str]) -> Lab {
        require_root();
        let lab = Lab {
            client: Netns::new(),
            router: Netns::new(),
            server: Netns::new(),
        };
        let (c, r, s) = (lab.client.name(), lab.router.name(), lab.server.name());
        let steps: [&[&str]; 11] = [
            &[
                "-n", r, "link", "add", "in", "type", "veth", "peer", "name", "eth0", "netns", c,
            ],
            &[
                "-n", r, "link", "add", "out", "type", "veth", "peer", "name", "eth0", "netns", s,
            ],
            &["-n", c, "addr", "add", "192.168.77.2/24", "dev", "eth0"],
            &["-n", r, "addr", "add", "192.168.77.1/24", "dev", "in"],
            &["-n", r, "addr", "add", "10.77.0.1/24", "dev", "out"],
            &["-n", s, "addr", "add", "10.77.0.2/24", "dev", "eth0"],
            &["-n", c, "link", "set", "eth0", "up"],
            &["-n", r, "link", "set", "in", "up"],
            &["-n", r, "link", "set", "out", "up"],
            &["-n", s, "link", "set", "eth0", "up"],
            // The server has no route back to the client net: only NATed traffic works.
            &["-n", c, "route", "add", "default", "via", ROUTER_IN],
        ];
        for step in steps {
            checked(run_cmd(Command::new(ip_bin()).args(step)), "ip", step);
        }
        let sysctl = ["sysctl", "-qw", "net.ipv4.ip_forward=1"];
        checked(
            run_in(&lab.router, "sysctl", &sysctl[1..]),
            "sysctl",
            &sysctl,
        );
        let dir = TempDir::new("nft");
        let file = dir.path().join("rules.nft");
        std::fs::write(&file, rules.concat()).expect("write the nft rules");
        let file = file.to_string_lossy().into_owned();
        checked(
            run_in(&lab.router, nft_bin(), &["-f", &file]),
            "nft",
            &["-f", &file],
        );
        lab
    }
}

fn ip_bin() -> &'static str {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| panic!("`ip` (iproute2) is missing"))
}

fn nft_bin() -> &'static str {
    ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .unwrap_or_else(|| {
            panic!(
                "`nft` is missing: the -M tests make NAT rules with it. Install nftables \
                 (`apt-get install nftables`, or `cargo xtask setup`)"
            )
        })
}

fn run_cmd(cmd: &mut Command) -> Output {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    Output {
        stdout: out.stdout,
        stderr: out.stderr,
        status: out.status,
    }
}

fn checked(out: Output, what: &str, args: &[&str]) -> Output {
    assert!(
        out.status.success(),
        "{what} {args:?} failed ({:?}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

// ---------------------------------------------------------------------------------------------
// Traffic: python3 processes that hold their sockets until their stdin closes

/// A process in a namespace, killed when dropped (its namespace's drop would too).
struct Held {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Held {
    /// Starts `python3 -c script args` in `ns` and waits until it prints `ready`.
    fn start(ns: &Netns, script: &str, args: &[&str]) -> Held {
        let mut child = Command::new(ip_bin())
            .args(["netns", "exec", ns.name(), "python3", "-c", script])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start python3 in {}: {e}", ns.name()));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut held = Held {
            child,
            stdin,
            lines,
        };
        held.wait_for("ready");
        held
    }

    /// Lines until one equal to `what` (or starting with `what=`, returned), at most 20 s.
    fn wait_for(&mut self, what: &str) -> String {
        loop {
            match self.lines.recv_timeout(Duration::from_secs(20)) {
                Ok(line) if line == what => return line,
                Ok(line) if line.starts_with(&format!("{what}=")) => return line,
                Ok(_) => {}
                Err(e) => {
                    let _ = self.child.kill();
                    panic!("a traffic helper did not print {what:?}: {e}");
                }
            }
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Server: accepts tcp 8080 for ever and answers udp 5353, until stdin closes.
const SERVER_PY: &str = r#"
import signal, socket, sys, threading
signal.alarm(120)
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 8080)); t.listen(16)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", 5353))
held = []
def accept():
    while True:
        held.append(t.accept()[0])
def answer():
    while True:
        data, peer = u.recvfrom(100); u.sendto(b"pong", peer)
threading.Thread(target=accept, daemon=True).start()
threading.Thread(target=answer, daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"#;

/// Client: two tcp connections to the server, one through the router's port forward, a udp
/// exchange and an ICMP echo (id 0x1234), all answered before it says ready.
const CLIENT_PY: &str = r#"
import signal, socket, struct, sys
signal.alarm(120)
held = [socket.create_connection(a, timeout=10)
        for a in (("10.77.0.2", 8080), ("10.77.0.2", 8080), ("192.168.77.1", 8888))]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.settimeout(10)
u.sendto(b"ping", ("10.77.0.2", 5353)); u.recv(10); held.append(u)
def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
echo = struct.pack("!BBHHH", 8, 0, 0, 0x1234, 1) + b"masq"
echo = echo[:2] + struct.pack("!H", checksum(echo)) + echo[4:]
r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); r.settimeout(10)
r.sendto(echo, ("10.77.0.2", 0))
while True:
    data = r.recv(200)
    ihl = (data[0] & 15) * 4
    if data[ihl] == 0 and data[ihl + 4:ihl + 6] == b"\x12\x34":
        break
print("ready", flush=True)
sys.stdin.read()
"#;

/// The router's own connection to the server: tracked, but not NATed.
const LOCAL_PY: &str = r#"
import signal, socket, sys
signal.alarm(120)
s = socket.create_connection(("10.77.0.2", 8080), timeout=10)
print("ready", flush=True)
sys.stdin.read()
"#;

/// FTP server on 21: greets, answers two commands, prints what the second one was.
const FTP_SERVER_PY: &str = r#"
import signal, socket, sys
signal.alarm(120)
t = socket.socket()
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("0.0.0.0", 21)); t.listen(4)
print("ready", flush=True)
c, _ = t.accept()
c.sendall(b"220 hello\r\n"); c.recv(100)
c.sendall(b"331 password\r\n")
port = c.recv(100)
print("got=" + port.decode().strip(), flush=True)
c.sendall(b"200 ok\r\n")
sys.stdin.read()
"#;

/// FTP client: USER, then `PORT` with its own address (which the router's helper rewrites).
/// Prints the sequence number of the PORT command's first byte (TCP_REPAIR's send queue
/// sequence), which is the adjustment's correction position.
const FTP_CLIENT_PY: &str = r#"
import signal, socket, sys
signal.alarm(120)
s = socket.create_connection(("10.77.0.2", 21), timeout=10)
s.recv(100); s.sendall(b"USER masq\r\n"); s.recv(100)
TCP = socket.IPPROTO_TCP
TCP_REPAIR, TCP_REPAIR_QUEUE, TCP_QUEUE_SEQ, TCP_SEND_QUEUE, TCP_REPAIR_OFF_NO_WP = 19, 20, 21, 2, -1
s.setsockopt(TCP, TCP_REPAIR, 1)
s.setsockopt(TCP, TCP_REPAIR_QUEUE, TCP_SEND_QUEUE)
seq = s.getsockopt(TCP, TCP_QUEUE_SEQ) & 0xffffffff
s.setsockopt(TCP, TCP_REPAIR, TCP_REPAIR_OFF_NO_WP)
s.sendall(b"PORT 192,168,77,2,200,10\r\n"); s.recv(100)
print("ready", flush=True)
print("seq=%d" % seq, flush=True)
sys.stdin.read()
"#;

// ---------------------------------------------------------------------------------------------
// The oracle: /proc/net/nf_conntrack

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Tuple {
    src: String,
    dst: String,
    sport: u16,
    dport: u16,
    /// ICMP
    kind: u8,
    code: u8,
    id: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct ProcEntry {
    proto: String,
    seconds: u64,
    orig: Tuple,
    reply: Tuple,
}

/// `ipv4 2 tcp 6 431999 ESTABLISHED src=… dst=… sport=… dport=… src=… … [ASSURED] mark=0 …`
fn parse_nf_conntrack(text: &str) -> Vec<ProcEntry> {
    let mut entries = Vec::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.first() != Some(&"ipv4") || words.len() < 6 {
            continue;
        }
        let seconds = words[4].parse().expect("timeout column");
        let mut tuples = [Tuple::default(), Tuple::default()];
        let mut which = None::<usize>;
        for w in &words[5..] {
            let Some((key, value)) = w.split_once('=') else {
                continue;
            };
            if key == "src" {
                which = Some(which.map_or(0, |_| 1));
            }
            let Some(t) = which.map(|i| &mut tuples[i]) else {
                continue;
            };
            let num = || value.parse().unwrap_or_else(|_| panic!("{w} in {line}"));
            match key {
                "src" => t.src = value.to_string(),
                "dst" => t.dst = value.to_string(),
                "sport" => t.sport = num(),
                "dport" => t.dport = num(),
                "type" => t.kind = num() as u8,
                "code" => t.code = num() as u8,
                "id" => t.id = num(),
                _ => {}
            }
        }
        let [orig, reply] = tuples;
        entries.push(ProcEntry {
            proto: words[2].to_string(),
            seconds,
            orig,
            reply,
        });
    }
    entries
}

impl ProcEntry {
    /// The kernel sets IPS_SRC_NAT/IPS_DST_NAT exactly when a NAT rule changed the reply
    /// tuple away from the inverse of the original one.
    fn is_nat(&self) -> bool {
        let (o, r) = (&self.orig, &self.reply);
        r.src != o.dst || r.dst != o.src || r.sport != o.dport || r.dport != o.sport || r.id != o.id
    }

    /// (sport, dport, mport) in net-tools' columns: ICMP shows the id, `type << 8 | code`
    /// and the id the outside sees.
    fn ports(&self) -> (u16, u16, u16) {
        if self.proto == "icmp" {
            let type_code = u16::from(self.orig.kind) << 8 | u16::from(self.orig.code);
            (self.orig.id, type_code, self.reply.id)
        } else {
            (self.orig.sport, self.orig.dport, self.reply.dport)
        }
    }

    /// The row without its expiry, as [`split_row`] keys ours.
    fn key(&self, names: &Names, extend: bool) -> (String, String) {
        let (sport, dport, mport) = self.ports();
        let port = |p: u16| names.service(p, &self.proto);
        let mut rest = String::new();
        if extend {
            rest.push_str(&format!("{:>10} {:>5} {:>5} ", 0, 0, 0));
        }
        rest.push_str(&format!(
            "{:<20} {:<20} {} -> {} ({})",
            names.host(&self.orig.src),
            names.host(&self.orig.dst),
            port(sport),
            port(dport),
            port(mport)
        ));
        (self.proto.clone(), rest)
    }
}

/// Expected names: numeric, or what glibc's `getent` says in the router namespace.
struct Names {
    hosts: BTreeMap<String, String>,
    services: BTreeMap<(u16, String), String>,
}

impl Names {
    fn numeric() -> Names {
        Names {
            hosts: BTreeMap::new(),
            services: BTreeMap::new(),
        }
    }

    /// Looks up every address and port of `entries` with `getent hosts` / `getent services`.
    fn getent(ns: &Netns, entries: &[ProcEntry], hosts: bool, services: bool) -> Names {
        let mut names = Names::numeric();
        for e in entries {
            if hosts {
                for a in [&e.orig.src, &e.orig.dst] {
                    let out = run_in(ns, "getent", &["hosts", a]);
                    let text = String::from_utf8_lossy(&out.stdout);
                    if let (true, Some(name)) = (
                        out.status.success(),
                        text.split_whitespace().nth(1).map(str::to_string),
                    ) {
                        names.hosts.insert(a.clone(), name);
                    }
                }
            }
            if services && matches!(e.proto.as_str(), "tcp" | "udp") {
                let (s, d, m) = e.ports();
                for p in [s, d, m] {
                    let spec = format!("{p}/{}", e.proto);
                    let out = run_in(ns, "getent", &["services", &spec]);
                    let text = String::from_utf8_lossy(&out.stdout);
                    if let (true, Some(name)) = (
                        out.status.success(),
                        text.split_whitespace().next().map(str::to_string),
                    ) {
                        names.services.insert((p, e.proto.clone()), name);
                    }
                }
            }
        }
        names
    }

    fn host(&self, a: &str) -> String {
        self.hosts.get(a).cloned().unwrap_or_else(|| a.to_string())
    }

    fn service(&self, p: u16, proto: &str) -> String {
        if p == 0 {
            return "*".into();
        }
        self.services
            .get(&(p, proto.to_string()))
            .cloned()
            .unwrap_or_else(|| p.to_string())
    }
}

fn nf_conntrack(ns: &Netns) -> Vec<ProcEntry> {
    let out = checked(
        run_in(ns, "cat", &["/proc/net/nf_conntrack"]),
        "cat",
        &["/proc/net/nf_conntrack"],
    );
    parse_nf_conntrack(&String::from_utf8_lossy(&out.stdout))
}

/// One of our rows → (proto, the row after the expiry), and the expiry in hundredths.
/// The row is `%-4s%3ld:%02ld.%02ld ` then the rest.
fn split_row(row: &str) -> ((String, String), u64) {
    let colon = row
        .find(':')
        .unwrap_or_else(|| panic!("no expiry in {row:?}"));
    let head = &row[..colon];
    let digits = head.len() - head.bytes().rev().take_while(u8::is_ascii_digit).count();
    let proto = head[..digits].trim_end().to_string();
    let minutes: u64 = head[digits..].parse().expect("minutes");
    let tail = &row[colon + 1..];
    let (clock, rest) = tail.split_once(' ').expect("space after the expiry");
    let (seconds, hundredths) = clock.split_once('.').expect("seconds.hundredths");
    let seconds: u64 = seconds.parse().expect("seconds");
    let hundredths: u64 = hundredths.parse().expect("hundredths");
    assert_eq!(
        hundredths, 0,
        "conntrack timeouts are whole seconds: {row:?}"
    );
    assert_eq!(clock.len(), 5, "seconds and hundredths are %02ld: {row:?}");
    (
        (proto, rest.to_string()),
        (minutes * 60 + seconds) * 100 + hundredths,
    )
}

/// Runs ours with `args` (which give `-e` if `extend`) in the router and checks every row against the conntrack table read
/// just before and just after: the same NAT entries, each expiry between the two reads.
/// Returns our rows.
fn check_against_conntrack(lab: &Lab, args: &[&str], extend: bool, names: &Names) -> Vec<String> {
    let before = nf_conntrack(&lab.router);
    let run = run_netstat_in(&lab.router, &ours(), None, args);
    let after = nf_conntrack(&lab.router);
    assert_eq!(
        run.code(),
        Some(0),
        "netstat {args:?}: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        run.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8(run.stdout).expect("utf-8 output");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("IP masquerading entries"), "{text}");
    let header = if extend {
        "prot   expire    initseq delta prevd source               destination          ports"
    } else {
        "prot   expire source               destination          ports"
    };
    assert_eq!(lines.next(), Some(header), "{text}");
    let rows: Vec<String> = lines.map(str::to_string).collect();

    let mut expected: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for e in before.iter().filter(|e| e.is_nat()) {
        let key = e.key(names, extend);
        let low = after
            .iter()
            .find(|a| a.orig == e.orig && a.reply == e.reply)
            .map_or(0, |a| a.seconds);
        expected.insert(key, (low * 100, e.seconds * 100));
    }
    let mut got: BTreeMap<(String, String), u64> = BTreeMap::new();
    for row in &rows {
        let (key, expires) = split_row(row);
        assert!(got.insert(key, expires).is_none(), "duplicate row {row:?}");
    }
    let expected_keys: Vec<_> = expected.keys().collect();
    let got_keys: Vec<_> = got.keys().collect();
    assert_eq!(
        got_keys, expected_keys,
        "netstat {args:?} rows differ from the NAT entries of /proc/net/nf_conntrack\n\
         ours:\n{text}\nnf_conntrack before:\n{before:#?}"
    );
    for (key, expires) in &got {
        let (low, high) = expected[key];
        assert!(
            (low..=high).contains(expires),
            "expiry {expires} of {key:?} not within the conntrack timeouts {low}..={high}"
        );
    }
    rows
}

/// The lab with its traffic running; the held processes end when dropped.
fn nat_lab_with_traffic() -> (Lab, Vec<Held>) {
    let lab = Lab::new(&[NAT_RULES]);
    let server = Held::start(&lab.server, SERVER_PY, &[]);
    let client = Held::start(&lab.client, CLIENT_PY, &[]);
    let local = Held::start(&lab.router, LOCAL_PY, &[]);
    (lab, vec![local, client, server])
}

// ---------------------------------------------------------------------------------------------
// Tests

/// `-Mn` and `-Mne` list exactly the NATed entries: tcp (masqueraded, and port-forwarded then
/// masqueraded), udp and icmp, and not the router's own un-NATed connection.
#[test]
fn numeric_rows_match_the_nat_entries_of_conntrack() {
    let (lab, _held) = nat_lab_with_traffic();
    let table = nf_conntrack(&lab.router);
    // The lab did what it should: the oracle has what the test is about.
    let nat: Vec<&ProcEntry> = table.iter().filter(|e| e.is_nat()).collect();
    let count = |p: &str| nat.iter().filter(|e| e.proto == p).count();
    assert_eq!(
        (count("tcp"), count("udp"), count("icmp")),
        (3, 1, 1),
        "{table:#?}"
    );
    assert!(
        table
            .iter()
            .any(|e| !e.is_nat() && e.orig.src == ROUTER_OUT && e.orig.dst == SERVER),
        "the router's own connection is tracked: {table:#?}"
    );
    assert!(
        nat.iter()
            .any(|e| e.orig.dst == ROUTER_IN && e.reply.src == SERVER),
        "the port forward is tracked: {table:#?}"
    );
    assert!(nat.iter().all(|e| e.orig.src == CLIENT));

    let rows = check_against_conntrack(&lab, &["-M", "-n"], false, &Names::numeric());
    assert_eq!(rows.len(), 5);
    // The masquerading ports come from the rule's range.
    for row in rows
        .iter()
        .filter(|r| r.starts_with("tcp") || r.starts_with("udp"))
    {
        let mport: u16 = row
            .rsplit_once('(')
            .and_then(|(_, m)| m.strip_suffix(')'))
            .and_then(|m| m.parse().ok())
            .unwrap_or_else(|| panic!("no masq port in {row:?}"));
        assert!((61000..=65095).contains(&mport), "{row}");
    }
    let icmp = rows
        .iter()
        .find(|r| r.starts_with("icmp"))
        .expect("icmp row");
    assert!(icmp.contains(" 4660 -> 2048 ("), "{icmp}");

    check_against_conntrack(&lab, &["-Mne"], true, &Names::numeric());
    check_against_conntrack(
        &lab,
        &["--masquerade", "--numeric", "-ee"],
        true,
        &Names::numeric(),
    );
}

/// Without `-n`: host names as glibc gives them (`getent hosts`), service names of tcp and
/// udp ports from /etc/services; `--numeric-hosts` and `--numeric-ports` one at a time.
#[test]
fn names_follow_hosts_and_services() {
    let (lab, _held) = nat_lab_with_traffic();
    let table = nf_conntrack(&lab.router);
    let nat: Vec<ProcEntry> = table.into_iter().filter(ProcEntry::is_nat).collect();
    let both = Names::getent(&lab.router, &nat, true, true);
    let rows = check_against_conntrack(&lab, &["-M"], false, &both);
    // /etc/services of Debian names both server ports.
    if both.services.contains_key(&(8080, "tcp".to_string())) {
        assert!(
            rows.iter().any(|r| r.contains(" -> http-alt (")),
            "{rows:#?}"
        );
    }
    let services = Names::getent(&lab.router, &nat, false, true);
    check_against_conntrack(&lab, &["-M", "--numeric-hosts"], false, &services);
    let hosts = Names::getent(&lab.router, &nat, true, false);
    check_against_conntrack(&lab, &["-M", "--numeric-ports", "-e"], true, &hosts);
}

/// With the FTP helper, NAT rewrites the client's `PORT` command and conntrack keeps a
/// sequence adjustment: `-e` shows its correction position and delta.
#[test]
fn ftp_helper_sequence_adjustment_shows_with_e() {
    let lab = Lab::new(&[NAT_RULES, FTP_HELPER_RULES]);
    let mut server = Held::start(&lab.server, FTP_SERVER_PY, &[]);
    let mut client = Held::start(&lab.client, FTP_CLIENT_PY, &[]);
    let got = server.wait_for("got");
    let seq = client.wait_for("seq");
    let sent = "PORT 192,168,77,2,200,10";
    let received = got.trim_start_matches("got=");
    assert_ne!(received, sent, "the FTP helper did not rewrite PORT");
    assert!(received.starts_with("PORT 10,77,0,1,"), "{received}");
    let delta = received.len() as i64 - sent.len() as i64;
    let seq: u64 = seq.trim_start_matches("seq=").parse().expect("seq");

    let run = run_netstat_in(&lab.router, &ours(), None, &["-Mne"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let row = text
        .lines()
        .find(|l| l.contains(" -> 21 ("))
        .unwrap_or_else(|| panic!("no ftp row in\n{text}"));
    // `%10lu %5hd %5hd `: correction position, offset after, offset before.
    let columns = format!("{seq:>10} {delta:>5} {:>5} {CLIENT:<20} {SERVER:<20} ", 0);
    assert!(row.contains(&columns), "{row:?} lacks {columns:?}");
    drop((client, server));
}

/// A namespace with conntrack but no NAT: an empty table prints nothing, exit 0 (net-tools
/// would say it has no support, which is not true of this kernel).
#[test]
fn no_nat_entries_print_nothing() {
    let ns = Netns::new();
    for args in [&["-M"][..], &["-Mne"], &["-M", "-v"]] {
        let run = run_netstat_in(&ns, &ours(), None, args);
        assert_eq!(
            (run.code(), run.stdout.as_slice(), run.stderr.as_slice()),
            (Some(0), &b""[..], &b""[..]),
            "{args:?}: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
}

/// Without CAP_NET_ADMIN conntrack cannot be read: net-tools' message and exit code, byte
/// for byte (net-tools gives them for its missing file).
#[test]
fn without_cap_net_admin_matches_net_tools() {
    let (lab, _held) = nat_lab_with_traffic();
    for args in [&["-M"][..], &["-Mne"], &["--masquerade", "-n"]] {
        compare_as(&lab.router, Some(65534), args);
    }
    // -v adds the reason on a line of its own.
    let run = run_netstat_in(&lab.router, &ours(), Some(65534), &["-M", "-v"]);
    assert_eq!(run.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        "netstat: no support for `ip_masquerade' on this system.\n\
         netstat: conntrack: reading the table needs CAP_NET_ADMIN: Operation not permitted\n"
    );
    assert!(run.stdout.is_empty());
}

// ---- PROC_ROOT: the recorded-file seam (no netlink; net-tools' own reading of the file)

fn run_with_proc_root(bin: &Path, proc_root: &Path, args: &[&str]) -> Output {
    run_cmd(
        Command::new(bin)
            .args(args)
            .env("PROC_ROOT", proc_root)
            .env("LC_ALL", "C"),
    )
}

/// A tree without `net/ip_masquerade` is what every kernel since 2.6 gives net-tools.
#[test]
fn proc_root_without_the_file_matches_net_tools() {
    let dir = TempDir::new("masq");
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("net")).expect("mkdir");
    for args in [&["-M"][..], &["-Mne"]] {
        let real_run = run_with_proc_root(&real(), &proc, args);
        let ours_run = run_with_proc_root(&ours(), &proc, args);
        if let Err(report) = diff_outputs(&real_run, &ours_run) {
            panic!("netstat {args:?} with PROC_ROOT:\n{report}");
        }
        assert_eq!(ours_run.code(), Some(1));
    }
}

/// The format Linux 2.4 wrote from conntrack, replayed exactly as net-tools would print it.
#[test]
fn proc_root_replays_a_linux_24_file() {
    let dir = TempDir::new("masq");
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(proc.join("net")).expect("mkdir");
    let line = |s: &str| format!("{s:<127}\n");
    let file = [
        line("Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)"),
        line("TCP C0A84D02:C9E4 0A4D0002:1F90 EE49 00000000      0      0 43199900"),
        line("UDP C0A84D02:D4FF 0A4D0002:14E9 F7E1 00000000      0      0    2900"),
        line("ICMP C0A84D02:1234 0A4D0002:0800 1234 00000000      0      0    2900"),
    ]
    .concat();
    std::fs::write(proc.join("net/ip_masquerade"), file).expect("write");
    let run = run_with_proc_root(&ours(), &proc, &["-M", "-n"]);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        "IP masquerading entries\n\
         prot   expire source               destination          ports\n\
         tcp 7199:59.00 192.168.77.2         10.77.0.2            51684 -> 8080 (61001)\n\
         udp   0:29.00 192.168.77.2         10.77.0.2            54527 -> 5353 (63457)\n\
         icmp  0:29.00 192.168.77.2         10.77.0.2            4660 -> 2048 (4660)\n"
    );
    assert_eq!((run.code(), run.stderr.len()), (Some(0), 0));
    let run = run_with_proc_root(&ours(), &proc, &["-M", "-n", "-e"]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(
        text.contains(
            "\nudp   0:29.00          0     0     0 192.168.77.2         10.77.0.2            \
             54527 -> 5353 (63457)\n"
        ),
        "{text}"
    );
    // -c repeats the table every second until killed.
    let mut child = Command::new(ours())
        .args(["-M", "-n", "-c"])
        .env("PROC_ROOT", &proc)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    thread::sleep(Duration::from_millis(1500));
    let _ = child.kill();
    let out = child.wait_with_output().expect("wait");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text.matches("IP masquerading entries\n").count(),
        2,
        "{text}"
    );
}

/// Unreadable or broken files: net-tools' messages (perror of the path, its internal errors)
/// and its exit code 255.
#[test]
fn proc_root_bad_files_get_net_tools_errors() {
    let dir = TempDir::new("masq");
    let proc = dir.path().join("proc");
    std::fs::create_dir_all(&proc).expect("mkdir");
    // proc/net is a file: open() fails with ENOTDIR.
    std::fs::write(proc.join("net"), "").expect("write");
    let run = run_with_proc_root(&ours(), &proc, &["-M"]);
    let path = proc.join("net/ip_masquerade");
    assert_eq!(
        String::from_utf8_lossy(&run.stderr),
        format!("{}: Not a directory\n", path.display())
    );
    assert_eq!((run.code(), run.stdout.len()), (Some(255), 0));

    std::fs::remove_file(proc.join("net")).expect("rm");
    std::fs::create_dir_all(proc.join("net")).expect("mkdir");
    let cases: [(&[u8], &str); 3] = [
        (b"", "masq_info: Internal Error `fgets() failed'.\n"),
        (
            b"PDelta\nTCP 0A000001:0050 0A000002\n",
            "masq_info.c: Internal Error `ip_masquerade format error'.\n",
        ),
        (
            b"PDelta\nSCTP 0A000001:0050 0A000002:0051 0 0 0 0 0\n",
            "masq_info.c: Internal Error `ip_masquerade unknown type'.\n",
        ),
    ];
    for (content, message) in cases {
        std::fs::write(&path, content).expect("write");
        let run = run_with_proc_root(&ours(), &proc, &["-M"]);
        assert_eq!(String::from_utf8_lossy(&run.stderr), message);
        assert_eq!((run.code(), run.stdout.len()), (Some(255), 0));
    }
}
