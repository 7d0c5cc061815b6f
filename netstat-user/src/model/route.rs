//! The rows of `-r` as net-tools reads them (`/proc/net/route`, `/proc/net/rt_cache`,
//! `/proc/net/ipv6_route`), and their flag bits and letters: what the text tables
//! (route/inet.rs, route/inet6.rs) and the JSON records (render/json/route.rs) read.
use std::net::{Ipv4Addr, Ipv6Addr};

// Route flags (`lib/net-support.h`, the kernel's `linux/route.h` and `ipv6_route.h`).
pub const RTF_UP: u32 = 0x0001;
pub const RTF_GATEWAY: u32 = 0x0002;
pub const RTF_HOST: u32 = 0x0004;
const RTF_REINSTATE: u32 = 0x0008;
const RTF_DYNAMIC: u32 = 0x0010;
const RTF_MODIFIED: u32 = 0x0020;
const RTF_MTU: u32 = 0x0040;
const RTF_WINDOW: u32 = 0x0080;
const RTF_IRTT: u32 = 0x0100;
pub const RTF_REJECT: u32 = 0x0200;
const RTF_NOTCACHED: u32 = 0x0400;
const RTF_DEFAULT: u32 = 0x0001_0000;
const RTF_ALLONLINK: u32 = 0x0002_0000;
const RTF_ADDRCONF: u32 = 0x0004_0000;
const RTF_NONEXTHOP: u32 = 0x0020_0000;
const RTF_EXPIRES: u32 = 0x0040_0000;
pub const RTF_CACHE: u32 = 0x0100_0000;
const RTF_FLOW: u32 = 0x0200_0000;
const RTF_POLICY: u32 = 0x0400_0000;
const RTF_LOCAL: u32 = 0x8000_0000;

// Routing cache flags (`RTCF_*`, net-tools' own copy in `lib/net-support.h`).
const RTCF_DEAD: u32 = 0x0000_0001;
const RTCF_ONLINK: u32 = 0x0000_0004;
const RTCF_NOTIFY: u32 = 0x0001_0000;
const RTCF_DIRECTDST: u32 = 0x0002_0000;
const RTCF_TPROXY: u32 = 0x0008_0000;
const RTCF_FAST: u32 = 0x0020_0000;
const RTCF_MASQ: u32 = 0x0040_0000;
const RTCF_SNAT: u32 = 0x0080_0000;
const RTCF_DOREDIRECT: u32 = 0x0100_0000;
const RTCF_DIRECTSRC: u32 = 0x0400_0000;
const RTCF_DNAT: u32 = 0x0800_0000;
const RTCF_BROADCAST: u32 = 0x1000_0000;
const RTCF_MULTICAST: u32 = 0x2000_0000;
const RTCF_REJECT: u32 = 0x4000_0000;
const RTCF_LOCAL: u32 = 0x8000_0000;

/// One `/proc/net/route` row as net-tools sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FibRow<'a> {
    pub iface: &'a [u8],
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub mask: Ipv4Addr,
    pub flags: u32,
    pub refcnt: i32,
    pub use_count: i32,
    pub metric: i32,
    /// The kernel's `MTU` column (advmss + 40), shown as MSS.
    pub mss: i32,
    pub window: i32,
    pub irtt: i32,
}

/// The Flags column of the FIB (`rprint_fib()`): `U G`, then `!` replaces what is there
/// for a reject route, then the rest in net-tools' order.
pub fn fib_flags(flags: u32) -> String {
    // The common cases without building the string.
    match flags {
        0x0001 => return "U".to_string(),
        0x0003 => return "UG".to_string(),
        _ => {}
    }
    let mut s = String::with_capacity(8);
    if flags & RTF_UP != 0 {
        s.push('U');
    }
    if flags & RTF_GATEWAY != 0 {
        s.push('G');
    }
    if flags & RTF_REJECT != 0 {
        s.clear();
        s.push('!');
    }
    let rest = [
        (RTF_HOST, "H"),
        (RTF_REINSTATE, "R"),
        (RTF_DYNAMIC, "D"),
        (RTF_MODIFIED, "M"),
        (RTF_DEFAULT, "d"),
        (RTF_ALLONLINK, "a"),
        (RTF_ADDRCONF, "c"),
        (RTF_NONEXTHOP, "o"),
        (RTF_EXPIRES, "e"),
        (RTF_CACHE, "c"),
        (RTF_FLOW, "f"),
        (RTF_POLICY, "p"),
        (RTF_LOCAL, "l"),
        (RTF_MTU, "u"),
        (RTF_WINDOW, "w"),
        (RTF_IRTT, "i"),
        (RTF_NOTCACHED, "n"),
    ];
    for (bit, letter) in rest {
        if flags & bit != 0 {
            s.push_str(letter);
        }
    }
    s
}

/// The two `/proc/net/rt_cache` layouts net-tools knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheFormat {
    /// Linux 2.0.36: `... IRTT HH ARP` (guess value 97).
    Linux20,
    /// Linux 2.2 and later: `... IRTT TOS HHRef HHUptod SpecDst` (guess value 63).
    Linux22,
}

impl CacheFormat {
    /// `None` for any other guess value (net-tools prints an error line).
    pub fn from_guess(guess: i32) -> Option<Self> {
        match guess {
            63 => Some(CacheFormat::Linux22),
            97 => Some(CacheFormat::Linux20),
            _ => None,
        }
    }
}

/// One routing-cache row, addresses still as net-tools converts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRow<'a> {
    pub iface: &'a [u8],
    pub source: Ipv4Addr,
    pub destination: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub spec_dst: Ipv4Addr,
    pub flags: u32,
    pub refcnt: i32,
    pub use_count: i32,
    pub metric: i32,
    pub mss: i32,
    pub window: i32,
    pub irtt: i32,
    /// 2.2 format: TOS, HHRef, HHUptod; 2.0 format: HH, ARP (and 0).
    pub extra: [i32; 3],
}

/// The Flags column of the routing cache.
pub fn cache_flags(flags: u32, format: CacheFormat) -> String {
    let mut s = String::with_capacity(8);
    if format == CacheFormat::Linux20 {
        if flags & RTF_UP != 0 {
            s.push('U');
        }
        if flags & RTF_HOST != 0 {
            s.push('H');
        }
    }
    if flags & RTF_GATEWAY != 0 {
        s.push('G');
    }
    if flags & RTF_REJECT != 0 {
        s.clear();
        s.push('!');
    }
    for (bit, letter) in [
        (RTF_REINSTATE, "R"),
        (RTF_DYNAMIC, "D"),
        (RTF_MODIFIED, "M"),
    ] {
        if flags & bit != 0 {
            s.push_str(letter);
        }
    }
    if format == CacheFormat::Linux22 {
        if flags & RTCF_DEAD != 0 {
            s.push('-');
        }
        if flags & RTCF_ONLINK != 0 {
            s.push('o');
        }
    }
    for (bit, letter) in [
        (RTCF_NOTIFY, "n"),
        (RTCF_DIRECTDST, "d"),
        (RTCF_TPROXY, "t"),
        (RTCF_FAST, "f"),
        (RTCF_MASQ, "q"),
        (RTCF_SNAT, "Ns"),
        (RTCF_DOREDIRECT, "r"),
        (RTCF_DIRECTSRC, "i"),
        (RTCF_DNAT, "Nd"),
        (RTCF_BROADCAST, "b"),
        (RTCF_MULTICAST, "m"),
        (RTCF_REJECT, "#"),
        (RTCF_LOCAL, "l"),
    ] {
        if flags & bit != 0 {
            s.push_str(letter);
        }
    }
    s
}

/// One `/proc/net/ipv6_route` row as net-tools sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fib6Row<'a> {
    pub destination: Ipv6Addr,
    pub prefix_len: i32,
    pub next_hop: Ipv6Addr,
    pub metric: i32,
    pub refcnt: i32,
    pub use_count: i32,
    pub flags: u32,
    pub iface: &'a [u8],
}

/// The Flag column: `U ! G H D A C a e m n f` (RTF_LOCAL has no letter).
pub fn flags6(flags: u32) -> String {
    let mut s = String::with_capacity(4);
    for (bit, letter) in [
        (RTF_UP, 'U'),
        (RTF_REJECT, '!'),
        (RTF_GATEWAY, 'G'),
        (RTF_HOST, 'H'),
        (RTF_DEFAULT, 'D'),
        (RTF_ADDRCONF, 'A'),
        (RTF_CACHE, 'C'),
        (RTF_ALLONLINK, 'a'),
        (RTF_EXPIRES, 'e'),
        (RTF_MODIFIED, 'm'),
        (RTF_NONEXTHOP, 'n'),
        (RTF_FLOW, 'f'),
    ] {
        if flags & bit != 0 {
            s.push(letter);
        }
    }
    s
}
