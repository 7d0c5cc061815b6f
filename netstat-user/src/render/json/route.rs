//! `route` records (`-r`): the rows the route printers hand to the table renderers.
use std::{borrow::Cow, io, io::Write, net::Ipv4Addr};

use serde::Serialize;

use super::{Stamp, text, write_record};
use crate::{
    model::route::{CacheFormat, CacheRow, Fib6Row, FibRow, cache_flags, fib_flags, flags6},
    names::ntop6,
};

/// `RT_TABLE_MAIN`: `/proc/net/route` lists the main table only.
const MAIN_TABLE: u32 = 254;

/// One route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RouteRecord<'a> {
    /// Always `"route"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    /// `inet` or `inet6`.
    pub family: &'static str,
    pub destination: String,
    /// null for an IPv4 netmask that is not a prefix.
    pub prefix_len: Option<u8>,
    /// `0.0.0.0` / `::` for a route without a gateway (no `G` flag).
    pub gateway: String,
    /// net-tools' letters (`UG`, `UH`, `!n`...).
    pub flags: String,
    /// The kernel's unsigned 32-bit priority (net-tools prints `-1` for 4294967295).
    pub metric: u32,
    #[serde(rename = "ref")]
    pub refcnt: i32,
    #[serde(rename = "use")]
    pub use_count: i32,
    /// null where the kernel has no device (`*` in `/proc/net/route`).
    pub iface: Option<Cow<'a, str>>,
    /// IPv4 only (`/proc/net/route`'s MTU column, which net-tools shows as MSS).
    pub mss: Option<i32>,
    pub window: Option<i32>,
    pub irtt: Option<i32>,
    /// Routing table id where the source says it (IPv4 FIB: main, 254).
    pub table: Option<u32>,
}

/// The prefix length of a contiguous netmask.
pub fn prefix_len(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    (m.leading_ones() + m.trailing_zeros() == 32).then(|| m.leading_ones() as u8)
}

fn iface(name: &[u8]) -> Option<Cow<'_, str>> {
    (!name.is_empty() && name != b"*").then(|| text(name))
}

/// An IPv4 FIB row (`/proc/net/route`).
pub fn fib_record<'a>(stamp: &Stamp, row: &FibRow<'a>) -> RouteRecord<'a> {
    RouteRecord {
        kind: "route",
        ts_ns: stamp.ts_ns,
        family: "inet",
        destination: row.destination.to_string(),
        prefix_len: prefix_len(row.mask),
        gateway: row.gateway.to_string(),
        flags: fib_flags(row.flags),
        metric: row.metric as u32,
        refcnt: row.refcnt,
        use_count: row.use_count,
        iface: iface(row.iface),
        mss: Some(row.mss),
        window: Some(row.window),
        irtt: Some(row.irtt),
        table: Some(MAIN_TABLE),
    }
}

pub fn write_fib(out: &mut dyn Write, stamp: &Stamp, row: &FibRow<'_>) -> io::Result<()> {
    write_record(out, &fib_record(stamp, row))
}

/// An IPv4 routing-cache row (`-C`; the file has had no rows since Linux 3.6): a host
/// route to its destination.
pub fn cache_record<'a>(stamp: &Stamp, row: &CacheRow<'a>, format: CacheFormat) -> RouteRecord<'a> {
    RouteRecord {
        kind: "route",
        ts_ns: stamp.ts_ns,
        family: "inet",
        destination: row.destination.to_string(),
        prefix_len: Some(32),
        gateway: row.gateway.to_string(),
        flags: cache_flags(row.flags, format),
        metric: row.metric as u32,
        refcnt: row.refcnt,
        use_count: row.use_count,
        iface: iface(row.iface),
        mss: Some(row.mss),
        window: Some(row.window),
        irtt: Some(row.irtt),
        table: None,
    }
}

pub fn write_cache(
    out: &mut dyn Write,
    stamp: &Stamp,
    row: &CacheRow<'_>,
    format: CacheFormat,
) -> io::Result<()> {
    write_record(out, &cache_record(stamp, row, format))
}

/// An IPv6 row (`/proc/net/ipv6_route`, every table, without the table's id).
pub fn fib6_record<'a>(stamp: &Stamp, row: &Fib6Row<'a>) -> RouteRecord<'a> {
    RouteRecord {
        kind: "route",
        ts_ns: stamp.ts_ns,
        family: "inet6",
        destination: ntop6(row.destination),
        prefix_len: u8::try_from(row.prefix_len).ok().filter(|&p| p <= 128),
        gateway: ntop6(row.next_hop),
        flags: flags6(row.flags),
        metric: row.metric as u32,
        refcnt: row.refcnt,
        use_count: row.use_count,
        iface: iface(row.iface),
        mss: None,
        window: None,
        irtt: None,
        table: None,
    }
}

pub fn write_fib6(out: &mut dyn Write, stamp: &Stamp, row: &Fib6Row<'_>) -> io::Result<()> {
    write_record(out, &fib6_record(stamp, row))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;
    use crate::model::route::{RTF_GATEWAY, RTF_HOST, RTF_REJECT, RTF_UP};

    #[test]
    fn ipv4_fib_row() {
        let row = FibRow {
            iface: b"eth0",
            destination: Ipv4Addr::new(192, 0, 2, 0),
            gateway: Ipv4Addr::new(10, 0, 0, 1),
            mask: Ipv4Addr::new(255, 255, 255, 0),
            flags: RTF_UP | RTF_GATEWAY,
            refcnt: 0,
            use_count: 0,
            metric: -1,
            mss: 1460,
            window: 0,
            irtt: 3,
        };
        let mut out = Vec::new();
        write_fib(&mut out, &STAMP, &row).expect("vec");
        assert_eq!(
            lines(&out)[0],
            json!({
                "type": "route", "ts_ns": 1_700_000_000_123_456_789u64, "family": "inet",
                "destination": "192.0.2.0", "prefix_len": 24, "gateway": "10.0.0.1",
                "flags": "UG", "metric": 4294967295u32, "ref": 0, "use": 0, "iface": "eth0",
                "mss": 1460, "window": 0, "irtt": 3, "table": 254
            })
        );
        let odd = FibRow {
            iface: b"*",
            mask: Ipv4Addr::new(255, 0, 255, 0),
            flags: RTF_UP | RTF_REJECT,
            ..row
        };
        let v = fib_record(&STAMP, &odd);
        assert_eq!((v.prefix_len, v.iface, v.flags.as_str()), (None, None, "!"));
    }

    #[test]
    fn prefix_lengths() {
        assert_eq!(prefix_len(Ipv4Addr::UNSPECIFIED), Some(0));
        assert_eq!(prefix_len(Ipv4Addr::BROADCAST), Some(32));
        assert_eq!(prefix_len(Ipv4Addr::new(255, 255, 128, 0)), Some(17));
        assert_eq!(prefix_len(Ipv4Addr::new(0, 0, 0, 255)), None);
    }

    #[test]
    fn ipv6_row_has_no_brackets_and_null_ipv4_columns() {
        let row = Fib6Row {
            destination: "2001:db8:1::".parse().expect("addr"),
            prefix_len: 64,
            next_hop: "fe80::1".parse().expect("addr"),
            metric: 1024,
            refcnt: 2,
            use_count: 7,
            flags: 0x0003,
            iface: b"veth0",
        };
        let mut out = Vec::new();
        write_fib6(&mut out, &STAMP, &row).expect("vec");
        assert_eq!(
            lines(&out)[0],
            json!({
                "type": "route", "ts_ns": 1_700_000_000_123_456_789u64, "family": "inet6",
                "destination": "2001:db8:1::", "prefix_len": 64, "gateway": "fe80::1",
                "flags": "UG", "metric": 1024, "ref": 2, "use": 7, "iface": "veth0",
                "mss": null, "window": null, "irtt": null, "table": null
            })
        );
        let bad = Fib6Row {
            prefix_len: 200,
            iface: b"n\xffo",
            ..row
        };
        let v = fib6_record(&STAMP, &bad);
        assert_eq!(v.prefix_len, None);
        assert_eq!(v.iface.as_deref(), Some("n\u{fffd}o"));
    }

    #[test]
    fn cache_row_is_a_host_route() {
        let row = CacheRow {
            iface: b"lo",
            source: Ipv4Addr::LOCALHOST,
            destination: Ipv4Addr::new(127, 0, 0, 2),
            gateway: Ipv4Addr::UNSPECIFIED,
            spec_dst: Ipv4Addr::LOCALHOST,
            flags: RTF_UP | RTF_HOST,
            refcnt: 1,
            use_count: 2,
            metric: 0,
            mss: 0,
            window: 0,
            irtt: 0,
            extra: [0; 3],
        };
        let v = cache_record(&STAMP, &row, CacheFormat::Linux20);
        assert_eq!(
            (v.prefix_len, v.flags.as_str(), v.table),
            (Some(32), "UH", None)
        );
    }
}
