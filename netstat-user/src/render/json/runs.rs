//! Whole runs with `--json` on a recorded tree (`PROC_ROOT`'s seam): every mode's
//! dispatch, and stdout holding records only.
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{app::run, system::RunEnv};

/// A recorded `/proc` (and `/sys`) under a temporary root.
struct Tree(PathBuf);

impl Tree {
    fn new() -> Tree {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("json-runs-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc/net")).expect("mkdir");
        Tree(root)
    }

    fn file(&self, path: &str, bytes: &[u8]) -> &Tree {
        let p = self.0.join(path);
        std::fs::create_dir_all(p.parent().expect("has a parent")).expect("mkdir");
        std::fs::write(p, bytes).expect("write");
        self
    }

    fn run(&self, args: &[&str]) -> (Vec<Value>, String, i32) {
        let env = RunEnv {
            root: self.0.clone(),
            netlink: false,
        };
        let argv = std::iter::once("netstat")
            .chain(args.iter().copied())
            .map(std::ffi::OsString::from);
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let rc = run(argv, &env, &mut out, &mut err).expect("writes to Vec");
        let text = String::from_utf8(out).expect("stdout is UTF-8");
        let records = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
            .collect();
        (records, String::from_utf8_lossy(&err).into_owned(), rc)
    }

    fn root(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0\n\
   1: 0100007F:1F90 0100007F:D00A 01 00000000:00000004 02:000002C8 00000000 65534        0 12346 1 0000000000000000 20 4 30 10 -1\n";
const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
   0: 00000000000000000000000001000000:1538 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1 0000000000000000 100 0 0 10 0\n";
const UDP: &str = "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n\
  1: 00000000:14E9 00000000:0000 07 00000000:00000340 00:00000000 00000000     0        0 34567 2 0000000000000000 0\n";
const UNIX: &[u8] = b"Num       RefCount Protocol Flags    Type St Inode Path\n\
0000000000000000: 00000002 00000000 00010000 0001 01 44441 /run/with space.sock\n\
0000000000000000: 00000002 00000000 00000000 0002 01 44442 /tmp/bin\xff\xfe\n\
0000000000000000: 00000003 00000000 00000000 0001 03 44443\n";

#[test]
fn sockets_are_records_only() {
    let t = Tree::new();
    t.file("proc/net/tcp", TCP.as_bytes())
        .file("proc/net/tcp6", TCP6.as_bytes())
        .file("proc/net/udp", UDP.as_bytes())
        .file("proc/net/unix", UNIX);
    let (v, err, rc) = t.run(&["--json", "-tuna"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    type Row<'a> = (&'a str, &'a str, u64, &'a str, u64, Option<&'a str>);
    let rows: Vec<Row<'_>> = v
        .iter()
        .map(|r| {
            assert_eq!(r["type"], "socket");
            // No /proc/self/ns/net in the tree.
            assert!(r["netns"].is_null());
            (
                r["proto"].as_str().unwrap_or("?"),
                r["local_addr"].as_str().unwrap_or("?"),
                r["local_port"].as_u64().unwrap_or(9),
                r["remote_addr"].as_str().unwrap_or("?"),
                r["remote_port"].as_u64().unwrap_or(9),
                r["state"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("tcp", "127.0.0.1", 8080, "0.0.0.0", 0, Some("LISTEN")),
            (
                "tcp",
                "127.0.0.1",
                8080,
                "127.0.0.1",
                53258,
                Some("ESTABLISHED")
            ),
            ("tcp6", "::1", 5432, "::", 0, Some("LISTEN")),
            ("udp", "0.0.0.0", 5353, "0.0.0.0", 0, None),
        ]
    );
    assert_eq!(
        (v[1]["recv_q"].as_u64(), v[1]["uid"].as_u64()),
        (Some(4), Some(65534))
    );
    assert!(v[1]["timer"].is_null() && v[1]["pid"].is_null());
    assert_eq!(v[3]["recv_q"], 832);

    // -o adds the timer object; -l keeps the listeners only, as the table does.
    let (v, _, _) = t.run(&["--json", "-tno"]);
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0]["timer"],
        serde_json::json!({"name": "keepalive", "expires_ms": 7120, "retrans": 0, "probes": 0})
    );
    let (v, _, _) = t.run(&["--json", "-tl"]);
    assert_eq!(v.len(), 2);

    let (v, err, rc) = t.run(&["--json", "-xa"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    let paths: Vec<Option<&str>> = v.iter().map(|r| r["path"].as_str()).collect();
    assert_eq!(
        paths,
        [
            Some("/run/with space.sock"),
            Some("/tmp/bin\u{fffd}\u{fffd}"),
            None
        ]
    );
    assert_eq!(v[0]["state"], "LISTENING");
    assert_eq!(v[0]["flags"], serde_json::json!(["ACC"]));
    assert_eq!(v[2]["state"], "CONNECTED");
}

#[test]
fn continuous_listings_repeat_with_their_own_time() {
    let t = Tree::new();
    t.file("proc/net/tcp", TCP.as_bytes());
    let (v, _, _) = t.run(&["--json", "-tn"]);
    assert_eq!(v.len(), 1);
    let ts = v[0]["ts_ns"].as_u64().expect("ts_ns");
    let now = super::wall_clock_ns();
    assert!(ts <= now && now - ts < 60_000_000_000, "{ts} {now}");
}

#[test]
fn routes_interfaces_groups_statistics_masquerade() {
    let t = Tree::new();
    t.file(
        "proc/net/route",
        b"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT      \n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0   \n\
eth0\t000200C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0   \n",
    )
    .file(
        "proc/net/ipv6_route",
        b"00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000003 00000000 80200001       lo\n",
    )
    .file(
        "proc/net/dev",
        b"Inter-|   Receive                                                |  Transmit\n \
face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n\
    lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n",
    )
    .file("sys/class/net/lo/flags", b"0x9\n")
    .file("sys/class/net/lo/operstate", b"unknown\n")
    .file("sys/class/net/lo/mtu", b"65536\n")
    .file("sys/class/net/lo/type", b"772\n")
    .file("sys/class/net/lo/address", b"00:00:00:00:00:00\n")
    .file("sys/class/net/lo/addr_len", b"6\n")
    .file("sys/class/net/lo/tx_queue_len", b"1000\n")
    .file(
        "proc/net/igmp",
        b"Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n\
1\tlo        :     1      V3\n\
\t\t\t\t010000E0     1 0:00000000\t\t0\n",
    )
    .file(
        "proc/net/igmp6",
        b"1    lo              ff020000000000000000000000000001     1 0000000C 0\n",
    )
    .file(
        "proc/net/snmp",
        b"Ip: Forwarding InReceives\nIp: 1 5\nTcp: RtoAlgorithm ActiveOpens\nTcp: 1 3\n",
    )
    .file("proc/net/netstat", b"TcpExt: TW\nTcpExt: 7\n")
    .file(
        "proc/net/ip_masquerade",
        b"Prc FromIP   FPrt ToIP     TPrt Masq Init-seq  Delta PDelta Expires (free=0,0,0)\n\
TCP C0A84D02:C9E4 0A4D0002:1F90 EE49 00000000      0      0 43199900\n",
    );

    let (v, err, rc) = t.run(&["--json", "-rn", "-A", "inet,inet6"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    let routes: Vec<(&str, &str, u64, &str)> = v
        .iter()
        .map(|r| {
            (
                r["family"].as_str().unwrap_or("?"),
                r["destination"].as_str().unwrap_or("?"),
                r["prefix_len"].as_u64().unwrap_or(999),
                r["flags"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("inet", "0.0.0.0", 0, "UG"),
            ("inet", "192.0.2.0", 24, "U"),
            ("inet6", "::1", 128, "Un"),
        ]
    );
    assert_eq!(
        (v[0]["gateway"].as_str(), v[1]["metric"].as_u64()),
        (Some("192.0.2.1"), Some(100))
    );

    // A missing table: net-tools' stdout message goes to stderr, stdout stays JSON.
    let empty = Tree::new();
    let (v, err, rc) = empty.run(&["--json", "-r"]);
    assert!(v.is_empty());
    assert!(
        err.ends_with("INET (IPv4) not configured in this system.\n"),
        "{err}"
    );
    assert_eq!(rc, 1);

    let (v, err, rc) = t.run(&["--json", "-i"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    assert_eq!(v.len(), 1);
    assert_eq!(
        (v[0]["iface"].as_str(), v[0]["mtu"].as_u64()),
        (Some("lo"), Some(65536))
    );
    assert_eq!(
        (v[0]["rx_ok"].as_u64(), v[0]["flags"].as_str()),
        (Some(2), Some("LRU"))
    );

    let (v, err, rc) = t.run(&["--json", "-g"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    let groups: Vec<(&str, &str)> = v
        .iter()
        .map(|r| {
            (
                r["group"].as_str().unwrap_or("?"),
                r["family"].as_str().unwrap_or("?"),
            )
        })
        .collect();
    assert_eq!(groups, [("224.0.0.1", "inet"), ("ff02::1", "inet6")]);

    let (v, err, rc) = t.run(&["--json", "-s"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    let counters: Vec<(&str, &str, u64)> = v
        .iter()
        .map(|r| {
            (
                r["section"].as_str().unwrap_or("?"),
                r["name"].as_str().unwrap_or("?"),
                r["value"].as_u64().unwrap_or(999),
            )
        })
        .collect();
    assert_eq!(
        counters,
        [
            ("Ip", "Forwarding", 1),
            ("Ip", "InReceives", 5),
            ("Tcp", "RtoAlgorithm", 1),
            ("Tcp", "ActiveOpens", 3),
            ("TcpExt", "TW", 7),
        ]
    );

    let (v, err, rc) = t.run(&["--json", "-M", "-e"]);
    assert_eq!((err.as_str(), rc), ("", 0));
    assert_eq!(
        v,
        [serde_json::json!({
            "type": "masquerade", "ts_ns": v[0]["ts_ns"], "proto": "tcp",
            "local_addr": "192.168.77.2", "local_port": 51684, "remote_addr": "10.77.0.2",
            "remote_port": 8080, "masq_port": 61001, "expires_ms": 431_999_000,
            "initseq": 0, "delta": 0, "prevd": 0
        })]
    );
    assert!(t.root().is_dir());
}

#[test]
fn live_mode_option_mistakes_are_refused_before_anything_loads() {
    let t = Tree::new();
    for (args, message) in [
        (
            &["--audit", "--state", "LISTEN"][..],
            "netstat: --state applies to --watch only\n",
        ),
        (
            &["--watch", "--flow-idle", "5"][..],
            "netstat: --flow-idle applies to --audit's UDP flows only\n",
        ),
        (
            &["--watch", "-u"][..],
            "netstat: --watch follows TCP state changes only (drop -u/-w/-x)\n",
        ),
        (
            &["--audit", "-x"][..],
            "netstat: --audit records TCP connections (-t) and UDP flows (-u) only\n",
        ),
        (
            &["--audit", "--agent"][..],
            "netstat: --agent runs alone (--watch and --audit load their own programs)\n",
        ),
    ] {
        let (v, err, rc) = t.run(args);
        assert!(v.is_empty(), "{args:?}");
        assert_eq!((err.as_str(), rc), (message, 3), "{args:?}");
    }
}
