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
//!
//! One job a file: `options` (the types a run gets), `exit` (the ends of
//! a parse that print and exit), `spec` (the clap list), `help` (the texts of `-h` and
//! `-V`), `families` (lib/af.c's tables), `table` (getopt's tables and lookup read from
//! the clap list), `getopt` (the walker), `resolve` (net-tools' flags and `main()`'s
//! defaulting) and `live` (the values of our live-mode options).

mod exit;
mod families;
mod getopt;
mod help;
mod live;
mod options;
mod resolve;
mod spec;
mod table;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use std::ffi::OsString;

pub use self::exit::{CliExit, write_warnings};
pub use self::help::extensions_help;
pub use self::options::{
    MetricsAddr, Mode, NetnsArg, Options, Protocols, RouteFamily, StreamFilter,
};
pub use self::spec::{HEADINGS, command, is_extension};
pub use self::table::{Accepted, accepted_options};
use self::{getopt::Walker, resolve::Flags, table::OptTable};

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
