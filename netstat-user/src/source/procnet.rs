//! `/proc/net/{tcp,tcp6,udp,udp6,udplite,udplite6,raw,raw6,unix}`: pure parsers and a
//! reader with a root-directory override (like ss's `PROC_ROOT`), so golden tests can
//! run on recorded files without privileges.
//!
//! Why not the `procfs` crate for these files: its `TcpNetEntry`/`UnixNetEntry` drop
//! the timer, retransmit, probe, protocol and flags columns that netstat prints.
use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use crate::model::{Family, InetProto, InetSocket, Timer, UnixSocket};

/// A line the parser could not use. net-tools prints `warning, got bogus <kind> line.`
/// for it and carries on; so do we (the caller prints, sources never do).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BogusLine {
    /// `tcp`, `udp`, `raw` or `unix`, as in net-tools' message.
    pub kind: &'static str,
    pub line: String,
}

impl BogusLine {
    pub fn message(&self) -> String {
        format!("warning, got bogus {} line.", self.kind)
    }
}

/// What a parse of one table gives: the rows, plus lines it had to skip.
#[derive(Debug)]
pub struct Parsed<T> {
    pub rows: Vec<T>,
    pub bogus: Vec<BogusLine>,
}

impl<T> Default for Parsed<T> {
    fn default() -> Self {
        Self {
            rows: Vec::new(),
            bogus: Vec::new(),
        }
    }
}

/// Where /proc is. `ProcNet::new("/")` is the live system.
#[derive(Clone, Debug)]
pub struct ProcNet {
    root: PathBuf,
}

impl ProcNet {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The file that holds `proto`/`family`, e.g. `<root>/proc/net/tcp6`.
    pub fn inet_path(&self, proto: InetProto, family: Family) -> PathBuf {
        let base = match proto {
            InetProto::Tcp => "tcp",
            InetProto::Udp => "udp",
            InetProto::UdpLite => "udplite",
            InetProto::Raw => "raw",
            // net-tools compiles in /proc/net/sctp/{eps,assocs}; not modelled here yet.
            InetProto::Sctp => "sctp/eps",
        };
        let six = if family == Family::Inet6 { "6" } else { "" };
        self.root.join(format!("proc/net/{base}{six}"))
    }

    pub fn unix_path(&self) -> PathBuf {
        self.root.join("proc/net/unix")
    }

    /// Reads and parses one Internet table.
    pub fn inet(&self, proto: InetProto, family: Family) -> Result<Parsed<InetSocket>, ReadError> {
        let path = self.inet_path(proto, family);
        let text = read(&path)?;
        Ok(parse_inet(&text, proto, family))
    }

    pub fn unix(&self) -> Result<Parsed<UnixSocket>, ReadError> {
        let path = self.unix_path();
        let text = read(&path)?;
        Ok(parse_unix(&text))
    }
}

/// A /proc file that could not be read, with its path (net-tools: `perror(path)`).
#[derive(Debug, thiserror::Error)]
#[error("{}: {}", path.display(), crate::perror::strerror(source))]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: io::Error,
}

impl ReadError {
    /// net-tools treats a missing (ENOENT) or forbidden (EACCES) table as "no support".
    pub fn is_absent(&self) -> bool {
        matches!(
            self.source.kind(),
            io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
        )
    }
}

/// The file's bytes: unix paths may hold any byte but NUL, and net-tools prints them raw.
fn read(path: &Path) -> Result<Vec<u8>, ReadError> {
    std::fs::read(path).map_err(|source| ReadError {
        path: path.to_owned(),
        source,
    })
}

/// The lines of a table after its header (net-tools skips line 0). Every other line
/// counts, blank ones too: net-tools warns about them (a unix path may hold `\n`).
fn rows_of(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let text = text.strip_suffix(b"\n").unwrap_or(text);
    text.split(|&b| b == b'\n').skip(1)
}

fn bogus_kind(proto: InetProto) -> &'static str {
    match proto {
        InetProto::Tcp => "tcp",
        InetProto::Udp | InetProto::UdpLite => "udp",
        InetProto::Raw => "raw",
        InetProto::Sctp => "sctp",
    }
}

/// Parses a whole `/proc/net/{tcp,udp,udplite,raw}{,6}` text. The first line is the
/// header and is skipped, as net-tools does (`lnr == 0`).
pub fn parse_inet(text: &[u8], proto: InetProto, family: Family) -> Parsed<InetSocket> {
    let mut out = Parsed::default();
    for raw in rows_of(text) {
        let line = String::from_utf8_lossy(raw);
        match parse_inet_line(&line, proto) {
            Some(mut s) => {
                // The table, not the address width, decides the family label.
                s.family = family;
                out.rows.push(s);
            }
            None => out.bogus.push(BogusLine {
                kind: bogus_kind(proto),
                line: line.into_owned(),
            }),
        }
    }
    out
}

/// One line: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
///
/// net-tools needs 11 fields for tcp (through `retrnsmt`) and 10 for udp/raw (through
/// `tr:when`); missing later fields stay 0, as its sscanf leaves them.
pub fn parse_inet_line(line: &str, proto: InetProto) -> Option<InetSocket> {
    let mut it = line.split_ascii_whitespace();
    let sl = it.next()?;
    sl.strip_suffix(':')?.parse::<u64>().ok()?;
    let (local, local_port) = parse_endpoint(it.next()?)?;
    let (remote, remote_port) = parse_endpoint(it.next()?)?;
    let state = u8::from_str_radix(it.next()?, 16).ok()?;
    let (tx, rx) = split_hex_pair(it.next()?)?;
    let (tr, when) = split_hex_pair(it.next()?)?;
    let mut fields = 10;
    let retr = match it.next().and_then(|s| u64::from_str_radix(s, 16).ok()) {
        Some(v) => {
            fields += 1;
            v
        }
        None => 0,
    };
    let min = if proto == InetProto::Tcp { 11 } else { 10 };
    if fields < min {
        return None;
    }
    // %d fields: uid and timeout(probes); %lu inode.
    let uid = it.next().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) as u32;
    let probes = it.next().and_then(|s| s.parse::<i64>().ok()).unwrap_or(0) as u32;
    let inode = it.next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    Some(InetSocket {
        proto,
        family: if local.is_ipv6() {
            Family::Inet6
        } else {
            Family::Inet
        },
        local,
        local_port,
        remote,
        remote_port,
        state,
        rx_queue: rx,
        tx_queue: tx,
        uid,
        inode,
        cookie: 0,
        timer: Timer {
            kind: tr as u8,
            when_ticks: when,
            retransmits: retr,
            probes,
        },
    })
}

fn split_hex_pair(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once(':')?;
    Some((
        u64::from_str_radix(a, 16).ok()?,
        u64::from_str_radix(b, 16).ok()?,
    ))
}

/// `0100007F:1F90` or 32 hex digits + port. The kernel prints each 32-bit word of the
/// address as a host-endian integer (`%08X` of the in-memory word).
fn parse_endpoint(s: &str) -> Option<(IpAddr, u16)> {
    let (addr, port) = s.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    // Hex digits only: a corrupt file can put multi-byte characters (or U+FFFD from the
    // lossy decoding) in the field, and the 8-byte slices below must fall on char bounds.
    if !addr.is_ascii() {
        return None;
    }
    let addr = match addr.len() {
        8 => IpAddr::V4(Ipv4Addr::from(hex_word(addr)?)),
        32 => {
            let mut b = [0u8; 16];
            for (i, chunk) in b.chunks_exact_mut(4).enumerate() {
                chunk.copy_from_slice(&hex_word(&addr[i * 8..i * 8 + 8])?);
            }
            IpAddr::V6(Ipv6Addr::from(b))
        }
        _ => return None,
    };
    Some((addr, port))
}

/// The bytes of one host-endian `%08X` word, in memory order.
fn hex_word(s: &str) -> Option<[u8; 4]> {
    Some(u32::from_str_radix(s, 16).ok()?.to_ne_bytes())
}

/// Parses `/proc/net/unix`:
/// `Num       RefCount Protocol Flags    Type St Inode Path`.
pub fn parse_unix(text: &[u8]) -> Parsed<UnixSocket> {
    let mut out = Parsed::default();
    for line in rows_of(text) {
        match parse_unix_line(line) {
            Some(s) => out.rows.push(s),
            None => out.bogus.push(BogusLine {
                kind: "unix",
                line: String::from_utf8_lossy(line).into_owned(),
            }),
        }
    }
    out
}

/// One unix line: `%p: %lX %lX %lX %X %X %lu %s` as net-tools reads it. The kernel
/// prints `" "` and the raw path after the inode; the model keeps every byte after that
/// space (the renderer applies `%s`'s whitespace rule).
pub fn parse_unix_line(line: &[u8]) -> Option<UnixSocket> {
    let colon = line.iter().position(|&b| b == b':')?;
    let num = std::str::from_utf8(&line[..colon]).ok()?.trim();
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mut rest = &line[colon + 1..];
    let mut next = || -> Option<&str> {
        let start = rest.iter().position(|&b| b != b' ')?;
        let r = &rest[start..];
        let end = r.iter().position(|&b| b == b' ').unwrap_or(r.len());
        let tok = std::str::from_utf8(&r[..end]).ok()?;
        rest = &r[end..];
        Some(tok)
    };
    let refcount = u64::from_str_radix(next()?, 16).ok()?;
    let protocol = u64::from_str_radix(next()?, 16).ok()?;
    let flags = u64::from_str_radix(next()?, 16).ok()?;
    let sock_type = u32::from_str_radix(next()?, 16).ok()?;
    let state = u32::from_str_radix(next()?, 16).ok()?;
    // net-tools accepts a line without the inode (6 fields); it then prints inode 0.
    let inode = next().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
    let path = rest.strip_prefix(b" ").filter(|p| !p.is_empty());
    Some(UnixSocket {
        refcount,
        protocol,
        flags,
        sock_type,
        state,
        inode,
        path: path.map(<[u8]>::to_vec),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `proc_net_sockets` fuzz target (issue 7): a 32-byte address field with
    /// a multi-byte character across an 8-byte word boundary panicked (str slicing) instead
    /// of making the line bogus.
    #[test]
    fn issue_7_non_ascii_address_is_a_bogus_line_not_a_panic() {
        let addr = format!("000000\u{FFFD}{}", "0".repeat(23));
        assert_eq!(addr.len(), 32);
        let line = format!(
            "   0: {addr}:0016 {} 0A 0:0 00:0 0 0 0 1",
            "0".repeat(32) + ":0000"
        );
        assert_eq!(parse_inet_line(&line, InetProto::Tcp), None);
        // The same from the file's bytes: a 3-byte UTF-8 character at bytes 6..9.
        let mut text = b"header\n   0: 000000\xef\xbf\xbd".to_vec();
        text.extend_from_slice(b"00000000000000000000000:0016 00000000000000000000000000000000:0000 0A 0:0 00:0 0 0 0 1\n");
        let parsed = parse_inet(&text, InetProto::Tcp, Family::Inet6);
        assert!(parsed.rows.is_empty());
        assert_eq!(parsed.bogus.len(), 1);
    }

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 223577 1 0000000000000000 100 0 0 10 0
   1: 0100007F:B7A6 0100007F:2B67 06 00000000:00000000 03:00001391 00000000     0        0 0 3 0000000000000000
   2: 0100007F:2B6C 0100007F:A8D6 01 00000000:000004D2 02:00098A6E 00000002 65534        3 223584 2 0000000000000000 20 4 30 10 -1
";

    #[test]
    fn tcp_lines_parse_with_timers_and_queues() {
        let p = parse_inet(TCP.as_bytes(), InetProto::Tcp, Family::Inet);
        assert!(p.bogus.is_empty());
        assert_eq!(p.rows.len(), 3);
        let l = &p.rows[0];
        assert_eq!(l.local, IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        assert_eq!(l.local_port, 8080);
        assert_eq!(l.remote_port, 0);
        assert_eq!(l.state, 10);
        assert_eq!((l.tx_queue, l.rx_queue), (0, 1));
        assert_eq!(l.inode, 223577);
        let tw = &p.rows[1];
        assert_eq!(tw.state, 6);
        assert_eq!(tw.timer.kind, 3);
        assert_eq!(tw.timer.when_ticks, 0x1391);
        let ka = &p.rows[2];
        assert_eq!(ka.rx_queue, 1234);
        assert_eq!(ka.uid, 65534);
        assert_eq!(
            ka.timer,
            Timer {
                kind: 2,
                when_ticks: 0x98A6E,
                retransmits: 2,
                probes: 3
            }
        );
    }

    #[test]
    fn tcp6_words_are_host_endian() {
        let text = "hdr\n   0: B80D0120AAAAAAAABBBBCCCC01000000:AD31 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0\n   1: 0000000000000000FFFF00000100007F:8235 0000000000000000FFFF00000100007F:BD3A 01 00000000:00000000 00:00000000 00000000     0        0 2 1 0\n";
        let p = parse_inet(text.as_bytes(), InetProto::Tcp, Family::Inet6);
        assert_eq!(
            p.rows[0].local.to_string(),
            "2001:db8:aaaa:aaaa:cccc:bbbb:0:1"
        );
        assert_eq!(p.rows[0].local_port, 44337);
        assert_eq!(p.rows[1].local.to_string(), "::ffff:127.0.0.1");
        assert_eq!(p.rows[0].family, Family::Inet6);
    }

    #[test]
    fn short_tcp_line_is_bogus_but_udp_needs_only_ten_fields() {
        let line = "   0: 0100007F:1F90 00000000:0000 07 00000000:00000000 00:00000000";
        assert!(parse_inet_line(line, InetProto::Tcp).is_none());
        let u = parse_inet_line(line, InetProto::Udp).expect("10 fields are enough for udp");
        assert_eq!(u.inode, 0);
        let p = parse_inet(
            format!("hdr\n{line}\ngarbage here\n").as_bytes(),
            InetProto::Tcp,
            Family::Inet,
        );
        assert_eq!(p.bogus.len(), 2);
        assert_eq!(p.bogus[0].message(), "warning, got bogus tcp line.");
    }

    #[test]
    fn unix_paths_keep_spaces_and_abstract_names() {
        let text = "Num       RefCount Protocol Flags    Type St Inode Path
0000000000000000: 00000002 00000000 00010000 0001 01 224395 /tmp/nsgen/stream.sock
0000000000000000: 00000003 00000000 00000000 0001 03 224401
0000000000000000: 00000002 00000000 00000000 0002 01 224398 /tmp/with space.sock
0000000000000000: 00000002 00000000 00010000 0001 01 224399 @nsgen-abstract
";
        let p = parse_unix(text.as_bytes());
        assert!(p.bogus.is_empty());
        assert_eq!(p.rows.len(), 4);
        assert_eq!(p.rows[0].flags, 0x10000);
        assert_eq!(
            p.rows[0].path.as_deref(),
            Some(&b"/tmp/nsgen/stream.sock"[..])
        );
        assert_eq!(p.rows[1].path, None);
        assert_eq!(p.rows[1].state, 3);
        assert_eq!(
            p.rows[2].path.as_deref(),
            Some(&b"/tmp/with space.sock"[..])
        );
        assert_eq!(p.rows[3].path.as_deref(), Some(&b"@nsgen-abstract"[..]));
    }

    #[test]
    fn unix_paths_are_raw_bytes_and_blank_lines_are_bogus() {
        let mut text = b"Num       RefCount Protocol Flags    Type St Inode Path\n".to_vec();
        text.extend_from_slice(
            b"0000000000000000: 00000002 00000000 00000000 0002 01 7 /x/bin\xff\xfe\n",
        );
        text.extend_from_slice(b"0000000000000000: 00000002 00000000 00000000 0002 01  8  lead\n");
        // A path ending in a newline leaves a blank line behind it.
        text.extend_from_slice(b"0000000000000000: 00000002 00000000 00000000 0002 01 9 /x/nl\n\n");
        let p = parse_unix(&text);
        assert_eq!(p.rows.len(), 3);
        assert_eq!(p.rows[0].path.as_deref(), Some(&b"/x/bin\xff\xfe"[..]));
        assert_eq!(p.rows[1].inode, 8);
        assert_eq!(p.rows[1].path.as_deref(), Some(&b" lead"[..]));
        assert_eq!(p.bogus.len(), 1);
        assert_eq!(p.bogus[0].message(), "warning, got bogus unix line.");
    }

    #[test]
    fn missing_file_is_absent_not_fatal() {
        let p = ProcNet::new("/nonexistent-root");
        let e = p.inet(InetProto::Tcp, Family::Inet).unwrap_err();
        assert!(e.is_absent());
        assert!(e.to_string().contains("/nonexistent-root/proc/net/tcp"));
    }
}
