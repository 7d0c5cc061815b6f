//! Privileged: the privilege matrix of issue 7 ("Hardening").
//!
//! Callers:
//! * **root** (uid 0, every capability);
//! * **capped**: uid 0 with only the capabilities `packaging/netstat-agent.service` gives
//!   the agent (read from the unit, as `agent_caps.rs` does), nothing inheritable or
//!   ambient. That is what "only the capabilities the service needs" means for a caller:
//!   the same uid and set as the service. It may read every `/proc/PID/fd`
//!   (CAP_SYS_PTRACE, CAP_DAC_READ_SEARCH) and is root to the agent (uid 0), so it must
//!   see everyone's owners, as root does;
//! * two **unprivileged users** A and B: uids that `/etc/passwd` does not know (checked),
//!   through `setpriv --reuid --regid --clear-groups`, so no account is created.
//!
//! In a network namespace root, A and B each hold a TCP listener, connections to the
//! other two's listeners (both ends named), a UDP socket and a unix listener. Each caller
//! runs each mode without an agent, then with one started as the unit starts it (uid 0 +
//! the unit's capabilities) on those sockets (made before it: it cannot seed them, lacking
//! CAP_SYS_ADMIN to enter the namespace) and on a second such namespace made after it
//! (every socket tracked, other users' included: where a leak through the agent would
//! show). Modes: `-tanp`, `-tunlpe`, `-xp`, `-axp`, `-tuanpW`, `-r`, `-i`, `-g`, `-s`,
//! `-M`, compared with `/usr/bin/netstat` run by the same caller in the same namespace
//! (stdout, stderr, exit code; rows sorted), and for the capped caller also with
//! net-tools run by root; `-anp --json` (the owner of every socket both show equal to
//! net-tools' `-anp`, no pid or comm of a helper the caller may not see); `-tanpc` (its
//! first round); `--watch` and `--audit` (root and capped: a connection of user A shows
//! with A's pid; users: refused); `--agent` (users: refused; exit 1 and one line naming
//! root, as documented under EXIT STATUS); the metrics endpoints (TCP: no owner series
//! for anyone; unix: uid 0 only). Unprivileged users must see their own processes named
//! and nobody else's; root and the capped caller everyone's. `-M` is privileged in ours
//! (conntrack, see masquerade.rs): there the capped caller is compared with root.
//!
//! The second test checks what the agent exposes: every unix socket it listens on (found
//! from its descriptors, not from a list written here) is root's, mode 0600, refuses a
//! connection from A, and refuses A's query or scrape by peer uid even when an admin
//! opens its mode; the TCP metrics endpoint serves no owner; the agent pins nothing in
//! bpffs, and A can neither read its `/proc/PID/fd` nor reach its maps through bpf().
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --release --test
//! privileges -- --test-threads=1`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    AGENT_SOCKET_ENV, Agent, PYTHON, Script, UNIX_CLIENT, hex, hex_decode, inet_rows, python_as,
    show_output, unit_bounding_set,
};
use netstat_tests::json::Schema;
use netstat_tests::{
    Netns, Output, TempDir, diff_outputs, ip_bin, ours, real, require_root, run_in, setpriv_bin,
};

/// The unit as packaged.
const UNIT: &str = include_str!("../../packaging/netstat-agent.service");
/// The two unprivileged users (no account: checked in [`check_users_unknown`]).
const USER_A: u32 = 61_701;
const USER_B: u32 = 61_702;
/// Helper scripts outlive the whole test (the default 300 s could end inside it).
const LIFETIME: &str = "900";
/// How long a live mode may take to print what it is waited for.
const LIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// How often a comparison is retried while net-tools does not agree with itself.
const ATTEMPTS: u32 = 5;

fn unit_caps() -> Vec<String> {
    unit_bounding_set(UNIT).unwrap_or_else(|e| panic!("packaging/netstat-agent.service: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Callers

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Root,
    /// uid 0 with the unit's capabilities only.
    Capped,
    User(u32),
}

impl Caller {
    fn name(self) -> String {
        match self {
            Caller::Root => "root".into(),
            Caller::Capped => "uid 0 with the unit's capabilities".into(),
            Caller::User(u) => format!("uid {u}"),
        }
    }

    fn privileged(self) -> bool {
        !matches!(self, Caller::User(_))
    }

    /// `setpriv ... --` (or nothing) to put before the program.
    fn prefix(self, caps: &[String]) -> Vec<String> {
        match self {
            Caller::Root => Vec::new(),
            Caller::Capped => {
                let mut bounding = String::from("-all");
                for cap in caps {
                    let name = cap.strip_prefix("CAP_").unwrap_or(cap).to_ascii_lowercase();
                    bounding.push_str(",+");
                    bounding.push_str(&name);
                }
                [
                    setpriv_bin(),
                    "--bounding-set",
                    &bounding,
                    "--inh-caps",
                    "-all",
                    "--ambient-caps",
                    "-all",
                    "--",
                ]
                .map(String::from)
                .to_vec()
            }
            Caller::User(u) => vec![
                setpriv_bin().to_string(),
                format!("--reuid={u}"),
                format!("--regid={u}"),
                "--clear-groups".to_string(),
                "--".to_string(),
            ],
        }
    }
}

/// The whole command line of `binary` run as `netstat args` by `caller` in a namespace:
/// `env -i` (so nothing of the test's environment leaks in) with `PATH` starting at a
/// directory holding a `netstat` symlink (argv\[0\] is exactly `netstat`), `LC_ALL=C` and
/// the agent's socket path.
struct Invocation {
    argv: Vec<String>,
    _bin_dir: TempDir,
}

fn invocation(
    caller: Caller,
    caps: &[String],
    binary: &Path,
    socket: &Path,
    args: &[&str],
) -> Invocation {
    let dir = TempDir::new("bin");
    let link = dir.path().join("netstat");
    if let Err(e) = std::os::unix::fs::symlink(binary, &link) {
        panic!("symlink {} -> {}: {e}", link.display(), binary.display());
    }
    let mut argv = vec![
        "-i".to_string(),
        format!(
            "PATH={}:/usr/sbin:/usr/bin:/sbin:/bin",
            dir.path().display()
        ),
        "LC_ALL=C".to_string(),
        format!("{AGENT_SOCKET_ENV}={}", socket.display()),
    ];
    argv.extend(caller.prefix(caps));
    argv.push("netstat".into());
    argv.extend(args.iter().map(|a| (*a).to_string()));
    Invocation {
        argv,
        _bin_dir: dir,
    }
}

fn run_as(
    ns: &Netns,
    caller: Caller,
    caps: &[String],
    binary: &Path,
    socket: &Path,
    args: &[&str],
) -> Output {
    let inv = invocation(caller, caps, binary, socket, args);
    run_in(ns, "/usr/bin/env", &inv.argv)
}

// ---------------------------------------------------------------------------------------------
// The namespace's sockets

/// Which helper: what sockets it holds, so each mode knows whom it must name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A TCP listener and the connections it accepted.
    Server,
    /// TCP connections to the other two users' servers.
    Client,
    /// A bound UDP socket.
    Udp,
    /// A unix listener.
    Unix,
}

/// What root, A and B hold in the namespace: their helper processes' pids.
struct World {
    ns: Netns,
    /// By user (`root`, `uid N`), then kind.
    pids: BTreeMap<String, BTreeMap<Kind, u32>>,
    servers: BTreeMap<String, u16>,
    _scripts: Vec<Script>,
    _dirs: Vec<TempDir>,
}

fn who_key(uid: Option<u32>) -> String {
    uid.map_or_else(|| "root".to_string(), |u| format!("uid {u}"))
}

impl World {
    fn build() -> World {
        let ns = Netns::new();
        let mut scripts = Vec::new();
        let mut dirs = Vec::new();
        let mut pids: BTreeMap<String, BTreeMap<Kind, u32>> = BTreeMap::new();
        let mut servers = BTreeMap::new();
        let holders = [None, Some(USER_A), Some(USER_B)];
        let mut accepting = Vec::new();
        for uid in holders {
            let who = who_key(uid);
            let comm = format!("nst-srv-{}", uid.unwrap_or(0));
            let mut s = Script::start_as(
                &ns,
                uid,
                "server",
                &[
                    "--lifetime",
                    LIFETIME,
                    "--comm",
                    &comm,
                    "--listen",
                    "127.0.0.1:0",
                ],
            );
            let f = s.expect("listen");
            servers.insert(who.clone(), s.num(&f, 1, "port"));
            pids.entry(who).or_default().insert(Kind::Server, s.pid());
            accepting.push(s);
        }
        for uid in holders {
            let who = who_key(uid);
            // A connection to each of the other two's listeners.
            let mut args = vec!["--lifetime", LIFETIME];
            let targets: Vec<String> = servers
                .iter()
                .filter(|(w, _)| **w != who)
                .map(|(_, p)| format!("127.0.0.1:{p}"))
                .collect();
            for t in &targets {
                args.extend(["--connect", t.as_str()]);
            }
            let comm = format!("nst-cli-{}", uid.unwrap_or(0));
            args.extend(["--comm", comm.as_str()]);
            let mut c = Script::start_as(&ns, uid, "client", &args);
            c.expect_n("conn", targets.len());
            pids.entry(who.clone())
                .or_default()
                .insert(Kind::Client, c.pid());
            scripts.push(c);
            let comm = format!("nst-udp-{}", uid.unwrap_or(0));
            let u = Script::start_as(
                &ns,
                uid,
                "udp",
                &[
                    "--lifetime",
                    LIFETIME,
                    "--comm",
                    &comm,
                    "--bind",
                    "127.0.0.1:0",
                ],
            );
            pids.entry(who.clone())
                .or_default()
                .insert(Kind::Udp, u.pid());
            scripts.push(u);
            // A unix listener in a directory of its own.
            let dir = TempDir::new("unix");
            if let Some(u) = uid {
                std::os::unix::fs::chown(dir.path(), Some(u), Some(u))
                    .unwrap_or_else(|e| panic!("chown {}: {e}", dir.path().display()));
            }
            let path = dir.path().join("listener.sock");
            let path = path.to_str().unwrap_or_default().to_string();
            let comm = format!("nst-unix-{}", uid.unwrap_or(0));
            let r = Script::start_as(
                &ns,
                uid,
                "receiver",
                &["--lifetime", LIFETIME, "--comm", &comm, "--unix", &path],
            );
            pids.entry(who).or_default().insert(Kind::Unix, r.pid());
            scripts.push(r);
            dirs.push(dir);
        }
        // Every connection accepted: none waits in an accept queue (net-tools shows `-`
        // for those, the agent names them; not this test's subject).
        for s in &mut accepting {
            s.expect_n("accepted", 2);
        }
        scripts.extend(accepting);
        World {
            ns,
            pids,
            servers,
            _scripts: scripts,
            _dirs: dirs,
        }
    }

    /// The caller's own helpers (root's for both uid-0 callers).
    fn pids_of(&self, caller: Caller) -> BTreeSet<u32> {
        let key = match caller {
            Caller::User(u) => who_key(Some(u)),
            _ => who_key(None),
        };
        self.pids
            .get(&key)
            .map(|k| k.values().copied().collect())
            .unwrap_or_default()
    }

    fn all_pids(&self) -> BTreeSet<u32> {
        self.pids
            .values()
            .flat_map(|k| k.values().copied())
            .collect()
    }

    /// The helpers of `kinds` the caller must see named: its own, or everyone's when
    /// privileged.
    fn visible(&self, caller: Caller, kinds: &[Kind]) -> BTreeSet<u32> {
        let own = self.pids_of(caller);
        self.pids
            .values()
            .flat_map(|k| k.iter())
            .filter(|(kind, pid)| {
                kinds.contains(kind) && (caller.privileged() || own.contains(pid))
            })
            .map(|(_, pid)| *pid)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Comparisons

/// Ours as `caller` against `reference` (net-tools as the same caller, or as root), retried
/// while the reference moves by itself.
fn compare(
    w: &World,
    caller: Caller,
    (reference, ref_bin): (Caller, &Path),
    caps: &[String],
    socket: &Path,
    args: &[&str],
) -> Result<Output, String> {
    let mut attempt = 1;
    loop {
        let real_out = run_as(&w.ns, reference, caps, ref_bin, socket, args);
        let ours_out = run_as(&w.ns, caller, caps, &ours(), socket, args);
        let Err(diff) = diff_outputs(&real_out, &ours_out) else {
            return Ok(ours_out);
        };
        let again = run_as(&w.ns, reference, caps, ref_bin, socket, args);
        let moving = diff_outputs(&real_out, &again).is_err();
        if moving && attempt < ATTEMPTS {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(300));
            continue;
        }
        return Err(format!(
            "`netstat {}`: ours as {} differs from {} as {} (attempt {attempt}{})\n{diff}{}{}",
            args.join(" "),
            caller.name(),
            ref_bin.display(),
            reference.name(),
            if moving { ", the reference moving" } else { "" },
            show_output("reference", &real_out),
            show_output("ours", &ours_out)
        ));
    }
}

/// Which pids a `-p` output names (Internet rows and unix rows alike).
fn named_pids(stdout: &[u8]) -> BTreeSet<u32> {
    let text = String::from_utf8_lossy(stdout);
    let mut pids = BTreeSet::new();
    for line in text.lines() {
        for tok in line.split_whitespace() {
            if let Some((pid, name)) = tok.split_once('/')
                && !name.is_empty()
                && let Ok(pid) = pid.parse::<u32>()
            {
                pids.insert(pid);
            }
        }
    }
    pids
}

/// The unprivileged caller names its own helpers (of the `kinds` the mode shows) and no
/// one else's; a privileged one names everyone's.
fn check_who_is_named(
    w: &World,
    caller: Caller,
    kinds: &[Kind],
    out: &Output,
    what: &str,
) -> Result<(), String> {
    let named = named_pids(&out.stdout);
    let all = w.all_pids();
    let want = w.visible(caller, kinds);
    let named_helpers: BTreeSet<u32> = named.intersection(&all).copied().collect();
    if named_helpers == want {
        Ok(())
    } else {
        Err(format!(
            "{what} as {}: names helper pids {named_helpers:?}, expected exactly {want:?} \
             (helpers by user: {:?})\n{}",
            caller.name(),
            w.pids,
            show_output("ours", out)
        ))
    }
}

/// Socket → pid from net-tools' text output: Internet rows by (proto family, local port,
/// remote port), unix rows by inode.
fn owners_from_text(stdout: &[u8]) -> Result<BTreeMap<String, Option<u32>>, String> {
    let mut map = BTreeMap::new();
    for row in inet_rows(stdout)? {
        let key = inet_key(&row.proto, row.local_port(), row.foreign_port());
        map.insert(key, row.owner.as_ref().and_then(|o| o.pid()));
    }
    for line in String::from_utf8_lossy(stdout).lines() {
        if !line.starts_with("unix ") {
            continue;
        }
        // ... [ FLAGS ] TYPE [STATE] INODE PID/Program [PATH]
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(close) = tokens.iter().position(|t| *t == "]") else {
            return Err(format!("unix row without flags: `{line}`"));
        };
        let rest = &tokens[close + 1..];
        let Some(i) = rest
            .iter()
            .position(|t| t.chars().all(|c| c.is_ascii_digit()))
        else {
            return Err(format!("unix row without an inode: `{line}`"));
        };
        let owner = rest.get(i + 1).copied().unwrap_or("-");
        let pid = owner.split_once('/').and_then(|(p, _)| p.parse().ok());
        map.insert(format!("unix {}", rest[i]), pid);
    }
    Ok(map)
}

fn inet_key(proto: &str, local: Option<u16>, remote: Option<u16>) -> String {
    let base = proto.trim_end_matches('6');
    format!("{base} {} {}", local.unwrap_or(0), remote.unwrap_or(0))
}

/// `-anp --json` against net-tools' `-anp` for the same caller: every socket both show
/// has the same owner pid (null where net-tools prints `-`), and no record carries the
/// pid or comm of a helper the caller may not see.
fn check_json(
    w: &World,
    schema: &Schema,
    caller: Caller,
    caps: &[String],
    socket: &Path,
) -> Result<(), String> {
    let mut attempt = 1;
    loop {
        let real_out = run_as(&w.ns, caller, caps, &real(), socket, &["-anp"]);
        let ours_out = run_as(&w.ns, caller, caps, &ours(), socket, &["-anp", "--json"]);
        let report = |e: String| {
            format!(
                "-anp --json as {}: {e}\n{}{}",
                caller.name(),
                show_output("net-tools -anp", &real_out),
                show_output("ours -anp --json", &ours_out)
            )
        };
        if !ours_out.status.success() {
            return Err(report("exit status".into()));
        }
        let want = owners_from_text(&real_out.stdout).map_err(report)?;
        let records = schema.records(&ours_out.stdout).map_err(report)?;
        let hidden: BTreeSet<u32> = if caller.privileged() {
            BTreeSet::new()
        } else {
            w.all_pids()
                .difference(&w.pids_of(caller))
                .copied()
                .collect()
        };
        let mut problems = Vec::new();
        let mut got = BTreeMap::new();
        for r in &records {
            let pid = r["pid"].as_u64().and_then(|p| u32::try_from(p).ok());
            if let Some(p) = pid
                && hidden.contains(&p)
            {
                problems.push(format!("names another user's helper {p}: {r}"));
            }
            if pid.is_none() && !r["comm"].is_null() {
                problems.push(format!("a comm without a pid: {r}"));
            }
            let key = match r["type"].as_str() {
                Some("socket_unix") | Some("unix") => format!("unix {}", r["inode"]),
                _ => inet_key(
                    r["proto"].as_str().unwrap_or_default(),
                    r["local_port"].as_u64().and_then(|p| u16::try_from(p).ok()),
                    r["remote_port"]
                        .as_u64()
                        .and_then(|p| u16::try_from(p).ok()),
                ),
            };
            got.insert(key, pid);
        }
        // Sockets only one side shows are the tools' own (a netlink or agent query
        // socket of this very run): compared are the ones both show.
        let mut shared = 0;
        for (key, pid) in &want {
            let Some(g) = got.get(key) else { continue };
            shared += 1;
            if g != pid {
                problems.push(format!("{key}: net-tools says {pid:?}, --json says {g:?}"));
            }
        }
        if shared < w.all_pids().len() {
            problems.push(format!(
                "only {shared} sockets in common between the two outputs"
            ));
        }
        if problems.is_empty() {
            return Ok(());
        }
        if attempt < ATTEMPTS {
            attempt += 1;
            std::thread::sleep(Duration::from_millis(300));
            continue;
        }
        return Err(report(problems.join("\n")));
    }
}

/// `-c` for one round: both tools' output up to their second round's first line (the
/// processes are killed there), compared like the one-shot runs.
fn first_round(w: &World, caller: Caller, caps: &[String], socket: &Path, binary: &Path) -> String {
    let args = ["-tanpc"];
    let inv = invocation(caller, caps, binary, socket, &args);
    let mut child = Command::new(ip_bin())
        .args(["netns", "exec", w.ns.name(), "/usr/bin/env"])
        .args(&inv.argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start netstat -tanpc: {e}"));
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take();
    std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + LIVE_TIMEOUT;
    let mut text = String::new();
    let mut headers = 0;
    while let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if line.starts_with("Active Internet") {
            headers += 1;
            if headers == 2 {
                break;
            }
        }
        text.push_str(&line);
        text.push('\n');
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        headers == 2,
        "{} -tanpc as {} printed no second round within {LIVE_TIMEOUT:?}:\n{text}",
        binary.display(),
        caller.name()
    );
    text
}

fn check_continuous(
    w: &World,
    caller: Caller,
    caps: &[String],
    socket: &Path,
) -> Result<(), String> {
    use std::os::unix::process::ExitStatusExt;
    let ok = std::process::ExitStatus::from_raw(0);
    let as_output = |s: String| Output {
        stdout: s.into_bytes(),
        stderr: Vec::new(),
        status: ok,
    };
    let mut attempt = 1;
    loop {
        let r = as_output(first_round(w, caller, caps, socket, &real()));
        let o = as_output(first_round(w, caller, caps, socket, &ours()));
        match diff_outputs(&r, &o) {
            Ok(()) => {
                return check_who_is_named(w, caller, &[Kind::Server, Kind::Client], &o, "-tanpc");
            }
            Err(_) if attempt < ATTEMPTS => attempt += 1,
            Err(diff) => {
                return Err(format!(
                    "-tanpc, first round, as {}:\n{diff}",
                    caller.name()
                ));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Live modes

/// A unprivileged user is refused a live mode or the agent: exit 1, nothing on stdout,
/// one line on stderr that says the mode needs root (net-tools' style: `netstat: ...`,
/// exit 1 as for any unsupported request).
fn check_refused(
    w: &World,
    caller: Caller,
    caps: &[String],
    socket: &Path,
    args: &[&str],
) -> Result<(), String> {
    let out = run_as(&w.ns, caller, caps, &ours(), socket, args);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    let ok = out.code() == Some(1)
        && out.stdout.is_empty()
        && lines.len() == 1
        && lines[0].starts_with(&format!("netstat: {}", args[0]))
        && lines[0].contains("root");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`netstat {}` as {} must be refused (exit 1, one stderr line `netstat: {} ... \
             root ...`, no stdout)\n{}",
            args.join(" "),
            caller.name(),
            args[0],
            show_output("ours", &out)
        ))
    }
}

/// A live mode run by a privileged caller: it gets ready, and a connection user A then
/// makes and closes is printed with A's client pid (owners of everyone).
fn check_live(w: &World, caller: Caller, caps: &[String], mode: &str) -> Result<(), String> {
    let socket = PathBuf::from("/nonexistent");
    let inv = invocation(caller, caps, &ours(), &socket, &[mode, "-n"]);
    // On the host, as an operator runs it: `ip netns exec` hides the cgroup2 mount the
    // socket hooks attach to. The programs see every namespace, the helpers' included.
    let mut child = Command::new("/usr/bin/env")
        .args(&inv.argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start netstat {mode}: {e}"));
    let netstat_tests::Pipes { stderr, lines } = netstat_tests::Pipes::take(&mut child);
    let text = || {
        stderr
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    let deadline = Instant::now() + LIVE_TIMEOUT;
    while !text().contains("ready") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut result = if text().contains("ready") {
        Ok(())
    } else {
        Err(format!(
            "{mode} as {}: no `ready`:\n{}",
            caller.name(),
            text()
        ))
    };
    if result.is_ok() {
        let port = w.servers.get(&who_key(None)).copied().unwrap_or(0);
        let mut c = Script::start_as(
            &w.ns,
            Some(USER_A),
            "client",
            &[
                "--comm",
                "nst-live-a",
                "--connect",
                &format!("127.0.0.1:{port}"),
            ],
        );
        c.expect("conn");
        c.send("close");
        c.expect("closed");
        let want = format!("{}/", c.pid());
        let mut seen = Vec::new();
        let found = loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(l) if l.contains(&want) => break true,
                Ok(l) => seen.push(l),
                Err(_) => break false,
            }
        };
        if !found {
            result = Err(format!(
                "{mode} as {}: no line names user A's client `{want}...`; printed:\n{}\n\
                 stderr:\n{}",
                caller.name(),
                seen.join("\n"),
                text()
            ));
        }
    }
    // SAFETY: signalling our own child (the netstat exec'd by ip/env/setpriv).
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let status = wait_bounded(&mut child);
    if result.is_ok() && status != Some(0) {
        result = Err(format!(
            "{mode} as {}: exit {status:?} after SIGINT\n{}",
            caller.name(),
            text()
        ));
    }
    result
}

fn wait_bounded(child: &mut std::process::Child) -> Option<i32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return s.code(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exposure

/// What `uid` can do with paths and with bpf(): opening or listing each path, `BPF_OBJ_GET`
/// on each one under bpffs (after `--pins`), and the first map id the kernel gives out
/// (`BPF_MAP_GET_NEXT_ID`, which needs CAP_SYS_ADMIN).
const READER: &str = r#"
import ctypes, os, sys
args = sys.argv[1:]
split = args.index("--pins")
paths, pins = args[:split], args[split + 1:]
libc = ctypes.CDLL(None, use_errno=True)
class ObjAttr(ctypes.Structure):
    _fields_ = [("pathname", ctypes.c_uint64), ("bpf_fd", ctypes.c_uint32), ("file_flags", ctypes.c_uint32)]
for p in pins:
    name = ctypes.create_string_buffer(p.encode())
    attr = ObjAttr(ctypes.cast(name, ctypes.c_void_p).value, 0, 0)
    rc = libc.syscall(321, 7, ctypes.byref(attr), ctypes.sizeof(attr))
    print("obj_get" if rc >= 0 else "obj_get_denied", p, rc, ctypes.get_errno())
for p in paths:
    try:
        if os.path.isdir(p):
            os.listdir(p)
        else:
            open(p, "rb").read(1)
        print("readable", p)
    except OSError as e:
        print("denied", p, e.errno)
attr = (ctypes.c_uint32 * 4)(0, 0, 0, 0)
rc = libc.syscall(321, 12, ctypes.byref(attr), 16)
print("bpf_map_get_next_id", rc, ctypes.get_errno())
"#;

fn query_request(netns: u32) -> String {
    let mut b = b"NSQ1".to_vec();
    b.extend(netns.to_le_bytes());
    hex(&b)
}

/// Unix sockets process `pid` listens on: their paths (from `/proc/net/unix` by inode).
fn listening_unix_paths(pid: u32) -> Vec<PathBuf> {
    let mut inodes = BTreeSet::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for e in dir.flatten() {
            if let Ok(t) = std::fs::read_link(e.path())
                && let Some(n) = t
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
                && let Ok(n) = n.parse::<u64>()
            {
                inodes.insert(n);
            }
        }
    }
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    // Num RefCount Protocol Flags Type St Inode Path; listening: St 01 (SS_UNCONNECTED)
    // with __SO_ACCEPTCON (0x10000) in Flags.
    table
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let flags = u32::from_str_radix(f.get(3)?, 16).ok()?;
            let inode: u64 = f.get(6)?.parse().ok()?;
            let path = f.get(7)?;
            (flags & 0x10000 != 0 && inodes.contains(&inode) && path.starts_with('/'))
                .then(|| PathBuf::from(path))
        })
        .collect()
}

/// Everything under bpffs (mount point found in /proc/mounts), recursively.
fn bpffs_entries() -> BTreeSet<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let mut out = BTreeSet::new();
    for m in mounts.lines().filter_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"bpf")).then(|| PathBuf::from(f[1]))
    }) {
        let mut stack = vec![m];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    stack.push(e.path());
                }
                out.insert(e.path());
            }
        }
    }
    out
}

/// `GET /metrics` over TCP as `uid`: the raw response.
fn scrape_tcp_as(uid: u32, addr: std::net::SocketAddr) -> String {
    const CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
data = b""
while True:
    chunk = s.recv(65536)
    if not chunk:
        break
    data += chunk
sys.stdout.write(data.decode("utf-8", "replace"))
"#;
    python_as(
        uid,
        CLIENT,
        &[&addr.ip().to_string(), &addr.port().to_string()],
    )
}

fn check_users_unknown() {
    for uid in [USER_A, USER_B] {
        // SAFETY: getpwuid with any uid is defined; the result is only tested for null.
        let pw = unsafe { libc::getpwuid(uid) };
        assert!(
            pw.is_null(),
            "uid {uid} has an account here; this test needs two unused uids"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Tests

/// Modes compared byte for byte with net-tools for every caller, and the helpers whose
/// owner each one shows (checked apart from the comparison, so that it cannot pass on
/// two equally empty columns).
const MODES: [(&[&str], &[Kind]); 10] = [
    (&["-tanp"], &[Kind::Server, Kind::Client]),
    (&["-tunlpe"], &[Kind::Server, Kind::Udp]),
    // Without -a no listener: nobody's helper shows, but the header and notes must match.
    (&["-xp"], &[]),
    (&["-axp"], &[Kind::Unix]),
    (&["-tuanpW"], &[Kind::Server, Kind::Client, Kind::Udp]),
    (&["-r"], &[]),
    (&["-i"], &[]),
    (&["-g"], &[]),
    (&["-s"], &[]),
    (&["-M"], &[]),
];

/// Test 1: the matrix. For each agent state (none; running as the unit runs it) and each
/// caller (root, uid 0 with the unit's capabilities, users A and B), every one-shot mode
/// equals net-tools run by the same caller (and, for the capped caller, net-tools run by
/// root); `-p` output names exactly the caller's own helpers when unprivileged and
/// everyone's when privileged; `--json` carries the same owners and none it should not;
/// `-c` agrees on its first round; live modes and `--agent` are refused to the users.
#[test]
fn privilege_matrix_matches_net_tools_for_every_caller() {
    require_root();
    check_users_unknown();
    let caps = unit_caps();
    let schema = Schema::load();
    let before = World::build();
    let callers = [
        Caller::Root,
        Caller::Capped,
        Caller::User(USER_A),
        Caller::User(USER_B),
    ];
    let no_agent_dir = TempDir::new("noagent");
    let absent = no_agent_dir.path().join("absent.sock");
    let mut problems: Vec<String> = Vec::new();
    for with_agent in [false, true] {
        let agent = with_agent.then(|| {
            let metrics_dir = TempDir::new("pmetrics");
            let unix = format!("unix:{}", metrics_dir.path().join("metrics.sock").display());
            let socket = metrics_dir.path().join("agent.sock");
            Agent::try_start_capped_at(
                metrics_dir,
                socket,
                Some(&caps),
                &["--metrics", "127.0.0.1:0", "--metrics", &unix],
            )
            .unwrap_or_else(|e| panic!("the agent does not start as the unit starts it:\n{e}"))
        });
        let socket = agent
            .as_ref()
            .map_or(absent.clone(), |a| a.socket().to_path_buf());
        // Sockets made after the agent started, which it tracks (all of them, other
        // users' included: what an unprivileged caller must not get from it), besides
        // those made before, which it could not seed (the unit has no CAP_SYS_ADMIN to
        // enter the namespace): there root's netstat must find the holders in /proc.
        let after = with_agent.then(World::build);
        let worlds: Vec<(&str, &World)> = match &after {
            Some(a) => vec![
                ("agent running, sockets made before it", &before),
                ("agent running, sockets made after it", a),
            ],
            None => vec![("no agent", &before)],
        };
        for (caller, (state, w)) in callers
            .iter()
            .flat_map(|c| worlds.iter().map(move |w| (*c, *w)))
        {
            let started = Instant::now();
            let first_world = std::ptr::eq(w, &before);
            let mut fail = |e: String| problems.push(format!("[{state}] {e}"));
            for (args, kinds) in MODES {
                let mut references = vec![(caller, real())];
                if caller == Caller::Capped {
                    references.push((Caller::Root, real()));
                }
                if args == ["-M"] && caller.privileged() {
                    // Privileged, ours reads the NAT table from conntrack (by design, see
                    // masquerade.rs), where net-tools has nothing: the capped caller must
                    // get what root gets.
                    references = vec![(Caller::Root, ours())];
                    if caller == Caller::Root {
                        continue;
                    }
                }
                for (reference, bin) in references {
                    match compare(w, caller, (reference, &bin), &caps, &socket, args) {
                        Ok(out) if args.iter().any(|a| a.contains('p')) => {
                            if let Err(e) = check_who_is_named(w, caller, kinds, &out, args[0]) {
                                fail(e);
                            }
                        }
                        Ok(_) => {}
                        Err(e) => fail(e),
                    }
                }
            }
            // With the agent, root and the capped caller must actually have been answered
            // by it (a silent /proc fallback would pass the comparisons above too).
            if with_agent && caller.privileged() {
                let out = run_as(&w.ns, caller, &caps, &ours(), &socket, &["-tanpv"]);
                if !String::from_utf8_lossy(&out.stderr)
                    .contains("netstat: -p: owners from the agent")
                {
                    fail(format!(
                        "{} was not answered by the agent\n{}",
                        caller.name(),
                        show_output("ours -tanpv", &out)
                    ));
                }
            }
            if let Err(e) = check_json(w, &schema, caller, &caps, &socket) {
                fail(e);
            }
            if let Err(e) = check_continuous(w, caller, &caps, &socket) {
                fail(e);
            }
            if !caller.privileged() {
                for args in [
                    &["--watch"][..],
                    &["--audit"],
                    &["--agent"],
                    &["--watch", "--json"],
                ] {
                    if let Err(e) = check_refused(w, caller, &caps, &socket, args) {
                        fail(e);
                    }
                }
            } else if !with_agent {
                // Live modes load their own programs; the agent's state does not matter.
                for mode in ["--watch", "--audit"] {
                    if let Err(e) = check_live(w, caller, &caps, mode) {
                        fail(e);
                    }
                }
            }
            if let Some(agent) = &agent
                && first_world
                && let Err(e) = check_metrics(agent, caller, &caps)
            {
                fail(e);
            }
            eprintln!("[{state}] {}: {:?}", caller.name(), started.elapsed());
        }
    }
    assert!(
        problems.is_empty(),
        "{} problem(s):\n\n{}",
        problems.len(),
        problems.join("\n\n")
    );
}

/// The metrics endpoints as `caller`: the TCP one serves aggregates with no owner to
/// anyone; a unix one is root's (the capped caller included, as uid 0) and refuses users.
fn check_metrics(agent: &Agent, caller: Caller, caps: &[String]) -> Result<(), String> {
    let Some(addr) = agent.tcp_metrics_addr() else {
        return Err(format!(
            "the agent announced no TCP metrics endpoint:\n{}",
            agent.stderr()
        ));
    };
    let uid = match caller {
        Caller::User(u) => u,
        _ => 0,
    };
    let raw = if uid == 0 {
        scrape_tcp(addr)
    } else {
        scrape_tcp_as(uid, addr)
    };
    // No owner series, and none of the helpers' process names.
    if !raw.starts_with("HTTP/1.1 200")
        || raw.contains("socket_owners")
        || raw.contains("uid=")
        || raw.contains("nst-")
    {
        return Err(format!(
            "TCP metrics as {}: want 200 with no owner series:\n{raw}",
            caller.name()
        ));
    }
    if for_each_unix_metrics(agent, |path| {
        let out = if uid == 0 {
            unix_with(&caller.prefix(caps), path, &http_get())
        } else {
            python_as(
                uid,
                UNIX_CLIENT,
                &[path.to_str().unwrap_or_default(), &http_get()],
            )
        };
        match (caller.privileged(), out.trim()) {
            (true, o) if o.starts_with("answer ") => {
                let body = String::from_utf8_lossy(&hex_decode(&o[7..])).into_owned();
                body.starts_with("HTTP/1.1 200").then_some(()).ok_or(body)
            }
            (false, o) if o == format!("errno {}", libc::EACCES) => Ok(()),
            (_, o) => Err(o.to_string()),
        }
    })
    .is_err()
    {
        return Err(format!(
            "unix metrics as {}: want 200 for uid 0, EACCES for users",
            caller.name()
        ));
    }
    Ok(())
}

fn http_get() -> String {
    hex(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
}

fn for_each_unix_metrics(
    agent: &Agent,
    mut f: impl FnMut(&Path) -> Result<(), String>,
) -> Result<(), String> {
    for path in listening_unix_paths(agent.pid()) {
        if path != agent.socket() {
            f(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    Ok(())
}

/// The Python unix client run through `prefix` (as root or capped).
fn unix_with(prefix: &[String], path: &Path, request_hex: &str) -> String {
    let mut cmd = if prefix.is_empty() {
        Command::new(PYTHON)
    } else {
        let mut c = Command::new(&prefix[0]);
        c.args(&prefix[1..]).arg(PYTHON);
        c
    };
    let out = cmd
        .args(["-c", UNIX_CLIENT])
        .arg(path)
        .arg(request_hex)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `GET /metrics` over TCP from this (root) process: a TCP connection does not depend on
/// the caller's capabilities.
fn scrape_tcp(addr: std::net::SocketAddr) -> String {
    let mut s = match std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(s) => s,
        Err(e) => return format!("connect {addr}: {e}"),
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8_lossy(&raw).into_owned()
}

/// Test 2: nothing the agent makes is open to an unprivileged user. The agent runs as the
/// unit runs it, with its query socket in a directory it has to create and a root-only
/// metrics socket with owner series. Checked for user A, by trying:
/// * every unix socket the agent listens on (found from its descriptors) is root's, mode
///   0600, in a directory only root writes; A's connect() gets EACCES;
/// * when an admin opens those sockets up (mode 0666), the agent still refuses A by peer
///   uid: a query gets the refusal and no owner, a scrape 403 and no metric;
/// * the directory the agent made holds nothing but its sockets;
/// * the TCP metrics endpoint (any local user may connect) serves no owner series;
/// * the agent pins nothing in bpffs; A cannot list its `/proc/PID/fd` (its map and
///   program descriptors) nor enumerate bpf maps.
#[test]
fn agent_exposes_nothing_to_unprivileged_users() {
    require_root();
    check_users_unknown();
    let caps = unit_caps();
    let before = bpffs_entries();
    let dir = TempDir::new("pexpose");
    let run_dir = dir.path().join("run").join("netstat-ebpf");
    let socket = run_dir.join("agent.sock");
    let metrics = format!("unix:{}", run_dir.join("metrics.sock").display());
    let agent = Agent::try_start_capped_at(
        dir,
        socket.clone(),
        Some(&caps),
        &[
            "--metrics",
            &metrics,
            "--metrics",
            "127.0.0.1:0",
            "--metrics-owners",
        ],
    )
    .unwrap_or_else(|e| panic!("the agent does not start as the unit starts it:\n{e}"));
    let mut problems = Vec::new();

    let listening = listening_unix_paths(agent.pid());
    assert!(
        listening.contains(&socket) && listening.len() == 2,
        "expected the agent to listen on its query socket and one metrics socket, found \
         {listening:?}"
    );
    // The directory it made, and what is in it.
    let meta = std::fs::metadata(&run_dir).unwrap_or_else(|e| panic!("{}: {e}", run_dir.display()));
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        problems.push(format!(
            "{} is uid {} mode {:o}: others could replace the sockets",
            run_dir.display(),
            meta.uid(),
            meta.mode() & 0o7777
        ));
    }
    let entries: BTreeSet<PathBuf> = std::fs::read_dir(&run_dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .collect();
    let sockets: BTreeSet<PathBuf> = listening.iter().cloned().collect();
    if entries != sockets {
        problems.push(format!(
            "{} holds {entries:?}, expected only the agent's sockets",
            run_dir.display()
        ));
    }

    let request = query_request(0);
    let get = http_get();
    for path in &listening {
        let m = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if m.uid() != 0 || m.mode() & 0o777 != 0o600 {
            problems.push(format!(
                "{}: uid {} mode {:o}, want root's 0600",
                path.display(),
                m.uid(),
                m.mode() & 0o777
            ));
        }
        let p = path.to_str().unwrap_or_default();
        let is_query = *path == socket;
        let probe = if is_query { &request } else { &get };
        let out = python_as(USER_A, UNIX_CLIENT, &[p, probe]);
        if out.trim() != format!("errno {}", libc::EACCES) {
            problems.push(format!("uid {USER_A} connecting to {p}: {out}"));
        }
        // An admin loosens the mode: the agent itself must still refuse.
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
            .unwrap_or_else(|e| panic!("chmod {p}: {e}"));
        let out = python_as(USER_A, UNIX_CLIENT, &[p, probe]);
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .unwrap_or_else(|e| panic!("chmod {p}: {e}"));
        let answer = out
            .trim()
            .strip_prefix("answer ")
            .map(hex_decode)
            .unwrap_or_default();
        let refused = if is_query {
            // NSR2, a non-zero status, the refusal text, and nothing after it.
            let status = answer
                .get(4..8)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            let len = answer
                .get(8..12)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
            answer.starts_with(b"NSR2")
                && status.is_some_and(|s| s != 0)
                && len.is_some_and(|l| answer.len() == 12 + l)
                && String::from_utf8_lossy(&answer[12..]).contains("root only")
        } else {
            let text = String::from_utf8_lossy(&answer);
            text.starts_with("HTTP/1.1 403") && !text.contains("netstat_")
        };
        if !refused {
            problems.push(format!(
                "uid {USER_A} on {p} opened to 0666: the agent must refuse by peer uid, got \
                 {:?}",
                String::from_utf8_lossy(&answer)
            ));
        }
        // Root (uid 0) is answered, so the refusal above is about the uid.
        let root = unix_with(&[], path, probe);
        let root_answer = root
            .trim()
            .strip_prefix("answer ")
            .map(hex_decode)
            .unwrap_or_default();
        let ok = if is_query {
            root_answer.starts_with(b"NSR2") && root_answer.get(4..8) == Some(&[0, 0, 0, 0][..])
        } else {
            // With the owner series (so that their absence elsewhere means something).
            root_answer.starts_with(b"HTTP/1.1 200")
                && String::from_utf8_lossy(&root_answer).contains("netstat_socket_owners{")
        };
        if !ok {
            problems.push(format!(
                "root on {p} must be answered: {:?}",
                String::from_utf8_lossy(&root_answer)
            ));
        }
    }

    // The TCP endpoint, open to every local user by design, serves aggregates only, even
    // with --metrics-owners.
    match agent.tcp_metrics_addr() {
        Some(addr) => {
            let raw = scrape_tcp_as(USER_A, addr);
            if !raw.starts_with("HTTP/1.1 200")
                || raw.contains("socket_owners")
                || raw.contains("uid=")
                || raw.contains("comm=")
            {
                problems.push(format!(
                    "uid {USER_A} on the TCP metrics endpoint: want 200 without owners:\n{raw}"
                ));
            }
        }
        None => problems.push("the agent announced no TCP metrics endpoint".into()),
    }

    // bpffs: nothing pinned; the agent's descriptors and bpf's id space closed to A.
    let after = bpffs_entries();
    let pinned: Vec<&PathBuf> = after.difference(&before).collect();
    if !pinned.is_empty() {
        problems.push(format!(
            "new entries in bpffs since the agent started: {pinned:?}"
        ));
    }
    let fd_dir = format!("/proc/{}/fd", agent.pid());
    let fdinfo = format!("/proc/{}/fdinfo", agent.pid());
    let environ = format!("/proc/{}/environ", agent.pid());
    let mut paths: Vec<String> = vec![fd_dir, fdinfo, environ];
    paths.extend(after.iter().map(|p| p.display().to_string()));
    paths.push("--pins".into());
    paths.extend(after.iter().map(|p| p.display().to_string()));
    let out = python_as(
        USER_A,
        READER,
        &paths.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    for line in out.lines() {
        if line.starts_with("readable ") || line.starts_with("obj_get ") {
            problems.push(format!("uid {USER_A}: {line}"));
        }
        if let Some(rc) = line.strip_prefix("bpf_map_get_next_id ")
            && !rc.starts_with("-1 ")
        {
            problems.push(format!("uid {USER_A} could enumerate bpf maps: {line}"));
        }
    }
    assert!(
        out.contains("bpf_map_get_next_id"),
        "the reader did not run: {out}"
    );
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\nagent's stderr:\n{}",
        problems.len(),
        problems.join("\n"),
        agent.stderr()
    );
}
