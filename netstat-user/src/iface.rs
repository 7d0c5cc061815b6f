//! `-i/--interfaces`: the interface table, as net-tools 2.10 prints it (`netstat.c:
//! iface_info()`, `lib/interface.c`; reference §5), short or, with `-e`, in the ifconfig
//! layout.
//!
//! # Where the facts come from
//!
//! net-tools lists interfaces from `/proc/net/dev` plus `SIOCGIFCONF` (the labels of the
//! IPv4 addresses, so `eth0:1` aliases appear), keeps them in `nstrcmp()` order, then
//! asks `SIOCGIF*` ioctls per interface. So do we:
//!
//! * **counters and the base list: `/proc/net/dev`**, parsed as net-tools parses it
//!   ([`procdev`]). It prints the kernel's 64-bit counters, the same numbers net-tools
//!   shows, composite columns included (its `drop` is `rx_dropped + rx_missed_errors`,
//!   ...); and net-tools' own parsing quirks (a 15-byte name gets all-zero counters) come
//!   out the same only by parsing the same text. rtnetlink's `IFLA_STATS64` would need
//!   the kernel's sums redone here and those quirks faked.
//! * **everything else: the same ioctls** ([`ioctl`]), but only those the output needs
//!   (flags and MTU for the short table). An rtnetlink link dump was tried and measured:
//!   the kernel fills ~1 KB per device (all statistics and per-family settings) and that
//!   alone is slower than net-tools' whole run at 1000 interfaces (see `ioctl`).
//! * **`inet6` lines: `/proc/net/if_inet6`** ([`inet6`]), net-tools' source too; its
//!   order (the kernel's address hash order) is not any netlink dump's.
//!
//! With `PROC_ROOT` ([`RunEnv::netlink`] false) everything comes from files under the
//! root: `/proc/net/dev`, `/proc/net/if_inet6` and `sys/class/net/<name>/` ([`sysfs`]),
//! without IPv4 addresses (no file has them).
//!
//! # `-i [iface]`
//!
//! net-tools 2.10's `-i` takes no argument (`"i"` in its getopt string, `iface_info()`
//! lists every interface): `netstat -i eth0` prints the whole table, and so does
//! `netstat -i nosuch` (exit 0). The operand is ignored here too (cli.rs keeps it as an
//! ignored operand). The only per-interface error net-tools has is the fetch failure of
//! an interface that vanished between the listing and its ioctls:
//! `NAME: error fetching interface information: Device not found`, then
//! `missing interface information: No such device`, exit 1; that is reproduced.
mod hw;
mod inet6;
mod ioctl;
mod order;
mod procdev;
mod render;
mod sysfs;

use std::{
    io::{self, Read, Write},
    path::Path,
};

use crate::perror::strerror;
use crate::{
    cli::Options,
    model::iface::{DevStats, Fetched, HwAddr, IfMap, Inet4},
    system::RunEnv,
};

use self::{ioctl::IfSocket, order::IfList};

/// One round of `-i` (app.rs repeats it for `-c`). net-tools prints `Kernel Interface
/// table` only when it opens its socket, on the first round; later rounds start with the
/// column header.
pub fn run_once(
    o: &Options,
    env: &RunEnv,
    first_round: bool,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    let view = View {
        title: first_round,
        long: o.extend > 0,
        all: o.all,
        only: o.interface.clone(),
        json: o
            .json
            .then(|| crate::render::json::Stamp::listing(&env.proc_root())),
    };
    let source = if env.netlink {
        Source::Kernel
    } else {
        Source::Files
    };
    print_table(&view, source, &env.root, out, err)
}

/// What to print.
#[derive(Clone, Debug, Default)]
pub struct View {
    /// Print `Kernel Interface table` first.
    pub title: bool,
    /// `-e`: the ifconfig layout.
    pub long: bool,
    /// `-a`: interfaces that are not up too.
    pub all: bool,
    /// `-i NAME` (an addition: net-tools 2.10 ignores the operand): only this interface,
    /// shown even when down, as `ifconfig NAME` does; an unknown name gets ifconfig's
    /// `NAME: error fetching interface information: Device not found`, exit 1.
    pub only: Option<Vec<u8>>,
    /// `--json`: `interface` records with this listing's stamp instead of the table.
    pub json: Option<crate::render::json::Stamp>,
}

/// Where the per-interface facts come from (the counters always come from
/// `root/proc/net/dev`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `SIOCGIF*` ioctls, in the caller's network namespace.
    Kernel,
    /// `root/sys/class/net`, no IPv4 addresses.
    Files,
}

/// The interface list of `if_readlist()`: each name with its counters, if it had a
/// `/proc/net/dev` line.
type List = IfList<Option<DevStats>>;

/// Why one interface could not be fetched.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    /// The device is gone (net-tools: `SIOCGIFFLAGS` fails with `ENODEV`).
    #[error("Device not found")]
    NoDevice,
    #[error("{}", strerror(.0))]
    Io(io::Error),
}

impl FetchError {
    /// The `errno` net-tools' `perror("missing interface information")` then shows.
    fn errno_text(&self) -> String {
        match self {
            FetchError::NoDevice => strerror(&io::Error::from_raw_os_error(libc::ENODEV)),
            FetchError::Io(e) => strerror(e),
        }
    }
}

/// The whole table: title, header, one entry per interface.
pub fn print_table(
    view: &View,
    source: Source,
    root: &Path,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<i32> {
    // net-tools opens its sockets before the title and exits on failure ("socket: ...", 1).
    let sock = match source {
        Source::Kernel => match IfSocket::new() {
            Ok(sock) => Some(sock),
            Err(e) => {
                out.flush()?;
                writeln!(err, "socket: {}", strerror(&e))?;
                return Ok(1);
            }
        },
        Source::Files => None,
    };
    if view.title && view.json.is_none() {
        out.write_all(render::TITLE.as_bytes())?;
    }
    if !view.long && view.json.is_none() {
        out.write_all(render::SHORT_HEADER.as_bytes())?;
    }

    // if_readlist(): /proc/net/dev, then the IPv4 labels (SIOCGIFCONF).
    let mut list = List::default();
    let dev_path = root.join("proc/net/dev");
    let proc_error = match read_file(&dev_path) {
        Ok(text) => {
            let parsed = procdev::parse(&text);
            for line in &parsed.lines {
                let stats = list
                    .add(&line.name, || None)
                    .get_or_insert_with(Default::default);
                procdev::apply(parsed.layout, line.rest, stats);
            }
            None
        }
        Err(ReadFail::Open(e)) => {
            out.flush()?;
            writeln!(
                err,
                "Warning: cannot open {} ({}). Limited output.",
                dev_path.display(),
                strerror(&e)
            )?;
            Some(e)
        }
        Err(ReadFail::Read(e)) => {
            out.flush()?;
            writeln!(err, "{}: {}", dev_path.display(), strerror(&e))?;
            Some(e)
        }
    };
    if let Some(sock) = &sock {
        match sock.labels() {
            Ok(labels) => {
                for label in &labels {
                    list.add(label, || None);
                }
            }
            Err(e) => {
                out.flush()?;
                writeln!(err, "SIOCGIFCONF: {}", strerror(&e))?;
                // if_readlist() fails only when /proc/net/dev failed too.
                if proc_error.is_some() {
                    writeln!(err, "missing interface information: {}", strerror(&e))?;
                    return Ok(1);
                }
            }
        }
    }

    let inet6 = if view.long {
        read_file(&root.join("proc/net/if_inet6"))
            .map(|text| inet6::parse(&text))
            .unwrap_or_default()
    } else {
        Default::default()
    };

    let only = view.only.as_deref();
    if let Some(wanted) = only
        && !list.iter().any(|(name, _)| name == wanted)
    {
        out.flush()?;
        err.write_all(wanted)?;
        writeln!(
            err,
            ": error fetching interface information: Device not found"
        )?;
        return Ok(1);
    }
    for (name, stats) in list.iter() {
        if only.is_some_and(|wanted| wanted != name) {
            continue;
        }
        let fetched = match &sock {
            Some(sock) => fetch_kernel(sock, name, stats.as_ref(), view),
            None => fetch_files(root, name, stats.as_ref()),
        };
        let i = match fetched {
            Ok(Some(i)) => i,
            Ok(None) => continue,
            Err(e) => {
                out.flush()?;
                err.write_all(name)?;
                writeln!(err, ": error fetching interface information: {e}")?;
                writeln!(err, "missing interface information: {}", e.errno_text())?;
                return Ok(1);
            }
        };
        if i.flags & IFF_UP == 0 && !view.all && only.is_none() {
            continue;
        }
        if let Some(stamp) = &view.json {
            crate::render::json::iface::write_interface(out, stamp, &i)?;
        } else if view.long {
            let v6 = inet6.get(name).map_or(&[][..], Vec::as_slice);
            render::write_long(out, &i, v6)?;
        } else {
            render::write_short(out, &i)?;
        }
    }
    Ok(0)
}

const IFF_UP: i16 = 0x1;

enum ReadFail {
    Open(io::Error),
    Read(io::Error),
}

fn read_file(path: &Path) -> Result<Vec<u8>, ReadFail> {
    let mut file = std::fs::File::open(path).map_err(ReadFail::Open)?;
    let mut text = Vec::new();
    file.read_to_end(&mut text).map_err(ReadFail::Read)?;
    Ok(text)
}

/// The device an interface name stands for: the kernel cuts a label at its first `:`.
fn base_name(name: &[u8]) -> &[u8] {
    name.split(|&b| b == b':').next().unwrap_or(name)
}

/// The first 8 bytes of a hardware address (`memcpy(ife->hwaddr, sa_data, 8)`).
fn hwaddr_of(address: &[u8]) -> HwAddr {
    let mut hw = [0u8; 32];
    let n = address.len().min(8);
    hw[..n].copy_from_slice(&address[..n]);
    hw
}

/// `if_fetch()` over ioctls. `Ok(None)` for an interface that will not be printed (not
/// up, no `-a`): net-tools asks all its ioctls first, but only `SIOCGIFFLAGS` can end
/// the listing, so the others are skipped for it.
fn fetch_kernel<'a>(
    sock: &IfSocket,
    name: &'a [u8],
    stats: Option<&'a DevStats>,
    view: &View,
) -> Result<Option<Fetched<'a>>, FetchError> {
    let flags = sock.flags(name).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) => FetchError::NoDevice,
        _ => FetchError::Io(e),
    })?;
    if flags & IFF_UP == 0 && !view.all {
        return Ok(None);
    }
    let mut i = Fetched {
        name,
        flags,
        arphrd: 0,
        hwaddr: [0; 32],
        mtu: sock.mtu(name),
        txqlen: None,
        map: IfMap::default(),
        inet: None,
        stats,
    };
    if view.long {
        let hw = sock.hwaddr(name);
        i.arphrd = hw.arphrd;
        i.hwaddr = hw.addr;
        i.map = sock.map(name);
        i.txqlen = sock.txqlen(name);
        i.inet = sock.inet(name);
    }
    Ok(Some(i))
}

/// `if_fetch()` over a recorded `sys/class/net` (no IPv4 address, no map).
fn fetch_files<'a>(
    root: &Path,
    name: &'a [u8],
    stats: Option<&'a DevStats>,
) -> Result<Option<Fetched<'a>>, FetchError> {
    let text = sysfs::read(root, base_name(name)).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) => FetchError::NoDevice,
        _ => FetchError::Io(e),
    })?;
    let link = sysfs::to_link(&text).map_err(FetchError::Io)?;
    // The C casts of if_fetch(): short flags, int MTU and txqueuelen (-1: unknown).
    #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
    let (flags, mtu, txqlen) = (
        link.flags as u16 as i16,
        link.mtu as i32,
        link.txqlen.map(|q| q as i32),
    );
    Ok(Some(Fetched {
        name,
        flags,
        arphrd: link.arphrd,
        hwaddr: hwaddr_of(&link.address),
        mtu,
        txqlen: txqlen.filter(|&q| q != -1),
        map: IfMap::default(),
        inet: None,
        stats,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recorded tree under a temporary root.
    struct Tree(std::path::PathBuf);

    impl Tree {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir().join(format!("iface-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join("proc/net")).expect("mkdir");
            Tree(dir)
        }
        fn file(&self, path: &str, text: &str) -> &Self {
            let p = self.0.join(path);
            std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
            std::fs::write(p, text).expect("write");
            self
        }
        fn device(&self, name: &str, flags: &str, oper: &str, kind: u16, addr: &str) -> &Self {
            let d = format!("sys/class/net/{name}");
            self.file(&format!("{d}/flags"), flags)
                .file(&format!("{d}/operstate"), oper)
                .file(&format!("{d}/mtu"), "1500\n")
                .file(&format!("{d}/type"), &format!("{kind}\n"))
                .file(&format!("{d}/address"), addr)
                .file(&format!("{d}/addr_len"), "6\n")
                .file(&format!("{d}/tx_queue_len"), "1000\n")
        }
        fn run(&self, view: View) -> (String, String, i32) {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let rc = print_table(&view, Source::Files, &self.0, &mut out, &mut err)
                .expect("writes to Vec");
            (
                String::from_utf8_lossy(&out).into_owned(),
                String::from_utf8_lossy(&err).into_owned(),
                rc,
            )
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const DEV_HEADER: &str = "Inter-|   Receive                                                |  Transmit\n \
        face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n";

    #[test]
    fn one_named_interface_even_when_down_and_unknown_names_fail() {
        let t = Tree::new("only");
        t.file(
            "proc/net/dev",
            &format!(
                "{DEV_HEADER}    lo: 1 2 0 0 0 0 0 0 1 2 0 0 0 0 0 0\n  eth0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            ),
        )
        .device("lo", "0x9\n", "unknown\n", 772, "00:00:00:00:00:00\n")
        .device("eth0", "0x1002\n", "down\n", 1, "02:fc:00:00:00:01\n");
        let only = |name: &str| View {
            only: Some(name.as_bytes().to_vec()),
            ..short_view(false)
        };
        let (out, err, rc) = t.run(only("eth0"));
        assert_eq!((err.as_str(), rc), ("", 0));
        assert!(out.contains("\neth0 ") && !out.contains("\nlo "), "{out}");
        let (out, err, rc) = t.run(only("nosuch"));
        assert_eq!(rc, 1);
        assert_eq!(
            err,
            "nosuch: error fetching interface information: Device not found\n"
        );
        // The title and header come first, as in every -i run; no row follows.
        assert!(out.ends_with("TX-OVR Flg\n"), "{out}");
    }

    fn short_view(all: bool) -> View {
        View {
            title: true,
            long: false,
            all,
            only: None,
            json: None,
        }
    }

    #[test]
    fn recorded_tree_short_table_sorted_naturally() {
        let t = Tree::new("short");
        t.file(
            "proc/net/dev",
            &format!(
                "{DEV_HEADER}    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n\
                 \x20  d10: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n\
                 \x20   d2: 0 5 1 2 3 0 0 0 0 6 7 8 9 0 0 0\n"
            ),
        )
        .device("lo", "0x9\n", "unknown\n", 772, "00:00:00:00:00:00\n")
        .device("d10", "0x1003\n", "up\n", 1, "02:00:00:00:00:0a\n")
        .device("d2", "0x1002\n", "down\n", 1, "02:00:00:00:00:02\n");
        let (out, err, rc) = t.run(short_view(false));
        assert_eq!((err.as_str(), rc), ("", 0));
        assert_eq!(
            out,
            "Kernel Interface table\n\
             Iface             MTU    RX-OK RX-ERR RX-DRP RX-OVR    TX-OK TX-ERR TX-DRP TX-OVR Flg\n\
             d10              1500        0      0      0 0             0      0      0      0 BMRU\n\
             lo               1500        2      0      0 0             2      0      0      0 LRU\n"
        );
        let (out, _, _) = t.run(short_view(true));
        let names: Vec<&str> = out
            .lines()
            .skip(2)
            .map(|l| l.split(' ').next().unwrap_or(""))
            .collect();
        assert_eq!(names, ["d2", "d10", "lo"]);
        assert!(out.contains(
            "d2               1500        5      1      2 3             6      7      8      9 BM\n"
        ));
    }

    #[test]
    fn recorded_tree_long_layout() {
        let t = Tree::new("long");
        t.file(
            "proc/net/dev",
            &format!("{DEV_HEADER}  eth0: 2048 3 0 0 0 0 0 0 1048577 4 0 0 0 0 0 0\n"),
        )
        .file(
            "proc/net/if_inet6",
            "fe8000000000000000fc00fffe000001 02 40 20 80     eth0\n\
             00000000000000000000000000000001 01 80 10 80       lo\n",
        )
        .device("eth0", "0x1003\n", "up\n", 1, "02:fc:00:00:00:01\n");
        let (out, err, rc) = t.run(View {
            title: false,
            long: true,
            all: false,
            only: None,
            json: None,
        });
        assert_eq!((err.as_str(), rc), ("", 0));
        assert_eq!(
            out,
            "eth0: flags=4163<UP,BROADCAST,RUNNING,MULTICAST>  mtu 1500\n\
             \x20       inet6 fe80::fc:ff:fe00:1  prefixlen 64  scopeid 0x20<link>\n\
             \x20       ether 02:fc:00:00:00:01  txqueuelen 1000  (Ethernet)\n\
             \x20       RX packets 3  bytes 2048 (2.0 KiB)\n\
             \x20       RX errors 0  dropped 0  overruns 0  frame 0\n\
             \x20       TX packets 4  bytes 1048577 (1.0 MiB)\n\
             \x20       TX errors 0  dropped 0 overruns 0  carrier 0  collisions 0\n\n"
        );
    }

    #[test]
    fn vanished_interface_aborts_the_listing() {
        let t = Tree::new("gone");
        t.file(
            "proc/net/dev",
            &format!(
                "{DEV_HEADER}  a0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  b0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n  c0: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n"
            ),
        )
        .device("a0", "0x1003\n", "up\n", 1, "02:00:00:00:00:01\n")
        .device("c0", "0x1003\n", "up\n", 1, "02:00:00:00:00:03\n");
        let (out, err, rc) = t.run(short_view(false));
        assert_eq!(rc, 1);
        assert_eq!(out.lines().count(), 3, "{out}");
        assert_eq!(
            err,
            "b0: error fetching interface information: Device not found\n\
             missing interface information: No such device\n"
        );
    }

    #[test]
    fn unreadable_proc_net_dev_warns_and_goes_on() {
        let t = Tree::new("noproc");
        let (out, err, rc) = t.run(short_view(false));
        assert_eq!(rc, 0);
        assert_eq!(out.lines().count(), 2);
        let path = t.0.join("proc/net/dev");
        assert_eq!(
            err,
            format!(
                "Warning: cannot open {} (No such file or directory). Limited output.\n",
                path.display()
            )
        );
    }

    #[test]
    fn helpers() {
        assert_eq!(base_name(b"eth0:1"), b"eth0");
        assert_eq!(base_name(b"eth0"), b"eth0");
        let hw = hwaddr_of(&[1; 20]);
        assert_eq!((hw[7], hw[8]), (1, 0));
        assert_eq!(
            strerror(&io::Error::from_raw_os_error(libc::ENODEV)),
            "No such device"
        );
    }
}
