//! Privileged: loads the real eBPF programs and checks that one TCP connection made in
//! its own network namespace produces the expected state transitions, with the right
//! addresses, ports and network namespace (issue 2, "the kernel side loads for real").
use std::{
    collections::BTreeSet,
    io::{BufRead as _, BufReader, Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    os::{fd::AsRawFd, unix::fs::MetadataExt},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use netstat_common::{AF_INET, IPPROTO_TCP, TcpStateEvent};
use netstat_tests::{Netns, ours, require_root};
use netstat_user::ebpf::{ProbeOptions, StateProbe};

fn netns_path(ns: &Netns) -> String {
    format!("/var/run/netns/{}", ns.name())
}

/// The namespace's inode number, which is what the kernel side reports.
fn inum(ns: &Netns) -> u32 {
    std::fs::metadata(netns_path(ns)).expect("netns file").ino() as u32
}

/// Runs `f` on a thread that has joined `ns` (setns changes only the calling thread).
fn in_netns<T: Send + 'static>(ns: &Netns, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = netns_path(ns);
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        // SAFETY: a valid namespace fd; only this thread moves.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("netns thread")
}

/// One connection on 127.0.0.1 inside `ns`: the client sends and closes first (active
/// close), the server reads to EOF and closes (passive close), then the listener goes.
/// Returns (server port, client port).
fn one_connection(ns: &Netns) -> (u16, u16) {
    in_netns(ns, || {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let server_port = listener.local_addr().expect("addr").port();
        let mut client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let client_port = client.local_addr().expect("addr").port();
        let (mut conn, _) = listener.accept().expect("accept");
        client.write_all(b"ping").expect("write");
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf).expect("read");
        drop(client); // ESTABLISHED -> FIN_WAIT1 -> FIN_WAIT2 (peer acks) ...
        let mut rest = Vec::new();
        conn.read_to_end(&mut rest).expect("read eof"); // server saw FIN: CLOSE_WAIT
        drop(conn); // CLOSE_WAIT -> LAST_ACK -> CLOSE; client -> TIME_WAIT hand-off
        drop(listener); // LISTEN -> CLOSE
        (server_port, client_port)
    })
}

#[test]
fn tcp_connection_in_netns_reports_every_transition() {
    require_root();
    let mut probe = match StateProbe::load(ProbeOptions::default()) {
        Ok(p) => p,
        Err(e) => panic!("the eBPF programs must load on this machine: {e}"),
    };
    assert!(
        probe.offsets.is_some(),
        "BTF offsets for the netns tag: {:?}",
        probe.offsets_error
    );
    let ns = Netns::new();
    let inum = inum(&ns);
    let (server_port, client_port) = one_connection(&ns);

    // Every transition we expect, as (local port, remote port, old, new).
    let expected: BTreeSet<(u16, u16, u8, u8)> = [
        // listener
        (server_port, 0, 7, 10), // CLOSE -> LISTEN
        (server_port, 0, 10, 7), // LISTEN -> CLOSE
        // client, active closer
        // CLOSE -> SYN_SENT fires inside tcp_connect() before the source port is
        // chosen: the record carries sport 0 (seen on 6.18).
        (0, server_port, 7, 2),
        (client_port, server_port, 2, 1), // SYN_SENT -> ESTABLISHED
        (client_port, server_port, 1, 4), // ESTABLISHED -> FIN_WAIT1
        (client_port, server_port, 4, 5), // FIN_WAIT1 -> FIN_WAIT2
        (client_port, server_port, 5, 7), // FIN_WAIT2 -> CLOSE (timewait sock takes over)
        // accepted socket, passive closer
        // The child is cloned from the listener, so its first change reads
        // LISTEN -> SYN_RECV, then SYN_RECV -> ESTABLISHED.
        (server_port, client_port, 10, 3),
        (server_port, client_port, 3, 1),
        (server_port, client_port, 1, 8), // ESTABLISHED -> CLOSE_WAIT
        (server_port, client_port, 8, 9), // CLOSE_WAIT -> LAST_ACK
        (server_port, client_port, 9, 7), // LAST_ACK -> CLOSE
    ]
    .into_iter()
    .collect();

    let mut seen: Vec<TcpStateEvent> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let key = |e: &TcpStateEvent| (e.sport, e.dport, e.oldstate, e.newstate);
    while Instant::now() < deadline {
        let (events, undecodable) = probe
            .poll(Duration::from_millis(200))
            .expect("poll ring buffer");
        assert_eq!(undecodable, 0, "undecodable ring buffer records");
        seen.extend(events.into_iter().filter(|e| e.netns == inum));
        let got: BTreeSet<_> = seen.iter().map(key).collect();
        if expected.is_subset(&got) {
            break;
        }
    }
    let got: BTreeSet<_> = seen.iter().map(key).collect();
    let missing: Vec<_> = expected.difference(&got).collect();
    assert!(
        missing.is_empty(),
        "transitions not reported: {missing:?}\nseen in netns {inum} (sport, dport, old, new): {:?}",
        seen.iter().map(key).collect::<Vec<_>>()
    );
    let lo = SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).ip();
    for e in &seen {
        assert_eq!(e.family, AF_INET, "{e:?}");
        assert_eq!(e.protocol, IPPROTO_TCP, "{e:?}");
        assert_eq!(
            e.saddr[..4],
            [127, 0, 0, 1],
            "source address of {e:?} (expected {lo})"
        );
        if e.dport != 0 {
            assert_eq!(e.daddr[..4], [127, 0, 0, 1], "dest address of {e:?}");
        }
    }
    assert_eq!(
        probe.lost().expect("lost counter"),
        netstat_user::ebpf::Lost::default(),
        "events lost at the default ring size"
    );
}

/// The same connection seen through the binary: `netstat --watch` started on the host
/// prints the transitions of a connection made inside another network namespace.
#[test]
fn watch_prints_transitions_of_another_netns() {
    require_root();
    let ns = Netns::new();
    let inum = inum(&ns);
    let mut watch = Command::new(ours())
        .arg("--watch")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start netstat --watch");
    let mut stderr = BufReader::new(watch.stderr.take().expect("stderr"));
    let mut line = String::new();
    stderr.read_line(&mut line).expect("read stderr");
    if !line.contains("ready") {
        let _ = watch.kill();
        panic!("netstat --watch did not get ready: {line}");
    }
    let (server_port, client_port) = one_connection(&ns);
    // Give the reader a moment, then stop it as a user would.
    std::thread::sleep(Duration::from_millis(800));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    let out = watch.wait_with_output().expect("wait for netstat --watch");
    assert!(
        out.status.success(),
        "netstat --watch exited with {:?}",
        out.status
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let tag = format!(" netns={inum} ");
    let mine: Vec<&str> = text.lines().filter(|l| l.contains(&tag)).collect();
    // Every line names this test process as the owner, even the changes that ran in
    // softirq (FIN_WAIT1 -> FIN_WAIT2) or as the peer: the owner comes from process
    // context, never from whatever task was current.
    let owner = format!(" {}/", std::process::id());
    let want = [
        format!("tcp 127.0.0.1:{client_port} 127.0.0.1:{server_port} ESTABLISHED -> FIN_WAIT1 "),
        format!("tcp 127.0.0.1:{client_port} 127.0.0.1:{server_port} FIN_WAIT1 -> FIN_WAIT2 "),
        // The client's socket hands over to a timewait socket: shown as its start.
        format!("tcp 127.0.0.1:{client_port} 127.0.0.1:{server_port} FIN_WAIT2 -> TIME_WAIT "),
        format!("tcp 127.0.0.1:{server_port} 127.0.0.1:{client_port} ESTABLISHED -> CLOSE_WAIT "),
        format!("tcp 127.0.0.1:{server_port} 127.0.0.1:{client_port} LAST_ACK -> CLOSE "),
        format!("tcp 127.0.0.1:{server_port} 0.0.0.0:0 CLOSE -> LISTEN "),
    ];
    for w in &want {
        assert!(
            mine.iter()
                .any(|l| l.contains(w.as_str()) && l.contains(&owner)),
            "no line with `{w}` owned by{owner} for netns {inum}; got:\n{}",
            mine.join("\n")
        );
    }
}

/// Nothing is lost silently: with a test-only 4 KiB ring (about 24 events) that nobody
/// reads while 500 connections run in one namespace, every state change is either
/// delivered or counted as lost, exactly. The kernel filters on the namespace, so no other
/// traffic on the machine can enter the ring or the counter.
#[test]
fn overflowed_ring_accounts_for_every_event() {
    require_root();
    let ns = Netns::new();
    let inum = inum(&ns);
    let mut probe = match StateProbe::load(
        ProbeOptions {
            ring_bytes: Some(4096),
            ..ProbeOptions::default()
        }
        .netns(inum),
    ) {
        Ok(p) => p,
        Err(e) => panic!("the eBPF programs must load on this machine: {e}"),
    };
    const CONNECTIONS: u64 = 500;
    in_netns(&ns, || {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        for _ in 0..CONNECTIONS {
            let client = TcpStream::connect(addr).expect("connect");
            let (mut conn, _) = listener.accept().expect("accept");
            drop(client);
            let mut rest = Vec::new();
            conn.read_to_end(&mut rest).expect("read eof");
        }
    });
    // Per connection: the client's CLOSE->SYN_SENT->ESTABLISHED->FIN_WAIT1->FIN_WAIT2->
    // CLOSE (5) and the child's LISTEN->SYN_RECV->ESTABLISHED->CLOSE_WAIT->LAST_ACK->CLOSE
    // (5); the listener's CLOSE->LISTEN and LISTEN->CLOSE once. Wait for the last closes.
    let generated = 10 * CONNECTIONS + 2;
    let mut delivered = 0u64;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut accounted = 0;
    while Instant::now() < deadline {
        let (events, undecodable) = probe.poll(Duration::from_millis(200)).expect("poll");
        assert_eq!(undecodable, 0, "undecodable ring buffer records");
        assert!(
            events.iter().all(|e| e.netns == inum),
            "the kernel let another namespace's event through"
        );
        delivered += events.len() as u64;
        let lost = probe.lost().expect("lost counter");
        assert_eq!(
            lost.conn_ring_full, 0,
            "no connection records were asked for"
        );
        accounted = delivered + lost.ring_full;
        if accounted >= generated {
            break;
        }
    }
    let lost = probe.lost().expect("lost counter");
    assert!(
        lost.ring_full > 0,
        "a 4 KiB ring should have overflowed (delivered {delivered})"
    );
    assert_eq!(
        delivered + lost.ring_full,
        generated,
        "delivered {delivered} + lost {} != generated {generated} (accounted {accounted})",
        lost.ring_full
    );
}

/// Starts `netstat --watch --netns NS`, with the classic tracepoint forced when
/// `classic`; returns it once ready, with its ready line.
#[allow(clippy::zombie_processes)] // the caller waits for it (stop_watch)
fn start_watch(ns: &Netns, classic: bool) -> (std::process::Child, String) {
    let mut cmd = Command::new(ours());
    cmd.args(["--watch", "--netns", ns.name()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if classic {
        cmd.env("NETSTAT_TEST_STATE_TRACEPOINT", "1");
    }
    let mut watch = cmd.spawn().expect("start netstat --watch");
    let mut stderr = BufReader::new(watch.stderr.take().expect("stderr"));
    let mut said = String::new();
    loop {
        let mut line = String::new();
        if stderr.read_line(&mut line).expect("read stderr") == 0 {
            let _ = watch.kill();
            let _ = watch.wait();
            panic!("netstat --watch exited before it was ready: {said}");
        }
        said.push_str(&line);
        if line.contains("ready") {
            return (watch, said);
        }
    }
}

/// The lines of a stopped `--watch`, without their time and duration columns.
fn stop_watch(watch: std::process::Child) -> Vec<String> {
    // SAFETY: signalling our own child.
    unsafe { libc::kill(watch.id() as i32, libc::SIGINT) };
    let out = watch.wait_with_output().expect("wait for netstat --watch");
    assert!(out.status.success(), "--watch exited with {:?}", out.status);
    let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(' ').collect();
            fields[1..fields.len() - 1].join(" ")
        })
        .collect();
    lines.sort();
    lines
}

/// The state-change program attaches as a raw tracepoint where it can, else as the
/// classic tracepoint (a test-only switch forces that here). Both read the same change
/// from different places — `struct sock` fields found through BTF, or the trace record —
/// and must print exactly the same lines, IPv4 and IPv6, both ends, to the CLOSE whose
/// socket has already released its port.
#[test]
fn raw_and_classic_tracepoints_print_the_same_lines() {
    require_root();
    let ns = Netns::new();
    let (raw, raw_said) = start_watch(&ns, false);
    let (classic, classic_said) = start_watch(&ns, true);
    assert!(
        raw_said.contains("from raw tracepoint inet_sock_set_state"),
        "the raw tracepoint did not attach on this kernel:\n{raw_said}"
    );
    assert!(
        classic_said.contains("from tracepoint sock:inet_sock_set_state")
            && classic_said.contains("no raw tracepoint (NETSTAT_TEST_STATE_TRACEPOINT is set)"),
        "{classic_said}"
    );
    one_connection(&ns);
    in_netns(&ns, || {
        let listener = std::net::TcpListener::bind("[::1]:0").expect("bind ::1");
        let client = TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (conn, _) = listener.accept().expect("accept");
        // Passive side closes first this time.
        drop(conn);
        std::thread::sleep(Duration::from_millis(20));
        drop(client);
    });
    std::thread::sleep(Duration::from_millis(800));
    let (raw, classic) = (stop_watch(raw), stop_watch(classic));
    assert_eq!(
        raw.len(),
        24,
        "12 changes per connection:\n{}",
        raw.join("\n")
    );
    assert_eq!(raw, classic);
}
