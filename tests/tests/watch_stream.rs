//! `netstat --watch` as a stream of owned transitions (issue: live state-transition
//! stream): a server and a client in two namespaces joined by veth, the watch started on
//! the host. Every transition of both sides must name its true owner — also those the
//! kernel runs in softirq or as the peer — and the active closer's TIME_WAIT must show
//! its start and, once the kernel drops it, its end.
//!
//! Needs root. The TIME_WAIT end takes the kernel's full 60 s: this test waits for it.
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netstat_tests::agent::Script;
use netstat_tests::{Netns, ours, require_root};

/// A running `netstat --watch` whose stdout is collected by a thread.
struct Watch {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Watch {
    fn start() -> Watch {
        let mut child = Command::new(ours())
            .arg("--watch")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start netstat --watch");
        let mut err = BufReader::new(child.stderr.take().expect("stderr"));
        let mut first = String::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !first.contains("ready") {
            first.clear();
            if err.read_line(&mut first).unwrap_or(0) == 0 || Instant::now() > deadline {
                let _ = child.kill();
                panic!("netstat --watch did not get ready: {first}");
            }
        }
        std::thread::spawn(move || for _ in err.lines() {});
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for l in out.lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line containing every one of `parts`.
    fn wait_for(&mut self, parts: &[&str], timeout: Duration) -> String {
        let found = |l: &str| parts.iter().all(|p| l.contains(p));
        if let Some(l) = self.seen.iter().find(|l| found(l)) {
            return l.clone();
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if found(&l) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no --watch line with {parts:?} within {timeout:?}; lines of this test:\n{}",
                    self.seen
                        .iter()
                        .filter(|l| l.contains(parts[0]))
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("\n")
                ),
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let status = self.child.wait();
        if !std::thread::panicking() {
            assert!(
                status.as_ref().is_ok_and(|s| s.success()),
                "netstat --watch exited with {status:?}"
            );
        }
    }
}

fn inum(ns: &Netns) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), "readlink", "/proc/self/ns/net"])
        .output()
        .expect("readlink");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .trim_start_matches("net:[")
        .trim_end_matches(']')
        .to_string()
}

#[test]
fn watch_names_both_sides_of_an_active_and_a_passive_close_and_the_time_wait_end() {
    require_root();
    let server_ns = Netns::new();
    let (client_ns, veth) = server_ns.veth_peer();
    let mut watch = Watch::start();
    let srv_addr = SocketAddr::new(IpAddr::V4(veth.local_v4), 0).to_string();
    let mut server = Script::start(
        &server_ns,
        "server",
        &["--comm", "nst-wsrv", "--listen", &srv_addr],
    );
    let listen = server.expect("listen");
    let port: u16 = server.num(&listen, 1, "port");
    let target = SocketAddr::new(IpAddr::V4(veth.local_v4), port).to_string();
    let mut client = Script::start(
        &client_ns,
        "client",
        &["--comm", "nst-wcli", "--connect", &target],
    );
    let conn = client.expect("conn");
    let cport: u16 = client.num(&conn, 0, "client port");
    server.expect("accepted");
    let (s_ns, c_ns) = (
        format!("netns={} ", inum(&server_ns)),
        format!("netns={} ", inum(&client_ns)),
    );
    let (srv, cli) = (
        format!(" {}/nst-wsrv(root) ", server.pid()),
        format!(" {}/nst-wcli(root) ", client.pid()),
    );
    let (s_end, c_end) = (
        format!("{}:{port} {}:{cport} ", veth.local_v4, veth.peer_v4),
        format!("{}:{cport} {}:{port} ", veth.peer_v4, veth.local_v4),
    );
    let t = Duration::from_secs(10);
    // The handshake: the server's child is its listener's until accept.
    watch.wait_for(&[&c_ns, &cli, &c_end, "SYN_SENT -> ESTABLISHED "], t);
    watch.wait_for(&[&s_ns, &srv, &s_end, "LISTEN -> SYN_RECV "], t);
    watch.wait_for(&[&s_ns, &srv, &s_end, "SYN_RECV -> ESTABLISHED "], t);
    // The client closes first (active close), then exits; the server closes (passive).
    client.send("close");
    client.expect("closed");
    drop(client);
    watch.wait_for(&[&c_ns, &cli, &c_end, "ESTABLISHED -> FIN_WAIT1 "], t);
    watch.wait_for(&[&c_ns, &cli, &c_end, "FIN_WAIT1 -> FIN_WAIT2 "], t);
    watch.wait_for(&[&s_ns, &srv, &s_end, "ESTABLISHED -> CLOSE_WAIT "], t);
    server.send("close-accepted");
    server.expect("closed-accepted");
    watch.wait_for(&[&s_ns, &srv, &s_end, "CLOSE_WAIT -> LAST_ACK "], t);
    watch.wait_for(&[&s_ns, &srv, &s_end, "LAST_ACK -> CLOSE "], t);
    let start = watch.wait_for(&[&c_ns, &cli, &c_end, "FIN_WAIT2 -> TIME_WAIT "], t);
    // Its end: the kernel keeps a timewait socket 60 s; the watch checks each second.
    let end = watch.wait_for(
        &[&c_ns, &cli, &c_end, "TIME_WAIT -> CLOSE "],
        Duration::from_secs(90),
    );
    let ms: f64 = end
        .rsplit(' ')
        .next()
        .and_then(|d| d.strip_suffix("ms"))
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("no duration on `{end}` (start: `{start}`)"));
    assert!(
        (59_000.0..64_000.0).contains(&ms),
        "TIME_WAIT lasted {ms} ms, want the kernel's 60 s (+ timer slack and the 250 ms check): `{end}`"
    );
}
