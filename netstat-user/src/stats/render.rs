//! How net-tools 2.10 prints counters (`newtable()` and `printval()` in `statistics.c`).
//!
//! The printer has one piece of state that lasts for the whole run, across sections
//! and files: the kind of the last line printed (`state`). It decides the indent of raw
//! `Name: value` lines (8 right after an ICMP histogram, 4 otherwise) and when a
//! histogram title is due. Unknown sections do not reset it, which is where the odd
//! indents of `IcmpMsg` come from.

use std::io::{self, Write};

use super::table::{self, Flag, Kind, Section};
use crate::model::stats::Block;

/// The sections the options select (`-w`, `-t`, `-u`, `-S`; all of them without any).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Selection {
    pub raw: bool,
    pub tcp: bool,
    pub udp: bool,
    pub sctp: bool,
}

impl Selection {
    pub fn shows(&self, flag: Flag) -> bool {
        match flag {
            Flag::Raw => self.raw,
            Flag::Tcp => self.tcp,
            Flag::Udp => self.udp,
            Flag::Sctp => self.sctp,
        }
    }

    /// Whether the options show the section titled `title` (`newtable()`'s choice): a
    /// section without a table always is.
    pub fn shows_section(&self, sections: &'static [Section], title: &[u8]) -> bool {
        table::section(sections, title).is_none_or(|s| self.shows(s.flag))
    }
}

/// The section being printed (`newtable()`'s answer).
#[derive(Clone, Copy, Debug)]
pub enum Current {
    /// A section of the table: its counters print only when its option selects it.
    Known {
        section: &'static Section,
        shown: bool,
    },
    /// Any other title: always shown, every counter raw (net-tools' `f_unknown` is 1).
    Unknown,
}

impl Current {
    pub fn shown(&self) -> bool {
        match self {
            Current::Known { shown, .. } => *shown,
            Current::Unknown => true,
        }
    }
}

/// net-tools' printer, with its state.
#[derive(Debug)]
pub struct Printer {
    selection: Selection,
    state: Kind,
}

fn indent(out: &mut dyn Write, n: usize) -> io::Result<()> {
    write!(out, "{:n$}", "")
}

/// The sentence with its one `%llu` (or `%s`) replaced.
fn sentence(format: &str, arg: &str) -> String {
    for placeholder in ["%llu", "%s"] {
        if let Some((before, after)) = format.split_once(placeholder) {
            return format!("{before}{arg}{after}");
        }
    }
    format.to_owned()
}

impl Printer {
    pub fn new(selection: Selection) -> Printer {
        Printer {
            selection,
            state: Kind::Number,
        }
    }

    /// Starts a section titled `title` (`newtable()`): a section of `sections` prints
    /// `Title:` when selected and resets the state; any other title prints `Title:`
    /// always and keeps the state.
    pub fn begin(
        &mut self,
        sections: &'static [Section],
        title: &[u8],
        out: &mut dyn Write,
    ) -> io::Result<Current> {
        let current = match table::section(sections, title) {
            Some(section) => {
                self.state = Kind::Number;
                Current::Known {
                    section,
                    shown: self.selection.shows(section.flag),
                }
            }
            None => Current::Unknown,
        };
        if current.shown() {
            out.write_all(title)?;
            out.write_all(b":\n")?;
        }
        Ok(current)
    }

    /// One counter of a shown section (`printval()`).
    pub fn value(
        &mut self,
        current: &Current,
        key: &[u8],
        value: u64,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let entry = match current {
            Current::Known { section, .. } => table::lookup(section.entries, key),
            Current::Unknown => None,
        };
        let Some(entry) = entry else {
            // "Try our best": the kernel's name, when non-zero.
            if value != 0 {
                indent(out, self.state.indent())?;
                out.write_all(key)?;
                writeln!(out, ": {value}")?;
            }
            return Ok(());
        };
        if entry.is_static || entry.format.is_empty() {
            return Ok(());
        }
        let mut kind = entry.kind;
        if let Some(title) = kind.title()
            && self.state != kind
        {
            indent(out, self.state.indent())?;
            writeln!(out, "{title}")?;
        }
        let line = match kind {
            Kind::OptNumber if value == 0 => None,
            Kind::Number | Kind::OptNumber => Some(sentence(entry.format, &value.to_string())),
            Kind::Forward => {
                // Unreachable in net-tools (static, and bsearch misses it); kept as written
                // there: "enabled" for 2, which RFC 1213 calls "not forwarding".
                kind = Kind::Number;
                let word = if value == 2 { "enabled" } else { "disabled" };
                Some(sentence(entry.format, word))
            }
            Kind::InpIcmp | Kind::OutpIcmp => {
                (value > 0).then(|| sentence(entry.format, &value.to_string()))
            }
            Kind::RtoAlg => None,
        };
        if let Some(line) = line.filter(|l| !l.is_empty()) {
            indent(out, kind.indent())?;
            writeln!(out, "{line}")?;
        }
        self.state = kind;
        Ok(())
    }

    /// A whole section: its title, then its counters when shown.
    pub fn block(
        &mut self,
        sections: &'static [Section],
        block: &Block,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        let current = self.begin(sections, &block.title, out)?;
        if current.shown() {
            for (key, value) in &block.pairs {
                self.value(&current, key, *value, out)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse_pairs, parse_snmp6};
    use super::super::table::{SNMP_SECTIONS, SNMP6_SECTIONS};
    use super::*;

    const ALL: Selection = Selection {
        raw: true,
        tcp: true,
        udp: true,
        sctp: true,
    };

    fn render(selection: Selection, sections: &'static [Section], text: &str) -> String {
        let mut p = Printer::new(selection);
        let mut out = Vec::new();
        for b in parse_pairs(text.as_bytes()).blocks {
            p.block(sections, &b, &mut out).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives InHdrErrors ForwDatagrams OutRequests OutTransmits
Ip: 2 64 100 0 0 90 90
Icmp: InMsgs InErrors InCsumErrors InDestUnreachs InEchos OutMsgs OutErrors OutDestUnreachs OutEchos
Icmp: 3 0 0 3 0 2 0 2 0
IcmpMsg: InType3 OutType3
IcmpMsg: 3 2
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens InCsumErrors
Tcp: 1 200 120000 -1 5 0
UdpLite: InDatagrams NoPorts
UdpLite: 0 0
";

    #[test]
    fn everything_selected() {
        assert_eq!(
            render(ALL, SNMP_SECTIONS, SNMP),
            "\
Ip:
    Forwarding: 2
    100 total packets received
    0 forwarded
    90 requests sent out
    OutTransmits: 90
Icmp:
    3 ICMP messages received
    0 input ICMP message failed
    ICMP input histogram:
        destination unreachable: 3
    2 ICMP messages sent
    0 ICMP messages failed
    ICMP output histogram:
        destination unreachable: 2
IcmpMsg:
        InType3: 3
        OutType3: 2
Tcp:
    5 active connection openings
UdpLite:
"
        );
    }

    #[test]
    fn unknown_sections_print_whatever_is_selected() {
        let only_tcp = Selection {
            tcp: true,
            ..Selection::default()
        };
        assert_eq!(
            render(only_tcp, SNMP_SECTIONS, SNMP),
            "IcmpMsg:\n    InType3: 3\n    OutType3: 2\nTcp:\n    5 active connection openings\nUdpLite:\n"
        );
        assert_eq!(
            render(Selection::default(), SNMP_SECTIONS, SNMP),
            "IcmpMsg:\n    InType3: 3\n    OutType3: 2\nUdpLite:\n"
        );
    }

    #[test]
    fn a_histogram_title_comes_even_for_a_zero_line() {
        let text = "Icmp: InMsgs InEchos InDestUnreachs\nIcmp: 1 0 0\n";
        assert_eq!(
            render(ALL, SNMP_SECTIONS, text),
            "Icmp:\n    1 ICMP messages received\n    ICMP input histogram:\n"
        );
    }

    #[test]
    fn snmp6_output_histogram_title_takes_the_input_indent() {
        let text = "Icmp6InMsgs 1\nIcmp6OutMsgs 2\nIcmp6OutErrors 4\nIcmp6InDestUnreachs 1\n\
                    Icmp6OutDestUnreachs 1\nIcmp6OutRouterAdvertisements 3\nIcmp6InType1 1\n\
                    UdpLite6InDatagrams 0\n";
        let mut p = Printer::new(ALL);
        let mut out = Vec::new();
        for b in parse_snmp6(text.as_bytes()) {
            p.block(SNMP6_SECTIONS, &b, &mut out).unwrap();
        }
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\
Icmp6:
    1 ICMP messages received
    2 ICMP messages sent
    Icmp6OutErrors: 4
    ICMP input histogram:
        destination unreachable: 1
        ICMP output histogram:
        destination unreachable: 1
        Icmp6OutRouterAdvertisements: 3
        Icmp6InType1: 1
UdpLite6:
"
        );
    }

    #[test]
    fn bsearch_misses_print_raw() {
        let text = "TcpExt: TW TWKilled TCPTimeouts TCPLostRetransmit DelayedACKs TCPLoss\n\
                    TcpExt: 1 2 3 4 0 6\n";
        assert_eq!(
            render(ALL, SNMP_SECTIONS, text),
            "\
TcpExt:
    1 TCP sockets finished time wait in fast timer
    TWKilled: 2
    TCPTimeouts: 3
    TCPLostRetransmit: 4
    TCPLoss: 6
"
        );
    }

    #[test]
    fn sentences_have_one_placeholder() {
        let tables = [
            table::IP,
            table::IP6,
            table::ICMP,
            table::ICMP6,
            table::TCP,
            table::UDP,
            table::UDP6,
            table::TCP_EXT,
            table::SCTP,
        ];
        for entry in tables.iter().flat_map(|t| t.iter()) {
            if entry.format.is_empty() {
                continue;
            }
            let n = entry.format.matches('%').count();
            assert_eq!(n, 1, "{entry:?}");
            let want = if matches!(entry.kind, Kind::Forward | Kind::RtoAlg) {
                "%s"
            } else {
                "%llu"
            };
            assert!(entry.format.contains(want), "{entry:?}");
        }
        assert_eq!(sentence("%llu forwarded", "7"), "7 forwarded");
        assert_eq!(sentence("echo replies: %llu", "7"), "echo replies: 7");
    }
}
