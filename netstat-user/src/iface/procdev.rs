//! `/proc/net/dev`, read the way net-tools 2.10 reads it (`lib/interface.c`:
//! `if_readlist_proc()`, `procnetdev_version()`, `get_name()`, `get_dev_fields()`), with
//! Debian's deb12u2 `get_name()` (the CVE-2025-46836 fix and its "statistic regression"
//! follow-up), which is what `/usr/bin/netstat` runs:
//!
//! * the file is read with `fgets()` into a 512-byte buffer: a longer line is read in
//!   pieces of 511 bytes, each piece counting as a line;
//! * the first two lines are skipped; the second one picks the layout: with `compressed`
//!   it is v3 (16 counters), with `bytes` v2 (13), else v1 (11);
//! * the name is copied up to white space, a `:` or **15 bytes**. A 15-byte name (the
//!   longest Linux allows) stops the copy just before its `:`, so the counters are then
//!   scanned from `":  1234 ..."`, `sscanf()` matches nothing and every counter of that
//!   interface stays 0 (captured with net-tools: its RX-OK is 0 however much it moved);
//! * the counters are `sscanf("%Lu %Lu %lu ...")`: leading white space, an optional sign,
//!   decimal digits, saturating at 2^64-1; the first field that does not match ends the
//!   scan and the fields after it keep their previous value (0 for a new interface).
use super::DevStats;

/// `fgets()` with net-tools' `char buf[512]` returns at most 511 bytes.
const FGETS_MAX: usize = 511;
/// `IFNAMSIZ - 1`: the most bytes the patched `get_name()` copies.
const NAME_MAX: usize = 15;

/// Which counters a line holds (`procnetdev_vsn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Linux 2.0: packets only.
    V1,
    /// Linux 2.1/2.2: bytes, no compressed/multicast.
    V2,
    /// Linux 2.4 and later.
    V3,
}

/// One interface line: the name as net-tools cuts it and the rest of the line, whose
/// counters [`apply`] scans into a [`DevStats`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevLine<'a> {
    pub name: Vec<u8>,
    pub rest: &'a [u8],
}

/// The parsed file: its layout and its interface lines, in file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcDev<'a> {
    pub layout: Layout,
    pub lines: Vec<DevLine<'a>>,
}

/// Splits `text` as successive `fgets()` calls would (without the NUL-terminated view:
/// a NUL inside a line ends what C code sees of it).
fn fgets_lines(mut text: &[u8]) -> impl Iterator<Item = &[u8]> {
    std::iter::from_fn(move || {
        if text.is_empty() {
            return None;
        }
        let end = match text.iter().take(FGETS_MAX).position(|&b| b == b'\n') {
            Some(nl) => nl + 1,
            None => text.len().min(FGETS_MAX),
        };
        let (line, rest) = text.split_at(end);
        text = rest;
        let visible = line.iter().position(|&b| b == 0).unwrap_or(line.len());
        Some(&line[..visible])
    })
}

/// `procnetdev_version()` of the second header line.
fn layout_of(header: &[u8]) -> Layout {
    let has = |word: &[u8]| header.windows(word.len()).any(|w| w == word);
    if has(b"compressed") {
        Layout::V3
    } else if has(b"bytes") {
        Layout::V2
    } else {
        Layout::V1
    }
}

/// C `isspace()` in the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Debian's patched `get_name()`: the name and the position where the counters start.
pub fn get_name(line: &[u8]) -> (Vec<u8>, usize) {
    let mut p = line
        .iter()
        .position(|&b| !is_space(b))
        .unwrap_or(line.len());
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut name = Vec::with_capacity(NAME_MAX);
    while p < line.len() && !is_space(line[p]) && name.len() < NAME_MAX {
        if line[p] == b':' {
            // `eth0:1:` is an alias (old kernels listed them); `eth0:` ends the name.
            let colon = p;
            p += 1;
            while at(p).is_ascii_digit() {
                p += 1;
            }
            if at(p) == b':' {
                p = colon;
                name.push(b':');
                p += 1;
                while at(p).is_ascii_digit() && name.len() < NAME_MAX {
                    name.push(line[p]);
                    p += 1;
                }
            } else {
                p = colon;
            }
            if at(p) == b':' {
                p += 1;
            }
            break;
        }
        name.push(line[p]);
        p += 1;
    }
    (name, p)
}

/// Parses the whole file (see the module documentation).
pub fn parse(text: &[u8]) -> ProcDev<'_> {
    let mut lines = fgets_lines(text);
    let first = lines.next();
    // With a one-line file the second fgets() fails and the buffer still holds line 1.
    let header = lines.next().or(first).unwrap_or_default();
    let layout = layout_of(header);
    let lines = lines
        .map(|line| {
            let (name, start) = get_name(line);
            DevLine {
                name,
                rest: &line[start..],
            }
        })
        .collect();
    ProcDev { layout, lines }
}

/// One `%Lu`/`%lu` conversion of glibc's `sscanf()`: skips white space, takes an optional
/// sign and decimal digits (`strtoull()`: saturates at 2^64-1, a `-` negates modulo 2^64).
/// `None` when no digit matches; `pos` is left after the number.
fn scan_u64(s: &[u8], pos: &mut usize) -> Option<u64> {
    let mut p = *pos;
    while p < s.len() && is_space(s[p]) {
        p += 1;
    }
    let negative = match s.get(p) {
        Some(b'-') => {
            p += 1;
            true
        }
        Some(b'+') => {
            p += 1;
            false
        }
        _ => false,
    };
    let digits = s[p.min(s.len())..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let mut value: u64 = 0;
    let mut overflow = false;
    for &d in &s[p..p + digits] {
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
        {
            Some(v) => value = v,
            None => overflow = true,
        }
    }
    *pos = p + digits;
    Some(if overflow {
        u64::MAX
    } else if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// A counter of [`DevStats`], for the layout tables.
#[derive(Clone, Copy, Debug)]
enum Field {
    RxBytes,
    RxPackets,
    RxErrors,
    RxDropped,
    RxFifo,
    RxFrame,
    RxCompressed,
    RxMulticast,
    TxBytes,
    TxPackets,
    TxErrors,
    TxDropped,
    TxFifo,
    Collisions,
    TxCarrier,
    TxCompressed,
}

use Field::*;

/// The `sscanf()` formats of `get_dev_fields()`, field by field.
const V3_FIELDS: &[Field] = &[
    RxBytes,
    RxPackets,
    RxErrors,
    RxDropped,
    RxFifo,
    RxFrame,
    RxCompressed,
    RxMulticast,
    TxBytes,
    TxPackets,
    TxErrors,
    TxDropped,
    TxFifo,
    Collisions,
    TxCarrier,
    TxCompressed,
];
const V2_FIELDS: &[Field] = &[
    RxBytes, RxPackets, RxErrors, RxDropped, RxFifo, RxFrame, TxBytes, TxPackets, TxErrors,
    TxDropped, TxFifo, Collisions, TxCarrier,
];
const V1_FIELDS: &[Field] = &[
    RxPackets, RxErrors, RxDropped, RxFifo, RxFrame, TxPackets, TxErrors, TxDropped, TxFifo,
    Collisions, TxCarrier,
];

fn field_mut(s: &mut DevStats, f: Field) -> &mut u64 {
    match f {
        RxBytes => &mut s.rx_bytes,
        RxPackets => &mut s.rx_packets,
        RxErrors => &mut s.rx_errors,
        RxDropped => &mut s.rx_dropped,
        RxFifo => &mut s.rx_fifo_errors,
        RxFrame => &mut s.rx_frame_errors,
        RxCompressed => &mut s.rx_compressed,
        RxMulticast => &mut s.rx_multicast,
        TxBytes => &mut s.tx_bytes,
        TxPackets => &mut s.tx_packets,
        TxErrors => &mut s.tx_errors,
        TxDropped => &mut s.tx_dropped,
        TxFifo => &mut s.tx_fifo_errors,
        Collisions => &mut s.collisions,
        TxCarrier => &mut s.tx_carrier_errors,
        TxCompressed => &mut s.tx_compressed,
    }
}

/// `get_dev_fields()`: scans the counters of `rest` into `stats` in `layout`'s order.
/// A field that does not match ends the scan; the fields after it keep their values.
/// v2 then zeroes `rx_multicast`, v1 the byte counters and `rx_multicast`, as net-tools.
pub fn apply(layout: Layout, rest: &[u8], stats: &mut DevStats) {
    let order = match layout {
        Layout::V3 => V3_FIELDS,
        Layout::V2 => V2_FIELDS,
        Layout::V1 => V1_FIELDS,
    };
    let mut pos = 0;
    for &field in order {
        match scan_u64(rest, &mut pos) {
            Some(v) => *field_mut(stats, field) = v,
            None => break,
        }
    }
    match layout {
        Layout::V3 => {}
        Layout::V2 => stats.rx_multicast = 0,
        Layout::V1 => {
            stats.rx_bytes = 0;
            stats.tx_bytes = 0;
            stats.rx_multicast = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "Inter-|   Receive                                                |  Transmit\n \
         face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    fn stats_of(text: &str) -> Vec<(String, DevStats)> {
        let parsed = parse(text.as_bytes());
        parsed
            .lines
            .iter()
            .map(|l| {
                let mut s = DevStats::default();
                apply(parsed.layout, l.rest, &mut s);
                (String::from_utf8_lossy(&l.name).into_owned(), s)
            })
            .collect()
    }

    #[test]
    fn v3_line_maps_every_column() {
        let text = format!(
            "{HEADER}  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0\n"
        );
        let rows = stats_of(&text);
        assert_eq!(rows.len(), 2);
        let (name, s) = &rows[0];
        assert_eq!(name, "eth0");
        assert_eq!(
            (s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped),
            (1, 2, 3, 4)
        );
        assert_eq!(
            (
                s.rx_fifo_errors,
                s.rx_frame_errors,
                s.rx_compressed,
                s.rx_multicast
            ),
            (5, 6, 7, 8)
        );
        assert_eq!(
            (s.tx_bytes, s.tx_packets, s.tx_errors, s.tx_dropped),
            (9, 10, 11, 12)
        );
        assert_eq!(
            (
                s.tx_fifo_errors,
                s.collisions,
                s.tx_carrier_errors,
                s.tx_compressed
            ),
            (13, 14, 15, 16)
        );
        assert_eq!(rows[1].0, "lo");
        assert_eq!(rows[1].1, DevStats::default());
    }

    #[test]
    fn counters_are_64_bit_and_saturate_like_strtoull() {
        let text =
            format!("{HEADER}eth0: 18446744073709551615 18446744073709551616 -1 +7 4294967296\n");
        let rows = stats_of(&text);
        let s = &rows[0].1;
        assert_eq!(s.rx_bytes, u64::MAX);
        assert_eq!(s.rx_packets, u64::MAX);
        assert_eq!(s.rx_errors, u64::MAX); // "-1" negated modulo 2^64
        assert_eq!(s.rx_dropped, 7);
        assert_eq!(s.rx_fifo_errors, 1 << 32);
        // The scan stopped at the end of the line: the rest stays 0.
        assert_eq!(s.rx_frame_errors, 0);
    }

    #[test]
    fn fifteen_byte_name_gets_no_counters() {
        // The Debian get_name() stops after 15 bytes, before the ':', and the scan of
        // ":  1072 8 ..." matches nothing.
        let text = format!(
            "{HEADER}abcdefghijklmno:    1072       8    0    0    0     0          0         0     1018       9    0    0    0     0       0          0\n\
             abcdefghijklmn:    1072       8    0    0    0     0          0         0     1018       9    0    0    0     0       0          0\n"
        );
        let rows = stats_of(&text);
        assert_eq!(rows[0].0, "abcdefghijklmno");
        assert_eq!(rows[0].1, DevStats::default());
        assert_eq!(rows[1].0, "abcdefghijklmn");
        assert_eq!(rows[1].1.rx_packets, 8);
        assert_eq!(rows[1].1.tx_packets, 9);
    }

    #[test]
    fn names_and_aliases() {
        assert_eq!(get_name(b"  eth0: 1 2"), (b"eth0".to_vec(), 7));
        assert_eq!(get_name(b"eth0:12: 1"), (b"eth0:12".to_vec(), 8));
        // A colon followed by digits and no second colon is the end of the name.
        assert_eq!(get_name(b"eth0:12 1"), (b"eth0".to_vec(), 5));
        assert_eq!(get_name(b"lo:0 0"), (b"lo".to_vec(), 3));
        // No colon at all: the name ends at white space.
        assert_eq!(get_name(b"eth0 1 2"), (b"eth0".to_vec(), 4));
        assert_eq!(get_name(b""), (Vec::new(), 0));
        assert_eq!(get_name(b"   "), (Vec::new(), 3));
        // An alias whose digits run past 15 bytes is cut, and its colon not consumed.
        assert_eq!(
            get_name(b"abcdefghijkl:1234: 5"),
            (b"abcdefghijkl:12".to_vec(), 15)
        );
        // Bytes that are not ASCII are copied as they are.
        assert_eq!(get_name(b"\xc3\xa9th0: 1"), (b"\xc3\xa9th0".to_vec(), 6));
    }

    #[test]
    fn layouts_follow_the_second_header_line() {
        assert_eq!(parse(HEADER.as_bytes()).layout, Layout::V3);
        let v2 = "Inter-|   Receive\n face |bytes    packets errs drop fifo frame|bytes    packets errs drop fifo colls carrier\n\
                  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14\n";
        let parsed = parse(v2.as_bytes());
        assert_eq!(parsed.layout, Layout::V2);
        let mut s = DevStats {
            rx_multicast: 99,
            ..DevStats::default()
        };
        apply(parsed.layout, parsed.lines[0].rest, &mut s);
        assert_eq!((s.rx_bytes, s.tx_bytes, s.tx_carrier_errors), (1, 7, 13));
        assert_eq!(s.rx_multicast, 0);
        let v1 = "Inter-|   Receive\n face |packets errs drop fifo frame|packets errs drop fifo colls carrier\n\
                  eth0: 1 2 3 4 5 6 7 8 9 10 11\n";
        let parsed = parse(v1.as_bytes());
        assert_eq!(parsed.layout, Layout::V1);
        let mut s = DevStats {
            rx_bytes: 5,
            ..DevStats::default()
        };
        apply(parsed.layout, parsed.lines[0].rest, &mut s);
        assert_eq!(
            (s.rx_packets, s.rx_bytes, s.tx_packets, s.tx_carrier_errors),
            (1, 0, 6, 11)
        );
        // A one-line file: the layout comes from that line; no interfaces.
        let parsed = parse(b"face bytes compressed\n");
        assert_eq!(parsed.layout, Layout::V3);
        assert!(parsed.lines.is_empty());
        assert!(parse(b"").lines.is_empty());
    }

    #[test]
    fn a_bad_field_stops_the_scan_and_keeps_old_values() {
        let text = format!("{HEADER}eth0: 1 2 x 4\n");
        let parsed = parse(text.as_bytes());
        let mut s = DevStats {
            rx_errors: 42,
            rx_dropped: 43,
            ..DevStats::default()
        };
        apply(parsed.layout, parsed.lines[0].rest, &mut s);
        assert_eq!(
            (s.rx_bytes, s.rx_packets, s.rx_errors, s.rx_dropped),
            (1, 2, 42, 43)
        );
    }

    #[test]
    fn long_lines_are_read_in_fgets_pieces() {
        let long = format!("{HEADER}eth0: 1{}2\nlo: 3\n", " ".repeat(600));
        let parsed = parse(long.as_bytes());
        // "eth0: 1   ..." (511 bytes), then "   ...2\n" whose name is "2", then lo.
        let names: Vec<&[u8]> = parsed.lines.iter().map(|l| l.name.as_slice()).collect();
        assert_eq!(names, [&b"eth0"[..], b"2", b"lo"]);
        // A NUL hides the rest of its line.
        let text = format!("{HEADER}eth0: 5\0 6\n");
        let parsed = parse(text.as_bytes());
        let mut s = DevStats::default();
        apply(parsed.layout, parsed.lines[0].rest, &mut s);
        assert_eq!((s.rx_bytes, s.rx_packets), (5, 0));
    }
}
