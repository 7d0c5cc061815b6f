//! The getopt_long walker: glibc 2.36's rules over a copy of argv.

use super::table::{Key, Lookup, OptTable, lookup};

/// One option found by the walker.
pub(super) struct Found {
    pub(super) key: Key,
    pub(super) arg: Option<Vec<u8>>,
    /// getopt's `longind` in net-tools' `longopts[]` when found as a long option.
    pub(super) longind: Option<usize>,
}

/// glibc's getopt_long state over a copy of argv.
pub(super) struct Walker<'t> {
    table: &'t OptTable,
    args: Vec<Vec<u8>>,
    optind: usize,
    /// Position of the next character in a bundle of short options at `optind`.
    nextchar: Option<usize>,
    /// Non-options in the order getopt leaves them after `optind`.
    pub(super) operands: Vec<Vec<u8>>,
    require_order: bool,
}

impl<'t> Walker<'t> {
    pub(super) fn new(table: &'t OptTable, args: Vec<Vec<u8>>, require_order: bool) -> Walker<'t> {
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
    pub(super) fn next_option(&mut self) -> Option<Result<Found, Vec<u8>>> {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::cli::testkit::*;
    use crate::cli::*;

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
}
