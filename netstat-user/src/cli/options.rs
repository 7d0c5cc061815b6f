//! The parsed, resolved options: what a run is asked to do.

use std::time::Duration;

use super::CliExit;

/// What the run prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    #[default]
    Sockets,
    Route,
    Interfaces,
    Statistics,
    Masquerade,
}

/// Which socket tables to read, after net-tools' defaulting (see reference §1.3).
///
/// In [`Mode::Sockets`] this is final: when nothing selected a table (net-tools'
/// `flag_arg == 0`) every compiled family is switched on and `explicit` is false.
/// In the other modes it holds the flags after defaulting rules 1 and 2 only
/// (for `-s`: the sections to print; `-U` is not one of them in net-tools).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Protocols {
    pub tcp: bool,
    pub sctp: bool,
    pub udp: bool,
    pub udplite: bool,
    pub raw: bool,
    /// `-g`: multicast group memberships (printed after raw, before unix).
    pub igmp: bool,
    pub unix: bool,
    pub ipx: bool,
    pub ax25: bool,
    pub x25: bool,
    pub netrom: bool,
    pub rose: bool,
    /// net-tools' `flag_noprot`: the IP protocols were switched on by a family
    /// option (-4/-6/-A inet*), so a missing /proc file is skipped silently.
    pub noprot: bool,
    /// net-tools' `flag_arg != 0`: the user selected tables. A missing /proc file of a
    /// selected family is then an error (exit 1, unless `noprot`); otherwise it is
    /// reported only with `-v`.
    pub explicit: bool,
    /// `-2`, `-f`, `--bluetooth`, `-A bluetooth`: Bluetooth is not compiled into
    /// Debian's net-tools, so after every other section the sockets listing prints
    /// ``netstat: feature `AF BLUETOOTH' not supported.`` (2 lines) and exits 1.
    pub bluetooth: bool,
}

/// One entry of the `-r` family list, in command-line order (net-tools `route_info()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RouteFamily {
    Inet,
    Inet6,
    Ax25,
    NetRom,
    Rose,
    Ipx,
    Ddp,
    X25,
    /// A family without a routing printer (`unix`, `ec`, `ash`): when reached,
    /// ``No routing for address family `unix'.`` and exit 3.
    NoRouting(&'static str),
    /// A family alias without an address type (`bluetooth`): when reached,
    /// ``Address family `bluetooth' not supported.`` and exit 3.
    NotSupported(&'static str),
}

impl RouteFamily {
    /// The error to report when the routing loop reaches this entry (the tables of
    /// the entries before it have been printed by then).
    pub fn error(&self) -> Option<CliExit> {
        match *self {
            RouteFamily::NoRouting(family) => Some(CliExit::NoRouting {
                warnings: Vec::new(),
                family: family.to_owned(),
            }),
            RouteFamily::NotSupported(family) => Some(CliExit::RouteFamilyNotSupported {
                warnings: Vec::new(),
                family: family.to_owned(),
            }),
            _ => None,
        }
    }
}

/// Parsed, resolved options.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Options {
    pub mode: Mode,
    pub protocols: Protocols,
    /// Read the IPv4 tables (net-tools: `!flag_arg || flag_inet`).
    /// With `-s`: the family is `inet` (`parsesnmp()`); with `-r`: `inet` is listed.
    pub inet: bool,
    /// Read the IPv6 tables (net-tools: `!flag_arg || flag_inet6`).
    /// With `-s`: the family is `inet6` (`parsesnmp6()`); with `-r`: `inet6` is listed.
    pub inet6: bool,
    /// The family list as net-tools' `afname` spells it, e.g. "inet,inet6" (messages).
    /// With `-r` and `-s` an empty list has become the default "inet".
    pub afname: String,
    /// `-r`: the families to print, in order. The list ends at the first entry whose
    /// [`RouteFamily::error`] is `Some` (parse() already failed if that is the first).
    pub route: Vec<RouteFamily>,
    pub listening: bool,
    pub all: bool,
    pub numeric_hosts: bool,
    pub numeric_ports: bool,
    pub numeric_users: bool,
    /// -N
    pub symbolic: bool,
    /// Number of -e given (net-tools' flag_exp starts at 1: this is flag_exp - 1).
    /// Past 255 it cycles through 252..=255, which keeps both `> 0` and the value
    /// modulo 4 that `-r` uses (`flag_exp & FLAG_EXT`).
    pub extend: u8,
    pub programs: bool,
    pub timers: bool,
    pub wide: bool,
    pub verbose: u8,
    /// -c; `Some(interval)`: 1 s by default, or the trailing `[delay]` seconds.
    pub continuous: Option<std::time::Duration>,
    /// -C / -F (routing cache / FIB)
    pub cache: bool,
    pub fib: bool,
    /// -Z
    pub context: bool,
    /// `--agent`: run the agent (extension).
    pub agent: bool,
    /// `--watch` (extension).
    pub watch: bool,
    /// `--audit` (extension).
    pub audit: bool,
    /// `--json` (extension).
    pub json: bool,
    /// `--state`, `--port`, `--pid`, … (extensions for `--watch` and `--audit`).
    pub stream: StreamFilter,
    /// `--metrics ADDR:PORT|unix:PATH` (with `--agent`; may be repeated): where the agent
    /// serves Prometheus metrics.
    pub metrics: Vec<MetricsAddr>,
    /// `--metrics-owners`: per-owner metrics too, on the `unix:` endpoints only.
    pub metrics_owners: bool,
    /// `-i NAME` (extension): the first operand with `-i` that is not `-c`'s delay.
    pub interface: Option<Vec<u8>>,
}

/// The filters of `--watch` and `--audit` (each `None`/empty: no filter).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamFilter {
    /// `--state`: kernel TCP state numbers; a transition matches when its old or new
    /// state is one of them.
    pub states: Vec<u8>,
    /// `--port` (either end), `--sport` (local), `--dport` (remote).
    pub port: Option<u16>,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    /// `--pid`: the owner's process id.
    pub pid: Option<u32>,
    /// `--comm`: the owner's process name (its first 15 bytes, as the kernel keeps it).
    pub comm: Option<Vec<u8>>,
    /// `--netns`: an inode number, or a name under /run/netns, or a path.
    pub netns: Option<NetnsArg>,
    /// `--flow-idle SECONDS`: a UDP flow ends after this long without a datagram.
    pub flow_idle: Option<Duration>,
}

/// Where `--metrics` serves: a TCP address, or a unix socket path (`unix:PATH`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsAddr {
    Tcp(std::net::SocketAddr),
    Unix(std::path::PathBuf),
}

impl std::fmt::Display for MetricsAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricsAddr::Tcp(a) => write!(f, "{a}"),
            MetricsAddr::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// A `--netns` argument, resolved when the stream starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetnsArg {
    Inode(u32),
    /// `ip netns` name (`/run/netns/NAME`) or a path to an nsfs file.
    Name(Vec<u8>),
}
