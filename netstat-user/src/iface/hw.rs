//! Hardware types of the `-ie` hardware line (`lib/hw.c` and one file per type), as
//! compiled into Debian's net-tools 2.10 (`netstat -V`: `HW: +ETHER +ARC +SLIP +PPP
//! +TUNNEL -TR +AX25 +NETROM +X25 +FR +ROSE +ASH +SIT +FDDI +HIPPI +HDLC/LAPB +EUI64`, and
//! IrDA, whose title is in the binary; InfiniBand, STRIP and Token Ring are not).
//!
//! Left out on purpose: Ash (`ARPHRD_ASH`, a driver Linux never had) and Econet (removed
//! from Linux in 3.5; whether Debian compiles its hardware type cannot be told from the
//! binary). Such devices print as `unspec` here.
//!
//! The address net-tools prints is `char hwaddr[32]`: the first 8 bytes of
//! `SIOCGIFHWADDR`'s `sa_data`, the rest zero. Past the device's address length those 8
//! bytes are leftovers of earlier ioctls in net-tools (visible only for `unspec` types
//! with short addresses, such as 4-byte GRE tunnels); they are zero here.
use super::HwAddr;

/// One hardware type: its name, its title and how it prints an address (`None`: the name
/// alone).
pub struct HwType {
    pub name: &'static str,
    pub title: &'static str,
    pub print: Option<fn(&HwAddr) -> String>,
}

/// `get_hwntype(type)` with `type` from a `short` (`struct interface`), falling back to
/// `unspec` like `ife_print_long()` does.
pub fn hw_type(arphrd: u16) -> &'static HwType {
    let found = TYPES.iter().find(|(t, _)| *t == arphrd).map(|(_, hw)| hw);
    found.unwrap_or(&UNSPEC)
}

/// `(ARPHRD_*, type)` in `hwtypes[]` order.
static TYPES: &[(u16, HwType)] = &[
    (772, named("loop", "Local Loopback")),
    (256, named("slip", "Serial Line IP")),
    (257, named("cslip", "VJ Serial Line IP")),
    (258, named("slip6", "6-bit Serial Line IP")),
    (259, named("cslip6", "VJ 6-bit Serial Line IP")),
    (264, named("adaptive", "Adaptive Serial Line IP")),
    (1, printed("ether", "Ethernet", pr_ether)),
    (3, printed("ax25", "AMPR AX.25", pr_ax25)),
    (0, printed("netrom", "AMPR NET/ROM", pr_ax25)),
    (270, printed("rose", "AMPR ROSE", pr_rose)),
    (768, printed("tunnel", "IPIP Tunnel", pr_empty)),
    (512, named("ppp", "Point-to-Point Protocol")),
    (513, named("hdlc", "(Cisco)-HDLC")),
    (516, named("lapb", "LAPB")),
    (7, printed("arcnet", "ARCnet", pr_arcnet)),
    (15, printed("dlci", "Frame Relay DLCI", pr_dlci)),
    (770, named("frad", "Frame Relay Access Device")),
    (776, named("sit", "IPv6-in-IPv4")),
    (
        774,
        printed("fddi", "Fiber Distributed Data Interface", pr_fddi),
    ),
    (780, printed("hippi", "HIPPI", pr_hippi)),
    (783, printed("irda", "IrLAP", pr_irda)),
    (271, printed("x25", "generic X.25", pr_x25)),
    (27, printed("eui64", "Generic EUI-64", pr_eui64)),
];

static UNSPEC: HwType = printed("unspec", "UNSPEC", pr_unspec);

/// The ARPHRD numbers of the types that add `RX compressed`/`TX compressed` lines
/// (`ARPHRD_CSLIP`, `ARPHRD_CSLIP6`).
pub fn can_compress(arphrd: u16) -> bool {
    matches!(arphrd, 257 | 259)
}

const fn named(name: &'static str, title: &'static str) -> HwType {
    HwType {
        name,
        title,
        print: None,
    }
}

const fn printed(name: &'static str, title: &'static str, print: fn(&HwAddr) -> String) -> HwType {
    HwType {
        name,
        title,
        print: Some(print),
    }
}

fn joined(bytes: &[u8], sep: &str, upper: bool) -> String {
    bytes
        .iter()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect::<Vec<_>>()
        .join(sep)
}

fn pr_ether(a: &HwAddr) -> String {
    joined(&a[..6], ":", false)
}

fn pr_fddi(a: &HwAddr) -> String {
    joined(&a[..6], "-", true)
}

fn pr_hippi(a: &HwAddr) -> String {
    joined(&a[..6], ":", true)
}

fn pr_eui64(a: &HwAddr) -> String {
    joined(&a[..8], ":", true)
}

/// `sizeof(struct sockaddr)` bytes, `%02X-` each.
fn pr_unspec(a: &HwAddr) -> String {
    joined(&a[..16], "-", true)
}

fn pr_arcnet(a: &HwAddr) -> String {
    format!("{:02X}", a[0])
}

fn pr_empty(_: &HwAddr) -> String {
    String::new()
}

fn pr_rose(a: &HwAddr) -> String {
    joined(&a[..5], "", false)
}

/// A host-order `short` printed with `%i`.
fn pr_dlci(a: &HwAddr) -> String {
    i16::from_ne_bytes([a[0], a[1]]).to_string()
}

/// `strncpy(buff, ptr, X25_ADDR_LEN)`: the bytes up to the first NUL (of at most 16).
fn pr_x25(a: &HwAddr) -> String {
    let text = &a[..16];
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    String::from_utf8_lossy(&text[..end]).into_owned()
}

/// AX.25 and NET/ROM callsigns: six shifted characters (a space ends the call), then
/// `-SSID` when the SSID is not 0.
fn pr_ax25(a: &HwAddr) -> String {
    let call: Vec<u8> = a[..6].iter().map(|b| b >> 1).collect();
    let end = call
        .iter()
        .position(|&c| c == b' ' || c == 0)
        .unwrap_or(call.len());
    let mut text = String::from_utf8_lossy(&call[..end]).into_owned();
    let ssid = (a[6] & 0x1e) >> 1;
    if ssid != 0 {
        text.push_str(&format!("-{ssid}"));
    }
    text
}

/// `"%02x:%02x:%02x:%02x"` of `ptr[3]..ptr[0]` as (signed) `char`s, in a 12-byte buffer.
fn pr_irda(a: &HwAddr) -> String {
    let part = |b: u8| format!("{:02x}", i32::from(b as i8) as u32);
    let mut text = [a[3], a[2], a[1], a[0]]
        .iter()
        .map(|&b| part(b))
        .collect::<Vec<_>>()
        .join(":");
    text.truncate(11);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(bytes: &[u8]) -> HwAddr {
        let mut a = [0u8; 32];
        a[..bytes.len()].copy_from_slice(bytes);
        a
    }

    fn show(arphrd: u16, bytes: &[u8]) -> (String, &'static str, &'static str) {
        let hw = hw_type(arphrd);
        let text = hw.print.map(|p| p(&addr(bytes))).unwrap_or_default();
        (text, hw.name, hw.title)
    }

    #[test]
    fn common_types() {
        assert_eq!(
            show(1, &[2, 0xfc, 0, 0, 0, 1]),
            ("02:fc:00:00:00:01".into(), "ether", "Ethernet")
        );
        assert_eq!(show(772, &[]), (String::new(), "loop", "Local Loopback"));
        // tun (ARPHRD_NONE) and anything unknown: 16 bytes, upper-case, dashes.
        assert_eq!(
            show(0xfffe, &[]),
            (
                "00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00".into(),
                "unspec",
                "UNSPEC"
            )
        );
        assert_eq!(hw_type(0xffff).name, "unspec");
        assert_eq!(show(768, &[10, 0, 0, 1]).0, "");
        assert_eq!(hw_type(776).title, "IPv6-in-IPv4");
    }

    #[test]
    fn rarer_types() {
        assert_eq!(show(774, &[0xab, 1, 2, 3, 4, 5]).0, "AB-01-02-03-04-05");
        assert_eq!(show(780, &[0xab, 1, 2, 3, 4, 5]).0, "AB:01:02:03:04:05");
        assert_eq!(
            show(27, &[1, 2, 3, 4, 5, 6, 7, 0xff]).0,
            "01:02:03:04:05:06:07:FF"
        );
        assert_eq!(show(7, &[0x2a]).0, "2A");
        assert_eq!(show(270, &[0x12, 0x34, 0x56, 0x78, 0x9a]).0, "123456789a");
        assert_eq!(show(15, &[0xff, 0xff]).0, "-1");
        assert_eq!(show(271, b"1234").0, "1234");
        // "N0CALL" shifted left one bit, SSID 5.
        let call: Vec<u8> = b"N0CALL".iter().map(|c| c << 1).chain([5 << 1]).collect();
        assert_eq!(show(3, &call).0, "N0CALL-5");
        let short: Vec<u8> = b"AB    ".iter().map(|c| c << 1).chain([0]).collect();
        assert_eq!(show(0, &short).0, "AB");
        assert_eq!(show(783, &[1, 2, 3, 4]).0, "04:03:02:01");
        assert_eq!(show(783, &[1, 2, 3, 0x84]).0, "ffffff84:03");
        assert!(can_compress(257) && !can_compress(256));
    }
}
