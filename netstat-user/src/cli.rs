//! Command line: net-tools 2.10 `netstat` options, parsed with getopt_long's rules.
//!
//! `parse()` turns argv into [`Options`] (already *resolved*: the protocol and family
//! defaulting of net-tools' `main()` applied), or a [`CliExit`] saying what to print
//! and which exit code to use.
//!
//! The option list lives in one place, the clap [`command()`]. clap's own parser is not
//! used: its messages cannot match glibc's, so a small walker reproduces glibc 2.36
//! `getopt_long(argc, argv, "A:CFMacdeghilnNoprsStuUvVWw2fx64?Z", longopts)` over the
//! table read back from `command().get_arguments()`:
//!
//! * short options bundle (`-tanp`); `-A` takes the rest of its word or the next word,
//!   whatever it is (`-A -t` is the family `-t`);
//! * long options match exactly or by a prefix; a prefix matching options that differ
//!   is ambiguous, and the message lists the first match plus every *different* one, in
//!   table order (all family options share getopt's value 1, so `--i` lists only
//!   `'--ip' '--interfaces'`);
//! * `--` ends the options; other non-options are skipped (permuted) and kept as
//!   operands, or end the options when `POSIXLY_CORRECT` is set;
//! * options act left to right, so `-V`, `-h`, `-?`, `-Z` and bad families end the
//!   parse where they stand (`netstat -V -Q` prints the version).
//!
//! Our own long options (`--agent`, `--watch`, `--audit`, `--json` and the live-mode
//! filters) sit in a second tier: they are looked up only when no net-tools option
//! matches, so every net-tools command line (`--w`, `--a`, ...) behaves and fails exactly
//! as in net-tools. `-h` prints net-tools' text, then [`extensions_help`] lists them.
//! The same definition gives the man page and shell completions (the netstat-docs crate).

use std::ffi::OsString;
use std::io::{self, Write};
use std::time::Duration;

use clap::{Arg, ArgAction, Command, ValueHint};

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

/// How the run ends without doing its job: what to print and the exit code.
///
/// Every variant carries the non-fatal warnings met before (such as the `--tcpip`
/// internal-error line); [`CliExit::write`] prints them first, on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliExit {
    /// `-V`: the version on stdout, exit 0.
    Version { warnings: Vec<String> },
    /// `-h`: usage on stdout, the family list on stderr, exit 0.
    Help { warnings: Vec<String> },
    /// An option error: glibc's message line (without newline; none for `-?` and
    /// mode conflicts), then usage and the family list, all on stderr, exit 3.
    Usage {
        warnings: Vec<String>,
        message: Option<Vec<u8>>,
    },
    /// ``Unknown address family `foo'.`` on stderr, exit 1. `name` is the
    /// command-line bytes.
    UnknownFamily {
        warnings: Vec<String>,
        name: Vec<u8>,
    },
    /// `-Z` without SELinux, exit 1.
    SelinuxDisabled { warnings: Vec<String> },
    /// `-r`: ``No routing for address family `unix'.`` on stderr, exit 3.
    NoRouting {
        warnings: Vec<String>,
        family: String,
    },
    /// `-r`: ``Address family `bluetooth' not supported.`` on stderr, exit 3.
    RouteFamilyNotSupported {
        warnings: Vec<String>,
        family: String,
    },
    /// `-s` with a family list other than `inet` or `inet6`: the message goes to
    /// **stdout**, exit 1.
    NoStatistics {
        warnings: Vec<String>,
        afname: String,
    },
    /// A bad value for one of our own options: `netstat: MESSAGE` on stderr, exit 3.
    BadValue {
        warnings: Vec<String>,
        message: String,
    },
}

/// net-tools' exit codes (`lib/net-support.h`).
const E_OPTERR: i32 = 3;
const E_NOSUPP: i32 = 1;
const E_USAGE: i32 = 0;

impl CliExit {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliExit::Version { .. } | CliExit::Help { .. } => E_USAGE,
            CliExit::Usage { .. }
            | CliExit::NoRouting { .. }
            | CliExit::RouteFamilyNotSupported { .. }
            | CliExit::BadValue { .. } => E_OPTERR,
            CliExit::UnknownFamily { .. }
            | CliExit::SelinuxDisabled { .. }
            | CliExit::NoStatistics { .. } => E_NOSUPP,
        }
    }

    /// The warnings printed before the message.
    pub fn warnings(&self) -> &[String] {
        match self {
            CliExit::Version { warnings }
            | CliExit::Help { warnings }
            | CliExit::Usage { warnings, .. }
            | CliExit::UnknownFamily { warnings, .. }
            | CliExit::SelinuxDisabled { warnings }
            | CliExit::NoRouting { warnings, .. }
            | CliExit::RouteFamilyNotSupported { warnings, .. }
            | CliExit::NoStatistics { warnings, .. }
            | CliExit::BadValue { warnings, .. } => warnings,
        }
    }

    /// Writes stdout part and stderr part exactly as net-tools does (e.g. -h: usage on stdout, AF list on stderr).
    pub fn write(&self, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<()> {
        write_warnings(err, self.warnings())?;
        match self {
            CliExit::Version { .. } => out.write_all(VERSION.as_bytes()),
            CliExit::Help { .. } => {
                // net-tools' usage text ends with the family list's title and prints the
                // list itself on stderr. Our section comes after the list, on stdout:
                // stdout starts with net-tools' exact text and stderr is net-tools' bytes,
                // and the flushes keep the reading order (title, list, extensions) where
                // both go to one terminal.
                out.write_all(USAGE.as_bytes())?;
                out.flush()?;
                err.write_all(af_list().as_bytes())?;
                err.flush()?;
                out.write_all(extensions_help().as_bytes())
            }
            CliExit::Usage { message, .. } => {
                if let Some(message) = message {
                    err.write_all(message)?;
                    err.write_all(b"\n")?;
                }
                err.write_all(USAGE.as_bytes())?;
                err.write_all(af_list().as_bytes())
            }
            CliExit::UnknownFamily { name, .. } => {
                err.write_all(b"Unknown address family `")?;
                err.write_all(name)?;
                err.write_all(b"'.\n")
            }
            CliExit::SelinuxDisabled { .. } => {
                err.write_all(b"SELinux is not enabled on this machine.\n")
            }
            CliExit::NoRouting { family, .. } => {
                writeln!(err, "No routing for address family `{family}'.")
            }
            CliExit::RouteFamilyNotSupported { family, .. } => {
                writeln!(err, "Address family `{family}' not supported.")
            }
            CliExit::NoStatistics { afname, .. } => writeln!(
                out,
                "netstat: No statistics support for specified address family: {afname}"
            ),
            CliExit::BadValue { message, .. } => writeln!(err, "netstat: {message}"),
        }
    }
}

/// Prints the warnings returned by [`parse`] (one line each) on `err`.
pub fn write_warnings(err: &mut dyn Write, warnings: &[String]) -> io::Result<()> {
    for warning in warnings {
        writeln!(err, "{warning}")?;
    }
    Ok(())
}

/// The parts of the process environment that the parse depends on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Env {
    /// `POSIXLY_CORRECT` is set: glibc stops at the first non-option.
    pub posixly_correct: bool,
    /// libselinux `is_selinux_enabled() > 0`.
    pub selinux_enabled: bool,
}

impl Env {
    /// Reads the environment variable and the SELinux state of this machine.
    pub fn from_system() -> Env {
        Env {
            posixly_correct: std::env::var_os("POSIXLY_CORRECT").is_some(),
            selinux_enabled: selinux_enabled(),
        }
    }
}

/// libselinux 3.4's `is_selinux_enabled()`: selinuxfs mounted (at its usual places)
/// and a policy configuration present. The scan of /proc/mounts for selinuxfs
/// elsewhere is left out: both usual places are checked.
fn selinux_enabled() -> bool {
    let mounted = ["/sys/fs/selinux/enforce", "/selinux/enforce"]
        .iter()
        .any(|path| std::path::Path::new(path).exists());
    mounted && std::path::Path::new("/etc/selinux/config").exists()
}

/// Also returns non-fatal warnings to print on stderr before running (e.g. the --tcpip internal error line).
pub fn parse<I, S>(args: I) -> Result<(Options, Vec<String>), CliExit>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    parse_with(args, &Env::from_system())
}

/// [`parse`] with the environment given instead of read.
pub fn parse_with<I, S>(args: I, env: &Env) -> Result<(Options, Vec<String>), CliExit>
where
    I: IntoIterator<Item = S>,
    S: Into<OsString>,
{
    use std::os::unix::ffi::OsStringExt;

    let args: Vec<Vec<u8>> = args.into_iter().map(|a| a.into().into_vec()).collect();
    let table = OptTable::from_command(&command());
    let mut walker = Walker::new(&table, args, env.posixly_correct);
    let mut flags = Flags::default();
    while let Some(step) = walker.next_option() {
        match step {
            Ok(found) => flags.apply(found, env)?,
            Err(message) => {
                return Err(CliExit::Usage {
                    warnings: flags.warnings,
                    message: Some(message),
                });
            }
        }
    }
    flags.resolve(&walker.operands)
}

// ---------------------------------------------------------------------------------
// Texts (netstat.c `usage()`, `version()`, lib/af.c `print_aflist()`)

/// `usage()` text; the family list that follows it is [`af_list`], always on stderr.
const USAGE: &str = concat!(
    "usage: netstat [-vWeenNcCF] [<Af>] -r         netstat {-V|--version|-h|--help}\n",
    "       netstat [-vWnNcaeol] [<Socket> ...]\n",
    "       netstat { [-vWeenNac] -i | [-cnNe] -M | -s [-6tuw] }\n",
    "\n",
    "        -r, --route              display routing table\n",
    "        -i, --interfaces         display interface table\n",
    "        -g, --groups             display multicast group memberships\n",
    "        -s, --statistics         display networking statistics (like SNMP)\n",
    "        -M, --masquerade         display masqueraded connections\n",
    "\n",
    "        -v, --verbose            be verbose\n",
    "        -W, --wide               don't truncate IP addresses\n",
    "        -n, --numeric            don't resolve names\n",
    "        --numeric-hosts          don't resolve host names\n",
    "        --numeric-ports          don't resolve port names\n",
    "        --numeric-users          don't resolve user names\n",
    "        -N, --symbolic           resolve hardware names\n",
    "        -e, --extend             display other/more information\n",
    "        -p, --programs           display PID/Program name for sockets\n",
    "        -o, --timers             display timers\n",
    "        -c, --continuous         continuous listing\n",
    "\n",
    "        -l, --listening          display listening server sockets\n",
    "        -a, --all                display all sockets (default: connected)\n",
    "        -F, --fib                display Forwarding Information Base (default)\n",
    "        -C, --cache              display routing cache instead of FIB\n",
    "        -Z, --context            display SELinux security context for sockets\n",
    "\n",
    "  <Socket>={-t|--tcp} {-u|--udp} {-U|--udplite} {-S|--sctp} {-w|--raw}\n",
    "           {-x|--unix} --ax25 --ipx --netrom\n",
    "  <AF>=Use '-6|-4' or '-A <af>' or '--<af>'; default: inet\n",
    "  List of possible address families (which support routing):\n",
);

/// Where the help column of [`USAGE`] starts (8 spaces, then 25 for the option).
const HELP_COLUMN: usize = 33;
/// The width [`extensions_help`] wraps to, as net-tools' lines stay below 80.
const HELP_WIDTH: usize = 79;

/// The section `-h` adds after net-tools' text: a blank line, then for each heading of
/// our own options its title and one entry per arg in net-tools' layout. Generated from
/// the clap args, so it lists exactly the options the walker accepts as extensions.
pub fn extensions_help() -> String {
    let cmd = command();
    let mut text = String::new();
    for heading in EXTENSION_HEADINGS {
        text.push('\n');
        text.push_str(heading);
        text.push_str(":\n");
        for arg in cmd
            .get_arguments()
            .filter(|a| a.get_help_heading() == Some(heading))
        {
            let mut option = String::new();
            if let Some(c) = arg.get_short() {
                option.push('-');
                option.push(c);
                if arg.get_long().is_some() {
                    option.push_str(", ");
                }
            }
            if let Some(long) = arg.get_long() {
                option.push_str("--");
                option.push_str(long);
            }
            if arg.get_action().takes_values() {
                for value in arg.get_value_names().into_iter().flatten() {
                    option.push(' ');
                    option.push_str(value);
                }
            }
            let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
            push_entry(&mut text, &option, &help);
        }
    }
    text
}

/// One `        OPTION                   help` entry, the help wrapped at [`HELP_WIDTH`]
/// under [`HELP_COLUMN`]; an option too wide for its column puts the help on the next line.
fn push_entry(text: &mut String, option: &str, help: &str) {
    let mut line = format!("        {option}");
    if line.len() >= HELP_COLUMN {
        text.push_str(&line);
        text.push('\n');
        line.clear();
    }
    // Whether the line holds a word of the help yet.
    let mut started = false;
    for word in help.split_whitespace() {
        if started && line.len() + 1 + word.len() > HELP_WIDTH {
            text.push_str(&line);
            text.push('\n');
            line.clear();
            started = false;
        }
        if started {
            line.push(' ');
        } else {
            line.push_str(&" ".repeat(HELP_COLUMN - line.len()));
        }
        line.push_str(word);
        started = true;
    }
    text.push_str(&line);
    text.push('\n');
}

/// Every option spelling the parser accepts, read from the tables the walker uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// Long option names without `--`, each once, in table order.
    pub longs: Vec<String>,
    /// Short option characters, in table order.
    pub shorts: Vec<char>,
}

/// What [`parse`] accepts, for the documents that must name every option and their tests.
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

/// `version()`: Release, Signature and Features of Debian's net-tools 2.10 build
/// (the `HW:` line ends with a space).
const VERSION: &str = concat!(
    "net-tools 2.10\n",
    "Fred Baumgarten, Alan Cox, Bernd Eckenfels, Phil Blundell, Tuan Hoang, Brian Micek and others\n",
    "+NEW_ADDRT +RTF_IRTT +RTF_REJECT +FW_MASQUERADE +I18N +SELINUX\n",
    "AF: (inet) +UNIX +INET +INET6 +IPX +AX25 +NETROM +X25 +ATALK +ECONET +ROSE -BLUETOOTH\n",
    "HW:  +ETHER +ARC +SLIP +PPP +TUNNEL -TR +AX25 +NETROM +X25 +FR +ROSE +ASH +SIT +FDDI +HIPPI +HDLC/LAPB +EUI64 \n",
);

/// An address type of lib/af.c `aftypes[]` (Debian's build, `unspec` left out).
struct AfType {
    name: &'static str,
    title: &'static str,
    /// `rprint` set by `getroute_init()`.
    route: Option<RouteFamily>,
}

/// lib/af.c `aftypes[]`, in its order.
const AFTYPES: [AfType; 11] = [
    af_type("unix", "UNIX Domain", None),
    af_type("inet", "DARPA Internet", Some(RouteFamily::Inet)),
    af_type("inet6", "IPv6", Some(RouteFamily::Inet6)),
    af_type("ax25", "AMPR AX.25", Some(RouteFamily::Ax25)),
    af_type("netrom", "AMPR NET/ROM", Some(RouteFamily::NetRom)),
    af_type("rose", "AMPR ROSE", Some(RouteFamily::Rose)),
    af_type("ipx", "Novell IPX", Some(RouteFamily::Ipx)),
    af_type("ddp", "Appletalk DDP", Some(RouteFamily::Ddp)),
    af_type("ec", "Econet", None),
    af_type("ash", "Ash", None),
    af_type("x25", "CCITT X.25", Some(RouteFamily::X25)),
];

const fn af_type(name: &'static str, title: &'static str, route: Option<RouteFamily>) -> AfType {
    AfType { name, title, route }
}

/// `print_aflist(1)`: the families that support routing, 3 a line.
fn af_list() -> String {
    let mut text = String::new();
    for (count, af) in AFTYPES.iter().filter(|af| af.route.is_some()).enumerate() {
        if count % 3 == 0 {
            text.push_str(if count == 0 { "    " } else { "\n    " });
        }
        text.push_str(af.name);
        text.push_str(" (");
        text.push_str(af.title);
        text.push_str(") ");
    }
    text.push('\n');
    text
}

/// `get_aftype()` as `route_info()` uses it.
fn route_family(name: &'static str) -> RouteFamily {
    match AFTYPES.iter().find(|af| af.name == name) {
        Some(af) => af.route.unwrap_or(RouteFamily::NoRouting(af.name)),
        None => RouteFamily::NotSupported(name),
    }
}

/// The `flag_<af>` counter an alias bumps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AfFlag {
    Ax25,
    Inet,
    Inet6,
    Ipx,
    Rose,
    Ddp,
    Netrom,
    Unix,
    Econet,
    X25,
    Ash,
    Bluetooth,
}

/// An entry of lib/af.c `aftrans[]`.
struct AfTrans {
    alias: &'static str,
    name: &'static str,
    flag: AfFlag,
}

/// lib/af.c `aftrans[]`, in its order.
const AFTRANS: [AfTrans; 16] = [
    af_trans("ax25", "ax25", AfFlag::Ax25),
    af_trans("ip", "inet", AfFlag::Inet),
    af_trans("ip6", "inet6", AfFlag::Inet6),
    af_trans("ipx", "ipx", AfFlag::Ipx),
    af_trans("rose", "rose", AfFlag::Rose),
    af_trans("appletalk", "ddp", AfFlag::Ddp),
    af_trans("netrom", "netrom", AfFlag::Netrom),
    af_trans("inet", "inet", AfFlag::Inet),
    af_trans("inet6", "inet6", AfFlag::Inet6),
    af_trans("ddp", "ddp", AfFlag::Ddp),
    af_trans("unix", "unix", AfFlag::Unix),
    af_trans("tcpip", "inet", AfFlag::Inet),
    af_trans("econet", "ec", AfFlag::Econet),
    af_trans("x25", "x25", AfFlag::X25),
    af_trans("ash", "ash", AfFlag::Ash),
    af_trans("bluetooth", "bluetooth", AfFlag::Bluetooth),
];

const fn af_trans(alias: &'static str, name: &'static str, flag: AfFlag) -> AfTrans {
    AfTrans { alias, name, flag }
}

/// net-tools' `AFTRANS_CNT`: 12, although `AFTRANS_OPTS` has 13 entries, so the
/// 13th family long option (`--tcpip`) fails the range check in `main()`.
const AFTRANS_CNT: usize = 12;

/// The size of net-tools' `afname[]` and of `aftrans_opt()`'s copy of its argument.
const AFNAME_SIZE: usize = 256;

// ---------------------------------------------------------------------------------
// The option list

const H_MODES: &str = "Modes";
const H_SOCKETS: &str = "Sockets";
const H_FAMILIES: &str = "Address families";
const H_DISPLAY: &str = "Display options";
const H_OPERANDS: &str = "Operands";
/// Our own options; the walker matches them (and [`H_FILTERS`]) only when no net-tools
/// option matches.
const H_EXTENSIONS: &str = "Extensions (not in net-tools 2.10)";
/// Our own options that narrow `--watch` and `--audit`.
const H_FILTERS: &str = "Live-mode filters (not in net-tools 2.10)";

/// Every help heading of [`command()`], in the order the man page shows them.
pub const HEADINGS: [&str; 7] = [
    H_MODES,
    H_SOCKETS,
    H_FAMILIES,
    H_DISPLAY,
    H_OPERANDS,
    H_EXTENSIONS,
    H_FILTERS,
];

/// The headings of our own options, in the order `-h` lists them.
const EXTENSION_HEADINGS: [&str; 2] = [H_EXTENSIONS, H_FILTERS];

/// Whether `arg` is one of our own options (not in net-tools 2.10).
pub fn is_extension(arg: &Arg) -> bool {
    arg.get_help_heading()
        .is_some_and(|h| EXTENSION_HEADINGS.contains(&h))
}

/// Arg ids of the family long options (`AFTRANS_OPTS`) are this prefix + the alias.
const AF_ID_PREFIX: &str = "af-";

/// A family long option of `AFTRANS_OPTS`: the id is [`AF_ID_PREFIX`] + the alias.
fn af_arg(id: &'static str, help: &'static str) -> Arg {
    let arg = Arg::new(id)
        .action(ArgAction::SetTrue)
        .help(help)
        .help_heading(H_FAMILIES);
    match id.strip_prefix(AF_ID_PREFIX) {
        Some(alias) => arg.long(alias),
        None => arg,
    }
}

fn flag_arg(id: &'static str, short: char, heading: &'static str, help: &'static str) -> Arg {
    Arg::new(id)
        .short(short)
        .long(id)
        .action(ArgAction::SetTrue)
        .help(help)
        .help_heading(heading)
}

/// A live-mode filter: one of our own options that takes a value (may be repeated).
fn long_value(id: &'static str, value: &'static str, help: &'static str) -> Arg {
    Arg::new(id)
        .long(id)
        .value_name(value)
        // Completions offer no file names for these (--netns says otherwise).
        .value_hint(ValueHint::Other)
        .action(ArgAction::Append)
        .help(help)
        .help_heading(H_FILTERS)
}

fn long_flag(id: &'static str, heading: &'static str, help: &'static str) -> Arg {
    Arg::new(id)
        .long(id)
        .action(ArgAction::SetTrue)
        .help(help)
        .help_heading(heading)
}

/// The clap definition of every option (name, short, long, help): the walker's tables,
/// the extension section of `-h`, and the man page and shell completions (netstat-docs).
/// `hide` only keeps an arg out of those documents: it is set on the one arg whose clap
/// name is not an option (`--af-unix`, below).
///
/// The long options are in the order of net-tools' `longopts[]` (netstat.c:2026, the
/// `AFTRANS_OPTS` first): that order decides prefix matches and ambiguity messages.
/// One exception: `longopts[]` holds `unix` twice (family 11, and `-x`), and clap
/// refuses two args with one long name (aliases included), so the family copy is the
/// hidden arg `af-unix` with the clap long `--af-unix`, and the walker names every
/// family arg after its id (`af-<alias>`) rather than its clap long name: `--unix`
/// reaches both, `--af-unix` neither.
pub fn command() -> Command {
    Command::new("netstat")
        .about(
            "Print network connections, routing tables, interface statistics, \
             masquerade connections, and multicast memberships",
        )
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .args([
            af_arg("af-ax25", "AMPR AX.25 sockets or routes (same as -A ax25)"),
            af_arg("af-x25", "CCITT X.25 sockets or routes (same as -A x25)"),
            af_arg("af-ip", "same as --inet"),
            af_arg("af-ipx", "Novell IPX sockets or routes (same as -A ipx)"),
            af_arg("af-appletalk", "same as --ddp"),
            af_arg(
                "af-netrom",
                "AMPR NET/ROM sockets or routes (same as -A netrom)",
            ),
            af_arg("af-inet", "IPv4 only (same as -A inet)").short('4'),
            af_arg("af-inet6", "IPv6 only (same as -A inet6)").short('6'),
            af_arg("af-ddp", "Appletalk DDP routes (same as -A ddp)"),
            af_arg("af-rose", "AMPR ROSE sockets or routes (same as -A rose)"),
            Arg::new("af-unix")
                .long("af-unix")
                .action(ArgAction::SetTrue)
                .help("net-tools' family option --unix (same as -x)")
                .help_heading(H_FAMILIES)
                .hide(true),
            af_arg("af-bluetooth", "Bluetooth sockets (not supported)"),
            af_arg(
                "af-tcpip",
                "meant as --inet; net-tools 2.10 reports an internal error and ignores it",
            ),
            flag_arg(
                "version",
                'V',
                H_MODES,
                "display version information and exit",
            ),
            flag_arg("interfaces", 'i', H_MODES, "display interface table"),
            flag_arg("help", 'h', H_MODES, "display this help and exit"),
            flag_arg("route", 'r', H_MODES, "display routing table"),
            flag_arg(
                "masquerade",
                'M',
                H_MODES,
                "display masqueraded connections",
            ),
            Arg::new("protocol")
                .short('A')
                .long("protocol")
                .value_name("AF[,AF...]")
                .value_hint(ValueHint::Other)
                .action(ArgAction::Append)
                .help(
                    "address families to show: inet inet6 unix ipx ax25 netrom rose x25 ddp \
                     (aliases ip ip6 tcpip appletalk; also econet ash bluetooth)",
                )
                .help_heading(H_FAMILIES),
            flag_arg("tcp", 't', H_SOCKETS, "TCP sockets"),
            flag_arg("sctp", 'S', H_SOCKETS, "SCTP sockets"),
            flag_arg("udp", 'u', H_SOCKETS, "UDP sockets"),
            flag_arg("udplite", 'U', H_SOCKETS, "UDP-Lite sockets"),
            flag_arg("raw", 'w', H_SOCKETS, "raw sockets"),
            flag_arg(
                "unix",
                'x',
                H_SOCKETS,
                "UNIX domain sockets (same as -A unix)",
            ),
            flag_arg(
                "l2cap",
                '2',
                H_SOCKETS,
                "Bluetooth L2CAP sockets (not supported)",
            ),
            flag_arg(
                "rfcomm",
                'f',
                H_SOCKETS,
                "Bluetooth RFCOMM sockets (not supported)",
            ),
            flag_arg(
                "listening",
                'l',
                H_DISPLAY,
                "display listening server sockets",
            ),
            flag_arg(
                "all",
                'a',
                H_DISPLAY,
                "display all sockets (default: connected)",
            ),
            flag_arg("timers", 'o', H_DISPLAY, "display timers"),
            flag_arg("continuous", 'c', H_DISPLAY, "continuous listing"),
            flag_arg("extend", 'e', H_DISPLAY, "display other/more information")
                .action(ArgAction::Count),
            flag_arg(
                "programs",
                'p',
                H_DISPLAY,
                "display PID/Program name for sockets",
            ),
            flag_arg("verbose", 'v', H_DISPLAY, "be verbose").action(ArgAction::Count),
            flag_arg(
                "statistics",
                's',
                H_MODES,
                "display networking statistics (like SNMP)",
            ),
            flag_arg("wide", 'W', H_DISPLAY, "don't truncate IP addresses"),
            flag_arg("numeric", 'n', H_DISPLAY, "don't resolve names"),
            long_flag("numeric-hosts", H_DISPLAY, "don't resolve host names"),
            long_flag("numeric-ports", H_DISPLAY, "don't resolve port names"),
            long_flag("numeric-users", H_DISPLAY, "don't resolve user names"),
            flag_arg("symbolic", 'N', H_DISPLAY, "resolve hardware names"),
            flag_arg(
                "cache",
                'C',
                H_DISPLAY,
                "display routing cache instead of FIB",
            ),
            flag_arg(
                "fib",
                'F',
                H_DISPLAY,
                "display Forwarding Information Base (default)",
            ),
            flag_arg(
                "groups",
                'g',
                H_SOCKETS,
                "display multicast group memberships",
            ),
            flag_arg(
                "context",
                'Z',
                H_DISPLAY,
                "display SELinux security context for sockets",
            ),
            Arg::new("debug")
                .short('d')
                .action(ArgAction::Count)
                .help("accepted and ignored (net-tools' unused debug flag)")
                .help_heading(H_DISPLAY),
            Arg::new("usage-error")
                .short('?')
                .action(ArgAction::SetTrue)
                .help("print the usage on stderr and exit 3")
                .help_heading(H_MODES),
            long_flag(
                "agent",
                H_EXTENSIONS,
                "run the agent that answers -p (root)",
            ),
            long_flag(
                "watch",
                H_EXTENSIONS,
                "print TCP state changes as they happen (root)",
            ),
            long_flag(
                "audit",
                H_EXTENSIONS,
                "record finished connections and flows (root)",
            ),
            long_flag(
                "json",
                H_EXTENSIONS,
                "print JSON lines (also --watch and --audit)",
            ),
            long_value(
                "metrics",
                "ADDR:PORT|unix:PATH",
                "--agent: serve Prometheus metrics there (GET /metrics); may be repeated",
            )
            .help_heading(H_EXTENSIONS),
            long_flag(
                "metrics-owners",
                H_EXTENSIONS,
                "--agent: also sockets per process name and uid, on unix: endpoints only \
                 (they name other users' processes)",
            ),
            long_value(
                "state",
                "STATE[,STATE...]",
                "--watch: only changes from or to these TCP states (ESTABLISHED, \
                 TIME_WAIT, ... or ss's time-wait, ...)",
            ),
            long_value("port", "PORT", "only this port, at either end"),
            long_value("sport", "PORT", "only this local port"),
            long_value("dport", "PORT", "only this remote port"),
            long_value("pid", "PID", "only sockets owned by this process"),
            long_value(
                "comm",
                "NAME",
                "only sockets owned by processes of this name (15 bytes at most)",
            ),
            long_value(
                "netns",
                "NETNS",
                "only this network namespace (inode number, ip-netns name or path)",
            )
            .value_hint(ValueHint::AnyPath),
            long_value(
                "flow-idle",
                "SECONDS",
                "--audit: a UDP flow ends after this long without datagrams (default 30)",
            ),
            Arg::new("delay")
                .value_name("DELAY")
                .value_hint(ValueHint::Other)
                .action(ArgAction::Set)
                .help(
                    "with -c: seconds between listings (default 1); with -i, an interface \
                     name shows only that interface; other operands are ignored",
                )
                .help_heading(H_OPERANDS),
        ])
}

// ---------------------------------------------------------------------------------
// From the clap list to getopt's tables

/// What an option does: net-tools' `switch (i)` case, one per option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Key {
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
struct LongOpt {
    name: String,
    key: Key,
    has_arg: bool,
}

/// A character of the optstring.
#[derive(Clone, Copy, Debug)]
struct ShortOpt {
    c: u8,
    key: Key,
    has_arg: bool,
}

/// getopt_long's view of [`command()`].
struct OptTable {
    /// net-tools' `longopts[]`, in order (indices are getopt's `longind`).
    legacy: Vec<LongOpt>,
    /// Our own long options, searched when nothing in `legacy` matches.
    extensions: Vec<LongOpt>,
    shorts: Vec<ShortOpt>,
}

impl OptTable {
    fn from_command(cmd: &Command) -> OptTable {
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

    fn short(&self, c: u8) -> Option<ShortOpt> {
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

enum Lookup {
    Found(usize),
    /// The indices to list: the first match and every differing later one.
    Ambiguous(Vec<usize>),
    Missing,
}

/// glibc `process_long_option()`'s search: an exact match, else prefix matches.
fn lookup(opts: &[LongOpt], name: &[u8]) -> Lookup {
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

// ---------------------------------------------------------------------------------
// The getopt_long walker

/// One option found by the walker.
struct Found {
    key: Key,
    arg: Option<Vec<u8>>,
    /// getopt's `longind` in net-tools' `longopts[]` when found as a long option.
    longind: Option<usize>,
}

/// glibc's getopt_long state over a copy of argv.
struct Walker<'t> {
    table: &'t OptTable,
    args: Vec<Vec<u8>>,
    optind: usize,
    /// Position of the next character in a bundle of short options at `optind`.
    nextchar: Option<usize>,
    /// Non-options in the order getopt leaves them after `optind`.
    operands: Vec<Vec<u8>>,
    require_order: bool,
}

impl<'t> Walker<'t> {
    fn new(table: &'t OptTable, args: Vec<Vec<u8>>, require_order: bool) -> Walker<'t> {
        Walker {
            table,
            args,
            optind: 1,
            nextchar: None,
            operands: Vec::new(),
            require_order,
        }
    }

    fn prog(&self) -> &[u8] {
        self.args
            .first()
            .map_or(b"netstat".as_slice(), Vec::as_slice)
    }

    /// glibc's `"%s: <text>"` error line.
    fn message(&self, parts: &[&[u8]]) -> Vec<u8> {
        let mut line = self.prog().to_vec();
        line.extend_from_slice(b": ");
        for part in parts {
            line.extend_from_slice(part);
        }
        line
    }

    /// The next option, or the message of a getopt error (getopt's `'?'`), or `None`
    /// at the end of the options.
    fn next_option(&mut self) -> Option<Result<Found, Vec<u8>>> {
        if let Some(pos) = self.nextchar {
            return Some(self.short(pos));
        }
        loop {
            let arg = self.args.get(self.optind)?;
            if arg.as_slice() == b"--" {
                self.operands.extend(self.args.drain(self.optind + 1..));
                self.optind = self.args.len();
                return None;
            }
            let nonoption = arg.len() < 2 || arg[0] != b'-';
            if nonoption {
                if self.require_order {
                    self.operands.extend(self.args.drain(self.optind..));
                    return None;
                }
                self.operands.push(arg.clone());
                self.optind += 1;
                continue;
            }
            if arg[1] == b'-' {
                return Some(self.long());
            }
            return Some(self.short(1));
        }
    }

    fn short(&mut self, pos: usize) -> Result<Found, Vec<u8>> {
        let word = self.args[self.optind].clone();
        let c = word[pos];
        let last = pos + 1 == word.len();
        self.nextchar = if last { None } else { Some(pos + 1) };
        if last {
            self.optind += 1;
        }
        let Some(opt) = self.table.short(c) else {
            return Err(self.message(&[b"invalid option -- '", &[c], b"'"]));
        };
        let mut arg = None;
        if opt.has_arg {
            self.nextchar = None;
            if !last {
                arg = Some(word[pos + 1..].to_vec());
                self.optind += 1;
            } else if let Some(next) = self.args.get(self.optind) {
                arg = Some(next.clone());
                self.optind += 1;
            } else {
                return Err(self.message(&[b"option requires an argument -- '", &[c], b"'"]));
            }
        }
        Ok(Found {
            key: opt.key,
            arg,
            longind: None,
        })
    }

    fn long(&mut self) -> Result<Found, Vec<u8>> {
        let word = self.args[self.optind].clone();
        self.optind += 1;
        let body = &word[2..];
        let (name, value) = match body.iter().position(|&b| b == b'=') {
            Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
            None => (body, None),
        };
        let table = self.table;
        let (opts, legacy, lookup) = match lookup(&table.legacy, name) {
            Lookup::Missing => (&table.extensions, false, lookup(&table.extensions, name)),
            found => (&table.legacy, true, found),
        };
        let index = match lookup {
            Lookup::Found(index) => index,
            Lookup::Missing => {
                return Err(self.message(&[b"unrecognized option '--", body, b"'"]));
            }
            Lookup::Ambiguous(list) => {
                let mut line =
                    self.message(&[b"option '--", body, b"' is ambiguous; possibilities:"]);
                for i in list {
                    line.extend_from_slice(b" '--");
                    line.extend_from_slice(opts[i].name.as_bytes());
                    line.push(b'\'');
                }
                return Err(line);
            }
        };
        let opt = &opts[index];
        let arg = match (value, opt.has_arg) {
            (Some(value), true) => Some(value.to_vec()),
            (Some(_), false) => {
                return Err(self.message(&[
                    b"option '--",
                    opt.name.as_bytes(),
                    b"' doesn't allow an argument",
                ]));
            }
            (None, true) => match self.args.get(self.optind) {
                Some(next) => {
                    let next = next.clone();
                    self.optind += 1;
                    Some(next)
                }
                None => {
                    return Err(self.message(&[
                        b"option '--",
                        opt.name.as_bytes(),
                        b"' requires an argument",
                    ]));
                }
            },
            (None, false) => None,
        };
        Ok(Found {
            key: opt.key,
            arg,
            longind: legacy.then_some(index),
        })
    }
}

// ---------------------------------------------------------------------------------
// net-tools' flags and `main()`'s resolution

/// net-tools' `flag_not` bits.
const FLAG_NUM_HOST: u8 = 4;
const FLAG_NUM_PORT: u8 = 8;
const FLAG_NUM_USER: u8 = 16;
const FLAG_NUM: u8 = FLAG_NUM_HOST | FLAG_NUM_PORT | FLAG_NUM_USER;
const FLAG_SYM: u8 = 32;

/// net-tools' global counters, as the option loop leaves them.
#[derive(Default)]
struct Flags {
    warnings: Vec<String>,
    afname: String,
    /// The names in `afname`, in order.
    afnames: Vec<&'static str>,
    inet: u32,
    inet6: u32,
    unx: u32,
    ipx: u32,
    ax25: u32,
    netrom: u32,
    rose: u32,
    x25: u32,
    bluetooth: u32,
    /// ddp, ec and ash: no socket lister reads them.
    unrouted: u32,
    tcp: u32,
    sctp: u32,
    udp: u32,
    udplite: u32,
    raw: u32,
    l2cap: u32,
    rfcomm: u32,
    igmp: u32,
    int: u32,
    rou: u32,
    mas: u32,
    sta: u32,
    all: bool,
    lst: bool,
    cnt: bool,
    prg: bool,
    opt: bool,
    wide: bool,
    selinux: bool,
    /// `flag_exp - 1`, see [`Options::extend`].
    exp: u8,
    ver: u8,
    not: u8,
    cache: bool,
    fib: bool,
    agent: bool,
    watch: bool,
    audit: bool,
    json: bool,
    stream: StreamFilter,
    metrics: Vec<MetricsAddr>,
    metrics_owners: bool,
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

impl Flags {
    /// net-tools' `switch (i)` for one option.
    fn apply(&mut self, found: Found, env: &Env) -> Result<(), CliExit> {
        let Found { key, arg, longind } = found;
        match key {
            Key::Af(alias) => {
                if longind.is_some_and(|i| i >= AFTRANS_CNT) {
                    self.warnings
                        .push("netstat.c: Internal Error `longopts 1 range'.".to_owned());
                    return Ok(());
                }
                self.aftrans_opt(alias.as_bytes())?;
            }
            Key::Protocol => self.aftrans_opt(arg.as_deref().unwrap_or_default())?,
            Key::Unix => self.aftrans_opt(b"unix")?,
            Key::Version => {
                return Err(CliExit::Version {
                    warnings: std::mem::take(&mut self.warnings),
                });
            }
            Key::Help => {
                return Err(CliExit::Help {
                    warnings: std::mem::take(&mut self.warnings),
                });
            }
            Key::UsageError => {
                return Err(CliExit::Usage {
                    warnings: std::mem::take(&mut self.warnings),
                    message: None,
                });
            }
            Key::Context => {
                if !env.selinux_enabled {
                    return Err(CliExit::SelinuxDisabled {
                        warnings: std::mem::take(&mut self.warnings),
                    });
                }
                self.prg = true;
                self.selinux = true;
            }
            Key::Masquerade => bump(&mut self.mas),
            Key::All => self.all = true,
            Key::Listening => self.lst = true,
            Key::Continuous => self.cnt = true,
            Key::Debug => {}
            Key::Groups => bump(&mut self.igmp),
            Key::Extend => {
                self.exp = if self.exp == u8::MAX {
                    252
                } else {
                    self.exp + 1
                }
            }
            Key::Programs => self.prg = true,
            Key::Interfaces => bump(&mut self.int),
            Key::Wide => self.wide = true,
            Key::Numeric => self.not |= FLAG_NUM,
            Key::NumericHosts => self.not |= FLAG_NUM_HOST,
            Key::NumericPorts => self.not |= FLAG_NUM_PORT,
            Key::NumericUsers => self.not |= FLAG_NUM_USER,
            Key::Symbolic => self.not |= FLAG_SYM,
            Key::Cache => self.cache = true,
            Key::Fib => self.fib = true,
            Key::Timers => self.opt = true,
            Key::Verbose => self.ver = self.ver.saturating_add(1),
            Key::Route => bump(&mut self.rou),
            Key::Tcp => bump(&mut self.tcp),
            Key::Sctp => bump(&mut self.sctp),
            Key::Udp => bump(&mut self.udp),
            Key::UdpLite => bump(&mut self.udplite),
            Key::Raw => bump(&mut self.raw),
            Key::L2cap => bump(&mut self.l2cap),
            Key::Rfcomm => bump(&mut self.rfcomm),
            Key::Statistics => bump(&mut self.sta),
            Key::Agent => self.agent = true,
            Key::Watch => self.watch = true,
            Key::Audit => self.audit = true,
            Key::Json => self.json = true,
            Key::MetricsOwners => self.metrics_owners = true,
            Key::Metrics => match metrics_option(&arg.unwrap_or_default()) {
                Ok(addr) => self.metrics.push(addr),
                Err(message) => {
                    return Err(CliExit::BadValue {
                        warnings: std::mem::take(&mut self.warnings),
                        message,
                    });
                }
            },
            Key::State
            | Key::Port
            | Key::Sport
            | Key::Dport
            | Key::Pid
            | Key::Comm
            | Key::Netns
            | Key::FlowIdle => {
                let value = arg.unwrap_or_default();
                if let Err(message) = stream_option(&mut self.stream, key, &value) {
                    return Err(CliExit::BadValue {
                        warnings: std::mem::take(&mut self.warnings),
                        message,
                    });
                }
            }
        }
        Ok(())
    }

    /// lib/af.c `aftrans_opt()`: a comma-separated list of aliases.
    fn aftrans_opt(&mut self, arg: &[u8]) -> Result<(), CliExit> {
        // `safe_strncpy(buf, arg, sizeof(buf))`: a C string of at most 255 bytes.
        let arg = arg.split(|&b| b == 0).next().unwrap_or_default();
        let arg = &arg[..arg.len().min(AFNAME_SIZE - 1)];
        for piece in arg.split(|&b| b == b',') {
            let Some(af) = AFTRANS.iter().find(|t| t.alias.as_bytes() == piece) else {
                return Err(CliExit::UnknownFamily {
                    warnings: std::mem::take(&mut self.warnings),
                    name: piece.to_vec(),
                });
            };
            if af.name.len() + self.afname.len() + 1 >= AFNAME_SIZE {
                self.warnings
                    .push("Too much address family arguments.".to_owned());
                return Ok(());
            }
            let counter = match af.flag {
                AfFlag::Ax25 => &mut self.ax25,
                AfFlag::Inet => &mut self.inet,
                AfFlag::Inet6 => &mut self.inet6,
                AfFlag::Ipx => &mut self.ipx,
                AfFlag::Rose => &mut self.rose,
                AfFlag::Netrom => &mut self.netrom,
                AfFlag::Unix => &mut self.unx,
                AfFlag::X25 => &mut self.x25,
                AfFlag::Bluetooth => &mut self.bluetooth,
                AfFlag::Ddp | AfFlag::Econet | AfFlag::Ash => &mut self.unrouted,
            };
            bump(counter);
            if !self.afname.is_empty() {
                self.afname.push(',');
            }
            self.afname.push_str(af.name);
            self.afnames.push(af.name);
        }
        Ok(())
    }

    /// `main()` after the option loop: mode check, protocol defaulting, and the
    /// errors of `-s` and `-r` that depend only on the options.
    fn resolve(mut self, operands: &[Vec<u8>]) -> Result<(Options, Vec<String>), CliExit> {
        let modes = [self.int, self.rou, self.mas, self.sta]
            .iter()
            .fold(0u32, |sum, n| sum.saturating_add(*n));
        if modes > 1 {
            return Err(CliExit::Usage {
                warnings: self.warnings,
                message: None,
            });
        }
        let ip_selected = [self.tcp, self.sctp, self.udp, self.udplite, self.raw]
            .iter()
            .any(|&n| n > 0);
        let mut noprot = false;
        // Rule 1: a family option (or -s) without an IP protocol selects them all.
        if (self.inet > 0 || self.inet6 > 0 || self.sta > 0) && !ip_selected {
            noprot = true;
            for flag in [
                &mut self.tcp,
                &mut self.sctp,
                &mut self.udp,
                &mut self.udplite,
                &mut self.raw,
            ] {
                *flag = 1;
            }
        }
        // Rule 2: an IP protocol without a family reads both families.
        if (ip_selected || noprot || self.igmp > 0) && self.inet == 0 && self.inet6 == 0 {
            self.inet = 1;
            self.inet6 = 1;
        }
        if self.bluetooth > 0 && self.l2cap == 0 && self.rfcomm == 0 {
            self.l2cap = 1;
            self.rfcomm = 1;
        }
        let explicit = [
            self.tcp,
            self.sctp,
            self.udplite,
            self.udp,
            self.raw,
            self.unx,
            self.ipx,
            self.ax25,
            self.netrom,
            self.igmp,
            self.x25,
            self.rose,
            self.l2cap,
            self.rfcomm,
        ]
        .iter()
        .any(|&n| n > 0);

        let mode = if self.int > 0 {
            Mode::Interfaces
        } else if self.rou > 0 {
            Mode::Route
        } else if self.mas > 0 {
            Mode::Masquerade
        } else if self.sta > 0 {
            Mode::Statistics
        } else {
            Mode::Sockets
        };

        let mut protocols = Protocols {
            tcp: self.tcp > 0,
            sctp: self.sctp > 0,
            udp: self.udp > 0,
            udplite: self.udplite > 0,
            raw: self.raw > 0,
            igmp: self.igmp > 0,
            unix: self.unx > 0,
            ipx: self.ipx > 0,
            ax25: self.ax25 > 0,
            x25: self.x25 > 0,
            netrom: self.netrom > 0,
            rose: self.rose > 0,
            noprot,
            explicit,
            bluetooth: self.l2cap > 0 || self.rfcomm > 0,
        };
        let mut inet = self.inet > 0;
        let mut inet6 = self.inet6 > 0;
        let mut afname = self.afname;
        let mut route = Vec::new();

        match mode {
            Mode::Sockets if !explicit => {
                protocols = Protocols {
                    tcp: true,
                    sctp: true,
                    udp: true,
                    udplite: true,
                    raw: true,
                    igmp: false,
                    unix: true,
                    ipx: true,
                    ax25: true,
                    x25: true,
                    netrom: true,
                    rose: true,
                    noprot,
                    explicit: false,
                    bluetooth: false,
                };
                inet = true;
                inet6 = true;
            }
            Mode::Statistics => {
                if afname.is_empty() {
                    afname.push_str(DEFAULT_AF);
                }
                inet = afname == "inet";
                inet6 = afname == "inet6";
                if !inet && !inet6 {
                    return Err(CliExit::NoStatistics {
                        warnings: self.warnings,
                        afname,
                    });
                }
            }
            Mode::Route => {
                if afname.is_empty() {
                    afname.push_str(DEFAULT_AF);
                    self.afnames.push(DEFAULT_AF);
                }
                for name in &self.afnames {
                    let family = route_family(name);
                    route.push(family);
                    if let Some(error) = family.error() {
                        if route.len() == 1 {
                            return Err(with_warnings(error, self.warnings));
                        }
                        break;
                    }
                }
                inet = route.contains(&RouteFamily::Inet);
                inet6 = route.contains(&RouteFamily::Inet6);
            }
            _ => {}
        }

        let delay = operands
            .last()
            .filter(|_| self.cnt)
            .and_then(|d| parse_delay(d));
        let continuous = self.cnt.then(|| delay.unwrap_or(Duration::from_secs(1)));
        // With -i, the first operand names one interface, unless it is -c's delay.
        let interface = (mode == Mode::Interfaces)
            .then(|| {
                let n = operands.len() - usize::from(delay.is_some());
                operands[..n].first().cloned()
            })
            .flatten();
        let options = Options {
            mode,
            protocols,
            inet,
            inet6,
            afname,
            route,
            listening: self.lst,
            all: self.all,
            numeric_hosts: self.not & FLAG_NUM_HOST != 0,
            numeric_ports: self.not & FLAG_NUM_PORT != 0,
            numeric_users: self.not & FLAG_NUM_USER != 0,
            symbolic: self.not & FLAG_SYM != 0,
            extend: self.exp,
            programs: self.prg,
            timers: self.opt,
            wide: self.wide,
            verbose: self.ver,
            continuous,
            cache: self.cache,
            fib: self.fib,
            context: self.selinux,
            agent: self.agent,
            watch: self.watch,
            audit: self.audit,
            json: self.json,
            stream: self.stream,
            metrics: self.metrics,
            metrics_owners: self.metrics_owners,
            interface,
        };
        Ok((options, self.warnings))
    }
}

/// Applies one of the stream filter options; the error is the message to print.
fn stream_option(f: &mut StreamFilter, key: Key, value: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(value);
    let name = match key {
        Key::State => "state",
        Key::Port => "port",
        Key::Sport => "sport",
        Key::Dport => "dport",
        Key::Pid => "pid",
        Key::Comm => "comm",
        Key::Netns => "netns",
        _ => "flow-idle",
    };
    let number = |max: u64| -> Result<u64, String> {
        text.parse::<u64>()
            .ok()
            .filter(|&n| n > 0 && n <= max)
            .ok_or_else(|| format!("--{name}: `{text}' is not a number from 1 to {max}"))
    };
    match key {
        Key::State => {
            for piece in text.split(',') {
                let state = state_by_name(piece).ok_or_else(|| {
                    format!(
                        "--state: unknown TCP state `{piece}' (ESTABLISHED, SYN_SENT, SYN_RECV, \
                         FIN_WAIT1, FIN_WAIT2, TIME_WAIT, CLOSE, CLOSE_WAIT, LAST_ACK, LISTEN, \
                         CLOSING)"
                    )
                })?;
                if !f.states.contains(&state) {
                    f.states.push(state);
                }
            }
        }
        Key::Port => f.port = Some(number(65535)? as u16),
        Key::Sport => f.sport = Some(number(65535)? as u16),
        Key::Dport => f.dport = Some(number(65535)? as u16),
        Key::Pid => f.pid = Some(number(u64::from(u32::MAX))? as u32),
        Key::Comm => {
            if value.is_empty() || value.len() > 15 {
                return Err(format!(
                    "--comm: `{text}' is not a process name of 1 to 15 bytes (the kernel keeps 15)"
                ));
            }
            f.comm = Some(value.to_vec());
        }
        Key::Netns => {
            f.netns = Some(
                if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                    NetnsArg::Inode(number(u64::from(u32::MAX))? as u32)
                } else if value.is_empty() {
                    return Err("--netns: empty name".to_owned());
                } else {
                    NetnsArg::Name(value.to_vec())
                },
            )
        }
        _ => {
            let secs = number(86_400)?;
            f.flow_idle = Some(Duration::from_secs(secs));
        }
    }
    Ok(())
}

/// A `--metrics` value: `unix:` and an absolute path, or a numeric `ADDR:PORT` (IPv6 in
/// brackets). Port 0 lets the kernel choose; the agent's ready line names the port.
fn metrics_option(value: &[u8]) -> Result<MetricsAddr, String> {
    use std::os::unix::ffi::OsStrExt;
    let text = String::from_utf8_lossy(value);
    if let Some(path) = value.strip_prefix(b"unix:") {
        let path = std::path::Path::new(std::ffi::OsStr::from_bytes(path));
        return if path.is_absolute() && path.file_name().is_some() {
            Ok(MetricsAddr::Unix(path.to_path_buf()))
        } else {
            Err(format!(
                "--metrics: `{text}': unix: wants an absolute socket path (unix:/run/netstat-ebpf/metrics.sock)"
            ))
        };
    }
    text.parse::<std::net::SocketAddr>()
        .map(MetricsAddr::Tcp)
        .map_err(|_| {
            format!(
                "--metrics: `{text}' is neither a numeric ADDR:PORT (127.0.0.1:9977, [::1]:9977) \
                 nor unix:PATH"
            )
        })
}

/// A TCP state by net-tools' name (`TIME_WAIT`) or ss's (`time-wait`), any case.
fn state_by_name(name: &str) -> Option<u8> {
    let mut want: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    // ss's names where they differ from the kernel's.
    match want.as_str() {
        "LISTENING" => want = "LISTEN".to_owned(),
        "CLOSED" => want = "CLOSE".to_owned(),
        _ => {}
    }
    (1..=11u8).find(|&n| {
        netstat_common::TcpState::from_kernel(n).is_some_and(|s| s.name().replace('_', "") == want)
    })
}

/// net-tools' `DFLT_AF`.
const DEFAULT_AF: &str = "inet";

fn with_warnings(mut exit: CliExit, mut earlier: Vec<String>) -> CliExit {
    match &mut exit {
        CliExit::Version { warnings }
        | CliExit::Help { warnings }
        | CliExit::Usage { warnings, .. }
        | CliExit::UnknownFamily { warnings, .. }
        | CliExit::SelinuxDisabled { warnings }
        | CliExit::NoRouting { warnings, .. }
        | CliExit::RouteFamilyNotSupported { warnings, .. }
        | CliExit::NoStatistics { warnings, .. }
        | CliExit::BadValue { warnings, .. } => {
            earlier.append(warnings);
            *warnings = earlier;
        }
    }
    exit
}

/// The `[delay]` operand of `-c`: decimal seconds (`2`, `0.5`), more than zero.
fn parse_delay(text: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(text).ok()?;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) || text.ends_with('.') {
        return None;
    }
    let secs: u64 = whole.parse().ok()?;
    let mut nanos: u32 = 0;
    for (i, b) in fraction.bytes().take(9).enumerate() {
        let place = 10u32.pow(8 - u32::try_from(i).ok()?);
        nanos += u32::from(b - b'0') * place;
    }
    let delay = Duration::new(secs, nanos);
    (!delay.is_zero()).then_some(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NO_SELINUX: Env = Env {
        posixly_correct: false,
        selinux_enabled: false,
    };

    fn run_env(args: &[&str], env: &Env) -> Result<(Options, Vec<String>), CliExit> {
        parse_with(std::iter::once("netstat").chain(args.iter().copied()), env)
    }

    fn run(args: &[&str]) -> Result<(Options, Vec<String>), CliExit> {
        run_env(args, &NO_SELINUX)
    }

    fn ok(args: &[&str]) -> Options {
        match run(args) {
            Ok((options, warnings)) => {
                assert!(warnings.is_empty(), "{args:?}: warnings {warnings:?}");
                options
            }
            Err(exit) => panic!("{args:?}: unexpected {exit:?}"),
        }
    }

    fn fail(args: &[&str]) -> CliExit {
        match run(args) {
            Ok((options, _)) => panic!("{args:?}: parsed as {options:?}"),
            Err(exit) => exit,
        }
    }

    /// (stdout, stderr, exit code) as net-tools prints them.
    fn output(exit: &CliExit) -> (String, String, i32) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        exit.write(&mut out, &mut err).expect("write to Vec");
        (
            String::from_utf8_lossy(&out).into_owned(),
            String::from_utf8_lossy(&err).into_owned(),
            exit.exit_code(),
        )
    }

    fn usage_with(message: &str) -> String {
        format!("{message}\n{USAGE}{}", af_list())
    }

    /// A getopt error: the message, usage and family list on stderr, exit 3.
    fn assert_getopt_error(args: &[&str], message: &str) {
        let exit = fail(args);
        assert_eq!(
            output(&exit),
            (String::new(), usage_with(message), 3),
            "{args:?}"
        );
    }

    /// usage and family list on stderr, exit 3, no message.
    fn assert_plain_usage(args: &[&str]) {
        let exit = fail(args);
        assert_eq!(
            output(&exit),
            (String::new(), format!("{USAGE}{}", af_list()), 3),
            "{args:?}"
        );
    }

    fn assert_stderr(args: &[&str], stderr: &str, code: i32) {
        let exit = fail(args);
        assert_eq!(
            output(&exit),
            (String::new(), stderr.to_owned(), code),
            "{args:?}"
        );
    }

    // --- the option list -------------------------------------------------------------

    #[test]
    fn clap_definition_is_valid() {
        command().debug_assert();
    }

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
    fn stream_filters_parse_and_bad_values_name_the_option() {
        let o = ok(&[
            "--watch",
            "--state",
            "time-wait,CLOSE_WAIT",
            "--state=listening",
            "--port",
            "80",
            "--sport=81",
            "--dport",
            "82",
            "--pid",
            "42",
            "--comm",
            "nginx",
            "--netns",
            "4026531840",
            "--flow-idle",
            "5",
        ]);
        assert_eq!(o.stream.states, [6, 8, 10]);
        assert_eq!(
            (o.stream.port, o.stream.sport, o.stream.dport),
            (Some(80), Some(81), Some(82))
        );
        assert_eq!(o.stream.pid, Some(42));
        assert_eq!(o.stream.comm.as_deref(), Some(b"nginx".as_slice()));
        assert_eq!(o.stream.netns, Some(NetnsArg::Inode(4026531840)));
        assert_eq!(o.stream.flow_idle, Some(Duration::from_secs(5)));
        assert_eq!(
            ok(&["--netns", "blue"]).stream.netns,
            Some(NetnsArg::Name(b"blue".to_vec()))
        );
        for (args, needle) in [
            (
                &["--state", "BOGUS"][..],
                "--state: unknown TCP state `BOGUS'",
            ),
            (
                &["--port", "0"][..],
                "--port: `0' is not a number from 1 to 65535",
            ),
            (&["--dport", "65536"][..], "--dport"),
            (&["--pid", "x"][..], "--pid"),
            (&["--comm", "a-name-longer-than-15"][..], "--comm"),
            (&["--flow-idle", "-1"][..], "--flow-idle"),
        ] {
            let exit = fail(args);
            assert_eq!(exit.exit_code(), 3, "{args:?}");
            let CliExit::BadValue { message, .. } = &exit else {
                panic!("{args:?}: {exit:?}");
            };
            assert!(message.contains(needle), "{args:?}: {message}");
        }
        // Missing value: getopt's own message.
        assert!(matches!(fail(&["--state"]), CliExit::Usage { .. }));
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

    // --- texts -----------------------------------------------------------------------

    #[test]
    fn help_goes_to_stdout_and_af_list_to_stderr() {
        let (out, err, code) = output(&fail(&["-h"]));
        // net-tools' text, then our section (see `help_lists_exactly_the_extensions`).
        assert_eq!(out, format!("{USAGE}{}", extensions_help()));
        assert_eq!(
            err,
            "    inet (DARPA Internet) inet6 (IPv6) ax25 (AMPR AX.25) \n    \
             netrom (AMPR NET/ROM) rose (AMPR ROSE) ipx (Novell IPX) \n    \
             ddp (Appletalk DDP) x25 (CCITT X.25) \n"
        );
        assert_eq!(code, 0);
        assert_eq!(fail(&["--help"]), fail(&["-h"]));
        assert_eq!(fail(&["--he"]), fail(&["-h"]));
    }

    #[test]
    fn version() {
        let (out, err, code) = output(&fail(&["-V"]));
        assert!(out.starts_with("net-tools 2.10\nFred Baumgarten"));
        assert!(out.ends_with("+HDLC/LAPB +EUI64 \n"));
        assert_eq!(out.lines().count(), 5);
        assert_eq!((err.as_str(), code), ("", 0));
        assert_eq!(fail(&["--version"]), fail(&["-V"]));
        assert_eq!(fail(&["--vers"]), fail(&["-V"]));
    }

    // --- getopt_long -----------------------------------------------------------------

    #[test]
    fn bundled_short_options() {
        let o = ok(&["-tanp"]);
        assert!(o.protocols.tcp && o.all && o.programs);
        assert!(o.numeric_hosts && o.numeric_ports && o.numeric_users);
        assert!(!o.protocols.udp);
        let o = ok(&["-tulpen"]);
        assert!(o.protocols.tcp && o.protocols.udp && o.listening && o.programs);
        assert_eq!(o.extend, 1);
        assert_eq!(ok(&["-t", "-a", "-n", "-p"]), ok(&["-tanp"]));
    }

    #[test]
    fn protocol_option_spellings() {
        let expected = ok(&["-A", "inet"]);
        assert_eq!(expected.afname, "inet");
        for args in [
            &["-Ainet"][..],
            &["--protocol=inet"],
            &["--protocol", "inet"],
            &["--prot=inet"],
            &["-4"],
            &["--inet"],
            &["--ip"],
            &["-A", "ip"],
            &["-A", "tcpip"],
        ] {
            assert_eq!(ok(args), expected, "{args:?}");
        }
        let o = ok(&["-tAinet6"]);
        assert!(o.protocols.tcp && !o.inet && o.inet6);
        assert_eq!(o.afname, "inet6");
        assert_eq!(ok(&["-6"]), ok(&["-A", "ip6"]));
        // The argument of -A is the next word, whatever it looks like.
        assert_stderr(&["-A", "-t"], "Unknown address family `-t'.\n", 1);
        assert_stderr(&["-tA", "--", "-x"], "Unknown address family `--'.\n", 1);
        assert_stderr(&["--protocol", "-r"], "Unknown address family `-r'.\n", 1);
    }

    #[test]
    fn unique_prefixes() {
        assert_eq!(ok(&["--rou"]).mode, Mode::Route);
        assert!(ok(&["--program"]).programs);
        assert_eq!(ok(&["--ine", "-r"]).afname, "inet");
        assert_eq!(ok(&["--inet6"]).afname, "inet6");
        assert_eq!(ok(&["--unix"]), ok(&["-x"]));
        // Every family option shares getopt's value 1: prefixes among them are fine.
        assert_eq!(ok(&["--ip"]).afname, "inet");
        assert_eq!(ok(&["--x"]).afname, "x25");
        assert!(ok(&["--w"]).wide);
        assert_eq!(ok(&["--e"]).extend, 1);
        assert!(ok(&["--numeric"]).numeric_users);
        assert!(ok(&["--numeric-h"]).numeric_hosts);
        assert!(!ok(&["--numeric-h"]).numeric_ports);
        assert_eq!(ok(&["--appl"]).afname, "ddp");
    }

    #[test]
    fn ambiguous_prefixes() {
        for (arg, list) in [
            (
                "--num",
                "'--numeric' '--numeric-hosts' '--numeric-ports' '--numeric-users'",
            ),
            ("--i", "'--ip' '--interfaces'"),
            ("--in", "'--inet' '--interfaces'"),
            ("--a", "'--ax25' '--all'"),
            ("--u", "'--unix' '--udp' '--udplite' '--unix'"),
            ("--un", "'--unix' '--unix'"),
            ("--r", "'--rose' '--route' '--raw' '--rfcomm'"),
            ("--t", "'--tcpip' '--tcp' '--timers'"),
            ("--c", "'--continuous' '--cache' '--context'"),
            (
                "--n",
                "'--netrom' '--numeric' '--numeric-hosts' '--numeric-ports' '--numeric-users'",
            ),
            (
                "--num=3",
                "'--numeric' '--numeric-hosts' '--numeric-ports' '--numeric-users'",
            ),
        ] {
            assert_getopt_error(
                &[arg, "-t"],
                &format!("netstat: option '{arg}' is ambiguous; possibilities: {list}"),
            );
        }
        // `--=x`: the empty name is a prefix of everything.
        assert_getopt_error(
            &["--=x"],
            "netstat: option '--=x' is ambiguous; possibilities: '--ax25' '--version' \
             '--interfaces' '--help' '--route' '--masquerade' '--protocol' '--tcp' '--sctp' \
             '--udp' '--udplite' '--raw' '--unix' '--l2cap' '--rfcomm' '--listening' '--all' \
             '--timers' '--continuous' '--extend' '--programs' '--verbose' '--statistics' \
             '--wide' '--numeric' '--numeric-hosts' '--numeric-ports' '--numeric-users' \
             '--symbolic' '--cache' '--fib' '--groups' '--context'",
        );
    }

    #[test]
    fn getopt_errors() {
        assert_getopt_error(&["-Q"], "netstat: invalid option -- 'Q'");
        assert_getopt_error(&["-tQ"], "netstat: invalid option -- 'Q'");
        assert_getopt_error(&["-T"], "netstat: invalid option -- 'T'");
        assert_getopt_error(&["-L"], "netstat: invalid option -- 'L'");
        assert_getopt_error(&["-:"], "netstat: invalid option -- ':'");
        assert_getopt_error(&["--bogus"], "netstat: unrecognized option '--bogus'");
        assert_getopt_error(&["--bogus=1"], "netstat: unrecognized option '--bogus=1'");
        assert_getopt_error(&["--econet"], "netstat: unrecognized option '--econet'");
        assert_getopt_error(&["--ash"], "netstat: unrecognized option '--ash'");
        assert_getopt_error(&["--notrim"], "netstat: unrecognized option '--notrim'");
        assert_getopt_error(
            &["--rou=1"],
            "netstat: option '--route' doesn't allow an argument",
        );
        assert_getopt_error(
            &["--ip=x"],
            "netstat: option '--ip' doesn't allow an argument",
        );
        assert_getopt_error(
            &["--prot"],
            "netstat: option '--protocol' requires an argument",
        );
        assert_getopt_error(
            &["--protocol"],
            "netstat: option '--protocol' requires an argument",
        );
        assert_getopt_error(&["-A"], "netstat: option requires an argument -- 'A'");
        assert_getopt_error(&["-tA"], "netstat: option requires an argument -- 'A'");
        // `-?` is in the optstring: usage without a message.
        assert_plain_usage(&["-?"]);
        assert_plain_usage(&["-t?"]);
    }

    #[test]
    fn getopt_messages_use_argv0_and_raw_bytes() {
        use std::os::unix::ffi::OsStringExt;
        let args = [
            OsString::from("/usr/bin/netstat"),
            OsString::from_vec(vec![b'-', 0xc3, 0xa9]),
        ];
        let exit = parse_with(args, &NO_SELINUX).expect_err("invalid option");
        let CliExit::Usage { message, .. } = &exit else {
            panic!("{exit:?}")
        };
        assert_eq!(
            message.as_deref(),
            Some(b"/usr/bin/netstat: invalid option -- '\xc3'".as_slice())
        );
        let args = [
            OsString::from("netstat"),
            OsString::from("-A"),
            OsString::from_vec(vec![b'i', 0xff]),
        ];
        let exit = parse_with(args, &NO_SELINUX).expect_err("bad family");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        exit.write(&mut out, &mut err).expect("write to Vec");
        assert_eq!(err, b"Unknown address family `i\xff'.\n");
    }

    #[test]
    fn double_dash_and_operands() {
        // Non-options are skipped, `--` ends the options.
        assert_eq!(ok(&["foo", "-r", "bar"]).mode, Mode::Route);
        assert_eq!(ok(&["-t", "--", "-Q"]), ok(&["-t"]));
        assert_eq!(ok(&["-"]), ok(&[]));
        assert_eq!(ok(&["--"]), ok(&[]));
        assert_eq!(ok(&["-tln", "5"]).continuous, None);
        // POSIXLY_CORRECT: the first non-option ends the options.
        let posix = Env {
            posixly_correct: true,
            selinux_enabled: false,
        };
        let (o, _) = run_env(&["foo", "-Q"], &posix).expect("options end at foo");
        assert_eq!(o, ok(&[]));
        let (o, _) = run_env(&["-r", "foo", "-i"], &posix).expect("options end at foo");
        assert_eq!(o.mode, Mode::Route);
        let (o, _) = run_env(&["-tc", "5"], &posix).expect("delay");
        assert_eq!(o.continuous, Some(Duration::from_secs(5)));
    }

    #[test]
    fn continuous_delay() {
        let second = Some(Duration::from_secs(1));
        assert_eq!(ok(&["-c"]).continuous, second);
        assert_eq!(ok(&["-tc", "5"]).continuous, Some(Duration::from_secs(5)));
        assert_eq!(ok(&["5", "-c"]).continuous, Some(Duration::from_secs(5)));
        assert_eq!(
            ok(&["-c", "--", "7"]).continuous,
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            ok(&["--continuous", "0.25"]).continuous,
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            ok(&["-c", "foo", "3"]).continuous,
            Some(Duration::from_secs(3))
        );
        for ignored in [
            "foo",
            "0",
            "0.0",
            "-",
            "1.",
            ".5",
            "1e3",
            "+2",
            " 2",
            "99999999999999999999",
        ] {
            assert_eq!(ok(&["-c", ignored]).continuous, second, "{ignored}");
        }
        assert_eq!(ok(&["-c", "3", "foo"]).continuous, second);
        assert_eq!(ok(&["-t", "5"]).continuous, None);
    }

    #[test]
    fn interface_operand_with_i_only() {
        let iface = |args: &[&str]| ok(args).interface;
        assert_eq!(iface(&["-i", "eth0"]), Some(b"eth0".to_vec()));
        assert_eq!(iface(&["eth0", "-i"]), Some(b"eth0".to_vec()));
        assert_eq!(iface(&["-i", "eth0", "-c", "2"]), Some(b"eth0".to_vec()));
        assert_eq!(
            ok(&["-i", "eth0", "-c", "2"]).continuous,
            Some(Duration::from_secs(2))
        );
        // The last operand is -c's delay, not a name.
        assert_eq!(iface(&["-ic", "2"]), None);
        assert_eq!(iface(&["-ic", "eth0"]), Some(b"eth0".to_vec()));
        assert_eq!(iface(&["-i"]), None);
        assert_eq!(iface(&["-t", "eth0"]), None);
        assert_eq!(iface(&["-r", "eth0"]), None);
    }

    // --- order of evaluation ---------------------------------------------------------

    #[test]
    fn version_and_help_act_when_reached() {
        assert!(matches!(fail(&["-V", "-Q"]), CliExit::Version { .. }));
        assert!(matches!(fail(&["-Q", "-V"]), CliExit::Usage { .. }));
        assert!(matches!(fail(&["-h", "--bogus"]), CliExit::Help { .. }));
        assert!(matches!(fail(&["--bogus", "-h"]), CliExit::Usage { .. }));
        assert!(matches!(fail(&["-rr", "-V"]), CliExit::Version { .. }));
        assert!(matches!(fail(&["-Vh"]), CliExit::Version { .. }));
        assert!(matches!(fail(&["-hV"]), CliExit::Help { .. }));
        assert!(matches!(
            fail(&["-V", "-A", "foo"]),
            CliExit::Version { .. }
        ));
        assert!(matches!(
            fail(&["-A", "foo", "-V"]),
            CliExit::UnknownFamily { .. }
        ));
        assert!(matches!(fail(&["-V", "-Z"]), CliExit::Version { .. }));
        assert!(matches!(
            fail(&["-Z", "-V"]),
            CliExit::SelinuxDisabled { .. }
        ));
        assert!(matches!(fail(&["-s", "-x", "-V"]), CliExit::Version { .. }));
    }

    // --- modes -----------------------------------------------------------------------

    #[test]
    fn modes() {
        assert_eq!(ok(&[]).mode, Mode::Sockets);
        assert_eq!(ok(&["-r"]).mode, Mode::Route);
        assert_eq!(ok(&["-i"]).mode, Mode::Interfaces);
        assert_eq!(ok(&["-s"]).mode, Mode::Statistics);
        assert_eq!(ok(&["-M"]).mode, Mode::Masquerade);
        assert_eq!(ok(&["-g"]).mode, Mode::Sockets);
        for args in [
            &["-r", "-i"][..],
            &["-s", "-r"],
            &["-rr"],
            &["-ii"],
            &["-ss"],
            &["-MM"],
            &["-M", "-s"],
            &["--route", "--rou"],
        ] {
            assert_plain_usage(args);
        }
        assert!(ok(&["-gg", "-r"]).protocols.igmp);
        assert_eq!(ok(&["-ee"]).extend, 2);
        assert_eq!(ok(&["-i", "-x"]).mode, Mode::Interfaces);
        assert_eq!(ok(&["-A", "inet", "-r", "-x"]).mode, Mode::Route);
        assert_eq!(ok(&["-M", "-x"]).mode, Mode::Masquerade);
    }

    // --- families --------------------------------------------------------------------

    #[test]
    fn unknown_families() {
        assert_stderr(&["-A", "foo"], "Unknown address family `foo'.\n", 1);
        assert_stderr(&["-A", "inet,foo"], "Unknown address family `foo'.\n", 1);
        assert_stderr(&["-A", ""], "Unknown address family `'.\n", 1);
        assert_stderr(&["-A", "inet,"], "Unknown address family `'.\n", 1);
        assert_stderr(&["-A", ",inet"], "Unknown address family `'.\n", 1);
        assert_stderr(&["-r", "-A", "ec"], "Unknown address family `ec'.\n", 1);
        assert_stderr(&["-A", "INET"], "Unknown address family `INET'.\n", 1);
    }

    #[test]
    fn routing_families() {
        let no_routing = "No routing for address family `unix'.\n";
        assert_stderr(&["-r", "-A", "unix"], no_routing, 3);
        assert_stderr(&["-r", "-x"], no_routing, 3);
        assert_stderr(&["-x", "-r"], no_routing, 3);
        assert_stderr(&["-r", "-A", "unix,inet"], no_routing, 3);
        assert_stderr(
            &["-rA", "econet"],
            "No routing for address family `ec'.\n",
            3,
        );
        assert_stderr(
            &["-r", "-A", "ash"],
            "No routing for address family `ash'.\n",
            3,
        );
        assert_stderr(
            &["-r", "-A", "bluetooth"],
            "Address family `bluetooth' not supported.\n",
            3,
        );
        assert_stderr(
            &["-r", "--bluetooth"],
            "Address family `bluetooth' not supported.\n",
            3,
        );
        // After a routable family the table is printed first: the error is deferred.
        let o = ok(&["-r", "-A", "inet,unix,inet6"]);
        assert_eq!(o.route, [RouteFamily::Inet, RouteFamily::NoRouting("unix")]);
        assert_eq!(
            o.route[1].error().map(|e| output(&e)),
            Some((String::new(), no_routing.to_owned(), 3))
        );
        let o = ok(&["-r"]);
        assert_eq!(
            (o.afname.as_str(), o.route.as_slice()),
            ("inet", &[RouteFamily::Inet][..])
        );
        assert!(o.inet && !o.inet6);
        let o = ok(&["-r6"]);
        assert_eq!(o.route, [RouteFamily::Inet6]);
        assert!(!o.inet && o.inet6);
        let o = ok(&[
            "-r",
            "--appletalk",
            "--ax25",
            "-A",
            "ipx,netrom,rose,x25,ip6",
        ]);
        assert_eq!(o.afname, "ddp,ax25,ipx,netrom,rose,x25,inet6");
        assert_eq!(
            o.route,
            [
                RouteFamily::Ddp,
                RouteFamily::Ax25,
                RouteFamily::Ipx,
                RouteFamily::NetRom,
                RouteFamily::Rose,
                RouteFamily::X25,
                RouteFamily::Inet6
            ]
        );
        // -2/-f do not touch the family list.
        assert_eq!(ok(&["-r", "-2"]).route, [RouteFamily::Inet]);
    }

    #[test]
    fn statistics_families() {
        let exit = fail(&["-s", "-x"]);
        assert_eq!(
            output(&exit),
            (
                "netstat: No statistics support for specified address family: unix\n".to_owned(),
                String::new(),
                1
            )
        );
        assert_eq!(fail(&["-x", "-s"]), exit);
        assert_eq!(fail(&["-s", "-A", "unix"]), exit);
        let (out, err, code) = output(&fail(&["-s", "-4", "-6"]));
        assert_eq!(
            out,
            "netstat: No statistics support for specified address family: inet,inet6\n"
        );
        assert_eq!((err.as_str(), code), ("", 1));
        let o = ok(&["-s"]);
        assert_eq!(o.afname, "inet");
        assert!(o.inet && !o.inet6);
        let o = ok(&["-s6"]);
        assert!(!o.inet && o.inet6);
        let o = ok(&["-s", "-A", "ip6"]);
        assert_eq!(o.afname, "inet6");
        assert!(ok(&["-s", "-2"]).inet);
    }

    #[test]
    fn tcpip_is_an_internal_error_and_ignored() {
        let (o, warnings) = run(&["--tcpip", "-rn"]).expect("continues");
        assert_eq!(warnings, ["netstat.c: Internal Error `longopts 1 range'."]);
        assert_eq!(o, ok(&["-rn"]));
        let (_, warnings) = run(&["--tcpi"]).expect("continues");
        assert_eq!(warnings.len(), 1);
        // -A tcpip is fine.
        assert_eq!(ok(&["-A", "tcpip"]).afname, "inet");
        // The warning is printed before a later error.
        let exit = fail(&["--tcpip", "-A", "foo"]);
        assert_eq!(
            output(&exit),
            (
                String::new(),
                "netstat.c: Internal Error `longopts 1 range'.\nUnknown address family `foo'.\n"
                    .to_owned(),
                1
            )
        );
        let exit = fail(&["--tcpip", "-s", "-x"]);
        let (out, err, _) = output(&exit);
        assert!(out.starts_with("netstat: No statistics"));
        assert_eq!(err, "netstat.c: Internal Error `longopts 1 range'.\n");
        let exit = fail(&["--tcpip", "-V"]);
        assert_eq!(exit.warnings().len(), 1);
    }

    #[test]
    fn too_many_families() {
        // afname[] holds 255 bytes: `inet,` * 51 is 254 long, a 52nd does not fit, and
        // the rest of that list is dropped.
        let list = "ip,".repeat(60);
        let (o, warnings) = run(&["-A", &list]).expect("continues");
        assert_eq!(warnings, ["Too much address family arguments."]);
        assert_eq!(o.afname, vec!["inet"; 51].join(","));
        // Later family options only warn, each time.
        let (o, warnings) = run(&["-A", &list, "-6", "-x"]).expect("continues");
        assert_eq!(warnings.len(), 3);
        assert!(!o.inet6 && !o.protocols.unix);
        // The argument is cut to 255 bytes before it is split: a cut name is unknown.
        let list = format!("{}inet6", "ddp,".repeat(63));
        assert_stderr(&["-A", &list], "Unknown address family `ine'.\n", 1);
        // ... unless afname[] is full before the cut is reached.
        let list = format!("{}bogus", "ip,".repeat(84));
        let (_, warnings) = run(&["-A", &list]).expect("continues");
        assert_eq!(warnings.len(), 1);
        // A trailing comma is an empty name.
        let list = "inet,".repeat(60);
        assert_stderr(&["-A", &list], "Unknown address family `'.\n", 1);
    }

    #[test]
    fn selinux() {
        assert_stderr(&["-Z"], "SELinux is not enabled on this machine.\n", 1);
        assert_stderr(
            &["--context"],
            "SELinux is not enabled on this machine.\n",
            1,
        );
        assert_stderr(&["-tZ"], "SELinux is not enabled on this machine.\n", 1);
        let env = Env {
            posixly_correct: false,
            selinux_enabled: true,
        };
        let (o, _) = run_env(&["-tZ"], &env).expect("SELinux on");
        assert!(o.context && o.programs);
    }

    // --- protocol defaulting ---------------------------------------------------------

    fn all_tables() -> Protocols {
        Protocols {
            tcp: true,
            sctp: true,
            udp: true,
            udplite: true,
            raw: true,
            igmp: false,
            unix: true,
            ipx: true,
            ax25: true,
            x25: true,
            netrom: true,
            rose: true,
            noprot: false,
            explicit: false,
            bluetooth: false,
        }
    }

    fn ip(tcp: bool, sctp: bool, udp: bool, udplite: bool, raw: bool) -> Protocols {
        Protocols {
            tcp,
            sctp,
            udp,
            udplite,
            raw,
            explicit: true,
            ..Protocols::default()
        }
    }

    #[test]
    fn default_listing_reads_everything() {
        let o = ok(&[]);
        assert_eq!(o.protocols, all_tables());
        assert!(o.inet && o.inet6);
        assert_eq!(o.afname, "");
        // Families without a socket lister leave the listing complete.
        for family in ["ddp", "econet", "ash", "appletalk"] {
            let o = ok(&["-A", family]);
            assert_eq!(o.protocols, all_tables(), "{family}");
            assert!(o.inet && o.inet6);
        }
        // Display options select nothing.
        assert_eq!(ok(&["-lnpeWov"]).protocols, all_tables());
    }

    #[test]
    fn protocol_options_read_both_families() {
        let o = ok(&["-t"]);
        assert_eq!(o.protocols, ip(true, false, false, false, false));
        assert!(o.inet && o.inet6);
        let o = ok(&["-uU"]);
        assert_eq!(o.protocols, ip(false, false, true, true, false));
        let o = ok(&["-Sw"]);
        assert_eq!(o.protocols, ip(false, true, false, false, true));
        assert!(o.inet && o.inet6);
        let o = ok(&["-t4"]);
        assert!(o.inet && !o.inet6);
        let o = ok(&["-t6"]);
        assert!(!o.inet && o.inet6);
        let o = ok(&["-t", "-A", "inet,inet6"]);
        assert!(o.inet && o.inet6);
        assert_eq!(o.afname, "inet,inet6");
        assert!(!o.protocols.noprot);
    }

    #[test]
    fn family_options_select_all_ip_protocols() {
        let mut expected = ip(true, true, true, true, true);
        expected.noprot = true;
        let o = ok(&["-4"]);
        assert_eq!(o.protocols, expected);
        assert!(o.inet && !o.inet6);
        let o = ok(&["-A", "inet6"]);
        assert_eq!(o.protocols, expected);
        assert!(!o.inet && o.inet6);
        let o = ok(&["-4", "-x"]);
        expected.unix = true;
        assert_eq!(o.protocols, expected);
        // -g does not count as an IP protocol for rule 1.
        let o = ok(&["-4g"]);
        assert!(o.protocols.noprot && o.protocols.tcp && o.protocols.igmp);
    }

    #[test]
    fn unix_and_legacy_families_alone() {
        let o = ok(&["-x"]);
        assert_eq!(
            o.protocols,
            Protocols {
                unix: true,
                explicit: true,
                ..Protocols::default()
            }
        );
        assert!(!o.inet && !o.inet6);
        assert_eq!(o.afname, "unix");
        let o = ok(&["--ax25", "--ipx", "--netrom", "--x25", "--rose"]);
        assert_eq!(
            o.protocols,
            Protocols {
                ax25: true,
                ipx: true,
                netrom: true,
                x25: true,
                rose: true,
                explicit: true,
                ..Protocols::default()
            }
        );
        assert_eq!(o.afname, "ax25,ipx,netrom,x25,rose");
    }

    #[test]
    fn groups_read_both_families() {
        let o = ok(&["-g"]);
        assert_eq!(
            o.protocols,
            Protocols {
                igmp: true,
                explicit: true,
                ..Protocols::default()
            }
        );
        assert!(o.inet && o.inet6);
        let o = ok(&["-g6"]);
        assert!(o.protocols.igmp && o.protocols.tcp && !o.inet && o.inet6);
    }

    #[test]
    fn bluetooth_is_selected_but_unsupported() {
        for args in [
            &["-2"][..],
            &["-f"],
            &["--l2cap"],
            &["--rfcomm"],
            &["--bluetooth"],
            &["-A", "bluetooth"],
        ] {
            let o = ok(args);
            assert_eq!(
                o.protocols,
                Protocols {
                    explicit: true,
                    bluetooth: true,
                    ..Protocols::default()
                },
                "{args:?}"
            );
        }
        let o = ok(&["-2", "-t"]);
        assert!(o.protocols.bluetooth && o.protocols.tcp);
    }

    #[test]
    fn statistics_sections() {
        let o = ok(&["-s"]);
        let mut all = ip(true, true, true, true, true);
        all.noprot = true;
        assert_eq!(o.protocols, all);
        let o = ok(&["-st"]);
        assert_eq!(o.protocols, ip(true, false, false, false, false));
        // -U counts as a selection but is no section of its own.
        let o = ok(&["-sU"]);
        assert_eq!(o.protocols, ip(false, false, false, true, false));
        let o = ok(&["-sw6"]);
        assert!(o.protocols.raw && !o.protocols.tcp && o.inet6);
    }

    // --- display options -------------------------------------------------------------

    #[test]
    fn numeric_options() {
        let o = ok(&["-n"]);
        assert!(o.numeric_hosts && o.numeric_ports && o.numeric_users && !o.symbolic);
        let o = ok(&["--numeric-hosts"]);
        assert!(o.numeric_hosts && !o.numeric_ports && !o.numeric_users);
        let o = ok(&["--numeric-ports", "--numeric-users"]);
        assert!(!o.numeric_hosts && o.numeric_ports && o.numeric_users);
        let o = ok(&["-N"]);
        assert!(o.symbolic && !o.numeric_hosts);
        assert!(ok(&["--symb"]).symbolic);
    }

    #[test]
    fn other_display_options() {
        let o = ok(&["-rCF", "-W", "-o", "-vv", "-d", "-l", "-a"]);
        assert!(o.cache && o.fib && o.wide && o.timers && o.listening && o.all);
        assert_eq!(o.verbose, 2);
        assert_eq!(ok(&["-e"; 3]).extend, 3);
        let many = vec!["-e"; 300];
        // Past 255 the count cycles through 252..=255, keeping its value modulo 4.
        assert_eq!(u32::from(ok(&many).extend % 4), 300 % 4);
        assert_eq!(ok(&vec!["-e"; 255]).extend, 255);
        assert_eq!(ok(&vec!["-e"; 256]).extend, 252);
    }

    // --- our extensions --------------------------------------------------------------

    /// The entries of the `-h` extension section: (heading, option names without `--`).
    fn help_entries(section: &str) -> Vec<(String, Vec<String>)> {
        let mut entries: Vec<(String, Vec<String>)> = Vec::new();
        for line in section.lines() {
            if let Some(title) = line.strip_suffix(':').filter(|t| !t.starts_with(' ')) {
                entries.push((title.to_owned(), Vec::new()));
            } else if let Some(option) = line.strip_prefix("        --") {
                let name = option.split(' ').next().unwrap_or_default();
                entries
                    .last_mut()
                    .expect("a title first")
                    .1
                    .push(name.to_owned());
            }
        }
        entries
    }

    #[test]
    fn help_lists_exactly_the_extensions() {
        let section = extensions_help();
        assert!(section.starts_with("\nExtensions (not in net-tools 2.10):\n"));
        // Every clap arg of an extension heading under that heading, in order, and
        // nothing else; every entry line within net-tools' width.
        let cmd = command();
        let expected: Vec<(String, Vec<String>)> = EXTENSION_HEADINGS
            .iter()
            .map(|&h| {
                let names = cmd
                    .get_arguments()
                    .filter(|a| a.get_help_heading() == Some(h))
                    .map(|a| {
                        a.get_long()
                            .expect("extensions are long options")
                            .to_owned()
                    })
                    .collect();
                (h.to_owned(), names)
            })
            .collect();
        assert_eq!(help_entries(&section), expected);
        let all: Vec<String> = expected.into_iter().flat_map(|(_, n)| n).collect();
        let table = OptTable::from_command(&cmd);
        let walker: Vec<String> = table.extensions.iter().map(|o| o.name.clone()).collect();
        assert_eq!(all, walker);
        for line in section.lines() {
            assert!(line.len() <= HELP_WIDTH, "too wide: {line:?}");
            assert_eq!(line, line.trim_end(), "trailing blanks: {line:?}");
        }
        for arg in cmd.get_arguments().filter(|a| !is_extension(a)) {
            if let Some(long) = arg.get_long() {
                assert!(!all.iter().any(|n| n == long), "--{long}");
            }
        }
    }

    #[test]
    fn help_entries_wrap_under_the_help_column() {
        let mut text = String::new();
        push_entry(&mut text, "--x", "short help");
        push_entry(&mut text, "--a-very-long-option VALUE", "help");
        push_entry(&mut text, "--y", &"word ".repeat(20));
        let pad = " ".repeat(HELP_COLUMN);
        let nine = ["word"; 9].join(" ");
        let expected = [
            "        --x                      short help".to_owned(),
            "        --a-very-long-option VALUE".to_owned(),
            format!("{pad}help"),
            format!("        --y                      {nine}"),
            format!("{pad}{nine}"),
            format!("{pad}word word"),
        ];
        assert_eq!(text.lines().collect::<Vec<_>>(), expected);
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn extension_options() {
        let o = ok(&["--agent", "--watch", "--audit", "--json"]);
        assert!(o.agent && o.watch && o.audit && o.json);
        assert!(!ok(&["-t"]).json);
        // Prefixes reach them only where no net-tools option matches.
        assert!(ok(&["--ag"]).agent);
        assert!(ok(&["--au"]).audit);
        assert!(ok(&["--wa"]).watch);
        assert!(ok(&["--j"]).json);
        assert!(ok(&["--w"]).wide);
        assert_getopt_error(
            &["--a"],
            "netstat: option '--a' is ambiguous; possibilities: '--ax25' '--all'",
        );
        assert_getopt_error(
            &["--json=1"],
            "netstat: option '--json' doesn't allow an argument",
        );
        assert_getopt_error(&["--jsonx"], "netstat: unrecognized option '--jsonx'");
    }

    #[test]
    fn metrics_addresses_parse_and_bad_ones_name_the_option() {
        let o = ok(&[
            "--agent",
            "--metrics",
            "127.0.0.1:9977",
            "--metrics=[::1]:0",
            "--metrics",
            "unix:/run/netstat-ebpf/metrics.sock",
            "--metrics-owners",
        ]);
        assert_eq!(
            o.metrics,
            [
                MetricsAddr::Tcp("127.0.0.1:9977".parse().unwrap()),
                MetricsAddr::Tcp("[::1]:0".parse().unwrap()),
                MetricsAddr::Unix("/run/netstat-ebpf/metrics.sock".into()),
            ]
        );
        assert!(o.metrics_owners);
        assert_eq!(o.metrics[1].to_string(), "[::1]:0");
        assert_eq!(
            o.metrics[2].to_string(),
            "unix:/run/netstat-ebpf/metrics.sock"
        );
        assert!(!ok(&["--agent"]).metrics_owners);
        for (arg, needle) in [
            ("localhost:9977", "numeric ADDR:PORT"),
            ("9977", "numeric ADDR:PORT"),
            ("127.0.0.1:65536", "numeric ADDR:PORT"),
            ("::1:9977", "numeric ADDR:PORT"),
            ("unix:metrics.sock", "absolute socket path"),
            ("unix:", "absolute socket path"),
            ("unix:/", "absolute socket path"),
        ] {
            let exit = fail(&["--agent", "--metrics", arg]);
            assert_eq!(exit.exit_code(), 3, "{arg}");
            let CliExit::BadValue { message, .. } = &exit else {
                panic!("{arg}: {exit:?}");
            };
            assert!(
                message.starts_with("--metrics: `") && message.contains(needle),
                "{arg}: {message}"
            );
        }
        // `--metrics` is matched exactly, not as a prefix of `--metrics-owners`.
        assert_getopt_error(
            &["--metr"],
            "netstat: option '--metr' is ambiguous; possibilities: '--metrics' '--metrics-owners'",
        );
    }

    // --- against the real net-tools ------------------------------------------------------

    const REAL_NETSTAT: &str = "/usr/bin/netstat";

    /// (stdout, stderr, exit code) of the real netstat, run as `netstat` in the C locale.
    fn real(args: &[&str]) -> (String, String, i32) {
        use std::os::unix::process::CommandExt;
        assert!(
            std::path::Path::new(REAL_NETSTAT).exists(),
            "{REAL_NETSTAT} (net-tools 2.10) is required by this test: apt-get install net-tools"
        );
        let out = std::process::Command::new(REAL_NETSTAT)
            .arg0("netstat")
            .args(args)
            .env("LC_ALL", "C")
            .env_remove("POSIXLY_CORRECT")
            .output()
            .expect("run /usr/bin/netstat");
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.status.code().unwrap_or(-1),
        )
    }

    #[test]
    fn help_and_version_match_real_netstat() {
        // `-h` is net-tools' stdout followed by our own section (checked on its own in
        // `help_lists_exactly_the_extensions`), and net-tools' stderr and exit code.
        for args in [&["-h"][..], &["--help"], &["-h", "-Q"], &["-th"]] {
            let (out, err, code) = output(&fail(args));
            let (real_out, real_err, real_code) = real(args);
            assert_eq!(
                out.strip_prefix(&real_out),
                Some(extensions_help().as_str()),
                "netstat {}",
                args.join(" ")
            );
            assert_eq!(
                (err, code),
                (real_err, real_code),
                "netstat {}",
                args.join(" ")
            );
        }
        assert_eq!(output(&fail(&["-V"])), real(&["-V"]));
    }

    #[test]
    fn parse_errors_match_real_netstat() {
        // Only command lines that end in parsing: none of these reads the system.
        let cases: &[&[&str]] = &[
            &["-Q"],
            &["-tQ"],
            &["-?"],
            &["-T"],
            &["-:"],
            &["--bogus"],
            &["--bogus=1"],
            &["--num", "-t"],
            &["--num=3"],
            &["--i"],
            &["--in"],
            &["--a"],
            &["--u"],
            &["--un"],
            &["--r"],
            &["--t"],
            &["--c"],
            &["--n"],
            &["--=x"],
            &["--rou=1"],
            &["--ip=x"],
            &["--prot"],
            &["-A"],
            &["-tA"],
            &["-r", "-i"],
            &["-s", "-r"],
            &["-rr"],
            &["-ii"],
            &["-ss"],
            &["-A", "foo"],
            &["-A", "inet,foo"],
            &["-A", ""],
            &["-A", "inet,"],
            &["-A", "-t"],
            &["-r", "-A", "unix"],
            &["-r", "-x"],
            &["-r", "-A", "econet"],
            &["-r", "-A", "ec"],
            &["-r", "-A", "ash"],
            &["-r", "-A", "bluetooth"],
            &["-s", "-x"],
            &["-s", "-A", "unix"],
            &["-s", "-4", "-6"],
            &["-Z"],
            &["-V", "-Q"],
            &["-Q", "-V"],
            &["-Z", "-V"],
            &["--econet"],
            &["--ash"],
            &["--tcpip", "-A", "foo"],
            &["--tcpip", "-V"],
            &["--tcpip", "-r", "-x"],
        ];
        for args in cases {
            let ours = output(&fail(args));
            assert_eq!(ours, real(args), "netstat {}", args.join(" "));
        }
        let long_lists = [
            format!("-A{}", "ip,".repeat(60)),
            format!("-A{}inet6", "ddp,".repeat(63)),
            format!("-A{}", "inet,".repeat(60)),
        ];
        for list in &long_lists {
            let args = ["-s", list.as_str()];
            assert_eq!(
                output(&fail(&args)),
                real(&args),
                "netstat {}",
                args.join(" ")
            );
        }
    }

    #[test]
    fn warnings_match_real_netstat() {
        // Runs that go on after a warning: compare stderr only (stdout is the system's).
        for args in [&["--tcpip", "-rn"][..], &["--tcpi", "-rn"]] {
            let (_, warnings) = run(args).expect("continues");
            let mut err = Vec::new();
            write_warnings(&mut err, &warnings).expect("write to Vec");
            let (_, real_err, code) = real(args);
            assert_eq!(
                (String::from_utf8_lossy(&err).into_owned(), 0),
                (real_err, code)
            );
        }
    }
}
