//! `-s/--statistics`: the kernel's SNMP counters with net-tools 2.10's sentences
//! (`statistics.c`: `parsesnmp()`, `parsesnmp6()`), byte for byte.
//!
//! * `inet` (the default): `/proc/net/snmp`, then `/proc/net/netstat` and
//!   `/proc/net/sctp/snmp` when they can be opened.
//! * `inet6`: `/proc/net/snmp6`, then the sections of `/proc/net/snmp` whose title
//!   starts with `Tcp` (Linux has no separate TCP6 counters).
//!
//! `-w` selects `Ip`/`Icmp` (`Ip6`/`Icmp6`), `-t` `Tcp`/`TcpExt`, `-u` `Udp`/`Udp6`,
//! `-S` `Sctp`; sections net-tools has no table for are printed whatever the selection.
//! `-U`, `-e`, `-n`, `-a`… change nothing; `-c` prints once (app.rs calls this once).
//!
//! Errors, as net-tools (the exit code stays 0 in every case):
//! * `/proc/net/snmp` (or, with inet6, `/proc/net/snmp6`) cannot be opened:
//!   `cannot open /proc/net/snmp: <strerror>` and nothing more;
//! * `/proc/net/netstat` or `/proc/net/sctp/snmp` cannot be opened: skipped silently;
//! * a file opens but reading fails (a directory: EISDIR): what was read is printed,
//!   then `/proc/net/snmp: <strerror>` (`perror(path)`);
//! * a pair of lines without `:`: `Problem while parsing /proc/net/snmp` (or netstat)
//!   after the sections before it; not reported for the inet6 run's re-read of snmp.
//!
//! Sentences are never translated: net-tools' gettext catalogues only apply in a non-C
//! locale, which the project's machines do not have (`locale -a`: C, C.utf8, POSIX).
//!
//! The reading is in [`parse`] (pure), the sentence tables in [`table`], the printing
//! in [`render`]; this file only opens files and sequences them.

pub mod parse;
pub mod render;
pub mod table;

use std::{
    fs::File,
    io::{self, Read, Write},
    path::Path,
};

use crate::perror::strerror;
use crate::{
    cli::Options,
    model::stats::Block,
    render::json::{self, Stamp},
    system::RunEnv,
};
use render::{Printer, Selection};
use table::{SNMP_SECTIONS, SNMP6_SECTIONS, Section};

/// A file's bytes, and the error that stopped the reading early, if any (net-tools
/// prints what it read, then `perror(path)` when `ferror()` is set).
#[derive(Debug)]
pub struct Contents {
    pub bytes: Vec<u8>,
    pub read_error: Option<io::Error>,
}

/// Opens and reads a counter file. `Err` is the open's failure.
pub fn read_counters(path: &Path) -> io::Result<Contents> {
    let mut file = File::open(path)?;
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 8192];
    let read_error = loop {
        match file.read(&mut chunk) {
            Ok(0) => break None,
            Ok(n) => bytes.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Some(e),
        }
    };
    Ok(Contents { bytes, read_error })
}

/// Where the run's output goes; stdout is flushed before each stderr line, so a
/// terminal shows them in net-tools' order.
struct Sink<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    /// `--json`: `statistic` records of the selected sections instead of sentences.
    json: Option<(Stamp, Selection)>,
}

impl Sink<'_> {
    /// `perror(what)`.
    fn perror(&mut self, what: &str, e: &io::Error) -> io::Result<()> {
        self.out.flush()?;
        writeln!(self.err, "{what}: {}", strerror(e))
    }

    fn message(&mut self, line: &str) -> io::Result<()> {
        self.out.flush()?;
        writeln!(self.err, "{line}")
    }

    /// One section: sentences, or with `--json` records.
    fn block(
        &mut self,
        printer: &mut Printer,
        sections: &'static [Section],
        block: &Block,
    ) -> io::Result<()> {
        match &self.json {
            Some((stamp, selection)) => {
                if !selection.shows_section(sections, &block.title) {
                    return Ok(());
                }
                json::stats::write_block(self.out, stamp, block)
            }
            None => printer.block(sections, block, self.out),
        }
    }
}

/// Prints the statistics once. Always 0, as net-tools' `exit(0)` after them; 1 with
/// net-tools' stdout message for a family list other than `inet` or `inet6` (cli.rs
/// reports that one before a run; this is a fallback).
pub fn run_once(
    o: &Options,
    env: &RunEnv,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let selection = Selection {
        raw: o.protocols.raw,
        tcp: o.protocols.tcp,
        udp: o.protocols.udp,
        sctp: o.protocols.sctp,
    };
    let net = env.root.join("proc/net");
    let mut printer = Printer::new(selection);
    let json = o
        .json
        .then(|| (Stamp::listing(&env.proc_root()), selection));
    let mut sink = Sink { out, err, json };
    if o.inet {
        snmp(&net, &mut printer, &mut sink)?;
    } else if o.inet6 {
        snmp6(&net, &mut printer, &mut sink)?;
    } else {
        // With --json, stdout has records only.
        let text = if sink.json.is_some() {
            &mut *sink.err
        } else {
            &mut *sink.out
        };
        writeln!(
            text,
            "netstat: No statistics support for specified address family: {}",
            o.afname
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// A pairs-of-lines file (`process_fd()`), all of its sections or only those whose
/// title starts with `only`. Returns whether it was malformed.
fn pair_file(
    bytes: &[u8],
    only: Option<&[u8]>,
    printer: &mut Printer,
    sink: &mut Sink<'_>,
) -> io::Result<bool> {
    let parsed = parse::parse_pairs(bytes);
    for block in &parsed.blocks {
        if only.is_some_and(|prefix| !block.title.starts_with(prefix)) {
            continue;
        }
        sink.block(printer, SNMP_SECTIONS, block)?;
    }
    Ok(parsed.malformed)
}

/// `parsesnmp()`.
fn snmp(net: &Path, printer: &mut Printer, sink: &mut Sink<'_>) -> io::Result<()> {
    let snmp = match read_counters(&net.join("snmp")) {
        Ok(c) => c,
        Err(e) => return sink.perror("cannot open /proc/net/snmp", &e),
    };
    if pair_file(&snmp.bytes, None, printer, sink)? {
        sink.message("Problem while parsing /proc/net/snmp")?;
    }
    if let Some(e) = &snmp.read_error {
        sink.perror("/proc/net/snmp", e)?;
    }

    if let Ok(netstat) = read_counters(&net.join("netstat")) {
        if pair_file(&netstat.bytes, None, printer, sink)? {
            sink.message("Problem while parsing /proc/net/netstat")?;
        }
        if let Some(e) = &netstat.read_error {
            sink.perror("/proc/net/netstat", e)?;
        }
    }

    if let Ok(sctp) = read_counters(&net.join("sctp/snmp")) {
        if sink.json.is_some() {
            let block = Block {
                title: b"Sctp".to_vec(),
                pairs: parse::parse_name_values(&sctp.bytes),
            };
            sink.block(printer, SNMP_SECTIONS, &block)?;
        } else {
            let current = printer.begin(SNMP_SECTIONS, b"Sctp", sink.out)?;
            if current.shown() {
                for (key, value) in parse::parse_name_values(&sctp.bytes) {
                    printer.value(&current, &key, value, sink.out)?;
                }
            }
        }
        if let Some(e) = &sctp.read_error {
            sink.perror("/proc/net/sctp/snmp", e)?;
        }
    }
    Ok(())
}

/// `parsesnmp6()`. A malformed /proc/net/snmp is not reported here (net-tools ignores
/// `process_fd()`'s answer on this path).
fn snmp6(net: &Path, printer: &mut Printer, sink: &mut Sink<'_>) -> io::Result<()> {
    let snmp6 = match read_counters(&net.join("snmp6")) {
        Ok(c) => c,
        Err(e) => return sink.perror("cannot open /proc/net/snmp6", &e),
    };
    for block in parse::parse_snmp6(&snmp6.bytes) {
        sink.block(printer, SNMP6_SECTIONS, &block)?;
    }
    if let Some(e) = &snmp6.read_error {
        sink.perror("/proc/net/snmp6", e)?;
    }

    let snmp = match read_counters(&net.join("snmp")) {
        Ok(c) => c,
        Err(e) => return sink.perror("cannot open /proc/net/snmp", &e),
    };
    pair_file(&snmp.bytes, Some(b"Tcp"), printer, sink)?;
    if let Some(e) = &snmp.read_error {
        sink.perror("/proc/net/snmp", e)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    use crate::cli;

    struct Tree(PathBuf);

    impl Tree {
        fn new(files: &[(&str, &[u8])]) -> Tree {
            static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let root = std::env::temp_dir().join(format!("stats-unit-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&root);
            for (name, bytes) in files {
                let path = root.join("proc/net").join(name);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, bytes).unwrap();
            }
            std::fs::create_dir_all(root.join("proc/net")).unwrap();
            Tree(root)
        }

        fn run(&self, args: &[&str]) -> (String, String, i32) {
            let argv = std::iter::once("netstat")
                .chain(args.iter().copied())
                .map(std::ffi::OsString::from);
            let (o, _) = cli::parse(argv).unwrap();
            let env = RunEnv {
                root: self.0.clone(),
                netlink: false,
            };
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let rc = run_once(&o, &env, &mut out, &mut err).unwrap();
            (
                String::from_utf8(out).unwrap(),
                String::from_utf8(err).unwrap(),
                rc,
            )
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const SNMP: &[u8] = b"Ip: Forwarding InReceives\nIp: 1 5\n\
Tcp: RtoAlgorithm ActiveOpens\nTcp: 1 3\nUdp: InDatagrams\nUdp: 4\n";
    const NETSTAT: &[u8] = b"TcpExt: TW\nTcpExt: 7\nIpExt: InOctets\nIpExt: 9\n";
    const SNMP6: &[u8] = b"Ip6InReceives 2\nUdp6InDatagrams 1\n";

    #[test]
    fn files_in_order_and_filters() {
        let t = Tree::new(&[("snmp", SNMP), ("netstat", NETSTAT), ("snmp6", SNMP6)]);
        let (out, err, rc) = t.run(&["-s"]);
        assert_eq!(
            out,
            "Ip:\n    Forwarding: 1\n    5 total packets received\nTcp:\n    3 active connection openings\n\
             Udp:\n    4 packets received\nTcpExt:\n    7 TCP sockets finished time wait in fast timer\n\
             IpExt:\n    InOctets: 9\n"
        );
        assert_eq!((err.as_str(), rc), ("", 0));
        let (out, _, _) = t.run(&["-su"]);
        assert_eq!(
            out,
            "Udp:\n    4 packets received\nIpExt:\n    InOctets: 9\n"
        );
        let (out, _, _) = t.run(&["-sU", "-e", "-c"]);
        assert_eq!(out, "IpExt:\n    InOctets: 9\n");
        let (out, _, _) = t.run(&["-s6"]);
        assert_eq!(
            out,
            "Ip6:\n    2 total packets received\nUdp6:\n    1 packets received\n\
             Tcp:\n    3 active connection openings\n"
        );
        let (out, _, _) = t.run(&["-s", "-A", "inet6", "-w"]);
        assert_eq!(out, "Ip6:\n    2 total packets received\n");
    }

    #[test]
    fn missing_and_unreadable_files() {
        let t = Tree::new(&[("netstat", NETSTAT)]);
        let (out, err, rc) = t.run(&["-s"]);
        assert_eq!(out, "");
        assert_eq!(
            err,
            "cannot open /proc/net/snmp: No such file or directory\n"
        );
        assert_eq!(rc, 0);
        let (out, err, rc) = t.run(&["-s6"]);
        assert_eq!(
            (out.as_str(), err.as_str(), rc),
            (
                "",
                "cannot open /proc/net/snmp6: No such file or directory\n",
                0
            )
        );

        // A directory opens but cannot be read.
        let t = Tree::new(&[("netstat", NETSTAT), ("snmp/x", b"")]);
        let (out, err, rc) = t.run(&["-s"]);
        assert_eq!(
            out,
            "TcpExt:\n    7 TCP sockets finished time wait in fast timer\nIpExt:\n    InOctets: 9\n"
        );
        assert_eq!(err, "/proc/net/snmp: Is a directory\n");
        assert_eq!(rc, 0);
    }

    #[test]
    fn malformed_snmp_is_reported_in_inet_mode_only() {
        let t = Tree::new(&[
            ("snmp", b"Tcp: ActiveOpens\nTcp: 3\nbad\nbad\n"),
            ("snmp6", b""),
        ]);
        let (out, err, _) = t.run(&["-st"]);
        assert_eq!(out, "Tcp:\n    3 active connection openings\n");
        assert_eq!(err, "Problem while parsing /proc/net/snmp\n");
        let (out, err, _) = t.run(&["-st6"]);
        assert_eq!(out, "Tcp:\n    3 active connection openings\n");
        assert_eq!(err, "");
    }

    #[test]
    fn sctp_section() {
        let t = Tree::new(&[
            ("snmp", b"Udp: InDatagrams\nUdp: 4\n"),
            (
                "sctp/snmp",
                b"SctpCurrEstab 2\nSctpOther 5\nSctpAborteds 0\n",
            ),
        ]);
        let (out, _, _) = t.run(&["-sS"]);
        assert_eq!(
            out,
            "Sctp:\n    2 Current Associations\n    SctpOther: 5\n    0 Number of Aborteds \n"
        );
        let (out, _, _) = t.run(&["-su"]);
        assert_eq!(out, "Udp:\n    4 packets received\n");
    }

    /// `--json`: the records of the sections the options show (json::stats writes a block,
    /// [`Sink::block`] chooses which).
    mod records {
        use serde_json::json;

        use super::*;
        use crate::render::json::tests::{STAMP, lines};
        use crate::stats::parse::parse_pairs;

        fn render(
            selection: Selection,
            sections: &'static [Section],
            blocks: &[Block],
        ) -> Vec<serde_json::Value> {
            let mut out = Vec::new();
            for b in blocks {
                if selection.shows_section(sections, &b.title) {
                    json::stats::write_block(&mut out, &STAMP, b).expect("vec");
                }
            }
            if out.is_empty() {
                return Vec::new();
            }
            lines(&out)
        }

        const ALL: Selection = Selection {
            raw: true,
            tcp: true,
            udp: true,
            sctp: true,
        };

        #[test]
        fn every_counter_of_shown_sections() {
            let blocks = parse_pairs(
                b"Ip: Forwarding InReceives\nIp: 1 5\nTcp: RtoAlgorithm ActiveOpens MaxConn\nTcp: 1 0 -1\n\
                  Odd: X\nOdd: 18446744073709551615\n",
            )
            .blocks;
            let v = render(ALL, SNMP_SECTIONS, &blocks);
            assert_eq!(v.len(), 6);
            assert_eq!(
                v[0],
                json!({"type": "statistic", "ts_ns": 1_700_000_000_123_456_789u64,
                       "section": "Ip", "name": "Forwarding", "value": 1})
            );
            assert_eq!(
                (v[3]["name"].as_str(), v[3]["value"].as_u64()),
                (Some("ActiveOpens"), Some(0))
            );
            // The kernel's -1 for MaxConn is an unsigned long long to net-tools too.
            assert_eq!(v[4]["value"].as_u64(), Some(u64::MAX));
            assert_eq!(v[5]["section"], "Odd");
            let tcp_only = Selection {
                tcp: true,
                ..Default::default()
            };
            let v = render(tcp_only, SNMP_SECTIONS, &blocks);
            let sections: Vec<&str> = v.iter().filter_map(|r| r["section"].as_str()).collect();
            assert_eq!(sections, ["Tcp", "Tcp", "Tcp", "Odd"]);
        }

        #[test]
        fn snmp6_names_keep_their_prefix() {
            let blocks = crate::stats::parse::parse_snmp6(b"Ip6InReceives 2\nUdp6InDatagrams 1\n");
            let v = render(ALL, SNMP6_SECTIONS, &blocks);
            assert_eq!(
                (v[0]["section"].as_str(), v[0]["name"].as_str()),
                (Some("Ip6"), Some("Ip6InReceives"))
            );
            assert_eq!(
                (v[1]["section"].as_str(), v[1]["value"].as_u64()),
                (Some("Udp6"), Some(1))
            );
        }
    }
}
