//! The live modes' filters (issue 5: `--state`, `--port/--sport/--dport`, `--pid`,
//! `--comm`, `-4/-6`, `-t/-u`), applied in the kernel: one workload in a namespace,
//! several filtered `--json` streams on it at once, each compared with what the same
//! filter keeps of an unfiltered stream of the same run.
//!
//! Needs root.
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netstat_tests::json::Schema;
use netstat_tests::{Netns, ours, require_root};
use serde_json::Value;

/// A running `netstat --json …` on the host, watching one namespace.
struct Live {
    child: Child,
    what: String,
}

impl Live {
    fn start(ns: &Netns, args: &[&str]) -> Live {
        let what = args.join(" ");
        let mut child = Command::new(ours())
            .args(args)
            .args(["--json", "--netns", ns.name()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netstat");
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            if err.read_line(&mut line).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("netstat {what} did not get ready: {line}");
            }
        }
        // Keep draining stderr so the child never blocks on it.
        std::thread::spawn(move || for _ in err.lines() {});
        Live { child, what }
    }

    /// Stops it (SIGINT) and returns its records, checked against the schema.
    fn stop(mut self) -> Vec<Value> {
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let out = std::mem::replace(&mut self.child, Command::new("true").spawn().expect("true"))
            .wait_with_output()
            .expect("wait for netstat");
        assert!(
            out.status.success(),
            "netstat {}: {:?}",
            self.what,
            out.status
        );
        Schema::load().valid_records(&out.stdout)
    }
}

/// The workload: a v4 and a v6 listener, connections to each, a refused connect, one
/// UDP datagram each way; run by a python3 process named as given (comm).
const WORKLOAD: &str = r#"
import os, socket, sys
print(os.getpid(), flush=True)
sys.stdin.readline()
for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    for port in (7001, 7002):
        s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host, port)); s.listen()
        for i in range(3):
            c = socket.socket(fam); c.connect((host, port)); a, _ = s.accept()
            c.send(b"x" * (i + 1)); a.recv(10); c.close(); a.close()
        s.close()
c = socket.socket()
try:
    c.connect(("127.0.0.1", 7003))
except OSError:
    pass
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 7004))
v = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
v.sendto(b"ping", ("127.0.0.1", 7004)); u.recvfrom(10); u.close(); v.close()
print("done", flush=True)
"#;

/// The workload, started and waiting for [`Workload::go`]; its process is named `name`
/// (a symlink to python3: the kernel names a process after the file it executed).
struct Workload {
    child: Child,
    pid: u32,
    dir: std::path::PathBuf,
}

impl Workload {
    fn start(ns: &Netns, name: &str) -> Workload {
        let dir = std::env::temp_dir().join(format!("nst-filters-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let exe = dir.join(name);
        let _ = std::fs::remove_file(&exe);
        std::os::unix::fs::symlink("/usr/bin/python3", &exe).expect("symlink python3");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns.name()])
            .arg(&exe)
            .args(["-c", WORKLOAD])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("run workload");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("workload pid");
        let pid = first.trim().parse().expect("workload prints its pid");
        Workload { child, pid, dir }
    }

    fn go(mut self) {
        let mut stdin = self.child.stdin.take().expect("stdin");
        stdin.write_all(b"go\n").expect("go");
        drop(stdin);
        let out = std::mem::replace(&mut self.child, Command::new("true").spawn().expect("true"))
            .wait_with_output()
            .expect("workload");
        assert!(out.status.success(), "workload failed");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "done");
    }
}

impl Drop for Workload {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or(u64::MAX)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str().unwrap_or("")
}

/// The records of `all` of type `kind` that `keep` accepts, as comparable lines.
fn pick(all: &[Value], kind: &str, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    let mut v: Vec<String> = all
        .iter()
        .filter(|r| s(r, "type") == kind && keep(r))
        .map(|r| {
            format!(
                "{} {} {}:{} {}:{} {}>{} {}",
                s(r, "proto"),
                u(r, "cookie"),
                s(r, "local_addr"),
                u(r, "local_port"),
                s(r, "remote_addr"),
                u(r, "remote_port"),
                s(r, "old_state"),
                s(r, "new_state"),
                u(r, "pid"),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn filters_keep_exactly_what_they_name() {
    require_root();
    let ns = Netns::new();
    let everything = Live::start(&ns, &["--watch", "--audit"]);
    let time_wait = Live::start(&ns, &["--watch", "--state", "time-wait"]);
    let port = Live::start(&ns, &["--watch", "--audit", "--port", "7002"]);
    let sport = Live::start(&ns, &["--audit", "-t", "--sport", "7001"]);
    let v6 = Live::start(&ns, &["--watch", "-6"]);
    let comm = Live::start(&ns, &["--audit", "--comm", "nstfilterload"]);
    let other = Live::start(&ns, &["--audit", "--comm", "someoneelse"]);
    let udp = Live::start(&ns, &["--audit", "-u"]);
    let load = Workload::start(&ns, "nstfilterload");
    let pid = load.pid;
    let by_pid = Live::start(&ns, &["--watch", "--audit", "--pid", &pid.to_string()]);
    let not_pid = Live::start(&ns, &["--watch", "--pid", &(pid + 1).to_string()]);
    load.go();
    // Flows are reported on close within a second.
    std::thread::sleep(Duration::from_millis(1500));

    let all = everything.stop();
    let transitions = pick(&all, "transition", |_| true);
    assert!(transitions.len() >= 60, "{transitions:?}");
    let check = |what: &str, got: Vec<Value>, kind: &str, keep: &dyn Fn(&Value) -> bool| {
        let want = pick(&all, kind, keep);
        let got = pick(&got, kind, |_| true);
        assert!(!want.is_empty(), "{what}: nothing to compare");
        assert_eq!(got, want, "{what}");
    };
    check("--state time-wait", time_wait.stop(), "transition", &|r| {
        s(r, "old_state") == "TIME_WAIT" || s(r, "new_state") == "TIME_WAIT"
    });
    let port_records = port.stop();
    check("--port 7002", port_records.clone(), "transition", &|r| {
        u(r, "local_port") == 7002 || u(r, "remote_port") == 7002
    });
    check("--port 7002", port_records, "connection", &|r| {
        u(r, "local_port") == 7002 || u(r, "remote_port") == 7002
    });
    let sport_records = sport.stop();
    assert!(
        sport_records.iter().all(|r| s(r, "type") != "flow"),
        "-t: no flows"
    );
    check("--sport 7001", sport_records, "connection", &|r| {
        u(r, "local_port") == 7001
    });
    check("-6", v6.stop(), "transition", &|r| s(r, "proto") == "tcp6");
    let by_comm = comm.stop();
    check("--comm", by_comm.clone(), "connection", &|r| {
        s(r, "comm") == "nstfilterload"
    });
    check("--comm", by_comm, "flow", &|r| {
        s(r, "comm") == "nstfilterload"
    });
    let none = other.stop();
    assert!(none.is_empty(), "--comm someoneelse: {none:?}");
    let udp_records = udp.stop();
    assert!(
        udp_records.iter().all(|r| s(r, "type") == "flow"),
        "-u: flows only: {udp_records:?}"
    );
    check("-u", udp_records, "flow", &|_| true);
    let mine = by_pid.stop();
    check("--pid", mine.clone(), "transition", &|r| {
        u(r, "pid") == u64::from(pid)
    });
    check("--pid", mine, "connection", &|r| {
        u(r, "pid") == u64::from(pid)
    });
    let theirs = not_pid.stop();
    assert!(theirs.is_empty(), "--pid {}: {theirs:?}", pid + 1);
    // Every transition of the workload named its process.
    assert!(
        all.iter()
            .filter(|r| s(r, "type") == "transition")
            .all(|r| u(r, "pid") == u64::from(pid)),
        "owner of every transition"
    );
}
