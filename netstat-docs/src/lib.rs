//! netstat's man page (`netstat.8`) and its bash, zsh and fish completions, generated from
//! the one clap definition of its options, [`netstat_user::cli::command()`]: every option
//! with its help comes from there, so the documents cannot drift from the parser. The prose
//! around them (synopsis, description, the live modes, exit status, ...) lives here.
//!
//! `cargo xtask build` runs the `netstat-docs` binary, which writes them under
//! `target/dist/` (see [`write_to`]).

use std::{
    fs, io,
    path::{Path, PathBuf},
};

use clap::{Arg, Command};
pub use clap_complete::Shell;
use clap_mangen::{
    Man,
    roff::{Inline, Roff, bold, italic, roman},
};
use netstat_user::cli;

/// The shells completions are written for.
pub const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// The command name the documents are for.
const NAME: &str = "netstat";

/// The synopsis: net-tools' usage forms, then ours (one form a line; clap_mangen sets the
/// command name in bold).
const SYNOPSIS: &str = "\
netstat [-vWnNcaeolpZ] [<Socket> ...] [<Af>] [DELAY]
netstat [-vWeenNcCF] [<Af>] -r
netstat [-vWeenNac] -i [NAME]
netstat [-cnNe] -M
netstat -s [-6tuw]
netstat -g [-vWn] [<Af>]
netstat {--watch|--audit} [--json] [-4|-6] [-t|-u] [live-mode filters]
netstat --agent [-v]
netstat {-V|--version|-h|--help}";

/// The DESCRIPTION section, paragraphs separated by blank lines.
const DESCRIPTION: &str = "\
netstat prints information about the Linux networking subsystem: by default the open \
sockets of every address family; with a mode option the routing table (-r), the \
interfaces (-i), multicast group memberships (-g), masqueraded connections (-M) or \
protocol statistics (-s).

It accepts every option of net-tools 2.10 netstat and prints the same tables, messages \
and exit codes; those options are listed under MODES, SOCKETS, ADDRESS FAMILIES, DISPLAY \
OPTIONS and OPERANDS. Its own additions are listed under EXTENSIONS and LIVE-MODE \
FILTERS, and described under LIVE MODES AND THE AGENT.

<Socket> stands for the socket options (-t -u -U -S -w -x, or --ax25 --ipx --netrom); \
<Af> for -4, -6, -A af[,af...] or --af (such as --inet6). Options follow getopt_long(3): \
short options bundle (-tanp), a long option may be shortened to any unambiguous prefix, \
and -- ends the options. A prefix that matches a net-tools option always means that \
option, never one of the extensions.

Internet sockets are read over NETLINK_SOCK_DIAG (as ss does), in the order of \
/proc/net; /proc/net is read where the kernel has no diag module for a protocol. \
-p asks the agent (--agent) when one runs, else walks /proc/*/fd as net-tools does.";

/// The LIVE MODES AND THE AGENT section: (option, paragraphs).
const LIVE_MODES: [(&str, &str); 4] = [
    (
        "--watch",
        "Prints one line per TCP state change as it happens, in every network namespace: \
         the time, the namespace's inode, the socket's owner as PID/command(user), the \
         protocol, the local and remote addresses, the old and new states and the time spent \
         in the old state. The owner is learnt where its process runs (socket, connect, \
         accept, send and receive hooks), so changes made in softirq still name it. A change \
         to CLOSE that hands the connection to the kernel's timewait socket is shown as \
         \"-> TIME_WAIT\", and its end when that socket is gone. \"-\" marks an unknown owner \
         or duration. Needs root: it loads eBPF programs.",
    ),
    (
        "--audit",
        "Prints one record per finished TCP connection and per UDP flow, whoever owned it, \
         also for connections whose process has already exited: the end time, namespace, \
         owner, protocol, local and remote addresses, who opened it (active, passive, or - \
         for UDP), how it ended (close, reset, refused, timeout; for UDP close, or idle after \
         --flow-idle seconds), the duration, and the bytes and packets each way. \
         \"incomplete\" marks a record the audit did not see whole. With --watch, both \
         streams are printed. Needs root: it loads eBPF programs.",
    ),
    (
        "--json",
        "With --watch or --audit, prints the stream as JSON lines (transition, connection, \
         flow and lost records); with the table modes, prints JSON lines instead of the \
         tables. The records are described in docs/json.md and docs/netstat.schema.json of \
         the sources.",
    ),
    (
        "--agent",
        "Runs in the foreground (or as the systemd service netstat-agent.service), keeps an \
         eBPF map of the owner of every IPv4 and IPv6 socket in every network namespace, and \
         answers netstat -p on /run/netstat-ebpf/agent.sock (mode 0600: only root's -p asks \
         it). Owners that have exited are shown as PID/comm* where net-tools prints -. \
         Sockets older than the agent are seeded at its start. Needs root.",
    ),
];

/// The paragraph after the live modes.
const LIVE_MODES_END: &str = "\
--watch and --audit load their own copy of the eBPF programs (they do not need the \
agent) and run until SIGINT or SIGTERM or until stdout is closed, then print on stderr \
how many lines they printed and how many events were lost. The live-mode filters, -4 and \
-6 are applied in the kernel before anything is queued; -t and -u pick TCP connections or \
UDP flows for --audit. The stream is always numeric. Events the kernel could not queue \
are reported where they happen (LOST lines or lost records).";

/// EXIT STATUS: (code, meaning), net-tools' codes.
const EXIT_STATUS: [(&str, &str); 3] = [
    ("0", "Success, also for -h and -V."),
    (
        "1",
        "A feature is missing: an unknown address family, a missing /proc file of a selected \
         family, -Z without SELinux, -s with a family other than inet or inet6, -M without \
         conntrack; for --watch, --audit and --agent: not root, or the eBPF programs did \
         not load.",
    ),
    (
        "3",
        "An option error: an unknown or ambiguous option, a missing option argument, two \
         modes, -?, -r for a family without routing, or a bad value of an extension (such \
         as --port 0).",
    ),
];

/// ENVIRONMENT: (variable, meaning).
const ENVIRONMENT: [(&str, &str); 4] = [
    (
        "POSIXLY_CORRECT",
        "Options end at the first non-option, as in getopt(3).",
    ),
    (
        "PROC_ROOT",
        "Read a recorded /proc directory (and the etc directory beside it) instead of the \
         live system, as ss does; netlink is then not used.",
    ),
    (
        "NETSTAT_AGENT_SOCKET",
        "Where -p looks for the agent and where --agent listens (default \
         /run/netstat-ebpf/agent.sock).",
    ),
    (
        "NETSTAT_AGENT_TIMEWAIT_RECORDS",
        "How many connections in TIME_WAIT the agent keeps owners for (default 65536, \
         preallocated at about 232 bytes each); beyond that they show -, counted.",
    ),
];

/// FILES: (path, what).
const FILES: [(&str, &str); 5] = [
    (
        "/proc/net/",
        "socket tables, routes, interfaces (dev), group memberships (igmp, igmp6) and \
         statistics (snmp, netstat, snmp6)",
    ),
    ("/proc/*/fd/", "socket owners for -p without an agent"),
    ("/run/netstat-ebpf/agent.sock", "the agent's socket"),
    (
        "/etc/services, /etc/hosts, /etc/networks, /etc/protocols",
        "names, unless -n",
    ),
    ("/run/netns/", "names of network namespaces for --netns"),
];

const SEE_ALSO: &str = "ss(8), ip(8), route(8), ifconfig(8), proc(5), tcp(7), udp(7)";

/// The command as the documents show it: [`cli::command()`] with the synopsis and
/// description, its args in the order of [`cli::HEADINGS`] (the man page has one section per
/// heading, in the order they first appear).
pub fn documented_command() -> Command {
    let cli = cli::command();
    let rank = |arg: &Arg| {
        arg.get_help_heading()
            .and_then(|h| cli::HEADINGS.iter().position(|&x| x == h))
            .unwrap_or(cli::HEADINGS.len())
    };
    // Hidden args are no options of their own (`--af-unix`, see `cli::command()`).
    let mut args: Vec<Arg> = cli
        .get_arguments()
        .filter(|a| !a.is_hide_set())
        .cloned()
        .collect();
    args.sort_by_key(rank);
    Command::new(NAME)
        .about(cli.get_about().cloned().unwrap_or_default())
        // The workspace's version, netstat's own.
        .version(env!("CARGO_PKG_VERSION"))
        .disable_help_flag(true)
        .disable_version_flag(true)
        .override_usage(SYNOPSIS)
        .long_about(DESCRIPTION)
        .args(args)
}

/// The man page, section 8 as net-tools' (roff source).
pub fn man_page() -> Vec<u8> {
    let cmd = documented_command();
    // The title line is written here: clap_mangen drops an empty date, which shifts the
    // source and manual into its place. The page has no date of its own (it is generated
    // from the sources at build time); its version is in the source field and VERSION.
    let title = format!(
        ".TH NETSTAT 8 \"\" \"netstat {}\" \"System Administration\"\n",
        cmd.get_version().unwrap_or_default()
    );
    let man = Man::new(cmd).section("8");
    // Every clap_mangen section comes with roff's preamble (the apostrophe string): it is
    // kept once, at the top.
    let preamble = Roff::new().render();
    let section = |render: &dyn Fn(&mut Vec<u8>) -> io::Result<()>| {
        let mut roff = Vec::new();
        render(&mut roff).expect("writing to a Vec");
        let roff = String::from_utf8(roff).expect("roff's output is UTF-8 for UTF-8 input");
        roff.strip_prefix(&preamble).unwrap_or(&roff).to_owned()
    };
    let mut page = preamble.clone();
    page.push_str(&title);
    page.push_str(&section(&|w| man.render_name_section(w)));
    page.push_str(&section(&|w| man.render_synopsis_section(w)));
    page.push_str(&section(&|w| man.render_description_section(w)));
    page.push_str(&section(&|w| man.render_options_section(w)));
    page.push_str(&section(&|w| extra_sections().to_writer(w)));
    page.push_str(&section(&|w| man.render_version_section(w)));
    page.into_bytes()
}

/// The sections after the options.
fn extra_sections() -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["LIVE MODES AND THE AGENT"]);
    for (option, text) in LIVE_MODES {
        tagged(&mut roff, vec![bold(option)], text);
    }
    roff.control("PP", []).text([roman(LIVE_MODES_END)]);

    roff.control("SH", ["EXIT STATUS"]);
    for (code, text) in EXIT_STATUS {
        tagged(&mut roff, vec![bold(code)], text);
    }

    roff.control("SH", ["ENVIRONMENT"]);
    for (name, text) in ENVIRONMENT {
        tagged(&mut roff, vec![bold(name)], text);
    }

    roff.control("SH", ["FILES"]);
    for (path, text) in FILES {
        tagged(&mut roff, vec![italic(path)], text);
    }

    roff.control("SH", ["SEE ALSO"]);
    roff.text([roman(SEE_ALSO)]);
    roff
}

/// A `.TP` entry: the tag line, then its text.
fn tagged(roff: &mut Roff, tag: Vec<Inline>, text: &str) {
    roff.control("TP", []).text(tag).text([roman(text)]);
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = documented_command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, NAME, &mut out);
    if shell == Shell::Fish {
        // clap_complete writes `-s ?` bare; fish 3 takes `?` for a wildcard and drops the
        // line ("No matches for wildcard").
        let text = String::from_utf8_lossy(&out).replace(" -s ? ", " -s '?' ");
        out = text.into_bytes();
    }
    out
}

/// Where a shell's completion script goes under [`write_to`]'s directory, named as each
/// shell looks it up (bash-completion by command name, zsh `_netstat`, fish `netstat.fish`).
pub fn completion_path(shell: Shell) -> PathBuf {
    let name = match shell {
        Shell::Bash => NAME.to_owned(),
        Shell::Zsh => format!("_{NAME}"),
        Shell::Fish => format!("{NAME}.fish"),
        other => format!("{NAME}.{other}"),
    };
    Path::new("completions").join(shell.to_string()).join(name)
}

/// Where the man page goes under [`write_to`]'s directory.
pub fn man_path() -> PathBuf {
    Path::new("man").join("man8").join(format!("{NAME}.8"))
}

/// Writes the man page and the completions under `dir` (created when missing) and
/// returns the paths written: `man/man8/netstat.8`, `completions/bash/netstat`,
/// `completions/zsh/_netstat` and `completions/fish/netstat.fish`.
pub fn write_to(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = vec![(man_path(), man_page())];
    for shell in SHELLS {
        files.push((completion_path(shell), completion(shell)));
    }
    let mut written = Vec::new();
    for (relative, bytes) in files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", parent.display())))?;
        }
        fs::write(&path, bytes)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
        written.push(path);
    }
    Ok(written)
}
