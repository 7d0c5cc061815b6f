//! From the clap list to getopt's tables: `longopts[]`, the optstring, and
//! glibc's long-option lookup.

use clap::Command;

use super::families::AFTRANS;
use super::spec::{AF_ID_PREFIX, command, is_extension};

/// What an option does: net-tools' `switch (i)` case, one per option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Key {
    /// A family long option (`case 1`), or `-4`/`-6`, named by its alias.
    Af(&'static str),
    Version,
    Interfaces,
    Help,
    Route,
    Masquerade,
    Protocol,
    Tcp,
    Sctp,
    Udp,
    UdpLite,
    Raw,
    Unix,
    L2cap,
    Rfcomm,
    Listening,
    All,
    Timers,
    Continuous,
    Extend,
    Programs,
    Verbose,
    Statistics,
    Wide,
    Numeric,
    NumericHosts,
    NumericPorts,
    NumericUsers,
    Symbolic,
    Cache,
    Fib,
    Groups,
    Context,
    Debug,
    UsageError,
    Agent,
    Watch,
    Audit,
    Json,
    State,
    Port,
    Sport,
    Dport,
    Pid,
    Comm,
    Netns,
    FlowIdle,
    Metrics,
    MetricsOwners,
}

/// The behaviour of the clap arg `id`; `None` for the `delay` operand.
fn key_of(id: &str) -> Option<Key> {
    if let Some(alias) = id.strip_prefix(AF_ID_PREFIX) {
        return AFTRANS
            .iter()
            .find(|t| t.alias == alias)
            .map(|t| Key::Af(t.alias));
    }
    Some(match id {
        "version" => Key::Version,
        "interfaces" => Key::Interfaces,
        "help" => Key::Help,
        "route" => Key::Route,
        "masquerade" => Key::Masquerade,
        "protocol" => Key::Protocol,
        "tcp" => Key::Tcp,
        "sctp" => Key::Sctp,
        "udp" => Key::Udp,
        "udplite" => Key::UdpLite,
        "raw" => Key::Raw,
        "unix" => Key::Unix,
        "l2cap" => Key::L2cap,
        "rfcomm" => Key::Rfcomm,
        "listening" => Key::Listening,
        "all" => Key::All,
        "timers" => Key::Timers,
        "continuous" => Key::Continuous,
        "extend" => Key::Extend,
        "programs" => Key::Programs,
        "verbose" => Key::Verbose,
        "statistics" => Key::Statistics,
        "wide" => Key::Wide,
        "numeric" => Key::Numeric,
        "numeric-hosts" => Key::NumericHosts,
        "numeric-ports" => Key::NumericPorts,
        "numeric-users" => Key::NumericUsers,
        "symbolic" => Key::Symbolic,
        "cache" => Key::Cache,
        "fib" => Key::Fib,
        "groups" => Key::Groups,
        "context" => Key::Context,
        "debug" => Key::Debug,
        "usage-error" => Key::UsageError,
        "agent" => Key::Agent,
        "watch" => Key::Watch,
        "audit" => Key::Audit,
        "json" => Key::Json,
        "state" => Key::State,
        "port" => Key::Port,
        "sport" => Key::Sport,
        "dport" => Key::Dport,
        "pid" => Key::Pid,
        "comm" => Key::Comm,
        "netns" => Key::Netns,
        "flow-idle" => Key::FlowIdle,
        "metrics" => Key::Metrics,
        "metrics-owners" => Key::MetricsOwners,
        _ => return None,
    })
}

/// A `struct option` entry.
#[derive(Clone, Debug)]
pub(super) struct LongOpt {
    pub(super) name: String,
    pub(super) key: Key,
    pub(super) has_arg: bool,
}

/// A character of the optstring.
#[derive(Clone, Copy, Debug)]
pub(super) struct ShortOpt {
    pub(super) c: u8,
    pub(super) key: Key,
    pub(super) has_arg: bool,
}

/// getopt_long's view of [`command()`].
pub(super) struct OptTable {
    /// net-tools' `longopts[]`, in order (indices are getopt's `longind`).
    pub(super) legacy: Vec<LongOpt>,
    /// Our own long options, searched when nothing in `legacy` matches.
    pub(super) extensions: Vec<LongOpt>,
    pub(super) shorts: Vec<ShortOpt>,
}

impl OptTable {
    pub(super) fn from_command(cmd: &Command) -> OptTable {
        let mut table = OptTable {
            legacy: Vec::new(),
            extensions: Vec::new(),
            shorts: Vec::new(),
        };
        for arg in cmd.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(key) = key_of(id) else { continue };
            let has_arg = arg.get_action().takes_values();
            if let Some(c) = arg.get_short().filter(char::is_ascii) {
                table.shorts.push(ShortOpt {
                    c: c as u8,
                    key,
                    has_arg,
                });
            }
            // Family args are named after their id: see `command()` for the hidden
            // duplicate `--unix`.
            let name = match key {
                Key::Af(alias) => Some(alias),
                _ => arg.get_long(),
            };
            if let Some(name) = name {
                let opt = LongOpt {
                    name: name.to_owned(),
                    key,
                    has_arg,
                };
                if is_extension(arg) {
                    table.extensions.push(opt);
                } else {
                    table.legacy.push(opt);
                }
            }
        }
        table
    }

    pub(super) fn short(&self, c: u8) -> Option<ShortOpt> {
        self.shorts.iter().copied().find(|s| s.c == c)
    }
}

/// getopt's test for a second prefix match: `has_arg`, `flag` or `val` differ.
/// Every family long option has the same (0, NULL, 1).
fn differs(a: &LongOpt, b: &LongOpt) -> bool {
    let same_val = match (a.key, b.key) {
        (Key::Af(_), Key::Af(_)) => true,
        (x, y) => x == y,
    };
    !same_val || a.has_arg != b.has_arg
}

pub(super) enum Lookup {
    Found(usize),
    /// The indices to list: the first match and every differing later one.
    Ambiguous(Vec<usize>),
    Missing,
}

/// glibc `process_long_option()`'s search: an exact match, else prefix matches.
pub(super) fn lookup(opts: &[LongOpt], name: &[u8]) -> Lookup {
    if let Some(i) = opts.iter().position(|o| o.name.as_bytes() == name) {
        return Lookup::Found(i);
    }
    let mut first: Option<usize> = None;
    let mut ambiguous: Vec<usize> = Vec::new();
    for (i, opt) in opts.iter().enumerate() {
        if !opt.name.as_bytes().starts_with(name) {
            continue;
        }
        match first {
            None => first = Some(i),
            Some(f) => {
                if differs(&opts[f], opt) {
                    if ambiguous.is_empty() {
                        ambiguous.push(f);
                    }
                    ambiguous.push(i);
                }
            }
        }
    }
    match first {
        _ if !ambiguous.is_empty() => Lookup::Ambiguous(ambiguous),
        Some(f) => Lookup::Found(f),
        None => Lookup::Missing,
    }
}

/// Every option spelling the parser accepts, read from the tables the walker uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Long option names without `--`, each once, in table order.
    pub longs: Vec<String>,
    /// Short option characters, in table order.
    pub shorts: Vec<char>,
}

/// What [`parse`](super::parse) accepts, for the documents that must name every option and
/// their tests.
pub fn accepted_options() -> Accepted {
    let table = OptTable::from_command(&command());
    let mut longs: Vec<String> = Vec::new();
    for opt in table.legacy.iter().chain(&table.extensions) {
        if !longs.contains(&opt.name) {
            longs.push(opt.name.clone());
        }
    }
    Accepted {
        longs,
        shorts: table.shorts.iter().map(|s| char::from(s.c)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clap_arg_has_a_behaviour() {
        for arg in command().get_arguments() {
            let key = key_of(arg.get_id().as_str());
            assert_eq!(key.is_none(), arg.is_positional(), "{:?}", arg.get_id());
        }
    }

    #[test]
    fn long_table_is_net_tools_longopts() {
        // netstat.c:2026 longopts[] with AFTRANS_OPTS (lib/net-support.h) expanded.
        let longopts = [
            "ax25",
            "x25",
            "ip",
            "ipx",
            "appletalk",
            "netrom",
            "inet",
            "inet6",
            "ddp",
            "rose",
            "unix",
            "bluetooth",
            "tcpip",
            "version",
            "interfaces",
            "help",
            "route",
            "masquerade",
            "protocol",
            "tcp",
            "sctp",
            "udp",
            "udplite",
            "raw",
            "unix",
            "l2cap",
            "rfcomm",
            "listening",
            "all",
            "timers",
            "continuous",
            "extend",
            "programs",
            "verbose",
            "statistics",
            "wide",
            "numeric",
            "numeric-hosts",
            "numeric-ports",
            "numeric-users",
            "symbolic",
            "cache",
            "fib",
            "groups",
            "context",
        ];
        let table = OptTable::from_command(&command());
        let names: Vec<&str> = table.legacy.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, longopts);
        assert!(
            table.legacy[..13]
                .iter()
                .all(|o| matches!(o.key, Key::Af(_)))
        );
        assert!(
            table.legacy[13..]
                .iter()
                .all(|o| !matches!(o.key, Key::Af(_)))
        );
        let with_arg: Vec<&str> = table
            .legacy
            .iter()
            .filter(|o| o.has_arg)
            .map(|o| o.name.as_str())
            .collect();
        assert_eq!(with_arg, ["protocol"]);
        let extensions: Vec<&str> = table.extensions.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(
            extensions,
            [
                "agent",
                "watch",
                "audit",
                "json",
                "metrics",
                "metrics-owners",
                "state",
                "port",
                "sport",
                "dport",
                "pid",
                "comm",
                "netns",
                "flow-idle",
            ]
        );
    }

    #[test]
    fn short_table_is_net_tools_optstring() {
        let optstring = "A:CFMacdeghilnNoprsStuUvVWw2fx64?Z";
        let table = OptTable::from_command(&command());
        let mut ours: Vec<u8> = table.shorts.iter().map(|s| s.c).collect();
        let mut theirs: Vec<u8> = optstring.bytes().filter(|&b| b != b':').collect();
        ours.sort_unstable();
        theirs.sort_unstable();
        assert_eq!(ours, theirs);
        for s in &table.shorts {
            assert_eq!(s.has_arg, s.c == b'A', "{}", s.c as char);
        }
    }
}
