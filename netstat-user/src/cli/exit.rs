//! How a parse ends without a run: what to print, where, and net-tools' exit code.

use std::io::{self, Write};

use super::families::af_list;
use super::help::{USAGE, VERSION, extensions_help};

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

/// Prints the warnings returned by [`parse`](super::parse) (one line each) on `err`.
pub fn write_warnings(err: &mut dyn Write, warnings: &[String]) -> io::Result<()> {
    for warning in warnings {
        writeln!(err, "{warning}")?;
    }
    Ok(())
}

pub(super) fn with_warnings(mut exit: CliExit, mut earlier: Vec<String>) -> CliExit {
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
