//! Issue 7 (hardening): the agent's owner maps are bounded, an overflow is counted and
//! reported, and a socket that did not fit is named from /proc (a live one) or shows `-`
//! (a TIME_WAIT), never with a wrong owner.
//!
//! The agent runs with a tiny owner map (`NETSTAT_TEST_OWNERS_MAX`, a test-only knob the
//! loader passes to aya) and a tiny TIME_WAIT map (`NETSTAT_AGENT_TIMEWAIT_RECORDS`, the
//! agent's setting). A test namespace then holds more connections than the owner map
//! can take, and leaves more TIME_WAIT sockets than the TIME_WAIT map can take. Checked:
//! the maps never hold more than their capacity (the agent's gauges, read from the
//! kernel's map info), every `-tanp` row with the agent equals net-tools' row or shows
//! `-` (TIME_WAIT rows, which net-tools always shows as `-`, may name one of the test's
//! own processes, which made them), live rows all have their owner (the agent's
//! unknowns are looked up in /proc), at least as many failures are counted as the
//! capacities force, every `-` is accounted for by one, and the agent says so on stderr
//! without -v.
use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

use netstat_tests::agent::{
    Agent, Owner, Script, inet_rows, run_netstat_env, scrape_metrics, show_output,
};
use netstat_tests::{Netns, ours, real, require_root, run_in};

/// Owner-map capacity for the test: far below what the namespace holds.
const OWNERS_MAX: usize = 256;
/// TIME_WAIT-map capacity for the test.
const TIMEWAIT_MAX: usize = 64;
/// Connections held open (two sockets each), and short ones left in TIME_WAIT.
const HELD: usize = 200;
const TIMEWAITS: usize = 200;
/// How long to wait for the agent's periodic collection to report.
const CONVERGE: Duration = Duration::from_secs(30);

fn get(m: &BTreeMap<String, f64>, series: &str) -> u64 {
    m.get(series).copied().unwrap_or(-1.0) as u64
}

#[test]
fn issue7_owner_maps_are_bounded_and_overflow_is_counted_never_wrong() {
    require_root();
    let owners_max = OWNERS_MAX.to_string();
    let tw_max = TIMEWAIT_MAX.to_string();
    let agent = Agent::start_temp_with(
        &[
            ("NETSTAT_TEST_OWNERS_MAX", &owners_max),
            ("NETSTAT_AGENT_TIMEWAIT_RECORDS", &tw_max),
        ],
        // -vv: the agent prints the maps' fill at each collection.
        &["-vv", "--metrics", "127.0.0.1:0"],
    );
    let addr = agent
        .tcp_metrics_addr()
        .unwrap_or_else(|| panic!("no metrics address; agent said:\n{}", agent.stderr()))
        .to_string();
    let ns = Netns::new();

    // TIME_WAITs first, while the owner map still has room: their records reach the
    // TIME_WAIT map, whose overflow is then counted there.
    let drain = Script::start(
        &ns,
        "server",
        &["--listen", "127.0.0.1:40002", "--mode", "drain"],
    );
    let total = TIMEWAITS.to_string();
    let mut load = Script::start(
        &ns,
        "load",
        &[
            "--connect",
            "127.0.0.1:40002",
            "--src-port-base",
            "30000",
            "--total",
            &total,
        ],
    );
    let done = load.expect("done");
    assert_eq!(done, vec![total.clone(), "0".to_string()], "load failed");
    // Each client reaches TIME_WAIT once the drain server has closed its end (a loaded
    // machine may take a moment).
    let deadline = Instant::now() + CONVERGE;
    loop {
        let tw = run_in(&ns, "ss", &["-tan", "state", "time-wait"]);
        let n = String::from_utf8_lossy(&tw.stdout)
            .lines()
            .filter(|l| l.contains(":40002"))
            .count();
        if n >= TIMEWAITS {
            break;
        }
        // Seen a few times (not explained yet): 1 to 3 of the 200 connections never show
        // as TIME_WAIT. The overflow this test needs is still forced; it goes on, saying
        // so with what the namespace holds instead, so a CI log can explain it.
        if Instant::now() >= deadline && n > TIMEWAIT_MAX + 100 {
            eprintln!(
                "NOTE: only {n} of {TIMEWAITS} connections in TIME_WAIT after {CONVERGE:?}; \
                 {} over the TIME_WAIT map's {TIMEWAIT_MAX} are enough to go on. {}",
                n - TIMEWAIT_MAX,
                namespace_report(&ns)
            );
            break;
        }
        if Instant::now() >= deadline {
            panic!(
                "only {n} of {TIMEWAITS} connections reached TIME_WAIT within {CONVERGE:?}; {}",
                namespace_report(&ns)
            );
        }
        thread::sleep(Duration::from_millis(200));
    }
    // Then more held connections than the owner map can take.
    let holder = Script::start(
        &ns,
        "server",
        &["--listen", "127.0.0.1:40000", "--mode", "hold", "--quiet"],
    );
    let count = HELD.to_string();
    let client = Script::start(
        &ns,
        "client",
        &["--connect", "127.0.0.1:40000", "--count", &count],
    );
    let ours_pids: BTreeSet<u32> = [holder.pid(), drain.pid(), client.pid(), load.pid()]
        .into_iter()
        .collect();

    // A collection after the load: its gauges and its loss reports.
    let gcs_before = agent.stderr().matches("agent: records:").count();
    let deadline = Instant::now() + CONVERGE;
    while agent.stderr().matches("agent: records:").count() < gcs_before + 2 {
        assert!(
            Instant::now() < deadline,
            "no collection reported within {CONVERGE:?}; agent said:\n{}",
            agent.stderr()
        );
        thread::sleep(Duration::from_millis(200));
    }

    let env = agent.env();
    let real_out = run_netstat_env(&ns, &real(), None, &[], &["-tanp"]);
    let ours_out = run_netstat_env(&ns, &ours(), None, &env, &["-tanp"]);
    let m = scrape_metrics(&addr);
    let shown = format!(
        "{}{}",
        show_output("net-tools", &real_out),
        show_output("ours", &ours_out)
    );
    let real_rows = inet_rows(&real_out.stdout).unwrap_or_else(|e| panic!("{e}\n{shown}"));
    let ours_rows = inet_rows(&ours_out.stdout).unwrap_or_else(|e| panic!("{e}\n{shown}"));
    let real_by_key: BTreeMap<_, _> = real_rows.iter().map(|r| (r.key(), r)).collect();

    // Bounded: the kernel's map info, as the agent's gauges report it.
    let owners_cap = get(&m, r#"netstat_map_capacity{map="owners"}"#);
    let tw_cap = get(&m, r#"netstat_map_capacity{map="timewait"}"#);
    assert_eq!(
        (owners_cap, tw_cap),
        (OWNERS_MAX as u64, TIMEWAIT_MAX as u64),
        "capacities from the settings"
    );
    let owners_now = get(&m, r#"netstat_map_entries{map="owners"}"#);
    let tw_now = get(&m, r#"netstat_map_entries{map="timewait"}"#);
    assert!(
        owners_now <= owners_cap && tw_now <= tw_cap,
        "maps over capacity: {owners_now}/{owners_cap} live, {tw_now}/{tw_cap} TIME_WAIT"
    );

    // Never a wrong owner.
    let (mut dashes, mut tw_dashes, mut tw_rows) = (0usize, 0usize, 0usize);
    let mut wrong = Vec::new();
    for r in &ours_rows {
        let tw = r.state == "TIME_WAIT";
        tw_rows += usize::from(tw);
        let Some(theirs) = real_by_key.get(&r.key()) else {
            // Both listings ran a moment apart: only a TIME_WAIT can come and go.
            if !tw {
                wrong.push(format!("only in ours: {}", r.line));
            }
            continue;
        };
        match (&r.owner, &theirs.owner) {
            (Some(Owner::Unknown), _) => {
                dashes += 1;
                tw_dashes += usize::from(tw);
            }
            (Some(o), Some(t)) if o == t => {}
            // net-tools never names a TIME_WAIT's owner; ours may only name the test's
            // own process that made it.
            (Some(o), Some(Owner::Unknown))
                if tw && o.pid().is_some_and(|p| ours_pids.contains(&p)) => {}
            _ => wrong.push(format!("ours: {}\n  net-tools: {}", r.line, theirs.line)),
        }
    }
    assert!(
        wrong.is_empty(),
        "wrong owners:\n{}\n{shown}",
        wrong.join("\n")
    );

    // The capacities force failed inserts: held sockets beyond the owner map (which other
    // processes on the host share), TIME_WAITs beyond the TIME_WAIT map. A held socket the
    // agent could not record still has a file: `-p` names it from /proc, as net-tools
    // does, so no live row goes without its owner; only TIME_WAITs (no file) show `-`.
    // Two listeners and both ends of each held connection.
    let held_sockets = 2 * HELD + 2;
    assert_eq!(
        dashes - tw_dashes,
        0,
        "live rows without an owner: the /proc look-up should have named them\n{shown}"
    );
    let owners_failed = get(&m, r#"netstat_map_full_total{map="owners"}"#);
    assert!(
        owners_failed >= (held_sockets - OWNERS_MAX) as u64,
        "only {owners_failed} owner-map failures counted; {held_sockets} sockets cannot fit \
         {OWNERS_MAX} records\n{shown}"
    );
    // Not an exact count: a TIME_WAIT may still be named from the agent's copy of the
    // socket's last record (the recently-closed map) when its own map had no room.
    assert!(
        tw_rows > TIMEWAIT_MAX && tw_dashes > 0,
        "{tw_dashes} of {tw_rows} TIME_WAIT rows without an owner, with room for \
         {TIMEWAIT_MAX}\n{shown}"
    );

    // Counted: every `-` is a socket whose insert failed somewhere (other processes'
    // failures count too, so at least).
    let owners_full = get(&m, r#"netstat_map_full_total{map="owners"}"#);
    let tw_full = get(&m, r#"netstat_map_full_total{map="timewait"}"#);
    assert!(
        owners_full + tw_full >= dashes as u64 && tw_full > 0 && owners_full > 0,
        "{dashes} rows without an owner, but only {owners_full} owner-map and {tw_full} \
         TIME_WAIT-map failures counted"
    );
    // And reported without being asked.
    let said = agent.stderr();
    assert!(
        said.contains("agent: owner map full:") && said.contains("agent: TIME_WAIT map full:"),
        "the agent did not report the overflow on stderr:\n{said}"
    );
    eprintln!(
        "bounds: {} rows, {dashes} shown as `-` ({tw_dashes} of {tw_rows} TIME_WAIT); maps \
         {owners_now}/{owners_cap} live, {tw_now}/{tw_cap} TIME_WAIT; counted failures: \
         owners {owners_full}, timewait {tw_full}",
        ours_rows.len()
    );
    drop(load);
    drop(client);
    drop(drain);
    drop(holder);
}

/// The namespace's sockets other than TIME_WAITs, and its TCP counters that are not 0
/// (where a connection that never reached TIME_WAIT would show: an overflow, an abort).
fn namespace_report(ns: &Netns) -> String {
    let all = run_in(ns, "ss", &["-tanoi"]);
    let counters = run_in(ns, "nstat", &["-az"]);
    format!(
        "the namespace's other sockets:\n{}\nits TCP counters:\n{}",
        String::from_utf8_lossy(&all.stdout)
            .lines()
            .filter(|l| !l.starts_with("TIME-WAIT"))
            .collect::<Vec<_>>()
            .join("\n"),
        String::from_utf8_lossy(&counters.stdout)
            .lines()
            .filter(|l| l.split_whitespace().nth(1).is_none_or(|v| v != "0"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}
