//! Privileged: fault injection (issue 7, "Hardening"). Each test makes the fault happen
//! for real, checks that it did (the agent's pid is gone, tracefs is not mounted, the PID
//! was reused...), then checks the exact outcome against net-tools where it can:
//!
//! 1. the agent SIGKILLed while one-shot `-tanp` runs (mid-answer, and with its stale
//!    socket file left behind): the one-shots fall back to /proc with net-tools' rows;
//! 2. the agent restarted on that stale file: it re-seeds, and nothing that changed while
//!    it was down is reported with old information;
//! 3. eBPF refused (a seccomp filter makes `bpf(2)` fail with EPERM) or BTF missing (a
//!    private mount namespace hides `/sys/kernel/btf`): the classic modes are net-tools'
//!    output, the eBPF modes fail with exit 1 naming what is missing;
//! 4. tracefs not mounted (private mount namespace): the agent and `--watch` mount it
//!    themselves, or, without CAP_SYS_ADMIN, fail saying so;
//! 5. a socket whose process execs, or forks with both keeping it: `-p` agrees with
//!    net-tools, `--watch`/`--audit` name the process;
//! 6. PID reuse (clone3 with `set_tid`): a connection is never blamed on a later process
//!    with the same PID.
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --test faults --
//! --test-threads=1`.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    AGENT_SOCKET_ENV, Agent, FROM_AGENT, FROM_PROC, InetRow, Owner, Script, check_env,
    check_known_rows, inet_rows, run_netstat_env, show_output,
};
use netstat_tests::{
    Netns, Output, TempDir, diff_outputs, ours, real, require_root, run_netstat_in, split_lines,
};

/// What net-tools prints after `PID/` for a live helper (argv\[0\] is `/usr/bin/python3`).
const PYTHON: &str = "python3";
/// How long a started netstat (agent, `--watch`) may take to say `ready` or exit.
const READY: Duration = Duration::from_secs(60);
/// How long the agent may take to reflect a change (its ring buffer is read
/// asynchronously): owner checks retry until then.
const CONVERGE: Duration = Duration::from_secs(5);

fn sa(ip: &str, port: u16) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

fn port(s: &Script, fields: &[String], i: usize) -> u16 {
    s.num(fields, i, "port")
}

/// A server with an IPv4 and an IPv6 listener and two clients holding one connection to
/// each: every socket has one live holder, so net-tools names every row.
fn held_connections(ns: &Netns) -> Vec<Script> {
    let mut server = Script::start(
        ns,
        "server",
        &[
            "--comm",
            "nstf-srv",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
        ],
    );
    let l = server.expect_n("listen", 2);
    let (p4, p6) = (port(&server, &l[0], 1), port(&server, &l[1], 1));
    let mut keep = Vec::new();
    for _ in 0..2 {
        let (a4, a6) = (sa("127.0.0.1", p4), sa("::1", p6));
        let mut c = Script::start(ns, "client", &["--connect", &a4, "--connect", &a6]);
        c.expect_n("conn", 2);
        keep.push(c);
    }
    server.expect_n("accepted", 4);
    keep.push(server);
    keep
}

/// `out` without the one `-p` note line, which is returned apart. `Err` when stderr has
/// more than one such line.
fn split_note(out: &Output) -> Result<(Option<String>, Output), String> {
    let mut notes = Vec::new();
    let mut rest = Vec::new();
    for l in split_lines(&out.stderr) {
        if l.starts_with(b"netstat: -p: ") {
            notes.push(String::from_utf8_lossy(&l).into_owned());
        } else {
            rest.extend_from_slice(&l);
            rest.push(b'\n');
        }
    }
    if notes.len() > 1 {
        return Err(format!("{} `-p` notes on stderr: {notes:?}", notes.len()));
    }
    let mut stripped = out.clone();
    stripped.stderr = rest;
    Ok((notes.pop(), stripped))
}

fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).unwrap_or(0);
    assert!(pid > 0, "no pid to signal");
    // SAFETY: signalling a process this test started and has not reaped.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

fn is_gone(pid: u32) -> bool {
    !Path::new(&format!("/proc/{pid}")).exists()
}

/// Pending connections on the unix listener at `path` (`ss -xl`'s Recv-Q).
fn unix_backlog(path: &Path) -> usize {
    let out = Command::new("ss")
        .args(["-Hxl"])
        .output()
        .unwrap_or_else(|e| panic!("ss -Hxl: {e}"));
    let want = path.to_string_lossy();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == want))
        .and_then(|l| l.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(0)
}

/// Kills `agent` with SIGKILL and checks the fault happened: killed by signal 9, its
/// pid gone, its socket file left behind.
fn kill_agent(agent: &mut Agent, socket: &Path) {
    let pid = agent.pid();
    let status = agent.kill_hard();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "agent ended {status}");
    assert!(is_gone(pid), "/proc/{pid} still exists after SIGKILL");
    assert!(
        socket.exists(),
        "the killed agent's socket file {} should be left behind (no clean-up runs)",
        socket.display()
    );
}

// ---------------------------------------------------------------------------------------------
// 1. The agent killed while one-shot queries run

/// Which source a `-tanpv` run says it used.
#[derive(Debug, Default)]
struct Tally {
    agent: usize,
    no_agent: usize,
    answer_failed: usize,
    longest: Duration,
}

/// Phase A: the agent is stopped (SIGSTOP): a `-tanp` (no `-v`) gives up after 5 s.
/// Stopped again while a `-tanp` has sent its question and waits for the answer, then
/// SIGKILLed: the run gets a broken socket mid-query. It must print net-tools' rows, exit 0, and say on stderr (one line, without
/// `-v`) that the owners came from /proc because the agent's answer failed.
///
/// Phase B: a thread runs `-tanpv` in a loop while the agent is started, killed at varying
/// points and restarted on the same path five times; after each kill the loop meets the
/// stale socket file. Every run must be net-tools' output (plus the one `-v` line), exit 0.
#[test]
fn agent_killed_mid_query_one_shots_fall_back_to_proc() {
    require_root();
    let ns = Netns::new();
    let _keep = held_connections(&ns);
    let dir = TempDir::new("faults");
    let socket = dir.path().join("agent.sock");
    let socket_str = socket.to_str().unwrap_or_default().to_string();
    let env = [(AGENT_SOCKET_ENV, socket_str.as_str())];
    let real_q = run_netstat_in(&ns, &real(), None, &["-tanp"]);
    let real_v = run_netstat_in(&ns, &real(), None, &["-tanpv"]);
    let rows = inet_rows(&real_q.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        rows.len() == 10
            && rows
                .iter()
                .all(|r| matches!(r.owner, Some(Owner::Live { .. }))),
        "the namespace should hold 2 listeners and 8 connection ends, each with one live \
         holder\n{}",
        show_output("net-tools", &real_q)
    );

    // Phase A.
    let mut agent = Agent::start(&socket);
    let answered = run_netstat_env(&ns, &ours(), None, &env, &["-tanpv"]);
    assert!(
        String::from_utf8_lossy(&answered.stderr).contains(FROM_AGENT),
        "{}",
        show_output("with the agent up", &answered)
    );
    // A stuck agent (stopped): the one-shot gives up after its 5 s and says so.
    signal(agent.pid(), libc::SIGSTOP);
    let stuck = run_netstat_env(&ns, &ours(), None, &env, &["-tanp"]);
    signal(agent.pid(), libc::SIGCONT);
    let (note, stripped) = split_note(&stuck).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        note.as_deref().is_some_and(|n| n
            .starts_with(&format!("{FROM_PROC} (the agent's answer failed: "))
            && n.ends_with("reading the answer: no answer within 5 s)")),
        "a one-shot whose agent is stuck must say so without -v\n{}",
        show_output("ours", &stuck)
    );
    if let Err(d) = diff_outputs(&real_q, &stripped) {
        panic!("agent stuck: not net-tools' output\n{d}");
    }
    eprintln!("phase A: a stuck agent gave: {}", note.unwrap_or_default());
    // The abandoned connection waits in the agent's backlog until it takes it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while unix_backlog(&socket) > 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    signal(agent.pid(), libc::SIGSTOP);
    let before = unix_backlog(&socket);
    let (query, backlog) = thread::scope(|sc| {
        let q = sc.spawn(|| run_netstat_env(&ns, &ours(), None, &env, &["-tanp"]));
        // The question is queued on the stopped agent's socket once its backlog shows it.
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut backlog = before;
        while backlog == before && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
            backlog = unix_backlog(&socket);
        }
        kill_agent(&mut agent, &socket);
        (q.join().unwrap_or_else(|_| panic!("query thread")), backlog)
    });
    assert!(
        backlog > before,
        "the one-shot never reached the stopped agent (backlog {before} -> {backlog})"
    );
    let (note, stripped) = split_note(&query).unwrap_or_else(|e| panic!("{e}"));
    let want_note = format!("{FROM_PROC} (the agent's answer failed: agent at {socket_str}: ");
    assert!(
        note.as_deref().is_some_and(|n| n.starts_with(&want_note)),
        "a one-shot whose agent died mid-query must say, without -v, `{want_note}...`\n{}",
        show_output("ours", &query)
    );
    if let Err(d) = diff_outputs(&real_q, &stripped) {
        panic!("agent killed mid-query: not net-tools' output\n{d}");
    }
    eprintln!("phase A: mid-query kill gave: {}", note.unwrap_or_default());

    // Phase B.
    let stop = AtomicBool::new(false);
    let runs: Mutex<Vec<(Duration, Output)>> = Mutex::new(Vec::new());
    let count = |pat: &str| -> usize {
        runs.lock().map_or(0, |r| {
            r.iter()
                .filter(|(_, o)| String::from_utf8_lossy(&o.stderr).contains(pat))
                .count()
        })
    };
    let wait_for = |pat: &str, n: usize| {
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(pat) < n {
            assert!(Instant::now() < deadline, "no run said `{pat}` in 60 s");
            thread::sleep(Duration::from_millis(10));
        }
    };
    thread::scope(|sc| {
        sc.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let out = run_netstat_env(&ns, &ours(), None, &env, &["-tanpv"]);
                if let Ok(mut r) = runs.lock() {
                    r.push((t.elapsed(), out));
                }
            }
        });
        for round in 0..5u64 {
            let mut agent = Agent::start(&socket);
            wait_for(FROM_AGENT, count(FROM_AGENT) + 1);
            // Kill at varying points of a query.
            thread::sleep(Duration::from_millis(7 * round));
            kill_agent(&mut agent, &socket);
            wait_for("no agent at", count("no agent at") + 1);
        }
        stop.store(true, Ordering::Relaxed);
    });
    let runs = runs.into_inner().unwrap_or_default();
    let mut tally = Tally::default();
    let mut problems = Vec::new();
    for (took, out) in &runs {
        tally.longest = tally.longest.max(*took);
        let (note, stripped) = match split_note(out) {
            Ok(ok) => ok,
            Err(e) => {
                problems.push(format!("{e}\n{}", show_output("ours", out)));
                continue;
            }
        };
        match note.as_deref() {
            Some(n) if n.starts_with(FROM_AGENT) => tally.agent += 1,
            Some(n) if n.starts_with(&format!("{FROM_PROC} (no agent at ")) => {
                tally.no_agent += 1;
            }
            Some(n) if n.contains("answer failed") || n.contains("the rest from /proc") => {
                tally.answer_failed += 1;
            }
            _ => problems.push(format!(
                "no or unknown `-p` note\n{}",
                show_output("ours", out)
            )),
        }
        if let Err(d) = diff_outputs(&real_v, &stripped) {
            problems.push(format!("{d}{}", show_output("ours", out)));
        }
    }
    eprintln!("phase B: {} runs: {tally:?}", runs.len());
    assert!(
        problems.is_empty(),
        "{} of {} runs went wrong while the agent was killed:\n{}",
        problems.len(),
        runs.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// 2. The agent restarted

/// The agent is SIGKILLed; while it is down, a forking server's parent closes its copies
/// of a listener and a connection (its child keeps them: the owner changes), a client
/// closes its connections (its side goes to TIME_WAIT, the server's to CLOSE_WAIT) and a
/// new client connects. A new agent started on the stale socket file re-seeds: its
/// `-tanp` is net-tools' output exactly, every row included (the TIME_WAIT rows
/// are `-` for both: nobody holds them and the new agent never saw them).
#[test]
fn restarted_agent_reseeds_and_reports_nothing_stale() {
    require_root();
    let ns = Netns::new();
    let dir = TempDir::new("faults");
    let socket = dir.path().join("agent.sock");
    let socket_str = socket.to_str().unwrap_or_default().to_string();
    let env = [(AGENT_SOCKET_ENV, socket_str.as_str())];
    let mut agent = Agent::start(&socket);

    let mut server = Script::start(
        &ns,
        "server",
        &["--comm", "nstf-srv", "--listen", "127.0.0.1:0"],
    );
    let l = server.expect("listen");
    let p = port(&server, &l, 1);
    let target = sa("127.0.0.1", p);
    let mut closer = Script::start(&ns, "client", &["--comm", "nstf-cls", "--connect", &target]);
    closer.expect("conn");
    let mut forker = Script::start(
        &ns,
        "forker",
        &[
            "--comm",
            "nstf-par",
            "--child-comm",
            "nstf-chi",
            "--mode",
            "hold",
            "--listen",
            "127.0.0.1:0",
            "--connect",
            &target,
        ],
    );
    let child: u32 = {
        let f = forker.expect("child");
        forker.num(&f, 0, "child pid")
    };
    forker.expect("child-ready");
    server.expect_n("accepted", 2);
    // The first agent names the parent (it made them and the child never used them).
    let before = run_netstat_env(&ns, &ours(), None, &env, &["-tanpv"]);
    let rows = inet_rows(&before.stdout).unwrap_or_else(|e| panic!("{e}"));
    let parent_rows = rows
        .iter()
        .filter(|r| r.owner.as_ref().and_then(Owner::pid) == Some(forker.pid()))
        .count();
    assert!(
        String::from_utf8_lossy(&before.stderr).contains(FROM_AGENT) && parent_rows == 2,
        "before the kill the agent should name the forking parent {} on 2 rows\n{}",
        forker.pid(),
        show_output("ours", &before)
    );

    kill_agent(&mut agent, &socket);
    forker.send("close");
    forker.expect("parent-closed");
    closer.send("close");
    closer.expect("closed");
    let mut late = Script::start(
        &ns,
        "client",
        &["--comm", "nstf-late", "--connect", &target],
    );
    late.expect("conn");
    server.expect_n("accepted", 1);

    let _agent = Agent::start(&socket);
    let deadline = Instant::now() + CONVERGE;
    loop {
        let out = run_netstat_env(&ns, &ours(), None, &env, &["-tanpv"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(FROM_AGENT),
            "the restarted agent must answer\n{}",
            show_output("ours", &out)
        );
        let rows = inet_rows(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        let by_child = rows
            .iter()
            .filter(|r| {
                r.owner
                    == Some(Owner::Live {
                        pid: child,
                        name: PYTHON.into(),
                    })
            })
            .count();
        if by_child == 2 || Instant::now() > deadline {
            assert_eq!(
                by_child,
                2,
                "after the restart the child {child} holds the listener and the connection\n{}",
                show_output("ours", &out)
            );
            break;
        }
        thread::sleep(Duration::from_millis(200));
    }
    for args in [&["-tanp"][..], &["-tanpe"]] {
        if let Err(report) = check_env(&ns, None, &env, args) {
            panic!("after the restart, every row must be net-tools':\n{report}");
        }
    }
    drop(late);
    drop(closer);
}

// ---------------------------------------------------------------------------------------------
// Running a netstat under an injected fault

/// How a started netstat ended up: it said `ready` (still running), or it exited.
enum Started {
    Ready(Running),
    Exited { status: ExitStatus, stderr: String },
}

/// A netstat that said `ready`; stopped with SIGTERM (and reaped) when dropped.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
    stdout: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The stdout lines so far.
    fn lines(&self) -> Vec<String> {
        self.stdout.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// SIGTERM, then the exit status (bounded: SIGKILL after 20 s).
    fn stop(self) -> (ExitStatus, String) {
        let ((status, _), stderr) = self.stop_keep();
        (status, stderr)
    }

    /// [`Running::stop`], also returning every stdout line.
    fn stop_keep(mut self) -> ((ExitStatus, Vec<String>), String) {
        let status = self.end();
        thread::sleep(Duration::from_millis(100));
        ((status, self.lines()), self.stderr())
    }

    fn end(&mut self) -> ExitStatus {
        if let Ok(Some(s)) = self.child.try_wait() {
            return s;
        }
        signal(self.child.id(), libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(s)) => return s,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    return self.child.wait().unwrap_or_else(|e| panic!("wait: {e}"));
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.end();
    }
}

/// Spawns `cmd` (its stdout lines collected) and waits up to [`READY`] for a stderr line
/// saying `ready`, or for its exit.
fn start(mut cmd: Command) -> Started {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let pipe = child.stdout.take();
    let sink = Arc::clone(&stdout);
    thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(mut s) = sink.lock() {
                s.push(line);
            }
        }
    });
    let stderr = Arc::new(Mutex::new(String::new()));
    let pipe = child.stderr.take();
    let sink = Arc::clone(&stderr);
    thread::spawn(move || {
        let Some(pipe) = pipe else { return };
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Ok(mut s) = sink.lock() {
                s.push_str(&line);
                s.push('\n');
            }
        }
    });
    let deadline = Instant::now() + READY;
    loop {
        let text = stderr.lock().map(|s| s.clone()).unwrap_or_default();
        if text.lines().any(|l| l.contains("ready")) {
            return Started::Ready(Running {
                child,
                stderr,
                stdout,
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            thread::sleep(Duration::from_millis(50));
            let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
            return Started::Exited { status, stderr };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{shown}: neither `ready` nor an exit within {READY:?}; stderr:\n{text}");
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Runs `cmd` to its end within [`READY`] and collects its output.
fn run_bounded(mut cmd: Command) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let drain = |p: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + READY;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not end within {READY:?}; killed");
            }
        }
    };
    Output {
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        status,
    }
}

/// Makes `cmd` run under a seccomp filter that fails every `bpf(2)` with EPERM, as a
/// kernel or a sandbox that refuses eBPF does.
#[cfg(target_arch = "x86_64")]
fn refuse_bpf(cmd: &mut Command) {
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    // seccomp_data: nr at offset 0, arch at 4.
    let f = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let (ld, jeq, ret) = (
        libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
        libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K,
        libc::BPF_RET | libc::BPF_K,
    );
    let prog = [
        f(ld, 0, 0, 4),
        f(jeq, 0, 3, AUDIT_ARCH_X86_64),
        f(ld, 0, 0, 0),
        f(jeq, 0, 1, libc::SYS_bpf as u32),
        f(ret, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
        f(ret, 0, 0, libc::SECCOMP_RET_ALLOW),
    ];
    // SAFETY: only async-signal-safe prctl calls between fork and exec; `prog` is moved
    // into the closure and outlives the call that copies it into the kernel.
    unsafe {
        cmd.pre_exec(move || {
            let fprog = libc::sock_fprog {
                len: prog.len() as u16,
                filter: prog.as_ptr().cast_mut(),
            };
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0
                || libc::prctl(
                    libc::PR_SET_SECCOMP,
                    libc::SECCOMP_MODE_FILTER,
                    &fprog as *const libc::sock_fprog,
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// `ip netns exec NS BIN ARGS` as a command (argv\[0\] is a `netstat` symlink to `bin`).
fn netstat_cmd(ns: &Netns, link_dir: &TempDir, bin: &Path, args: &[&str]) -> Command {
    let link = link_dir.path().join(bin.file_name().unwrap_or_default());
    let link = link.with_file_name("netstat");
    if !link.exists()
        && let Err(e) = std::os::unix::fs::symlink(bin, &link)
    {
        panic!("symlink {}: {e}", link.display());
    }
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns.name()]).arg(&link).args(args);
    cmd
}

// ---------------------------------------------------------------------------------------------
// 3. eBPF refused, BTF missing

/// What the eBPF modes must say when their programs cannot load: exit 1 and one stderr
/// line naming the mode and the cause.
fn check_ebpf_mode_fails(what: &str, started: Started, cause: &str) {
    match started {
        Started::Exited { status, stderr } => {
            assert_ne!(
                status.code(),
                Some(99),
                "{what}: the fault could not be injected (its setup failed):\n{stderr}"
            );
            let want = match what {
                "--agent" => "netstat: --agent: ".to_string(),
                _ => format!("netstat: {what} needs the eBPF programs, which did not load: "),
            };
            let lines: Vec<&str> = stderr.lines().collect();
            assert!(
                status.code() == Some(1)
                    && lines.len() == 1
                    && lines[0].starts_with(&want)
                    && lines[0].contains(cause),
                "{what} without eBPF must exit 1 with one line `{want}...{cause}...`; it \
                 ended {status} with stderr:\n{stderr}"
            );
        }
        Started::Ready(r) => {
            let (_, stderr) = r.stop();
            panic!("{what} got ready although the fault should stop it:\n{stderr}");
        }
    }
}

/// The classic modes under the fault (run through `wrap`) are net-tools' output exactly
/// (stdout, stderr, exit code), `-p` included: the agent that could not start leaves no
/// socket, and `-v` says why the owners came from /proc.
fn check_classic_modes(ns: &Netns, env: &[(&str, &str)], wrap: &dyn Fn(&mut Command)) {
    let links = TempDir::new("faults");
    for args in [
        &["-tanp"][..],
        &["-tuanpe"],
        &["-tan"],
        &["-s"],
        &["-rn"],
        &["-i"],
        &["-tanpv"],
    ] {
        let real_out = run_netstat_in(ns, &real(), None, args);
        let mut cmd = netstat_cmd(ns, &links, &ours(), args);
        cmd.envs(env.iter().copied());
        wrap(&mut cmd);
        let ours_out = run_bounded(cmd);
        let (note, stripped) = split_note(&ours_out).unwrap_or_else(|e| panic!("{e}"));
        let verbose = args.contains(&"-tanpv");
        if verbose {
            assert!(
                note.as_deref()
                    .is_some_and(|n| n.starts_with(&format!("{FROM_PROC} (no agent at "))),
                "-v must say `{FROM_PROC} (no agent at ...)`\n{}",
                show_output("ours", &ours_out)
            );
        }
        let compared = if verbose { &stripped } else { &ours_out };
        // Counters move between the two runs of -s/-i: compare those by shape only.
        if args == ["-s"] || args == ["-i"] {
            assert!(
                ours_out.status.code() == real_out.status.code()
                    && ours_out.stderr == real_out.stderr
                    && split_lines(&ours_out.stdout).len() == split_lines(&real_out.stdout).len(),
                "`netstat {}` under the fault\n{}{}",
                args.join(" "),
                show_output("net-tools", &real_out),
                show_output("ours", &ours_out)
            );
        } else if let Err(d) = diff_outputs(&real_out, compared) {
            panic!("`netstat {}` under the fault:\n{d}", args.join(" "));
        }
    }
}

/// The agent, `--watch` and `--audit` under `wrap` (on the host).
fn start_ebpf_modes(socket: &Path, wrap: &dyn Fn(&mut Command)) -> Vec<(&'static str, Started)> {
    let mut started = Vec::new();
    for (what, args) in [
        ("--agent", &["--agent"][..]),
        ("--watch", &["--watch"]),
        ("--audit", &["--audit", "-t"]),
    ] {
        let mut cmd = Command::new(ours());
        cmd.args(args).env(AGENT_SOCKET_ENV, socket);
        wrap(&mut cmd);
        started.push((what, start(cmd)));
    }
    started
}

/// Test 3a: `bpf(2)` refused by a seccomp filter (EPERM). The filter is checked first:
/// under it a bare `bpf()` call fails with EPERM, without it with another error.
#[test]
fn ebpf_refused_classic_modes_unchanged_ebpf_modes_say_why() {
    require_root();
    if !cfg!(target_arch = "x86_64") {
        eprintln!("SKIPPED: the seccomp filter of this test is written for x86_64 only");
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        let probe = |filtered: bool| {
            let mut cmd = Command::new("/usr/bin/python3");
            cmd.args([
                "-c",
                &format!(
                    "import ctypes; l = ctypes.CDLL(None, use_errno=True); \
                     l.syscall({}, 0, 0, 0); print(ctypes.get_errno())",
                    libc::SYS_bpf
                ),
            ]);
            if filtered {
                refuse_bpf(&mut cmd);
            }
            String::from_utf8_lossy(&run_bounded(cmd).stdout)
                .trim()
                .to_string()
        };
        let (with, without) = (probe(true), probe(false));
        assert!(
            with == libc::EPERM.to_string() && without != with,
            "the seccomp filter does not refuse bpf(2): errno {with} with it, {without} without"
        );
        let ns = Netns::new();
        let _keep = held_connections(&ns);
        let dir = TempDir::new("faults");
        let socket = dir.path().join("agent.sock");
        for (what, started) in start_ebpf_modes(&socket, &refuse_bpf) {
            check_ebpf_mode_fails(what, started, "Operation not permitted");
        }
        assert!(!socket.exists(), "the agent that failed left a socket file");
        let env = [(AGENT_SOCKET_ENV, socket.to_str().unwrap_or_default())];
        check_classic_modes(&ns, &env, &refuse_bpf);
    }
}

/// Runs `cmd` in a private mount namespace after the shell snippet `setup` (which must
/// exit 99 when it could not make the fault).
fn in_private_mounts(cmd: &mut Command, setup: &'static str) {
    let program = cmd.get_program().to_owned();
    let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
    let envs: Vec<_> = cmd
        .get_envs()
        .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned())))
        .collect();
    let mut wrapped = Command::new("unshare");
    wrapped
        .args(["--mount", "--propagation", "private", "/bin/sh", "-c"])
        .arg(format!("{setup} || exit 99; exec \"$@\""))
        .arg("sh")
        .arg(program)
        .args(args)
        .envs(envs);
    *cmd = wrapped;
}

/// Hides the kernel's BTF: an empty tmpfs over /sys/kernel/btf.
const HIDE_BTF: &str =
    "mount -t tmpfs nstf-nobtf /sys/kernel/btf && ! test -e /sys/kernel/btf/vmlinux";

/// Test 3b: no kernel BTF (hidden in a private mount namespace).
#[test]
fn btf_missing_classic_modes_unchanged_ebpf_modes_say_why() {
    require_root();
    let ns = Netns::new();
    let _keep = held_connections(&ns);
    let dir = TempDir::new("faults");
    let socket = dir.path().join("agent.sock");
    let wrap = |cmd: &mut Command| in_private_mounts(cmd, HIDE_BTF);
    for (what, started) in start_ebpf_modes(&socket, &wrap) {
        check_ebpf_mode_fails(
            what,
            started,
            "kernel BTF: /sys/kernel/btf/vmlinux: i/o error: No such file or directory",
        );
    }
    assert!(
        Path::new("/sys/kernel/btf/vmlinux").exists(),
        "the host's BTF must be untouched"
    );
    let env = [(AGENT_SOCKET_ENV, socket.to_str().unwrap_or_default())];
    check_classic_modes(&ns, &env, &|cmd: &mut Command| {
        in_private_mounts(cmd, HIDE_BTF)
    });
}

// ---------------------------------------------------------------------------------------------
// 4. tracefs not mounted

/// Unmounts tracefs (and debugfs, whose `tracing` directory would mount it again on
/// access) and checks it is gone.
const NO_TRACEFS: &str = "{ umount /sys/kernel/debug/tracing; umount /sys/kernel/tracing; \
     umount /sys/kernel/debug; } 2>/dev/null; ! grep -qw tracefs /proc/self/mounts";

/// What `--agent`/`--watch`/`--audit` without tracefs must do: work (the agent then
/// answers `-tanp` as net-tools does), or exit 1 with one line saying tracefs is not
/// mounted and what mounting it needs. Returns whether it worked.
fn tracefs_outcome(what: &str, started: Started, ns: &Netns, socket: &Path) -> bool {
    const CAUSE: &str = "tracefs is not mounted at /sys/kernel/tracing and mounting it \
                         failed: Operation not permitted (os error 1) (mounting needs \
                         CAP_SYS_ADMIN";
    match started {
        Started::Exited { .. } => {
            check_ebpf_mode_fails(what, started, CAUSE);
            false
        }
        Started::Ready(r) => {
            let mounts =
                std::fs::read_to_string(format!("/proc/{}/mounts", r.pid())).unwrap_or_default();
            let mounted = mounts
                .lines()
                .any(|l| l.contains(" /sys/kernel/tracing tracefs "));
            eprintln!(
                "{what} without tracefs: works, {}",
                if mounted {
                    "having mounted tracefs in its mount namespace"
                } else {
                    "without tracefs"
                }
            );
            if what == "--agent" {
                let env = [(AGENT_SOCKET_ENV, socket.to_str().unwrap_or_default())];
                let out = run_netstat_env(ns, &ours(), None, &env, &["-tanpv"]);
                assert!(
                    String::from_utf8_lossy(&out.stderr).contains(FROM_AGENT),
                    "{}",
                    show_output("ours", &out)
                );
                if let Err(report) = check_known_rows(ns, None, &env, &["-tanp"]) {
                    panic!("agent started without tracefs:\n{report}");
                }
            }
            let (status, stderr) = r.stop();
            assert!(status.success(), "{what}: {status}\n{stderr}");
            true
        }
    }
}

/// Test 4: tracefs is not mounted (private mount namespace, checked). Each eBPF mode
/// either works (as root today: it mounts tracefs itself, in its mount namespace only)
/// or exits 1 saying tracefs is missing and what mounting it needs (today: without
/// CAP_SYS_ADMIN, removed from the bounding set as a unit without it would).
#[test]
fn tracefs_unmounted_is_mounted_or_named() {
    require_root();
    let ns = Netns::new();
    let _keep = held_connections(&ns);
    let dir = TempDir::new("faults");
    let socket = dir.path().join("agent.sock");
    let host_mounts = sys_mounts();

    let as_root = |cmd: &mut Command| in_private_mounts(cmd, NO_TRACEFS);
    let no_sys_admin = |cmd: &mut Command| {
        let program = cmd.get_program().to_owned();
        let args: Vec<_> = cmd.get_args().map(|a| a.to_owned()).collect();
        let mut inner = Command::new("/usr/bin/setpriv");
        inner
            .args(["--bounding-set", "-sys_admin", "--inh-caps", "-all"])
            .args(["--ambient-caps", "-all", "--"])
            .arg(program)
            .args(args)
            .env(AGENT_SOCKET_ENV, &socket);
        in_private_mounts(&mut inner, NO_TRACEFS);
        *cmd = inner;
    };
    let mut worked = Vec::new();
    for (who, wrap) in [
        ("root", &as_root as &dyn Fn(&mut Command)),
        ("without CAP_SYS_ADMIN", &no_sys_admin),
    ] {
        // One at a time: the agent's check needs its socket to itself.
        for (what, args) in [
            ("--agent", &["--agent"][..]),
            ("--watch", &["--watch"]),
            ("--audit", &["--audit", "-t"]),
        ] {
            let mut cmd = Command::new(ours());
            cmd.args(args).env(AGENT_SOCKET_ENV, &socket);
            wrap(&mut cmd);
            if tracefs_outcome(what, start(cmd), &ns, &socket) {
                worked.push(format!("{what} as {who}"));
            }
        }
    }
    eprintln!("without tracefs, these worked: {worked:?} (the others said why not)");
    assert_eq!(
        sys_mounts(),
        host_mounts,
        "the host's mounts under /sys must be untouched"
    );
}

/// The host's mounts under /sys (tracefs, debugfs, bpffs, cgroups): what the modes might
/// mount. Network namespaces that other tests add and remove meanwhile (nsfs mounts under
/// /run/netns) are not part of the comparison.
fn sys_mounts() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mounts")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.split(' ').nth(1).is_some_and(|at| at.starts_with("/sys")))
        .map(str::to_owned)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// 5. exec and fork

/// `--watch --audit -t --json` limited to `ns`, started on the host.
fn live_stream(ns: &Netns) -> Running {
    let mut cmd = Command::new(ours());
    cmd.args(["--watch", "--audit", "-t", "--json", "--netns", ns.name()]);
    match start(cmd) {
        Started::Ready(r) => r,
        Started::Exited { status, stderr } => panic!("--watch --audit ended {status}:\n{stderr}"),
    }
}

/// The stream's JSON records about local port `lport`: (type, pid, comm, line).
fn records_of(lines: &[String], lport: u16) -> Vec<(String, Option<u64>, String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v.get("local_port")?.as_u64()? == u64::from(lport)).then(|| {
                (
                    v.get("type")
                        .and_then(|t| t.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    v.get("pid").and_then(serde_json::Value::as_u64),
                    v.get("comm")
                        .and_then(|c| c.as_str())
                        .unwrap_or_default()
                        .to_string(),
                    l.clone(),
                )
            })
        })
        .collect()
}

/// The owner our `-tanpv` (answered by `agent`) gives the row with local port `lport`
/// and remote port `rport`, once it is `want` (retrying for [`CONVERGE`]); panics with the
/// output otherwise.
fn wait_owner(ns: &Netns, agent: &Agent, lport: u16, rport: u16, want: &Owner) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let out = run_netstat_env(ns, &ours(), None, &agent.env(), &["-tanpv"]);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(FROM_AGENT),
            "{}",
            show_output("ours", &out)
        );
        let rows = inet_rows(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
        let row: Option<&InetRow> = rows
            .iter()
            .find(|r| r.local_port() == Some(lport) && r.foreign_port() == Some(rport));
        if row.and_then(|r| r.owner.as_ref()) == Some(want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "row :{lport} -> :{rport} should name {want:?}\n{}",
            show_output("ours", &out)
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// Test 5: a process holding a listener and a connection execs `/bin/sleep`: `-p` names
/// `PID/sleep` as net-tools does. A process that forks with parent and child both keeping
/// a listener and a connection: our rows are net-tools' (which names the first holder in
/// /proc). Then the exec'd process's connection ends (the server closes, then sleep is
/// killed): every `--watch` transition and the `--audit` record of it name its pid (with
/// the task name it last used the socket under, `nstf-exec`: see the README).
#[test]
fn exec_and_fork_name_the_right_process() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let stream = live_stream(&ns);
    let mut server = Script::start(
        &ns,
        "server",
        &["--comm", "nstf-srv", "--listen", "127.0.0.1:0"],
    );
    let l = server.expect("listen");
    let target = sa("127.0.0.1", port(&server, &l, 1));
    let mut execer = Script::start(
        &ns,
        "execer",
        &[
            "--comm",
            "nstf-exec",
            "--listen",
            "127.0.0.1:0",
            "--connect",
            &target,
        ],
    );
    let e_listen = {
        let f = execer.expect("listen");
        port(&execer, &f, 1)
    };
    let (e_local, e_remote) = {
        let f = execer.expect("conn");
        (port(&execer, &f, 0), port(&execer, &f, 2))
    };
    let mut forkboth = Script::start(
        &ns,
        "forkboth",
        &[
            "--comm",
            "nstf-fpar",
            "--child-comm",
            "nstf-fchi",
            "--listen",
            "127.0.0.1:0",
            "--connect",
            &target,
        ],
    );
    let f_child: u32 = {
        let f = forkboth.expect("child");
        forkboth.num(&f, 0, "child pid")
    };
    server.expect_n("accepted", 2);
    let e = execer.pid();
    let python = Owner::Live {
        pid: e,
        name: PYTHON.into(),
    };
    wait_owner(&ns, &agent, e_local, e_remote, &python);

    execer.send("exec");
    execer.expect("exec");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(format!("/proc/{e}/comm")).unwrap_or_default() != "sleep\n" {
        assert!(Instant::now() < deadline, "{e} did not exec sleep");
        thread::sleep(Duration::from_millis(20));
    }
    let sleep = Owner::Live {
        pid: e,
        name: "sleep".into(),
    };
    wait_owner(&ns, &agent, e_local, e_remote, &sleep);
    wait_owner(&ns, &agent, e_listen, 0, &sleep);
    // Every row net-tools names (the exec'd process's, and the forked pair's: net-tools
    // names the first holder it finds) is byte-identical.
    for args in [&["-tanp"][..], &["-tanpe"]] {
        if let Err(report) = check_known_rows(&ns, None, &agent.env(), args) {
            panic!("after exec / with a fork holding the same sockets:\n{report}");
        }
    }
    let real_rows = inet_rows(&run_netstat_in(&ns, &real(), None, &["-tanp"]).stdout)
        .unwrap_or_else(|e| panic!("{e}"));
    let forked: Vec<_> = real_rows
        .iter()
        .filter(|r| {
            matches!(r.owner.as_ref().and_then(Owner::pid), Some(p)
                if p == forkboth.pid() || p == f_child)
        })
        .collect();
    assert_eq!(
        forked.len(),
        2,
        "net-tools should name the forked pair on its listener and its connection"
    );

    // End the exec'd process's connection: the server closes, then sleep exits.
    server.send("close-accepted");
    server.expect("closed-accepted");
    signal(e, libc::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !records_of(&stream.lines(), e_local)
        .iter()
        .any(|r| r.0 == "connection")
    {
        assert!(
            Instant::now() < deadline,
            "no --audit record for :{e_local} within 20 s\n{}",
            stream.lines().join("\n")
        );
        thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr) = stream.stop_keep();
    let lines = status.1;
    assert!(
        status.0.success(),
        "the stream ended {}:\n{stderr}",
        status.0
    );
    let recs = records_of(&lines, e_local);
    let transitions = recs.iter().filter(|r| r.0 == "transition").count();
    assert!(
        transitions >= 3 && recs.iter().any(|r| r.0 == "connection"),
        "want the connection's transitions (ESTABLISHED -> CLOSE_WAIT -> LAST_ACK -> CLOSE) \
         and its record:\n{}",
        recs.iter()
            .map(|r| r.3.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The name is the kernel task name the owner had when it last used the socket (README):
    // sleep never touched it, so the records say the pre-exec name; the pid is the process.
    let wrong: Vec<&str> = recs
        .iter()
        .filter(|r| r.1 != Some(u64::from(e)) || r.2 != "nstf-exec")
        .map(|r| r.3.as_str())
        .collect();
    assert!(
        wrong.is_empty(),
        "records of :{e_local} must name pid {e} with the name it last used the socket \
         under (nstf-exec):\n{}",
        wrong.join("\n")
    );
    drop(forkboth);
}

// ---------------------------------------------------------------------------------------------
// 6. PID reuse

/// Start time of process `pid` (field 22 of /proc/PID/stat, clock ticks since boot).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The comm field may hold spaces: count from the closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Checks (and says, loudly) whether `pid_max` is per PID namespace here (Linux 6.14+):
/// a new PID namespace gets pid_max 400 and forks past it.
fn per_namespace_pid_max() {
    let script = "echo 400 > /proc/sys/kernel/pid_max || exit 3; i=0; \
                  while [ $i -lt 450 ]; do /bin/true; i=$((i+1)); done; \
                  cat /proc/sys/kernel/pid_max; sh -c 'echo $$'";
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--mount-proc", "/bin/sh", "-c", script]);
    let out = run_bounded(cmd);
    let text = String::from_utf8_lossy(&out.stdout);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    let host = std::fs::read_to_string("/proc/sys/kernel/pid_max").unwrap_or_default();
    match nums.as_slice() {
        [400, last] if *last < 400 => eprintln!(
            "NOTE: pid_max is per PID namespace here (a new namespace set it to 400 and its \
             PIDs wrapped to {last}; the host's stays {}). The agent and --audit name \
             processes by their PID in the initial namespace, where pid_max is the \
             machine's: a child namespace's wrap never reuses a PID they see. This test \
             reuses PIDs with clone3(set_tid) instead, and checks a caller inside a PID \
             namespace separately.",
            host.trim()
        ),
        _ => eprintln!(
            "WARNING: per-PID-namespace pid_max does NOT work here ({}; stdout {text:?}, \
             stderr {:?}); PIDs are reused with clone3(set_tid) instead",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Test 6: a client connects, closes first (the kernel keeps its end) and exits; a new
/// process is then made with the same PID (clone3 with set_tid, as a PID that wraps
/// would) and connects too. Three times. While that happens `--watch --audit` is stopped
/// (SIGSTOP), so it renders the old connection's records after the PID was reused.
/// `-tanp` from the agent names the TIME_WAIT row `PID/nstf-old*` (its owner is gone) and
/// the new connection `PID/python3`; net-tools' named rows are byte-identical; every
/// stream record of the old connection names the old process (`nstf-old`), never the new.
/// Then a `-tanp` run in a PID namespace of its own (where PIDs differ from the agent's)
/// is net-tools' output there, which cannot see the holders.
#[test]
fn reused_pid_never_inherits_an_older_connection() {
    require_root();
    per_namespace_pid_max();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let stream = live_stream(&ns);
    let mut server = Script::start(
        &ns,
        "server",
        &["--comm", "nstf-srv", "--listen", "127.0.0.1:0"],
    );
    let l = server.expect("listen");
    let sport = port(&server, &l, 1);
    let target = sa("127.0.0.1", sport);
    let mut olds = Vec::new();
    let mut keep = Vec::new();
    for _ in 0..3 {
        let mut old = Script::start(&ns, "client", &["--comm", "nstf-old", "--connect", &target]);
        let f = old.expect("conn");
        let old_port = port(&old, &f, 0);
        let pid = old.pid();
        let old_start = start_time(pid);
        wait_owner(
            &ns,
            &agent,
            old_port,
            sport,
            &Owner::Live {
                pid,
                name: PYTHON.into(),
            },
        );
        signal(stream.pid(), libc::SIGSTOP);
        old.send("close");
        old.expect("closed");
        old.send("exit");
        old.wait_exit(Duration::from_secs(10));
        drop(old);
        assert!(is_gone(pid), "{pid} should have exited");
        let then = format!("client --comm nstf-new --connect {target}");
        let mut new = Script::start(&ns, "reuse", &["--pid", &pid.to_string(), "--then", &then]);
        let f = new.expect("pid");
        let new_pid: u32 = new.num(&f, 0, "reused pid");
        assert_eq!(new_pid, pid, "clone3(set_tid={pid}) gave another pid");
        assert!(
            start_time(pid).is_some() && start_time(pid) != old_start,
            "pid {pid} should now be a later process"
        );
        let f = new.expect("conn");
        let new_port = port(&new, &f, 0);
        signal(stream.pid(), libc::SIGCONT);
        wait_owner(
            &ns,
            &agent,
            old_port,
            sport,
            &Owner::Gone {
                pid,
                comm: "nstf-old".into(),
            },
        );
        wait_owner(
            &ns,
            &agent,
            new_port,
            sport,
            &Owner::Live {
                pid,
                name: PYTHON.into(),
            },
        );
        if let Err(report) = check_known_rows(&ns, None, &agent.env(), &["-tanp"]) {
            panic!("after PID {pid} was reused:\n{report}");
        }
        olds.push((pid, old_port));
        keep.push(new);
    }
    // The old connections' records: each client's close hands its end to the kernel.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !olds.iter().all(|(_, p)| {
        records_of(&stream.lines(), *p)
            .iter()
            .any(|r| r.0 == "connection")
    }) {
        assert!(
            Instant::now() < deadline,
            "no --audit record of every old connection within 20 s:\n{}",
            stream.lines().join("\n")
        );
        thread::sleep(Duration::from_millis(50));
    }
    let ((status, lines), stderr) = stream.stop_keep();
    assert!(status.success(), "the stream ended {status}:\n{stderr}");
    let mut problems = Vec::new();
    for (pid, p) in &olds {
        for r in records_of(&lines, *p) {
            if r.1 != Some(u64::from(*pid)) || r.2 != "nstf-old" {
                problems.push(r.3);
            }
        }
    }
    assert!(
        problems.is_empty(),
        "records of old connections must name the old process ({olds:?}, nstf-old):\n{}",
        problems.join("\n")
    );

    // A caller in its own PID namespace: the agent's PIDs are not its PIDs.
    let links = TempDir::new("faults");
    let link = links.path().join("netstat");
    if let Err(e) = std::os::unix::fs::symlink(ours(), &link) {
        panic!("symlink: {e}");
    }
    for (args, verbose) in [(&["-tanp"][..], false), (&["-tanpv"], true)] {
        let in_pidns = |bin: &Path| {
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", ns.name()])
                .args(["unshare", "--pid", "--fork", "--mount-proc"])
                .arg(bin)
                .args(args)
                .envs(agent.env());
            run_bounded(cmd)
        };
        let (real_out, ours_out) = (in_pidns(&real()), in_pidns(&link));
        let (note, stripped) = split_note(&ours_out).unwrap_or_else(|e| panic!("{e}"));
        if verbose {
            assert!(
                note.as_deref().is_some_and(
                    |n| n.starts_with(FROM_PROC) && n.contains("another PID namespace")
                ),
                "-v must say the owners came from /proc, as the agent refused\n{}",
                show_output("ours", &ours_out)
            );
        }
        let compared = if verbose { &stripped } else { &ours_out };
        if let Err(d) = diff_outputs(&real_out, compared) {
            panic!(
                "`netstat {}` in a PID namespace of its own must be net-tools' output:\n{d}",
                args.join(" ")
            );
        }
    }
    drop(keep);
}
