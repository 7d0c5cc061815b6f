//! IPv4: the FIB from `/proc/net/route` (`lib/inet_gr.c:rprint_fib()`) and the routing
//! cache from `/proc/net/rt_cache` (`rprint_cache()`).
//!
//! Parsing follows net-tools' `sscanf()` reading (columns found by header title, values
//! kept from the line before when a line is short); rendering follows its `printf()`
//! formats, byte for byte.

use std::io::{self, Write};
use std::net::Ipv4Addr;

use super::scan::{self, Fgets, Kind, MissingField, Slots};
use super::{RouteNames, RouteView, pad, pad_left, push_int, push_v4};
use crate::model::route::{
    CacheFormat, CacheRow, FibRow, RTF_HOST, RTF_REJECT, RTF_UP, cache_flags, fib_flags,
};

/// net-tools reads data lines with `fgets(buff, 1023, fp)`.
pub const LINE_SIZE: usize = 1023;
/// ... and the header line (`proc_gen_fmt()`, `proc_guess_fmt()`) with `fgets(buf, 511, fh)`.
pub const HEADER_SIZE: usize = 511;

// ---------------------------------------------------------------------------------------
// The FIB

const FIB_TITLES: [&str; 11] = [
    "Iface",
    "Destination",
    "Gateway",
    "Flags",
    "RefCnt",
    "Use",
    "Metric",
    "Mask",
    "MTU",
    "Window",
    "IRTT",
];
const FIB_KINDS: [Kind; 11] = [
    Kind::Str(15),
    Kind::Str(127),
    Kind::Str(127),
    Kind::Hex(None),
    Kind::Dec,
    Kind::Dec,
    Kind::Dec,
    Kind::Str(127),
    Kind::Dec,
    Kind::Dec,
    Kind::Dec,
];

/// Reads `/proc/net/route` lines the way `rprint_fib()` does.
#[derive(Debug, Clone)]
pub struct FibParser {
    fmt: Vec<Option<usize>>,
    slots: Slots,
    destination: Ipv4Addr,
    gateway: Ipv4Addr,
    mask: Ipv4Addr,
}

impl FibParser {
    /// From the file's header line; fails like `proc_gen_fmt()` when a title is missing.
    pub fn new(header: &[u8]) -> Result<Self, MissingField> {
        Ok(FibParser {
            fmt: scan::proc_gen_fmt(header, &FIB_TITLES)?,
            slots: Slots::new(&FIB_KINDS),
            destination: Ipv4Addr::UNSPECIFIED,
            gateway: Ipv4Addr::UNSPECIFIED,
            mask: Ipv4Addr::UNSPECIFIED,
        })
    }

    /// The row a data line gives, or `None` when net-tools skips it (fewer than 10
    /// fields, or not `RTF_UP`). A short line keeps the IRTT of the line before; an
    /// address that is not 8 hex digits keeps the address of the line before.
    pub fn row(&mut self, line: &[u8]) -> Option<FibRow<'_>> {
        if self.slots.scan(line, &self.fmt) < 10 {
            return None;
        }
        let flags = self.slots.uint(3);
        if flags & RTF_UP == 0 {
            return None;
        }
        if let Some(a) = hex_addr(self.slots.bytes(1)) {
            self.destination = a;
        }
        if let Some(a) = hex_addr(self.slots.bytes(2)) {
            self.gateway = a;
        }
        if let Some(a) = hex_addr(self.slots.bytes(7)) {
            self.mask = a;
        }
        Some(FibRow {
            iface: self.slots.bytes(0),
            destination: self.destination,
            gateway: self.gateway,
            mask: self.mask,
            flags,
            refcnt: self.slots.int(4),
            use_count: self.slots.int(5),
            metric: self.slots.int(6),
            mss: self.slots.int(8),
            window: self.slots.int(9),
            irtt: self.slots.int(10),
        })
    }
}

/// `INET_getsock()`: the first 8 hex digits are the kernel's network-order word as
/// `%08X` printed it on this host. `None` if one of them is not a hex digit.
pub fn hex_addr(text: &[u8]) -> Option<Ipv4Addr> {
    let digits = text.get(..8)?;
    let mut value: u32 = 0;
    for &d in digits {
        value = (value << 4) | char::from(d).to_digit(16)?;
    }
    Some(Ipv4Addr::from(value.to_ne_bytes()))
}

/// The title and column header `rprint_fib()` prints for an ext level (none for ext 0,
/// i.e. `-eee`, which prints no rows either).
pub fn write_fib_header(out: &mut dyn Write, ext: u8) -> io::Result<()> {
    out.write_all(b"Kernel IP routing table\n")?;
    let columns: &[u8] = match ext {
        1 => b"Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n",
        2 => b"Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n",
        3.. => {
            b"Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt\n"
        }
        0 => b"",
    };
    out.write_all(columns)
}

/// net-tools cuts the FIB's names at 15 bytes (`net_addr[15] = '\0'`), even with `-W`.
const FIB_NAME_MAX: usize = 15;

fn cut(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

/// The Destination column: `INET_sprintmask()` with flags 0x8000 (`default`) and 0x4000
/// for a host route.
pub fn destination_name(row: &FibRow<'_>, view: &RouteView, names: &mut dyn RouteNames) -> String {
    let a = row.destination;
    if view.numeric {
        return a.to_string();
    }
    if a.is_unspecified() {
        // 0.0.0.0/0 is named; 0.0.0.0 with another mask skips getnetbyaddr().
        return if row.mask.is_unspecified() {
            "default".to_string()
        } else {
            "0.0.0.0".to_string()
        };
    }
    let host_bits = u32::from(a) & !u32::from(row.mask) != 0;
    if host_bits || row.flags & RTF_HOST != 0 {
        names.host_v4(a)
    } else {
        names.net_v4(a)
    }
}

/// The Gateway column: `INET_sprint()` with flag 0x4000 (always a host lookup); 0.0.0.0
/// stays `0.0.0.0` (never `*` in 2.10).
pub fn gateway_name(a: Ipv4Addr, view: &RouteView, names: &mut dyn RouteNames) -> String {
    if view.numeric || a.is_unspecified() {
        a.to_string()
    } else {
        names.host_v4(a)
    }
}

/// Appends one FIB row in the layout of `ext` (nothing for ext 0).
pub fn write_fib_row(
    line: &mut Vec<u8>,
    row: &FibRow<'_>,
    view: &RouteView,
    names: &mut dyn RouteNames,
) -> io::Result<()> {
    if view.ext == 0 {
        return Ok(());
    }
    let reject = row.flags & RTF_REJECT != 0;
    if view.numeric {
        push_v4(line, row.destination, 15);
    } else {
        let destination = destination_name(row, view, names);
        pad(line, cut(destination.as_bytes(), FIB_NAME_MAX), 15);
    }
    line.push(b' ');
    if reject {
        line.extend_from_slice(b"-               ");
    } else {
        if view.numeric {
            push_v4(line, row.gateway, 15);
        } else {
            let gateway = gateway_name(row.gateway, view, names);
            pad(line, cut(gateway.as_bytes(), FIB_NAME_MAX), 15);
        }
        line.push(b' ');
    }
    push_v4(line, row.mask, 15);
    line.push(b' ');
    pad(line, fib_flags(row.flags).as_bytes(), 5);
    match (view.ext, reject) {
        (1, true) => write!(line, " {:<6} -  {:7} -", row.metric, row.use_count)?,
        (1, false) => {
            line.push(b' ');
            push_int(line, row.metric, 6, true);
            line.push(b' ');
            push_int(line, row.refcnt, 2, true);
            line.push(b' ');
            push_int(line, row.use_count, 7, false);
            line.push(b' ');
            line.extend_from_slice(row.iface);
        }
        (2, true) => line.extend_from_slice(b"     - -          - -"),
        (2, false) => {
            line.push(b' ');
            push_int(line, row.mss, 5, false);
            line.push(b' ');
            push_int(line, row.window, 5, true);
            line.push(b' ');
            push_int(line, row.irtt, 6, false);
            line.push(b' ');
            line.extend_from_slice(row.iface);
        }
        (_, true) => write!(
            line,
            " {:<6} -  {:7} -        -     -      -",
            row.metric, row.use_count
        )?,
        (_, false) => {
            write!(
                line,
                " {:<6} {:<3} {:6} ",
                row.metric, row.refcnt, row.use_count
            )?;
            // %-6.6s: at most 6 bytes, padded to 6.
            pad(line, cut(row.iface, 6), 6);
            write!(line, "   {:<5} {:<6} {}", row.mss, row.window, row.irtt)?;
        }
    }
    line.push(b'\n');
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The routing cache

/// `proc_guess_fmt()` keywords of `rprint_cache()`.
pub const CACHE_KEYS: [(&str, i32); 7] = [
    ("IRTT", 1),
    ("TOS", 2),
    ("HHRef", 4),
    ("HHUptod", 8),
    ("SpecDst", 16),
    ("HH", 32),
    ("ARP", 64),
];

impl CacheFormat {
    fn titles(self) -> &'static [&'static str] {
        match self {
            CacheFormat::Linux20 => &[
                "Iface",
                "Destination",
                "Gateway",
                "Flags",
                "RefCnt",
                "Use",
                "Metric",
                "Source",
                "MTU",
                "Window",
                "IRTT",
                "HH",
                "ARP",
            ],
            CacheFormat::Linux22 => &[
                "Iface",
                "Destination",
                "Gateway",
                "Flags",
                "RefCnt",
                "Use",
                "Metric",
                "Source",
                "MTU",
                "Window",
                "IRTT",
                "TOS",
                "HHRef",
                "HHUptod",
                "SpecDst",
            ],
        }
    }

    fn kinds(self) -> &'static [Kind] {
        // The cache's first eleven columns read like the FIB's.
        const COMMON: [Kind; 11] = FIB_KINDS;
        const V20: [Kind; 13] = {
            let mut k = [Kind::Dec; 13];
            let mut i = 0;
            while i < 11 {
                k[i] = COMMON[i];
                i += 1;
            }
            k
        };
        const V22: [Kind; 15] = {
            let mut k = [Kind::Dec; 15];
            let mut i = 0;
            while i < 11 {
                k[i] = COMMON[i];
                i += 1;
            }
            k[14] = Kind::Str(127);
            k
        };
        match self {
            CacheFormat::Linux20 => &V20,
            CacheFormat::Linux22 => &V22,
        }
    }
}

/// Reads `/proc/net/rt_cache` lines the way `rprint_cache()` does.
#[derive(Debug, Clone)]
pub struct CacheParser {
    format: CacheFormat,
    fmt: Vec<Option<usize>>,
    slots: Slots,
    /// net-tools converts every address through one `struct sockaddr`: a bad one shows
    /// the address converted just before it.
    last: Ipv4Addr,
}

impl CacheParser {
    pub fn new(format: CacheFormat, header: &[u8]) -> Result<Self, MissingField> {
        Ok(CacheParser {
            format,
            fmt: scan::proc_gen_fmt(header, format.titles())?,
            slots: Slots::new(format.kinds()),
            last: Ipv4Addr::UNSPECIFIED,
        })
    }

    /// `None` for lines with fewer than 12 fields.
    pub fn row(&mut self, line: &[u8]) -> Option<CacheRow<'_>> {
        if self.slots.scan(line, &self.fmt) < 12 {
            return None;
        }
        let convert = |i: usize, last: &mut Ipv4Addr| {
            if let Some(a) = hex_addr(self.slots.bytes(i)) {
                *last = a;
            }
            *last
        };
        let mut last = self.last;
        let destination = convert(1, &mut last);
        let gateway = convert(2, &mut last);
        let source = convert(7, &mut last);
        let spec_dst = match self.format {
            CacheFormat::Linux22 => convert(14, &mut last),
            CacheFormat::Linux20 => Ipv4Addr::UNSPECIFIED,
        };
        self.last = last;
        let s = &self.slots;
        let extra = match self.format {
            CacheFormat::Linux22 => [s.int(11), s.int(12), s.int(13)],
            CacheFormat::Linux20 => [s.int(11), s.int(12), 0],
        };
        Some(CacheRow {
            iface: s.bytes(0),
            source,
            destination,
            gateway,
            spec_dst,
            flags: s.uint(3),
            refcnt: s.int(4),
            use_count: s.int(5),
            metric: s.int(6),
            mss: s.int(8),
            window: s.int(9),
            irtt: s.int(10),
            extra,
        })
    }
}

/// The column headers of the cache: ext 1 and 2 do not depend on the format; ext 3
/// exists only for a known format.
pub fn write_cache_header(
    out: &mut dyn Write,
    ext: u8,
    format: Option<CacheFormat>,
) -> io::Result<()> {
    const START: &[u8] = b"Source          Destination     Gateway         ";
    let rest: &[u8] = match (ext, format) {
        (1, _) => b"Flags Metric Ref    Use Iface\n",
        (2, _) => b"Flags   MSS Window  irtt Iface\n",
        (3.., Some(CacheFormat::Linux20)) => {
            b"Flags Metric Ref    Use Iface    MSS   Window irtt  HH  Arp\n"
        }
        (3.., Some(CacheFormat::Linux22)) => {
            b"Flags Metric Ref    Use Iface    MSS   Window irtt  TOS HHRef HHUptod     SpecDst\n"
        }
        _ => return Ok(()),
    };
    out.write_all(START)?;
    out.write_all(rest)
}

/// Appends one cache row (names uncut: `%-15s` only pads).
pub fn write_cache_row(
    line: &mut Vec<u8>,
    row: &CacheRow<'_>,
    format: CacheFormat,
    view: &RouteView,
    names: &mut dyn RouteNames,
) -> io::Result<()> {
    if view.ext == 0 {
        return Ok(());
    }
    let mut name = |a: Ipv4Addr| {
        if view.numeric {
            a.to_string()
        } else {
            names.sock_v4(a)
        }
    };
    let (source, destination, gateway) =
        (name(row.source), name(row.destination), name(row.gateway));
    for text in [&source, &destination, &gateway] {
        pad(line, text.as_bytes(), 15);
        line.push(b' ');
    }
    pad(line, cache_flags(row.flags, format).as_bytes(), 5);
    match view.ext {
        1 => write!(
            line,
            " {:<6} {:<2} {:7} ",
            row.metric, row.refcnt, row.use_count
        )?,
        2 => write!(line, " {:5} {:<5} {:6} ", row.mss, row.window, row.irtt)?,
        _ => {
            write!(
                line,
                " {:<6} {:<3} {:6} ",
                row.metric, row.refcnt, row.use_count
            )?;
            pad(line, cut(row.iface, 6), 6);
            write!(line, "   {:<5} {:<6} {:<5} ", row.mss, row.window, row.irtt)?;
            match format {
                CacheFormat::Linux20 => write!(line, "{:<3} {}", row.extra[0], row.extra[1])?,
                CacheFormat::Linux22 => {
                    write!(
                        line,
                        "{:<3} {:<3}   {:<3} ",
                        row.extra[0], row.extra[1], row.extra[2]
                    )?;
                    let spec = name(row.spec_dst);
                    pad_left(line, spec.as_bytes(), 15);
                }
            }
            line.push(b'\n');
            return Ok(());
        }
    }
    line.extend_from_slice(row.iface);
    line.push(b'\n');
    Ok(())
}

/// Splits a whole file into its header line and the data lines, as the C readers see them.
pub fn header_and_lines(text: &[u8]) -> (Option<&[u8]>, Fgets<'_>) {
    let mut lines = Fgets::new(text);
    let header = lines.next_piece(HEADER_SIZE);
    (header, lines)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::tests::{FakeNames, view};

    const HEADER: &[u8] = b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n";

    fn render(lines: &[&[u8]], v: &RouteView) -> String {
        let mut out = Vec::new();
        let mut parser = FibParser::new(HEADER).expect("header");
        let mut names = FakeNames;
        write_fib_header(&mut out, v.ext).expect("vec");
        for l in lines {
            if let Some(row) = parser.row(l) {
                write_fib_row(&mut out, &row, v, &mut names).expect("vec");
            }
        }
        String::from_utf8(out).expect("ascii")
    }

    const ROWS: &[&[u8]] = &[
        b"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0   \n",
        b"eth0\t000012C6\t010200C0\t0003\t0\t0\t100\t0000FEFF\t1400\t65535\t100\n",
        b"*\t006433C6\t00000000\t0201\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
        b"eth0\t076433C6\t010200C0\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n",
        b"*\t007100CB\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n",
    ];

    #[test]
    fn numeric_layouts_match_net_tools() {
        assert_eq!(
            render(ROWS, &view(2, true)),
            "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n\
0.0.0.0         192.0.2.1       0.0.0.0         UG        0 0          0 eth0\n\
198.18.0.0      192.0.2.1       255.254.0.0     UG     1400 65535    100 eth0\n\
198.51.100.0    -               255.255.255.0   !         - -          - -\n\
198.51.100.7    192.0.2.1       255.255.255.255 UGH       0 0          0 eth0\n\
203.0.113.0     0.0.0.0         255.255.255.0   U         0 0          0 *\n"
        );
        assert_eq!(
            render(ROWS, &view(1, true)),
            "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface\n\
0.0.0.0         192.0.2.1       0.0.0.0         UG    0      0        0 eth0\n\
198.18.0.0      192.0.2.1       255.254.0.0     UG    100    0        0 eth0\n\
198.51.100.0    -               255.255.255.0   !     0      -        0 -\n\
198.51.100.7    192.0.2.1       255.255.255.255 UGH   0      0        0 eth0\n\
203.0.113.0     0.0.0.0         255.255.255.0   U     0      0        0 *\n"
        );
        assert_eq!(
            render(ROWS, &view(3, true)),
            "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags Metric Ref    Use Iface    MSS   Window irtt\n\
0.0.0.0         192.0.2.1       0.0.0.0         UG    0      0        0 eth0     0     0      0\n\
198.18.0.0      192.0.2.1       255.254.0.0     UG    100    0        0 eth0     1400  65535  100\n\
198.51.100.0    -               255.255.255.0   !     0      -        0 -        -     -      -\n\
198.51.100.7    192.0.2.1       255.255.255.255 UGH   0      0        0 eth0     0     0      0\n\
203.0.113.0     0.0.0.0         255.255.255.0   U     0      0        0 *        0     0      0\n"
        );
        assert_eq!(render(ROWS, &view(0, true)), "Kernel IP routing table\n");
    }

    #[test]
    fn names_default_networks_and_hosts() {
        let out = render(ROWS, &view(2, false));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].starts_with("default         host.192.0.2.1  0.0.0.0 "));
        assert!(lines[3].starts_with("net.198.18.0.0  host.192.0.2.1  "));
        assert!(lines[4].starts_with("net.198.51.100. -  "));
        assert!(lines[5].starts_with("host.198.51.100 host.192.0.2.1  "));
        assert!(lines[6].starts_with("net.203.0.113.0 0.0.0.0 "));
        // 0.0.0.0 with a mask other than 0 is never looked up; host bits make a host.
        let rows: &[&[u8]] = &[
            b"x 00000000 00000000 0001 0 0 0 000000FF 0 0 0\n",
            b"x 0500000A 00000000 0001 0 0 0 000000FF 0 0 0\n",
        ];
        let out = render(rows, &view(2, false));
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[2].starts_with("0.0.0.0         0.0.0.0 "), "{out}");
        assert!(lines[3].starts_with("host.10.0.0.5   "), "{out}");
    }

    #[test]
    fn iface_cut_to_six_with_ee() {
        let rows: &[&[u8]] = &[b"averylongname15 0000000A 00000000 0001 0 0 0 000000FF 0 0 0\n"];
        let out = render(rows, &view(3, true));
        assert!(
            out.ends_with("10.0.0.0        0.0.0.0         255.0.0.0       U     0      0        0 averyl   0     0      0\n"),
            "{out}"
        );
    }

    #[test]
    fn skipped_and_short_lines() {
        let rows: &[&[u8]] = &[
            // not UP
            b"eth0 0000000A 00000000 0000 0 0 0 000000FF 0 0 0\n",
            // 9 fields
            b"eth0 0000000A 00000000 0001 0 0 0 000000FF 0\n",
            b"eth0 0000000A 00000000 0001 0 0 0 000000FF 0 0 77\n",
            // 10 fields: irtt stays 77
            b"eth1 0000000B 00000000 0001 0 0 0 000000FF 5 6\n",
            // a bad address keeps the last good one
            b"eth2 zz 00000000 0001 0 0 0 000000FF 0 0 0\n",
            b"\n",
        ];
        let out = render(rows, &view(2, true));
        assert_eq!(
            out,
            "Kernel IP routing table\n\
Destination     Gateway         Genmask         Flags   MSS Window  irtt Iface\n\
10.0.0.0        0.0.0.0         255.0.0.0       U         0 0         77 eth0\n\
11.0.0.0        0.0.0.0         255.0.0.0       U         5 6         77 eth1\n\
11.0.0.0        0.0.0.0         255.0.0.0       U         0 0          0 eth2\n"
        );
    }

    #[test]
    fn hex_addresses() {
        assert_eq!(hex_addr(b"010200C0"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(hex_addr(b"010200c0ff"), Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(hex_addr(b"010200C"), None);
        assert_eq!(hex_addr(b"0102x0C0"), None);
    }

    #[test]
    fn flag_letters() {
        assert_eq!(fib_flags(0x0003), "UG");
        assert_eq!(fib_flags(0x0007), "UGH");
        assert_eq!(fib_flags(0x0203), "!");
        assert_eq!(fib_flags(0x0205), "!H");
        assert_eq!(
            fib_flags(0xffff_ffff),
            "!HRDMdacoecfplluwin".replace("ll", "l")
        );
        assert_eq!(cache_flags(0x0005, CacheFormat::Linux20), "UH");
        assert_eq!(cache_flags(0x0005, CacheFormat::Linux22), "-o");
        assert_eq!(cache_flags(0x8080_0002, CacheFormat::Linux22), "GNsl");
    }

    #[test]
    fn cache_rows() {
        let header = b"Iface\tDestination\tGateway \tFlags\t\tRefCnt\tUse\tMetric\tSource\t\tMTU\tWindow\tIRTT\tTOS\tHHRef\tHHUptod\tSpecDst\n";
        let guess = scan::proc_guess_fmt(header, &CACHE_KEYS);
        let format = CacheFormat::from_guess(guess).expect("2.2");
        let mut p = CacheParser::new(format, header).expect("titles");
        let line = b"eth0\t010200C0\t00000000\t80000000\t0\t5\t0\t020200C0\t1500\t0\t0\t00\t-1\t1\t020200C0\n";
        let row = p.row(line).expect("row");
        assert_eq!(row.destination, Ipv4Addr::new(192, 0, 2, 1));
        let mut out = Vec::new();
        let mut names = FakeNames;
        for ext in 1..=3 {
            write_cache_row(&mut out, &row, format, &view(ext, true), &mut names).expect("vec");
        }
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "192.0.2.2       192.0.2.1       0.0.0.0         l     0      0        5 eth0\n\
192.0.2.2       192.0.2.1       0.0.0.0         l      1500 0          0 eth0\n\
192.0.2.2       192.0.2.1       0.0.0.0         l     0      0        5 eth0     1500  0      0     0   -1    1         192.0.2.2\n"
        );
        assert!(p.row(b"eth0 1 2 3\n").is_none());
    }
}
