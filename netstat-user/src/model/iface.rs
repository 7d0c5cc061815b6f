//! One interface of `-i` as net-tools' `if_fetch()` leaves it, and its flag bits: what
//! the text table (iface/render.rs) and the JSON records (render/json/iface.rs) read.
use std::net::Ipv4Addr;

/// `struct interface`'s `hwaddr` as net-tools fills it.
pub type HwAddr = [u8; 32];

/// The counters of one `/proc/net/dev` line (`struct user_net_device_stats`, the fields
/// net-tools fills).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DevStats {
    pub rx_packets: u64,
    pub tx_packets: u64,
    pub rx_bytes: u64,
    pub tx_bytes: u64,
    pub rx_errors: u64,
    pub tx_errors: u64,
    pub rx_dropped: u64,
    pub tx_dropped: u64,
    pub rx_multicast: u64,
    pub rx_compressed: u64,
    pub tx_compressed: u64,
    pub collisions: u64,
    pub rx_frame_errors: u64,
    pub rx_fifo_errors: u64,
    pub tx_carrier_errors: u64,
    pub tx_fifo_errors: u64,
}

/// `struct ifmap` as `SIOCGIFMAP` fills it (narrower than the kernel's fields).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfMap {
    pub mem_start: u64,
    pub mem_end: u64,
    pub base_addr: u16,
    pub irq: u8,
    pub dma: u8,
    pub port: u8,
}

/// The IPv4 facts of one label (`SIOCGIFADDR`, `SIOCGIFNETMASK`, `SIOCGIFBRDADDR`,
/// `SIOCGIFDSTADDR`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inet4 {
    pub addr: Ipv4Addr,
    pub netmask: Ipv4Addr,
    pub broadcast: Ipv4Addr,
    pub destination: Ipv4Addr,
}

/// One interface after net-tools' `if_fetch()`: what the renderers print.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched<'a> {
    pub name: &'a [u8],
    /// `SIOCGIFFLAGS`' `short`.
    pub flags: i16,
    pub arphrd: u16,
    pub hwaddr: HwAddr,
    pub mtu: i32,
    /// `None` where net-tools has -1 ("unknown", not printed).
    pub txqlen: Option<i32>,
    pub map: IfMap,
    pub inet: Option<Inet4>,
    /// `None`: not in `/proc/net/dev` (an alias): "no statistics available".
    pub stats: Option<&'a DevStats>,
}

/// `SIOCGIFFLAGS`' bits (`<net/if.h>`), as net-tools reads them into a `short`.
pub const IFF_UP: i16 = 0x1;
pub const IFF_BROADCAST: i16 = 0x2;
pub const IFF_DEBUG: i16 = 0x4;
pub const IFF_LOOPBACK: i16 = 0x8;
pub const IFF_POINTOPOINT: i16 = 0x10;
pub const IFF_NOTRAILERS: i16 = 0x20;
pub const IFF_RUNNING: i16 = 0x40;
pub const IFF_NOARP: i16 = 0x80;
pub const IFF_PROMISC: i16 = 0x100;
pub const IFF_ALLMULTI: i16 = 0x200;
pub const IFF_MASTER: i16 = 0x400;
pub const IFF_SLAVE: i16 = 0x800;
pub const IFF_MULTICAST: i16 = 0x1000;
pub const IFF_PORTSEL: i16 = 0x2000;
pub const IFF_AUTOMEDIA: i16 = 0x4000;
// `short` holds IFF_DYNAMIC (0x8000) in its sign bit.
pub const IFF_DYNAMIC: i16 = i16::MIN;

/// The `Flg` letters, in `ife_print_short()`'s order (`P` twice: PROMISC, POINTOPOINT).
const SHORT_FLAGS: [(i16, u8); 14] = [
    (IFF_ALLMULTI, b'A'),
    (IFF_BROADCAST, b'B'),
    (IFF_DEBUG, b'D'),
    (IFF_LOOPBACK, b'L'),
    (IFF_MULTICAST, b'M'),
    (IFF_DYNAMIC, b'd'),
    (IFF_PROMISC, b'P'),
    (IFF_NOTRAILERS, b'N'),
    (IFF_NOARP, b'O'),
    (IFF_POINTOPOINT, b'P'),
    (IFF_SLAVE, b's'),
    (IFF_MASTER, b'm'),
    (IFF_RUNNING, b'R'),
    (IFF_UP, b'U'),
];

/// The `Flg` letters of the short table (`BMRU`...; empty for no flag).
pub fn short_flags(flags: i16) -> String {
    SHORT_FLAGS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|&(_, c)| char::from(c))
        .collect()
}
