//! `netstat --watch`: TCP state changes as they happen, each with its owner.
//!
//! It loads the owner programs itself (the same ones the agent runs) with the state
//! tracepoint queuing events, seeds the owners of sockets that existed before, and
//! prints one line per transition:
//!
//! `HH:MM:SS.uuuuuu netns=N PID/COMM(USER) tcp|tcp6 LOCAL REMOTE OLD -> NEW T`
//!
//! where the owner was learnt in process context (never the task that happened to run
//! the change), `-` when unknown, and `T` is the time spent in OLD (`12.345ms`, `-`
//! when unknown). A change to CLOSE that hands the connection to a timewait socket is
//! shown as `-> TIME_WAIT` (the kernel's timewait socket may still wait for the peer's
//! FIN, as netstat's FIN_WAIT2 rows show); its end, `TIME_WAIT -> CLOSE`, is printed
//! when the namespace's sock_diag no longer lists it (looked for every 250 ms once its
//! 60 s are over: no tracepoint marks a timewait socket's death, and kprobes are not
//! available here) or when a new connection takes its 4-tuple. The run loop, shared
//! with `--audit`, is in [`crate::stream`].
use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::Path,
    time::{Duration, Instant},
};

use netstat_common::{AF_INET6, TcpState, TcpStateEvent, event_flags};

use crate::{
    agent::{self, seed},
    model::InetProto,
    names::{Users, ntop6},
};

/// Kernel state names as ss and the bcc tools print them.
pub fn state_name(n: u8) -> &'static str {
    TcpState::from_kernel(n).map_or("UNKNOWN", TcpState::name)
}

/// `ADDR:PORT`, or `[ADDR]:PORT` for IPv6, appended to `out`.
fn endpoint(out: &mut String, family: u16, addr: &[u8; 16], port: u16) {
    use std::fmt::Write as _;
    // Writing to a String cannot fail.
    let _ = if family == AF_INET6 {
        write!(out, "[{}]:{port}", ntop6(Ipv6Addr::from(*addr)))
    } else {
        let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
        write!(out, "{}:{port}", IpAddr::V4(a))
    };
}

/// `HH:MM:SS.uuuuuu` local time of a CLOCK_REALTIME instant.
pub(crate) fn clock(realtime_ns: u64) -> String {
    thread_local! {
        /// The last second converted: a stream prints thousands of lines per second.
        static LAST: std::cell::RefCell<(u64, String)> = const {
            std::cell::RefCell::new((u64::MAX, String::new()))
        };
    }
    let secs = realtime_ns / 1_000_000_000;
    let hms = LAST.with(|last| {
        let mut last = last.borrow_mut();
        if last.0 != secs {
            *last = (secs, hms(secs));
        }
        last.1.clone()
    });
    format!("{hms}.{:06}", (realtime_ns % 1_000_000_000) / 1000)
}

/// `HH:MM:SS` local time of a second since the epoch.
fn hms(secs: u64) -> String {
    let secs = secs as libc::time_t;
    // SAFETY: localtime_r fills the tm it is given; an all-zero tm is valid input.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointers for the duration of the call.
    let ok = unsafe { !libc::localtime_r(&secs, &mut tm).is_null() };
    let (h, m, s) = if ok {
        (tm.tm_hour, tm.tm_min, tm.tm_sec)
    } else {
        (0, 0, 0)
    };
    format!("{h:02}:{m:02}:{s:02}")
}

/// CLOCK_REALTIME − CLOCK_BOOTTIME, to put boot-clock event times on the wall clock.
pub(crate) fn boot_to_realtime() -> i128 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec to fill.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    let real = ts.tv_sec as i128 * 1_000_000_000 + ts.tv_nsec as i128;
    real - agent::boottime_ns() as i128
}

/// What one line needs besides the event: names and the clock offset.
pub struct LineContext<'a> {
    pub users: &'a mut Users,
    pub boot_to_real: i128,
}

/// One output line (without the newline); `new` overrides the event's new state name.
/// Written into one String: a busy stream prints 100 000s of lines a second.
pub fn format_event(e: &TcpStateEvent, new: &str, cx: &mut LineContext<'_>) -> String {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(128);
    line.push_str(&clock((e.ts_ns as i128 + cx.boot_to_real).max(0) as u64));
    // Writing to a String cannot fail.
    let _ = write!(line, " netns={} ", e.netns);
    if e.flags & event_flags::OWNER == 0 || e.owner.tgid == 0 {
        line.push('-');
    } else {
        let end = e.owner.comm.iter().position(|&b| b == 0).unwrap_or(16);
        let _ = write!(
            line,
            "{}/{}(",
            e.owner.tgid,
            printable(&String::from_utf8_lossy(&e.owner.comm[..end]))
        );
        match cx.users.name(e.owner.uid) {
            Some(user) => line.push_str(&user),
            None => {
                let _ = write!(line, "{}", e.owner.uid);
            }
        }
        line.push(')');
    }
    line.push_str(if e.family == AF_INET6 {
        " tcp6 "
    } else {
        " tcp "
    });
    endpoint(&mut line, e.family, &e.saddr, e.sport);
    line.push(' ');
    endpoint(&mut line, e.family, &e.daddr, e.dport);
    let _ = write!(line, " {} -> {new} ", state_name(e.oldstate));
    if e.prev_ns == 0 || e.ts_ns < e.prev_ns {
        line.push('-');
    } else {
        let us = (e.ts_ns - e.prev_ns) / 1000;
        let _ = write!(line, "{}.{:03}ms", us / 1000, us % 1000);
    }
    line
}

/// A task name for a text line: any process may name itself with control characters
/// (`prctl(PR_SET_NAME, "x\nforged line")`), so they print as `?`, as `ps` shows them.
/// The JSON records keep the name exact (serde escapes it).
pub fn printable(comm: &str) -> std::borrow::Cow<'_, str> {
    if comm.chars().any(char::is_control) {
        comm.chars()
            .map(|c| if c.is_control() { '?' } else { c })
            .collect::<String>()
            .into()
    } else {
        comm.into()
    }
}

/// A connection in its timewait phase, waiting for its end.
struct TimeWait {
    /// The event that started it, rewritten into the end line.
    start: TcpStateEvent,
    /// When to look for it in sock_diag next.
    check_at: Instant,
}

/// `TCP_TIMEWAIT_LEN`: a timewait socket lives 60 s unless something ends it earlier.
const TIMEWAIT_LEN: Duration = Duration::from_secs(60);
/// How soon a timewait socket still listed after its 60 s is looked for again: the end is
/// printed within this of the kernel dropping it.
const RECHECK: Duration = Duration::from_millis(250);

type Tuple = (u32, u16, [u8; 16], u16, [u8; 16], u16);

fn tuple(e: &TcpStateEvent) -> Tuple {
    (e.netns, e.family, e.saddr, e.sport, e.daddr, e.dport)
}

/// What one look found: per namespace, the cookies that were due and the TCP cookies
/// sock_diag still listed (`None`: the namespace could not be dumped, or is gone), and
/// the boot-clock time the look ended.
type Look = (Vec<(Vec<u64>, Option<HashSet<u64>>)>, u64);

/// At most this many timewait sockets are followed at once (about 0.6 KiB each: 40 MiB).
/// Past it, their ends are not printed, and the stream says how many
/// (`timewait_unfollowed`). The kernel's own bound is per namespace
/// (`tcp_max_tw_buckets`), so none holds across many namespaces.
pub(crate) const MAX_FOLLOWED: usize = 65_536;

/// The timewait sockets being followed, by cookie.
#[derive(Default)]
pub(crate) struct TimeWaits {
    by_cookie: HashMap<u64, TimeWait>,
    by_tuple: HashMap<Tuple, u64>,
    namespaces: HashMap<u32, seed::NetnsHandle>,
    /// Not before this instant does [`TimeWaits::expired`] look again.
    next_look: Option<Instant>,
    /// The look under way: sock_diag dumps on a thread of their own, so that the ring
    /// keeps being read meanwhile (under churn a namespace holds tens of thousands of
    /// timewait sockets, and dumping them takes longer than the ring can wait).
    look: Option<std::thread::JoinHandle<Look>>,
}

impl TimeWaits {
    /// Follows the timewait socket `e` starts; false when [`MAX_FOLLOWED`] are already
    /// followed (its end will not be printed).
    pub(crate) fn start(&mut self, e: &TcpStateEvent) -> bool {
        if self.by_cookie.len() >= MAX_FOLLOWED && !self.by_cookie.contains_key(&e.cookie) {
            return false;
        }
        self.by_tuple.insert(tuple(e), e.cookie);
        self.by_cookie.insert(
            e.cookie,
            TimeWait {
                start: *e,
                check_at: Instant::now() + TIMEWAIT_LEN,
            },
        );
        true
    }

    /// The end event of a timewait socket, at boot-clock time `at`.
    fn end(&mut self, cookie: u64, at: u64) -> Option<TcpStateEvent> {
        let tw = self.by_cookie.remove(&cookie)?;
        self.by_tuple.remove(&tuple(&tw.start));
        let mut e = tw.start;
        e.oldstate = TcpState::TimeWait as u8;
        e.newstate = TcpState::Close as u8;
        e.prev_ns = tw.start.ts_ns;
        e.ts_ns = at;
        e.flags &= !event_flags::TIMEWAIT;
        Some(e)
    }

    /// A new connection on the 4-tuple of a timewait socket ends that socket.
    pub(crate) fn reused(&mut self, e: &TcpStateEvent) -> Option<TcpStateEvent> {
        let cookie = *self.by_tuple.get(&tuple(e))?;
        (cookie != e.cookie)
            .then(|| self.end(cookie, e.ts_ns))
            .flatten()
    }

    /// Timewait sockets past their time that sock_diag no longer lists. Looks at most
    /// once per [`RECHECK`]: under churn something is always due, and each look dumps
    /// the namespace.
    /// The dumps run on a thread: this returns what the previous look found once it is
    /// done, and starts the next one.
    pub(crate) fn expired(&mut self, root: &Path) -> Vec<TcpStateEvent> {
        let mut ended = Vec::new();
        match self.look.take() {
            Some(look) if look.is_finished() => {
                // A panicked look found nothing: its sockets are looked for again.
                if let Ok((found, at)) = look.join() {
                    let now = Instant::now();
                    for (cookies, alive) in found {
                        for cookie in cookies {
                            match &alive {
                                // Still there (the kernel's timer runs a little late): look
                                // again soon.
                                Some(live) if live.contains(&cookie) => {
                                    if let Some(tw) = self.by_cookie.get_mut(&cookie) {
                                        tw.check_at = now + RECHECK;
                                    }
                                }
                                // Gone (or ended meanwhile by a reuse: then no end here), or
                                // its namespace is.
                                _ => ended.extend(self.end(cookie, at)),
                            }
                        }
                    }
                }
            }
            Some(look) => {
                self.look = Some(look);
                return ended;
            }
            None => {}
        }
        let now = Instant::now();
        if self.next_look.is_some_and(|t| now < t) {
            return ended;
        }
        self.next_look = Some(now + RECHECK);
        let mut due: HashMap<u32, Vec<u64>> = HashMap::new();
        for (cookie, tw) in &self.by_cookie {
            if tw.check_at <= now {
                due.entry(tw.start.netns).or_default().push(*cookie);
            }
        }
        if due.is_empty() {
            return ended;
        }
        if due.keys().any(|ns| !self.namespaces.contains_key(ns)) {
            self.namespaces = seed::network_namespaces(root)
                .into_iter()
                .map(|h| (h.inum, h))
                .collect();
        }
        let work: Vec<(Vec<u64>, Option<seed::NetnsHandle>)> = due
            .into_iter()
            .map(|(ns, cookies)| (cookies, self.namespaces.get(&ns).cloned()))
            .collect();
        let spawned = std::thread::Builder::new()
            .name("timewait-look".into())
            .spawn(move || {
                let found = work
                    .into_iter()
                    .map(|(cookies, handle)| {
                        let alive = handle.and_then(|h| {
                            seed::dump_netns(&h).ok().map(|rows| {
                                rows.iter()
                                    .filter(|s| s.proto == InetProto::Tcp)
                                    .map(|s| s.cookie)
                                    .collect()
                            })
                        });
                        (cookies, alive)
                    })
                    .collect();
                (found, agent::boottime_ns())
            });
        // No thread now: the next call tries again.
        self.look = spawned.ok();
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `ring` fuzz target (issue 7): a task name of newlines split one
    /// `--watch` event over several lines, so a process could print lines of its own.
    #[test]
    fn issue_7_control_characters_in_comm_stay_on_one_line() {
        let mut users = Users::new();
        let mut cx = LineContext {
            users: &mut users,
            boot_to_real: 0,
        };
        let e = TcpStateEvent {
            family: netstat_common::AF_INET,
            flags: event_flags::OWNER,
            owner: netstat_common::Owner {
                tgid: 168430090,
                uid: 168430090,
                comm: *b"\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n",
                ..Default::default()
            },
            ..TcpStateEvent::default()
        };
        let line = format_event(&e, "CLOSE", &mut cx);
        assert!(!line.contains('\n'), "{line:?}");
        assert!(line.contains(" 168430090/????????????????("), "{line:?}");
        assert_eq!(printable("a\tb\x7fc\u{85}"), "a?b?c?");
        assert!(matches!(
            printable("curl"),
            std::borrow::Cow::Borrowed("curl")
        ));
    }

    #[test]
    fn timewaits_followed_are_capped_and_a_refusal_is_said() {
        let mut tws = TimeWaits::default();
        let event = |cookie: u64| TcpStateEvent {
            cookie,
            sport: cookie as u16,
            ..TcpStateEvent::default()
        };
        for cookie in 1..=MAX_FOLLOWED as u64 {
            assert!(tws.start(&event(cookie)));
        }
        assert!(
            !tws.start(&event(MAX_FOLLOWED as u64 + 1)),
            "one past the cap"
        );
        assert!(tws.start(&event(7)), "one already followed stays followed");
        assert_eq!(tws.by_cookie.len(), MAX_FOLLOWED);
        // An end frees a place.
        assert!(tws.end(7, 1).is_some());
        assert!(tws.start(&event(MAX_FOLLOWED as u64 + 1)));
    }

    #[test]
    fn lines_name_owner_states_duration_and_bracket_v6() {
        let mut users = Users::new();
        let mut cx = LineContext {
            users: &mut users,
            boot_to_real: 0,
        };
        let mut e = TcpStateEvent {
            ts_ns: 12_000_345_000,
            netns: 4026531840,
            family: netstat_common::AF_INET,
            protocol: 6,
            sport: 40000,
            dport: 80,
            oldstate: 5,
            newstate: 7,
            saddr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            daddr: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            prev_ns: 10_000_000_000,
            flags: event_flags::OWNER,
            owner: netstat_common::Owner {
                tgid: 42,
                uid: 0,
                comm: *b"curl\0\0\0\0\0\0\0\0\0\0\0\0",
                ..Default::default()
            },
            ..TcpStateEvent::default()
        };
        let line = format_event(&e, "CLOSE", &mut cx);
        assert!(
            line.ends_with(
                " netns=4026531840 42/curl(root) tcp 10.0.0.1:40000 10.0.0.2:80 FIN_WAIT2 -> CLOSE 2000.345ms"
            ),
            "{line}"
        );
        e.family = AF_INET6;
        e.saddr = Ipv6Addr::LOCALHOST.octets();
        e.daddr = Ipv6Addr::LOCALHOST.octets();
        e.flags = 0;
        e.prev_ns = 0;
        let line = format_event(&e, state_name(99), &mut cx);
        assert!(
            line.ends_with(" - tcp6 [::1]:40000 [::1]:80 FIN_WAIT2 -> UNKNOWN -"),
            "{line}"
        );
    }

    #[test]
    fn timewait_ends_on_reuse_of_its_tuple_not_on_its_own_events() {
        let start = TcpStateEvent {
            ts_ns: 100,
            netns: 1,
            cookie: 7,
            sport: 1000,
            dport: 80,
            oldstate: 5,
            newstate: 7,
            flags: event_flags::TIMEWAIT,
            ..TcpStateEvent::default()
        };
        let mut tws = TimeWaits::default();
        tws.start(&start);
        assert!(tws.reused(&start).is_none(), "its own cookie is no reuse");
        let mut next = start;
        next.cookie = 8;
        next.ts_ns = 500;
        next.oldstate = 7;
        next.newstate = 2;
        let end = tws.reused(&next).expect("the tuple was reused");
        assert_eq!(
            (
                end.cookie,
                end.oldstate,
                end.newstate,
                end.prev_ns,
                end.ts_ns
            ),
            (7, 6, 7, 100, 500)
        );
        assert!(tws.reused(&next).is_none(), "ended once");
    }
}
