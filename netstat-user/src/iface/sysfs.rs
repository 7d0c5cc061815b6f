//! Link facts from `sys/class/net/<name>/` under the run's root: the source when the run
//! reads files only (`PROC_ROOT`, see `system::RunEnv`), so recorded trees can be replayed
//! without privileges. Live runs ask the kernel ([`super::ioctl`]).
//!
//! sysfs does not carry everything `SIOCGIF*` returns, so this source is close but not
//! identical to a live run:
//! - `flags` is `dev->flags`, not `dev_get_flags()`: `RUNNING` is rebuilt from
//!   `operstate` (`up` or `unknown` on an `UP` device, as `netif_oper_up()`), and a
//!   `PROMISC`/`ALLMULTI` set by a user (`gflags`) is not visible, so both are dropped
//!   like `dev_get_flags()` drops `dev->flags`' own copies;
//! - there is no ifmap (all zero);
//! - a missing file stands for a failed ioctl: no `mtu` gives 0, no `tx_queue_len` gives
//!   net-tools' "unknown" (no `txqueuelen` printed), no `address` gives zeros; a missing
//!   directory or `flags` file is the `SIOCGIFFLAGS` failure (`Device not found`).
use std::{io, path::Path};

const IFF_UP: u32 = 0x1;
const IFF_RUNNING: u32 = 0x40;
/// What `dev_get_flags()` takes from elsewhere than `dev->flags`: PROMISC, ALLMULTI,
/// RUNNING, LOWER_UP, DORMANT.
const IFF_COMPUTED: u32 = 0x100 | 0x200 | 0x40 | 0x1_0000 | 0x2_0000;

/// What the files of one device say, before defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SysfsText {
    pub flags: String,
    pub operstate: Option<String>,
    pub mtu: Option<String>,
    pub kind: Option<String>,
    pub address: Option<String>,
    pub addr_len: Option<String>,
    pub tx_queue_len: Option<String>,
}

/// Reads `root/sys/class/net/<name>/`. `Err` (`ENODEV` for a missing device) stands for
/// the `SIOCGIFFLAGS` failure.
pub fn read(root: &Path, name: &[u8]) -> io::Result<SysfsText> {
    use std::os::unix::ffi::OsStrExt;
    let dir = root
        .join("sys/class/net")
        .join(std::ffi::OsStr::from_bytes(name));
    let file = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    let flags = match std::fs::read_to_string(dir.join("flags")) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(io::Error::from_raw_os_error(libc::ENODEV));
        }
        Err(e) => return Err(e),
    };
    Ok(SysfsText {
        flags,
        operstate: file("operstate"),
        mtu: file("mtu"),
        kind: file("type"),
        address: file("address"),
        addr_len: file("addr_len"),
        tx_queue_len: file("tx_queue_len"),
    })
}

/// What the files say about one device, as the ioctls would (before net-tools' C casts).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// `dev_get_flags()` as far as sysfs shows it (see the module documentation).
    pub flags: u32,
    pub arphrd: u16,
    /// `dev_addr` (`addr_len` bytes).
    pub address: Vec<u8>,
    pub mtu: u32,
    pub txqlen: Option<u32>,
}

/// The link facts of one device.
pub fn to_link(text: &SysfsText) -> io::Result<Link> {
    let bad = || io::Error::from(io::ErrorKind::InvalidData);
    let raw = text.flags.trim();
    let raw = raw.strip_prefix("0x").unwrap_or(raw);
    let dev_flags = u32::from_str_radix(raw, 16).map_err(|_| bad())?;
    let oper_up = matches!(
        text.operstate.as_deref().map(str::trim),
        Some("up" | "unknown")
    );
    let mut flags = dev_flags & !IFF_COMPUTED;
    if dev_flags & IFF_UP != 0 && oper_up {
        flags |= IFF_RUNNING;
    }
    let number = |t: &Option<String>| t.as_deref().and_then(|s| s.trim().parse::<u32>().ok());
    let addr_len = number(&text.addr_len).map_or(usize::MAX, |n| n as usize);
    let address: Vec<u8> = text
        .address
        .as_deref()
        .map(|a| {
            a.trim()
                .split(':')
                .filter_map(|h| u8::from_str_radix(h, 16).ok())
                .take(addr_len)
                .collect()
        })
        .unwrap_or_default();
    Ok(Link {
        flags,
        arphrd: number(&text.kind)
            .and_then(|t| u16::try_from(t).ok())
            .unwrap_or(0),
        address,
        mtu: number(&text.mtu).unwrap_or(0),
        txqlen: number(&text.tx_queue_len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(flags: &str, operstate: &str) -> SysfsText {
        SysfsText {
            flags: flags.into(),
            operstate: Some(operstate.into()),
            mtu: Some("1500\n".into()),
            kind: Some("1\n".into()),
            address: Some("02:fc:00:00:00:01\n".into()),
            addr_len: Some("6\n".into()),
            tx_queue_len: Some("1000\n".into()),
        }
    }

    #[test]
    fn running_comes_from_operstate() {
        let link = to_link(&text("0x1003\n", "up\n")).expect("valid");
        assert_eq!(link.flags, 0x1043);
        assert_eq!((link.mtu, link.txqlen, link.arphrd), (1500, Some(1000), 1));
        assert_eq!(link.address, [2, 0xfc, 0, 0, 0, 1]);
        let lo = to_link(&text("0x9", "unknown")).expect("valid");
        assert_eq!(lo.flags, 0x49);
        let down = to_link(&text("0x1002", "down")).expect("valid");
        assert_eq!(down.flags, 0x1002);
        // Not oper-up although UP: no RUNNING; a stale PROMISC bit is dropped.
        let dormant = to_link(&text("0x1103", "lowerlayerdown")).expect("valid");
        assert_eq!(dormant.flags, 0x1003);
    }

    #[test]
    fn missing_and_bad_files() {
        let t = SysfsText {
            flags: "0x1".into(),
            ..SysfsText::default()
        };
        let link = to_link(&t).expect("valid");
        assert_eq!(link.txqlen, None);
        assert_eq!((link.mtu, link.arphrd, link.address.len()), (0, 0, 0));
        assert!(to_link(&text("zz", "up")).is_err());
        let mut short = text("0x1", "up");
        short.addr_len = Some("0\n".into());
        assert!(to_link(&short).expect("valid").address.is_empty());
    }

    #[test]
    fn reads_a_recorded_tree() {
        let dir = std::env::temp_dir().join(format!("iface-sysfs-{}", std::process::id()));
        let dev = dir.join("sys/class/net/eth0");
        std::fs::create_dir_all(&dev).expect("mkdir");
        std::fs::write(dev.join("flags"), "0x1003\n").expect("write");
        std::fs::write(dev.join("mtu"), "1400\n").expect("write");
        let t = read(&dir, b"eth0").expect("present");
        assert_eq!(t.mtu.as_deref(), Some("1400\n"));
        assert!(t.operstate.is_none());
        let e = read(&dir, b"eth1").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
