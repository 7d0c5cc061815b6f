//! The clap definition of every option: the one list the getopt tables, `-h`, the man
//! page and the shell completions are read from.

use clap::{Arg, ArgAction, Command, ValueHint};

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
pub(super) const EXTENSION_HEADINGS: [&str; 2] = [H_EXTENSIONS, H_FILTERS];

/// Whether `arg` is one of our own options (not in net-tools 2.10).
pub fn is_extension(arg: &Arg) -> bool {
    arg.get_help_heading()
        .is_some_and(|h| EXTENSION_HEADINGS.contains(&h))
}

/// Arg ids of the family long options (`AFTRANS_OPTS`) are this prefix + the alias.
pub(super) const AF_ID_PREFIX: &str = "af-";

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clap_definition_is_valid() {
        command().debug_assert();
    }
}
