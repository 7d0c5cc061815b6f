//! `-g/--groups`: multicast group memberships, as net-tools' `igmp_info()` and
//! `igmp_do_one()` print them (reference §7).
//!
//! Source: `/proc/net/igmp` and `/proc/net/igmp6`, which is what net-tools reads. There is
//! no netlink alternative worth having: rtnetlink has no dump of IPv4 multicast
//! memberships at all (`RTM_GETMULTICAST` only answers for IPv6), so both families come
//! from /proc, under [`RunEnv::root`] (the `PROC_ROOT` seam).
//!
//! The parser reproduces net-tools' state machine, `sscanf()` formats included:
//!
//! * The first line of a file decides its format: without `Device` it is igmp6 (and that
//!   first line is parsed as data), with it the file is igmp, in the 2.1+ layout when the
//!   line starts with `Idx`.
//! * igmp: a line not starting with TAB names the device (`"%d\t%15c"`, cut at the last
//!   `:`); a TAB line is a group of the last device (`"\t%8[0-9A-Fa-f] %d"`), the hex being
//!   the kernel's host-order dump of the `__be32`.
//! * igmp6: `"%d %15s %64[0-9A-Fa-f] %d"`, the hex read as four big-endian words.
//!
//! net-tools keeps that state (`igmp6_flag`, `idx_flag`, `device`) in `static`s shared by
//! both files, so it is shared here too within one call. Its statics are never reset,
//! though, so with `-c` every round after the first parses `/proc/net/igmp` as igmp6 and
//! prints garbage built partly from uninitialised stack memory (reference §7, "`-c` bug").
//! That is not reproducible and helps nobody: each call here starts from a fresh state, so
//! every `-gc` round prints what net-tools' first round prints. This is a deliberate
//! divergence from net-tools 2.10.
use std::{
    fs::File,
    io::{self, Read, Write},
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use crate::perror::strerror;
use crate::{
    cli::Options,
    model::groups::{Group, Membership},
    names::Resolver,
    render::{
        json::Stamp,
        sockets::{Namer, ServiceList, host_text},
    },
    system::RunEnv,
};

/// net-tools' `fgets()` buffer is 8192 bytes: a longer line is read in pieces of 8191,
/// each piece counting as a line.
const FGETS_MAX: usize = 8191;

/// A line net-tools rejects: `warning, got bogus igmp[6] line N.` on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BogusLine {
    /// Rejected by the igmp6 format (`true`) or the igmp one.
    pub igmp6: bool,
    /// net-tools' `lnr`: the 0-based number of the `fgets()` read in its file.
    pub line: usize,
}

impl BogusLine {
    pub fn message(&self) -> String {
        let six = if self.igmp6 { "6" } else { "" };
        format!("warning, got bogus igmp{six} line {}.", self.line)
    }
}

/// What one line gives, in file order (rows and warnings interleave in net-tools' output).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Row(Membership),
    Bogus(BogusLine),
}

/// net-tools' `igmp_do_one()` state: which format, and the current device.
#[derive(Clone, Debug, Default)]
pub struct Parser {
    igmp6: bool,
    idx: bool,
    /// `static char device[16]`: `%15c` does not NUL-terminate, so bytes of an older,
    /// longer name survive a short one, as in C. Byte 15 is never written (stays NUL).
    device: [u8; 16],
}

impl Parser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Parses one whole file (`/proc/net/igmp` or `/proc/net/igmp6`); line numbers
    /// restart at 0, the format state carries on from the previous file.
    pub fn file(&mut self, data: &[u8]) -> Vec<Entry> {
        fgets_lines(data)
            .enumerate()
            .filter_map(|(lnr, line)| self.line(lnr, c_str(line)))
            .collect()
    }

    /// `igmp_do_one()` for one line (already cut at its first NUL, as C sees it).
    fn line(&mut self, lnr: usize, line: &[u8]) -> Option<Entry> {
        if lnr == 0 {
            if find(line, b"Device").is_some() {
                self.idx = line.starts_with(b"Idx");
                return None;
            }
            // igmp6 has no header: this first line is data.
            self.igmp6 = true;
        }
        if self.igmp6 {
            self.igmp6_line(lnr, line)
        } else {
            self.igmp_line(lnr, line)
        }
    }

    /// `sscanf(line, "%d %15s %64[0-9A-Fa-f] %d", &idx, device, hex, &refcnt) == 4`.
    fn igmp6_line(&mut self, lnr: usize, line: &[u8]) -> Option<Entry> {
        let bogus = Some(Entry::Bogus(BogusLine {
            igmp6: true,
            line: lnr,
        }));
        let mut s = Scan::new(line);
        if s.int().is_none() {
            return bogus;
        }
        let Some(dev) = s.word(15) else {
            return bogus;
        };
        // sscanf stores each field as it converts it: the device changes even when a
        // later field fails.
        self.device = [0; 16];
        self.device[..dev.len()].copy_from_slice(dev);
        s.skip_space();
        let Some(hex) = s.hex(64) else {
            return bogus;
        };
        let Some(refcnt) = s.int() else {
            return bogus;
        };
        Some(Entry::Row(Membership {
            device: self.device_name().to_vec(),
            refcnt,
            group: Group::V6(v6_from_hex(hex)),
        }))
    }

    fn igmp_line(&mut self, lnr: usize, line: &[u8]) -> Option<Entry> {
        let bogus = Some(Entry::Bogus(BogusLine {
            igmp6: false,
            line: lnr,
        }));
        let mut s = Scan::new(line);
        if line.first() != Some(&b'\t') {
            // A device line: `"%d\t%15c"` (2.1+) or `"%15c"`, then cut at the last ':'.
            if self.idx {
                if s.int().is_none() {
                    return bogus;
                }
                s.skip_space();
            }
            let Some(chars) = s.chars(15) else {
                return bogus;
            };
            self.device[..chars.len()].copy_from_slice(chars);
            let name_len = self.device_name().len();
            if let Some(colon) = self.device[..name_len].iter().rposition(|&b| b == b':') {
                self.device[colon] = 0;
            }
            return None;
        }
        // A group line: `"\t%8[0-9A-Fa-f] %d"`.
        s.skip_space();
        let Some(hex) = s.hex(8) else {
            return bogus;
        };
        s.skip_space();
        let Some(refcnt) = s.int() else {
            return bogus;
        };
        // `sscanf("%X", &s_addr)`: the kernel printed the __be32 as a host-order number.
        let word = hex_u32(hex);
        Some(Entry::Row(Membership {
            device: self.device_name().to_vec(),
            refcnt,
            group: Group::V4(Ipv4Addr::from(word.to_ne_bytes())),
        }))
    }

    /// The device buffer as a C string.
    fn device_name(&self) -> &[u8] {
        c_str(&self.device)
    }
}

/// `sscanf(hex, "%08X%08X%08X%08X")` then `htonl()` of each word. Words the hex is too
/// short for are uninitialised stack memory in net-tools; they are 0 here (only a
/// malformed file gets there: the kernel always prints 32 digits).
fn v6_from_hex(hex: &[u8]) -> Ipv6Addr {
    let mut bytes = [0u8; 16];
    for (word, chunk) in bytes.chunks_exact_mut(4).zip(hex.chunks(8)) {
        word.copy_from_slice(&hex_u32(chunk).to_be_bytes());
    }
    Ipv6Addr::from(bytes)
}

/// At most 8 hex digits (callers guarantee it) as a number.
fn hex_u32(hex: &[u8]) -> u32 {
    hex.iter().fold(0u32, |acc, &b| {
        let digit = char::from(b).to_digit(16).unwrap_or(0);
        (acc << 4) | digit
    })
}

/// The pieces `fgets(buf, 8192, f)` returns, each with its `\n` if it had room for it.
fn fgets_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let window = &rest[..rest.len().min(FGETS_MAX)];
        let len = window
            .iter()
            .position(|&b| b == b'\n')
            .map_or(window.len(), |nl| nl + 1);
        let (line, tail) = rest.split_at(len);
        rest = tail;
        Some(line)
    })
}

/// The bytes before the first NUL (what C string functions see).
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |nul| &b[..nul])
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The few glibc `sscanf()` conversions net-tools uses here, over a C string.
struct Scan<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Scan<'a> {
    fn new(s: &'a [u8]) -> Self {
        Scan { s, pos: 0 }
    }

    /// A whitespace directive (` ` or `\t` in a format): any amount, none included.
    fn skip_space(&mut self) {
        while self.s.get(self.pos).is_some_and(|&b| is_c_space(b)) {
            self.pos += 1;
        }
    }

    /// `%d`: optional sign and decimal digits, converted as glibc does (`strtol()`, which
    /// saturates at the `long` range, then narrowed to `int`, keeping the low 32 bits).
    fn int(&mut self) -> Option<i32> {
        self.skip_space();
        let mut i = self.pos;
        let negative = match self.s.get(i) {
            Some(b'-') => {
                i += 1;
                true
            }
            Some(b'+') => {
                i += 1;
                false
            }
            _ => false,
        };
        let start = i;
        let mut value: i64 = 0;
        while let Some(d) = self.s.get(i).filter(|b| b.is_ascii_digit()) {
            let d = i64::from(d - b'0');
            value = if negative {
                value.saturating_mul(10).saturating_sub(d)
            } else {
                value.saturating_mul(10).saturating_add(d)
            };
            i += 1;
        }
        if i == start {
            return None;
        }
        self.pos = i;
        // `(int) strtol(...)`: two's-complement truncation, as on every Linux target.
        Some(value as i32)
    }

    /// `%Ns`: skip whitespace, then 1 to `max` non-whitespace bytes.
    fn word(&mut self, max: usize) -> Option<&'a [u8]> {
        self.skip_space();
        self.take_while(max, |b| !is_c_space(b))
    }

    /// `%N[0-9A-Fa-f]`: 1 to `max` hex digits, no whitespace skipped.
    fn hex(&mut self, max: usize) -> Option<&'a [u8]> {
        self.take_while(max, |b| b.is_ascii_hexdigit())
    }

    /// `%Nc`: 1 to `max` bytes of anything; fewer when the string ends first.
    fn chars(&mut self, max: usize) -> Option<&'a [u8]> {
        self.take_while(max, |_| true)
    }

    fn take_while(&mut self, max: usize, ok: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let rest = &self.s[self.pos..];
        let n = rest.iter().take(max).take_while(|&&b| ok(b)).count();
        if n == 0 {
            return None;
        }
        self.pos += n;
        Some(&rest[..n])
    }
}

/// C `isspace()` in the C locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A file net-tools could not use, and how it reacts.
#[derive(Debug, thiserror::Error)]
enum ReadError {
    /// `fopen()` failed: net-tools' `INFO_GUTS` decides by errno.
    #[error("{}: {}", path.display(), strerror(source))]
    Open { path: PathBuf, source: io::Error },
    /// Opened but unreadable (a directory, an I/O error). net-tools' `fgets()` loop never
    /// sees EOF there and spins forever; this reports it like `perror()` instead.
    #[error("{}: {}", path.display(), strerror(source))]
    Read { path: PathBuf, source: io::Error },
}

impl ReadError {
    /// ENOENT and EACCES are "no support" to net-tools; any other open error is fatal.
    fn is_absent(&self) -> bool {
        match self {
            ReadError::Open { source, .. } => matches!(
                source.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ),
            ReadError::Read { .. } => false,
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    let mut f = File::open(path).map_err(|source| ReadError::Open {
        path: path.to_owned(),
        source,
    })?;
    let mut data = Vec::new();
    f.read_to_end(&mut data)
        .map_err(|source| ReadError::Read {
            path: path.to_owned(),
            source,
        })
        .map(|_| data)
}

/// Host names for the Group column: `INET_sprint()` / `INET6_sprint()` of the address.
struct GroupNames<'r> {
    resolver: &'r mut Resolver,
}

impl Namer for GroupNames<'_> {
    fn host(&mut self, addr: IpAddr) -> Option<String> {
        Some(match addr {
            IpAddr::V4(a) => self.resolver.host_v4(a),
            IpAddr::V6(a) => self.resolver.host_v6(a),
        })
    }
    fn service(&self, _: u16, _: ServiceList) -> Option<&str> {
        None
    }
    fn user(&mut self, _: u32) -> Option<String> {
        None
    }
}

/// One row: `"%-15s %-6d %s\n"` (the padding counts bytes, as printf does).
pub fn write_row(out: &mut dyn Write, m: &Membership, group: &str) -> io::Result<()> {
    out.write_all(&m.device)?;
    let pad = 15usize.saturating_sub(m.device.len());
    writeln!(out, "{:pad$} {:<6} {group}", "", m.refcnt)
}

/// The section title and column header `main()` prints before `igmp_info()`.
pub fn write_header(out: &mut dyn Write) -> io::Result<()> {
    out.write_all(
        b"IPv6/IPv4 Group Memberships\n\
          Interface       RefCnt Group\n\
          --------------- ------ ---------------------\n",
    )
}

/// The `-g` section of the sockets listing: header, then the IPv4 groups (when the
/// family list has inet) and the IPv6 ones (inet6). Returns 0, 1 when `/proc/net/igmp`
/// is missing and the user asked for groups (net-tools' `ESYSNOT`), or 255 when it
/// cannot be read (net-tools' `perror()` and `return -1`).
/// `resolver` is the run's (shared with the socket tables and across `-c` rounds).
/// With `json` (`--json`: the listing's stamp), `group` records replace the table.
pub fn print(
    o: &Options,
    env: &RunEnv,
    json: Option<&Stamp>,
    resolver: &mut Resolver,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    if json.is_none() {
        write_header(out)?;
    }
    let mut parser = Parser::new();
    let mut names = (!o.numeric_hosts).then_some(GroupNames { resolver });
    let mut rc = 0;
    let p = &o.protocols;
    if o.inet {
        match read(&env.root.join("proc/net/igmp")) {
            Ok(data) => emit(&parser.file(&data), names.as_mut(), json, out, err)?,
            // INFO_GUTS1: a missing table of a requested family is "no support".
            Err(e) if e.is_absent() => {
                if !p.noprot && (p.explicit || o.verbose > 0) {
                    out.flush()?;
                    writeln!(
                        err,
                        "netstat: no support for `AF INET (igmp)' on this system."
                    )?;
                }
                if !p.noprot && p.explicit {
                    rc = 1;
                }
            }
            Err(e) => {
                out.flush()?;
                writeln!(err, "{e}")?;
                return Ok(255);
            }
        }
    }
    if o.inet6 {
        match read(&env.root.join("proc/net/igmp6")) {
            Ok(data) => emit(&parser.file(&data), names.as_mut(), json, out, err)?,
            // INFO_GUTS2 ignores a file it cannot open, whatever the reason.
            Err(ReadError::Open { .. }) => {}
            Err(e @ ReadError::Read { .. }) => {
                out.flush()?;
                writeln!(err, "{e}")?;
                return Ok(255);
            }
        }
    }
    Ok(rc)
}

/// Rows to `out`, warnings to `err`, in file order.
fn emit(
    entries: &[Entry],
    mut names: Option<&mut GroupNames<'_>>,
    json: Option<&Stamp>,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<()> {
    for e in entries {
        match e {
            Entry::Row(m) if let Some(stamp) = json => {
                crate::render::json::groups::write_group(out, stamp, m)?;
            }
            Entry::Row(m) => {
                let addr = match m.group {
                    Group::V4(a) => IpAddr::V4(a),
                    Group::V6(a) => IpAddr::V6(a),
                };
                let text = match names.as_deref_mut() {
                    Some(n) => host_text(false, n, addr),
                    None => host_text(true, &mut crate::render::sockets::NoNames, addr),
                };
                write_row(out, m, &text)?;
            }
            Entry::Bogus(b) => {
                out.flush()?;
                writeln!(err, "{}", b.message())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/proc/net/igmp` as the kernel prints it (from the reference capture).
    const IGMP: &str = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
        1\tlo        :     1      V3\n\
        \t\t\t\t010000E0     1 0:00000000\t\t0\n\
        4\teth0      :     2      V3\n\
        \t\t\t\t030201EF     1 0:00000000\t\t0\n\
        \t\t\t\t010000E0     1 0:00000000\t\t0\n";

    const IGMP6: &str = "\
        1    lo              ff020000000000000000000000000001     1 0000000C 0\n\
        1    lo              ff010000000000000000000000000001     1 00000008 0\n\
        4    eth0            ff050000000000000000000000010003     2 00000004 0\n";

    fn rows(entries: &[Entry]) -> Vec<(String, i32, String)> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Row(m) => Some((
                    String::from_utf8_lossy(&m.device).into_owned(),
                    m.refcnt,
                    match m.group {
                        Group::V4(a) => a.to_string(),
                        Group::V6(a) => a.to_string(),
                    },
                )),
                Entry::Bogus(_) => None,
            })
            .collect()
    }

    fn bogus(entries: &[Entry]) -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Bogus(b) => Some(b.message()),
                Entry::Row(_) => None,
            })
            .collect()
    }

    fn row(dev: &str, n: i32, group: &str) -> (String, i32, String) {
        (dev.to_string(), n, group.to_string())
    }

    #[test]
    fn kernel_igmp_file_gives_device_and_groups() {
        let e = Parser::new().file(IGMP.as_bytes());
        assert_eq!(
            rows(&e),
            [
                // The trailing spaces of the /proc column stay (hidden by %-15s).
                row("lo        ", 1, "224.0.0.1"),
                row("eth0      ", 1, "239.1.2.3"),
                row("eth0      ", 1, "224.0.0.1"),
            ]
        );
        assert!(bogus(&e).is_empty());
    }

    #[test]
    fn kernel_igmp6_file_first_line_is_data() {
        let e = Parser::new().file(IGMP6.as_bytes());
        assert_eq!(
            rows(&e),
            [
                row("lo", 1, "ff02::1"),
                row("lo", 1, "ff01::1"),
                row("eth0", 2, "ff05::1:3"),
            ]
        );
    }

    #[test]
    fn both_files_share_one_parser_as_in_one_round() {
        let mut p = Parser::new();
        let mut e = p.file(IGMP.as_bytes());
        e.extend(p.file(IGMP6.as_bytes()));
        assert_eq!(rows(&e).len(), 6);
        assert!(bogus(&e).is_empty());
    }

    #[test]
    fn rendered_rows_match_net_tools_layout() {
        let mut out = Vec::new();
        write_header(&mut out).unwrap();
        let mut p = Parser::new();
        let mut entries = p.file(IGMP.as_bytes());
        entries.extend(p.file(IGMP6.as_bytes()));
        emit(&entries, None, None, &mut out, &mut Vec::new()).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "IPv6/IPv4 Group Memberships\n\
             Interface       RefCnt Group\n\
             --------------- ------ ---------------------\n\
             lo              1      224.0.0.1\n\
             eth0            1      239.1.2.3\n\
             eth0            1      224.0.0.1\n\
             lo              1      ff02::1\n\
             lo              1      ff01::1\n\
             eth0            2      ff05::1:3\n"
        );
    }

    #[test]
    fn long_names_and_wide_counts_are_not_cut() {
        let m = Membership {
            device: b"veth-long-name1".to_vec(),
            refcnt: 1234567,
            group: Group::V4(Ipv4Addr::new(239, 1, 2, 3)),
        };
        let mut out = Vec::new();
        write_row(&mut out, &m, "a-group-name-longer-than-21").unwrap();
        assert_eq!(
            out,
            b"veth-long-name1 1234567 a-group-name-longer-than-21\n"
        );
        let m = Membership {
            device: b"x".to_vec(),
            refcnt: -3,
            ..m
        };
        let mut out = Vec::new();
        write_row(&mut out, &m, "g").unwrap();
        assert_eq!(out, b"x               -3     g\n");
    }

    #[test]
    fn fifteen_byte_device_has_no_colon_to_cut() {
        let igmp = "Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
            3\tveth-long-name1:     2      V3\n\
            \t\t\t\t050505EF     1 0:00000000\t\t0\n\
            5\tabcdefghijklmn:     1      V3\n\
            \t\t\t\t010000E0     3 0:00000000\t\t0\n";
        assert_eq!(
            rows(&Parser::new().file(igmp.as_bytes())),
            [
                row("veth-long-name1", 1, "239.5.5.5"),
                row("abcdefghijklmn", 3, "224.0.0.1"),
            ]
        );
    }

    #[test]
    fn short_device_line_keeps_bytes_of_the_previous_name() {
        // "%15c" copies what there is and adds no NUL: "ab\n" over "eth0-longer\0   ".
        let igmp = "Idx\tDevice\n\
            1\teth0-longer:   1   V3\n\
            \t010000E0 1\n\
            2\tab\n\
            \t020000E0 1\n";
        let e = Parser::new().file(igmp.as_bytes());
        assert_eq!(
            rows(&e),
            [
                row("eth0-longer", 1, "224.0.0.1"),
                row("ab\n0-longer", 1, "224.0.0.2"),
            ]
        );
    }

    #[test]
    fn colon_cut_uses_the_last_colon_of_the_whole_buffer() {
        let igmp = "Idx\tDevice\n1\tabcdefghijklm:xy\n\t010000E0 1\n2\ta:\n\t010000E0 2\n";
        let e = Parser::new().file(igmp.as_bytes());
        // Second device: "a:\n" over "abcdefghijklm\0x" -> "a:\ndefghijklm" -> cut at ':'.
        assert_eq!(
            rows(&e),
            [
                row("abcdefghijklm", 1, "224.0.0.1"),
                row("a", 2, "224.0.0.1")
            ]
        );
    }

    #[test]
    fn bogus_igmp_lines_are_numbered_from_the_header() {
        let igmp = "Idx\tDevice\n\
            x\tlo:\n\
            \tZZ 1\n\
            \t010000E0\n\
            7\n\
            \n\
            \t010000E0 5\n";
        let e = Parser::new().file(igmp.as_bytes());
        assert_eq!(
            bogus(&e),
            [
                "warning, got bogus igmp line 1.",
                "warning, got bogus igmp line 2.",
                "warning, got bogus igmp line 3.",
                "warning, got bogus igmp line 4.",
                "warning, got bogus igmp line 5.",
            ]
        );
        // A group before any device: the empty name.
        assert_eq!(rows(&e), [row("", 5, "224.0.0.1")]);
    }

    #[test]
    fn old_format_without_idx_reads_fifteen_chars() {
        let igmp = "Device    : Count Group\nlo        : 1\n\t010000E0 1\n";
        assert_eq!(
            rows(&Parser::new().file(igmp.as_bytes())),
            [row("lo        ", 1, "224.0.0.1")]
        );
    }

    #[test]
    fn bogus_igmp6_lines_and_partial_device_update() {
        let igmp6 = "1 lo ff02::1 1\n\
            x lo ff020000000000000000000000000001 1\n\
            2 verylongdevname12 ff02 3\n\
            3 eth1 ff020000000000000000000000000001\n\
            4 eth2 ff020000000000000000000000000001 7\n";
        let e = Parser::new().file(igmp6.as_bytes());
        assert_eq!(
            bogus(&e),
            [
                "warning, got bogus igmp6 line 0.",
                "warning, got bogus igmp6 line 1.",
                "warning, got bogus igmp6 line 2.",
                "warning, got bogus igmp6 line 3.",
            ]
        );
        assert_eq!(rows(&e), [row("eth2", 7, "ff02::1")]);
    }

    #[test]
    fn short_or_long_igmp6_hex() {
        // Words past the end of a short hex are 0; hex past 32 digits is ignored.
        let igmp6 = "1 a ff0200000000000000001 1\n\
            2 b ff020000000000000000000000000001ffffffff 1\n";
        assert_eq!(
            rows(&Parser::new().file(igmp6.as_bytes())),
            [row("a", 1, "ff02::1:0:0"), row("b", 1, "ff02::1")]
        );
    }

    #[test]
    fn igmp_file_without_device_header_is_parsed_as_igmp6() {
        let mut p = Parser::new();
        let e = p.file(b"Idx\tlo\n1 lo ff020000000000000000000000000001 1\n");
        assert_eq!(bogus(&e), ["warning, got bogus igmp6 line 0."]);
        assert_eq!(rows(&e), [row("lo", 1, "ff02::1")]);
        // ... and the state carries into the next file of the round.
        let e = p.file(b"\t010000E0 1\n");
        assert_eq!(bogus(&e), ["warning, got bogus igmp6 line 0."]);
    }

    #[test]
    fn igmp6_first_device_named_device_switches_to_igmp() {
        // net-tools takes a first line containing "Device" for the igmp header: the rest
        // of the igmp6 file then reads as igmp device lines, which print nothing.
        let mut p = Parser::new();
        p.file(IGMP.as_bytes());
        let e = p.file(
            b"1    Device0         ff020000000000000000000000000001     1 0000000C 0\n\
              1    Device0         ff010000000000000000000000000001     1 00000008 0\n",
        );
        assert!(e.is_empty(), "{e:?}");
    }

    #[test]
    fn refcnt_converts_like_glibc_percent_d() {
        let cases = [
            ("99999999999", 1215752191),
            ("-5", -5),
            ("+5", 5),
            ("4294967297", 1),
            ("99999999999999999999", -1),
            ("-99999999999999999999", 0),
            ("12abc", 12),
        ];
        for (text, want) in cases {
            let line = format!("\t010000E0 {text}\n");
            let e = Parser::new().file(format!("Idx\tDevice\n1\tlo:\n{line}").as_bytes());
            assert_eq!(rows(&e), [row("lo", want, "224.0.0.1")], "{text}");
        }
        let e = Parser::new().file(b"Idx\tDevice\n1\tlo:\n\t010000E0 -\n");
        assert_eq!(bogus(&e), ["warning, got bogus igmp line 2."]);
    }

    #[test]
    fn eight_hex_digits_at_most_then_the_count() {
        // "%8[hex] %d" on "0123456789 5": hex 01234567, count 89.
        let e = Parser::new().file(b"Idx\tDevice\n1\tlo:\n\t0123456789 5\n");
        let want = Ipv4Addr::from(0x0123_4567u32.to_ne_bytes()).to_string();
        assert_eq!(rows(&e), [row("lo", 89, &want)]);
    }

    #[test]
    fn nul_ends_a_line_and_long_lines_split_like_fgets() {
        let e = Parser::new().file(b"Idx\tDevice\n1\tlo:\n\t010000E0 1\0garbage\n");
        assert_eq!(rows(&e), [row("lo", 1, "224.0.0.1")]);
        let lines: Vec<&[u8]> = fgets_lines(&[b'a'; 8200]).collect();
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), [8191, 9]);
        let data = [&[b'a'; 8191][..], b"\n"].concat();
        assert_eq!(fgets_lines(&data).count(), 2);
        assert_eq!(fgets_lines(b"a\nb").count(), 2);
        assert_eq!(fgets_lines(b"").count(), 0);
    }

    #[test]
    fn group_text_numeric_and_special_addresses() {
        let text = |a: IpAddr| host_text(true, &mut crate::render::sockets::NoNames, a);
        assert_eq!(text("224.0.0.1".parse().unwrap()), "224.0.0.1");
        assert_eq!(text("ff02::1:ff00:2".parse().unwrap()), "ff02::1:ff00:2");
        // INET6_sprint()'s fix_v4_address() on a v4-mapped "group".
        assert_eq!(text("::ffff:1.2.3.4".parse().unwrap()), "1.2.3.4");
    }

    fn options(args: &[&str]) -> Options {
        let argv = std::iter::once("netstat")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from);
        crate::cli::parse(argv).unwrap().0
    }

    fn run(args: &[&str], root: &Path) -> (String, String, i32) {
        let env = RunEnv {
            root: root.to_path_buf(),
            netlink: false,
        };
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = print(
            &options(args),
            &env,
            None,
            &mut Resolver::new(),
            &mut out,
            &mut err,
        )
        .unwrap();
        (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
            rc,
        )
    }

    struct Tree(PathBuf);

    impl Tree {
        fn new(tag: &str) -> Tree {
            let dir =
                std::env::temp_dir().join(format!("netstat-groups-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("proc/net")).unwrap();
            Tree(dir)
        }
        fn put(&self, name: &str, data: &str) {
            std::fs::write(self.0.join("proc/net").join(name), data).unwrap();
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const HEADER: &str = "IPv6/IPv4 Group Memberships\n\
        Interface       RefCnt Group\n\
        --------------- ------ ---------------------\n";

    #[test]
    fn families_select_the_files() {
        let t = Tree::new("families");
        t.put("igmp", IGMP);
        t.put("igmp6", IGMP6);
        let (out, err, rc) = run(&["-gn"], &t.0);
        assert_eq!((out.lines().count(), err.as_str(), rc), (9, "", 0));
        let (out, _, _) = run(&["-gn4"], &t.0);
        assert_eq!(out.lines().count(), 6);
        assert!(out.ends_with("eth0            1      224.0.0.1\n"), "{out}");
        for args in [&["-gn6"][..], &["-gn", "-A", "inet6"]] {
            let (out, _, _) = run(args, &t.0);
            assert_eq!(out.lines().count(), 6, "{args:?}");
            assert!(out.starts_with(&format!("{HEADER}lo              1      ff02::1\n")));
        }
    }

    #[test]
    fn missing_igmp_is_no_support_unless_a_family_option_was_given() {
        let t = Tree::new("missing");
        t.put("igmp6", IGMP6);
        let (out, err, rc) = run(&["-gn"], &t.0);
        assert_eq!(out.lines().count(), 6);
        assert_eq!(
            err,
            "netstat: no support for `AF INET (igmp)' on this system.\n"
        );
        assert_eq!(rc, 1);
        // -4 switched the IP protocols on (flag_noprot): silent.
        let (out, err, rc) = run(&["-gn4"], &t.0);
        assert_eq!((out.as_str(), err.as_str(), rc), (HEADER, "", 0));
        // A missing igmp6 is always silent.
        std::fs::remove_file(t.0.join("proc/net/igmp6")).unwrap();
        t.put("igmp", IGMP);
        let (out, err, rc) = run(&["-gn6"], &t.0);
        assert_eq!((out.as_str(), err.as_str(), rc), (HEADER, "", 0));
    }

    #[test]
    fn unreadable_files_are_reported_like_perror() {
        let t = Tree::new("unreadable");
        std::fs::create_dir_all(t.0.join("proc/net/igmp")).unwrap();
        let (out, err, rc) = run(&["-gn"], &t.0);
        assert_eq!(out, HEADER);
        let path = t.0.join("proc/net/igmp");
        assert_eq!(err, format!("{}: Is a directory\n", path.display()));
        assert_eq!(rc, 255);
        std::fs::remove_dir(&path).unwrap();
        t.put("igmp", IGMP);
        std::fs::create_dir_all(t.0.join("proc/net/igmp6")).unwrap();
        let (_, err, rc) = run(&["-gn"], &t.0);
        assert_eq!(rc, 255);
        assert!(err.ends_with("igmp6: Is a directory\n"), "{err}");
        // A path through a regular file: fopen() fails with ENOTDIR, which is fatal.
        let t = Tree::new("notdir");
        std::fs::remove_dir_all(t.0.join("proc/net")).unwrap();
        std::fs::write(t.0.join("proc/net"), "").unwrap();
        let (_, err, rc) = run(&["-gn"], &t.0);
        assert!(err.ends_with("/proc/net/igmp: Not a directory\n"), "{err}");
        assert_eq!(rc, 255);
        let (_, err, rc) = run(&["-gn6"], &t.0);
        assert_eq!((err.as_str(), rc), ("", 0));
    }

    #[test]
    fn warnings_go_to_stderr_between_rows() {
        let t = Tree::new("bogus");
        t.put("igmp", "Idx\tDevice\n1\tlo:\n\tXX 1\n\t010000E0 1\n");
        t.put("igmp6", "garbage\n");
        let (out, err, rc) = run(&["-gn"], &t.0);
        assert_eq!(out, format!("{HEADER}lo              1      224.0.0.1\n"));
        assert_eq!(
            err,
            "warning, got bogus igmp line 2.\nwarning, got bogus igmp6 line 0.\n"
        );
        assert_eq!(rc, 0);
    }

    #[test]
    fn each_call_starts_afresh_unlike_net_tools_statics() {
        let t = Tree::new("rounds");
        t.put("igmp", IGMP);
        t.put("igmp6", IGMP6);
        let first = run(&["-gn"], &t.0);
        assert_eq!(run(&["-gn"], &t.0), first);
    }
}
