//! Our netstat against net-tools' netstat, byte for byte, on a known set of sockets.
//!
//! Each test creates its own network namespace, starts `sockgen` in it (TCP in every state we
//! can hold still, UDP, UDP-Lite, raw, unix, and sockets owned by uid 65534), then runs
//! `/usr/bin/netstat ARGS` and `$NETSTAT_BIN ARGS` there and compares them (see
//! `netstat_tests::compare` for what is normalised). Needs root; run single-threaded:
//!
//! ```sh
//! cargo test -p netstat-tests -- --test-threads=1
//! ```

use std::ffi::OsStr;
use std::path::Path;

use netstat_tests::{Netns, SockGen, TempDir, compare, compare_as, compare_in_order};

/// uid/gid `nobody` on Debian: owns some sockets, and runs `-p` unprivileged.
const NOBODY: u32 = 65534;
/// A uid with no process and no socket at all.
const STRANGER: u32 = 12345;

fn sockgen() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sockgen"))
}

/// A namespace holding the full socket set. Fields drop in order: generator, directory,
/// namespace.
struct Scene {
    _generator: SockGen,
    _dir: TempDir,
    ns: Netns,
}

fn scene() -> Scene {
    let ns = Netns::new();
    let dir = TempDir::new("sock");
    let nobody = NOBODY.to_string();
    let args = [
        OsStr::new("--full"),
        OsStr::new("--dir"),
        dir.path().as_os_str(),
        OsStr::new("--owned-by"),
        OsStr::new(&nobody),
    ];
    let generator = SockGen::start(&ns, sockgen(), &args);
    Scene {
        _generator: generator,
        _dir: dir,
        ns,
    }
}

/// Both tools, as root, on the full socket set.
fn sockets_match(args: &[&str]) {
    let s = scene();
    compare(&s.ns, args);
}

/// Both tools, as `uid`, on the full socket set.
fn sockets_match_as(uid: u32, args: &[&str]) {
    let s = scene();
    compare_as(&s.ns, Some(uid), args);
}

/// Both tools in an empty namespace (error paths that never read a socket table).
fn empty_namespace_matches(args: &[&str]) {
    let ns = Netns::new();
    compare(&ns, args);
}

macro_rules! sockets_tests {
    ($($(#[$doc:meta])* $name:ident: [$($arg:expr),*];)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                sockets_match(&[$($arg),*]);
            }
        )*
    };
}

macro_rules! error_tests {
    ($($(#[$doc:meta])* $name:ident: [$($arg:expr),*];)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                empty_namespace_matches(&[$($arg),*]);
            }
        )*
    };
}

sockets_tests! {
    // --- TCP
    /// All TCP sockets, numeric: every state, queues, v4-mapped rows.
    tcp_all_numeric_matches_net_tools: ["-tan"];
    /// Without `-a`/`-l`: only sockets with a remote port.
    tcp_connected_numeric_matches_net_tools: ["-tn"];
    /// Listeners only (remote port 0), numeric.
    tcp_listening_numeric_matches_net_tools: ["-tln"];
    /// Names from /etc/hosts and /etc/services (localhost, http-alt, postgresql, tproxy).
    tcp_all_resolved_matches_net_tools: ["-ta"];
    /// Listeners with names; `[::]` for the v6 wildcard.
    tcp_listening_resolved_matches_net_tools: ["-tl"];
    /// The bare protocol switch.
    tcp_connected_resolved_matches_net_tools: ["-t"];
    /// `-W` never truncates addresses.
    tcp_all_numeric_wide_matches_net_tools: ["-tanW"];
    /// Timer column: off, keepalive, timewait (also for orphaned FIN_WAIT2), probe.
    tcp_timers_match_net_tools: ["-tano"];
    /// PID/Program name, `-` for inode 0, argv[0] cut to 19 characters.
    tcp_programs_match_net_tools: ["-tanp"];
    /// User and Inode columns with programs.
    tcp_programs_extended_match_net_tools: ["-tanpe"];
    /// `-ee` is the same as `-e` for sockets.
    tcp_programs_double_extended_match_net_tools: ["-tanpee"];
    /// User names (root, nobody) on listeners.
    tcp_listening_extended_matches_net_tools: ["-tle"];
    /// Only /proc/net/tcp.
    tcp_all_numeric_inet_only_matches_net_tools: ["-tan4"];
    /// Only /proc/net/tcp6.
    tcp_all_numeric_inet6_only_matches_net_tools: ["-tan6"];

    // --- UDP, UDP-Lite, raw
    /// UDP: unconnected (empty State), connected (ESTABLISHED), queued datagrams.
    udp_all_numeric_matches_net_tools: ["-uan"];
    /// UDP with names: domain, ntp, mdns.
    udp_all_resolved_matches_net_tools: ["-ua"];
    /// UDP with every optional column.
    udp_all_columns_match_net_tools: ["-uanope"];
    /// UDP-Lite rows are `udpl`/`udpl6`.
    udplite_all_numeric_matches_net_tools: ["-Uan"];
    /// Raw: numeric State column, protocol as port.
    raw_all_numeric_matches_net_tools: ["-wan"];
    /// Raw with names from /etc/protocols (icmp, ipv6-icmp).
    raw_all_resolved_matches_net_tools: ["-wa"];
    /// Raw with timers and programs.
    raw_timers_programs_match_net_tools: ["-wano"];

    // --- unix
    /// Unix: listeners, pairs, abstract, long path, path cut at the space.
    unix_all_matches_net_tools: ["-xa"];
    /// Unix with programs.
    unix_all_programs_match_net_tools: ["-xap"];
    /// Unix listeners only (ACC flag).
    unix_listening_matches_net_tools: ["-xl"];
    /// Unix non-listeners.
    unix_connected_matches_net_tools: ["-x"];

    // --- families
    /// `--inet`: all IPv4 protocols, no unix.
    inet_long_option_matches_net_tools: ["--inet"];
    /// `--inet6`: all IPv6 protocols, no unix.
    inet6_long_option_matches_net_tools: ["--inet6"];
    /// An explicit family list.
    family_list_inet_unix_matches_net_tools: ["-A", "inet,unix"];
    /// `-4 -a` over every IPv4 protocol.
    inet_all_numeric_matches_net_tools: ["-4an"];
    /// `-6 -a` over every IPv6 protocol.
    inet6_all_numeric_matches_net_tools: ["-6an"];

    // --- default listing and display switches
    /// No option at all: every family, non-servers, names.
    default_listing_matches_net_tools: [];
    /// `-l` alone: servers of every family.
    listening_all_families_matches_net_tools: ["-l"];
    /// `-a` alone: everything.
    all_families_matches_net_tools: ["-a"];
    /// Numeric hosts, named ports.
    numeric_hosts_matches_net_tools: ["-a", "--numeric-hosts"];
    /// Named hosts, numeric ports.
    numeric_ports_matches_net_tools: ["-a", "--numeric-ports"];
    /// Numeric users in the User column only.
    numeric_users_extended_matches_net_tools: ["-a", "--numeric-users", "-e"];
    /// `-N` has no effect on sockets.
    symbolic_matches_net_tools: ["-N"];
    /// `-N` with `-a`.
    symbolic_all_matches_net_tools: ["-aN"];
    /// `-e` on the default listing.
    extended_matches_net_tools: ["-e"];
    /// `-e` with `-a`.
    extended_all_matches_net_tools: ["-ae"];
    /// `-ee` is the same as `-e`.
    double_extended_matches_net_tools: ["-ee"];
    /// `-ee` with `-a`.
    double_extended_all_matches_net_tools: ["-aee"];
    /// `-v`: a `no support` line per missing family on stderr, exit 0.
    verbose_matches_net_tools: ["-v"];
    /// `-S` without the SCTP module: header, error, exit 1.
    sctp_missing_matches_net_tools: ["-S"];
    /// `-tSu`: the SCTP error stops before UDP.
    sctp_missing_stops_listing_matches_net_tools: ["-tSu"];
    /// `-Z` without SELinux: error, exit 1.
    selinux_context_matches_net_tools: ["-Z"];
    /// Non-option arguments are ignored.
    trailing_argument_ignored_matches_net_tools: ["-tln", "5"];
}

error_tests! {
    /// Invalid short option: getopt message with argv[0], usage, exit 3.
    invalid_option_matches_net_tools: ["-Q"];
    /// Ambiguous long-option prefix.
    ambiguous_long_option_matches_net_tools: ["--num"];
    /// Unknown address family, exit 1.
    unknown_family_matches_net_tools: ["-A", "foo"];
    /// A mode given twice is a usage error.
    repeated_route_mode_matches_net_tools: ["-rr"];
    /// Two modes are a usage error.
    route_and_interfaces_conflict_matches_net_tools: ["-r", "-i"];
    /// A legacy family whose /proc file is missing, exit 1.
    ax25_missing_matches_net_tools: ["--ax25"];
    /// Bluetooth is not compiled in.
    bluetooth_unsupported_matches_net_tools: ["--bluetooth"];
    /// `-T` (Debian's old --notrim) does not exist in 2.10.
    notrim_removed_matches_net_tools: ["-T"];
    /// `-?` prints usage to stderr, exit 3, without an "invalid option" line.
    question_mark_usage_matches_net_tools: ["-?"];
    /// A missing option argument.
    family_without_argument_matches_net_tools: ["-A"];
}

/// `-p` as uid 65534: its own socket gets a PID, the rest `-`, and the
/// `(Not all processes could be identified ...)` note goes to stderr.
#[test]
fn tcp_listening_programs_as_nobody_match_net_tools() {
    sockets_match_as(NOBODY, &["-tlnp"]);
}

/// `-p` as uid 65534 over every family.
#[test]
fn all_programs_as_nobody_match_net_tools() {
    sockets_match_as(NOBODY, &["-anp"]);
}

/// `-p` as a uid that owns no process: the `(No info could be read for "-p" ...)` note.
#[test]
fn tcp_programs_as_stranger_match_net_tools() {
    sockets_match_as(STRANGER, &["-tanp"]);
}

/// Connections over a veth link between two namespaces (10.200.N.0/24, fd00:200:N::/64):
/// non-loopback addresses, a listener's accept queue, both ends seen from each side.
#[test]
fn veth_connections_match_net_tools() {
    let server_ns = Netns::new();
    let (client_ns, veth) = server_ns.veth_peer();
    let listen4 = format!("{}:8080", veth.local_v4);
    let listen6 = format!("[{}]:5432", veth.local_v6);
    let server = SockGen::start(
        &server_ns,
        sockgen(),
        &["--listen", &listen4, "--listen", &listen6],
    );
    let client = SockGen::start(
        &client_ns,
        sockgen(),
        &["--connect", &listen4, "--connect", &listen6],
    );
    for ns in [&server_ns, &client_ns] {
        for args in [&["-tan"][..], &["-ta"], &["-tanpe"], &["-tanW"]] {
            compare(ns, args);
        }
    }
    drop(client);
    drop(server);
}

/// Nothing at all in the namespace: headers only.
#[test]
fn empty_namespace_all_matches_net_tools() {
    empty_namespace_matches(&["-a"]);
}

/// Runs `ours ARGS` in the scene for `secs` seconds, then interrupts it (as a user
/// would with Ctrl-C) and returns its stdout.
fn continuous_output(s: &Scene, args: &[&str], secs: &str) -> Vec<u8> {
    let ours = netstat_tests::ours();
    let mut argv: Vec<&OsStr> = vec![OsStr::new("-s"), OsStr::new("INT"), OsStr::new(secs)];
    argv.push(ours.as_os_str());
    argv.extend(args.iter().map(OsStr::new));
    netstat_tests::run_in(&s.ns, "timeout", &argv).stdout
}

/// `-c`: the same table again every second, each round equal to net-tools' one-shot
/// output (and a trailing `[delay]` sets the interval, as newer man pages document).
#[test]
fn continuous_repeats_net_tools_table_every_interval() {
    let s = scene();
    let once = netstat_tests::run_netstat_in(&s.ns, &netstat_tests::real(), None, &["-tan"]);
    let block = netstat_tests::normalise(&once.stdout);
    assert!(block.len() > 3, "the scene has TCP sockets");

    for (args, secs, rounds) in [(&["-tanc"][..], "2.5", 3), (&["-tanc", "2"][..], "3.1", 2)] {
        let out = netstat_tests::normalise(&continuous_output(&s, args, secs));
        let expected: Vec<Vec<u8>> = (0..rounds).flat_map(|_| block.clone()).collect();
        assert_eq!(
            out.len(),
            expected.len(),
            "{args:?} for {secs}s: expected {rounds} rounds of {} lines",
            block.len()
        );
        assert!(
            out == expected,
            "{args:?}: a round differs from net-tools' -tan"
        );
    }
}

/// Rows in net-tools' own order (kernel hash order), not only the same set: sock_diag
/// walks the same tables in the same order as /proc.
#[test]
fn rows_come_in_net_tools_order() {
    let s = scene();
    for args in [&["-tan"][..], &["-uan"], &["-wan"], &["-xa"], &["-an"]] {
        compare_in_order(&s.ns, args);
    }
}
