//! `-M`/`--masquerade`: the NAT entries of conntrack in net-tools' masquerade layout
//! (`lib/masq_info.c`, v2.10).
//!
//! net-tools reads `/proc/net/ip_masquerade`, which went away with Linux 2.6. The entries come
//! from conntrack instead ([`crate::source::conntrack`], which maps a conntrack entry onto the
//! old columns as Linux 2.4's compatibility layer did). Where conntrack cannot be asked,
//! net-tools' own answer is printed.
//!
//! With `PROC_ROOT` (no netlink), this reads `<root>/proc/net/ip_masquerade` exactly as
//! net-tools does, so recorded files of the old format can be replayed (and a tree without
//! the file gets net-tools' message).
use std::{
    fs,
    io::{self, Write},
    net::Ipv4Addr,
    path::Path,
};

use crate::perror::strerror;
use crate::{
    cli::Options,
    model::MasqEntry,
    names::{Resolver, Services},
    source::conntrack,
    system::RunEnv,
};

/// `ESYSNOT("netstat", "ip_masquerade")`.
pub const NO_SUPPORT: &str = "netstat: no support for `ip_masquerade' on this system.\n";

/// `-M` once (app.rs repeats it for `-c`). Returns net-tools' exit code: 0, 1 when there is
/// no masquerading support, 255 (`return -1`) for other failures.
/// `resolver` lives for the whole run (net-tools' lookup cache does), across `-c` rounds.
pub fn run_once(
    o: &Options,
    env: &RunEnv,
    resolver: &mut Resolver,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let entries = if env.netlink {
        match conntrack::dump() {
            Ok(entries) => entries,
            Err(e) => return report_conntrack_error(o, &e, out, err),
        }
    } else {
        let path = env.root.join("proc/net/ip_masquerade");
        match read_masq_file(&path) {
            Ok(entries) => entries,
            Err(e) => {
                out.flush()?;
                err.write_all(e.message().as_bytes())?;
                return Ok(e.exit_code());
            }
        }
    };
    if o.json {
        let stamp = crate::render::json::Stamp::listing(&env.proc_root());
        crate::render::json::masq::write_entries(out, &stamp, &entries, o.extend > 0)?;
        return Ok(0);
    }
    let layout = Layout {
        numeric_hosts: o.numeric_hosts,
        numeric_ports: o.numeric_ports,
        extend: o.extend > 0,
    };
    let mut names = SystemNames::new(env, &layout, resolver);
    render(&entries, &layout, &mut names, out)?;
    Ok(0)
}

/// What net-tools has to say when conntrack cannot be read.
fn report_conntrack_error(
    o: &Options,
    e: &conntrack::Error,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    out.flush()?;
    match e {
        // Honest fallback: on a kernel without conntrack (or its netlink interface) there is
        // nothing to list, and net-tools' own answer on every kernel since 2.6 is this line
        // and exit 1. Without CAP_NET_ADMIN nfnetlink refuses every request (EPERM), so for
        // this user conntrack is unavailable too: the same answer, as net-tools gives a
        // non-root user. `-v` adds the reason, which net-tools cannot know.
        conntrack::Error::Unavailable(_) | conntrack::Error::NotPermitted(_) => {
            err.write_all(NO_SUPPORT.as_bytes())?;
            if o.verbose > 0 {
                writeln!(err, "netstat: {e}")?;
            }
            Ok(1)
        }
        // net-tools: perror() and return -1 for an unexpected failure.
        conntrack::Error::Io(_) | conntrack::Error::Malformed(_) => {
            writeln!(err, "netstat: {e}")?;
            Ok(255)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Renderer

/// Which variant of the table to print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `-n`/`--numeric-hosts`
    pub numeric_hosts: bool,
    /// `-n`/`--numeric-ports`
    pub numeric_ports: bool,
    /// `-e` (net-tools' `flag_exp > 1`): the `initseq delta prevd` columns.
    pub extend: bool,
}

/// Host and service names for the table.
pub trait MasqNames {
    /// `INET_sprint()`: the host (or network) name, or the dotted quad.
    fn host(&mut self, addr: Ipv4Addr) -> String;
    /// `get_sname()`'s list lookup for `tcp`/`udp`; `None` prints the number.
    fn service(&self, port: u16, proto: &str) -> Option<&str>;
}

/// Names from the system: `/etc/services` under the run's root and glibc's resolver.
struct SystemNames<'r> {
    services: Option<Services>,
    resolver: Option<&'r mut Resolver>,
}

impl<'r> SystemNames<'r> {
    fn new(env: &RunEnv, layout: &Layout, resolver: &'r mut Resolver) -> Self {
        Self {
            services: (!layout.numeric_ports).then(|| Services::load(&env.root.join("etc"))),
            resolver: (!layout.numeric_hosts).then_some(resolver),
        }
    }
}

impl MasqNames for SystemNames<'_> {
    fn host(&mut self, addr: Ipv4Addr) -> String {
        match &mut self.resolver {
            Some(r) => r.host_v4(addr),
            None => addr.to_string(),
        }
    }

    fn service(&self, port: u16, proto: &str) -> Option<&str> {
        let services = self.services.as_ref()?;
        match proto {
            "tcp" => services.tcp(port),
            "udp" => services.udp(port),
            _ => None,
        }
    }
}

const TITLE: &str = "IP masquerading entries\n";
const HEADER: &str = "prot   expire source               destination          ports\n";
const HEADER_EXT: &str =
    "prot   expire    initseq delta prevd source               destination          ports\n";

/// net-tools' table: nothing at all for no entries, else the title, the header and one
/// `print_masq()` row per entry.
pub fn render(
    entries: &[MasqEntry],
    layout: &Layout,
    names: &mut dyn MasqNames,
    out: &mut dyn Write,
) -> io::Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    out.write_all(TITLE.as_bytes())?;
    out.write_all(if layout.extend { HEADER_EXT } else { HEADER }.as_bytes())?;
    let mut line = Vec::with_capacity(128);
    for e in entries {
        line.clear();
        write_row(&mut line, e, layout, names);
        out.write_all(&line)?;
    }
    Ok(())
}

fn write_row(line: &mut Vec<u8>, e: &MasqEntry, layout: &Layout, names: &mut dyn MasqNames) {
    pad(line, e.proto.as_bytes(), 4);
    // `%3ld:%02ld.%02ld `: unsigned longs printed as signed.
    let hundredths = e.expires % 100;
    let seconds = (e.expires / 100) % 60;
    let minutes = e.expires / 6000;
    let _ = write!(
        line,
        "{:>3}:{:02}.{:02} ",
        minutes as i64, seconds as i64, hundredths as i64
    );
    if layout.extend {
        // `%10lu %5hd %5hd ` or, without a previous delta, `%10lu %5hd     - `.
        let _ = write!(line, "{:>10} {:>5} ", e.initseq, e.delta);
        match e.pdelta {
            Some(p) => {
                let _ = write!(line, "{p:>5} ");
            }
            None => line.extend_from_slice(b"    - "),
        }
    }
    for addr in [e.src, e.dst] {
        let host = if layout.numeric_hosts {
            addr.to_string()
        } else {
            names.host(addr)
        };
        pad(line, host.as_bytes(), 20);
        line.push(b' ');
    }
    let port = |p: u16| service_text(p, e.proto, layout.numeric_ports, &*names);
    let _ = writeln!(
        line,
        "{} -> {} ({})",
        port(e.sport),
        port(e.dport),
        port(e.mport)
    );
}

/// `get_sname()`: `*` for 0 (even with `-n`), the service name of a tcp/udp port, else the
/// number.
fn service_text(port: u16, proto: &str, numeric: bool, names: &dyn MasqNames) -> String {
    if port == 0 {
        return "*".to_string();
    }
    if !numeric && let Some(name) = names.service(port, proto) {
        return name.to_string();
    }
    port.to_string()
}

/// C `%-*s`: left-aligned, padded with spaces to `width` bytes, never cut.
fn pad(line: &mut Vec<u8>, s: &[u8], width: usize) {
    line.extend_from_slice(s);
    line.resize(line.len() + width.saturating_sub(s.len()), b' ');
}

// ---------------------------------------------------------------------------------------------
// Source: /proc/net/ip_masquerade (Linux 2.2/2.4), read only under PROC_ROOT
// (conntrack over NETLINK_NETFILTER is source/conntrack.rs)

/// Why the file gave no table; each maps to net-tools' message and exit code.
#[derive(Debug, thiserror::Error)]
pub enum MasqFileError {
    /// ENOENT: `ESYSNOT`, return 1.
    #[error("no ip_masquerade file")]
    Missing,
    /// Any other open error: `perror(path)`, return -1.
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    /// The header line could not be read (empty file, or a directory).
    #[error("fgets() failed")]
    NoHeader,
    /// A record did not scan (`fscanf()` converted fewer fields than expected).
    #[error("ip_masquerade format error")]
    Format,
    /// A record's protocol is none of net-tools' names.
    #[error("ip_masquerade unknown type")]
    UnknownType,
}

impl MasqFileError {
    /// The bytes net-tools writes to stderr.
    pub fn message(&self) -> String {
        match self {
            MasqFileError::Missing => NO_SUPPORT.to_string(),
            MasqFileError::Open { path, source } => format!("{path}: {}\n", strerror(source)),
            MasqFileError::NoHeader => "masq_info: Internal Error `fgets() failed'.\n".into(),
            MasqFileError::Format => {
                "masq_info.c: Internal Error `ip_masquerade format error'.\n".into()
            }
            MasqFileError::UnknownType => {
                "masq_info.c: Internal Error `ip_masquerade unknown type'.\n".into()
            }
        }
    }

    /// `ip_masq_info()`'s return value as the process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            MasqFileError::Missing => 1,
            _ => 255,
        }
    }
}

/// `ip_masq_info()`'s reading of the file at `path`.
pub fn read_masq_file(path: &Path) -> Result<Vec<MasqEntry>, MasqFileError> {
    match fs::read(path) {
        Ok(bytes) => parse_masq_file(&bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(MasqFileError::Missing),
        // fopen() of a directory succeeds; the first fgets() then fails.
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => Err(MasqFileError::NoHeader),
        Err(source) => Err(MasqFileError::Open {
            path: path.display().to_string(),
            source,
        }),
    }
}

/// The file's text → entries, as `ip_masq_info()`/`read_masqinfo()` scan it: a header line
/// read with `fgets(buf, 256)` (it has a previous-delta column if it says `PDelta`), then
/// records scanned with `fscanf(" %s %x:%hX %x:%hX %hX %lX %hd [%hd] %lu")` until EOF, all of
/// them or none (one bad record fails the whole table).
pub fn parse_masq_file(text: &[u8]) -> Result<Vec<MasqEntry>, MasqFileError> {
    if text.is_empty() {
        return Err(MasqFileError::NoHeader);
    }
    // fgets() stops after the newline or at 255 bytes; strstr() stops at a NUL.
    let header_len = text
        .iter()
        .position(|&b| b == b'\n')
        .map_or(text.len(), |i| i + 1)
        .min(255);
    let header = &text[..header_len];
    let header = header.split(|&b| b == 0).next().unwrap_or_default();
    let has_pdelta = header.windows(6).any(|w| w == b"PDelta");

    let mut scan = Scan::new(&text[header_len..]);
    let mut entries = Vec::new();
    while let Some(entry) = scan_record(&mut scan, has_pdelta)? {
        entries.push(entry);
    }
    Ok(entries)
}

/// One `fscanf()` call of `read_masqinfo()`: `Ok(None)` at EOF (fscanf returned -1).
fn scan_record(s: &mut Scan, has_pdelta: bool) -> Result<Option<MasqEntry>, MasqFileError> {
    let Some(proto) = s.string() else {
        return Ok(None);
    };
    // The conversions in order; the first one that fails leaves n short of 9 (or 10).
    let mut fields = || -> Option<MasqEntry> {
        let src = s.hex()? as u32;
        s.literal(b':')?;
        let sport = s.hex()? as u16;
        let dst = s.hex()? as u32;
        s.literal(b':')?;
        let dport = s.hex()? as u16;
        let mport = s.hex()? as u16;
        let initseq = s.hex()?;
        let delta = s.dec()? as i16;
        let pdelta = if has_pdelta {
            Some(s.dec()? as i16)
        } else {
            None
        };
        let expires = s.dec()? as u64;
        Some(MasqEntry {
            proto: "",
            expires,
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            sport,
            dport,
            mport,
            initseq,
            delta,
            pdelta,
        })
    };
    let mut entry = fields().ok_or(MasqFileError::Format)?;
    // strcmp() sees the token up to a NUL.
    let name = proto.split(|&b| b == 0).next().unwrap_or_default();
    entry.proto = match name {
        b"IP" => "ip",
        b"TCP" => "tcp",
        b"UDP" => "udp",
        b"ICMP" => "icmp",
        b"GRE" => "gre",
        b"ESP" => "esp",
        _ => return Err(MasqFileError::UnknownType),
    };
    Ok(Some(entry))
}

/// A cursor with glibc scanf's conversions in the C locale.
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(s: &'a [u8]) -> Self {
        Self { s, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    /// White space in the format, and before every conversion but `%c`/`%[`.
    fn skip_space(&mut self) {
        while self
            .peek()
            .is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        {
            self.pos += 1;
        }
    }

    /// `%s`: `None` at EOF.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.skip_space();
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
        {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.s[start..self.pos])
    }

    /// An ordinary character of the format: matched as is, no white space skipped.
    fn literal(&mut self, c: u8) -> Option<()> {
        (self.peek() == Some(c)).then(|| self.pos += 1)
    }

    /// A sign, then digits of `radix` (base 16 also takes a `0x` prefix), as strtoul/strtol
    /// read them: the value wraps for a minus sign and saturates on overflow.
    fn number(&mut self, radix: u32) -> Option<(bool, u64)> {
        self.skip_space();
        let negative = match self.peek() {
            Some(b'-') => {
                self.pos += 1;
                true
            }
            Some(b'+') => {
                self.pos += 1;
                false
            }
            _ => false,
        };
        if radix == 16
            && self.peek() == Some(b'0')
            && matches!(self.s.get(self.pos + 1), Some(b'x' | b'X'))
            && self.s.get(self.pos + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            self.pos += 2;
        }
        let mut value: u64 = 0;
        let mut overflow = false;
        let start = self.pos;
        while let Some(d) = self.peek().and_then(|c| char::from(c).to_digit(radix)) {
            match value
                .checked_mul(u64::from(radix))
                .and_then(|v| v.checked_add(u64::from(d)))
            {
                Some(v) => value = v,
                None => overflow = true,
            }
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        Some((negative, if overflow { u64::MAX } else { value }))
    }

    /// `%x`, `%hX`, `%lX`: the unsigned long, to be cut to the field's width by the caller.
    fn hex(&mut self) -> Option<u64> {
        let (negative, v) = self.number(16)?;
        Some(if negative { v.wrapping_neg() } else { v })
    }

    /// `%hd` (cut by the caller) and `%lu` (read as unsigned long: negative numbers wrap).
    fn dec(&mut self) -> Option<i64> {
        let (negative, v) = self.number(10)?;
        Some(if negative {
            (v as i64).wrapping_neg()
        } else {
            v as i64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names that resolve nothing unless told.
    #[derive(Default)]
    struct FakeNames {
        hosts: Vec<(Ipv4Addr, &'static str)>,
        tcp: Vec<(u16, &'static str)>,
        udp: Vec<(u16, &'static str)>,
    }

    impl MasqNames for FakeNames {
        fn host(&mut self, addr: Ipv4Addr) -> String {
            self.hosts
                .iter()
                .find(|(a, _)| *a == addr)
                .map_or_else(|| addr.to_string(), |(_, n)| n.to_string())
        }
        fn service(&self, port: u16, proto: &str) -> Option<&str> {
            let list = match proto {
                "tcp" => &self.tcp,
                "udp" => &self.udp,
                _ => return None,
            };
            list.iter().find(|(p, _)| *p == port).map(|(_, n)| *n)
        }
    }

    fn entry(proto: &'static str, expires: u64) -> MasqEntry {
        MasqEntry {
            proto,
            expires,
            src: Ipv4Addr::new(192, 168, 1, 2),
            dst: Ipv4Addr::new(10, 0, 0, 2),
            sport: 40000,
            dport: 8080,
            mport: 61000,
            initseq: 0,
            delta: 0,
            pdelta: Some(0),
        }
    }

    const NUMERIC: Layout = Layout {
        numeric_hosts: true,
        numeric_ports: true,
        extend: false,
    };

    fn rendered(entries: &[MasqEntry], layout: Layout, names: &mut FakeNames) -> String {
        let mut out = Vec::new();
        render(entries, &layout, names, &mut out).expect("write to a Vec");
        String::from_utf8(out).expect("utf-8")
    }

    // ---- renderer

    #[test]
    fn no_entries_print_nothing_at_all() {
        assert_eq!(rendered(&[], NUMERIC, &mut FakeNames::default()), "");
        let ext = Layout {
            extend: true,
            ..NUMERIC
        };
        assert_eq!(rendered(&[], ext, &mut FakeNames::default()), "");
    }

    #[test]
    fn numeric_rows_follow_print_masq() {
        // 431999 s: the default established TCP timeout less a second.
        let rows = [entry("tcp", 431_999 * 100), entry("udp", 2_900)];
        assert_eq!(
            rendered(&rows, NUMERIC, &mut FakeNames::default()),
            "IP masquerading entries\n\
             prot   expire source               destination          ports\n\
             tcp 7199:59.00 192.168.1.2          10.0.0.2             40000 -> 8080 (61000)\n\
             udp   0:29.00 192.168.1.2          10.0.0.2             40000 -> 8080 (61000)\n"
        );
    }

    #[test]
    fn expiry_splits_hundredths_seconds_and_minutes() {
        let mut out = Vec::new();
        write_row(
            &mut out,
            &entry("icmp", 6_000 * 12 + 100 * 7 + 5),
            &NUMERIC,
            &mut FakeNames::default(),
        );
        assert!(out.starts_with(b"icmp 12:07.05 "), "{out:?}");
        out.clear();
        write_row(
            &mut out,
            &entry("ip", 0),
            &NUMERIC,
            &mut FakeNames::default(),
        );
        assert!(out.starts_with(b"ip    0:00.00 "), "{out:?}");
        // %ld of an unsigned long past LONG_MAX is negative.
        out.clear();
        write_row(
            &mut out,
            &entry("tcp", u64::MAX),
            &NUMERIC,
            &mut FakeNames::default(),
        );
        let minutes = (u64::MAX / 6000) as i64;
        let expect = format!("tcp {minutes:>3}:{:02}.{:02} ", (u64::MAX / 100) % 60, 15);
        assert!(out.starts_with(expect.as_bytes()), "{out:?}");
    }

    #[test]
    fn extended_columns_with_and_without_previous_delta() {
        let layout = Layout {
            extend: true,
            ..NUMERIC
        };
        let mut a = entry("tcp", 100);
        a.initseq = 4_000_000_000;
        a.delta = -12;
        a.pdelta = Some(7);
        let mut b = entry("tcp", 100);
        b.pdelta = None;
        assert_eq!(
            rendered(&[a, b], layout, &mut FakeNames::default()),
            "IP masquerading entries\n\
             prot   expire    initseq delta prevd source               destination          ports\n\
             tcp   0:01.00 4000000000   -12     7 192.168.1.2          10.0.0.2             40000 -> 8080 (61000)\n\
             tcp   0:01.00          0     0     - 192.168.1.2          10.0.0.2             40000 -> 8080 (61000)\n"
        );
    }

    #[test]
    fn names_services_and_the_zero_port() {
        let mut names = FakeNames {
            hosts: vec![(
                Ipv4Addr::new(192, 168, 1, 2),
                "a-host-name-longer-than-twenty.example",
            )],
            tcp: vec![(8080, "http-alt"), (40000, "not-for-udp")],
            udp: vec![(53, "domain")],
        };
        let layout = Layout {
            numeric_hosts: false,
            numeric_ports: false,
            extend: false,
        };
        let mut udp = entry("udp", 100);
        udp.sport = 0;
        udp.dport = 53;
        udp.mport = 40000;
        let mut icmp = entry("icmp", 100);
        icmp.dport = 2048;
        icmp.mport = 0;
        let text = rendered(&[entry("tcp", 100), udp, icmp], layout, &mut names);
        let rows: Vec<&str> = text.lines().skip(2).collect();
        assert_eq!(
            rows,
            [
                "tcp   0:01.00 a-host-name-longer-than-twenty.example 10.0.0.2             not-for-udp -> http-alt (61000)",
                "udp   0:01.00 a-host-name-longer-than-twenty.example 10.0.0.2             * -> domain (40000)",
                "icmp  0:01.00 a-host-name-longer-than-twenty.example 10.0.0.2             40000 -> 2048 (*)",
            ]
        );
        // --numeric-ports keeps the host names; port 0 is still `*`.
        let layout = Layout {
            numeric_ports: true,
            ..layout
        };
        let mut udp = entry("udp", 100);
        udp.sport = 0;
        let text = rendered(&[udp], layout, &mut names);
        assert!(
            text.ends_with(
                "a-host-name-longer-than-twenty.example 10.0.0.2             * -> 8080 (61000)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn padding_counts_bytes_like_printf() {
        let mut line = Vec::new();
        pad(&mut line, "é".as_bytes(), 4);
        assert_eq!(line, b"\xc3\xa9  ");
        line.clear();
        pad(&mut line, b"toolong", 4);
        assert_eq!(line, b"toolong");
    }

    // ---- /proc/net/ip_masquerade

    /// Linux 2.4's `masq_procinfo()` layout: every line padded to 127 characters.
    fn line24(s: &str) -> String {
        format!("{s:<127}\n")
    }

    #[test]
    fn linux_24_file() {
        let text = [
            line24(
                "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)",
            ),
            line24("TCP C0A84D02:C9E4 0A4D0002:1F90 EE49 00000000      0      0 43199900"),
            line24("ICMP C0A84D02:1234 0A4D0002:0800 0000 00000000      0      0    2900"),
        ]
        .concat();
        let got = parse_masq_file(text.as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0],
            MasqEntry {
                proto: "tcp",
                expires: 43_199_900,
                src: Ipv4Addr::new(192, 168, 77, 2),
                dst: Ipv4Addr::new(10, 77, 0, 2),
                sport: 0xc9e4,
                dport: 8080,
                mport: 0xee49,
                initseq: 0,
                delta: 0,
                pdelta: Some(0),
            }
        );
        let text = rendered(&got, NUMERIC, &mut FakeNames::default());
        assert_eq!(
            text,
            "IP masquerading entries\n\
             prot   expire source               destination          ports\n\
             tcp 7199:59.00 192.168.77.2         10.77.0.2            51684 -> 8080 (61001)\n\
             icmp  0:29.00 192.168.77.2         10.77.0.2            4660 -> 2048 (*)\n"
        );
    }

    #[test]
    fn linux_22_file_without_pdelta() {
        let text = "Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta Expires\n\
                    UDP C0A80102:0035 C0A80001:0035 F001 0000ABCD -3 500\n";
        let got = parse_masq_file(text.as_bytes()).unwrap();
        assert_eq!(
            (got[0].initseq, got[0].delta, got[0].pdelta, got[0].expires),
            (0xabcd, -3, None, 500)
        );
    }

    #[test]
    fn header_only_or_blank_lines_is_an_empty_table() {
        assert_eq!(parse_masq_file(b"Prc FromIP PDelta\n").unwrap(), []);
        assert_eq!(parse_masq_file(b"header\n\n  \n\t").unwrap(), []);
        assert_eq!(parse_masq_file(b"no newline at all").unwrap(), []);
    }

    #[test]
    fn scanf_reads_tokens_not_lines() {
        // fscanf() does not care where the newlines are, and %hX skips white space.
        let text = b"h PDelta\nTCP\n0A000001: 0050\n0A000002:0051 0052 0 0 0 100\n";
        let got = parse_masq_file(text).unwrap();
        assert_eq!(
            (got[0].sport, got[0].dport, got[0].mport),
            (0x50, 0x51, 0x52)
        );
        // Overlong fields are cut to the C types: 0x12345 -> 0x2345; 70000 -> 4464.
        let text = b"PDelta\nUDP 0x0A000001:12345 0A000002:-1 0 FFFFFFFFFFFFFFFFFF 70000 -1 1\n";
        let got = parse_masq_file(text).unwrap();
        assert_eq!(
            (got[0].src, got[0].sport, got[0].dport, got[0].initseq),
            (Ipv4Addr::new(10, 0, 0, 1), 0x2345, 0xffff, u64::MAX)
        );
        assert_eq!((got[0].delta, got[0].pdelta), (70000_i32 as i16, Some(-1)));
    }

    #[test]
    fn file_errors_carry_net_tools_messages() {
        assert!(matches!(parse_masq_file(b""), Err(MasqFileError::NoHeader)));
        // A partial record at EOF and a missing ':' are format errors.
        assert!(matches!(
            parse_masq_file(b"PDelta\nTCP 0A000001:0050\n"),
            Err(MasqFileError::Format)
        ));
        assert!(matches!(
            parse_masq_file(b"PDelta\nTCP 0A000001 0050 0A000002:0051 0 0 0 0 0\n"),
            Err(MasqFileError::Format)
        ));
        // Without PDelta in the header a record has 9 fields; a 10-field record is misread:
        // its last number becomes the next record's protocol, which then runs into EOF.
        assert!(matches!(
            parse_masq_file(b"h\nTCP 0A000001:0050 0A000002:0051 0 0 0 5\n"),
            Ok(ref v) if v.len() == 1 && v[0].expires == 5
        ));
        assert!(matches!(
            parse_masq_file(b"h\nTCP 0A000001:0050 0A000002:0051 0 0 0 0 5\n"),
            Err(MasqFileError::Format)
        ));
        // Lower case, or a protocol net-tools never knew.
        assert!(matches!(
            parse_masq_file(b"PDelta\ntcp 0A000001:0050 0A000002:0051 0 0 0 0 0\n"),
            Err(MasqFileError::UnknownType)
        ));
        // One bad record fails the whole table, even after good ones.
        assert!(matches!(
            parse_masq_file(
                b"PDelta\nTCP 0A000001:0050 0A000002:0051 0 0 0 0 0\nSCTP 1:1 2:2 0 0 0 0 0\n"
            ),
            Err(MasqFileError::UnknownType)
        ));
        assert_eq!(
            MasqFileError::Format.message(),
            "masq_info.c: Internal Error `ip_masquerade format error'.\n"
        );
        assert_eq!(MasqFileError::Missing.message(), NO_SUPPORT);
        assert_eq!(MasqFileError::Missing.exit_code(), 1);
        assert_eq!(MasqFileError::NoHeader.exit_code(), 255);
    }

    #[test]
    fn reading_the_file_maps_errno_like_fopen() {
        let dir = std::env::temp_dir().join(format!("masq-unit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("isdir")).unwrap();
        assert!(matches!(
            read_masq_file(&dir.join("missing")),
            Err(MasqFileError::Missing)
        ));
        assert!(matches!(
            read_masq_file(&dir.join("isdir")),
            Err(MasqFileError::NoHeader)
        ));
        fs::write(dir.join("file"), b"x").unwrap();
        let e = read_masq_file(&dir.join("file/ip_masquerade")).unwrap_err();
        assert_eq!(
            e.message(),
            format!(
                "{}: Not a directory\n",
                dir.join("file/ip_masquerade").display()
            )
        );
        assert_eq!(e.exit_code(), 255);
        let _ = fs::remove_dir_all(&dir);
    }
}
