//! `-r/--route` against net-tools' netstat, byte for byte.
//!
//! Live tables: each test makes its own network namespace with a dummy-like link (`dummy`,
//! or `ifb` where the kernel has no dummy driver), a veth pair and a link left down, and
//! fills it with IPv4 and IPv6 routes of every kind net-tools has a letter for: gateways,
//! metrics (one of 2^32-1), advmss/window/rtt, host routes, unreachable, prohibit,
//! blackhole, throw, multipath, routes in table 100 (absent from `/proc/net/route`,
//! present in `/proc/net/ipv6_route`). Names come from `/etc/hosts` and `/etc/networks`
//! written to `/etc/netns/<namespace>/`, which `ip netns exec` mounts over `/etc` for both
//! tools, with an `nsswitch.conf` that keeps every lookup in those files.
//!
//! Recorded tables: a fake `/proc` (odd and broken files) is bind-mounted over `/proc` in
//! a private mount namespace (`unshare -m`) for both tools; ours also reads it through
//! `PROC_ROOT`.
//!
//! Needs root; run single-threaded:
//!
//! ```sh
//! cargo test -p netstat-tests --test route -- --test-threads=1
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::Duration;

use netstat_tests::{
    Netns, Output, RowOrder, TempDir, compare, diff_outputs_with, ours, real, run_netstat_in,
};

/// Every lookup in the files: without this, a name missing from /etc/hosts goes to a DNS
/// server that is not there, and net-tools waits for it.
const NSSWITCH: &str = "hosts: files\nnetworks: files\n";

const HOSTS: &str = "\
127.0.0.1 localhost
192.0.2.1 gateway.example
192.0.2.254 a-very-long-gateway-name.example.com
198.51.100.7 hostroute.example
192.0.2.77 h77
2001:db8:1::1 v6gw.example
2001:db8:1::5 a-very-very-long-ipv6-host-name-that-goes-on-and-on.example.org
2001:db8:3:: netname-as-host
::1 ip6-localhost
fe80::1 ll-router
";

const NETWORKS: &str = "\
default 0.0.0.0
loopback 127.0.0.0
link-local 169.254.0.0
testnet 192.0.2.0
tennet 10.0.0.0
a-network-name-longer-than-fifteen 203.0.113.0
reject-net 198.51.100.0
cgnat 100.64.0.0
";

/// `/etc/netns/<ns>/{nsswitch.conf,hosts,networks}`, removed on drop.
struct EtcFiles {
    dir: PathBuf,
}

impl EtcFiles {
    fn install(ns: &Netns) -> EtcFiles {
        let dir = Path::new("/etc/netns").join(ns.name());
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let files = EtcFiles { dir };
        for (name, text) in [
            ("nsswitch.conf", NSSWITCH),
            ("hosts", HOSTS),
            ("networks", NETWORKS),
        ] {
            let path = files.dir.join(name);
            fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        }
        files
    }
}

impl Drop for EtcFiles {
    fn drop(&mut self) {
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("warning: could not remove {}: {e}", self.dir.display());
        }
    }
}

/// A namespace with its /etc files. Fields drop in order: files, peer, namespace.
struct Scene {
    _etc: EtcFiles,
    _peer: Option<Netns>,
    ns: Netns,
}

/// `ip -n NS args`, panicking with ip's message when it fails.
fn ip(ns: &Netns, args: &[&str]) {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns.name())
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
    assert!(
        out.status.success(),
        "ip -n {} {} failed: {}",
        ns.name(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// `ip -n NS link add NAME type dummy`, or `ifb` where the kernel has no dummy driver.
fn add_dummy(ns: &Netns, name: &str) {
    let dummy = Command::new("ip")
        .args(["-n", ns.name(), "link", "add", name, "type", "dummy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !dummy {
        ip(ns, &["link", "add", name, "type", "ifb"]);
    }
}

/// An empty namespace (lo only) with the /etc files: for paths that print no route.
fn empty_scene() -> Scene {
    let ns = Netns::new();
    let etc = EtcFiles::install(&ns);
    Scene {
        _etc: etc,
        _peer: None,
        ns,
    }
}

fn routes_scene() -> Scene {
    let ns = Netns::new();
    let etc = EtcFiles::install(&ns);
    // No router solicitations or DAD: fewer packets that bump IPv6 route references.
    for key in ["all", "default"] {
        for (name, value) in [("router_solicitations", "0"), ("accept_dad", "0")] {
            let path = format!("net.ipv6.conf.{key}.{name}={value}");
            let out = Command::new("ip")
                .args(["netns", "exec", ns.name(), "sysctl", "-q", "-w", &path])
                .output();
            assert!(out.is_ok_and(|o| o.status.success()), "sysctl {path}");
        }
    }
    let (peer, _veth) = ns.veth_peer();
    add_dummy(&ns, "dum0");
    add_dummy(&ns, "down0");
    let steps: &[&[&str]] = &[
        &["link", "set", "dum0", "up"],
        &["addr", "add", "192.0.2.5/24", "dev", "dum0"],
        &[
            "-6",
            "addr",
            "add",
            "2001:db8:1::5/64",
            "dev",
            "dum0",
            "nodad",
        ],
        // Addresses on a link that stays down: IPv6 still lists its local route.
        &["addr", "add", "198.18.5.1/24", "dev", "down0"],
        &[
            "-6",
            "addr",
            "add",
            "2001:db8:9::1/64",
            "dev",
            "down0",
            "nodad",
        ],
        // IPv4 main table.
        &["route", "add", "default", "via", "192.0.2.1"],
        &[
            "route",
            "add",
            "10.0.0.0/8",
            "via",
            "192.0.2.254",
            "metric",
            "50",
            "advmss",
            "1360",
            "window",
            "65535",
            "rtt",
            "100ms",
        ],
        &[
            "route",
            "add",
            "10.20.0.0/16",
            "via",
            "192.0.2.1",
            "metric",
            "4294967295",
        ],
        &["route", "add", "unreachable", "198.51.100.0/24"],
        &["route", "add", "prohibit", "198.51.100.128/25"],
        &["route", "add", "blackhole", "203.0.113.0/24"],
        &["route", "add", "throw", "203.0.113.128/25"],
        &["route", "add", "198.51.100.7/32", "via", "192.0.2.1"],
        &["route", "add", "192.0.2.77", "dev", "dum0"],
        &[
            "route",
            "add",
            "192.0.2.0/24",
            "dev",
            "dum0",
            "metric",
            "10",
        ],
        &["route", "add", "127.0.0.0/8", "dev", "dum0", "metric", "5"],
        &["route", "add", "169.254.0.0/16", "dev", "dum0"],
        &["route", "add", "0.0.0.0/1", "via", "192.0.2.1"],
        &[
            "route",
            "add",
            "100.64.0.0/10",
            "nexthop",
            "via",
            "192.0.2.1",
            "nexthop",
            "via",
            "192.0.2.254",
        ],
        // Another table: not in /proc/net/route.
        &[
            "route",
            "add",
            "172.16.0.0/16",
            "dev",
            "dum0",
            "table",
            "100",
        ],
        &[
            "route",
            "add",
            "172.17.0.0/16",
            "via",
            "192.0.2.1",
            "table",
            "100",
        ],
        // IPv6, several tables, every kind.
        &["-6", "route", "add", "default", "via", "2001:db8:1::1"],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:2::/48",
            "via",
            "2001:db8:1::2",
            "metric",
            "7",
            "table",
            "100",
        ],
        &["-6", "route", "add", "unreachable", "2001:db8:3::/48"],
        &["-6", "route", "add", "blackhole", "2001:db8:4::/48"],
        &["-6", "route", "add", "prohibit", "2001:db8:5::/48"],
        &["-6", "route", "add", "::ffff:0:0/96", "dev", "dum0"],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:6::/64",
            "dev",
            "dum0",
            "expires",
            "600",
        ],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:7::/64",
            "via",
            "fe80::1",
            "dev",
            "dum0",
        ],
        &["-6", "route", "add", "2001:db8:8::1/128", "dev", "dum0"],
        &[
            "-6",
            "route",
            "add",
            "2001:db8:aaaa:bbbb:cccc:dddd:eeee:1/128",
            "via",
            "2001:db8:1::1",
            "metric",
            "3",
        ],
    ];
    for step in steps {
        ip(&ns, step);
    }
    settle(&ns);
    Scene {
        _etc: etc,
        _peer: Some(peer),
        ns,
    }
}

/// Waits until net-tools prints the same tables twice in a row (IPv6 reference counts
/// move while the links come up).
fn settle(ns: &Netns) {
    let args = ["-rn", "-A", "inet,inet6"];
    let mut last = run_netstat_in(ns, &real(), None, &args).stdout;
    for _ in 0..40 {
        thread::sleep(Duration::from_millis(250));
        let now = run_netstat_in(ns, &real(), None, &args).stdout;
        if now == last {
            return;
        }
        last = now;
    }
    panic!("the routing tables of {} never settled", ns.name());
}

fn compare_all(ns: &Netns, cases: &[&[&str]]) {
    for args in cases {
        compare(ns, args);
    }
}

#[test]
fn ipv4_fib_numeric_layouts() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-rn"],
            &["-rne"],
            &["-rnee"],
            &["-rneee"],
            &["-rneeee"],
            &["-rN"],
            &["-r", "--numeric-hosts"],
            &["-rnW"],
            &["-rnv"],
            &["-rnF"],
            &["--route", "--numeric"],
        ],
    );
}

#[test]
fn ipv4_fib_names_from_hosts_and_networks() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-r"],
            &["-re"],
            &["-ree"],
            // The 15-byte cut stays with -W.
            &["-rW"],
            // --numeric-ports does not make -r numeric.
            &["-r", "--numeric-ports"],
            &["-rF"],
            &["-r", "-A", "inet"],
            &["-r4"],
        ],
    );
}

#[test]
fn ipv4_cache_is_header_only() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-rC"],
            &["-rnC"],
            &["-rCe"],
            &["-rnCee"],
            &["-rCeee"],
            &["-rCF"],
            &["-rnCFe"],
        ],
    );
}

#[test]
fn ipv6_table_every_table_and_flag() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-rn6"],
            &["-r6"],
            &["-r", "-A", "inet6"],
            &["-rn", "-A", "ip6"],
            &["-r6e"],
            &["-rn6ee"],
            &["-r6N"],
            &["-r", "--inet6", "--numeric-hosts"],
        ],
    );
}

#[test]
fn ipv6_cache() {
    let s = routes_scene();
    compare_all(&s.ns, &[&["-r6C"], &["-rn6C"], &["-rn6CF"], &["-r6CFe"]]);
}

#[test]
fn families_print_in_command_line_order() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-rn", "-A", "inet,inet6"],
            &["-rn", "-A", "inet6,inet"],
            &["-r", "-4", "-6"],
            &["-rn", "-6", "-4"],
            &["-rnC", "-A", "inet6,inet"],
            &["-rn", "-A", "inet,inet"],
        ],
    );
}

#[test]
fn errors_after_earlier_tables() {
    let s = routes_scene();
    compare_all(
        &s.ns,
        &[
            &["-rn", "-A", "inet,unix"],
            &["-r", "-A", "inet6,ec"],
            &["-rn", "-A", "inet,inet6,ash"],
            &["-rn", "-A", "inet,bluetooth"],
            &["-rn", "-A", "inet6,ax25,inet"],
            &["-rn", "-A", "inet,ddp,inet6"],
            &["-rn", "-4", "--x25"],
        ],
    );
}

#[test]
fn error_cases_alone() {
    let s = empty_scene();
    compare_all(
        &s.ns,
        &[
            &["-r", "-A", "unix"],
            &["-rx"],
            &["-r", "-A", "econet"],
            &["-r", "-A", "ash"],
            &["-r", "-A", "bluetooth"],
            &["-r", "-A", "ax25"],
            &["-r", "-A", "netrom"],
            &["-r", "-A", "rose"],
            &["-r", "-A", "ipx"],
            &["-r", "-A", "x25"],
            &["-r", "-A", "ddp"],
            &["-r", "-A", "appletalk"],
            &["-r", "--ax25"],
            &["-r", "--netrom"],
            &["-r", "--ipx"],
            &["-r", "--rose"],
            &["-r", "--ddp"],
            &["-rr"],
            &["-r", "-i"],
            &["-r", "-A", "foo"],
            &["-r", "-A", "inet,foo"],
            &["-r", "-A", "inet,"],
        ],
    );
}

#[test]
fn empty_namespace_tables() {
    let s = empty_scene();
    compare_all(
        &s.ns,
        &[&["-r"], &["-rn6"], &["-r6"], &["-rCF", "-A", "inet,inet6"]],
    );
}

#[test]
fn continuous_repeats_the_table() {
    let s = routes_scene();
    let once = run_netstat_in(&s.ns, &ours(), None, &["-rn"]).stdout;
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", s.ns.name(), "timeout", "-s", "INT", "2.5"])
        .arg(ours())
        .args(["-rnc"])
        .env("LC_ALL", "C");
    let out = cmd.output().unwrap_or_else(|e| panic!("timeout: {e}"));
    assert!(!once.is_empty());
    let rounds = out.stdout.len() / once.len();
    assert!(rounds >= 2, "only {rounds} rounds in 2.5 s");
    assert_eq!(
        out.stdout,
        once.repeat(rounds),
        "every round prints the same table"
    );
}

// -------------------------------------------------------------------------------------
// Recorded /proc trees

/// A fake `/proc` (only `net/`) and `/etc` files, in a temporary directory.
struct FakeRoot {
    dir: TempDir,
}

impl FakeRoot {
    fn new(files: &[(&str, &[u8])]) -> FakeRoot {
        let dir = TempDir::new("route");
        for sub in ["proc/net", "etc"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap_or_else(|e| panic!("mkdir: {e}"));
        }
        let root = FakeRoot { dir };
        for (name, text) in [
            ("etc/nsswitch.conf", NSSWITCH),
            ("etc/hosts", RECORDED_HOSTS),
            ("etc/networks", NETWORKS),
        ] {
            root.write(name, text.as_bytes());
        }
        for (name, text) in files {
            root.write(&format!("proc/net/{name}"), text);
        }
        root
    }

    fn write(&self, name: &str, text: &[u8]) {
        let path = self.dir.path().join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `binary args` as `netstat`, with the fake /proc and /etc files mounted over the
    /// real ones in a private mount namespace.
    fn run_mounted(&self, binary: &Path, args: &[&str]) -> Output {
        let bin = TempDir::new("bin");
        let link = bin.path().join("netstat");
        std::os::unix::fs::symlink(binary, &link).unwrap_or_else(|e| panic!("symlink: {e}"));
        // /proc last: mount(8) reads /proc/self/mountinfo.
        let script = "set -e; for f in hosts networks nsswitch.conf; do \
                      mount --bind \"$1/etc/$f\" \"/etc/$f\"; done; \
                      mount --bind \"$1/proc\" /proc; shift; \
                      PATH=\"$0:$PATH\" exec netstat \"$@\"";
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", script])
            .arg(bin.path())
            .arg(self.path())
            .args(args)
            .env("LC_ALL", "C")
            .env_remove("PROC_ROOT")
            .output()
            .unwrap_or_else(|e| panic!("cannot run unshare: {e}"));
        Output {
            stdout: out.stdout,
            stderr: out.stderr,
            status: out.status,
        }
    }

    /// Ours with `PROC_ROOT` pointing at the fake /proc (no mounts; names from this
    /// machine, so only for numeric output).
    fn run_proc_root(&self, args: &[&str]) -> Output {
        let out = Command::new(ours())
            .args(args)
            .env("LC_ALL", "C")
            .env("PROC_ROOT", self.path().join("proc"))
            .output()
            .unwrap_or_else(|e| panic!("cannot run ours: {e}"));
        Output {
            stdout: out.stdout,
            stderr: out.stderr,
            status: out.status,
        }
    }

    /// Both tools on this tree: equal output for every `args`.
    fn compare(&self, cases: &[&[&str]]) {
        for args in cases {
            let r = self.run_mounted(&real(), args);
            let o = self.run_mounted(&ours(), args);
            if let Err(diff) = diff_outputs_with(&r, &o, RowOrder::Exact) {
                panic!(
                    "`netstat {}` on a recorded /proc differs:\n{diff}",
                    args.join(" ")
                );
            }
        }
    }

    /// Ours through `PROC_ROOT` against net-tools on the mounted tree.
    fn compare_proc_root(&self, cases: &[&[&str]]) {
        for args in cases {
            let r = self.run_mounted(&real(), args);
            let o = self.run_proc_root(args);
            if let Err(diff) = diff_outputs_with(&r, &o, RowOrder::Exact) {
                panic!(
                    "`PROC_ROOT=... netstat {}` differs from net-tools:\n{diff}",
                    args.join(" ")
                );
            }
        }
    }
}

const RECORDED_HOSTS: &str = "\
127.0.0.1 localhost
192.0.2.1 gw.example
192.0.2.2 src.example
192.0.2.254 a-very-long-gateway-name.example.com
10.11.12.13 hostroute13
::1 ip6-localhost
2001:db8:1::2 v6nexthop
fe80::1 ll1
";

/// A header with an unknown column in the middle, then rows net-tools reads oddly: a
/// 23-byte interface name (`%15s` splits it), a short row (IRTT kept from the row
/// before), a bad address (the one before is kept), lower-case hex, `0x` flags, values
/// past `int`, a row that is not UP, a blank line, a reject row, every flag bit.
const ODD_ROUTE: &[u8] = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tFoo\tMetric\tMask\t\tMTU\tWindow\tIRTT   \n\
eth0\t00000000\t010200C0\t0003\t0\t0\tx\t0\t00000000\t0\t0\t0\n\
averyveryverylongifname\t0000000A\t00000000\t0001\t0\t0\tx\t0\t000000FF\t0\t0\t0\n\
eth0\t0000000B\t00000000\t0001\t0\t0\tx\t0\t000000FF\t5\t6\t77\n\
eth1\t0000000C\t00000000\t0001\t0\t0\tx\t0\t000000FF\t5\t6\n\
eth2\tzz\t00000000\t0001\t0\t0\tx\t0\t000000FF\t1\t2\t3\n\
eth3\t0000000d\t0102a8c0\t0003\t-5\t99999999999\tx\t-1\t00fcffff\t-7\t4294967295\t12\n\
eth4\t0000000E\t00000000\t0000\t0\t0\tx\t0\t000000FF\t0\t0\t0\n\
eth5\t0000000F\t00000000\t0x3\t0\t0\tx\t0\t000000FF\t0\t0\t0\n\
\n\
*\t006433C6\t00000000\t0201\t0\t0\tx\t0\t00FFFFFF\t0\t0\t0\n\
eth6\t00000010\t00000000\tFFFFFFFF\t3\t4\tx\t5\t000000FF\t6\t7\t8\n\
eth7\t0D0C0B0A\t00000000\t0005\t0\t0\tx\t0\tFFFFFFFF\t0\t0\t0\n\
eth8\t0000000A\tFE0200C0\t0003\t0\t0\tx\t0\t000000FF\t0\t0\t0\n";

/// A blank line (repeats the row before), a v4-mapped route, an RTF_CACHE route, a line
/// cut after the prefix length, a bad group, -1 everywhere.
const ODD_ROUTE6: &[u8] = b"20010db8000200000000000000000000 30 00000000000000000000000000000000 00 20010db8000100000000000000000002 00000007 00000001 00000000 00000003     dum0\n\
\n\
00000000000000000000ffff0a000001 80 00000000000000000000000000000000 00 00000000000000000000ffffc0000201 00000400 00000001 00000000 00000003     dum0\n\
fe800000000000000000000000000001 80 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000000 00000001 00000005 01000003     dum0\n\
2001 0db8 0000 0000 0000 0000 0000 0001 40\n\
zz000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff ffffffff ffffffff ffffffff averyveryverylongifname\n\
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo\n\
fe800000000000000000000000000003 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000001 00000000 01000001     dum0\n";

/// The 2.2+ layout with rows (kernels before 3.6 filled it): a bad SpecDst shows the
/// address converted before it; a row of 10 fields is skipped.
const CACHE22: &[u8] = b"Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst                \n\
eth0\t010200C0\t00000000\t80000000\t0\t5\t0\t020200C0\t1500\t0\t0\t00\t-1\t1\t020200C0\n\
eth0\t0100007F\tFE0200C0\t00000005\t2\t5\t7\t0100007F\t1500\t3\t4\t10\t2\t0\tzz\n\
eth0\t0100007F\tFE0200C0\t00000005\t2\t5\t7\t0100007F\t1500\t3\n\
eth1\t0D0C0B0A\t010200C0\t7FFF0205\t1\t2\t3\t0D0C0B0A\t576\t0\t0\t0\t0\t0\t00000000\n";

/// The Linux 2.0 layout.
const CACHE20: &[u8] = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tHH\tARP\n\
eth0\t010200C0\t00000000\t0005\t1\t2\t3\t020200C0\t1500\t0\t0\t-1\t1\n\
eth0\t0100007F\tFE0200C0\t0207\t1\t2\t3\t0100007F\t1500\t0\t0\t1\t0\n";

#[test]
fn recorded_odd_tables() {
    let root = FakeRoot::new(&[
        ("route", ODD_ROUTE),
        ("ipv6_route", ODD_ROUTE6),
        ("rt_cache", CACHE22),
    ]);
    let cases: &[&[&str]] = &[
        &["-rn"],
        &["-r"],
        &["-rne"],
        &["-ree"],
        &["-rn6"],
        &["-r6"],
        &["-rn6C"],
        &["-r6C"],
        &["-rnC"],
        &["-rC"],
        &["-rnCe"],
        &["-rCee"],
        &["-rCF", "-A", "inet6,inet"],
    ];
    root.compare(cases);
    root.compare_proc_root(&[&["-rn"], &["-rnee"], &["-rn6"], &["-rn6C"], &["-rnCee"]]);
}

#[test]
fn recorded_linux20_cache() {
    let root = FakeRoot::new(&[("route", ODD_ROUTE), ("rt_cache", CACHE20)]);
    root.compare(&[&["-rnC"], &["-rC"], &["-rCe"], &["-rnCee"], &["-rCFee"]]);
}

#[test]
fn recorded_broken_files() {
    // No files at all: every table's open fails.
    let root = FakeRoot::new(&[]);
    root.compare(&[
        &["-r"],
        &["-r6"],
        &["-rC"],
        &["-r6C"],
        &["-r", "-A", "inet6,inet"],
    ]);
    // Empty files: the headers, then exit 1 (FIB) or perror and 255 (cache).
    let root = FakeRoot::new(&[("route", b""), ("rt_cache", b""), ("ipv6_route", b"")]);
    root.compare(&[&["-rn"], &["-rnC"], &["-rn6"], &["-rnCF"]]);
    // A header without the Flags column: proc_gen_fmt()'s warning.
    let root = FakeRoot::new(&[
        ("route", b"Iface\tDestination\tGateway\tRefCnt\n"),
        ("rt_cache", b"Iface\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst\n"),
    ]);
    root.compare(&[&["-rn"], &["-rnC"]]);
    // A directory where a file should be, and a symlink loop.
    let root = FakeRoot::new(&[]);
    fs::create_dir(root.path().join("proc/net/route")).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for (link, target) in [("ipv6_route", "loop"), ("loop", "ipv6_route")] {
        std::os::unix::fs::symlink(target, root.path().join("proc/net").join(link))
            .unwrap_or_else(|e| panic!("symlink: {e}"));
    }
    root.compare(&[&["-rn"], &["-rn6"], &["-rn", "-A", "inet6,inet"]]);
}

/// `/proc/net/ndisc` (Linux 2.1/2.2): `-r6C` prints the neighbour cache instead of the
/// cached routes; a 17-byte device name (`%8s` splits it), an unknown state, a blank and
/// a short line (both reuse the values before).
const NDISC: &[u8] = b"fe800000000000000000000000000001 02 40 00 02 00000100 00000064 000001f4 0320 0000 0080     eth0 02 00 00 00 00 01\n\
20010db8000100000000000000000002 01 80 01 04 00000000 000003e8 00000000 0010 0002 000e     eth1 02 aa bb cc dd ee\n\
20010db8000100000000000000000003 01 80 01 99 00000000 000003e8 00000000 0010 0002 000e averyverylongname 02 aa bb cc dd ee\n\
\n\
20010db8000100000000000000000004 01 80 01 00\n";

#[test]
fn recorded_ipv6_neighbour_cache() {
    let root = FakeRoot::new(&[("ipv6_route", ODD_ROUTE6), ("ndisc", NDISC)]);
    root.compare(&[&["-rn6C"], &["-rn6Ce"], &["-rn6Cee"], &["-r6C"], &["-r6CF"]]);
}

/// The legacy families' tables, for kernels with those modules: fixed columns cut out of
/// a 256-byte `fgets()` buffer, so short lines show bytes of the line before and long
/// lines come in pieces; NET/ROM and ROSE join a second file; DDP is a word stream.
#[test]
fn recorded_legacy_tables() {
    let long = "X".repeat(300);
    let ax25 = format!("hdr\nG4KLX-1   ax0  12\nLONGCALL1 ax0  5 {long}\nshort\nZZ-9      ax2  -3");
    let x25 = format!(
        "address          digits  device\n1234567890123456 7       x25a\n\
         0000000000000000 0       x25b\n12345678901234567890123456789012345678\n\
         9999999999999999 -4      neg\n99 {long}\n"
    );
    let nodes = "callsign  mnemonic w n qual obs neigh qual obs neigh\n\
                 GB7ABC-1  ABC      1 1 200  6   00001\n\
                 GB7XYZ-2  XYZ      2 2 150  5   00002 100  4   00001\n\
                 GB7NON-1  NON      1 1 200  6   00009\n\
                 GB7ABC-1  ABC      9 1 200  6   00001\n";
    let neigh = "addr  callsign  dev  qual lock count failed digipeaters\n\
                 00001 G4ABC-1   ax0  200  0    3     0\n\
                 00002 G4DEF-2   ax1  150  1    2     0\n";
    let rose_nodes = "address    mask use neigh neigh neigh\n\
                      2341234567 0010 2   00001 00002 00000\n\
                      3341234567 0010 3   00003 00001 00001\n2341234567 0010 0\n";
    let rose_neigh = "addr  callsign  dev  count use mode restart t0 tf digipeaters\n\
                      00001 G4ABC-1   rose0 1   1  DTE  no\n\
                      00002 G4DEF-2   rose1 1   1  DTE  no\n";
    let atalk = "Target Router Flags Dev\n10.1 10.2 3 eth0\n\n20.1  20.2 515 eth1 extra 1 2";
    let root = FakeRoot::new(&[
        ("route", ODD_ROUTE),
        ("ax25_route", ax25.as_bytes()),
        ("x25_routes", x25.as_bytes()),
        ("nr_nodes", nodes.as_bytes()),
        ("nr_neigh", neigh.as_bytes()),
        ("rose_nodes", rose_nodes.as_bytes()),
        ("rose_neigh", rose_neigh.as_bytes()),
        ("atalk_route", atalk.as_bytes()),
    ]);
    root.compare(&[
        &["-r", "-A", "ax25"],
        &["-r", "-A", "x25"],
        &["-r", "-A", "netrom"],
        &["-r", "-A", "rose"],
        &["-r", "-A", "ddp"],
        &["-rn", "-A", "inet,ax25,x25,netrom,rose,ddp"],
    ]);
    // NET/ROM needs both files.
    let root = FakeRoot::new(&[("nr_nodes", nodes.as_bytes())]);
    root.compare(&[&["-r", "-A", "netrom"]]);
}
