//! `-g/--groups` (multicast group memberships) against net-tools' netstat, byte for byte.
//!
//! Each test makes its own network namespace with a veth pair (one end with a 15-byte
//! name), an interface that stays down, and a few TCP and unix sockets, then joins
//! multicast groups on both families from sockets this process holds: a short-lived
//! thread `setns()`s into the namespace, opens the sockets there and hands them back, so
//! no helper process is needed. Two sockets join the same group to get a RefCnt of 2.
//! Needs root; run single-threaded:
//!
//! ```sh
//! cargo test -p netstat-tests --test groups -- --test-threads=1
//! ```

use std::ffi::{CString, OsStr};
use std::fs::{self, File};
use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::Command;
use std::thread;

use netstat_tests::{Netns, compare, compare_as, run_in, run_netstat_in};

/// uid/gid `nobody` on Debian.
const NOBODY: u32 = 65534;
/// 15 bytes, the longest interface name: it fills the Interface column exactly and its
/// /proc/net/igmp device field has no room for the `:` net-tools cuts at.
const LONG_DEV: &str = "veth-long-name1";
const PEER_DEV: &str = "vp1";
const DOWN_DEV: &str = "grp-down";

/// The memberships joined in every scene: (group, device, how many sockets join it).
const V4_GROUPS: [(&str, &str, usize); 5] = [
    ("239.1.2.3", PEER_DEV, 2),
    ("224.0.0.251", PEER_DEV, 1),
    ("239.5.5.5", LONG_DEV, 1),
    ("239.9.9.9", DOWN_DEV, 1),
    ("239.1.2.3", "lo", 1),
];
const V6_GROUPS: [(&str, &str, usize); 4] = [
    ("ff05::1:3", PEER_DEV, 2),
    ("ff15:1234:5678:9abc::1", LONG_DEV, 1),
    ("ff02::fb", DOWN_DEV, 1),
    ("ff02::1:3", "lo", 1),
];

/// Sockets held in the namespace; dropped (closed) before it.
struct Held {
    _fds: Vec<OwnedFd>,
    _tcp: Vec<TcpStream>,
    _listener: TcpListener,
    _unix: (UnixStream, UnixStream),
}

/// A namespace with interfaces and group memberships. Fields drop in order: sockets,
/// /etc/netns files, namespace.
struct Scene {
    _held: Held,
    etc: EtcNetns,
    ns: Netns,
}

/// `/etc/netns/<ns>/`: `ip netns exec` bind-mounts its files over `/etc`, so both tools
/// read the same private `/etc/hosts` and `/etc/networks`. Removed on drop.
struct EtcNetns {
    dir: PathBuf,
}

impl EtcNetns {
    fn new(ns: &Netns) -> EtcNetns {
        EtcNetns {
            dir: PathBuf::from("/etc/netns").join(ns.name()),
        }
    }

    fn put(&self, name: &str, text: &str) {
        fs::create_dir_all(&self.dir)
            .unwrap_or_else(|e| panic!("create {}: {e}", self.dir.display()));
        let path = self.dir.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

impl Drop for EtcNetns {
    fn drop(&mut self) {
        if self.dir.exists() {
            if let Err(e) = fs::remove_dir_all(&self.dir) {
                eprintln!("warning: could not remove {}: {e}", self.dir.display());
            }
            // Only when empty: other tools may keep their own namespaces' files there.
            let _ = fs::remove_dir("/etc/netns");
        }
    }
}

fn ip(ns: &Netns, args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns.name())
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip -n {} {}` failed: {}",
            ns.name(),
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ip_ok(ns: &Netns, args: &[&str]) {
    if let Err(e) = ip(ns, args) {
        panic!("{e}");
    }
}

/// The interfaces: a veth pair (up, addressed) and one interface left down. `dummy` is
/// the natural choice for the latter, but not every kernel has it (this project's VM
/// does not): then `ifb`, then a veth pair.
fn make_interfaces(ns: &Netns) {
    ip_ok(
        ns,
        &[
            "link", "add", LONG_DEV, "type", "veth", "peer", "name", PEER_DEV,
        ],
    );
    ip_ok(ns, &["addr", "add", "10.77.0.1/24", "dev", PEER_DEV]);
    ip_ok(
        ns,
        &["addr", "add", "fd00:77::1/64", "dev", PEER_DEV, "nodad"],
    );
    ip_ok(ns, &["link", "set", PEER_DEV, "up"]);
    ip_ok(ns, &["link", "set", LONG_DEV, "up"]);
    let down = ["dummy", "ifb"]
        .iter()
        .any(|kind| ip(ns, &["link", "add", DOWN_DEV, "type", kind]).is_ok());
    if !down {
        ip_ok(
            ns,
            &[
                "link",
                "add",
                DOWN_DEV,
                "type",
                "veth",
                "peer",
                "name",
                "grp-down-p",
            ],
        );
    }
}

/// Runs `f` on a thread that has entered `ns` (the network namespace is per thread), so
/// the sockets it opens live there; they outlive the thread.
fn in_netns<T: Send + 'static>(
    ns: &Netns,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    let file = File::open(PathBuf::from("/run/netns").join(ns.name()))?;
    thread::spawn(move || {
        // SAFETY: plain syscall on a valid namespace fd; it affects this thread only.
        if unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
            return Err(io::Error::last_os_error());
        }
        f()
    })
    .join()
    .map_err(|_| io::Error::other("the setns thread panicked"))?
}

fn if_index(dev: &str) -> io::Result<u32> {
    let name = CString::new(dev).map_err(io::Error::other)?;
    // SAFETY: `name` is a valid C string; the lookup runs in the calling thread's netns.
    match unsafe { libc::if_nametoindex(name.as_ptr()) } {
        0 => Err(io::Error::other(format!("no interface {dev}"))),
        i => Ok(i),
    }
}

fn udp_socket(domain: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: plain syscall.
    let fd = unsafe { libc::socket(domain, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn setsockopt<T>(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: &T) -> io::Result<()> {
    let len = libc::socklen_t::try_from(mem::size_of::<T>()).map_err(io::Error::other)?;
    // SAFETY: `value` points to `len` readable bytes of the option's C type.
    let rc =
        unsafe { libc::setsockopt(fd.as_raw_fd(), level, name, (value as *const T).cast(), len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `IP_ADD_MEMBERSHIP` by interface index (works on an interface without address or down).
fn join_v4(group: Ipv4Addr, dev: &str) -> io::Result<OwnedFd> {
    let fd = udp_socket(libc::AF_INET)?;
    let mreq = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(group.octets()),
        },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: i32::try_from(if_index(dev)?).map_err(io::Error::other)?,
    };
    setsockopt(&fd, libc::IPPROTO_IP, libc::IP_ADD_MEMBERSHIP, &mreq)?;
    Ok(fd)
}

/// `IPV6_JOIN_GROUP`.
fn join_v6(group: Ipv6Addr, dev: &str) -> io::Result<OwnedFd> {
    let fd = udp_socket(libc::AF_INET6)?;
    let mreq = libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: group.octets(),
        },
        ipv6mr_interface: if_index(dev)?,
    };
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
    Ok(fd)
}

fn hold(ns: &Netns) -> Held {
    let held = in_netns(ns, || {
        let mut fds = Vec::new();
        for (group, dev, n) in V4_GROUPS {
            let group: Ipv4Addr = group.parse().map_err(io::Error::other)?;
            for _ in 0..n {
                fds.push(join_v4(group, dev)?);
            }
        }
        for (group, dev, n) in V6_GROUPS {
            let group: Ipv6Addr = group.parse().map_err(io::Error::other)?;
            for _ in 0..n {
                fds.push(join_v6(group, dev)?);
            }
        }
        // Something for the sections -g combines with (-t, -4, -x).
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (server, _) = listener.accept()?;
        let unix = UnixStream::pair()?;
        Ok(Held {
            _fds: fds,
            _tcp: vec![client, server],
            _listener: listener,
            _unix: unix,
        })
    });
    held.unwrap_or_else(|e| panic!("joining groups in {}: {e}", ns.name()))
}

fn scene() -> Scene {
    let ns = Netns::new();
    make_interfaces(&ns);
    let held = hold(&ns);
    Scene {
        _held: held,
        etc: EtcNetns::new(&ns),
        ns,
    }
}

/// Our `-gn` output in the scene.
fn ours_gn(s: &Scene) -> String {
    let out = run_netstat_in(&s.ns, &netstat_tests::ours(), None, &["-gn"]);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The scene really has what the comparisons are meant to cover, so that they are not
/// vacuous: refcounts of 2, a down interface, a 15-byte name, both families.
#[test]
fn scene_has_refcounts_down_interface_and_long_names() {
    let s = scene();
    let out = ours_gn(&s);
    for row in [
        "vp1             2      239.1.2.3\n",
        "vp1             2      ff05::1:3\n",
        "grp-down        1      239.9.9.9\n",
        "grp-down        1      ff02::fb\n",
        "veth-long-name1 1      239.5.5.5\n",
        "veth-long-name1 1      ff15:1234:5678:9abc::1\n",
        "lo              1      239.1.2.3\n",
    ] {
        assert!(out.contains(row), "missing {row:?} in:\n{out}");
    }
    let state = run_in(&s.ns, "ip", &["-o", "link", "show", DOWN_DEV]);
    let state = String::from_utf8_lossy(&state.stdout);
    assert!(!state.contains(",UP"), "{DOWN_DEV} should be down: {state}");
}

macro_rules! groups_tests {
    ($($(#[$doc:meta])* $name:ident: [$($arg:expr),*];)*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                let s = scene();
                compare(&s.ns, &[$($arg),*]);
            }
        )*
    };
}

groups_tests! {
    /// Both families, names (none in the default /etc/hosts: same as numeric).
    groups_match_net_tools: ["-g"];
    /// Numeric.
    groups_numeric_match_net_tools: ["-gn"];
    /// The long option.
    groups_long_option_match_net_tools: ["--groups"];
    /// `--numeric-hosts` is what -g looks at.
    groups_numeric_hosts_match_net_tools: ["-g", "--numeric-hosts"];
    /// `-4`: the default tcp/udp/raw listing of IPv4 first, then the IPv4 groups only.
    groups_inet_match_net_tools: ["-g4"];
    /// `-6`: IPv6 sockets, then the IPv6 groups only.
    groups_inet6_match_net_tools: ["-g6"];
    /// `-A inet6` is `-6`.
    groups_family_inet6_match_net_tools: ["-A", "inet6", "-g"];
    /// `-A inet` is `-4`.
    groups_family_inet_match_net_tools: ["-A", "inet", "-g", "-n"];
    /// `-A unix`: no inet family, so -g turns both on; groups then unix.
    groups_family_unix_match_net_tools: ["-g", "-A", "unix"];
    /// `-t`: TCP (both families) first, then all groups.
    groups_tcp_match_net_tools: ["-gt"];
    /// `-t6`: IPv6 TCP, IPv6 groups.
    groups_tcp_inet6_match_net_tools: ["-gnt6"];
    /// `-x`: groups, then unix.
    groups_unix_match_net_tools: ["-gx"];
    /// `-a` does not filter groups.
    groups_all_match_net_tools: ["-ga"];
    /// `-a -n`.
    groups_all_numeric_match_net_tools: ["-gan"];
    /// `-l` does not filter groups either.
    groups_listening_match_net_tools: ["-gl"];
    /// `-W`: no effect, group names are never cut.
    groups_wide_match_net_tools: ["-gW"];
    /// `-N`: no effect.
    groups_symbolic_match_net_tools: ["-gN"];
    /// `-v`: nothing missing, nothing to say.
    groups_verbose_match_net_tools: ["-gv"];
    /// `-e`, `-ee`, `-o`: no effect on groups.
    groups_extend_match_net_tools: ["-gee", "-o"];
    /// `-p` as root.
    groups_programs_match_net_tools: ["-gp"];
    /// udp, raw and groups.
    groups_udp_raw_match_net_tools: ["-guwn"];
}

/// Group names from a private /etc/hosts (and /etc/networks, for net-tools' host/net
/// test): IPv4 via gethostbyaddr, IPv6 via getnameinfo, a name longer than the column.
#[test]
fn group_names_from_hosts_match_net_tools() {
    let s = scene();
    s.etc.put(
        "hosts",
        "127.0.0.1 localhost\n\
         239.1.2.3 my-group.example grp\n\
         224.0.0.1 all-systems.mcast.net\n\
         ::1 localhost ip6-localhost\n\
         ff02::1 ip6-allnodes\n\
         ff05::1:3 site-group\n\
         ff15:1234:5678:9abc::1 a-very-long-multicast-group-name-well-beyond-the-column.example.org\n",
    );
    s.etc
        .put("networks", "loopback 127.0.0.0\nlink-local 169.254.0.0\n");
    // No DNS: a refused query fails at once instead of waiting for a server.
    s.etc.put("resolv.conf", "nameserver 127.0.0.1\n");
    let ours = run_netstat_in(&s.ns, &netstat_tests::ours(), None, &["-g"]);
    let ours = String::from_utf8_lossy(&ours.stdout);
    for name in [
        "my-group.example",
        "site-group",
        "ip6-allnodes",
        "all-systems.mcast.net",
    ] {
        assert!(ours.contains(name), "{name} not used in:\n{ours}");
    }
    for args in [
        &["-g"][..],
        &["-g4"],
        &["-g6"],
        &["-gW"],
        &["-gn"],
        &["-gt"],
    ] {
        compare(&s.ns, args);
    }
}

/// A namespace with nothing but `lo`: its default memberships only.
#[test]
fn groups_in_empty_namespace_match_net_tools() {
    let ns = Netns::new();
    for args in [&["-g"][..], &["-gn6"], &["-g4"]] {
        compare(&ns, args);
    }
}

/// As an unprivileged user (the /proc files are world-readable).
#[test]
fn groups_as_nobody_match_net_tools() {
    let s = scene();
    compare_as(&s.ns, Some(NOBODY), &["-gn"]);
}

/// `-gp` as a user: net-tools loads the program table only for the Internet and unix
/// sections, so `-g` alone prints no `(No info could be read ...)` note.
#[test]
fn groups_with_programs_as_nobody_print_no_program_note() {
    let s = scene();
    compare_as(&s.ns, Some(NOBODY), &["-gp"]);
}

/// `-gc`: every round equals net-tools' one-shot `-gn`. This deliberately differs from
/// net-tools 2.10, whose second and later rounds parse /proc/net/igmp as igmp6 (its
/// format flag is a `static` never reset) and print garbage rows plus `bogus igmp6 line`
/// warnings (reference §7).
#[test]
fn continuous_groups_repeat_the_first_round() {
    let s = scene();
    let once = run_netstat_in(&s.ns, &netstat_tests::real(), None, &["-gn"]);
    assert!(once.stderr.is_empty());
    let ours = netstat_tests::ours();
    let argv: Vec<&OsStr> = ["-s", "INT", "2.5"]
        .iter()
        .map(OsStr::new)
        .chain([ours.as_os_str()])
        .chain(["-gnc"].iter().map(OsStr::new))
        .collect();
    let out = run_in(&s.ns, "timeout", &argv);
    let expected = once.stdout.repeat(3);
    assert!(
        out.stdout == expected,
        "3 rounds of net-tools' -gn expected, got:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
