//! `masquerade` records (`-M`): one per NAT entry, the columns of net-tools' table.
use std::{io, io::Write};

use serde::Serialize;

use super::{Stamp, write_record};
use crate::model::MasqEntry;

/// One masquerade entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MasqueradeRecord {
    /// Always `"masquerade"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    /// `tcp`, `udp`, `icmp`, `gre`, `esp` or `ip`.
    pub proto: &'static str,
    /// The masqueraded (inside) host and its port (0: none, the table's `*`).
    pub local_addr: String,
    pub local_port: u16,
    /// The destination and its port.
    pub remote_addr: String,
    pub remote_port: u16,
    /// The port the router uses in its place.
    pub masq_port: u16,
    /// Time left, in ms.
    pub expires_ms: u64,
    /// `-e` only: "add delta from this sequence number on".
    pub initseq: Option<u64>,
    /// `-e` only: the sequence number delta.
    pub delta: Option<i16>,
    /// `-e` only: the delta before the last one; null also where the source has none.
    pub prevd: Option<i16>,
}

pub fn masquerade_record(stamp: &Stamp, e: &MasqEntry, extend: bool) -> MasqueradeRecord {
    MasqueradeRecord {
        kind: "masquerade",
        ts_ns: stamp.ts_ns,
        proto: e.proto,
        local_addr: e.src.to_string(),
        local_port: e.sport,
        remote_addr: e.dst.to_string(),
        remote_port: e.dport,
        masq_port: e.mport,
        // `expires` is in hundredths of a second.
        expires_ms: e.expires.saturating_mul(10),
        initseq: extend.then_some(e.initseq),
        delta: extend.then_some(e.delta),
        prevd: e.pdelta.filter(|_| extend),
    }
}

/// Every entry (no title, no header: nothing at all for no entry).
pub fn write_entries(
    out: &mut dyn Write,
    stamp: &Stamp,
    entries: &[MasqEntry],
    extend: bool,
) -> io::Result<()> {
    for e in entries {
        write_record(out, &masquerade_record(stamp, e, extend))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;

    fn entry() -> MasqEntry {
        MasqEntry {
            proto: "udp",
            expires: 2_999,
            src: "192.168.77.2".parse().expect("addr"),
            dst: "10.77.0.2".parse().expect("addr"),
            sport: 40000,
            dport: 53,
            mport: 61000,
            initseq: 12345,
            delta: -3,
            pdelta: None,
        }
    }

    #[test]
    fn plain_and_extended() {
        let mut out = Vec::new();
        write_entries(&mut out, &STAMP, &[entry()], false).expect("vec");
        let mut e = entry();
        e.pdelta = Some(7);
        write_entries(&mut out, &STAMP, &[entry(), e], true).expect("vec");
        let v = lines(&out);
        assert_eq!(
            v[0],
            json!({
                "type": "masquerade", "ts_ns": 1_700_000_000_123_456_789u64, "proto": "udp",
                "local_addr": "192.168.77.2", "local_port": 40000,
                "remote_addr": "10.77.0.2", "remote_port": 53, "masq_port": 61000,
                "expires_ms": 29990, "initseq": null, "delta": null, "prevd": null
            })
        );
        assert_eq!(
            (v[1]["initseq"].as_u64(), v[1]["delta"].as_i64()),
            (Some(12345), Some(-3))
        );
        assert!(v[1]["prevd"].is_null());
        assert_eq!(v[2]["prevd"].as_i64(), Some(7));
        let mut none = Vec::new();
        write_entries(&mut none, &STAMP, &[], true).expect("vec");
        assert!(none.is_empty());
    }
}
