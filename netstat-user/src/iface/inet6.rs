//! `/proc/net/if_inet6`, the source of the `inet6` lines of `-ie` (net-tools reads it in
//! `ife_print_long()`, once per printed interface, and keeps the file's order, which is
//! the kernel's address hash order rather than any per-device order: that is why the
//! lines come from this file and not from an `RTM_GETADDR` dump).
//!
//! Line format (kernel `if6_seq_show()`): `%pi6 %02x %02x %02x %02x %8s`, that is
//! 32 hex digits of address, then ifindex, prefix length, scope and flags in hex, then the
//! device name. net-tools scans it with
//! `"%4s%4s%4s%4s%4s%4s%4s%4s %08x %02x %02x %02x %20s\n"` (so the prefix length and the
//! scope are read as at most two hex digits each) and prints the prefix length in decimal.
use std::{collections::HashMap, net::Ipv6Addr};

/// One address line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inet6Addr {
    pub addr: Ipv6Addr,
    pub prefixlen: u32,
    /// The raw scope byte (`IPV6_ADDR_*` scope bits): 0x00 global, 0x10 host, 0x20 link,
    /// 0x40 site, 0x80 v4-compatible.
    pub scope: u32,
}

/// The addresses of each device, in file order.
pub type ByDevice = HashMap<Vec<u8>, Vec<Inet6Addr>>;

/// Parses the file. Lines that do not have the kernel's shape are skipped (net-tools'
/// `fscanf()` would resynchronise somewhere inside them; the kernel never writes one).
pub fn parse(text: &[u8]) -> ByDevice {
    let mut by_device: ByDevice = HashMap::new();
    for line in text.split(|&b| b == b'\n') {
        if let Some((device, addr)) = parse_line(line) {
            by_device.entry(device.to_vec()).or_default().push(addr);
        }
    }
    by_device
}

fn hex(field: &[u8], max_digits: usize) -> Option<u32> {
    if field.is_empty() || field.len() > max_digits {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(field).ok()?, 16).ok()
}

fn parse_line(line: &[u8]) -> Option<(&[u8], Inet6Addr)> {
    let mut fields = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|f| !f.is_empty());
    let addr = fields.next()?;
    let _ifindex = hex(fields.next()?, 8)?;
    let prefixlen = hex(fields.next()?, 2)?;
    let scope = hex(fields.next()?, 2)?;
    let _flags = hex(fields.next()?, 2)?;
    let device = fields.next()?;
    if addr.len() != 32 || device.len() > 20 || fields.next().is_some() {
        return None;
    }
    let mut octets = [0u8; 16];
    for (i, pair) in addr.chunks(2).enumerate() {
        octets[i] = u8::try_from(hex(pair, 2)?).ok()?;
    }
    Some((
        device,
        Inet6Addr {
            addr: Ipv6Addr::from(octets),
            prefixlen,
            scope,
        },
    ))
}

/// The `scopeid 0x..<...>` text after the prefix length: net-tools prints the raw scope,
/// then names for its bits (`compat` is taken off before `global` is tested; a scope with
/// no known bit prints an empty name list, without `<>`).
pub fn scope_text(scope: u32) -> String {
    let mut names = String::from("<");
    let mut rest = scope;
    if rest & 0x80 != 0 {
        names.push_str("compat,");
        rest -= 0x80;
    }
    if rest == 0 {
        names.push_str("global,");
    }
    if rest & 0x20 != 0 {
        names.push_str("link,");
    }
    if rest & 0x40 != 0 {
        names.push_str("site,");
    }
    if rest & 0x10 != 0 {
        names.push_str("host,");
    }
    close_list(&mut names);
    format!("  scopeid 0x{scope:x}{names}")
}

/// net-tools' way to end a `<a,b,` list: a trailing comma becomes `>`, anything else
/// (the `<` of an empty list) is dropped.
pub fn close_list(list: &mut String) {
    if list.ends_with(',') {
        list.pop();
        list.push('>');
    } else {
        list.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_lines_group_by_device_in_file_order() {
        let text = b"fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n\
                     00000000000000000000000000000001 01 80 10 80       lo\n\
                     fd000000000000000000000000000002 02 40 00 80     eth0\n\
                     20010db8aaaabbbbccccddddeeee0001 1a2 80 00 80 abcdefghijklmno\n";
        let map = parse(text);
        let eth0 = &map[&b"eth0".to_vec()];
        assert_eq!(eth0.len(), 2);
        assert_eq!(
            eth0[0].addr,
            "fe80::fc:ff:fe00:1".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!((eth0[0].prefixlen, eth0[0].scope), (64, 0x20));
        assert_eq!(eth0[1].addr, "fd00::2".parse::<Ipv6Addr>().unwrap());
        let lo = &map[&b"lo".to_vec()];
        assert_eq!((lo[0].prefixlen, lo[0].scope), (128, 0x10));
        assert_eq!(map[&b"abcdefghijklmno".to_vec()][0].prefixlen, 128);
    }

    #[test]
    fn malformed_lines_are_skipped() {
        let text = b"\n\
                     fe80 02 40 20 80 eth0\n\
                     zz800000000000000000000000000001 02 40 20 80 eth0\n\
                     fe800000000000000000000000000001 02 140 20 80 eth0\n\
                     fe800000000000000000000000000001 02 40 20 80\n\
                     fe800000000000000000000000000001 02 40 20 80 eth0 extra\n";
        assert!(parse(text).is_empty());
    }

    #[test]
    fn scope_names() {
        assert_eq!(scope_text(0x00), "  scopeid 0x0<global>");
        assert_eq!(scope_text(0x20), "  scopeid 0x20<link>");
        assert_eq!(scope_text(0x10), "  scopeid 0x10<host>");
        assert_eq!(scope_text(0x40), "  scopeid 0x40<site>");
        assert_eq!(scope_text(0x80), "  scopeid 0x80<compat,global>");
        assert_eq!(scope_text(0xa0), "  scopeid 0xa0<compat,link>");
        assert_eq!(scope_text(0x60), "  scopeid 0x60<link,site>");
        // No known bit: the lone '<' is dropped.
        assert_eq!(scope_text(0x05), "  scopeid 0x5");
        assert_eq!(scope_text(0x0e), "  scopeid 0xe");
    }
}
