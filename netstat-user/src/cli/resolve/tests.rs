//! The option loop and `main()`'s defaulting: modes, protocols, families, display
//! options, and the operands of `-c` and `-i`.

use super::*;
use crate::cli::testkit::*;
use crate::cli::*;

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
