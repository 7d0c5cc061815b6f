//! Privileged: the agent with the capabilities its systemd unit gives it, and no more.
//!
//! `packaging/netstat-agent.service` runs `netstat-ebpf --agent` as uid 0 with a
//! `CapabilityBoundingSet=` instead of full root. These tests read that set from the unit
//! (so the two cannot drift), start the agent as systemd would (through setpriv: that
//! bounding set, nothing inheritable or ambient, uid 0, so the exec leaves it exactly
//! those), and check that
//!
//! * it attaches and answers `netstat -tanp` (run as full root, as an operator would) for
//!   sockets made in a fresh network namespace, including sockets whose holder it must
//!   look up in `/proc/PID/fd` (a fork child of a root process, one of user nobody);
//! * every capability in the set is needed: with any one left out, the agent refuses to
//!   start naming it, or says at start what it cannot see and then does not see it. A
//!   capability added to the unit without a case here fails the test.
//!
//! Needs root; run single-threaded: `cargo test -p netstat-tests --test agent_caps --
//! --test-threads=1`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    Agent, FROM_AGENT, InetRow, Script, cap_bit, effective_caps, inet_rows, run_netstat_env,
    show_output, unit_bounding_set,
};
use netstat_tests::{Netns, Output, ours, require_root};

/// The unit as packaged.
const UNIT: &str = include_str!("../../packaging/netstat-agent.service");
/// uid/gid `nobody` on Debian.
const NOBODY: u32 = 65534;
/// How long the agent may take to reflect a change (owner checks retry until then).
const CONVERGE: Duration = Duration::from_secs(3);

fn unit_caps() -> Vec<String> {
    unit_bounding_set(UNIT).unwrap_or_else(|e| panic!("packaging/netstat-agent.service: {e}"))
}

/// The mask of `caps`; panics on a name [`cap_bit`] does not know.
fn mask(caps: &[String]) -> u64 {
    caps.iter().fold(0, |m, c| {
        m | 1 << cap_bit(c).unwrap_or_else(|| panic!("unknown capability {c}"))
    })
}

fn without(caps: &[String], cap: &str) -> Vec<String> {
    caps.iter().filter(|c| *c != cap).cloned().collect()
}

/// A row within one namespace: local port, remote port (0 for a listener).
type Key = (u16, u16);

fn key(row: &InetRow) -> Option<Key> {
    Some((row.local_port()?, row.foreign_port()?))
}

/// Our `netstat -tanp -v` in `ns` with `agent`: exits 0, says the agent answered.
fn tanp(ns: &Netns, agent: &Agent) -> (Output, BTreeMap<Key, String>) {
    let out = run_netstat_env(ns, &ours(), None, &agent.env(), &["-tanp", "-v"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.lines().any(|l| l.starts_with(FROM_AGENT)),
        "`netstat -tanp -v` in {} must exit 0 and say `{FROM_AGENT}`\n{}\nagent's stderr:\n{}",
        ns.name(),
        show_output("ours", &out),
        agent.stderr()
    );
    let rows =
        inet_rows(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", show_output("ours", &out)));
    let labels = rows
        .iter()
        .filter_map(|r| Some((key(r)?, r.owner_text.clone()?)))
        .collect();
    (out, labels)
}

/// Waits up to [`CONVERGE`] until every row of `want` reads its label; panics otherwise.
fn check_labels(ns: &Netns, agent: &Agent, want: &BTreeMap<Key, String>, what: &str) {
    let deadline = Instant::now() + CONVERGE;
    loop {
        let (out, got) = tanp(ns, agent);
        let wrong: Vec<String> = want
            .iter()
            .filter(|(k, label)| got.get(k) != Some(label))
            .map(|(k, label)| format!("{k:?}: want `{label}`, got {:?}", got.get(k)))
            .collect();
        if wrong.is_empty() {
            return;
        }
        if Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        panic!(
            "{what}: wrong owners:\n  {}\n{}\nagent's stderr:\n{}",
            wrong.join("\n  "),
            show_output("ours", &out),
            agent.stderr()
        );
    }
}

fn port(s: &Script, fields: &[String], i: usize) -> u16 {
    s.num(fields, i, "port")
}

/// A server on 127.0.0.1 that accepts and holds; its listener's port.
fn server(ns: &Netns, comm: &str) -> (Script, u16) {
    let mut s = Script::start(ns, "server", &["--comm", comm, "--listen", "127.0.0.1:0"]);
    let f = s.expect("listen");
    let p = port(&s, &f, 1);
    (s, p)
}

/// A socket hand-over only `/proc/PID/fd` can tell: a parent (as `uid`, or root) makes a
/// listener and a connection to `target`, fork+execs a child that inherits both, and
/// exits. Returns the script, the child's pid and the two rows the child now holds.
fn forked_holder(ns: &Netns, uid: Option<u32>, target: u16) -> (Script, u32, [Key; 2]) {
    let target = format!("127.0.0.1:{target}");
    let mut parent = Script::start_as(
        ns,
        uid,
        "forker",
        &[
            "--comm",
            "nst-parent",
            "--child-comm",
            "nst-child",
            "--mode",
            "exit",
            "--listen",
            "127.0.0.1:0",
            "--connect",
            &target,
        ],
    );
    let l = parent.expect("listen");
    let listener = (port(&parent, &l, 1), 0);
    let c = parent.expect("conn");
    let conn = (port(&parent, &c, 0), port(&parent, &c, 2));
    let child_line = parent.expect("child");
    let child: u32 = parent.num(&child_line, 0, "child pid");
    parent.expect("child-ready");
    parent.expect("parent-exiting");
    parent.wait_exit(Duration::from_secs(10));
    (parent, child, [listener, conn])
}

/// Test 1: with exactly the unit's capabilities the agent runs, names the owners of new
/// sockets in another network namespace, finds fork children of root and of nobody in
/// /proc, and says (naming CAP_SYS_ADMIN) that it could not seed that namespace.
#[test]
fn agent_with_the_units_capabilities_attaches_and_names_owners() {
    require_root();
    let caps = unit_caps();
    let ns = Netns::new();
    // Made before the agent, in a namespace it cannot enter without CAP_SYS_ADMIN.
    let (early, early_port) = server(&ns, "nst-early");
    let agent = Agent::try_start_capped(Some(&caps)).unwrap_or_else(|e| {
        panic!("the agent does not start with the unit's capabilities {caps:?}:\n{e}")
    });
    let eff = effective_caps(agent.pid());
    assert_eq!(
        eff,
        Some(mask(&caps)),
        "the agent must run with exactly {caps:?} ({:#x}); /proc says {eff:x?}",
        mask(&caps)
    );
    let said = agent.stderr();
    assert!(
        !said.contains("without CAP_"),
        "the unit's set must let the agent read every /proc/PID/fd:\n{said}"
    );
    assert!(
        said.lines()
            .any(|l| l.contains("not entered") && l.contains("CAP_SYS_ADMIN")),
        "the agent must say that it could not seed {} for want of CAP_SYS_ADMIN:\n{said}",
        ns.name()
    );

    let (mut srv, srv_port) = server(&ns, "nst-srv");
    let mut client = Script::start(
        &ns,
        "client",
        &[
            "--comm",
            "nst-cli",
            "--connect",
            &format!("127.0.0.1:{srv_port}"),
        ],
    );
    let c = client.expect("conn");
    let conn = (port(&client, &c, 0), port(&client, &c, 2));
    let (_root_parent, root_child, root_rows) = forked_holder(&ns, None, srv_port);
    let (_nobody_parent, nobody_child, nobody_rows) = forked_holder(&ns, Some(NOBODY), srv_port);

    let mut want = BTreeMap::new();
    want.insert((srv_port, 0), format!("{}/python3", srv.pid()));
    want.insert(conn, format!("{}/python3", client.pid()));
    for k in root_rows {
        want.insert(k, format!("{root_child}/python3"));
    }
    for k in nobody_rows {
        want.insert(k, format!("{nobody_child}/python3"));
    }
    for _ in 0..3 {
        let a = srv.expect("accepted");
        want.insert(
            (port(&srv, &a, 0), port(&srv, &a, 2)),
            format!("{}/python3", srv.pid()),
        );
    }
    // Leaving CAP_SYS_ADMIN out: not seeded, so the agent does not know it; netstat
    // finds its holder in /proc, as net-tools does.
    want.insert((early_port, 0), format!("{}/python3", early.pid()));
    check_labels(&ns, &agent, &want, "agent with the unit's capabilities");
    drop(early);
}

/// Test 2: each capability of the unit is needed. Without CAP_BPF, CAP_PERFMON or
/// CAP_NET_ADMIN the agent refuses to start and names it; without CAP_SYS_PTRACE it cannot
/// find a root process's fork child holding a socket, without CAP_DAC_READ_SEARCH one of
/// user nobody, and says so when it starts.
#[test]
fn each_of_the_units_capabilities_is_needed() {
    require_root();
    let caps = unit_caps();
    for cap in &caps {
        let reduced = without(&caps, cap);
        match cap.as_str() {
            "CAP_BPF" | "CAP_PERFMON" | "CAP_NET_ADMIN" => {
                let err = match Agent::try_start_capped(Some(&reduced)) {
                    Ok(agent) => panic!(
                        "the agent started without {cap} ({reduced:?}); its stderr:\n{}",
                        agent.stderr()
                    ),
                    Err(e) => e,
                };
                assert!(
                    err.contains(&format!("lacks {cap}")),
                    "without {cap} the agent must refuse to start naming it:\n{err}"
                );
            }
            "CAP_SYS_PTRACE" | "CAP_DAC_READ_SEARCH" => {
                let holder_uid = if cap == "CAP_SYS_PTRACE" {
                    None
                } else {
                    Some(NOBODY)
                };
                let ns = Netns::new();
                let agent = Agent::try_start_capped(Some(&reduced)).unwrap_or_else(|e| {
                    panic!("the agent must still start without {cap} ({reduced:?}):\n{e}")
                });
                let said = agent.stderr();
                assert!(
                    said.lines().any(|l| l.contains(&format!("without {cap}"))),
                    "without {cap} the agent must say what it cannot read:\n{said}"
                );
                let (_srv, srv_port) = server(&ns, "nst-srv");
                let (_parent, child, rows) = forked_holder(&ns, holder_uid, srv_port);
                let child_label = format!("{child}/python3");
                // Give it the time it gets to find the child when it can.
                std::thread::sleep(CONVERGE);
                let (out, got) = tanp(&ns, &agent);
                for k in rows {
                    assert!(
                        got.contains_key(&k) && got.get(&k) != Some(&child_label),
                        "without {cap} the agent should not find the fork child {child} \
                         (uid {holder_uid:?}) in /proc, yet row {k:?} names it (or is \
                         missing): the capability would not be needed\n{}",
                        show_output("ours", &out)
                    );
                }
            }
            other => panic!(
                "packaging/netstat-agent.service keeps {other}, which this test does not \
                 know: add a case showing what the agent cannot do without it"
            ),
        }
    }
}
