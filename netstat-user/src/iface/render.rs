//! The two layouts of `-i` (`lib/interface.c`: `ife_print_short()` and
//! `ife_print_long()`, the latter shared with ifconfig), byte for byte.
use std::io::{self, Write};

use crate::model::iface::{
    IFF_ALLMULTI, IFF_AUTOMEDIA, IFF_BROADCAST, IFF_DEBUG, IFF_DYNAMIC, IFF_LOOPBACK, IFF_MASTER,
    IFF_MULTICAST, IFF_NOARP, IFF_NOTRAILERS, IFF_POINTOPOINT, IFF_PORTSEL, IFF_PROMISC,
    IFF_RUNNING, IFF_SLAVE, IFF_UP, short_flags,
};

use super::{
    Fetched,
    hw::{can_compress, hw_type},
    inet6::{Inet6Addr, close_list, scope_text},
};

pub const TITLE: &str = "Kernel Interface table\n";
pub const SHORT_HEADER: &str =
    "Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n";

/// The `flags=N<...>` words, in `ife_print_long()`'s order.
const LONG_FLAGS: [(i16, &str); 14] = [
    (IFF_UP, "UP"),
    (IFF_BROADCAST, "BROADCAST"),
    (IFF_DEBUG, "DEBUG"),
    (IFF_LOOPBACK, "LOOPBACK"),
    (IFF_POINTOPOINT, "POINTOPOINT"),
    (IFF_NOTRAILERS, "NOTRAILERS"),
    (IFF_RUNNING, "RUNNING"),
    (IFF_NOARP, "NOARP"),
    (IFF_PROMISC, "PROMISC"),
    (IFF_ALLMULTI, "ALLMULTI"),
    (IFF_SLAVE, "SLAVE"),
    (IFF_MASTER, "MASTER"),
    (IFF_MULTICAST, "MULTICAST"),
    (IFF_DYNAMIC, "DYNAMIC"),
];

/// `if_port_text[port][0]`; index 7 is the table's NULL row, which glibc prints as
/// `(null)` (larger ports would read past the table in net-tools).
fn port_text(port: u8) -> &'static str {
    const PORTS: [&str; 7] = [
        "unknown",
        "10base2",
        "10baseT",
        "AUI",
        "100baseT",
        "100baseTX",
        "100baseFX",
    ];
    PORTS.get(usize::from(port)).copied().unwrap_or("(null)")
}

/// `printf("%-15.15s ", name)`: at most 15 bytes, padded to 15.
fn write_name_column(out: &mut dyn Write, name: &[u8]) -> io::Result<()> {
    let shown = &name[..name.len().min(15)];
    out.write_all(shown)?;
    for _ in shown.len()..15 {
        out.write_all(b" ")?;
    }
    out.write_all(b" ")
}

/// One row of the short table.
pub fn write_short(out: &mut dyn Write, i: &Fetched<'_>) -> io::Result<()> {
    write_name_column(out, i.name)?;
    write!(out, "{:5} ", i.mtu)?;
    match i.stats {
        Some(s) => {
            write!(
                out,
                "{:8} {:6} {:6} {:<6} ",
                s.rx_packets, s.rx_errors, s.rx_dropped, s.rx_fifo_errors
            )?;
            write!(
                out,
                "{:8} {:6} {:6} {:6} ",
                s.tx_packets, s.tx_errors, s.tx_dropped, s.tx_fifo_errors
            )?;
        }
        None => write!(out, "{:<56}", "     - no statistics available -")?,
    }
    if i.flags == 0 {
        out.write_all(b"[NO FLAGS]")?;
    }
    out.write_all(short_flags(i.flags).as_bytes())?;
    out.write_all(b"\n")
}

/// `flags=N<UP,...>` as `ife_print_long()` builds it (an empty list loses its `<`).
pub fn long_flags(flags: i16) -> String {
    let mut text = format!("flags={flags}<");
    if flags == 0 {
        text.push('>');
    }
    for (bit, word) in LONG_FLAGS {
        if flags & bit != 0 {
            text.push_str(word);
            text.push(',');
        }
    }
    close_list(&mut text);
    text
}

/// A byte count with net-tools' unit: one decimal, truncated; each unit is used only
/// *above* its size (`(1024.0 B)` for 1024 bytes).
pub fn human(bytes: u64) -> String {
    const KIB: u64 = 1 << 10;
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    const TIB: u64 = 1 << 40;
    const PIB: u64 = 1 << 50;
    const EIB: u64 = 1 << 60;
    let tenths = bytes.wrapping_mul(10);
    let (tenths, unit) = if bytes > EIB {
        // net-tools divides by 2^60 / 10, rounded down, here.
        (bytes / 115_292_150_460_684_697, "EiB")
    } else if bytes > PIB {
        (tenths / PIB, "PiB")
    } else if bytes > TIB {
        (tenths / TIB, "TiB")
    } else if bytes > GIB {
        (tenths / GIB, "GiB")
    } else if bytes > MIB {
        (tenths / MIB, "MiB")
    } else if bytes > KIB {
        (tenths / KIB, "KiB")
    } else {
        (tenths, "B")
    };
    format!("{}.{} {unit}", tenths / 10, tenths % 10)
}

/// One interface in the long (ifconfig) layout, with its blank line.
pub fn write_long(out: &mut dyn Write, i: &Fetched<'_>, inet6: &[Inet6Addr]) -> io::Result<()> {
    out.write_all(i.name)?;
    writeln!(out, ": {}  mtu {}", long_flags(i.flags), i.mtu)?;
    if let Some(a) = &i.inet {
        write!(out, "        inet {}  netmask {}", a.addr, a.netmask)?;
        if i.flags & IFF_BROADCAST != 0 {
            write!(out, "  broadcast {}", a.broadcast)?;
        }
        if i.flags & IFF_POINTOPOINT != 0 {
            write!(out, "  destination {}", a.destination)?;
        }
        out.write_all(b"\n")?;
    }
    for a in inet6 {
        writeln!(
            out,
            "        inet6 {}  prefixlen {}{}",
            inet6_text(a),
            a.prefixlen,
            scope_text(a.scope)
        )?;
    }
    let hw = hw_type(i.arphrd);
    match hw.print {
        Some(print) => write!(out, "        {} {}", hw.name, print(&i.hwaddr))?,
        None => write!(out, "        {}", hw.name)?,
    }
    if let Some(len) = i.txqlen {
        write!(out, "  txqueuelen {len}")?;
    }
    writeln!(out, "  ({})", hw.title)?;
    if i.flags & IFF_PORTSEL != 0 {
        write!(out, "        media {}", port_text(i.map.port))?;
        if i.flags & IFF_AUTOMEDIA != 0 {
            out.write_all(b"autoselect")?;
        }
        out.write_all(b"\n")?;
    }
    if let Some(s) = i.stats {
        let compress = can_compress(i.arphrd);
        writeln!(
            out,
            "        RX packets {}  bytes {} ({})",
            s.rx_packets,
            s.rx_bytes,
            human(s.rx_bytes)
        )?;
        if compress {
            writeln!(out, "        RX compressed:{}", s.rx_compressed)?;
        }
        writeln!(
            out,
            "        RX errors {}  dropped {}  overruns {}  frame {}",
            s.rx_errors, s.rx_dropped, s.rx_fifo_errors, s.rx_frame_errors
        )?;
        writeln!(
            out,
            "        TX packets {}  bytes {} ({})",
            s.tx_packets,
            s.tx_bytes,
            human(s.tx_bytes)
        )?;
        if compress {
            writeln!(out, "        TX compressed {}", s.tx_compressed)?;
        }
        writeln!(
            out,
            "        TX errors {}  dropped {} overruns {}  carrier {}  collisions {}",
            s.tx_errors, s.tx_dropped, s.tx_fifo_errors, s.tx_carrier_errors, s.collisions
        )?;
    }
    let m = &i.map;
    if m.irq != 0 || m.mem_start != 0 || m.dma != 0 || m.base_addr >= 0x100 {
        out.write_all(b"        device ")?;
        if m.irq != 0 {
            write!(out, "interrupt {}  ", m.irq)?;
        }
        if m.base_addr >= 0x100 {
            write!(out, "base 0x{:x}  ", m.base_addr)?;
        }
        if m.mem_start != 0 {
            write!(out, "memory 0x{:x}-{:x}  ", m.mem_start, m.mem_end)?;
        }
        if m.dma != 0 {
            write!(out, "  dma 0x{:x}", m.dma)?;
        }
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

/// `inet6_aftype.sprint(&sas, 1)`: `inet_ntop()`, and an IPv4-mapped address loses its
/// `::ffff:` (`fix_v4_address()`).
fn inet6_text(a: &Inet6Addr) -> String {
    match a.addr.to_ipv4_mapped() {
        Some(v4) => v4.to_string(),
        None => crate::names::ntop6(a.addr),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::iface::{DevStats, IfMap, Inet4};
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn eth0(stats: Option<&DevStats>) -> Fetched<'_> {
        let mut hwaddr = [0u8; 32];
        hwaddr[..6].copy_from_slice(&[2, 0xfc, 0, 0, 0, 1]);
        Fetched {
            name: b"eth0",
            flags: 0x1043,
            arphrd: 1,
            hwaddr,
            mtu: 1400,
            txqlen: Some(1000),
            map: IfMap::default(),
            inet: Some(Inet4 {
                addr: Ipv4Addr::new(192, 0, 2, 2),
                netmask: Ipv4Addr::new(255, 255, 255, 0),
                broadcast: Ipv4Addr::new(192, 0, 2, 255),
                destination: Ipv4Addr::new(192, 0, 2, 2),
            }),
            stats,
        }
    }

    fn short(i: &Fetched<'_>) -> String {
        let mut out = Vec::new();
        write_short(&mut out, i).expect("Vec");
        String::from_utf8(out).expect("ASCII")
    }

    fn long(i: &Fetched<'_>, inet6: &[Inet6Addr]) -> String {
        let mut out = Vec::new();
        write_long(&mut out, i, inet6).expect("Vec");
        String::from_utf8(out).expect("ASCII")
    }

    fn captured_stats() -> DevStats {
        DevStats {
            rx_packets: 11745,
            rx_bytes: 217_808_852,
            tx_packets: 7664,
            tx_bytes: 667_921,
            ..DevStats::default()
        }
    }

    /// The reference capture (§5.2, §5.3).
    #[test]
    fn matches_the_captured_eth0() {
        let stats = captured_stats();
        let i = eth0(Some(&stats));
        assert_eq!(
            short(&i),
            "eth0             1400    11745      0      0 0          7664      0      0      0 BMRU\n"
        );
        let inet6 = [
            Inet6Addr {
                addr: "fd00::2".parse().expect("v6"),
                prefixlen: 64,
                scope: 0,
            },
            Inet6Addr {
                addr: "fe80::fc:ff:fe00:1".parse().expect("v6"),
                prefixlen: 64,
                scope: 0x20,
            },
        ];
        assert_eq!(
            long(&i, &inet6),
            "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1400\n\
             \x20       inet 192.0.2.2  netmask 255.255.255.0  broadcast 192.0.2.255\n\
             \x20       inet6 fd00::2  prefixlen 64  scopeid 0x0<global>\n\
             \x20       inet6 fe80::fc:ff:fe00:1  prefixlen 64  scopeid 0x20<link>\n\
             \x20       ether 02:fc:00:00:00:01  txqueuelen 1000  (Ethernet)\n\
             \x20       RX packets 11745  bytes 217808852 (207.7 MiB)\n\
             \x20       RX errors 0  dropped 0  overruns 0  frame 0\n\
             \x20       TX packets 7664  bytes 667921 (652.2 KiB)\n\
             \x20       TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n"
        );
    }

    #[test]
    fn short_rows_of_odd_interfaces() {
        let stats = DevStats {
            rx_packets: 123_456_789_012,
            rx_fifo_errors: 7,
            tx_dropped: 1_234_567,
            ..DevStats::default()
        };
        let mut i = eth0(Some(&stats));
        i.name = b"abcdefghijklmno";
        i.mtu = 65536;
        i.flags = 0x1000 | 0x100 | 0x10 | 0x80 | 0x800 | 0x400 | 0x200 | 0x4 | 0x20;
        assert_eq!(
            short(&i),
            "abcdefghijklmno 65536 123456789012      0      0 7             0      0 1234567      0 ADMPNOPsm\n"
        );
        i.stats = None;
        i.flags = 0;
        assert_eq!(
            short(&i),
            "abcdefghijklmno 65536      - no statistics available -                        [NO FLAGS]\n"
        );
        i.flags = i16::MIN | 1;
        i.mtu = -1;
        assert_eq!(
            short(&i),
            "abcdefghijklmno    -1      - no statistics available -                        dU\n"
        );
    }

    #[test]
    fn long_flags_words() {
        assert_eq!(long_flags(0x49), "flags=73<UP,LOOPBACK,RUNNING>");
        assert_eq!(long_flags(0), "flags=0<");
        // Only bits without a word: the '<' goes.
        assert_eq!(long_flags(0x2000), "flags=8192");
        assert_eq!(long_flags(i16::MIN | 1), "flags=-32767<UP,DYNAMIC>");
        assert_eq!(
            long_flags(0x10d1),
            "flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>"
        );
    }

    #[test]
    fn human_units_truncate_and_use_strict_thresholds() {
        assert_eq!(human(0), "0.0 B");
        assert_eq!(human(1024), "1024.0 B");
        assert_eq!(human(1025), "1.0 KiB");
        assert_eq!(human(1535), "1.4 KiB");
        assert_eq!(human(217_808_852), "207.7 MiB");
        assert_eq!(human(1 << 30), "1024.0 MiB");
        assert_eq!(human((1 << 40) + 1), "1.0 TiB");
        assert_eq!(human((1 << 50) * 5), "5.0 PiB");
        assert_eq!(human((1 << 60) + 1), "1.0 EiB");
        assert_eq!(human(u64::MAX), "16.0 EiB");
        assert_eq!(human(1 << 61), "2.0 EiB");
    }

    #[test]
    fn long_layout_of_other_devices() {
        // A point-to-point tun without statistics or txqueuelen, with a device map.
        let mut i = eth0(None);
        i.name = b"tun0:1";
        i.flags = 0x10d1;
        i.arphrd = 0xfffe;
        i.hwaddr = [0; 32];
        i.txqlen = None;
        i.inet = Some(Inet4 {
            addr: Ipv4Addr::new(10, 1, 1, 1),
            netmask: Ipv4Addr::new(255, 255, 255, 255),
            broadcast: Ipv4Addr::UNSPECIFIED,
            destination: Ipv4Addr::new(10, 1, 1, 2),
        });
        i.map = IfMap {
            mem_start: 0xfe00_0000,
            mem_end: 0xfe01_ffff,
            base_addr: 0x300,
            irq: 11,
            dma: 3,
            port: 0,
        };
        let mapped = Inet6Addr {
            addr: Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0x0a01, 0x0101),
            prefixlen: 128,
            scope: 0,
        };
        assert_eq!(
            long(&i, &[mapped]),
            "tun0:1: flags=4305<UP,POINTOPOINT,RUNNING,NOARP,MULTICAST>  mtu 1400\n\
             \x20       inet 10.1.1.1  netmask 255.255.255.255  destination 10.1.1.2\n\
             \x20       inet6 10.1.1.1  prefixlen 128  scopeid 0x0<global>\n\
             \x20       unspec 00-00-00-00-00-00-00-00-00-00-00-00-00-00-00-00  (UNSPEC)\n\
             \x20       device interrupt 11  base 0x300  memory 0xfe000000-fe01ffff    dma 0x3\n\n"
        );
        // Loopback, media selection and compressed SLIP counters.
        let stats = DevStats {
            rx_compressed: 5,
            tx_compressed: 6,
            ..DevStats::default()
        };
        let mut s = eth0(Some(&stats));
        s.name = b"sl0";
        s.arphrd = 257;
        s.inet = None;
        s.flags = 0x2000 | 0x4000 | 0x1;
        s.map.port = 2;
        assert_eq!(
            long(&s, &[]),
            "sl0: flags=24577<UP>  mtu 1400\n\
             \x20       cslip  txqueuelen 1000  (VJ Serial Line IP)\n\
             \x20       media 10baseTautoselect\n\
             \x20       RX packets 0  bytes 0 (0.0 B)\n\
             \x20       RX compressed:5\n\
             \x20       RX errors 0  dropped 0  overruns 0  frame 0\n\
             \x20       TX packets 0  bytes 0 (0.0 B)\n\
             \x20       TX compressed 6\n\
             \x20       TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n"
        );
        assert_eq!(port_text(7), "(null)");
    }
}
