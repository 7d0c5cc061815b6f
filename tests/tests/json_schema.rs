//! `--json` in every classic mode: each line valid against `docs/netstat.schema.json`, and
//! the content equal to what net-tools' table (or the kernel's own file) says about the
//! same namespace.
//!
//! Each test makes its own network namespace: a veth pair with IPv4/IPv6 addresses, extra
//! routes (a gateway route, a default route with a metric, a blackhole, an IPv6 gateway
//! route), multicast memberships on both families, and `sockgen --full` (tcp v4/v6
//! listeners and connections in several states, udp, udp-lite, raw, unix sockets with odd
//! names, sockets owned by `nobody`). `-M` gets a client–router–server lab with an
//! nftables masquerade. Needs root; run single-threaded:
//!
//! ```sh
//! cargo test -p netstat-tests --test json_schema -- --test-threads=1
//! ```
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Read};
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use netstat_tests::json::Schema;
use netstat_tests::{
    MOVING_ATTEMPTS, Netns, Output, SockGen, TempDir, ours, real, run_in, run_netstat_in,
};
use serde_json::{Value, json};

const NOBODY: u32 = 65534;

fn sockgen() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_sockgen"))
}

// ---------------------------------------------------------------------------------------------
// The scene

/// Fields drop in order: sockets, generator, directory, peer, namespace.
struct Scene {
    _groups: Vec<OwnedFd>,
    _generator: SockGen,
    _dir: TempDir,
    _peer: Netns,
    ns: Netns,
}

fn ip(ns: &Netns, args: &[&str]) {
    let out = Command::new("ip")
        .arg("-n")
        .arg(ns.name())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run ip: {e}"));
    assert!(
        out.status.success(),
        "ip -n {} {} failed: {}",
        ns.name(),
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

fn scene() -> Scene {
    let ns = Netns::new();
    let (peer, veth) = ns.veth_peer();
    let gw4 = veth.peer_v4.to_string();
    let gw6 = veth.peer_v6.to_string();
    ip(&ns, &["route", "add", "198.51.100.0/24", "via", &gw4]);
    ip(
        &ns,
        &["route", "add", "default", "via", &gw4, "metric", "50"],
    );
    ip(&ns, &["route", "add", "blackhole", "203.0.113.0/24"]);
    ip(&ns, &["-6", "route", "add", "2001:db8:5::/64", "via", &gw6]);
    let groups = in_netns(&ns, || {
        Ok(vec![
            join_v4("239.1.2.3".parse().map_err(io::Error::other)?, "veth0")?,
            join_v4("239.1.2.3".parse().map_err(io::Error::other)?, "veth0")?,
            join_v4("239.5.5.5".parse().map_err(io::Error::other)?, "lo")?,
            join_v6("ff05::1:3".parse().map_err(io::Error::other)?, "veth0")?,
        ])
    })
    .unwrap_or_else(|e| panic!("joining groups in {}: {e}", ns.name()));
    let dir = TempDir::new("json");
    let nobody = NOBODY.to_string();
    let args = [
        OsStr::new("--full"),
        OsStr::new("--dir"),
        dir.path().as_os_str(),
        OsStr::new("--owned-by"),
        OsStr::new(&nobody),
    ];
    let generator = SockGen::start(&ns, sockgen(), &args);
    Scene {
        _groups: groups,
        _generator: generator,
        _dir: dir,
        _peer: peer,
        ns,
    }
}

/// Runs `f` on a thread that entered `ns`: the sockets it opens live there.
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

// ---------------------------------------------------------------------------------------------
// Running both tools

/// Our `--json ARGS` in `ns`: exit 0, nothing on stderr but what `allowed_stderr` accepts,
/// every line valid. Returns the records.
fn ours_json(schema: &Schema, ns: &Netns, args: &[&str]) -> Vec<Value> {
    let mut argv = vec!["--json"];
    argv.extend_from_slice(args);
    let out = run_netstat_in(ns, &ours(), None, &argv);
    assert_eq!(
        out.code(),
        Some(0),
        "netstat {argv:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    schema.valid_records(&out.stdout)
}

/// net-tools' table (exit 0), as text lines.
fn net_tools(ns: &Netns, args: &[&str]) -> Vec<String> {
    let out: Output = run_netstat_in(ns, &real(), None, args);
    assert_eq!(
        out.code(),
        Some(0),
        "/usr/bin/netstat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Retries `attempt` while the two sides may have moved between the runs.
fn agree(what: &str, mut attempt: impl FnMut() -> Result<(), String>) {
    let mut last = String::new();
    for _ in 0..MOVING_ATTEMPTS {
        match attempt() {
            Ok(()) => return,
            Err(e) => last = e,
        }
        thread::sleep(Duration::from_millis(200));
    }
    panic!("{what}: --json and net-tools disagree:\n{last}");
}

fn same<T: Ord + std::fmt::Debug + Clone>(ours: &[T], theirs: &[T]) -> Result<(), String> {
    let (mut a, mut b) = (ours.to_vec(), theirs.to_vec());
    a.sort();
    b.sort();
    if a == b {
        return Ok(());
    }
    let only_ours: Vec<&T> = a.iter().filter(|x| !b.contains(x)).collect();
    let only_theirs: Vec<&T> = b.iter().filter(|x| !a.contains(x)).collect();
    Err(format!(
        "only in --json: {only_ours:#?}\nonly in net-tools: {only_theirs:#?}"
    ))
}

fn s(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// An address as net-tools prints it numerically: v4-mapped IPv6 as its IPv4 part.
fn nt_host(addr: &str) -> String {
    addr.strip_prefix("::ffff:")
        .filter(|v4| v4.parse::<Ipv4Addr>().is_ok())
        .unwrap_or(addr)
        .to_string()
}

/// `host:port` as net-tools prints it with -n (`*` for port 0).
fn nt_endpoint(addr: &Value, port: &Value) -> String {
    let port = match port.as_u64() {
        Some(0) => "*".to_string(),
        Some(p) => p.to_string(),
        None => "?".to_string(),
    };
    format!("{}:{port}", nt_host(&s(addr)))
}

/// The rows of an Internet table: (proto, local, remote, state, the rest).
fn nt_inet_rows(lines: &[String]) -> Vec<(String, String, String, String, Vec<String>)> {
    lines
        .iter()
        .filter(|l| ["tcp", "udp", "raw"].iter().any(|p| l.starts_with(p)))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let proto = f[0].to_string();
            let stateless = !proto.starts_with("tcp");
            // udp rows have no state column when unconnected; raw rows show a number.
            let (state, rest) = if proto.starts_with("raw") {
                (
                    match f.get(5) {
                        Some(&"1") => "ESTABLISHED".to_string(),
                        _ => String::new(),
                    },
                    f.get(6..).unwrap_or_default(),
                )
            } else if stateless && f.get(5).is_none_or(|s| *s != "ESTABLISHED") {
                (String::new(), f.get(5..).unwrap_or_default())
            } else {
                (f[5].to_string(), f.get(6..).unwrap_or_default())
            };
            (
                proto,
                f[3].to_string(),
                f[4].to_string(),
                state,
                rest.iter().map(|s| (*s).to_string()).collect(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Socket tables

#[test]
fn socket_tables_follow_the_schema_and_net_tools() {
    let schema = Schema::load();
    let sc = scene();
    let ns = &sc.ns;

    // -tuna: (proto, local, remote, state) as in net-tools' -tunaW (no truncation).
    agree("-tuna", || {
        let records = ours_json(&schema, ns, &["-tuna"]);
        let mine: Vec<(String, String, String, String)> = records
            .iter()
            .map(|r| {
                (
                    s(&r["proto"]),
                    nt_endpoint(&r["local_addr"], &r["local_port"]),
                    nt_endpoint(&r["remote_addr"], &r["remote_port"]),
                    r["state"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        let theirs: Vec<(String, String, String, String)> =
            nt_inet_rows(&net_tools(ns, &["-tunaW"]))
                .into_iter()
                .map(|(p, l, r, st, _)| (p, l, r, st))
                .collect();
        for proto in ["tcp", "tcp6", "udp", "udp6"] {
            if !mine.iter().any(|m| m.0 == proto) {
                return Err(format!("no {proto} socket in the scene: {mine:#?}"));
            }
        }
        for r in &records {
            if r["pid"] != Value::Null || r["timer"] != Value::Null {
                return Err(format!("pid/timer without -p/-o: {r}"));
            }
            if r["netns"].as_u64().is_none_or(|n| n == 0) {
                return Err(format!("no netns: {r}"));
            }
        }
        same(&mine, &theirs)
    });

    // -tanp: the owner of each connection.
    agree("-tanp", || {
        let records = ours_json(&schema, ns, &["-tanp"]);
        let mine: Vec<(String, String, String)> = records
            .iter()
            .map(|r| {
                let owner = match (r["pid"].as_u64(), r["comm"].as_str()) {
                    (Some(pid), Some(comm)) => format!("{pid}/{comm}"),
                    _ => "-".to_string(),
                };
                (
                    nt_endpoint(&r["local_addr"], &r["local_port"]),
                    nt_endpoint(&r["remote_addr"], &r["remote_port"]),
                    owner,
                )
            })
            .collect();
        let theirs: Vec<(String, String, String)> = nt_inet_rows(&net_tools(ns, &["-tanpW"]))
            .into_iter()
            .map(|(_, l, r, _, rest)| (l, r, rest.first().cloned().unwrap_or_default()))
            .collect();
        if !mine.iter().any(|m| m.2.contains("/a-very-long-p")) {
            return Err(format!(
                "no nobody-owned listener with a cut name: {mine:#?}"
            ));
        }
        same(&mine, &theirs)
    });

    // -tano: timer name, retransmits and probes equal, time left within 2 s.
    agree("-tano", || {
        let records = ours_json(&schema, ns, &["-tano"]);
        let theirs = nt_inet_rows(&net_tools(ns, &["-tanoW"]));
        let mut names = BTreeSet::new();
        for r in &records {
            let key = (
                nt_endpoint(&r["local_addr"], &r["local_port"]),
                nt_endpoint(&r["remote_addr"], &r["remote_port"]),
            );
            let Some((_, _, _, _, rest)) =
                theirs.iter().find(|t| (t.1.clone(), t.2.clone()) == key)
            else {
                return Err(format!("net-tools has no row for {key:?}"));
            };
            // `keepalive (7199.12/0/0)`
            let (name, numbers) = (
                rest[0].as_str(),
                rest[1].trim_matches(|c| c == '(' || c == ')'),
            );
            let n: Vec<&str> = numbers.split('/').collect();
            let t = &r["timer"];
            names.insert(s(&t["name"]));
            let secs: f64 = n[0].parse().map_err(|e| format!("{numbers}: {e}"))?;
            let ours_secs = t["expires_ms"].as_f64().unwrap_or(-1.0) / 1000.0;
            if s(&t["name"]) != name
                || t["retrans"].as_u64() != n[1].parse().ok()
                || t["probes"].as_u64() != n[2].parse().ok()
                || (secs - ours_secs).abs() > 2.0
            {
                return Err(format!("{key:?}: ours {t}, net-tools {name} ({numbers})"));
            }
        }
        if records.len() != theirs.len() {
            return Err(format!("{} records, {} rows", records.len(), theirs.len()));
        }
        for wanted in ["off", "keepalive", "timewait"] {
            if !names.contains(wanted) {
                return Err(format!("no {wanted} timer in the scene: {names:?}"));
            }
        }
        Ok(())
    });

    // -x -a: per inode, type, state, flags and the path as net-tools reads it.
    agree("-x -a", || {
        let records = ours_json(&schema, ns, &["-x", "-a"]);
        let mine: Vec<(u64, String, String, String, String)> = records
            .iter()
            .map(|r| {
                let flags: Vec<String> = r["flags"]
                    .as_array()
                    .map(|a| a.iter().map(s).collect())
                    .unwrap_or_default();
                // net-tools: sscanf("%s"), the first word of the path.
                let path = r["path"].as_str().unwrap_or_default();
                let word = path
                    .split([' ', '\t', '\n', '\x0b', '\x0c', '\r'])
                    .find(|w| !w.is_empty())
                    .unwrap_or_default();
                (
                    r["inode"].as_u64().unwrap_or_default(),
                    s(&r["sock_type"]),
                    r["state"].as_str().unwrap_or_default().to_string(),
                    flags.join(" "),
                    word.to_string(),
                )
            })
            .collect();
        let theirs = nt_unix_rows(ns);
        for odd in ["bin\u{fffd}\u{fffd}", "@nst-abstract", " lead"] {
            if !records.iter().any(|r| s(&r["path"]).ends_with(odd)) {
                return Err(format!("no unix socket named {odd:?}: {records:#?}"));
            }
        }
        same(&mine, &theirs)
    });
}

/// net-tools' `-x -a` rows: (inode, type, state, flags, path), the path as UTF-8 (lossy).
fn nt_unix_rows(ns: &Netns) -> Vec<(u64, String, String, String, String)> {
    let out = run_netstat_in(ns, &real(), None, &["-x", "-a"]);
    let mut rows = Vec::new();
    for line in out.stdout.split(|&b| b == b'\n') {
        // `%-5s %-6ld %-11s %-10s %-13s %-8lu ` then the path.
        if !line.starts_with(b"unix ") || line.len() < 50 {
            continue;
        }
        let text = |r: std::ops::Range<usize>| String::from_utf8_lossy(&line[r]).trim().to_string();
        let flags = text(13..24);
        let flags = flags
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let rest = &line[50..];
        let end = rest.iter().position(|&b| b == b' ').unwrap_or(rest.len());
        let inode = String::from_utf8_lossy(&rest[..end]).parse().unwrap_or(0);
        let path = rest[end..]
            .iter()
            .skip_while(|&&b| b == b' ')
            .copied()
            .collect::<Vec<u8>>();
        rows.push((
            inode,
            text(25..35),
            text(36..49),
            flags,
            String::from_utf8_lossy(&path).into_owned(),
        ));
    }
    rows
}

// ---------------------------------------------------------------------------------------------
// Routes, interfaces, groups

fn prefix_of_mask(mask: &str) -> Option<u64> {
    let m = u32::from(mask.parse::<Ipv4Addr>().ok()?);
    Some(u64::from(m.leading_ones()))
}

#[test]
fn routes_interfaces_and_groups_follow_the_schema_and_net_tools() {
    let schema = Schema::load();
    let sc = scene();
    let ns = &sc.ns;

    // -rn: destination, gateway, prefix, flags, device.
    let records = ours_json(&schema, ns, &["-rn"]);
    let mine: Vec<(String, String, Option<u64>, String, String)> = records
        .iter()
        .map(|r| {
            let flags = s(&r["flags"]);
            let reject = flags.contains('!');
            (
                s(&r["destination"]),
                if reject { "-".into() } else { s(&r["gateway"]) },
                r["prefix_len"].as_u64(),
                flags,
                if reject {
                    "-".into()
                } else {
                    r["iface"].as_str().unwrap_or("*").to_string()
                },
            )
        })
        .collect();
    let theirs: Vec<(String, String, Option<u64>, String, String)> = net_tools(ns, &["-rn"])
        .iter()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                prefix_of_mask(f[2]),
                f[3].to_string(),
                f[7].to_string(),
            )
        })
        .collect();
    same(&mine, &theirs).unwrap_or_else(|e| panic!("-rn: {e}"));
    for dest in ["0.0.0.0", "198.51.100.0", "203.0.113.0"] {
        assert!(
            records.iter().any(|r| r["destination"] == dest),
            "no route to {dest}"
        );
    }
    assert!(
        records
            .iter()
            .all(|r| r["family"] == "inet" && r["table"] == 254)
    );

    // -r -6 -n: destination/prefix, next hop, flags, metric (net-tools' `%d`), device.
    let records = ours_json(&schema, ns, &["-r", "-6", "-n"]);
    let mine: Vec<(String, String, String, i64, String)> = records
        .iter()
        .map(|r| {
            (
                format!("{}/{}", s(&r["destination"]), r["prefix_len"]),
                s(&r["gateway"]),
                s(&r["flags"]),
                // net-tools prints the unsigned metric as a C int.
                i64::from(r["metric"].as_u64().unwrap_or_default() as u32 as i32),
                s(&r["iface"]),
            )
        })
        .collect();
    let theirs: Vec<(String, String, String, i64, String)> = net_tools(ns, &["-r", "-6", "-n"])
        .iter()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].to_string(),
                f[1].to_string(),
                f[2].to_string(),
                f[3].parse().unwrap_or(i64::MIN),
                f[6].to_string(),
            )
        })
        .collect();
    same(&mine, &theirs).unwrap_or_else(|e| panic!("-r -6 -n: {e}"));
    assert!(mine.iter().any(|m| m.0 == "2001:db8:5::/64"), "{mine:#?}");
    assert!(
        records
            .iter()
            .all(|r| r["family"] == "inet6" && r["mss"].is_null())
    );

    // -i: the same interfaces in the same order, MTU and flags equal, counters close.
    agree("-i", || {
        let records = ours_json(&schema, ns, &["-i"]);
        let theirs: Vec<Vec<String>> = net_tools(ns, &["-i"])
            .iter()
            .skip(2)
            .map(|l| l.split_whitespace().map(str::to_owned).collect())
            .collect();
        let names: Vec<String> = records.iter().map(|r| s(&r["iface"])).collect();
        let their_names: Vec<String> = theirs.iter().map(|f| f[0].clone()).collect();
        if names != their_names {
            return Err(format!("interfaces {names:?} vs {their_names:?}"));
        }
        for (r, f) in records.iter().zip(&theirs) {
            let close = |k: &str, i: usize| {
                let (a, b) = (r[k].as_i64(), f[i].parse::<i64>().ok());
                matches!((a, b), (Some(a), Some(b)) if (a - b).abs() <= 20)
            };
            if r["mtu"].as_i64() != f[1].parse().ok()
                || s(&r["flags"]) != f[10]
                || ![
                    "rx_ok", "rx_err", "rx_drp", "rx_ovr", "tx_ok", "tx_err", "tx_drp", "tx_ovr",
                ]
                .iter()
                .enumerate()
                .all(|(i, k)| close(k, i + 2))
            {
                return Err(format!("{r} vs {f:?}"));
            }
        }
        if !names.iter().any(|n| n == "veth0") {
            return Err(format!("no veth0: {names:?}"));
        }
        Ok(())
    });

    // -g: (device, refcnt, group) as in net-tools' -gn.
    let records = ours_json(&schema, ns, &["-g"]);
    let mine: Vec<(String, String, String)> = records
        .iter()
        .map(|r| (s(&r["iface"]), r["refcnt"].to_string(), s(&r["group"])))
        .collect();
    let theirs: Vec<(String, String, String)> = net_tools(ns, &["-gn"])
        .iter()
        .skip(3)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect();
    same(&mine, &theirs).unwrap_or_else(|e| panic!("-g: {e}"));
    for (dev, refcnt, group, family) in [
        ("veth0", 2, "239.1.2.3", "inet"),
        ("lo", 1, "239.5.5.5", "inet"),
        ("veth0", 1, "ff05::1:3", "inet6"),
    ] {
        assert!(
            records.iter().any(|r| r["iface"] == dev
                && r["refcnt"] == refcnt
                && r["group"] == group
                && r["family"] == family),
            "no {group} on {dev}: {records:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Statistics

/// `(section, name) -> value` of the kernel's pair files in `ns`.
fn kernel_counters(ns: &Netns) -> BTreeMap<(String, String), u64> {
    let mut map = BTreeMap::new();
    for file in ["/proc/net/snmp", "/proc/net/netstat"] {
        let out = run_in(ns, "cat", &[file]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let lines: Vec<&str> = text.lines().collect();
        for pair in lines.chunks(2) {
            let [names, values] = pair else { continue };
            let (Some((section, names)), Some((_, values))) =
                (names.split_once(':'), values.split_once(':'))
            else {
                continue;
            };
            for (name, value) in names.split_whitespace().zip(values.split_whitespace()) {
                // The kernel prints MaxConn as -1: an unsigned long long to net-tools.
                let v = value
                    .parse::<u64>()
                    .or_else(|_| value.parse::<i64>().map(|v| v as u64))
                    .unwrap_or_default();
                map.insert((section.to_string(), name.to_string()), v);
            }
        }
    }
    map
}

#[test]
fn statistics_follow_the_schema_and_the_kernel() {
    let schema = Schema::load();
    let sc = scene();
    let before = kernel_counters(&sc.ns);
    let records = ours_json(&schema, &sc.ns, &["-s"]);
    let after = kernel_counters(&sc.ns);
    assert!(before.len() > 100, "too few kernel counters: {before:?}");
    let mine: BTreeMap<(String, String), u64> = records
        .iter()
        .map(|r| {
            (
                (s(&r["section"]), s(&r["name"])),
                r["value"].as_u64().unwrap_or(u64::MAX),
            )
        })
        .collect();
    assert_eq!(mine.len(), records.len(), "a counter is listed twice");
    for ((section, name), b) in &before {
        let a = after
            .get(&(section.clone(), name.clone()))
            .copied()
            .unwrap_or(*b);
        let (lo, hi) = (a.min(*b), a.max(*b));
        let Some(&v) = mine.get(&(section.clone(), name.clone())) else {
            panic!("{section} {name} missing from --json -s");
        };
        // Counters that move between the reads (the scene's traffic) stay within them.
        assert!(
            v >= lo.saturating_sub(10) && v <= hi.saturating_add(10),
            "{section} {name}: --json {v}, kernel {b} then {a}"
        );
    }
    for key in mine.keys() {
        assert!(
            after.contains_key(key),
            "--json has {key:?}, the kernel does not"
        );
    }
    assert!(mine.contains_key(&("Tcp".to_string(), "ActiveOpens".to_string())));
    assert!(mine[&("Tcp".to_string(), "ActiveOpens".to_string())] > 0);
}

// ---------------------------------------------------------------------------------------------
// Masquerade

#[test]
fn masquerade_follows_the_schema_and_conntrack() {
    let schema = Schema::load();
    let (client, router, server) = (Netns::new(), Netns::new(), Netns::new());
    let (c, r, sv) = (client.name(), router.name(), server.name());
    for step in [
        vec![
            "-n", r, "link", "add", "in", "type", "veth", "peer", "name", "eth0", "netns", c,
        ],
        vec![
            "-n", r, "link", "add", "out", "type", "veth", "peer", "name", "eth0", "netns", sv,
        ],
        vec!["-n", c, "addr", "add", "192.168.78.2/24", "dev", "eth0"],
        vec!["-n", r, "addr", "add", "192.168.78.1/24", "dev", "in"],
        vec!["-n", r, "addr", "add", "10.78.0.1/24", "dev", "out"],
        vec!["-n", sv, "addr", "add", "10.78.0.2/24", "dev", "eth0"],
        vec!["-n", c, "link", "set", "eth0", "up"],
        vec!["-n", r, "link", "set", "in", "up"],
        vec!["-n", r, "link", "set", "out", "up"],
        vec!["-n", sv, "link", "set", "eth0", "up"],
        vec!["-n", c, "route", "add", "default", "via", "192.168.78.1"],
    ] {
        let out = Command::new("ip").args(&step).output().expect("run ip");
        assert!(
            out.status.success(),
            "ip {step:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let sysctl = run_in(&router, "sysctl", &["-qw", "net.ipv4.ip_forward=1"]);
    assert_eq!(
        sysctl.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&sysctl.stderr)
    );

    // Before any rule: is conntrack there at all?
    let probe = run_netstat_in(&router, &ours(), None, &["--json", "-M"]);
    if probe.code() == Some(1)
        && String::from_utf8_lossy(&probe.stderr).contains("no support for `ip_masquerade'")
    {
        eprintln!(
            "\n*** SKIPPED masquerade_follows_the_schema_and_conntrack: conntrack is not \
             available here (netstat -M: {}) ***\n",
            String::from_utf8_lossy(&probe.stderr).trim()
        );
        return;
    }
    schema.valid_records(&probe.stdout);
    let Some(nft) = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
    else {
        eprintln!(
            "\n*** SKIPPED masquerade_follows_the_schema_and_conntrack: no `nft` to make NAT \
             rules with (apt-get install nftables) ***\n"
        );
        return;
    };
    let dir = TempDir::new("nft");
    let rules = dir.path().join("rules.nft");
    std::fs::write(
        &rules,
        "table ip nat {\n chain post {\n  type nat hook postrouting priority srcnat;\n  \
         ip saddr 192.168.78.0/24 oifname \"out\" meta l4proto { tcp, udp } masquerade to :61000-65095\n }\n}\n",
    )
    .expect("write rules");
    let out = run_in(&router, nft, &[OsStr::new("-f"), rules.as_os_str()]);
    assert_eq!(
        out.code(),
        Some(0),
        "nft: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // One datagram through the router makes a NAT entry (UDP, kept for 30 s).
    in_netns(&client, || {
        let sock = UdpSocket::bind("192.168.78.2:40000")?;
        sock.send_to(b"json", "10.78.0.2:5000")?;
        Ok(())
    })
    .expect("send the datagram");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let records = ours_json(&schema, &router, &["-M", "-e"]);
        let conntrack =
            String::from_utf8_lossy(&run_in(&router, "cat", &["/proc/net/nf_conntrack"]).stdout)
                .into_owned();
        let line = conntrack
            .lines()
            .find(|l| l.contains("src=192.168.78.2") && l.contains("sport=40000"));
        let found = records.iter().find(|r| {
            r["proto"] == "udp" && r["local_addr"] == "192.168.78.2" && r["local_port"] == 40000
        });
        if let (Some(line), Some(rec)) = (line, found) {
            // The reply tuple's destination port is the masquerading port.
            let masq: u64 = line
                .split_whitespace()
                .filter_map(|f| f.strip_prefix("dport="))
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no reply dport in {line}"));
            assert_eq!(
                (rec["remote_addr"].as_str(), rec["remote_port"].as_u64()),
                (Some("10.78.0.2"), Some(5000)),
                "{rec}"
            );
            assert_eq!(rec["masq_port"].as_u64(), Some(masq), "{rec} vs {line}");
            assert!((61000..=65095).contains(&masq), "{line}");
            let ms = rec["expires_ms"].as_u64().unwrap_or_default();
            assert!(ms > 0 && ms <= 180_000, "{rec}");
            assert!(
                rec["initseq"].is_u64() && rec["delta"].is_i64(),
                "-e fields: {rec}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no NAT entry for the datagram: --json {records:#?}\nconntrack:\n{conntrack}"
        );
        thread::sleep(Duration::from_millis(200));
    }
}

// ---------------------------------------------------------------------------------------------
// -c

/// Runs `ours --json ARGS` in `ns` for `secs` seconds, then kills it; returns the complete
/// lines it printed.
fn run_for(ns: &Netns, args: &[&str], secs: u64) -> Vec<u8> {
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns.name()])
        .arg(ours())
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start netstat");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stdout.read_to_end(&mut buf);
        buf
    });
    thread::sleep(Duration::from_secs(secs));
    // `ip netns exec` execs netstat: this is its PID.
    let _ = child.kill();
    let _ = child.wait();
    let mut buf = reader.join().unwrap_or_default();
    let complete = buf.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    buf.truncate(complete);
    buf
}

#[test]
fn continuous_listings_repeat_each_with_its_own_time() {
    let schema = Schema::load();
    let sc = scene();
    for args in [&["-i", "-c"][..], &["-tn", "-c"]] {
        let records = schema.valid_records(&run_for(&sc.ns, args, 3));
        let mut listings: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for r in &records {
            let key = match s(&r["type"]).as_str() {
                "interface" => s(&r["iface"]),
                _ => format!("{}:{}", s(&r["local_addr"]), r["local_port"]),
            };
            listings
                .entry(r["ts_ns"].as_u64().unwrap_or_default())
                .or_default()
                .push(key);
        }
        assert!(
            listings.len() >= 2,
            "{args:?}: {} listing(s): {records:#?}",
            listings.len()
        );
        let times: Vec<u64> = listings.keys().copied().collect();
        for pair in times.windows(2) {
            assert!(
                pair[1] - pair[0] >= 900_000_000,
                "{args:?}: listings {pair:?} < 1 s apart"
            );
        }
        // Every complete listing lists the same things (the last may be cut short).
        let first = &listings[&times[0]];
        assert!(!first.is_empty());
        assert_eq!(first, &listings[&times[1]], "{args:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The schema itself

#[test]
fn schema_rejects_wrong_records() {
    let schema = Schema::load();
    let good = json!({
        "type": "socket", "ts_ns": 1, "proto": "tcp", "netns": 4026531840u64, "recv_q": 0,
        "send_q": 0, "local_addr": "127.0.0.1", "local_port": 22, "remote_addr": "0.0.0.0",
        "remote_port": 0, "state": "LISTEN", "uid": 0, "inode": 5, "pid": null, "comm": null,
        "timer": null
    });
    schema
        .check(&good)
        .unwrap_or_else(|e| panic!("the good record fails: {e}"));
    let bad = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v
    };
    let wrong: Vec<(&str, Value)> = vec![
        ("port as a string", bad(&|v| v["local_port"] = json!("22"))),
        (
            "port out of range",
            bad(&|v| v["local_port"] = json!(65536)),
        ),
        ("ts_ns negative", bad(&|v| v["ts_ns"] = json!(-1))),
        (
            "bracketed address",
            bad(&|v| v["local_addr"] = json!("[::1]")),
        ),
        ("unknown state", bad(&|v| v["state"] = json!("OPEN"))),
        (
            "missing field",
            bad(&|v| {
                v.as_object_mut().map(|o| o.remove("inode"));
            }),
        ),
        ("extra field", bad(&|v| v["extra"] = json!(1))),
        ("unknown type", bad(&|v| v["type"] = json!("sockets"))),
        (
            "unix fields on a tcp socket",
            bad(&|v| v["path"] = json!("/x")),
        ),
        (
            "timer of the wrong shape",
            bad(&|v| v["timer"] = json!({"name": "on"})),
        ),
    ];
    for (what, v) in wrong {
        assert!(schema.check(&v).is_err(), "{what}: {v} passed validation");
    }
    assert!(
        schema
            .records(b"{\"type\":\"lost\",\"ts_ns\":1,\"lost\":\"2\",\"reason\":\"ring_full\"}\n")
            .is_err()
    );
    assert!(
        schema
            .records(b"{\"type\":\"lost\",\"ts_ns\":1,\"lost\":2,\"reason\":\"ring_full\"}\n")
            .is_ok()
    );
}

/// The live modes' records, as the library's record types serialise them.
#[test]
fn live_record_types_follow_the_schema() {
    use netstat_user::render::json::{
        events::{ConnectionRecord, End, LostReason, LostRecord, Opened, TransitionRecord},
        write_record,
    };
    let schema = Schema::load();
    let transition = TransitionRecord {
        kind: TransitionRecord::TYPE,
        ts_ns: 1_754_000_000_789_062_000,
        netns: 4026532177,
        pid: None,
        comm: None,
        uid: None,
        proto: "tcp6",
        local_addr: "::1".into(),
        local_port: 8080,
        remote_addr: "::1".into(),
        remote_port: 53254,
        old_state: "LISTEN",
        new_state: "SYN_RECV",
        duration_ms: None,
        cookie: 1,
    };
    let connection = ConnectionRecord {
        kind: ConnectionRecord::CONNECTION,
        ts_ns: 3,
        start_ns: Some(1),
        end_ns: Some(3),
        duration_ms: Some(0.000002),
        netns: 1,
        pid: Some(1),
        comm: Some("init".into()),
        uid: Some(0),
        proto: "tcp",
        local_addr: "10.0.0.1".into(),
        local_port: 1,
        remote_addr: "10.0.0.2".into(),
        remote_port: 2,
        tx_bytes: 0,
        rx_bytes: 0,
        tx_packets: Some(1),
        rx_packets: Some(1),
        opened: Some(Opened::Passive),
        end: Some(End::Reset),
        incomplete: false,
        cookie: 2,
    };
    let flow = ConnectionRecord {
        kind: ConnectionRecord::FLOW,
        proto: "udp6",
        local_addr: "fe80::1".into(),
        remote_addr: "ff02::fb".into(),
        opened: None,
        end: None,
        end_ns: None,
        incomplete: true,
        ..connection.clone()
    };
    let lost = LostRecord {
        kind: LostRecord::TYPE,
        ts_ns: 4,
        lost: 0,
        reason: LostReason::MapFull,
    };
    let mut out = Vec::new();
    write_record(&mut out, &transition).expect("vec");
    write_record(&mut out, &connection).expect("vec");
    write_record(&mut out, &flow).expect("vec");
    write_record(&mut out, &lost).expect("vec");
    let records = schema.valid_records(&out);
    assert_eq!(records.len(), 4);
    // A flow cannot say how it was opened, nor end with a reset.
    let mut bad = records[2].clone();
    bad["opened"] = json!("active");
    assert!(schema.check(&bad).is_err());
    let mut bad = records[2].clone();
    bad["end"] = json!("reset");
    assert!(schema.check(&bad).is_err());
    let mut bad = records[1].clone();
    bad["proto"] = json!("udp");
    assert!(schema.check(&bad).is_err());
}

/// Every example line of docs/json.md follows the schema, and every record type has one.
#[test]
fn documented_examples_follow_the_schema() {
    let schema = Schema::load();
    let path = netstat_tests::workspace_root().join("docs/json.md");
    let doc = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut in_block = false;
    let mut lines = Vec::new();
    for line in doc.lines() {
        match (in_block, line) {
            (false, "```json") => in_block = true,
            (true, "```") => in_block = false,
            (true, l) => lines.push(l),
            _ => {}
        }
    }
    let text = lines.iter().map(|l| format!("{l}\n")).collect::<String>();
    let records = schema.valid_records(text.as_bytes());
    let types: BTreeSet<String> = records.iter().map(|r| s(&r["type"])).collect();
    let protos: BTreeSet<String> = records
        .iter()
        .filter(|r| r["type"] == "socket")
        .map(|r| s(&r["proto"]))
        .collect();
    for t in [
        "socket",
        "route",
        "interface",
        "group",
        "statistic",
        "masquerade",
        "transition",
        "connection",
        "flow",
        "lost",
    ] {
        assert!(types.contains(t), "docs/json.md has no {t} example");
    }
    assert!(
        protos.contains("unix") && protos.contains("tcp"),
        "{protos:?}"
    );
}
