//! `statistic` records (`-s`): one per counter of every section the options select.
//!
//! Every counter of a shown section is a record, also those the table leaves out (zero
//! values of optional sentences, `RtoAlgorithm`...): a consumer gets the kernel's numbers,
//! not net-tools' selection of sentences. Sections net-tools has no table for are shown
//! whatever `-t -u -w` say, as in the table.
use std::{borrow::Cow, io, io::Write};

use serde::Serialize;

use super::{Stamp, text, write_record};
use crate::model::stats::Block;

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

/// Every counter of `block` (the caller leaves out the sections the options do not
/// show).
pub fn write_block(out: &mut dyn Write, stamp: &Stamp, block: &Block) -> io::Result<()> {
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
