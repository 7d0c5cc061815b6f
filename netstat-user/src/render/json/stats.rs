//! `statistic` records (`-s`): one per counter of every section the options select.
//!
//! Every counter of a shown section is a record, also those the table leaves out (zero
//! values of optional sentences, `RtoAlgorithm`...): a consumer gets the kernel's numbers,
//! not net-tools' selection of sentences. Sections net-tools has no table for are shown
//! whatever `-t -u -w` say, as in the table.
use std::{borrow::Cow, io, io::Write};

use serde::Serialize;

use super::{Stamp, text, write_record};
use crate::stats::{
    parse::Block,
    render::Selection,
    table::{self, Section},
};

/// One counter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatisticRecord<'a> {
    /// Always `"statistic"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    /// The kernel's section (`Ip`, `Tcp`, `TcpExt`, `Ip6`, `Icmp6`, `Sctp`...).
    pub section: Cow<'a, str>,
    /// The kernel's counter name (`ActiveOpens`; in `/proc/net/snmp6` sections the name
    /// keeps its prefix, `Ip6InReceives`, as the kernel prints it).
    pub name: Cow<'a, str>,
    pub value: u64,
}

/// Whether the options show the section titled `title` (`newtable()`'s choice).
pub fn shown(sections: &'static [Section], title: &[u8], selection: &Selection) -> bool {
    table::section(sections, title).is_none_or(|s| selection.shows(s.flag))
}

/// Every counter of `block` when its section is shown.
pub fn write_block(
    out: &mut dyn Write,
    stamp: &Stamp,
    sections: &'static [Section],
    block: &Block,
    selection: &Selection,
) -> io::Result<()> {
    if !shown(sections, &block.title, selection) {
        return Ok(());
    }
    for (name, value) in &block.pairs {
        let record = StatisticRecord {
            kind: "statistic",
            ts_ns: stamp.ts_ns,
            section: text(&block.title),
            name: text(name),
            value: *value,
        };
        write_record(out, &record)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;
    use crate::stats::{
        parse::parse_pairs,
        table::{SNMP_SECTIONS, SNMP6_SECTIONS},
    };

    fn render(
        selection: Selection,
        sections: &'static [Section],
        blocks: &[Block],
    ) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        for b in blocks {
            write_block(&mut out, &STAMP, sections, b, &selection).expect("vec");
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
