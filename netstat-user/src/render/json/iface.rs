//! `interface` records (`-i`, also with `-e`): the short table's columns as numbers.
use std::{borrow::Cow, io, io::Write};

use serde::Serialize;

use super::{Stamp, text, write_record};
use crate::model::iface::{Fetched, short_flags};

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InterfaceRecord<'a> {
    /// Always `"interface"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    pub iface: Cow<'a, str>,
    pub mtu: i32,
    /// The counters are null for an interface without statistics (an IPv4 alias such as
    /// `eth0:1`, which the table shows as `- no statistics available -`).
    pub rx_ok: Option<u64>,
    pub rx_err: Option<u64>,
    pub rx_drp: Option<u64>,
    pub rx_ovr: Option<u64>,
    pub tx_ok: Option<u64>,
    pub tx_err: Option<u64>,
    pub tx_drp: Option<u64>,
    pub tx_ovr: Option<u64>,
    /// The `Flg` letters (`BMRU`, `LRU`...); empty for no flag.
    pub flags: String,
}

pub fn interface_record<'a>(stamp: &Stamp, i: &Fetched<'a>) -> InterfaceRecord<'a> {
    let s = i.stats;
    InterfaceRecord {
        kind: "interface",
        ts_ns: stamp.ts_ns,
        iface: text(i.name),
        mtu: i.mtu,
        rx_ok: s.map(|s| s.rx_packets),
        rx_err: s.map(|s| s.rx_errors),
        rx_drp: s.map(|s| s.rx_dropped),
        rx_ovr: s.map(|s| s.rx_fifo_errors),
        tx_ok: s.map(|s| s.tx_packets),
        tx_err: s.map(|s| s.tx_errors),
        tx_drp: s.map(|s| s.tx_dropped),
        tx_ovr: s.map(|s| s.tx_fifo_errors),
        flags: short_flags(i.flags),
    }
}

pub fn write_interface(out: &mut dyn Write, stamp: &Stamp, i: &Fetched<'_>) -> io::Result<()> {
    write_record(out, &interface_record(stamp, i))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;
    use crate::model::iface::{DevStats, IfMap};

    fn fetched<'a>(name: &'a [u8], flags: i16, stats: Option<&'a DevStats>) -> Fetched<'a> {
        Fetched {
            name,
            flags,
            arphrd: 1,
            hwaddr: [0; 32],
            mtu: 1500,
            txqlen: None,
            map: IfMap::default(),
            inet: None,
            stats,
        }
    }

    #[test]
    fn counters_and_flags() {
        let stats = DevStats {
            rx_packets: 5,
            rx_errors: 1,
            rx_dropped: 2,
            rx_fifo_errors: 3,
            tx_packets: 6,
            tx_errors: 7,
            tx_dropped: 8,
            tx_fifo_errors: 9,
            rx_bytes: 1000,
            ..Default::default()
        };
        let mut out = Vec::new();
        write_interface(&mut out, &STAMP, &fetched(b"eth0", 0x1043, Some(&stats))).expect("vec");
        assert_eq!(
            lines(&out)[0],
            json!({
                "type": "interface", "ts_ns": 1_700_000_000_123_456_789u64, "iface": "eth0",
                "mtu": 1500, "rx_ok": 5, "rx_err": 1, "rx_drp": 2, "rx_ovr": 3,
                "tx_ok": 6, "tx_err": 7, "tx_drp": 8, "tx_ovr": 9, "flags": "BMRU"
            })
        );
    }

    #[test]
    fn alias_without_statistics_has_null_counters() {
        let v = interface_record(&STAMP, &fetched(b"eth0:1", 0, None));
        assert_eq!(v.flags, "");
        let mut out = Vec::new();
        write_record(&mut out, &v).expect("vec");
        let v = &lines(&out)[0];
        for k in [
            "rx_ok", "rx_err", "rx_drp", "rx_ovr", "tx_ok", "tx_err", "tx_drp", "tx_ovr",
        ] {
            assert!(v[k].is_null(), "{k}");
        }
        let odd = interface_record(&STAMP, &fetched(b"e\"\xff", i16::MIN | 0x9, None));
        assert_eq!(
            (odd.iface.as_ref(), odd.flags.as_str()),
            ("e\"\u{fffd}", "LdU")
        );
    }
}
