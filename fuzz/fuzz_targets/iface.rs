//! `netstat -i` over fuzzed interface files: /proc/net/dev, /proc/net/if_inet6 and the
//! sysfs attributes of one interface (flags, mtu, type, address, addr_len,
//! tx_queue_len, operstate), in the short, long (-e), -a, -i NAME and --json layouts.
#![no_main]
use libfuzzer_sys::fuzz_target;
use netstat_fuzz::{Tree, selector};

const DEV: &[u8] = b"Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0\n  eth0: 9876543   54321    1    2    3     4          5         6  1234567   43210    7    8    9    10      11         12\n";
const INET6: &[u8] = b"00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\n";

/// (file the input replaces; the rest keep the defaults above and below)
const FILES: [&str; 9] = [
    "proc/net/dev",
    "proc/net/if_inet6",
    "sys/class/net/eth0/flags",
    "sys/class/net/eth0/mtu",
    "sys/class/net/eth0/type",
    "sys/class/net/eth0/address",
    "sys/class/net/eth0/addr_len",
    "sys/class/net/eth0/tx_queue_len",
    "sys/class/net/eth0/operstate",
];

const SYSFS: [(&str, &[u8]); 7] = [
    ("flags", b"0x1003\n"),
    ("mtu", b"1500\n"),
    ("type", b"1\n"),
    ("address", b"52:54:00:12:34:56\n"),
    ("addr_len", b"6\n"),
    ("tx_queue_len", b"1000\n"),
    ("operstate", b"up\n"),
];

const LAYOUTS: [&[&str]; 5] = [
    &["-i"],
    &["-ie"],
    &["-ia"],
    &["-i", "eth0"],
    &["-i", "--json"],
];

fuzz_target!(|data: &[u8]| {
    let Some((sel, text)) = selector(data) else {
        return;
    };
    let tree = Tree::get();
    tree.write("proc/net/dev", DEV);
    tree.write("proc/net/if_inet6", INET6);
    for (name, value) in SYSFS {
        tree.write(&format!("sys/class/net/eth0/{name}"), value);
        tree.write(&format!("sys/class/net/lo/{name}"), value);
    }
    tree.write(FILES[usize::from(sel & 0x0f) % FILES.len()], text);
    tree.run(LAYOUTS[usize::from(sel >> 4) % LAYOUTS.len()]);
});
