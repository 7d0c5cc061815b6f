//! Privileged: the socket-owner agent (`netstat --agent`) and `-p` answered from it.
//!
//! Each test makes its own network namespaces, starts its own agent on the host with the
//! query socket in a temporary directory (`NETSTAT_AGENT_SOCKET`), and fills the namespaces
//! with Python processes (`tests/scripts/owners.py`) that report their pids and ports. Then
//! it runs our `netstat -tanp`/`-uanp` there and checks every row's PID/Program name:
//!
//! * a live owner reads exactly as net-tools prints it, `PID/python3` (argv\[0\]'s basename);
//! * an owner that has exited reads `PID/comm*`, where comm is the kernel task name the
//!   script set with prctl (`nst-...`, deliberately different from `python3`);
//! * rows net-tools can name (one live holder) are byte-identical to `/usr/bin/netstat`;
//!   rows it prints as `-` (TIME_WAIT, orphans, accept queue) are the agent's additions and
//!   are checked on their own.
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --test owners --
//! --test-threads=1`.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    AGENT_SOCKET_ENV, Agent, FROM_AGENT, FROM_PROC, InetRow, Owner, Script, check_env,
    check_known_rows, check_verbose_fallback, inet_rows, run_netstat_env, show_output,
};
use netstat_tests::{Netns, Output, TempDir, ours, real, require_root, run_netstat_in};

/// uid/gid `nobody` on Debian.
const NOBODY: u32 = 65534;
/// What net-tools prints after `PID/` for a live helper: argv\[0\] is `/usr/bin/python3`.
const LIVE_NAME: &str = "python3";
/// How long the agent may take to reflect a change (it reads its ring buffer
/// asynchronously); owner checks retry until then.
const CONVERGE: Duration = Duration::from_secs(3);
/// Longest PID/Program name label, as net-tools cuts it.
const LABEL_MAX: usize = 19;
/// How long a socket may take to reach the state a test waits for.
const SETTLE: Duration = Duration::from_secs(15);

const LO4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LO6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);

// ---------------------------------------------------------------------------------------------
// Expectations

/// A socket within one namespace: family, local port, remote port (0: listener/unconnected).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    v6: bool,
    local: u16,
    remote: u16,
}

impl Key {
    /// The same connection seen from the other end.
    fn reversed(self) -> Key {
        Key {
            v6: self.v6,
            local: self.remote,
            remote: self.local,
        }
    }
}

fn key_of(row: &InetRow) -> Option<Key> {
    Some(Key {
        v6: row.is_v6(),
        local: row.local_port()?,
        remote: row.foreign_port()?,
    })
}

/// Who a row must name, and in which state it must be.
#[derive(Clone, Debug)]
struct Want {
    pid: u32,
    /// `Some(comm)`: the owner has exited, the label is `PID/comm*`.
    gone_comm: Option<&'static str>,
    state: &'static str,
}

impl Want {
    fn live(pid: u32, state: &'static str) -> Want {
        Want {
            pid,
            gone_comm: None,
            state,
        }
    }

    fn gone(pid: u32, comm: &'static str, state: &'static str) -> Want {
        Want {
            pid,
            gone_comm: Some(comm),
            state,
        }
    }

    fn label(&self) -> String {
        match self.gone_comm {
            Some(comm) => format!("{}/{comm}*", self.pid),
            None => format!("{}/{LIVE_NAME}", self.pid),
        }
    }

    fn matches(&self, owner: Option<&Owner>) -> bool {
        match (owner, self.gone_comm) {
            (Some(Owner::Live { pid, name }), None) => *pid == self.pid && name == LIVE_NAME,
            (Some(Owner::Gone { pid, comm }), Some(want)) => *pid == self.pid && comm == want,
            _ => false,
        }
    }
}

type Wants = BTreeMap<Key, Want>;

fn sa(ip: IpAddr, port: u16) -> String {
    SocketAddr::new(ip, port).to_string()
}

fn port(s: &Script, fields: &[String], i: usize) -> u16 {
    s.num(fields, i, "port")
}

/// `n` `listen`/`listen-noaccept` lines: (v6, port).
fn listeners(s: &mut Script, key: &str, n: usize) -> Vec<Key> {
    s.expect_n(key, n)
        .iter()
        .map(|f| Key {
            v6: f.first().is_some_and(|h| h.contains(':')),
            local: port(s, f, 1),
            remote: 0,
        })
        .collect()
}

/// `n` `conn`/`accepted` lines (`LPORT RHOST RPORT`).
fn connections(s: &mut Script, key: &str, n: usize) -> Vec<Key> {
    s.expect_n(key, n)
        .iter()
        .map(|f| Key {
            v6: f.get(1).is_some_and(|h| h.contains(':')),
            local: port(s, f, 0),
            remote: port(s, f, 2),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Running and checking

/// Our `netstat ARGS -v` with the agent's socket, as root in `ns`. Panics unless it exits 0,
/// says on stderr that the owners came from the agent, and its rows parse.
fn ours_with_agent(ns: &Netns, agent: &Agent, args: &[&str]) -> (Output, Vec<InetRow>) {
    let mut argv = args.to_vec();
    argv.push("-v");
    let out = run_netstat_env(ns, &ours(), None, &agent.env(), &argv);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.lines().any(|l| l.starts_with(FROM_AGENT)),
        "`netstat {}` in {} with the agent running must exit 0 and print `{FROM_AGENT}` \
         on stderr\n{}",
        argv.join(" "),
        ns.name(),
        show_output("ours", &out)
    );
    match inet_rows(&out.stdout) {
        Ok(rows) => (out, rows),
        Err(e) => panic!("{e}\n{}", show_output("ours", &out)),
    }
}

/// net-tools' rows for `args` (as root) in `ns`.
fn real_rows(ns: &Netns, args: &[&str]) -> (Output, Vec<InetRow>) {
    let out = run_netstat_in(ns, &real(), None, args);
    match inet_rows(&out.stdout) {
        Ok(rows) => (out, rows),
        Err(e) => panic!("{e}\n{}", show_output("net-tools", &out)),
    }
}

/// Problems of one output against `wants`: every wanted row present with its state and
/// label, no other row, no label longer than net-tools' 19 bytes.
fn owner_problems(rows: &[InetRow], wants: &Wants) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen: BTreeMap<Key, usize> = BTreeMap::new();
    for row in rows {
        if let Some(text) = &row.owner_text
            && text.len() > LABEL_MAX
        {
            problems.push(format!(
                "label `{text}` is longer than {LABEL_MAX} bytes: `{}`",
                row.line
            ));
        }
        let Some(key) = key_of(row) else {
            problems.push(format!("row without numeric ports: `{}`", row.line));
            continue;
        };
        *seen.entry(key).or_default() += 1;
        match wants.get(&key) {
            None => problems.push(format!("unexpected row: `{}`", row.line)),
            Some(want) => {
                if row.state != want.state {
                    problems.push(format!(
                        "state `{}`, want `{}`: `{}`",
                        row.state, want.state, row.line
                    ));
                }
                if !want.matches(row.owner.as_ref()) {
                    problems.push(format!(
                        "PID/Program name `{}`, want `{}`: `{}`",
                        row.owner_text.as_deref().unwrap_or("(no column)"),
                        want.label(),
                        row.line
                    ));
                }
            }
        }
    }
    for (key, want) in wants {
        match seen.get(key).copied().unwrap_or(0) {
            1 => {}
            0 => problems.push(format!(
                "missing row {key:?} (want {} {})",
                want.state,
                want.label()
            )),
            n => problems.push(format!("{n} rows for {key:?}")),
        }
    }
    problems
}

/// Runs our `ARGS -v` with the agent until every row of `ns` is exactly `wants` (retrying
/// for [`CONVERGE`]); panics with the problems and both tools' full outputs otherwise.
fn check_owners(ns: &Netns, agent: &Agent, args: &[&str], wants: &Wants, what: &str) {
    let deadline = Instant::now() + CONVERGE;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (out, rows) = ours_with_agent(ns, agent, args);
        let problems = owner_problems(&rows, wants);
        if problems.is_empty() {
            return;
        }
        if Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        let (real_out, _) = real_rows(ns, args);
        panic!(
            "{what}: `netstat {}` in {} names the wrong owners ({attempts} attempts over \
             {CONVERGE:?}):\n  {}\nwanted:\n{}\n{}{}",
            args.join(" "),
            ns.name(),
            problems.join("\n  "),
            wants
                .iter()
                .map(|(k, w)| format!("  {k:?} {} {}\n", w.state, w.label()))
                .collect::<String>(),
            show_output("ours (-v, with the agent)", &out),
            show_output("net-tools, for reference", &real_out),
        );
    }
}

/// [`check_known_rows`] as root, panicking with its report.
fn known_rows_match(ns: &Netns, agent: &Agent, args: &[&str]) {
    if let Err(report) = check_known_rows(ns, None, &agent.env(), args) {
        panic!("rows net-tools can name must be byte-identical:\n{report}");
    }
}

/// Asserts that net-tools prints `-` for each of `keys` (the rows only the agent can name).
fn real_shows_dash(ns: &Netns, args: &[&str], keys: &[Key]) {
    let (out, rows) = real_rows(ns, args);
    for key in keys {
        let found = rows.iter().find(|r| key_of(r) == Some(*key));
        assert!(
            found.is_some_and(|r| r.owner == Some(Owner::Unknown)),
            "net-tools should print `-` for {key:?} (no live holder)\n{}",
            show_output("net-tools", &out)
        );
    }
}

/// Waits until net-tools' `-tan` rows in `ns` are exactly `want` (key -> state).
fn wait_settled(ns: &Netns, want: &BTreeMap<Key, &'static str>) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let (out, rows) = real_rows(ns, &["-tan"]);
        let got: BTreeMap<Key, &str> = rows
            .iter()
            .filter_map(|r| Some((key_of(r)?, r.state.as_str())))
            .collect();
        let same = got.len() == rows.len()
            && got.len() == want.len()
            && want.iter().all(|(k, s)| got.get(k) == Some(s));
        if same {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the sockets in {} did not reach {want:?} within {SETTLE:?}\n{}",
            ns.name(),
            show_output("net-tools -tan", &out)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---------------------------------------------------------------------------------------------
// 1, 2: held connections

/// A server (two listeners it accepts on, one it never accepts on) and three clients, all
/// holding their connections. Returns the wanted rows of the server's and the clients'
/// namespace, and keeps the processes in `keep`.
fn held_connections(
    server_ns: &Netns,
    client_ns: &Netns,
    v4: IpAddr,
    v6: IpAddr,
    keep: &mut Vec<Script>,
) -> (Wants, Wants) {
    let mut server = Script::start(
        server_ns,
        "server",
        &[
            "--comm",
            "nst-srv",
            "--listen",
            &sa(v4, 0),
            "--listen",
            &sa(v6, 0),
            "--no-accept",
            &sa(v4, 0),
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let idle = listeners(&mut server, "listen-noaccept", 1);
    let (p4, p6, pq) = (open[0].local, open[1].local, idle[0].local);
    let mut server_side = Wants::new();
    for k in open.iter().chain(&idle) {
        server_side.insert(*k, Want::live(server.pid(), "LISTEN"));
    }
    let mut client_side = Wants::new();
    for i in 0..3 {
        let (a4, a6, aq) = (sa(v4, p4), sa(v6, p6), sa(v4, pq));
        let mut args = vec!["--comm", "nst-cli", "--connect", &a4, "--connect", &a6];
        if i == 0 {
            args.extend(["--connect", aq.as_str()]);
        }
        let mut client = Script::start(client_ns, "client", &args);
        for k in connections(&mut client, "conn", if i == 0 { 3 } else { 2 }) {
            client_side.insert(k, Want::live(client.pid(), "ESTABLISHED"));
            if k.remote == pq {
                // Waiting in the accept queue: the listener's owner holds it.
                server_side.insert(k.reversed(), Want::live(server.pid(), "ESTABLISHED"));
            }
        }
        keep.push(client);
    }
    for k in connections(&mut server, "accepted", 6) {
        server_side.insert(k, Want::live(server.pid(), "ESTABLISHED"));
    }
    keep.push(server);
    (server_side, client_side)
}

const BYTE_COMPARED: [&[&str]; 4] = [&["-tanp"], &["-tanpW"], &["-tanpe"], &["-tanpo"]];

/// Test 1: server in one namespace, clients in another, over a veth pair.
#[test]
fn veth_connections_name_their_holders() {
    require_root();
    let server_ns = Netns::new();
    let (client_ns, veth) = server_ns.veth_peer();
    let agent = Agent::start_temp();
    let mut keep = Vec::new();
    let (server_side, client_side) = held_connections(
        &server_ns,
        &client_ns,
        IpAddr::V4(veth.local_v4),
        IpAddr::V6(veth.local_v6),
        &mut keep,
    );
    check_owners(&server_ns, &agent, &["-tanp"], &server_side, "server side");
    check_owners(&client_ns, &agent, &["-tanp"], &client_side, "client side");
    for ns in [&server_ns, &client_ns] {
        for args in BYTE_COMPARED {
            known_rows_match(ns, &agent, args);
        }
    }
}

/// Test 2: the same over loopback, server and clients in one namespace.
#[test]
fn loopback_connections_name_their_holders() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut keep = Vec::new();
    let (mut wants, client_side) = held_connections(&ns, &ns, LO4, LO6, &mut keep);
    wants.extend(client_side);
    check_owners(&ns, &agent, &["-tanp"], &wants, "loopback");
    for args in BYTE_COMPARED {
        known_rows_match(&ns, &agent, args);
    }
}

// ---------------------------------------------------------------------------------------------
// 3, 4: owners that have exited

/// Test 3: a client closes first and exits; its TIME_WAIT rows name it as `PID/comm*`.
/// One client closes explicitly before exiting, the other leaves the close to exit().
#[test]
fn time_wait_names_the_exited_client_with_its_comm() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut server = Script::start(
        &ns,
        "server",
        &[
            "--comm",
            "nst-srv",
            "--mode",
            "drain",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let (a4, a6) = (sa(LO4, open[0].local), sa(LO6, open[1].local));
    let mut closer = Script::start(
        &ns,
        "client",
        &["--comm", "nst-tw1", "--connect", &a4, "--connect", &a6],
    );
    let closer_conns = connections(&mut closer, "conn", 2);
    let mut exiter = Script::start(&ns, "client", &["--comm", "nst-tw2", "--connect", &a4]);
    let exiter_conns = connections(&mut exiter, "conn", 1);

    closer.send("close");
    closer.expect("closed");
    closer.send("exit");
    closer.wait_exit(Duration::from_secs(10));
    exiter.send("exit");
    exiter.wait_exit(Duration::from_secs(10));

    let mut wants = Wants::new();
    let mut settled = BTreeMap::new();
    for k in &open {
        wants.insert(*k, Want::live(server.pid(), "LISTEN"));
        settled.insert(*k, "LISTEN");
    }
    for (conns, pid, comm) in [
        (&closer_conns, closer.pid(), "nst-tw1"),
        (&exiter_conns, exiter.pid(), "nst-tw2"),
    ] {
        for k in conns {
            wants.insert(*k, Want::gone(pid, comm, "TIME_WAIT"));
            settled.insert(*k, "TIME_WAIT");
        }
    }
    wait_settled(&ns, &settled);
    let tw: Vec<Key> = closer_conns.iter().chain(&exiter_conns).copied().collect();
    real_shows_dash(&ns, &["-tanp"], &tw);
    check_owners(&ns, &agent, &["-tanp"], &wants, "TIME_WAIT after exit");
    known_rows_match(&ns, &agent, &["-tanp"]);
    known_rows_match(&ns, &agent, &["-tanpo"]);
}

/// Test 4: the server closes its accepted sockets first (the client keeps its end) and
/// exits: the orphaned FIN_WAIT2 rows name the server as `PID/comm*`, the client's
/// CLOSE_WAIT rows name the live client.
#[test]
fn orphaned_fin_wait2_names_the_exited_server_and_close_wait_the_live_client() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut server = Script::start(
        &ns,
        "server",
        &[
            "--comm",
            "nst-fw2",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let (a4, a6) = (sa(LO4, open[0].local), sa(LO6, open[1].local));
    let mut client = Script::start(
        &ns,
        "client",
        &["--comm", "nst-cli", "--connect", &a4, "--connect", &a6],
    );
    let conns = connections(&mut client, "conn", 2);
    let accepted = connections(&mut server, "accepted", 2);
    server.send("close-accepted");
    server.expect("closed-accepted");
    server.send("exit");
    server.expect("exiting");
    server.wait_exit(Duration::from_secs(10));

    let mut wants = Wants::new();
    let mut settled = BTreeMap::new();
    for k in &accepted {
        wants.insert(*k, Want::gone(server.pid(), "nst-fw2", "FIN_WAIT2"));
        settled.insert(*k, "FIN_WAIT2");
    }
    for k in &conns {
        wants.insert(*k, Want::live(client.pid(), "CLOSE_WAIT"));
        settled.insert(*k, "CLOSE_WAIT");
    }
    wait_settled(&ns, &settled);
    real_shows_dash(&ns, &["-tanp"], &accepted);
    check_owners(
        &ns,
        &agent,
        &["-tanp"],
        &wants,
        "FIN_WAIT2 orphan / CLOSE_WAIT",
    );
    known_rows_match(&ns, &agent, &["-tanp"]);
}

// ---------------------------------------------------------------------------------------------
// 5: seeding

/// Test 5: listeners, established connections (both ends, one still in an accept queue)
/// and UDP sockets that exist before the agent starts are named from its seed.
#[test]
fn sockets_made_before_the_agent_are_seeded() {
    require_root();
    let ns = Netns::new();
    let mut keep = Vec::new();
    let (mut tcp, client_side) = held_connections(&ns, &ns, LO4, LO6, &mut keep);
    tcp.extend(client_side);
    let (udp, _udp_keep) = udp_sockets(&ns);
    let agent = Agent::start_temp();
    check_owners(&ns, &agent, &["-tanp"], &tcp, "TCP made before the agent");
    check_owners(&ns, &agent, &["-uanp"], &udp, "UDP made before the agent");
    known_rows_match(&ns, &agent, &["-tanp"]);
    known_rows_match(&ns, &agent, &["-uanp"]);
}

// ---------------------------------------------------------------------------------------------
// 6, 7: sockets that change hands

/// Test 6: a parent makes a listener and a connection, fork+execs a child that inherits
/// both; one parent closes its copies and stays alive, the other exits. The rows name the
/// children (live), never the parents.
#[test]
fn forked_child_owns_inherited_sockets_after_the_parent_closes_or_exits() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut server = Script::start(
        &ns,
        "server",
        &[
            "--comm",
            "nst-srv",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let mut wants = Wants::new();
    for k in &open {
        wants.insert(*k, Want::live(server.pid(), "LISTEN"));
    }
    let mut forkers = Vec::new();
    for (mode, listen, target) in [
        ("close", "127.0.0.1:0", sa(LO4, open[0].local)),
        ("exit", "[::1]:0", sa(LO6, open[1].local)),
    ] {
        let mut parent = Script::start(
            &ns,
            "forker",
            &[
                "--comm",
                "nst-parent",
                "--child-comm",
                "nst-child",
                "--mode",
                mode,
                "--listen",
                listen,
                "--connect",
                &target,
            ],
        );
        let lkey = listeners(&mut parent, "listen", 1)[0];
        let ckey = connections(&mut parent, "conn", 1)[0];
        let child_line = parent.expect("child");
        let child: u32 = parent.num(&child_line, 0, "child pid");
        parent.expect("child-ready");
        if mode == "exit" {
            parent.expect("parent-exiting");
            parent.wait_exit(Duration::from_secs(10));
        } else {
            parent.expect("parent-closed");
        }
        assert_ne!(child, parent.pid(), "{}", parent.transcript());
        wants.insert(lkey, Want::live(child, "LISTEN"));
        wants.insert(ckey, Want::live(child, "ESTABLISHED"));
        forkers.push(parent);
    }
    for k in connections(&mut server, "accepted", 2) {
        wants.insert(k, Want::live(server.pid(), "ESTABLISHED"));
    }
    check_owners(&ns, &agent, &["-tanp"], &wants, "fork/exec hand-over");
    known_rows_match(&ns, &agent, &["-tanp"]);
}

/// Test 7: P connects two sockets, passes them to Q over a unix socket (SCM_RIGHTS) and
/// closes its copies while staying alive; Q writes on one of them and only holds the
/// other. Both rows name Q.
#[test]
fn scm_rights_receiver_owns_the_passed_socket() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let dir = TempDir::new("unix");
    let path = dir.path().join("pass.sock");
    let path = path.to_str().unwrap_or_default().to_string();
    let mut server = Script::start(
        &ns,
        "server",
        &[
            "--comm",
            "nst-srv",
            "--listen",
            "127.0.0.1:0",
            "--listen",
            "[::1]:0",
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let mut receiver = Script::start(
        &ns,
        "receiver",
        &["--comm", "nst-recv", "--unix", &path, "--io-count", "1"],
    );
    let (a4, a6) = (sa(LO4, open[0].local), sa(LO6, open[1].local));
    let mut sender = Script::start(
        &ns,
        "sender",
        &[
            "--comm",
            "nst-send",
            "--unix",
            &path,
            "--connect",
            &a4,
            "--connect",
            &a6,
        ],
    );
    let passed = connections(&mut sender, "conn", 2);
    sender.expect("sent-closed");
    receiver.expect_n("received", 2);
    receiver.expect("received-all");

    let mut wants = Wants::new();
    for k in &open {
        wants.insert(*k, Want::live(server.pid(), "LISTEN"));
    }
    for k in &passed {
        wants.insert(*k, Want::live(receiver.pid(), "ESTABLISHED"));
    }
    for k in connections(&mut server, "accepted", 2) {
        wants.insert(k, Want::live(server.pid(), "ESTABLISHED"));
    }
    check_owners(&ns, &agent, &["-tanp"], &wants, "SCM_RIGHTS hand-over");
    known_rows_match(&ns, &agent, &["-tanp"]);
    drop(sender);
    drop(receiver);
}

// ---------------------------------------------------------------------------------------------
// 8: UDP

/// Two processes on loopback: one binds 127.0.0.1 and ::1, the other connects a socket to
/// each and sends one datagram to each from an unbound socket (autobind). Returns the wanted
/// `-uanp` rows and the processes.
fn udp_sockets(ns: &Netns) -> (Wants, Vec<Script>) {
    let mut bound = Script::start(
        ns,
        "udp",
        &[
            "--comm",
            "nst-udp1",
            "--bind",
            "127.0.0.1:0",
            "--bind",
            "[::1]:0",
        ],
    );
    let mut wants = Wants::new();
    let mut ports = Vec::new();
    for f in bound.expect_n("udp", 2) {
        let v6 = f.get(1).is_some_and(|h| h.contains(':'));
        let p = port(&bound, &f, 2);
        ports.push(p);
        wants.insert(
            Key {
                v6,
                local: p,
                remote: 0,
            },
            Want::live(bound.pid(), ""),
        );
    }
    let (t4, t6) = (sa(LO4, ports[0]), sa(LO6, ports[1]));
    let mut user = Script::start(
        ns,
        "udp",
        &[
            "--comm",
            "nst-udp2",
            "--connect",
            &t4,
            "--connect",
            &t6,
            "--sendto",
            &t4,
            "--sendto",
            &t6,
        ],
    );
    for f in user.expect_n("udp", 4) {
        let v6 = f.get(1).is_some_and(|h| h.contains(':'));
        let connected = f.first().map(String::as_str) == Some("connected");
        let key = Key {
            v6,
            local: port(&user, &f, 2),
            remote: if connected { ports[usize::from(v6)] } else { 0 },
        };
        let state = if connected { "ESTABLISHED" } else { "" };
        wants.insert(key, Want::live(user.pid(), state));
    }
    (wants, vec![bound, user])
}

/// Test 8: bound, connected and autobound UDP sockets, v4 and v6, name their processes.
#[test]
fn udp_bound_connected_and_autobound_sockets_name_their_processes() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let (wants, _keep) = udp_sockets(&ns);
    check_owners(&ns, &agent, &["-uanp"], &wants, "UDP");
    known_rows_match(&ns, &agent, &["-uanp"]);
    known_rows_match(&ns, &agent, &["-uanpe"]);
    known_rows_match(&ns, &agent, &["-tuanp"]);
}

// ---------------------------------------------------------------------------------------------
// 9: load

/// One load client: its source port range and pid.
struct LoadClient {
    first: u16,
    last: u16,
    pid: u32,
}

/// Counters over all snapshots of the load test.
#[derive(Default, Debug)]
struct LoadStats {
    rows: usize,
    named_not_time_wait: usize,
    unnamed_syn_recv: usize,
}

const LOAD_CLIENTS: u16 = 4;
const LOAD_PER_CLIENT: u16 = 500;
const LOAD_PORT_BASE: u16 = 20000;
const LOAD_SNAPSHOTS: usize = 10;

/// Checks one `-tanp` snapshot under load. In the server's namespace every row is the
/// server's (its ports); in the clients' namespace every row's local port lies in exactly
/// one client's range and must name that client. A row may print `-` only in SYN_RECV
/// (a request socket); a named row must name the right process, live (`python3`) or gone
/// (its comm + `*`).
fn check_load_snapshot(
    ns: &Netns,
    agent: &Agent,
    server: Option<(u32, &[u16])>,
    clients: &[LoadClient],
    stats: &mut LoadStats,
) {
    let (out, rows) = ours_with_agent(ns, agent, &["-tanp"]);
    let mut problems = Vec::new();
    for row in &rows {
        stats.rows += 1;
        let Some(local) = row.local_port() else {
            problems.push(format!("row without a numeric port: `{}`", row.line));
            continue;
        };
        let (pid, comm) = match server {
            Some((pid, ports)) if ports.contains(&local) => (pid, "nst-srv"),
            Some(_) => {
                problems.push(format!("not the server's port: `{}`", row.line));
                continue;
            }
            None => match clients.iter().find(|c| (c.first..=c.last).contains(&local)) {
                Some(c) => (c.pid, "nst-load"),
                None => {
                    problems.push(format!("port in no client's range: `{}`", row.line));
                    continue;
                }
            },
        };
        if row.owner_text.as_ref().is_some_and(|t| t.len() > LABEL_MAX) {
            problems.push(format!("label over {LABEL_MAX} bytes: `{}`", row.line));
        }
        match &row.owner {
            Some(Owner::Unknown) if row.state == "SYN_RECV" => stats.unnamed_syn_recv += 1,
            Some(Owner::Live { pid: p, name }) if *p == pid && name == LIVE_NAME => {
                if row.state != "TIME_WAIT" {
                    stats.named_not_time_wait += 1;
                }
            }
            Some(Owner::Gone { pid: p, comm: c }) if *p == pid && c == comm => {
                if row.state != "TIME_WAIT" {
                    stats.named_not_time_wait += 1;
                }
            }
            _ => problems.push(format!(
                "want {pid}/{LIVE_NAME} or {pid}/{comm}*: `{}`",
                row.line
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "under load, `netstat -tanp` in {} names wrong owners ({} problems):\n  {}\n{}",
        ns.name(),
        problems.len(),
        problems
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n  "),
        show_output("ours (-v, with the agent)", &out)
    );
}

/// Test 9: about 2000 short connections from four client processes (two over IPv4, two
/// over IPv6, each from its own source port range) to a server in another namespace;
/// `-tanp` in both namespaces while they run, and once more after: no row names a process
/// that is not the right one for its side.
#[test]
fn owners_stay_right_under_connection_churn() {
    require_root();
    let server_ns = Netns::new();
    let (client_ns, veth) = server_ns.veth_peer();
    let agent = Agent::start_temp();
    let (v4, v6) = (IpAddr::V4(veth.local_v4), IpAddr::V6(veth.local_v6));
    let mut server = Script::start(
        &server_ns,
        "server",
        &[
            "--comm",
            "nst-srv",
            "--mode",
            "drain",
            "--quiet",
            "--listen",
            &sa(v4, 0),
            "--listen",
            &sa(v6, 0),
        ],
    );
    let open = listeners(&mut server, "listen", 2);
    let server_ports: Vec<u16> = open.iter().map(|k| k.local).collect();
    let mut scripts = Vec::new();
    let mut clients = Vec::new();
    for k in 0..LOAD_CLIENTS {
        let target = if k < 2 {
            sa(v4, server_ports[0])
        } else {
            sa(v6, server_ports[1])
        };
        let base = (LOAD_PORT_BASE + k * 1000).to_string();
        let total = LOAD_PER_CLIENT.to_string();
        let mut s = Script::start(
            &client_ns,
            "load",
            &[
                "--comm",
                "nst-load",
                "--connect",
                &target,
                "--src-port-base",
                &base,
                "--total",
                &total,
                "--window",
                "16",
                "--delay-ms",
                "3",
            ],
        );
        let ports = s.expect("ports");
        clients.push(LoadClient {
            first: s.num(&ports, 0, "first port"),
            last: s.num(&ports, 1, "last port"),
            pid: s.pid(),
        });
        scripts.push(s);
    }
    let mut stats = LoadStats::default();
    let mut done = vec![false; scripts.len()];
    let check_done = |s: &mut Script, timeout: Duration| -> bool {
        match s.try_expect("done", timeout) {
            Some(f) => {
                let failed: u32 = s.num(&f, 1, "failed connections");
                assert_eq!(failed, 0, "connections failed\n{}", s.transcript());
                true
            }
            None => false,
        }
    };
    for _ in 0..LOAD_SNAPSHOTS {
        check_load_snapshot(
            &server_ns,
            &agent,
            Some((server.pid(), &server_ports)),
            &clients,
            &mut stats,
        );
        check_load_snapshot(&client_ns, &agent, None, &clients, &mut stats);
        for (s, d) in scripts.iter_mut().zip(done.iter_mut()) {
            *d = *d || check_done(s, Duration::ZERO);
        }
        if done.iter().all(|d| *d) {
            break;
        }
    }
    for (s, d) in scripts.iter_mut().zip(done.iter_mut()) {
        if !*d {
            assert!(
                check_done(s, Duration::from_secs(120)),
                "load client did not finish\n{}",
                s.transcript()
            );
        }
    }
    // After the churn: the client side is mostly TIME_WAIT, the server side settles.
    check_load_snapshot(&client_ns, &agent, None, &clients, &mut stats);
    check_load_snapshot(
        &server_ns,
        &agent,
        Some((server.pid(), &server_ports)),
        &clients,
        &mut stats,
    );
    assert!(
        stats.named_not_time_wait > 0,
        "no snapshot caught a live connection (the load ran too fast to test anything): \
         {stats:?}"
    );
    drop(scripts);
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// 10, 11: who gets the agent's answer

/// Test 10: with the agent running, `-tanp` as `nobody` in a namespace of root-owned
/// sockets is net-tools' output as `nobody` (no other user's process appears), and `-v`
/// says the owners came from /proc.
#[test]
fn unprivileged_caller_gets_net_tools_output_from_proc() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut keep = Vec::new();
    let (mut wants, client_side) = held_connections(&ns, &ns, LO4, LO6, &mut keep);
    wants.extend(client_side);
    // Root is answered by the agent: it is up, so what follows is the uid check.
    check_owners(&ns, &agent, &["-tanp"], &wants, "root, agent running");
    let env = agent.env();
    for args in [&["-tanp"][..], &["-tanpe"]] {
        if let Err(report) = check_env(&ns, Some(NOBODY), &env, args) {
            panic!("as nobody with the agent running:\n{report}");
        }
    }
    if let Err(report) = check_verbose_fallback(&ns, Some(NOBODY), &env, &["-tanp"]) {
        panic!("as nobody, -v must say `{FROM_PROC}` and a reason:\n{report}");
    }
    let out = run_netstat_env(&ns, &ours(), Some(NOBODY), &env, &["-tanp"]);
    let rows = inet_rows(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.owner == Some(Owner::Unknown)),
        "nobody must see no owner at all here (every socket is root's)\n{}",
        show_output("ours as nobody", &out)
    );
}

/// Test 11: without an agent (no socket at the path, or a stale socket file nobody
/// listens on) `-tanp` and friends equal net-tools, and `-v` says `owners from /proc`
/// with a reason.
#[test]
fn without_agent_output_falls_back_to_proc() {
    require_root();
    let ns = Netns::new();
    let mut keep = Vec::new();
    let _ = held_connections(&ns, &ns, LO4, LO6, &mut keep);
    let (_, _udp_keep) = udp_sockets(&ns);
    let dir = TempDir::new("noagent");
    let absent = dir.path().join("absent.sock");
    let stale = dir.path().join("stale.sock");
    match std::os::unix::net::UnixListener::bind(&stale) {
        Ok(listener) => drop(listener), // the file stays; connecting is refused
        Err(e) => panic!("bind {}: {e}", stale.display()),
    }
    let mut problems = Vec::new();
    for socket in [&absent, &stale] {
        let socket = socket.to_str().unwrap_or_default();
        let env = [(AGENT_SOCKET_ENV, socket)];
        for args in [&["-tanp"][..], &["-tanpe"], &["-uanp"], &["-tuanpW"]] {
            if let Err(report) = check_env(&ns, None, &env, args) {
                problems.push(format!("{AGENT_SOCKET_ENV}={socket}:\n{report}"));
            }
        }
        if let Err(report) = check_verbose_fallback(&ns, None, &env, &["-tanp"]) {
            problems.push(format!(
                "{AGENT_SOCKET_ENV}={socket}, -v must say `{FROM_PROC}` and a reason:\n{report}"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Test 12: the service side of `--agent`: `READY=1` reaches `$NOTIFY_SOCKET` (as
/// systemd's `Type=notify` needs), the query socket is root's alone (mode 0600), and a
/// second agent on the same socket refuses to start instead of stealing it.
#[test]
fn agent_notifies_systemd_keeps_its_socket_private_and_runs_once() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::net::UnixDatagram;
    require_root();
    let dir = TempDir::new("notify");
    let notify_path = dir.path().join("notify");
    let notify = UnixDatagram::bind(&notify_path)
        .unwrap_or_else(|e| panic!("bind {}: {e}", notify_path.display()));
    notify
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("set timeout");
    let socket = dir.path().join("agent.sock");
    let notify_str = notify_path.to_str().expect("utf-8 temp path");
    let agent = Agent::start_with_env(&socket, &[("NOTIFY_SOCKET", notify_str)]);
    let mut buf = [0u8; 512];
    let n = notify
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("no sd_notify datagram: {e}\n{}", agent.stderr()));
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(
        msg.lines().any(|l| l == "READY=1"),
        "sd_notify said {msg:?}"
    );
    let mode = std::fs::metadata(&socket)
        .unwrap_or_else(|e| panic!("{}: {e}", socket.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "query socket mode {mode:o}");

    let second = std::process::Command::new(ours())
        .arg("--agent")
        .env(AGENT_SOCKET_ENV, &socket)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("start a second agent");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "second agent: {stderr}");
    assert!(
        stderr.contains("another agent answers there"),
        "second agent: {stderr}"
    );
    // The first one still answers.
    let ns = Netns::new();
    let out = run_netstat_env(&ns, &ours(), None, &agent.env(), &["-tanpv"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(FROM_AGENT),
        "{}",
        show_output("after the second start", &out)
    );
    drop(agent);
    assert!(
        !socket.exists(),
        "the agent left {} behind",
        socket.display()
    );
}

/// Test 13: two daemons listen on one port at two addresses (no SO_REUSEPORT needed),
/// neither accepts: each waiting connection names its own daemon, both when the agent
/// saw them made and when it seeded them.
#[test]
fn pending_connections_name_the_listener_on_their_own_address() {
    require_root();
    let second = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    for agent_first in [true, false] {
        let ns = Netns::new();
        let mut agent = agent_first.then(Agent::start_temp);
        let mut a = Script::start(
            &ns,
            "server",
            &["--comm", "nst-lsa", "--no-accept", &sa(LO4, 0)],
        );
        let p = listeners(&mut a, "listen-noaccept", 1)[0].local;
        let mut b = Script::start(
            &ns,
            "server",
            &["--comm", "nst-lsb", "--no-accept", &sa(second, p)],
        );
        listeners(&mut b, "listen-noaccept", 1);
        let mut wants = Wants::new();
        let mut clients = Vec::new();
        for (server, target) in [(&a, LO4), (&b, second)] {
            let mut c = Script::start(
                &ns,
                "client",
                &["--count", "3", "--connect", &sa(target, p)],
            );
            for k in connections(&mut c, "conn", 3) {
                wants.insert(k, Want::live(c.pid(), "ESTABLISHED"));
                wants.insert(k.reversed(), Want::live(server.pid(), "ESTABLISHED"));
            }
            clients.push(c);
        }
        let agent = agent.get_or_insert_with(Agent::start_temp);
        let what = if agent_first {
            "pending connections seen live"
        } else {
            "pending connections seeded"
        };
        // Without -a: the connections only (the two listeners share a port, so they are
        // checked by address below).
        check_owners(&ns, agent, &["-tnp"], &wants, what);
        let (out, rows) = ours_with_agent(&ns, agent, &["-tlnp"]);
        let by_addr: BTreeMap<String, Option<Owner>> = rows
            .iter()
            .map(|r| (r.local.clone(), r.owner.clone()))
            .collect();
        for (server, ip) in [(&a, LO4), (&b, second)] {
            let want = Want::live(server.pid(), "LISTEN");
            assert!(
                want.matches(by_addr.get(&sa(ip, p)).and_then(Option::as_ref)),
                "{what}: listener {} should be {}\n{}",
                sa(ip, p),
                want.label(),
                show_output("ours -tlnp", &out)
            );
        }
    }
}

/// Test 14: a prefork server: the master holds the listener, forked workers accept from
/// it. Each accepted connection names the worker that accepted it; the listener names the
/// master (as net-tools does: the first holder in /proc order).
#[test]
fn prefork_workers_own_what_they_accept() {
    require_root();
    let ns = Netns::new();
    let agent = Agent::start_temp();
    let mut master = Script::start(
        &ns,
        "prefork",
        &[
            "--comm",
            "nst-master",
            "--child-comm",
            "nst-worker",
            "--count",
            "2",
            "--listen",
            &sa(LO4, 0),
        ],
    );
    let p = listeners(&mut master, "listen", 1)[0].local;
    let workers: Vec<u32> = master
        .expect_n("worker", 2)
        .iter()
        .map(|f| master.num(f, 0, "worker pid"))
        .collect();
    let mut client = Script::start(&ns, "client", &["--count", "6", "--connect", &sa(LO4, p)]);
    let mut wants = Wants::new();
    for k in connections(&mut client, "conn", 6) {
        wants.insert(k, Want::live(client.pid(), "ESTABLISHED"));
    }
    for f in master.expect_n("accepted", 6) {
        let local: u16 = master.num(&f, 0, "local port");
        let remote: u16 = master.num(&f, 2, "remote port");
        let worker: u32 = master.num(&f, 3, "worker pid");
        assert!(
            workers.contains(&worker),
            "accepted by {worker}, not a worker"
        );
        let k = Key {
            v6: false,
            local,
            remote,
        };
        wants.insert(k, Want::live(worker, "ESTABLISHED"));
    }
    wants.insert(
        Key {
            v6: false,
            local: p,
            remote: 0,
        },
        Want::live(master.pid(), "LISTEN"),
    );
    check_owners(&ns, &agent, &["-tanp"], &wants, "prefork server");
    known_rows_match(&ns, &agent, &["-tanp"]);
}
