//! The live modes' run loop: `--watch` (every TCP state change) and `--audit` (one
//! record per finished connection or UDP flow), alone or together, as text lines or
//! `--json` records.
//!
//! One load of the owner programs serves both: the kernel queues what was asked for
//! (filtered there by namespace, family, ports, states, pid and name) on one ring
//! buffer; this loop empties it every [`EVENTS_POLL_MS`] or when woken by a batch,
//! reads the flow map once a second, and reports every loss in the stream itself
//! (`LOST` line or `lost` record) and in the summary printed on stop.
use std::{
    io::{self, Write},
    os::unix::fs::MetadataExt,
    path::Path,
    time::{Duration, Instant},
};

use netstat_common::{
    AF_INET, AF_INET6, EVENTS_POLL_MS, EventFilter, SockKey, TcpState, TcpStateEvent, emit,
    event_flags, flags,
};

use crate::{
    agent,
    audit::{self, Clock, FlowEnd},
    cli::{NetnsArg, Options},
    ebpf::{Event, ProbeOptions, owners::OwnerProbe},
    names::Users,
    render::json::{
        events::{ConnectionRecord, End, LostReason, LostRecord, Opened, TransitionRecord},
        ip_text, write_record,
    },
    watch::{self, LineContext, TimeWaits},
};

/// Default `--flow-idle`.
const FLOW_IDLE: Duration = Duration::from_secs(30);
/// How often the flow map is read.
const FLOW_SCAN: Duration = Duration::from_secs(1);

/// What the run was asked for, checked.
#[derive(Clone, Debug)]
pub struct Plan {
    pub watch: bool,
    pub audit_tcp: bool,
    pub audit_udp: bool,
    pub json: bool,
    pub filter: EventFilter,
    pub flow_idle: Duration,
}

impl Plan {
    /// The plan for `o`, or the message of a usage error.
    pub fn from_options(o: &Options, root: &Path) -> Result<Plan, String> {
        let p = &o.protocols;
        if o.watch && !p.tcp {
            return Err("--watch follows TCP state changes only (drop -u/-w/-x)".into());
        }
        if !o.stream.states.is_empty() && !o.watch {
            return Err("--state applies to --watch only".into());
        }
        if o.stream.flow_idle.is_some() && !(o.audit && p.udp) {
            return Err("--flow-idle applies to --audit's UDP flows only".into());
        }
        if o.audit && !p.tcp && !p.udp {
            return Err("--audit records TCP connections (-t) and UDP flows (-u) only".into());
        }
        if o.agent {
            return Err("--agent runs alone (--watch and --audit load their own programs)".into());
        }
        let s = &o.stream;
        let mut filter = EventFilter {
            pid: s.pid.unwrap_or(0),
            states: s.states.iter().fold(0, |m, &st| m | (1u32 << st)),
            family: match (o.inet, o.inet6) {
                (true, false) => AF_INET,
                (false, true) => AF_INET6,
                _ => 0,
            },
            sport: s.sport.unwrap_or(0),
            dport: s.dport.unwrap_or(0),
            port: s.port.unwrap_or(0),
            ..EventFilter::default()
        };
        if let Some(c) = &s.comm {
            filter.comm[..c.len()].copy_from_slice(c);
        }
        if let Some(ns) = &s.netns {
            filter.netns = resolve_netns(ns, root)?;
        }
        Ok(Plan {
            watch: o.watch,
            audit_tcp: o.audit && p.tcp,
            audit_udp: o.audit && p.udp,
            json: o.json,
            filter,
            flow_idle: s.flow_idle.unwrap_or(FLOW_IDLE),
        })
    }

    fn emit(&self) -> u32 {
        emit::FORGET_TIMEWAIT
            | (if self.watch { emit::STATES } else { 0 })
            | (if self.audit_tcp { emit::CONNECTIONS } else { 0 })
            | (if self.audit_udp { emit::FLOWS } else { 0 })
    }
}

/// The inode of a `--netns` argument: a number as it is, a name under /run/netns, or
/// a path to an nsfs file.
fn resolve_netns(ns: &NetnsArg, root: &Path) -> Result<u32, String> {
    use std::os::unix::ffi::OsStrExt;
    match ns {
        NetnsArg::Inode(n) => Ok(*n),
        NetnsArg::Name(name) => {
            let name = std::ffi::OsStr::from_bytes(name);
            let path = if name.as_bytes().contains(&b'/') {
                Path::new(name).to_path_buf()
            } else {
                root.join("run/netns").join(name)
            };
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("--netns: {}: {e}", path.display()))?;
            u32::try_from(meta.ino())
                .map_err(|_| format!("--netns: {}: inode out of range", path.display()))
        }
    }
}

/// The kernel filter again, for what the user side makes itself (timewait ends) and
/// for flows (which the kernel counts unfiltered).
fn passes(
    f: &EventFilter,
    netns: u32,
    family: u16,
    sport: u16,
    dport: u16,
    states: u32,
    owner: Option<&netstat_common::Owner>,
) -> bool {
    if (f.netns != 0 && f.netns != netns)
        || (f.family != 0 && f.family != family)
        || (f.sport != 0 && f.sport != sport)
        || (f.dport != 0 && f.dport != dport)
        || (f.port != 0 && f.port != sport && f.port != dport)
        || (f.states != 0 && f.states & states == 0)
    {
        return false;
    }
    if f.pid == 0 && f.comm[0] == 0 {
        return true;
    }
    owner.is_some_and(|o| (f.pid == 0 || f.pid == o.tgid) && (f.comm[0] == 0 || f.comm == o.comm))
}

/// Running totals, for the `lost` reports and the summary.
#[derive(Default)]
struct Totals {
    transitions: u64,
    records: u64,
    recovered: u64,
    /// What the kernel counted as lost, as last reported: state changes, and
    /// connection records (those are then recovered from the parked copies).
    ring_full: u64,
    conn_ring_full: u64,
    /// `conn_ring_full` as of the previous look in the owner map, and how many of
    /// those were not found there (reported as lost).
    conn_ring_full_scanned: u64,
    unrecovered: u64,
    flows_full: u64,
    undecodable: u64,
    /// State changes the kernel did not run the program for.
    missed: u64,
    /// Owner/listener map full, connections ended without a record.
    maps_full: u64,
    untracked: u64,
    /// Timewait sockets not followed (over `watch::MAX_FOLLOWED`): their ends go unprinted.
    unfollowed: u64,
    /// The sweep of records whose sockets went without their change to CLOSE (the
    /// changes were reported as `missed`).
    missed_ends: agent::MissedEnds,
}

struct Out<'a> {
    out: &'a mut dyn Write,
    json: bool,
    users: Users,
    clock: Clock,
}

impl Out<'_> {
    fn transition(&mut self, e: &TcpStateEvent, new_state: u8) -> io::Result<()> {
        if !self.json {
            let mut cx = LineContext {
                users: &mut self.users,
                boot_to_real: self.clock.boot_to_real,
            };
            let line = watch::format_event(e, watch::state_name(new_state), &mut cx);
            return writeln!(self.out, "{line}");
        }
        let owned = e.flags & event_flags::OWNER != 0 && e.owner.tgid != 0;
        let record = TransitionRecord {
            kind: TransitionRecord::TYPE,
            ts_ns: self.clock.epoch_ns(e.ts_ns),
            netns: u64::from(e.netns),
            pid: owned.then_some(e.owner.tgid),
            comm: owned.then(|| audit::comm(&e.owner.comm)),
            uid: owned.then_some(e.owner.uid),
            proto: if e.family == AF_INET6 { "tcp6" } else { "tcp" },
            local_addr: ip_text(audit::addr(e.family, &e.saddr)),
            local_port: e.sport,
            remote_addr: ip_text(audit::addr(e.family, &e.daddr)),
            remote_port: e.dport,
            old_state: watch::state_name(e.oldstate),
            new_state: watch::state_name(new_state),
            duration_ms: (e.prev_ns != 0 && e.ts_ns >= e.prev_ns)
                .then(|| (e.ts_ns - e.prev_ns) as f64 / 1e6),
            cookie: e.cookie,
        };
        write_record(self.out, &record)
    }

    fn record(&mut self, r: &ConnectionRecord) -> io::Result<()> {
        if self.json {
            return write_record(self.out, r);
        }
        let line = audit_line(r, &mut self.users);
        writeln!(self.out, "{line}")
    }

    fn lost(&mut self, at_boot: u64, n: u64, reason: LostReason) -> io::Result<()> {
        if self.json {
            return write_record(
                self.out,
                &LostRecord {
                    kind: LostRecord::TYPE,
                    ts_ns: self.clock.epoch_ns(at_boot),
                    lost: n,
                    reason,
                },
            );
        }
        let why = match reason {
            LostReason::RingFull => "the ring buffer was full",
            LostReason::ReadFailed => "the kernel could not read them",
            LostReason::Undecodable => "they could not be decoded",
            LostReason::MapFull => "a kernel map (owners, listeners or flows) was full",
            LostReason::Missed => {
                "state changes not seen: the kernel skipped the state program, which does not \
                 run inside itself on one CPU (a softirq change interrupting another; may \
                 include changes the filters would have dropped)"
            }
            LostReason::Untracked => {
                "connections ended that the owner map never held (no record can be made)"
            }
            LostReason::TimewaitUnfollowed => {
                "TIME_WAIT ends that will not be printed: more timewait sockets than --watch \
                 follows at once"
            }
        };
        writeln!(
            self.out,
            "{} LOST {n} events: {why}",
            watch::clock(self.clock.epoch_ns(at_boot))
        )
    }
}

/// One `--audit` text line:
/// `HH:MM:SS.uuuuuu netns=N PID/COMM(USER) PROTO LOCAL REMOTE OPENED END DURATION tx=B/P rx=B/P`
/// (`-` for anything unknown, ` incomplete` appended when the audit did not see it all).
pub fn audit_line(r: &ConnectionRecord, users: &mut Users) -> String {
    let owner = match (r.pid, &r.comm, r.uid) {
        (Some(pid), Some(comm), Some(uid)) => {
            let user = users.name(uid).unwrap_or_else(|| uid.to_string());
            format!("{pid}/{}({user})", watch::printable(comm))
        }
        _ => "-".into(),
    };
    let endpoint = |a: &str, port: u16| {
        if a.contains(':') {
            format!("[{a}]:{port}")
        } else {
            format!("{a}:{port}")
        }
    };
    let count = |b: u64, p: Option<u64>| match p {
        Some(p) => format!("{b}/{p}"),
        None => format!("{b}/-"),
    };
    let word = |v: Option<&'static str>| v.unwrap_or("-");
    format!(
        "{} netns={} {owner} {} {} {} {} {} {} tx={} rx={}{}",
        watch::clock(r.ts_ns),
        r.netns,
        r.proto,
        endpoint(&r.local_addr, r.local_port),
        endpoint(&r.remote_addr, r.remote_port),
        word(r.opened.map(opened_name)),
        word(r.end.map(end_name)),
        r.duration_ms
            .map_or_else(|| "-".into(), |ms| format!("{ms:.3}ms")),
        count(r.tx_bytes, r.tx_packets),
        count(r.rx_bytes, r.rx_packets),
        if r.incomplete { " incomplete" } else { "" },
    )
}

fn opened_name(o: Opened) -> &'static str {
    match o {
        Opened::Active => "active",
        Opened::Passive => "passive",
    }
}

/// The same words as the JSON `end` values.
fn end_name(e: End) -> &'static str {
    match e {
        End::Close => "close",
        End::Reset => "reset",
        End::Refused => "refused",
        End::Timeout => "timeout",
        End::Idle => "idle",
    }
}

/// The ring size for this run: `NETSTAT_RING_BYTES` (a power of two, a page multiple),
/// meant for tests that force an overflow and for tuning; the built-in default otherwise.
fn ring_bytes() -> Result<Option<u32>, String> {
    match std::env::var("NETSTAT_RING_BYTES") {
        Err(_) => Ok(None),
        Ok(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| n.is_power_of_two() && *n >= 4096)
            .map(Some)
            .ok_or_else(|| format!("NETSTAT_RING_BYTES={v}: not a power of two of at least 4096")),
    }
}

/// The summary's word on the live sweep, when it removed anything.
fn swept_note(swept: u64) -> String {
    if swept == 0 {
        return String::new();
    }
    format!(" ({swept} records of sockets that closed unseen were swept from the owner map)")
}

/// Runs until SIGINT/SIGTERM or a closed stdout. Returns the exit code.
pub fn run(o: &Options, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<i32> {
    let root = Path::new("/");
    let what = match (o.watch, o.audit) {
        (true, true) => "--watch --audit",
        (true, false) => "--watch",
        _ => "--audit",
    };
    let (plan, ring) = match Plan::from_options(o, root).and_then(|p| Ok((p, ring_bytes()?))) {
        Ok(ok) => ok,
        Err(message) => {
            writeln!(err, "netstat: {message}")?;
            return Ok(3);
        }
    };
    let opts = ProbeOptions {
        ring_bytes: ring,
        emit: plan.emit(),
        filter: plan.filter,
    };
    let mut probe = match OwnerProbe::load_with(Some(opts)) {
        Ok(p) => p,
        Err(e) => {
            writeln!(
                err,
                "netstat: {what} needs the eBPF programs, which did not load: {}",
                e.describe()
            )?;
            return Ok(1);
        }
    };
    crate::stop::install();
    probe.describe_attach(what, o.verbose > 0, err)?;
    for m in &probe.offsets_missing {
        writeln!(err, "netstat: {what}: not in this kernel's BTF: {m}")?;
    }
    if crate::ebpf::hooks_only() {
        writeln!(
            err,
            "netstat: {what}: {} is set: every program returns at once (a benchmark of the \
             hooks' own cost); nothing will be printed",
            crate::ebpf::HOOKS_ONLY_ENV
        )?;
    }
    if let Some(why) = &probe.raw_refused {
        writeln!(
            err,
            "netstat: {what}: state changes from the classic tracepoint: no raw tracepoint ({why})"
        )?;
    }
    // Owners of the sockets that were there before: their changes name them too.
    let seeded = agent::seed(&mut probe, root, err)?;
    writeln!(
        err,
        "netstat: {what}: TCP state changes from {}, owners from the socket hooks and \
         send/receive ({}){}; {} sockets seeded; ready",
        probe.state_method,
        probe.io.summary(),
        if plan.audit_udp {
            ", UDP flows from cgroup sendmsg/recvmsg and send/receive"
        } else {
            ""
        },
        seeded.inserted
    )?;
    let mut w = Out {
        out,
        json: plan.json,
        users: Users::new(),
        clock: Clock {
            boot_to_real: watch::boot_to_realtime(),
        },
    };
    let mut totals = Totals::default();
    let result = run_loop(&plan, &mut probe, &mut w, &mut totals, root);
    // A closed stdout ends the run like a signal does; anything else is an error.
    let closed = matches!(&result, Err(e) if e.kind() == io::ErrorKind::BrokenPipe);
    if !closed {
        result?;
    }
    // Counted once: in the --watch summary when there is one.
    let (missed_audit, maps_audit) = if plan.watch {
        (0, 0)
    } else {
        (totals.missed, totals.maps_full)
    };
    if plan.watch {
        writeln!(
            err,
            "netstat: --watch stopped: {} transitions printed, {} lost{}",
            totals.transitions,
            totals.ring_full
                + totals.undecodable
                + totals.missed
                + totals.maps_full
                + totals.unfollowed,
            swept_note(totals.missed_ends.swept)
        )?;
    }
    if plan.audit_tcp || plan.audit_udp {
        // A connection record that found the ring full and did not fit the parking map
        // either is lost for good.
        writeln!(
            err,
            "netstat: --audit stopped: {} records printed ({} recovered from the kernel's \
             parked copy after a full ring), {} lost{}",
            totals.records,
            totals.recovered,
            totals.unrecovered
                + totals.flows_full
                + totals.undecodable
                + totals.untracked
                + missed_audit
                + maps_audit,
            if plan.watch {
                String::new()
            } else {
                swept_note(totals.missed_ends.swept)
            }
        )?;
    }
    Ok(0)
}

fn run_loop(
    plan: &Plan,
    probe: &mut OwnerProbe,
    w: &mut Out<'_>,
    totals: &mut Totals,
    root: &Path,
) -> io::Result<()> {
    let mut timewaits = TimeWaits::default();
    let (mut last_gc, mut last_sweep, mut last_flows, mut last_live_sweep) = (
        Instant::now(),
        Instant::now(),
        Instant::now(),
        Instant::now(),
    );
    let mut unsent_pending = false;
    loop {
        let stopping = crate::stop::requested();
        let Some(events) = probe.events.as_mut() else {
            return Ok(());
        };
        let wait = if stopping {
            Duration::ZERO
        } else {
            Duration::from_millis(EVENTS_POLL_MS)
        };
        let (batch, undecodable) = events.poll(wait)?;
        let lost = events.lost()?;
        let mut unfollowed = 0;
        for e in &batch {
            match e {
                Event::State(e) => {
                    if let Some(end) = timewaits.reused(e) {
                        timewait_end(plan, w, totals, &end)?;
                    }
                    if e.flags & event_flags::TIMEWAIT != 0 {
                        if !timewaits.start(e) {
                            unfollowed += 1;
                        }
                        w.transition(e, TcpState::TimeWait as u8)?;
                    } else {
                        w.transition(e, e.newstate)?;
                    }
                    totals.transitions += 1;
                }
                Event::Conn(c) => {
                    w.record(&audit::connection(c, w.clock))?;
                    totals.records += 1;
                }
            }
        }
        let now = agent::boottime_ns();
        if unfollowed > 0 {
            totals.unfollowed += unfollowed;
            w.lost(now, unfollowed, LostReason::TimewaitUnfollowed)?;
        }
        if undecodable > 0 {
            totals.undecodable += undecodable;
            w.lost(now, undecodable, LostReason::Undecodable)?;
        }
        if lost.ring_full > totals.ring_full {
            w.lost(now, lost.ring_full - totals.ring_full, LostReason::RingFull)?;
            totals.ring_full = lost.ring_full;
        }
        let missed = probe.state_misses();
        if missed > totals.missed {
            w.lost(now, missed - totals.missed, LostReason::Missed)?;
            totals.missed = missed;
        }
        if lost.conn_ring_full > totals.conn_ring_full {
            // Not lost for good: the records wait in the owner map (report_unsent).
            totals.conn_ring_full = lost.conn_ring_full;
            unsent_pending = true;
        }
        if let Ok(st) = probe.stats() {
            if st.flows_full > totals.flows_full {
                w.lost(now, st.flows_full - totals.flows_full, LostReason::MapFull)?;
                totals.flows_full = st.flows_full;
            }
            let full = st.owners_full + st.owners_nomem + st.listeners_full;
            if full > totals.maps_full {
                w.lost(now, full - totals.maps_full, LostReason::MapFull)?;
                totals.maps_full = full;
            }
            if plan.audit_tcp && st.untracked_end > totals.untracked {
                w.lost(
                    now,
                    st.untracked_end - totals.untracked,
                    LostReason::Untracked,
                )?;
                totals.untracked = st.untracked_end;
            }
        }
        if plan.watch {
            for end in timewaits.expired(root) {
                timewait_end(plan, w, totals, &end)?;
            }
        }
        if unsent_pending && (stopping || last_flows.elapsed() >= FLOW_SCAN) {
            report_unsent(probe, w, totals)?;
            // A record is parked within the same program run that counted it; one look
            // later, whatever is still missing found the parking map full: lost for good.
            let due = if stopping {
                totals.conn_ring_full
            } else {
                totals.conn_ring_full_scanned
            };
            let missing = due.saturating_sub(totals.recovered);
            if missing > totals.unrecovered {
                w.lost(now, missing - totals.unrecovered, LostReason::MapFull)?;
                totals.unrecovered = missing;
            }
            unsent_pending = totals.conn_ring_full > totals.conn_ring_full_scanned;
            totals.conn_ring_full_scanned = totals.conn_ring_full;
        }
        if plan.audit_udp && (stopping || last_flows.elapsed() >= FLOW_SCAN) {
            last_flows = Instant::now();
            report_flows(plan, probe, w, totals, stopping)?;
        }
        w.out.flush()?;
        if stopping {
            return Ok(());
        }
        if last_gc.elapsed() >= agent::GC_EVERY {
            last_gc = Instant::now();
            agent::gc(probe);
            w.clock.boot_to_real = watch::boot_to_realtime();
        }
        if last_sweep.elapsed() >= agent::SWEEP_EVERY {
            last_sweep = Instant::now();
            agent::sweep_seeded(probe, root);
        }
        // Only once a change went unseen: without a miss no record can be stranded.
        if totals.missed > 0 && last_live_sweep.elapsed() >= agent::LIVE_SWEEP_EVERY {
            last_live_sweep = Instant::now();
            totals.missed_ends.start(probe, root);
        }
        totals.missed_ends.poll(probe);
    }
}

fn timewait_end(
    plan: &Plan,
    w: &mut Out<'_>,
    totals: &mut Totals,
    e: &TcpStateEvent,
) -> io::Result<()> {
    let owner = (e.flags & event_flags::OWNER != 0).then_some(&e.owner);
    let states = (1 << TcpState::TimeWait as u8) | (1 << TcpState::Close as u8);
    if passes(
        &plan.filter,
        e.netns,
        e.family,
        e.sport,
        e.dport,
        states,
        owner,
    ) {
        w.transition(e, TcpState::Close as u8)?;
        totals.transitions += 1;
    }
    Ok(())
}

/// Connections whose record found the ring full: reported from the record the kernel
/// parked for them, marked incomplete.
fn report_unsent(probe: &mut OwnerProbe, w: &mut Out<'_>, totals: &mut Totals) -> io::Result<()> {
    let mut found = probe.dump_unsent()?;
    found.sort_by_key(|(_, r)| r.changed_ns);
    for (k, r) in found {
        w.record(&audit::recovered(&k, &r, w.clock))?;
        totals.records += 1;
        totals.recovered += 1;
        probe.remove_unsent(&k);
    }
    Ok(())
}

/// Reports and forgets the flows whose socket closed or that went idle (all of them,
/// as still open, when the audit stops).
fn report_flows(
    plan: &Plan,
    probe: &mut OwnerProbe,
    w: &mut Out<'_>,
    totals: &mut Totals,
    stopping: bool,
) -> io::Result<()> {
    let now = agent::boottime_ns();
    let idle = plan.flow_idle.as_nanos() as u64;
    let mut due = Vec::new();
    for (k, v) in probe.dump_flows()? {
        let sock = SockKey {
            cookie: k.cookie,
            netns: k.netns,
            _pad: 0,
        };
        // Closed only on evidence: the socket's record in the closed-socket map. A socket
        // the owner map never held (older than the audit and unbound at its start, or a
        // full map) only ever goes idle.
        let live = probe.record(&sock);
        let closed = live.is_none().then(|| probe.closed_record(&sock)).flatten();
        let end = match &closed {
            Some(r) => FlowEnd::Closed(r.changed_ns),
            None if now.saturating_sub(v.last_ns) >= idle => FlowEnd::Idle,
            None if stopping => FlowEnd::Open,
            None => continue,
        };
        let seeded = live
            .or(closed)
            .is_some_and(|r| r.flags & flags::SEEDED != 0);
        due.push((k, end, seeded));
    }
    let mut records = Vec::new();
    for (k, end, seeded) in due {
        // Taken out atomically: a datagram after this starts a new flow, none is lost.
        let Some(v) = probe.take_flow(&k)? else {
            continue;
        };
        if passes(
            &plan.filter,
            k.netns,
            k.family,
            v.lport,
            k.rport,
            u32::MAX,
            Some(&v.owner),
        ) {
            records.push(audit::flow(&k, &v, end, seeded, now, w.clock));
        }
    }
    records.sort_by_key(|r| r.ts_ns);
    for r in &records {
        w.record(r)?;
        totals.records += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use netstat_common::{ConnEvent, Owner, conn_flags};

    use super::*;
    use crate::audit::Clock;

    /// Issue 7 (fuzzing): the `--audit` line prints the task name too; a name of control
    /// characters must not split it (the JSON record keeps the name exact).
    #[test]
    fn issue_7_audit_line_keeps_a_hostile_comm_on_one_line() {
        let ev = ConnEvent {
            kind: netstat_common::event_kind::CONN,
            family: netstat_common::AF_INET,
            flags: conn_flags::OWNER,
            owner: Owner {
                tgid: 7,
                uid: 0,
                comm: *b"x\nforged line\r\0\0",
                ..Default::default()
            },
            ..ConnEvent::default()
        };
        let r = audit::connection(&ev, Clock { boot_to_real: 0 });
        assert_eq!(r.comm.as_deref(), Some("x\nforged line\r"));
        let line = audit_line(&r, &mut Users::new());
        assert!(!line.contains(['\n', '\r']), "{line:?}");
        assert!(line.contains(" 7/x?forged line?(root) "), "{line:?}");
    }
}
