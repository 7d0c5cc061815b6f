//! The texts of `-h` and `-V` (netstat.c `usage()`, `version()`) and the extension
//! section `-h` adds after net-tools' text.

use super::spec::{EXTENSION_HEADINGS, command};

/// `usage()` text; the family list that follows it is
/// [`af_list`](super::families::af_list), always on stderr.
pub(super) const USAGE: &str = concat!(
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

/// `version()`: Release, Signature and Features of Debian's net-tools 2.10 build
/// (the `HW:` line ends with a space).
pub(super) const VERSION: &str = concat!(
    "net-tools 2.10\n",
    "Fred Baumgarten, Alan Cox, Bernd Eckenfels, Phil Blundell, Tuan Hoang, Brian Micek and others\n",
    "+NEW_ADDRT +RTF_IRTT +RTF_REJECT +FW_MASQUERADE +I18N +SELINUX\n",
    "AF: (inet) +UNIX +INET +INET6 +IPX +AX25 +NETROM +X25 +ATALK +ECONET +ROSE -BLUETOOTH\n",
    "HW:  +ETHER +ARC +SLIP +PPP +TUNNEL -TR +AX25 +NETROM +X25 +FR +ROSE +ASH +SIT +FDDI +HIPPI +HDLC/LAPB +EUI64 \n",
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::testkit::*;
    use crate::cli::*;

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
}
