//! `group` records (`-g`): multicast memberships.
use std::{borrow::Cow, io, io::Write, net::IpAddr};

use serde::Serialize;

use super::{Stamp, ip_text, text, write_record};
use crate::model::groups::{Group, Membership};

/// One membership.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GroupRecord<'a> {
    /// Always `"group"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub ts_ns: u64,
    pub iface: Cow<'a, str>,
    /// How many sockets (or kernel users) joined (`/proc/net/igmp`'s `Users`).
    pub refcnt: i32,
    pub group: String,
    /// `inet` or `inet6`.
    pub family: &'static str,
}

/// The device as a name: `/proc/net/igmp` pads it with blanks (`lo        `), which
/// net-tools keeps; a Linux interface name never holds a blank.
fn device_name(device: &[u8]) -> &[u8] {
    let end = device
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &device[..end]
}

pub fn group_record<'a>(stamp: &Stamp, m: &'a Membership) -> GroupRecord<'a> {
    let (group, family) = match m.group {
        Group::V4(a) => (IpAddr::V4(a), "inet"),
        Group::V6(a) => (IpAddr::V6(a), "inet6"),
    };
    GroupRecord {
        kind: "group",
        ts_ns: stamp.ts_ns,
        iface: text(device_name(&m.device)),
        refcnt: m.refcnt,
        group: ip_text(group),
        family,
    }
}

pub fn write_group(out: &mut dyn Write, stamp: &Stamp, m: &Membership) -> io::Result<()> {
    write_record(out, &group_record(stamp, m))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::tests::{STAMP, lines};
    use super::*;

    #[test]
    fn both_families() {
        let mut out = Vec::new();
        for (dev, group) in [
            (
                "veth-long-name1",
                Group::V4("239.1.2.3".parse().expect("addr")),
            ),
            ("lo        ", Group::V4("224.0.0.1".parse().expect("addr"))),
            ("lo", Group::V6("ff02::1:3".parse().expect("addr"))),
        ] {
            let m = Membership {
                device: dev.as_bytes().to_vec(),
                refcnt: 2,
                group,
            };
            write_group(&mut out, &STAMP, &m).expect("vec");
        }
        let v = lines(&out);
        assert_eq!(
            v[0],
            json!({
                "type": "group", "ts_ns": 1_700_000_000_123_456_789u64,
                "iface": "veth-long-name1", "refcnt": 2, "group": "239.1.2.3", "family": "inet"
            })
        );
        // /proc/net/igmp's padding is not part of the name.
        assert_eq!(v[1]["iface"], "lo");
        assert_eq!(
            (v[2]["group"].as_str(), v[2]["family"].as_str()),
            (Some("ff02::1:3"), Some("inet6"))
        );
        assert_eq!(device_name(b"  "), b"");
    }
}
