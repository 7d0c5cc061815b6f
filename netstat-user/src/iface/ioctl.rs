//! The `SIOCGIF*` ioctls net-tools' `if_fetch()` and `if_readconf()` make, on one
//! `AF_INET` datagram socket of the caller's network namespace.
//!
//! Why ioctls and not an rtnetlink link dump (measured with 1000 interfaces, Linux 6.18):
//! the kernel fills every `RTM_NEWLINK` message with all of a device's statistics and
//! per-family settings (about 1 KB, ~5 µs a device; `RTEXT_FILTER_SKIP_STATS` only skips
//! VF statistics), which alone costs more than net-tools' whole table, while a
//! `SIOCGIFFLAGS` or `SIOCGIFMTU` is a name lookup and a copy. The short table needs only
//! those two per interface; the long one adds the hardware address, map, txqueuelen and
//! the IPv4 address of the label. The answers are the kernel's own code paths net-tools
//! uses (`dev_ifsioc_locked()`, `devinet_ioctl()`), so they agree by construction:
//! `short` flags, a label's first address, `struct ifmap`'s narrow fields.
use std::{
    io,
    net::Ipv4Addr,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
};

use super::{HwAddr, IfMap, Inet4};

/// `IFNAMSIZ`.
const IFNAMSIZ: usize = 16;

/// An `AF_INET` datagram socket to ask interface ioctls on.
#[derive(Debug)]
pub struct IfSocket {
    fd: OwnedFd,
}

/// What `SIOCGIFHWADDR` gives: `sa_family` (the `ARPHRD_*` type) and the first 8 bytes of
/// `sa_data`, which is all net-tools keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HwInfo {
    pub arphrd: u16,
    pub addr: HwAddr,
}

impl IfSocket {
    pub fn new() -> io::Result<Self> {
        // SAFETY: plain socket(2); the result is checked before use.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` is a new descriptor that nothing else owns.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
        })
    }

    /// A zeroed `ifreq` for `name` (`safe_strncpy()`: at most 15 bytes, NUL-terminated).
    fn request(name: &[u8]) -> libc::ifreq {
        // SAFETY: ifreq is plain old data (arrays, integers, a pointer in a union); all
        // zeros is a valid value of it.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, &src) in req.ifr_name.iter_mut().zip(name.iter().take(IFNAMSIZ - 1)) {
            *dst = src as libc::c_char;
        }
        req
    }

    /// One `ioctl(fd, cmd, &req)`.
    fn ask(&self, cmd: libc::c_ulong, req: &mut libc::ifreq) -> io::Result<()> {
        // SAFETY: every SIOCGIF* request used here reads and writes one `struct ifreq`,
        // which `req` is.
        let rc = unsafe { libc::ioctl(self.fd.as_raw_fd(), cmd, req as *mut libc::ifreq) };
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `SIOCGIFFLAGS`: the `short` flags. Its failure is net-tools' fetch error.
    pub fn flags(&self, name: &[u8]) -> io::Result<i16> {
        let mut req = Self::request(name);
        self.ask(libc::SIOCGIFFLAGS, &mut req)?;
        // SAFETY: SIOCGIFFLAGS filled the `ifru_flags` member.
        Ok(unsafe { req.ifr_ifru.ifru_flags })
    }

    /// `SIOCGIFMTU`; 0 when it fails, as net-tools.
    pub fn mtu(&self, name: &[u8]) -> i32 {
        let mut req = Self::request(name);
        match self.ask(libc::SIOCGIFMTU, &mut req) {
            // SAFETY: SIOCGIFMTU filled the `ifru_mtu` member.
            Ok(()) => unsafe { req.ifr_ifru.ifru_mtu },
            Err(_) => 0,
        }
    }

    /// `SIOCGIFHWADDR`; type 0 and zeros when it fails. (It fails only for a device that
    /// vanished since its `SIOCGIFFLAGS`; net-tools then takes the type from whatever
    /// its reused `ifreq` holds.)
    pub fn hwaddr(&self, name: &[u8]) -> HwInfo {
        let mut req = Self::request(name);
        let mut addr = [0u8; 32];
        if self.ask(libc::SIOCGIFHWADDR, &mut req).is_err() {
            return HwInfo { arphrd: 0, addr };
        }
        // SAFETY: SIOCGIFHWADDR filled the `ifru_hwaddr` member.
        let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
        for (dst, src) in addr.iter_mut().zip(sa.sa_data.iter().take(8)) {
            *dst = *src as u8;
        }
        HwInfo {
            arphrd: sa.sa_family,
            addr,
        }
    }

    /// `SIOCGIFMAP`; zeros when it fails.
    pub fn map(&self, name: &[u8]) -> IfMap {
        let mut req = Self::request(name);
        if self.ask(libc::SIOCGIFMAP, &mut req).is_err() {
            return IfMap::default();
        }
        // SAFETY: SIOCGIFMAP filled the `ifru_map` member.
        let m = unsafe { req.ifr_ifru.ifru_map };
        IfMap {
            mem_start: m.mem_start,
            mem_end: m.mem_end,
            base_addr: m.base_addr,
            irq: m.irq,
            dma: m.dma,
            port: m.port,
        }
    }

    /// `SIOCGIFTXQLEN`; `None` (net-tools' -1, "unknown") when it fails.
    pub fn txqlen(&self, name: &[u8]) -> Option<i32> {
        let mut req = Self::request(name);
        self.ask(libc::SIOCGIFTXQLEN, &mut req).ok()?;
        // SAFETY: SIOCGIFTXQLEN fills `ifr_qlen`, the int member `ifru_mtu` shares.
        let qlen = unsafe { req.ifr_ifru.ifru_mtu };
        (qlen != -1).then_some(qlen)
    }

    /// `SIOCGIFADDR`, then `SIOCGIFDSTADDR`, `SIOCGIFBRDADDR`, `SIOCGIFNETMASK` on the
    /// same request (as net-tools, so the kernel's address match sees the previous
    /// answer); `None` when the label has no IPv4 address.
    pub fn inet(&self, name: &[u8]) -> Option<Inet4> {
        let mut req = Self::request(name);
        // The family asks devinet_ioctl() to match the address too (0.0.0.0 never matches).
        req.ifr_ifru.ifru_addr.sa_family = libc::AF_INET as libc::sa_family_t;
        self.ask(libc::SIOCGIFADDR, &mut req).ok()?;
        let addr = sockaddr_v4(&req);
        let mut next = |cmd| match self.ask(cmd, &mut req) {
            Ok(()) => sockaddr_v4(&req),
            Err(_) => Ipv4Addr::UNSPECIFIED,
        };
        let destination = next(libc::SIOCGIFDSTADDR);
        let broadcast = next(libc::SIOCGIFBRDADDR);
        let netmask = next(libc::SIOCGIFNETMASK);
        Some(Inet4 {
            addr,
            netmask,
            broadcast,
            destination,
        })
    }

    /// `SIOCGIFCONF`: the label of every IPv4 address, device by device. The buffer
    /// grows until the answer does not fill it, as `if_readconf()` does.
    pub fn labels(&self) -> io::Result<Vec<Vec<u8>>> {
        let entry = std::mem::size_of::<libc::ifreq>();
        let mut count: usize = 30;
        loop {
            // SAFETY: zeroed ifreqs are valid (see `request`).
            let mut reqs: Vec<libc::ifreq> =
                (0..count).map(|_| unsafe { std::mem::zeroed() }).collect();
            let len = count * entry;
            let mut conf = libc::ifconf {
                ifc_len: libc::c_int::try_from(len)
                    .map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?,
                ifc_ifcu: libc::__c_anonymous_ifc_ifcu {
                    ifcu_req: reqs.as_mut_ptr(),
                },
            };
            // SAFETY: `conf` points at `count` writable ifreqs and says so in `ifc_len`.
            let rc = unsafe {
                libc::ioctl(
                    self.fd.as_raw_fd(),
                    libc::SIOCGIFCONF,
                    &mut conf as *mut libc::ifconf,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            let used = usize::try_from(conf.ifc_len).unwrap_or(0);
            if used == len {
                // Possibly cut short: try again with twice the room.
                count *= 2;
                continue;
            }
            return Ok(reqs
                .iter()
                .take(used / entry)
                .map(|r| {
                    let name: Vec<u8> = r.ifr_name.iter().map(|&c| c as u8).collect();
                    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
                    name[..end].to_vec()
                })
                .collect());
        }
    }
}

/// The IPv4 address in the request's address member.
fn sockaddr_v4(req: &libc::ifreq) -> Ipv4Addr {
    // SAFETY: all four address ioctls fill a `sockaddr_in` in the address member, which
    // has the size of a `sockaddr`; the read is unaligned-safe.
    let sin: libc::sockaddr_in =
        unsafe { std::ptr::read_unaligned(std::ptr::addr_of!(req.ifr_ifru.ifru_addr).cast()) };
    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `lo` exists in every network namespace, up or down, with 127.0.0.1 when up.
    #[test]
    fn loopback_answers_like_ifconfig() {
        let sock = IfSocket::new().expect("an AF_INET socket");
        let flags = sock.flags(b"lo").expect("lo exists");
        assert_ne!(flags & 0x8, 0, "LOOPBACK");
        assert_eq!(sock.hwaddr(b"lo").arphrd, 772);
        assert!(sock.mtu(b"lo") > 0);
        if flags & 1 != 0 {
            let labels = sock.labels().expect("SIOCGIFCONF");
            if labels.iter().any(|l| l == b"lo") {
                let inet = sock.inet(b"lo").expect("127.0.0.1");
                assert_eq!(inet.addr, Ipv4Addr::LOCALHOST);
                assert_eq!(inet.netmask, Ipv4Addr::new(255, 0, 0, 0));
            }
        }
        let e = sock.flags(b"nosuch-if-0").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENODEV));
        // A 16-byte name is cut to 15 like safe_strncpy().
        assert!(sock.flags(b"lolololololololo").is_err());
    }
}
