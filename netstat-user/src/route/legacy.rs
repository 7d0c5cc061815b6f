//! The routing printers of the legacy families (`lib/ax25_gr.c`, `netrom_gr.c`,
//! `rose_gr.c`, `ipx_gr.c`, `ddp_gr.c`, `x25_gr.c`). Their /proc files exist only with
//! the matching kernel modules; without them net-tools' message differs per family
//! (stdout or stderr, one or two lines) and the run ends with exit 1.
//!
//! The printers cut fixed columns out of a `char buffer[256]` that `fgets()` refills, so
//! a short line shows bytes left from a longer line before it; [`CBuf`] keeps that. IPX
//! (removed from Linux in 4.18) is not printed: its address parser works on
//! uninitialised memory.

use std::io::{self, Write};
use std::path::Path;

use super::scan::{Fgets, Scanner};
use super::{pad, read_proc, strerror};
use crate::cli::RouteFamily;

/// A C `char buf[N]` as `fgets()` and net-tools' in-place cuts leave it.
struct CBuf {
    bytes: Vec<u8>,
}

impl CBuf {
    /// net-tools' buffers are on the stack, uninitialised; here they start zeroed.
    fn new(size: usize) -> Self {
        CBuf {
            bytes: vec![0; size],
        }
    }

    /// `fgets(buf, N, fp)`: false at the end of the file.
    fn fgets(&mut self, lines: &mut Fgets<'_>) -> bool {
        let Some(piece) = lines.next_piece(self.bytes.len()) else {
            return false;
        };
        self.bytes[..piece.len()].copy_from_slice(piece);
        if let Some(end) = self.bytes.get_mut(piece.len()) {
            *end = 0;
        }
        true
    }

    /// `buf[i] = '\0'`.
    fn cut(&mut self, i: usize) {
        if let Some(b) = self.bytes.get_mut(i) {
            *b = 0;
        }
    }

    /// The C string at `buf + offset` (empty outside the buffer, where C reads whatever
    /// follows it on the stack).
    fn str_at(&self, offset: i64) -> &[u8] {
        let Some(rest) = usize::try_from(offset)
            .ok()
            .and_then(|o| self.bytes.get(o..))
        else {
            return &[];
        };
        &rest[..rest.iter().position(|&b| b == 0).unwrap_or(rest.len())]
    }

    /// `atoi(buf + offset)`.
    fn atoi(&self, offset: i64) -> i32 {
        atoi(self.str_at(offset))
    }
}

/// glibc `atoi()`: `(int) strtol(s, NULL, 10)`, 0 when there is no number.
fn atoi(s: &[u8]) -> i32 {
    Scanner::new(s).dec().unwrap_or(0)
}

/// `%Nd`, or `%-Nd` for a negative `width` (as `%*d` takes it).
fn star_d(line: &mut Vec<u8>, value: i32, width: i32) {
    let text = value.to_string();
    let w = width.unsigned_abs() as usize;
    if width < 0 {
        pad(line, text.as_bytes(), w);
    } else {
        super::pad_left(line, text.as_bytes(), w);
    }
}

/// Prints the table of a legacy family, or net-tools' message when it is missing, and
/// returns the exit code.
pub fn rprint(
    family: RouteFamily,
    proc_net: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let path = |name: &str| proc_net.join(name).display().to_string();
    let read = |name: &str| read_proc(&proc_net.join(name));
    let mut line = Vec::new();
    let rc = match family {
        RouteFamily::Ax25 => match read("ax25_route") {
            Err(e) => {
                out.flush()?;
                writeln!(err, "{}: {}", path("ax25_route"), strerror(&e))?;
                out.write_all(b"AX.25 not configured in this system.\n")?;
                1
            }
            Ok(text) => {
                ax25(&text, &mut line);
                0
            }
        },
        RouteFamily::NetRom => match (read("nr_nodes"), read("nr_neigh")) {
            (Ok(nodes), Ok(neigh)) => {
                netrom(&nodes, &neigh, &mut line);
                0
            }
            (nodes, neigh) => {
                out.flush()?;
                if let Err(e) = &nodes {
                    writeln!(err, "{}: {}", path("nr_nodes"), strerror(e))?;
                }
                if let Err(e) = &neigh {
                    // Captured: after the first perror() errno is EINVAL, and that is
                    // what the second one reports.
                    let text = if nodes.is_err() {
                        "Invalid argument".to_string()
                    } else {
                        strerror(e)
                    };
                    writeln!(err, "{}: {text}", path("nr_neigh"))?;
                }
                out.write_all(b"NET/ROM not configured in this system.\n")?;
                1
            }
        },
        RouteFamily::Rose => match read("rose_nodes") {
            Err(e) => {
                out.flush()?;
                writeln!(err, "{}: {}", path("rose_nodes"), strerror(&e))?;
                writeln!(err, "ROSE not configured in this system.")?;
                1
            }
            Ok(nodes) => {
                // net-tools would crash on a missing neighbour file; here it is empty.
                let neigh = read("rose_neigh").unwrap_or_default();
                rose(&nodes, &neigh, &mut line);
                0
            }
        },
        RouteFamily::Ipx => match (read("ipx/route"), read("ipx_route")) {
            (Err(_), Err(e)) => {
                out.flush()?;
                // perror(NULL): the message alone, of the second fopen().
                writeln!(err, "{}", strerror(&e))?;
                out.write_all(
                    b"IPX routing not in file /proc/net/ipx/route or /proc/net/ipx_route found.\n",
                )?;
                1
            }
            _ => {
                out.flush()?;
                writeln!(
                    err,
                    "netstat: printing the IPX routing table is not implemented in this version"
                )?;
                1
            }
        },
        RouteFamily::Ddp => match read("atalk_route") {
            Err(e) => {
                out.flush()?;
                writeln!(
                    err,
                    "Error opening {}: {}",
                    path("atalk_route"),
                    strerror(&e)
                )?;
                writeln!(err, "DDP (AppleTalk) not configured on this system.")?;
                1
            }
            Ok(text) => {
                ddp(&text, &mut line);
                0
            }
        },
        RouteFamily::X25 => match read("x25/route").or_else(|_| read("x25_routes")) {
            Err(_) => {
                out.write_all(b"X.25 not configured in this system.\n")?;
                1
            }
            Ok(text) => {
                x25(&text, &mut line);
                0
            }
        },
        RouteFamily::Inet
        | RouteFamily::Inet6
        | RouteFamily::NoRouting(_)
        | RouteFamily::NotSupported(_) => 0,
    };
    out.write_all(&line)?;
    Ok(rc)
}

/// `AX25_rprint()` over `/proc/net/ax25_route`.
fn ax25(text: &[u8], line: &mut Vec<u8>) {
    line.extend_from_slice(b"Kernel AX.25 routing table\nDestination  Iface    Use\n");
    let mut lines = Fgets::new(text);
    let mut buf = CBuf::new(256);
    buf.fgets(&mut lines);
    while buf.fgets(&mut lines) {
        buf.cut(9);
        buf.cut(14);
        let used = buf.atoi(15);
        pad(line, buf.str_at(0), 9);
        line.extend_from_slice(b"    ");
        pad(line, buf.str_at(10), 5);
        line.extend_from_slice(b"  ");
        star_d(line, used, 5);
        line.push(b'\n');
    }
}

/// `NETROM_rprint()` over `/proc/net/nr_nodes` and `nr_neigh` (one buffer for both).
fn netrom(nodes: &[u8], neigh: &[u8], line: &mut Vec<u8>) {
    line.extend_from_slice(
        b"Kernel NET/ROM routing table\nDestination  Mnemonic  Quality  Neighbour  Iface\n",
    );
    let mut node_lines = Fgets::new(nodes);
    let mut buf = CBuf::new(256);
    buf.fgets(&mut node_lines);
    while buf.fgets(&mut node_lines) {
        buf.cut(9);
        buf.cut(17);
        let w = i64::from(buf.atoi(19)) - 1;
        pad(line, buf.str_at(0), 9);
        line.extend_from_slice(b"    ");
        pad(line, buf.str_at(10), 7);
        line.extend_from_slice(b"   ");
        let quality = buf.atoi(24 + 15 * w);
        let n = buf.atoi(32 + 15 * w);
        let mut neigh_lines = Fgets::new(neigh);
        buf.fgets(&mut neigh_lines);
        while buf.fgets(&mut neigh_lines) {
            if buf.atoi(0) == n {
                buf.cut(15);
                buf.cut(20);
                star_d(line, quality, 3);
                line.extend_from_slice(b"      ");
                pad(line, buf.str_at(6), 9);
                line.extend_from_slice(b"  ");
                line.extend_from_slice(buf.str_at(16));
                line.push(b'\n');
                break;
            }
        }
    }
}

/// `ROSE_rprint()` over `/proc/net/rose_nodes` and `rose_neigh`.
fn rose(nodes: &[u8], neigh: &[u8], line: &mut Vec<u8>) {
    line.extend_from_slice(
        b"Kernel ROSE routing table\nDestination  neigh1 callsign  device  neigh2 callsign  device  neigh3 callsign  device\n",
    );
    let mut node_lines = Fgets::new(nodes);
    let (mut b1, mut b2) = (CBuf::new(256), CBuf::new(256));
    b1.fgets(&mut node_lines);
    while b1.fgets(&mut node_lines) {
        for i in [10, 15, 17, 23, 29, 35] {
            b1.cut(i);
        }
        let used = b1.atoi(16);
        pad(line, b1.str_at(0), 10);
        line.extend_from_slice(b"   ");
        for i in 0..i64::from(used.max(0)) {
            let neighbour = b1.atoi(6 * (i + 3));
            // %05d
            if neighbour < 0 {
                line.push(b'-');
            }
            let digits = neighbour.unsigned_abs().to_string();
            let width: usize = if neighbour < 0 { 4 } else { 5 };
            line.resize(line.len() + width.saturating_sub(digits.len()), b'0');
            line.extend_from_slice(digits.as_bytes());
            line.extend_from_slice(b"  ");
            let mut neigh_lines = Fgets::new(neigh);
            b2.fgets(&mut neigh_lines);
            while b2.fgets(&mut neigh_lines) {
                b2.cut(15);
                b2.cut(21);
                if b2.atoi(0) == neighbour {
                    pad(line, b2.str_at(6), 10);
                    line.extend_from_slice(b"   ");
                    pad(line, b2.str_at(16), 4);
                }
            }
        }
        line.push(b'\n');
    }
}

/// `X25_rprint()` over `/proc/net/x25/route` (or the 2.4 name `x25_routes`).
fn x25(text: &[u8], line: &mut Vec<u8>) {
    line.extend_from_slice(b"Kernel X.25 routing table\nDestination          Iface\n");
    let mut lines = Fgets::new(text);
    let mut buf = CBuf::new(256);
    buf.fgets(&mut lines);
    while buf.fgets(&mut lines) {
        let newline = buf.str_at(0).iter().position(|&b| b == b'\n');
        if let Some(i) = newline {
            buf.cut(i);
        }
        buf.cut(24);
        buf.cut(35);
        let mut digits = buf.atoi(17);
        if !(0..=15).contains(&digits) {
            digits = 15;
        }
        buf.cut(digits as usize);
        if digits == 0 {
            line.extend_from_slice(b"*                    ");
        } else {
            line.extend_from_slice(buf.str_at(0));
            line.push(b'/');
            star_d(line, digits, digits - 17);
            line.extend_from_slice(b"   ");
        }
        pad(line, buf.str_at(25), 5);
        line.push(b'\n');
    }
}

/// `DDP_rprint()` over `/proc/net/atalk_route`: `fscanf("%ms %ms %ms %ms\n")`, so the
/// file is a stream of words, four per route after four header words.
fn ddp(text: &[u8], line: &mut Vec<u8>) {
    let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
    let mut words = text
        .split(|&b| super::scan::is_space(b))
        .filter(|w| !w.is_empty());
    for _ in 0..4 {
        words.next();
    }
    line.extend_from_slice(b"Destination     Gateway         Device          Flags\n");
    while let (Some(dest), Some(gw), Some(flags), Some(dev)) =
        (words.next(), words.next(), words.next(), words.next())
    {
        let iflags = atoi(flags) as u32;
        pad(line, dest, 16);
        pad(line, gw, 16);
        pad(line, dev, 16);
        line.extend_from_slice(ddp_flags(iflags).as_bytes());
        line.push(b'\n');
    }
}

/// `flags_decode()` of `ddp_gr.c`: like the IPv4 letters, but `!` is appended.
fn ddp_flags(flags: u32) -> String {
    const LETTERS: [(u32, &str); 20] = [
        (0x0001, "U"),
        (0x0002, "G"),
        (0x0200, "!"),
        (0x0004, "H"),
        (0x0008, "R"),
        (0x0010, "D"),
        (0x0020, "M"),
        (0x0001_0000, "d"),
        (0x0002_0000, "a"),
        (0x0004_0000, "c"),
        (0x0020_0000, "o"),
        (0x0040_0000, "e"),
        (0x0100_0000, "c"),
        (0x0200_0000, "f"),
        (0x0400_0000, "p"),
        (0x8000_0000, "l"),
        (0x0040, "u"),
        (0x0080, "w"),
        (0x0100, "i"),
        (0x0400, "n"),
    ];
    LETTERS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|(_, letter)| *letter)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(family: RouteFamily, dir: &Path) -> (String, String, i32) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = rprint(family, dir, &mut out, &mut err).expect("vec");
        (
            String::from_utf8(out).expect("utf8"),
            String::from_utf8(err).expect("utf8"),
            rc,
        )
    }

    #[test]
    fn missing_files_give_net_tools_messages() {
        let dir = Path::new("/nonexistent-root/proc/net");
        let (out, err, rc) = run(RouteFamily::Ax25, dir);
        assert_eq!(out, "AX.25 not configured in this system.\n");
        assert_eq!(
            err,
            "/nonexistent-root/proc/net/ax25_route: No such file or directory\n"
        );
        assert_eq!(rc, 1);
        let (_, err, _) = run(RouteFamily::NetRom, dir);
        assert_eq!(
            err,
            "/nonexistent-root/proc/net/nr_nodes: No such file or directory\n\
/nonexistent-root/proc/net/nr_neigh: Invalid argument\n"
        );
        let (out, err, _) = run(RouteFamily::Rose, dir);
        assert_eq!(out, "");
        assert!(err.ends_with("directory\nROSE not configured in this system.\n"));
        let (out, err, _) = run(RouteFamily::Ipx, dir);
        assert_eq!(err, "No such file or directory\n");
        assert!(out.starts_with("IPX routing not in file"));
        let (out, err, _) = run(RouteFamily::X25, dir);
        assert_eq!(
            (out.as_str(), err.as_str()),
            ("X.25 not configured in this system.\n", "")
        );
        let (_, err, _) = run(RouteFamily::Ddp, dir);
        assert!(err.starts_with("Error opening /nonexistent-root/proc/net/atalk_route: No such"));
    }

    fn text(f: fn(&[u8], &mut Vec<u8>), input: &[u8]) -> String {
        let mut line = Vec::new();
        f(input, &mut line);
        String::from_utf8(line).expect("utf8")
    }

    #[test]
    fn ax25_columns_and_leftovers() {
        let out = text(
            ax25,
            b"callsign  dev  uses\nG4KLX-1   ax0  12\nNOCALL    ax1     7\nshort\n",
        );
        assert_eq!(
            out,
            "Kernel AX.25 routing table\nDestination  Iface    Use\n\
G4KLX-1      ax0       12\n\
NOCALL       ax1        7\n\
short\n       ax1        7\n"
        );
    }

    #[test]
    fn x25_prefix_lengths() {
        let out = text(
            x25,
            b"address          digits  device\n1234567890123456 7       x25a\n0000000000000000 0       x25b\n",
        );
        assert_eq!(
            out,
            "Kernel X.25 routing table\nDestination          Iface\n\
1234567/7            x25a \n\
*                    x25b \n"
        );
    }

    #[test]
    fn ddp_words() {
        let out = text(
            ddp,
            b"Target Router Flags Dev\n10.1 10.2 3 eth0\n\n20.1  20.2 515 eth1 extra\n",
        );
        assert_eq!(
            out,
            "Destination     Gateway         Device          Flags\n\
10.1            10.2            eth0            UG\n\
20.1            20.2            eth1            UG!\n"
        );
    }
}
