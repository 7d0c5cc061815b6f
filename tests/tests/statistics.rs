//! `netstat -s`: ours against net-tools 2.10, byte for byte.
//!
//! Three kinds of test:
//!
//! 1. **Golden, no root**: recorded counter files under `tests/data/stats/<case>/proc/net/`
//!    (a namespace after the traffic below, this VM's own counters, a synthetic file with
//!    every key net-tools knows, a 2.6-era layout, broken and missing files). Ours runs on
//!    them through `PROC_ROOT`; `expected/<args>.txt` holds what net-tools printed for the
//!    same files (stdout, then `--- stderr:` and `--- exit code:` lines).
//! 2. **Same files, both tools (root)**: net-tools only reads the real `/proc`, so each run
//!    happens in a private mount namespace (`unshare -m`) with a tmpfs mounted over `/proc`
//!    that holds only the case's files (bind-mounting single files over `/proc/net/snmp`
//!    does not work: `/proc/net` is the symlink `self/net`, which resolves to the
//!    *mounting* process's pid directory, not netstat's). There net-tools must print the
//!    stored golden output and ours the same bytes. This also covers what no kernel
//!    produces: files that are missing, directories (read fails with EISDIR), mode 000 for
//!    uid 65534 (EACCES), malformed pairs, and a few hundred pseudo-random files
//!    (`fuzzed_files_match_net_tools`).
//!    `STATS_BLESS=1` re-records the namespace counters and rewrites the golden files from
//!    net-tools instead of comparing.
//! 3. **A live namespace (root)**: a namespace joined to a peer by a veth pair, with
//!    ICMP echo (v4 and v6, over lo and the veth), UDP datagrams (to an open and a closed
//!    port), TCP connections (closed with RST so that no TIME_WAIT is left to expire
//!    later), then a wait until the counters stop moving. Both tools run in it with
//!    `-s`, `-st`, `-su`, `-sw`, `-s4`, `-s6`, `-s -A inet6`, `-sS`, `-sU`, `-se`, ….
//!
//! **Normalisation for moving counters** (live namespace only): net-tools runs, then ours,
//! then net-tools again. If the two net-tools runs are equal, ours must equal them byte
//! for byte. If they differ (a counter moved meanwhile), every number that stands alone
//! as a word is masked (`#`) and ours must then have exactly the lines of one of the two
//! net-tools runs, in the same order; and each line that the two net-tools runs print
//! identically at the same position must be identical in ours too. stderr and the exit
//! code are always compared exactly. The namespace is kept quiet (no router
//! solicitations, no DAD, no TIME_WAIT) so that the exact branch is the usual one.
//!
//! Run as root, single-threaded: `cargo test -p netstat-tests --test statistics --
//! --test-threads=1`. `cargo test ... -- --ignored record_namespace_counters`
//! re-records the `netns` case (then bless it).

use std::fmt::Write as _;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs, UdpSocket,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netstat_tests::{
    Netns, Output, RowOrder, TempDir, diff_outputs_with, ours, real, require_root, run_netstat_in,
    split_lines, unified_diff, workspace_root,
};

// ---------------------------------------------------------------------------------------------
// Golden cases

/// The option sets checked on every recorded case.
const ARG_SETS: &[&[&str]] = &[
    &["-s"],
    &["-st"],
    &["-su"],
    &["-sw"],
    &["-sS"],
    &["-sU"],
    &["-s6"],
    &["-s6t"],
    &["-s6u"],
    &["-s6w"],
];

/// The option sets checked on the broken-file cases.
const ERROR_ARG_SETS: &[&[&str]] = &[&["-s"], &["-s6"]];

/// Cases under `tests/data/stats/` and the option sets each is checked with.
const CASES: &[(&str, &[&[&str]])] = &[
    // Recorded in a namespace after the traffic of `make_traffic` (kernel 6.18).
    ("netns", ARG_SETS),
    // This VM's own counters: more non-zero counters, several of them bsearch misses.
    ("vm", ARG_SETS),
    // Every key of every net-tools table, each non-zero, plus unknown keys and sections
    // and /proc/net/sctp/snmp.
    ("synthetic", ARG_SETS),
    // The same keys, all zero: only `number` lines and headers print.
    ("zeros", ARG_SETS),
    // 2.6-era layout: a blank first line, fewer keys, no netstat file.
    ("old-kernel", ARG_SETS),
    // Odd values: negative, overflowing, missing, letters, tabs, no final newline.
    ("odd-values", ARG_SETS),
    // /proc/net/snmp missing (snmp6 present).
    ("no-snmp", ERROR_ARG_SETS),
    // /proc/net/snmp6 missing, /proc/net/netstat missing.
    ("no-snmp6", ERROR_ARG_SETS),
    // Every file a directory: opens, then reading fails with EISDIR.
    ("directories", ERROR_ARG_SETS),
    // A pair without ':' in snmp and in netstat.
    ("malformed", ERROR_ARG_SETS),
    // No file at all.
    ("empty", ERROR_ARG_SETS),
];

fn data_dir() -> PathBuf {
    workspace_root().join("tests/data/stats")
}

/// `-s6t` -> `s6t`, `-s -A inet6` -> `s_A_inet6`.
fn arg_name(args: &[&str]) -> String {
    args.iter()
        .map(|a| a.trim_start_matches('-'))
        .collect::<Vec<_>>()
        .join("_")
}

/// The golden form of a run: stdout, then stderr and the exit code.
fn golden(out: &Output) -> Vec<u8> {
    let mut v = out.stdout.clone();
    v.extend_from_slice(b"--- stderr:\n");
    v.extend_from_slice(&out.stderr);
    let code = out
        .code()
        .map_or_else(|| format!("{:?}", out.status), |c| c.to_string());
    v.extend_from_slice(format!("--- exit code: {code}\n").as_bytes());
    v
}

fn expected_path(case: &str, args: &[&str]) -> PathBuf {
    data_dir()
        .join(case)
        .join("expected")
        .join(format!("{}.txt", arg_name(args)))
}

/// Runs `bin args` with `PROC_ROOT` pointing at a recorded tree (no privileges needed).
fn run_with_proc_root(bin: &Path, proc_dir: &Path, args: &[&str]) -> Output {
    let out = Command::new(bin)
        .args(args)
        .env("PROC_ROOT", proc_dir)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    Output {
        stdout: out.stdout,
        stderr: out.stderr,
        status: out.status,
    }
}

fn show_bytes(b: &[u8]) -> Vec<Vec<u8>> {
    split_lines(b)
}

/// Golden test without root: ours through `PROC_ROOT` against net-tools' recorded output.
/// (With `NETSTAT_BIN=/usr/bin/netstat` it runs net-tools on a fake /proc, as root.)
#[test]
fn recorded_files_match_the_golden_output() {
    let bin = ours();
    // net-tools itself as the binary under test (a check of the harness) does not know
    // PROC_ROOT: it then reads the files from a fake /proc (which needs root).
    let net_tools = fs::canonicalize(&bin).ok() == fs::canonicalize(real()).ok();
    if net_tools {
        require_root();
    }
    let mut report = String::new();
    for (case, arg_sets) in CASES {
        let proc_dir = data_dir().join(case).join("proc");
        for args in *arg_sets {
            let path = expected_path(case, args);
            let want = fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; create it with `STATS_BLESS=1 cargo test -p netstat-tests \
                     --test statistics golden_output_is_net_tools_output` (as root)",
                    path.display()
                )
            });
            let got = golden(&if net_tools {
                run_on_fake_proc(&proc_dir, &bin, None, args)
            } else {
                run_with_proc_root(&bin, &proc_dir, args)
            });
            if got != want {
                let _ = writeln!(
                    report,
                    "case {case}, `netstat {}` (PROC_ROOT={}):\n{}",
                    args.join(" "),
                    proc_dir.display(),
                    unified_diff(&show_bytes(&want), &show_bytes(&got))
                );
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

// ---------------------------------------------------------------------------------------------
// Both tools on the same files: a tmpfs over /proc in a private mount namespace

/// Runs `bin args` in a private mount namespace whose `/proc` is a tmpfs holding a copy of
/// `proc_dir` (modes kept), optionally as `uid` (and gid). Needs root.
fn run_on_fake_proc(proc_dir: &Path, bin: &Path, uid: Option<u32>, args: &[&str]) -> Output {
    const SCRIPT: &str = "mount -t tmpfs -o mode=0755 nst-stats /proc && \
                          cp -a \"$1/.\" /proc/ && shift && exec \"$@\"";
    let mut cmd = Command::new("/usr/bin/unshare");
    cmd.args([
        "-m",
        "--propagation",
        "private",
        "/bin/sh",
        "-c",
        SCRIPT,
        "sh",
    ])
    .arg(proc_dir);
    if let Some(uid) = uid {
        cmd.arg("/usr/bin/setpriv")
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={uid}"))
            .arg("--clear-groups");
    }
    cmd.arg(bin)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null());
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
    Output {
        stdout: out.stdout,
        stderr: out.stderr,
        status: out.status,
    }
}

/// net-tools and ours on the same fake /proc; `Err` holds a readable report.
fn check_fake_proc(proc_dir: &Path, uid: Option<u32>, args: &[&str]) -> Result<Output, String> {
    let real_out = run_on_fake_proc(proc_dir, &real(), uid, args);
    let ours_out = run_on_fake_proc(proc_dir, &ours(), uid, args);
    match diff_outputs_with(&real_out, &ours_out, RowOrder::Exact) {
        Ok(()) => Ok(real_out),
        Err(diff) => Err(format!(
            "`netstat {}` on {}{} differs:\n{diff}",
            args.join(" "),
            proc_dir.display(),
            uid.map_or_else(String::new, |u| format!(" as uid {u}")),
        )),
    }
}

/// The golden files are what net-tools prints on the same files, and ours prints it too
/// in the same setting (no `PROC_ROOT`: both read the tmpfs `/proc`).
#[test]
fn golden_output_is_net_tools_output() {
    require_root();
    let bless = std::env::var_os("STATS_BLESS").is_some();
    if bless {
        record_namespace_counters();
    }
    let mut report = String::new();
    for (case, arg_sets) in CASES {
        let proc_dir = data_dir().join(case).join("proc");
        for args in *arg_sets {
            let real_out = match check_fake_proc(&proc_dir, None, args) {
                Ok(out) => out,
                Err(e) => {
                    report.push_str(&e);
                    run_on_fake_proc(&proc_dir, &real(), None, args)
                }
            };
            let path = expected_path(case, args);
            let got = golden(&real_out);
            if bless {
                if let Some(dir) = path.parent() {
                    fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
                }
                fs::write(&path, &got).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                continue;
            }
            let want = fs::read(&path).unwrap_or_default();
            if want != got {
                let _ = writeln!(
                    report,
                    "{}: net-tools prints something else now (bless with STATS_BLESS=1):\n{}",
                    path.display(),
                    unified_diff(&show_bytes(&want), &show_bytes(&got))
                );
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

/// Unreadable for uid 65534 (mode 000): EACCES at open.
#[test]
fn unreadable_files_match_net_tools() {
    require_root();
    let dir = TempDir::new("stats");
    let proc_dir = dir.path().join("proc");
    copy_tree(&data_dir().join("netns/proc"), &proc_dir);
    let net = proc_dir.join("net");
    let mut report = String::new();
    // Each step makes one more file unreadable.
    for file in ["netstat", "snmp6", "snmp"] {
        set_mode(&net.join(file), 0o000);
        for args in [&["-s"][..], &["-s6"], &["-st"]] {
            if let Err(e) = check_fake_proc(&proc_dir, Some(NOBODY), args) {
                report.push_str(&e);
            }
        }
    }
    assert!(report.is_empty(), "{report}");
}

const NOBODY: u32 = 65534;

fn set_mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries = fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    for entry in entries.flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            copy_tree(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pseudo-random files: both tools on the same fake /proc

/// A small deterministic generator (64-bit LCG, high bits).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        // n is small; the modulo bias does not matter here.
        (self.next() % n.max(1) as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

use netstat_user::stats::table;

fn keys_of(entries: &[table::Entry]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e.key.trim_end().to_owned())
        .collect()
}

/// A value as text: zero often, small, large, the limits, and odd spellings.
fn value_text(r: &mut Lcg, odd: bool) -> String {
    match r.below(if odd { 12 } else { 8 }) {
        0..=2 => "0".into(),
        3..=5 => (r.next() % 1000).to_string(),
        6 => (r.next() * r.next()).to_string(),
        7 => "18446744073709551615".into(),
        8 => "-1".into(),
        9 => "99999999999999999999".into(),
        10 => "x".into(),
        _ => "+7".into(),
    }
}

/// Keys for a section: some of the table's keys in a shuffled order, some unknown ones.
fn section_keys(r: &mut Lcg, table_keys: &[String], extra: &[&str]) -> Vec<String> {
    let mut keys: Vec<String> = table_keys
        .iter()
        .filter(|_| r.chance(70))
        .cloned()
        .collect();
    for k in extra {
        if r.chance(50) {
            keys.push((*k).to_owned());
        }
    }
    // Mostly kernel order (shuffled a little), sometimes fully shuffled.
    let swaps = if r.chance(30) { keys.len() * 2 } else { 3 };
    for _ in 0..swaps {
        let (a, b) = (r.below(keys.len()), r.below(keys.len()));
        if !keys.is_empty() {
            keys.swap(a, b);
        }
    }
    keys
}

fn pair_section(r: &mut Lcg, title: &str, keys: &[String], odd: bool) -> String {
    let mut s = format!("{title}:");
    for k in keys {
        s.push_str(if odd && r.chance(10) { "\t" } else { " " });
        s.push_str(k);
    }
    s.push('\n');
    s.push_str(title);
    s.push(':');
    let n = if odd && r.chance(20) {
        keys.len().saturating_sub(2)
    } else {
        keys.len()
    };
    for _ in 0..n {
        s.push(' ');
        s.push_str(&value_text(r, odd));
    }
    s.push('\n');
    s
}

fn fuzz_tree(r: &mut Lcg, root: &Path) {
    let net = root.join("net");
    fs::create_dir_all(&net).unwrap_or_else(|e| panic!("{e}"));
    let odd = r.chance(30);
    let snmp_sections: Vec<(&str, Vec<String>, &[&str])> = vec![
        ("Ip", keys_of(table::IP), &["OutTransmits", "Bogus"]),
        (
            "Icmp",
            keys_of(table::ICMP),
            &["InCsumErrors", "OutRateLimitHost"],
        ),
        (
            "IcmpMsg",
            vec![],
            &["InType3", "OutType3", "InType8", "OutType0"],
        ),
        ("Tcp", keys_of(table::TCP), &["InCsumErrors"]),
        (
            "Udp",
            keys_of(table::UDP),
            &["InCsumErrors", "IgnoredMulti", "MemErrors"],
        ),
        ("UdpLite", keys_of(table::UDP), &["InCsumErrors"]),
        ("Sctp", keys_of(table::SCTP), &[]),
    ];
    let mut snmp = String::new();
    if r.chance(10) {
        snmp.push('\n');
    }
    for (title, keys, extra) in &snmp_sections {
        if *title == "Sctp" && !r.chance(15) {
            continue;
        }
        let keys = section_keys(r, keys, extra);
        snmp.push_str(&pair_section(r, title, &keys, odd));
    }
    if odd && r.chance(15) {
        snmp.push_str("garbage without colon\nmore\n");
    }
    if odd && r.chance(10) {
        snmp.push_str("Tcp: ActiveOpens\n");
    }
    fs::write(net.join("snmp"), snmp).unwrap_or_else(|e| panic!("{e}"));

    if r.chance(85) {
        let mut netstat = String::new();
        let ext = keys_of(table::TCP_EXT);
        let keys = section_keys(r, &ext, &["TCPLostRetransmit", "TCPBacklogCoalesce"]);
        netstat.push_str(&pair_section(r, "TcpExt", &keys, odd));
        let ip_ext = ["InNoRoutes", "InOctets", "OutOctets", "InNoECTPkts"];
        let keys = section_keys(r, &[], &ip_ext);
        netstat.push_str(&pair_section(r, "IpExt", &keys, odd));
        if r.chance(50) {
            let keys = section_keys(r, &[], &["MPCapableSYNRX", "MPTCPRetrans"]);
            netstat.push_str(&pair_section(r, "MPTcpExt", &keys, odd));
        }
        fs::write(net.join("netstat"), netstat).unwrap_or_else(|e| panic!("{e}"));
    }

    if r.chance(90) {
        let mut snmp6 = String::new();
        let groups: Vec<(Vec<String>, &[&str])> = vec![
            (keys_of(table::IP6), &["Ip6InOctets", "Ip6OutTransmits"]),
            (
                keys_of(table::ICMP6),
                &[
                    "Icmp6OutErrors",
                    "Icmp6InType1",
                    "Icmp6OutType135",
                    "Icmp6OutMLDv2Reports",
                ],
            ),
            (
                keys_of(table::UDP6),
                &["Udp6RcvbufErrors", "Udp6InCsumErrors"],
            ),
            (vec![], &["UdpLite6InDatagrams", "UdpLite6NoPorts"]),
        ];
        for (keys, extra) in &groups {
            for k in section_keys(r, keys, extra) {
                let pad = 32usize.saturating_sub(k.len());
                let sep = if odd && r.chance(20) {
                    " ".to_owned()
                } else {
                    format!("{:pad$}\t", "")
                };
                // Before the first number is scanned net-tools' `val` is uninitialised:
                // the first line always has a number.
                let value = value_text(r, odd && !snmp6.is_empty());
                snmp6.push_str(&format!("{k}{sep}{value}\n"));
                if odd && r.chance(5) && !snmp6.is_empty() {
                    snmp6.push('\n');
                }
            }
        }
        fs::write(net.join("snmp6"), snmp6).unwrap_or_else(|e| panic!("{e}"));
    }

    if r.chance(25) {
        let mut sctp = String::new();
        for k in section_keys(r, &keys_of(table::SCTP), &["SctpT1InitExpireds"]) {
            let pad = 32usize.saturating_sub(k.len());
            sctp.push_str(&format!("{k}{:pad$}\t{}\n", "", value_text(r, false)));
        }
        fs::create_dir_all(net.join("sctp")).unwrap_or_else(|e| panic!("{e}"));
        fs::write(net.join("sctp/snmp"), sctp).unwrap_or_else(|e| panic!("{e}"));
    }
}

const FUZZ_ARG_SETS: &[&[&str]] = &[
    &["-s"],
    &["-st"],
    &["-su"],
    &["-sw"],
    &["-sS"],
    &["-sU"],
    &["-s6"],
    &["-s6t"],
    &["-s6u"],
    &["-s6w"],
    &["-stu"],
    &["-swS"],
];

/// Pseudo-random counter files (known keys in and out of order, unknown keys and
/// sections, zeros, odd values, malformed pairs, SCTP): both tools print the same.
#[test]
fn fuzzed_files_match_net_tools() {
    require_root();
    // STATS_FUZZ_CASES=5000 for a longer hunt.
    let cases: u64 = std::env::var("STATS_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let mut report = String::new();
    let mut failures = 0;
    for seed in 0..cases {
        let mut r = Lcg(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5eed);
        let dir = TempDir::new("stats");
        let proc_dir = dir.path().join("proc");
        fuzz_tree(&mut r, &proc_dir);
        let arg_sets = [*r.pick(FUZZ_ARG_SETS), *r.pick(FUZZ_ARG_SETS)];
        let failed: Vec<String> = arg_sets
            .iter()
            .filter_map(|args| check_fake_proc(&proc_dir, None, args).err())
            .collect();
        if let Some(e) = failed.first() {
            failures += 1;
            if failures <= 3 {
                let _ = writeln!(report, "seed {seed}: {e}");
                for f in ["snmp", "netstat", "snmp6", "sctp/snmp"] {
                    if let Ok(text) = fs::read_to_string(proc_dir.join("net").join(f)) {
                        let _ = writeln!(report, "--- {f}:\n{text}");
                    }
                }
            }
        }
    }
    assert!(
        failures == 0,
        "{failures} of {cases} fuzzed cases differ; the first ones:\n{report}"
    );
}

// ---------------------------------------------------------------------------------------------
// A live namespace with traffic

fn netns_path(ns: &Netns) -> String {
    format!("/run/netns/{}", ns.name())
}

/// Runs `f` on a thread that has joined `ns` (setns changes only the calling thread).
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = netns_path(ns);
    thread::spawn(move || {
        let file = fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: a valid namespace fd; only this thread moves.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", io::Error::last_os_error());
        f()
    })
    .join()
    .unwrap_or_else(|_| panic!("the thread in the namespace panicked"))
}

/// Writes a sysctl of the calling thread's network namespace.
fn sysctl(name: &str, value: &str) {
    let path = format!("/proc/sys/{}", name.replace('.', "/"));
    fs::write(&path, value).unwrap_or_else(|e| panic!("write {path}: {e}"));
}

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
    assert!(
        out.status.success(),
        "`ip {}` failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The traffic's peers: our side and the other end of the veth.
struct Scene {
    ns: Netns,
    _peer: Netns,
    peer_v4: Ipv4Addr,
    peer_v6: Ipv6Addr,
}

/// A namespace linked to a peer by a veth pair, made quiet first: no router
/// solicitations and no duplicate address detection (their timers would move the
/// ICMPv6 counters for seconds to hours).
fn quiet_pair() -> Scene {
    let ns = Netns::new();
    let peer = Netns::new();
    for n in [&ns, &peer] {
        in_netns(n, || {
            for conf in ["all", "default"] {
                sysctl(&format!("net.ipv6.conf.{conf}.router_solicitations"), "0");
                sysctl(&format!("net.ipv6.conf.{conf}.accept_dad"), "0");
                sysctl(&format!("net.ipv6.conf.{conf}.dad_transmits"), "0");
            }
        });
    }
    let octet = u8::try_from(std::process::id() % 200 + 10).unwrap_or(10);
    let (v4, peer_v4) = (
        Ipv4Addr::new(10, 201, octet, 1),
        Ipv4Addr::new(10, 201, octet, 2),
    );
    let (v6, peer_v6) = (
        Ipv6Addr::new(0xfd00, 0x201, u16::from(octet), 0, 0, 0, 0, 1),
        Ipv6Addr::new(0xfd00, 0x201, u16::from(octet), 0, 0, 0, 0, 2),
    );
    let (a, b) = (ns.name().to_owned(), peer.name().to_owned());
    ip(&[
        "-n", &a, "link", "add", "veth0", "type", "veth", "peer", "name", "veth0", "netns", &b,
    ]);
    ip(&["-n", &a, "addr", "add", &format!("{v4}/24"), "dev", "veth0"]);
    ip(&[
        "-n",
        &b,
        "addr",
        "add",
        &format!("{peer_v4}/24"),
        "dev",
        "veth0",
    ]);
    ip(&[
        "-n",
        &a,
        "-6",
        "addr",
        "add",
        &format!("{v6}/64"),
        "dev",
        "veth0",
        "nodad",
    ]);
    ip(&[
        "-n",
        &b,
        "-6",
        "addr",
        "add",
        &format!("{peer_v6}/64"),
        "dev",
        "veth0",
        "nodad",
    ]);
    ip(&["-n", &a, "link", "set", "veth0", "up"]);
    ip(&["-n", &b, "link", "set", "veth0", "up"]);
    Scene {
        ns,
        _peer: peer,
        peer_v4,
        peer_v6,
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in data.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

fn raw_socket(family: libc::c_int, proto: libc::c_int) -> OwnedFd {
    // SAFETY: plain syscall; the fd is owned right away.
    let fd = unsafe { libc::socket(family, libc::SOCK_RAW | libc::SOCK_CLOEXEC, proto) };
    assert!(fd >= 0, "raw socket: {}", io::Error::last_os_error());
    // SAFETY: fd is a fresh descriptor we own.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 200_000,
    };
    // SAFETY: valid fd and a timeval of the right size.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    fd
}

/// `count` ICMP (or ICMPv6) echo requests to `dst`, each waited for (bounded).
fn ping(dst: IpAddr, count: u16) {
    let (fd, request, reply) = match dst {
        IpAddr::V4(_) => (raw_socket(libc::AF_INET, libc::IPPROTO_ICMP), 8u8, 0u8),
        IpAddr::V6(_) => (raw_socket(libc::AF_INET6, libc::IPPROTO_ICMPV6), 128, 129),
    };
    // SAFETY: sockaddr_storage is plain data; all-zero is valid.
    let mut ss: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match dst {
        IpAddr::V4(a) => {
            // SAFETY: sockaddr_in fits in sockaddr_storage.
            let sin = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in>() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        IpAddr::V6(a) => {
            // SAFETY: sockaddr_in6 fits in sockaddr_storage.
            let sin6 = unsafe { &mut *(&raw mut ss).cast::<libc::sockaddr_in6>() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    let id: u16 = 0x5a17;
    for seq in 0..count {
        let mut pkt = vec![request, 0, 0, 0];
        pkt.extend_from_slice(&id.to_be_bytes());
        pkt.extend_from_slice(&seq.to_be_bytes());
        pkt.extend_from_slice(b"netstat -s test!");
        if dst.is_ipv4() {
            // The kernel computes ICMPv6 checksums itself (IPV6_CHECKSUM is forced on).
            let sum = checksum(&pkt);
            pkt[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        // SAFETY: valid fd, buffer and address of `len` bytes.
        let sent = unsafe {
            libc::sendto(
                fd.as_raw_fd(),
                pkt.as_ptr().cast(),
                pkt.len(),
                0,
                (&raw const ss).cast(),
                len as libc::socklen_t,
            )
        };
        assert!(sent >= 0, "sendto {dst}: {}", io::Error::last_os_error());
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut buf = [0u8; 1500];
        while Instant::now() < deadline {
            // SAFETY: valid fd and buffer.
            let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            let Ok(n) = usize::try_from(n) else {
                continue;
            };
            // IPv4 raw sockets deliver the IP header; IPv6 ones do not.
            let icmp = if dst.is_ipv4() {
                let ihl = usize::from(buf[0] & 0x0f) * 4;
                &buf[ihl.min(n)..n]
            } else {
                &buf[..n]
            };
            if icmp.len() >= 8 && icmp[0] == reply && icmp[4..6] == id.to_be_bytes() {
                break;
            }
        }
    }
}

fn set_linger_zero(fd: &impl AsRawFd) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: valid fd and a linger struct of the right size.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&raw const linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER: {}", io::Error::last_os_error());
}

/// One TCP exchange to `addr`, closed with RST on both sides (no TIME_WAIT left behind).
fn tcp_exchange(addr: SocketAddr) {
    let listener = TcpListener::bind(addr).unwrap_or_else(|e| panic!("bind {addr}: {e}"));
    let at = listener.local_addr().unwrap_or(addr);
    let client = TcpStream::connect_timeout(&at, Duration::from_secs(2))
        .unwrap_or_else(|e| panic!("connect {at}: {e}"));
    let (mut server, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
    let mut client = client;
    for s in [&client, &server] {
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    }
    client
        .write_all(&[b'x'; 3000])
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 3000];
    server
        .read_exact(&mut buf)
        .unwrap_or_else(|e| panic!("{e}"));
    server.write_all(b"ok").unwrap_or_else(|e| panic!("{e}"));
    let mut two = [0u8; 2];
    client
        .read_exact(&mut two)
        .unwrap_or_else(|e| panic!("{e}"));
    set_linger_zero(&client);
    drop(client);
    set_linger_zero(&server);
    drop(server);
}

/// Datagrams to a bound socket, and one to a closed port (ICMP port unreachable).
fn udp_exchange(local: IpAddr, count: usize) {
    let rx = UdpSocket::bind((local, 0)).unwrap_or_else(|e| panic!("bind {local}: {e}"));
    let _ = rx.set_read_timeout(Some(Duration::from_secs(2)));
    let to = rx.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let tx = UdpSocket::bind((local, 0)).unwrap_or_else(|e| panic!("bind {local}: {e}"));
    let mut buf = [0u8; 64];
    for _ in 0..count {
        tx.send_to(b"stats", to)
            .unwrap_or_else(|e| panic!("send {to}: {e}"));
        let _ = rx.recv_from(&mut buf);
    }
    // A port nobody holds: the port of a socket just closed.
    let closed = {
        let s = UdpSocket::bind((local, 0)).unwrap_or_else(|e| panic!("{e}"));
        s.local_addr().unwrap_or_else(|e| panic!("{e}"))
    };
    let _ = tx.send_to(b"nobody", closed);
    thread::sleep(Duration::from_millis(50));
}

/// A snapshot of the counters of the calling thread's namespace.
fn counters() -> Vec<u8> {
    let mut all = Vec::new();
    for f in ["snmp", "netstat", "snmp6"] {
        all.extend(fs::read(format!("/proc/thread-self/net/{f}")).unwrap_or_default());
    }
    all
}

/// Waits (at most 20 s) until the namespace's counters have not moved for a second.
/// Returns whether they settled.
fn settle(ns: &Netns) -> bool {
    in_netns(ns, || {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = counters();
        let mut still_since = Instant::now();
        while Instant::now() < deadline {
            thread::sleep(Duration::from_millis(200));
            let now = counters();
            if now != last {
                last = now;
                still_since = Instant::now();
            } else if still_since.elapsed() >= Duration::from_secs(1) {
                return true;
            }
        }
        false
    })
}

/// The traffic of the live tests (bounded: a few packets of each kind).
fn make_traffic(s: &Scene) {
    let (peer_v4, peer_v6) = (s.peer_v4, s.peer_v6);
    in_netns(&s.ns, move || {
        ping(IpAddr::V4(Ipv4Addr::LOCALHOST), 3);
        ping(IpAddr::V6(Ipv6Addr::LOCALHOST), 2);
        ping(IpAddr::V4(peer_v4), 2);
        ping(IpAddr::V6(peer_v6), 2);
        udp_exchange(IpAddr::V4(Ipv4Addr::LOCALHOST), 5);
        udp_exchange(IpAddr::V6(Ipv6Addr::LOCALHOST), 4);
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let addr = addr
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .unwrap_or_else(|| panic!("{addr}"));
            tcp_exchange(addr);
        }
    });
    if !settle(&s.ns) {
        eprintln!("note: the counters of {} kept moving for 20 s", s.ns.name());
    }
}

/// Numbers that stand alone as words become `#` (names such as `InType3` keep theirs).
fn mask_numbers(line: &[u8]) -> Vec<u8> {
    let words: Vec<&[u8]> = line.split(|b| *b == b' ').collect();
    let masked: Vec<&[u8]> = words
        .iter()
        .map(|w| {
            if !w.is_empty() && w.iter().all(u8::is_ascii_digit) {
                &b"#"[..]
            } else {
                *w
            }
        })
        .collect();
    masked.join(&b' ')
}

/// net-tools, ours, net-tools again in `ns`; see the module doc for what may differ.
fn check_moving(ns: &Netns, args: &[&str]) -> Result<(), String> {
    let first = run_netstat_in(ns, &real(), None, args);
    let ours_out = run_netstat_in(ns, &ours(), None, args);
    let second = run_netstat_in(ns, &real(), None, args);
    let head = format!("`netstat {}` in {}:\n", args.join(" "), ns.name());
    match compare_runs(&first, &ours_out, &second) {
        Ok(Compared::Exact) => Ok(()),
        Ok(Compared::Shape) => {
            eprintln!("note: {head}counters moved between the runs; compared by shape");
            Ok(())
        }
        Err(report) => Err(head + &report),
    }
}

/// How [`compare_runs`] accepted ours.
#[derive(Debug, PartialEq, Eq)]
enum Compared {
    /// The two net-tools runs were equal, and ours equals them.
    Exact,
    /// Counters moved between the net-tools runs; ours has their shape (module doc).
    Shape,
}

/// Ours against net-tools run before (`first`) and after (`second`) it.
fn compare_runs(first: &Output, ours_out: &Output, second: &Output) -> Result<Compared, String> {
    if first.stdout == second.stdout {
        return diff_outputs_with(first, ours_out, RowOrder::Exact).map(|()| Compared::Exact);
    }
    let mut report = String::new();
    if first.code() != ours_out.code() {
        let _ = writeln!(
            report,
            "exit code: real {:?}, ours {:?}",
            first.code(),
            ours_out.code()
        );
    }
    if first.stderr != ours_out.stderr {
        let _ = writeln!(
            report,
            "stderr differs:\n{}",
            unified_diff(&split_lines(&first.stderr), &split_lines(&ours_out.stderr))
        );
    }
    let (a, b, c) = (
        split_lines(&first.stdout),
        split_lines(&ours_out.stdout),
        split_lines(&second.stdout),
    );
    let masked = |v: &[Vec<u8>]| v.iter().map(|l| mask_numbers(l)).collect::<Vec<_>>();
    let (ma, mb, mc) = (masked(&a), masked(&b), masked(&c));
    if mb != ma && mb != mc {
        let _ = writeln!(
            report,
            "the lines differ beyond moving numbers (masked as #):\n{}",
            unified_diff(&ma, &mb)
        );
    } else if a.len() == c.len() && b.len() == a.len() {
        for i in 0..a.len() {
            if a[i] == c[i] && b[i] != a[i] {
                let _ = writeln!(
                    report,
                    "line {} did not move in net-tools but ours differs:\n-{}\n+{}",
                    i + 1,
                    String::from_utf8_lossy(&a[i]),
                    String::from_utf8_lossy(&b[i])
                );
            }
        }
    }
    if report.is_empty() {
        Ok(Compared::Shape)
    } else {
        Err(report)
    }
}

/// Every option set the live tests run, in one namespace (traffic once, then all runs).
const LIVE_ARG_SETS: &[&[&str]] = &[
    &["-s"],
    &["-st"],
    &["-su"],
    &["-sw"],
    &["-s4"],
    &["-s", "-A", "inet"],
    &["-s6"],
    &["-s", "-A", "inet6"],
    &["-s", "--inet6", "-t"],
    &["-s6u"],
    &["-s6w"],
    &["-sS"],
    &["-sU"],
    &["-se"],
    &["-s", "-e", "-e", "-n", "-a", "-v"],
    &["-stuw"],
    &["--statistics", "--tcp"],
    // -c is ignored by -s: one round, exit 0.
    &["-sc"],
    &["-s6c"],
    // Family errors (stdout message, exit 1).
    &["-s", "-x"],
    &["-s", "-A", "unix"],
    &["-s", "-4", "-6"],
    &["-s", "-A", "inet,inet6"],
    &["-s", "-A", "inet6,inet"],
    &["-s", "-A", "inet,inet"],
    // Two modes: usage, exit 3.
    &["-s", "-r"],
    &["-ss"],
];

#[test]
fn live_namespace_matches_net_tools() {
    require_root();
    let scene = quiet_pair();
    make_traffic(&scene);
    let mut report = String::new();
    for args in LIVE_ARG_SETS {
        if let Err(e) = check_moving(&scene.ns, args) {
            report.push_str(&e);
            report.push('\n');
        }
    }
    assert!(report.is_empty(), "{report}");
}

/// The traffic really moved the counters these tests are about (otherwise the live test
/// would compare mostly zeros).
#[test]
fn traffic_moves_the_counters() {
    require_root();
    let scene = quiet_pair();
    make_traffic(&scene);
    let out = run_netstat_in(&scene.ns, &real(), None, &["-s"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "echo requests: ",
        "echo replies: ",
        "destination unreachable: ",
        "connection resets received",
        "InType8: ",
    ] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
    let out = run_netstat_in(&scene.ns, &real(), None, &["-s6"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for want in ["echo replies: ", "neighbor solicits: ", "packets received"] {
        assert!(text.contains(want), "no `{want}` in:\n{text}");
    }
}

/// Re-records `tests/data/stats/netns/proc/net/` from a namespace after `make_traffic`:
/// part of the bless step (`STATS_BLESS=1`), before the golden output is rewritten.
fn record_namespace_counters() {
    require_root();
    let scene = quiet_pair();
    make_traffic(&scene);
    let files = in_netns(&scene.ns, || {
        ["snmp", "netstat", "snmp6"].map(|f| {
            (
                f,
                fs::read(format!("/proc/thread-self/net/{f}")).unwrap_or_default(),
            )
        })
    });
    let net = data_dir().join("netns/proc/net");
    fs::create_dir_all(&net).unwrap_or_else(|e| panic!("{}: {e}", net.display()));
    for (name, bytes) in files {
        fs::write(net.join(name), bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

// ---------------------------------------------------------------------------------------------
// Self-checks of the helpers (no root)

#[test]
fn numbers_are_masked_only_as_whole_words() {
    assert_eq!(
        mask_numbers(b"        InType3: 3"),
        b"        InType3: #".to_vec()
    );
    assert_eq!(
        mask_numbers(b"    12 active connection openings"),
        b"    # active connection openings".to_vec()
    );
    assert_eq!(mask_numbers(b"Icmp6:"), b"Icmp6:".to_vec());
}

#[test]
fn arg_names_are_file_names() {
    assert_eq!(arg_name(&["-s6t"]), "s6t");
    assert_eq!(arg_name(&["-s", "-A", "inet6"]), "s_A_inet6");
}

fn output(stdout: &str, stderr: &str, code: i32) -> Output {
    use std::os::unix::process::ExitStatusExt;
    Output {
        stdout: stdout.as_bytes().to_vec(),
        stderr: stderr.as_bytes().to_vec(),
        status: std::process::ExitStatus::from_raw(code << 8),
    }
}

#[test]
fn moving_counters_are_compared_by_shape_and_still_ones_exactly() {
    let a = output("Tcp:\n    5 segments received\n    2 resets sent\n", "", 0);
    let c = output("Tcp:\n    9 segments received\n    2 resets sent\n", "", 0);
    // Stable: exact only.
    assert_eq!(compare_runs(&a, &a, &a), Ok(Compared::Exact));
    assert!(compare_runs(&a, &c, &a).is_err());
    // Moving: any value of the moving line, the still line exactly.
    let b = output("Tcp:\n    7 segments received\n    2 resets sent\n", "", 0);
    assert_eq!(compare_runs(&a, &b, &c), Ok(Compared::Shape));
    let wrong_still = output("Tcp:\n    7 segments received\n    3 resets sent\n", "", 0);
    assert!(compare_runs(&a, &wrong_still, &c).is_err());
    let wrong_words = output("Tcp:\n    7 segments sent\n    2 resets sent\n", "", 0);
    assert!(compare_runs(&a, &wrong_words, &c).is_err());
    let missing = output("Tcp:\n    7 segments received\n", "", 0);
    assert!(compare_runs(&a, &missing, &c).is_err());
    // A raw counter that appears between the runs: ours may have either shape.
    let c2 = output(
        "Tcp:\n    9 segments received\n    2 resets sent\n    X: 1\n",
        "",
        0,
    );
    let appeared = output(
        "Tcp:\n    7 segments received\n    2 resets sent\n    X: 1\n",
        "",
        0,
    );
    assert_eq!(compare_runs(&a, &appeared, &c2), Ok(Compared::Shape));
    assert_eq!(compare_runs(&a, &b, &c2), Ok(Compared::Shape));
    // stderr and the exit code are exact.
    assert!(
        compare_runs(
            &a,
            &output(
                "Tcp:\n    7 segments received\n    2 resets sent\n",
                "x\n",
                0
            ),
            &c
        )
        .is_err()
    );
    assert!(
        compare_runs(
            &a,
            &output("Tcp:\n    7 segments received\n    2 resets sent\n", "", 1),
            &c
        )
        .is_err()
    );
}
