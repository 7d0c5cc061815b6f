//! `-i`: our netstat against net-tools' netstat, line for line, in a namespace with
//! interfaces of every kind the kernel here offers:
//!
//! * `veth0` to a peer namespace (the harness's pair, IPv4 + IPv6) and a second veth pair
//!   whose local end has a 15-byte name (`abcdefghijklmno`, the longest Linux allows:
//!   net-tools' Debian `get_name()` gives it all-zero counters however much it moved);
//!   UDP traffic crosses both, and loopback, so counters are not all zero;
//! * "dummy" interfaces `d2`, `d10` (natural order: d2 before d10), a 14-byte name, one
//!   left down with an address, an IPv4 alias label `d2:1` (listed, like net-tools,
//!   through `SIOCGIFCONF`, with "no statistics available"); MTU, txqueuelen,
//!   promiscuous and all-multicast changes. This kernel has no `dummy` driver, so `ifb`
//!   stands in for it when `dummy` is missing (both are plain Ethernet-type devices);
//! * a point-to-point `tun0` with a peer address (left down: only `-a` shows it) and a
//!   bridge.
//!
//! The counters must hold still between the runs of the two tools: IPv6 router
//! solicitations are switched off, then the test waits until `/proc/net/dev` stops
//! changing (MLD reports and DAD end within seconds). Each comparison runs the real
//! netstat before and after ours; if those two differ the namespace moved, and the
//! comparison is retried after settling again, so no counter is ever masked.
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --test interfaces --
//! --test-threads=1`.
use std::{
    collections::BTreeSet,
    process::{Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use netstat_tests::{
    Netns, Output, RowOrder, Veth, diff_outputs_with, ours, real, run_in, run_netstat_in,
    split_lines,
};

/// How long the namespace may take to stand still, and how still is still.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
const STILL_FOR: Duration = Duration::from_millis(1500);
/// Comparisons retried when the real netstat disagrees with itself.
const ATTEMPTS: usize = 4;

/// `ip ARGS`, panicking with its stderr on failure.
fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip {}: {e}", args.join(" ")));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `ip -n NS ARGS`.
fn ip_in(ns: &Netns, args: &[&str]) {
    let mut all = vec!["-n", ns.name()];
    all.extend_from_slice(args);
    ip(&all);
}

/// A shell command inside `ns`, which must succeed.
fn sh_in(ns: &Netns, script: &str) {
    let out = run_in(ns, "sh", &["-c", script]);
    assert!(
        out.status.success(),
        "`{script}` in {} failed: {}",
        ns.name(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// No IPv6 router solicitations from devices made from now on (they repeat for ever with
/// a growing interval and would move the counters between two runs).
fn quiet_defaults(ns: &Netns) {
    sh_in(
        ns,
        "echo 0 > /proc/sys/net/ipv6/conf/default/router_solicitations; \
         echo 0 > /proc/sys/net/ipv6/conf/all/router_solicitations",
    );
}

/// The same for a device that exists already.
fn quiet_device(ns: &Netns, dev: &str) {
    sh_in(
        ns,
        &format!("echo 0 > /proc/sys/net/ipv6/conf/{dev}/router_solicitations"),
    );
}

/// Waits until `/proc/net/dev` in `ns` (and in `others`) stays the same for
/// [`STILL_FOR`]; panics after [`SETTLE_LIMIT`].
fn settle(nss: &[&Netns]) {
    let snapshot = || -> Vec<Vec<u8>> {
        nss.iter()
            .map(|ns| run_in(ns, "cat", &["/proc/net/dev"]).stdout)
            .collect()
    };
    let deadline = Instant::now() + SETTLE_LIMIT;
    let mut last = snapshot();
    let mut since = Instant::now();
    loop {
        thread::sleep(Duration::from_millis(250));
        let now = snapshot();
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= STILL_FOR {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the interface counters kept moving for {SETTLE_LIMIT:?}"
        );
    }
}

/// A "dummy" interface: `dummy` where the kernel has it, else `ifb` (see module docs).
fn add_dummy(ns: &Netns, name: &str) {
    let dummy = Command::new("ip")
        .args(["-n", ns.name(), "link", "add", name, "type", "dummy"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !dummy {
        ip_in(ns, &["link", "add", name, "type", "ifb"]);
    }
}

/// The namespace every comparison below runs in, and its peer.
struct Scene {
    ns: Netns,
    peer: Netns,
    veth: Veth,
}

fn scene() -> Scene {
    let ns = Netns::new();
    quiet_defaults(&ns);
    let (peer, veth) = ns.veth_peer();
    quiet_defaults(&peer);
    quiet_device(&ns, "veth0");
    quiet_device(&peer, "veth0");
    let n = veth.local_v4.octets()[2].to_string();

    // A second pair whose local end has a 15-byte name.
    let long = "abcdefghijklmno";
    ip_in(
        &ns,
        &[
            "link",
            "add",
            long,
            "type",
            "veth",
            "peer",
            "name",
            "p15",
            "netns",
            peer.name(),
        ],
    );
    ip_in(
        &ns,
        &[
            "addr",
            "add",
            &format!("10.201.{n}.1/24"),
            "brd",
            "+",
            "dev",
            long,
        ],
    );
    ip_in(
        &peer,
        &["addr", "add", &format!("10.201.{n}.2/24"), "dev", "p15"],
    );
    ip_in(&ns, &["link", "set", long, "up"]);
    ip_in(&peer, &["link", "set", "p15", "up"]);

    add_dummy(&ns, "abcdefghijklmn");
    ip_in(&ns, &["link", "set", "abcdefghijklmn", "up"]);
    add_dummy(&ns, "d10");
    add_dummy(&ns, "d2");
    ip_in(
        &ns,
        &["addr", "add", "192.168.2.1/24", "brd", "+", "dev", "d2"],
    );
    ip_in(
        &ns,
        &[
            "addr",
            "add",
            "192.168.3.1/24",
            "dev",
            "d2",
            "label",
            "d2:1",
        ],
    );
    ip_in(&ns, &["link", "set", "d2", "mtu", "9000", "up"]);
    ip_in(
        &ns,
        &["-6", "addr", "add", "fd00:10::1/64", "dev", "d10", "nodad"],
    );
    ip_in(&ns, &["link", "set", "d10", "txqueuelen", "0"]);
    ip_in(&ns, &["link", "set", "d10", "promisc", "on", "up"]);
    add_dummy(&ns, "down0");
    ip_in(&ns, &["addr", "add", "10.77.0.1/16", "dev", "down0"]);
    ip_in(&ns, &["tuntap", "add", "mode", "tun", "name", "tun0"]);
    ip_in(
        &ns,
        &["addr", "add", "10.1.1.1", "peer", "10.1.1.2", "dev", "tun0"],
    );
    ip_in(&ns, &["link", "add", "br0", "type", "bridge"]);
    ip_in(&ns, &["link", "set", "br0", "allmulticast", "on", "up"]);

    // Traffic over both pairs and loopback, a bounded number of datagrams each. The peers
    // answer with ICMP port unreachable, so both directions count.
    let peer15 = format!("10.201.{n}.2");
    let script = format!(
        "for i in 1 2 3 4 5 6 7 8 9 10; do \
           printf x > /dev/udp/{v4}/9; printf yy > /dev/udp/{v6}/9; \
           printf z > /dev/udp/{peer15}/9; printf w > /dev/udp/127.0.0.1/9; \
         done",
        v4 = veth.peer_v4,
        v6 = veth.peer_v6,
    );
    let out = run_in(&ns, "bash", &["-c", &script]);
    assert!(
        out.status.success(),
        "traffic: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    settle(&[&ns, &peer]);
    Scene { ns, peer, veth }
}

/// Runs both tools with `args` in `ns` and panics with a diff unless stdout, stderr and
/// the exit code are equal, in order.
fn same_output(ns: &Netns, others: &[&Netns], args: &[&str]) {
    let (real_out, ours_out) = settled_runs(ns, others, args, args);
    if let Err(report) = diff_outputs_with(&real_out, &ours_out, RowOrder::Exact) {
        panic!(
            "`netstat {}` differs (namespace {}):\n{report}",
            args.join(" "),
            ns.name()
        );
    }
}

/// net-tools with `real_args` and ours with `ours_args` in `ns`: net-tools runs before
/// and after ours, and when those two runs differ (stdout, stderr or exit code) the
/// counters moved, so the namespace (and `others`) settle and all three run again; no
/// counter is ever masked. Returns net-tools' output and ours.
fn settled_runs(
    ns: &Netns,
    others: &[&Netns],
    real_args: &[&str],
    ours_args: &[&str],
) -> (Output, Output) {
    let (real_bin, ours_bin) = (real(), ours());
    let mut moved = String::new();
    for _ in 0..ATTEMPTS {
        let before = run_netstat_in(ns, &real_bin, None, real_args);
        let ours_out = run_netstat_in(ns, &ours_bin, None, ours_args);
        let after = run_netstat_in(ns, &real_bin, None, real_args);
        match diff_outputs_with(&before, &after, RowOrder::Exact) {
            Ok(()) => return (before, ours_out),
            Err(report) => {
                eprintln!(
                    "note: `netstat {}`: counters moved between two real runs; settling again",
                    real_args.join(" ")
                );
                moved = report;
                let mut all = vec![ns];
                all.extend_from_slice(others);
                settle(&all);
            }
        }
    }
    panic!(
        "`netstat {}`: the namespace never held still for {ATTEMPTS} attempts; last \
         movement between two real runs:\n{moved}",
        real_args.join(" ")
    );
}

fn scene_matches(argsets: &[&[&str]]) {
    let s = scene();
    // The scene really has moving counters (else the comparison proves less).
    let dev = run_in(&s.ns, "cat", &["/proc/net/dev"]).stdout;
    let dev = String::from_utf8_lossy(&dev);
    let veth0 = dev
        .lines()
        .find(|l| l.trim_start().starts_with("veth0:"))
        .unwrap_or_default();
    assert!(
        veth0.split_whitespace().nth(2).is_some_and(|p| p != "0"),
        "no traffic crossed veth0 ({} -> {}): {veth0}",
        s.veth.local_v4,
        s.veth.peer_v4
    );
    for args in argsets {
        same_output(&s.ns, &[&s.peer], args);
    }
}

#[test]
fn short_table() {
    scene_matches(&[
        &["-i"],
        &["-ia"],
        &["-in"],
        &["-iv"],
        &["-iaN"],
        &["--interfaces", "--all"],
        &["-i", "-a", "--numeric"],
        &["-W", "-i"],
    ]);
}

#[test]
fn long_table() {
    scene_matches(&[
        &["-ie"],
        &["-iae"],
        &["-iee"],
        &["-i", "-a", "-e", "-e", "-e"],
    ]);
}

/// `-i NAME` (an addition: net-tools 2.10 ignores the operand): exactly net-tools' own
/// title, header and row (or `-e` paragraph) of that interface, even a down one; an
/// unknown name gets ifconfig's error and exit 1. The operand is still ignored without -i.
#[test]
fn one_named_interface_is_net_tools_row_of_it() {
    let s = scene();
    // Short table: net-tools' -ia, keeping the two header lines and the named row.
    for name in ["lo", "veth0"] {
        let (full, got) = settled_runs(&s.ns, &[&s.peer], &["-ia"], &["-i", name]);
        let full = String::from_utf8_lossy(&full.stdout);
        let want: Vec<&str> = full
            .lines()
            .enumerate()
            .filter(|(i, l)| *i < 2 || l.split(' ').next() == Some(name))
            .map(|(_, l)| l)
            .collect();
        assert_eq!(want.len(), 3, "{name} is in net-tools' table:\n{full}");
        assert_eq!(got.code(), Some(0), "-i {name}");
        assert_eq!(
            String::from_utf8_lossy(&got.stdout),
            format!("{}\n", want.join("\n"))
        );
    }
    // Long format: the named interface's paragraph of net-tools' -iae.
    let (full, got) = settled_runs(&s.ns, &[&s.peer], &["-iae"], &["-ie", "veth0"]);
    let full = String::from_utf8_lossy(&full.stdout);
    let para = full
        .split("\n\n")
        .find(|p| p.starts_with("veth0: "))
        .expect("veth0 paragraph in net-tools' -iae");
    assert_eq!(
        String::from_utf8_lossy(&got.stdout),
        format!("Kernel Interface table\n{para}\n\n")
    );
    // Unknown name.
    let got = run_netstat_in(&s.ns, &ours(), None, &["-i", "nosuch"]);
    assert_eq!(got.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&got.stderr),
        "nosuch: error fetching interface information: Device not found\n"
    );
    // Without -i an operand is still ignored, as in net-tools.
    same_output(&s.ns, &[&s.peer], &["-t", "nosuch"]);
}

/// An IPv4 label naming no device (`ip addr add ... label zz:1`) is listed through
/// SIOCGIFCONF, and its fetch fails: net-tools' error, exit 1, the listing cut there.
#[test]
fn label_without_a_device_is_a_fetch_error() {
    let ns = Netns::new();
    quiet_defaults(&ns);
    add_dummy(&ns, "d1");
    ip_in(
        &ns,
        &["addr", "add", "10.5.0.1/24", "dev", "d1", "label", "zz:1"],
    );
    ip_in(
        &ns,
        &["addr", "add", "10.6.0.1/24", "dev", "d1", "label", "d1:4"],
    );
    settle(&[&ns]);
    for args in [&["-i"][..], &["-ia"], &["-iae"]] {
        same_output(&ns, &[], args);
    }
    let out = run_netstat_in(&ns, &ours(), None, &["-ia"]);
    assert_eq!(out.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "zz:1: error fetching interface information: Device not found\n\
         missing interface information: No such device\n"
    );
}

/// Only `lo`, untouched: nothing moves.
#[test]
fn loopback_only() {
    let ns = Netns::new();
    for args in [&["-i"][..], &["-ia"], &["-ie"], &["-iae"]] {
        same_output(&ns, &[], args);
    }
    // lo down: not listed without -a.
    ip_in(&ns, &["link", "set", "lo", "down"]);
    for args in [&["-i"][..], &["-ia"], &["-iae"]] {
        same_output(&ns, &[], args);
    }
}

/// Names in every order the natural sort cares about, created out of order.
#[test]
fn many_interfaces_sort_naturally() {
    let ns = Netns::new();
    quiet_defaults(&ns);
    let mut names: Vec<String> = (0..120).map(|i| format!("d{i}")).collect();
    names.extend(
        [
            "d01", "d001", "e", "e0", "e00", "eth", "eth1", "eth01", "a1b2", "a1b12", "9", "10",
            "x.1", "x-1", "X1",
        ]
        .map(String::from),
    );
    // A fixed shuffle, so creation (ifindex, /proc/net/dev) order is not name order.
    let len = names.len();
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_by_key(|&i| (i * 7919) % len);
    let shuffled: Vec<&String> = order.iter().map(|&i| &names[i]).collect();
    let kind = {
        add_dummy(&ns, "probe0");
        let out = run_in(&ns, "ip", &["-d", "link", "show", "probe0"]);
        ip_in(&ns, &["link", "del", "probe0"]);
        if String::from_utf8_lossy(&out.stdout).contains("dummy") {
            "dummy"
        } else {
            "ifb"
        }
    };
    let batch: String = shuffled
        .iter()
        .map(|n| format!("link add {n} type {kind}\n"))
        .collect();
    let mut child = Command::new("ip")
        .args(["-n", ns.name(), "-batch", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("ip -batch");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("piped stdin");
        stdin.write_all(batch.as_bytes()).expect("write the batch");
    }
    assert!(child.wait().expect("ip -batch").success());
    ip_in(&ns, &["link", "set", "d7", "up"]);
    ip_in(&ns, &["link", "set", "d70", "up"]);
    settle(&[&ns]);
    same_output(&ns, &[], &["-ia"]);
    same_output(&ns, &[], &["-i"]);
    // The order is natural: d2 before d10, d01 before d1.
    let out = run_netstat_in(&ns, &ours(), None, &["-ia"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let order: Vec<&str> = text
        .lines()
        .skip(2)
        .filter_map(|l| l.split(' ').next())
        .collect();
    let pos = |n: &str| order.iter().position(|x| *x == n).unwrap_or(usize::MAX);
    assert!(
        pos("d2") < pos("d10") && pos("d10") < pos("d100"),
        "{order:?}"
    );
    assert!(pos("d01") < pos("d1"), "{order:?}");
}

/// `-c`: `Kernel Interface table` once, the column header every round.
#[test]
fn continuous_prints_the_title_once() {
    let ns = Netns::new();
    let rounds = |binary: &std::path::Path| -> Output {
        let bin = binary.to_string_lossy().into_owned();
        run_in(&ns, "timeout", &["-s", "INT", "2.5", &bin, "-ic"])
    };
    let (r, o) = (rounds(&real()), rounds(&ours()));
    for (who, out) in [("real", &r), ("ours", &o)] {
        let lines = split_lines(&out.stdout);
        let count = |want: &[u8]| lines.iter().filter(|l| l.starts_with(want)).count();
        assert_eq!(count(b"Kernel Interface table"), 1, "{who}: {lines:?}");
        assert!(count(b"Iface ") >= 2, "{who}: {lines:?}");
        assert!(out.stderr.is_empty(), "{who}: {:?}", out.stderr);
    }
    let distinct = |out: &Output| {
        split_lines(&out.stdout)
            .into_iter()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(distinct(&r), distinct(&o));
}
