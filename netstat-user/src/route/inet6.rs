//! IPv6: the routing table from `/proc/net/ipv6_route` (`lib/inet6_gr.c:rprint_fib6()`)
//! and, for `-C`, the neighbour cache from `/proc/net/ndisc` (`rprint_cache6()`), a
//! file no kernel since 2.2 has: without it `-C` prints the `RTF_CACHE` routes instead.

use std::io::{self, Write};
use std::net::Ipv6Addr;

use super::scan::{Kind, Slots};
use super::{RouteNames, RouteView, pad};
use crate::model::route::{Fib6Row, RTF_CACHE, flags6};
use crate::names::ntop6;

/// `rprint_fib6()` reads lines with `fgets(buff, 1023, fp)`.
pub const LINE_SIZE: usize = 1023;

/// The `sscanf()` of `rprint_fib6()`: `%4s` x8 ` %02x ` `%4s` x8 ` %02x ` `%4s` x8
/// ` %08x %08x %08x %08x %15s`.
const FIB6_KINDS: [Kind; 31] = {
    let mut k = [Kind::Str(4); 31];
    k[8] = Kind::Hex(Some(2));
    k[17] = Kind::Hex(Some(2));
    k[26] = Kind::Hex(Some(8));
    k[27] = Kind::Hex(Some(8));
    k[28] = Kind::Hex(Some(8));
    k[29] = Kind::Hex(Some(8));
    k[30] = Kind::Str(15);
    k
};
const FIB6_FMT: [Option<usize>; 31] = {
    let mut f = [None; 31];
    let mut i = 0;
    while i < 31 {
        f[i] = Some(i);
        i += 1;
    }
    f
};
const DST: usize = 0;
const PLEN: usize = 8;
const NEXT_HOP: usize = 18;
const METRIC: usize = 26;
const REFCNT: usize = 27;
const USE: usize = 28;
const FLAGS: usize = 29;
const IFACE: usize = 30;

/// Reads `/proc/net/ipv6_route` lines the way `rprint_fib6()` does: its field-count
/// check is disabled (`if (0 && num < 23)`), so every line is a row, and whatever a
/// short line lacks comes from the line before.
#[derive(Debug, Clone)]
pub struct Fib6Parser {
    slots: Slots,
    destination: Ipv6Addr,
    next_hop: Ipv6Addr,
}

impl Default for Fib6Parser {
    fn default() -> Self {
        Fib6Parser {
            slots: Slots::new(&FIB6_KINDS),
            destination: Ipv6Addr::UNSPECIFIED,
            next_hop: Ipv6Addr::UNSPECIFIED,
        }
    }
}

impl Fib6Parser {
    pub fn row(&mut self, line: &[u8]) -> Fib6Row<'_> {
        self.slots.scan(line, &FIB6_FMT);
        // inet_pton() failing leaves the address of the line before.
        if let Some(a) = groups_addr(&self.slots, DST) {
            self.destination = a;
        }
        if let Some(a) = groups_addr(&self.slots, NEXT_HOP) {
            self.next_hop = a;
        }
        let s = &self.slots;
        Fib6Row {
            destination: self.destination,
            prefix_len: s.int(PLEN),
            next_hop: self.next_hop,
            metric: s.int(METRIC),
            refcnt: s.int(REFCNT),
            use_count: s.int(USE),
            flags: s.uint(FLAGS),
            iface: s.bytes(IFACE),
        }
    }
}

/// `inet_pton()` of the eight `%4s` groups joined with `:`.
fn groups_addr(slots: &Slots, first: usize) -> Option<Ipv6Addr> {
    let mut words = [0u16; 8];
    let mut plain = true;
    for (i, word) in words.iter_mut().enumerate() {
        let g = slots.bytes(first + i);
        if g.len() != 4 || !g.iter().all(u8::is_ascii_hexdigit) {
            plain = false;
            break;
        }
        *word = g.iter().fold(0u16, |v, &d| {
            (v << 4) | char::from(d).to_digit(16).unwrap_or(0) as u16
        });
    }
    if plain {
        return Some(Ipv6Addr::from(words));
    }
    // Unusual groups: the text net-tools builds, through a parser that agrees with
    // inet_pton() on everything eight short groups can spell.
    let text: Vec<u8> = (0..8)
        .map(|i| slots.bytes(first + i))
        .collect::<Vec<_>>()
        .join(&b':');
    std::str::from_utf8(&text).ok()?.parse().ok()
}

/// `fix_v4_address()`: a v4-mapped address whose text holds a `.` prints from after the
/// `:` before that dot.
pub fn fix_v4_address(text: &str, a: Ipv6Addr) -> &str {
    if a.to_ipv4_mapped().is_none() {
        return text;
    }
    let Some(dot) = text.find('.') else {
        return text;
    };
    match text[..dot].rfind(':') {
        Some(colon) => &text[colon + 1..],
        None => text,
    }
}

/// `INET6_sprint()`: numeric, `[::]`, or the `getnameinfo()` name; then `fix_v4_address()`.
pub fn addr6_name(a: Ipv6Addr, view: &RouteView, names: &mut dyn RouteNames) -> String {
    let text = if view.numeric {
        ntop6(a)
    } else if a.is_unspecified() {
        "[::]".to_string()
    } else {
        names.host_v6(a)
    };
    match fix_v4_address(&text, a) {
        fixed if fixed.len() == text.len() => text,
        fixed => fixed.to_string(),
    }
}

/// net-tools builds `addr/plen` and the next hop in `char [128]` buffers.
const TEXT_MAX: usize = 127;

pub fn write_fib6_header(out: &mut dyn Write, cache: bool) -> io::Result<()> {
    out.write_all(if cache {
        b"Kernel IPv6 routing cache\n"
    } else {
        b"Kernel IPv6 routing table\n"
    })?;
    out.write_all(
        b"Destination                    Next Hop                   Flag Met Ref  Use If\n",
    )
}

/// Whether `-C` (cache) or the table shows this row.
pub fn fib6_shown(row: &Fib6Row<'_>, cache: bool) -> bool {
    (row.flags & RTF_CACHE != 0) == cache
}

/// Appends one row: `"%-30s %-26s %-4s %-3d %-1d %6d %s\n"` (no truncation, so long
/// destinations push the rest of the line right).
pub fn write_fib6_row(
    line: &mut Vec<u8>,
    row: &Fib6Row<'_>,
    view: &RouteView,
    names: &mut dyn RouteNames,
) -> io::Result<()> {
    let mut destination = addr6_name(row.destination, view, names);
    destination.push('/');
    destination.push_str(&row.prefix_len.to_string());
    let destination = &destination.as_bytes()[..destination.len().min(TEXT_MAX)];
    pad(line, destination, 30);
    line.push(b' ');
    let next_hop = addr6_name(row.next_hop, view, names);
    pad(
        line,
        &next_hop.as_bytes()[..next_hop.len().min(TEXT_MAX)],
        26,
    );
    line.push(b' ');
    pad(line, flags6(row.flags).as_bytes(), 4);
    write!(
        line,
        " {:<3} {} {:6} ",
        row.metric, row.refcnt, row.use_count
    )?;
    line.extend_from_slice(row.iface);
    line.push(b'\n');
    Ok(())
}

// ---------------------------------------------------------------------------------------
// /proc/net/ndisc (Linux 2.1/2.2 only)

/// `%4s` x8 ` %02x %02x %02x %02x %08lx %08lx %08lx %04x %04x %04lx %8s %2s` x6.
const NDISC_KINDS: [Kind; 25] = {
    let mut k = [Kind::Str(4); 25];
    let mut i = 8;
    while i < 12 {
        k[i] = Kind::Hex(Some(2));
        i += 1;
    }
    k[12] = Kind::Hex(Some(8));
    k[13] = Kind::Hex(Some(8));
    k[14] = Kind::Hex(Some(8));
    k[15] = Kind::Hex(Some(4));
    k[16] = Kind::Hex(Some(4));
    k[17] = Kind::Hex(Some(4));
    k[18] = Kind::Str(8);
    let mut j = 19;
    while j < 25 {
        k[j] = Kind::Str(2);
        j += 1;
    }
    k
};
const NDISC_FMT: [Option<usize>; 25] = {
    let mut f = [None; 25];
    let mut i = 0;
    while i < 25 {
        f[i] = Some(i);
        i += 1;
    }
    f
};

/// Reads `/proc/net/ndisc` lines as `rprint_cache6()` does (no field check either).
#[derive(Debug, Clone)]
pub struct NdiscParser {
    slots: Slots,
    address: Ipv6Addr,
}

impl Default for NdiscParser {
    fn default() -> Self {
        NdiscParser {
            slots: Slots::new(&NDISC_KINDS),
            address: Ipv6Addr::UNSPECIFIED,
        }
    }
}

impl NdiscParser {
    /// Appends the line net-tools prints for one `/proc/net/ndisc` line.
    pub fn write_row(
        &mut self,
        line: &mut Vec<u8>,
        text: &[u8],
        view: &RouteView,
        clk_tck: i64,
        names: &mut dyn RouteNames,
    ) -> io::Result<()> {
        self.slots.scan(text, &NDISC_FMT);
        if let Some(a) = groups_addr(&self.slots, 0) {
            self.address = a;
        }
        let s = &self.slots;
        let mut address = addr6_name(self.address, view, names);
        address.push('/');
        address.push_str(&s.int(9).to_string());
        let address = &address.as_bytes()[..address.len().min(TEXT_MAX)];
        let hw: Vec<u8> = (19..25).map(|i| s.bytes(i)).collect::<Vec<_>>().join(&b':');
        let state = s.int(11);
        // tstamp and reachable are %08lx into longs; gc is %04x into an int.
        let (tstamp, reachable) = (i64::from(s.uint(13)), i64::from(s.uint(14)));
        let (gc, refcnt, ndflags) = (i64::from(s.int(15)), s.int(16), s.uint(17));
        let mut flags = String::new();
        for (bit, letter) in [(0x80, 'R'), (0x04, 'x'), (0x02, 'h'), (0x08, 'P')] {
            if ndflags & bit != 0 {
                flags.push(letter);
            }
        }
        let state_text = match state {
            0x00 => "NONE".to_string(),
            0x01 => "INCOMPLETE".to_string(),
            0x02 => "REACHABLE".to_string(),
            0x04 => "STALE".to_string(),
            0x08 => "DELAY".to_string(),
            0x10 => "PROBE".to_string(),
            0x20 => "FAILED".to_string(),
            0x40 => "NOARP".to_string(),
            0x80 => "PERM".to_string(),
            other => format!("UNKNOWN({other:02x})"),
        };
        pad(line, address, 43);
        line.push(b' ');
        pad(line, &hw, 17);
        line.push(b' ');
        pad(line, s.bytes(18), 8);
        line.push(b' ');
        pad(line, flags.as_bytes(), 5);
        write!(line, " {refcnt:<3} ")?;
        pad(line, state_text.as_bytes(), 16);
        if view.ext != 2 {
            let stale = if state == 0x02 && reachable > tstamp {
                reachable - tstamp
            } else {
                0
            };
            let delete = if gc > tstamp { gc - tstamp } else { 0 };
            let tck = clk_tck.max(1);
            write!(line, " {:<9} ", stale / tck)?;
            if refcnt != 0 {
                line.extend_from_slice(b" * ");
            } else {
                write!(line, " {:<7} ", delete / tck)?;
            }
        }
        line.push(b'\n');
        Ok(())
    }
}

pub fn write_ndisc_header(out: &mut dyn Write, ext: u8) -> io::Result<()> {
    out.write_all(b"Kernel IPv6 Neighbour Cache\n")?;
    out.write_all(if ext == 2 {
        b"Neighbour                                   HW Address        Iface    Flags Ref State\n"
            .as_slice()
    } else {
        b"Neighbour                                   HW Address        Iface    Flags Ref State            Stale(sec) Delete(sec)\n"
            .as_slice()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::tests::{FakeNames, view};

    const LINES: &[&[u8]] = &[
        b"20010db8000200000000000000000000 30 00000000000000000000000000000000 00 20010db8000100000000000000000002 00000007 00000001 00000000 00000003     dum0\n",
        b"00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n",
        b"00000000000000000000ffff00000000 60 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00000001     dum0\n",
        b"20010db8000600000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000400 00000001 00000000 00400001     dum0\n",
        b"20010db8aaaabbbbccccddddeeee0001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00200200       lo\n",
        b"00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo\n",
        b"fe800000000000000000000000000001 80 00000000000000000000000000000000 00 fe800000000000000000000000000002 00000000 00000001 00000005 01000003     dum0\n",
    ];

    fn render(v: &RouteView, cache: bool) -> String {
        let mut out = Vec::new();
        write_fib6_header(&mut out, cache).expect("vec");
        let mut p = Fib6Parser::default();
        let mut names = FakeNames;
        for l in LINES {
            let row = p.row(l);
            if fib6_shown(&row, cache) {
                write_fib6_row(&mut out, &row, v, &mut names).expect("vec");
            }
        }
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn numeric_table() {
        assert_eq!(
            render(&view(2, true), false),
            "Kernel IPv6 routing table\n\
Destination                    Next Hop                   Flag Met Ref  Use If\n\
2001:db8:2::/48                2001:db8:1::2              UG   7   1      0 dum0\n\
::/0                           ::                         !n   -1  1      0 lo\n\
0.0.0.0/96                     ::                         U    1024 1      0 dum0\n\
2001:db8:6::/64                ::                         Ue   1024 1      0 dum0\n\
2001:db8:aaaa:bbbb:cccc:dddd:eeee:1/128 ::                         !n   256 1      0 lo\n\
::1/128                        ::                         Un   0   3      0 lo\n"
        );
        assert_eq!(
            render(&view(2, true), true),
            "Kernel IPv6 routing cache\n\
Destination                    Next Hop                   Flag Met Ref  Use If\n\
fe80::1/128                    fe80::2                    UGC  0   1      5 dum0\n"
        );
    }

    #[test]
    fn names_and_unspecified() {
        let out = render(&view(1, false), false);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].starts_with("host.2001:db8:2::/48           host.2001:db8:1::2 "));
        assert!(lines[3].starts_with("[::]/0                         [::]  "));
        // fix_v4_address() only cuts at a ':' before the first '.'.
        assert!(
            lines[4].starts_with("host.::ffff:0.0.0.0/96 "),
            "{}",
            lines[4]
        );
    }

    #[test]
    fn short_lines_repeat_the_line_before() {
        let mut p = Fib6Parser::default();
        let first = p.row(LINES[0]).iface.to_vec();
        let again = p.row(b"\n");
        assert_eq!(again.iface, first.as_slice());
        assert_eq!(again.metric, 7);
        let partial = p.row(b"00000000000000000000000000000001 80\n");
        assert_eq!(partial.destination, Ipv6Addr::LOCALHOST);
        assert_eq!((partial.prefix_len, partial.metric), (128, 7));
    }

    #[test]
    fn odd_groups_go_through_the_text_parser() {
        let mut p = Fib6Parser::default();
        let row = p.row(b"1 2 3 4 5 6 7 8 40\n");
        assert_eq!(
            row.destination,
            "1:2:3:4:5:6:7:8".parse::<Ipv6Addr>().expect("addr")
        );
        // A group that is not hex leaves the previous address.
        let row = p.row(b"zzzz000000000000000000000000000 40\n");
        assert_eq!(
            row.destination,
            "1:2:3:4:5:6:7:8".parse::<Ipv6Addr>().expect("addr")
        );
    }

    #[test]
    fn v4_fix() {
        let mapped: Ipv6Addr = "::ffff:1.2.3.4".parse().expect("addr");
        assert_eq!(fix_v4_address("::ffff:1.2.3.4", mapped), "1.2.3.4");
        assert_eq!(fix_v4_address("host.example", mapped), "host.example");
        assert_eq!(fix_v4_address("a:b.c", mapped), "b.c");
        let plain: Ipv6Addr = "::1.2.3.4".parse().expect("addr");
        assert_eq!(fix_v4_address("::1.2.3.4", plain), "::1.2.3.4");
    }

    #[test]
    fn flag_letters() {
        assert_eq!(flags6(0x8020_0001), "Un");
        assert_eq!(flags6(0x0020_0200), "!n");
        assert_eq!(flags6(u32::MAX), "U!GHDACaemnf");
    }

    #[test]
    fn ndisc_rows() {
        let mut p = NdiscParser::default();
        let mut out = Vec::new();
        let mut names = FakeNames;
        let text = b"fe800000000000000000000000000001 02 40 00 02 00000100 00000064 000001f4 0320 0000 0080     eth0 02 00 00 00 00 01\n";
        p.write_row(&mut out, text, &view(1, true), 100, &mut names)
            .expect("vec");
        p.write_row(&mut out, text, &view(2, true), 100, &mut names)
            .expect("vec");
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "fe80::1/64                                  02:00:00:00:00:01 eth0     R     0   REACHABLE        4          7       \n\
fe80::1/64                                  02:00:00:00:00:01 eth0     R     0   REACHABLE       \n"
        );
    }
}
