//! `--json`: JSON lines. One object per line on stdout and nothing else there (notes and
//! errors go to stderr); every record has `type` and `ts_ns`. The record shapes are
//! documented, with examples, in `docs/json.md` and checked by `docs/netstat.schema.json`.
//!
//! The renderers here take the very model values the table renderers take (an
//! [`InetSocket`](crate::model::InetSocket), a route module's row, a
//! [`Fetched`](crate::iface::Fetched) interface, ...): `--json` changes the last step
//! only, never where the data comes from.
//!
//! Rules shared by every record:
//! * numbers are numbers: no name is ever looked up (`-n` or not), ports are integers;
//! * addresses are text without brackets: IPv4 dotted quads, IPv6 as glibc's
//!   `inet_ntop()` writes them (the table's spelling; v4-mapped ones as `::ffff:a.b.c.d`);
//! * a value the source does not know is `null`, never left out;
//! * bytes that are not UTF-8 (unix socket paths, interface names, program names) are
//!   replaced by U+FFFD, one per invalid sequence (`String::from_utf8_lossy`): the output
//!   is always valid UTF-8. serde_json escapes quotes, backslashes and control bytes.
use std::{
    borrow::Cow,
    io::{self, Write},
    net::IpAddr,
    path::Path,
    time::{SystemTime, UNIX_EPOCH},
};

use serde::Serialize;

pub mod events;
pub mod groups;
pub mod iface;
pub mod masq;
pub mod route;
pub mod sockets;
pub mod stats;

#[cfg(test)]
mod runs;

/// What every record of one listing shares: its time, and (socket records) the network
/// namespace it was taken in. With `-c`, each listing gets a new one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// Wall-clock time of the listing, in ns since the Unix epoch.
    pub ts_ns: u64,
    /// Inode of the listing's network namespace (`/proc/self/ns/net`); `None` when it
    /// cannot be read (a `PROC_ROOT` tree without it).
    pub netns: Option<u64>,
}

impl Stamp {
    /// A listing starting now in the namespace of this process, as `proc_root` shows it.
    pub fn listing(proc_root: &Path) -> Stamp {
        Stamp {
            ts_ns: wall_clock_ns(),
            netns: crate::system::own_netns(proc_root).map(u64::from),
        }
    }
}

/// Now, in ns since the Unix epoch (0 for a clock set before 1970).
pub fn wall_clock_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// Writes one record and its newline.
pub fn write_record(out: &mut dyn Write, record: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// Bytes from the system as JSON text: invalid UTF-8 becomes U+FFFD.
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

/// An address as the records spell it (see the module documentation).
pub fn ip_text(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => crate::names::ntop6(a),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub const STAMP: Stamp = Stamp {
        ts_ns: 1_700_000_000_123_456_789,
        netns: Some(4026531840),
    };

    /// The lines a renderer wrote, each checked to be one JSON object.
    pub fn lines(out: &[u8]) -> Vec<serde_json::Value> {
        let text = std::str::from_utf8(out).expect("JSON output is UTF-8");
        assert!(text.ends_with('\n'), "{text:?}");
        text.lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("one JSON value a line");
                assert!(v.is_object(), "{l}");
                v
            })
            .collect()
    }

    #[test]
    fn addresses_have_no_brackets() {
        assert_eq!(ip_text("10.0.0.1".parse().expect("addr")), "10.0.0.1");
        assert_eq!(ip_text("::1".parse().expect("addr")), "::1");
        assert_eq!(ip_text("::".parse().expect("addr")), "::");
        assert_eq!(
            ip_text("::ffff:127.0.0.1".parse().expect("addr")),
            "::ffff:127.0.0.1"
        );
        assert_eq!(
            ip_text("2001:db8::a:0:0:1".parse().expect("addr")),
            "2001:db8::a:0:0:1"
        );
    }

    #[test]
    fn non_utf8_is_replaced_and_control_bytes_escaped() {
        #[derive(Serialize)]
        struct S<'a> {
            s: Cow<'a, str>,
        }
        let mut out = Vec::new();
        let raw = b"a\"b\\c\n\t\x01\x7f\xff\xfe/\xc3\xa9";
        write_record(&mut out, &S { s: text(raw) }).expect("vec");
        assert_eq!(
            String::from_utf8(out.clone()).expect("utf-8"),
            "{\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\u{7f}\u{fffd}\u{fffd}/\u{e9}\"}\n"
        );
        let v = lines(&out);
        assert_eq!(v[0]["s"], "a\"b\\c\n\t\u{1}\u{7f}\u{fffd}\u{fffd}/é");
    }

    #[test]
    fn stamp_is_now() {
        let before = wall_clock_ns();
        let s = Stamp::listing(Path::new("/nonexistent"));
        assert!(s.ts_ns >= before && s.ts_ns <= wall_clock_ns());
        assert_eq!(s.netns, None);
        // 2001-09-09 onwards: a real clock, in ns.
        assert!(s.ts_ns > 1_000_000_000_000_000_000);
    }
}
